//! `GET /events` (issue 14), over real HTTP: the stream carries every kind of
//! change, whoever made it (a person, the scheduler), in the order committed,
//! never a token; it needs a session; heartbeats keep it open; it ends when
//! the server stops.

use std::time::Duration;

use reqwest::StatusCode;
use testkit::live::Stream;
use testkit::*;

#[tokio::test]
async fn the_stream_carries_every_kind_of_change_in_order() {
    let app = TestApp::spawn().await;
    let mut stream = Stream::open(&app.http, app.url("/events")).await;
    assert_eq!(stream.next_event().await.0, "ready");

    // Connected through the callback.
    app.connect(ADA, &[ACME], None).await;
    let view = stream.next_view().await;
    assert_eq!(view["id"], 1);
    assert_eq!(view["status"], "active");
    assert_eq!(view["lastRefreshAt"], serde_json::Value::Null);
    let keys: Vec<&str> = view
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        !keys.contains(&"accessToken") && !keys.contains(&"refreshToken"),
        "{keys:?}"
    );

    // Refreshed by a person, through the server function.
    let first_expiry = view["expiresAt"].clone();
    app.clock.advance(60);
    app.post_form("/api/refresh_integration", &[("id", "1")])
        .await;
    let view = stream.next_view().await;
    assert_ne!(view["lastRefreshAt"], serde_json::Value::Null);
    assert_ne!(view["expiresAt"], first_expiry, "the new expiry");

    // Tested (its event log grew).
    app.post_form("/api/test_connection", &[("id", "1")]).await;
    assert_eq!(stream.next_view().await["id"], 1);

    // Refreshed by the scheduler, shortly before expiry.
    let before = stream_expiry(&view);
    app.clock.advance(3_600 - 200);
    engine::scheduler::tick(&app.engine).await;
    let view = stream.next_view().await;
    assert!(stream_expiry(&view) > before, "{view}");

    // Deactivated: the grant was revoked at the provider.
    app.sandbox.revoke_grant(ADA);
    app.post_form("/api/refresh_integration", &[("id", "1")])
        .await;
    let view = stream.next_view().await;
    assert_eq!(view["status"], "needs_reauth");
    assert_eq!(view["isActive"], false);

    // Disconnected: removed.
    app.post_form("/api/disconnect_integration", &[("id", "1")])
        .await;
    let (event, data) = stream.next_event().await;
    assert_eq!((event.as_str(), data.as_str()), ("removed", r#"{"id":1}"#));
}

fn stream_expiry(view: &serde_json::Value) -> String {
    view["expiresAt"].as_str().expect("expiresAt").to_owned()
}

#[tokio::test]
async fn every_open_stream_hears_the_change() {
    let app = TestApp::spawn().await;
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut stream = Stream::open(&app.http, app.url("/events")).await;
        assert_eq!(stream.next_event().await.0, "ready");
        streams.push(stream);
    }
    app.connect(ADA, &[ACME], None).await;
    for stream in &mut streams {
        assert_eq!(stream.next_view().await["id"], 1);
    }
}

#[tokio::test]
async fn a_stranger_gets_no_stream() {
    let app = TestApp::spawn().await;
    let res = anonymous()
        .get(app.url("/events"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"], "unauthenticated");
}

#[tokio::test]
async fn heartbeats_keep_an_idle_stream_open() {
    let app = TestApp::spawn_with(&["--live-heartbeat-secs", "1"]).await;
    let mut stream = Stream::open(&app.http, app.url("/events")).await;
    assert_eq!(stream.next_event().await.0, "ready");
    let started = std::time::Instant::now();
    let frame = stream.next_frame().await.expect("open");
    assert_eq!(frame, ("comment".to_owned(), "heartbeat".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_stream_ends_cleanly_when_the_server_stops() {
    let app = TestApp::spawn().await;
    let mut stream = Stream::open(&app.http, app.url("/events")).await;
    assert_eq!(stream.next_event().await.0, "ready");
    app.stop();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.next_frame().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended");
}

#[tokio::test]
async fn one_user_holds_a_bounded_number_of_streams() {
    let app = TestApp::spawn().await;
    let per_user = server::routes::events::streams::STREAMS_PER_USER;
    let mut open = Vec::new();
    for _ in 0..per_user {
        let mut stream = Stream::open(&app.http, app.url("/events")).await;
        assert_eq!(stream.next_event().await.0, "ready");
        open.push(stream);
    }
    // One more is refused with a sentence, not held open.
    let res = app.get("/events").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"], "too_many_streams");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("tabs")));
    // Another user is not held up by this one's streams.
    let viewer = app
        .add_user("viewer@example.com", "a viewer's password", "viewer")
        .await;
    let mut theirs = Stream::open(&viewer, app.url("/events")).await;
    assert_eq!(theirs.next_event().await.0, "ready");
    // Closing a stream frees its place.
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        let res = app.get("/events").await;
        if res.status() == StatusCode::OK {
            reopened = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a closed stream's place was freed");
}
