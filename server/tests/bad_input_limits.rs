//! Bad input never reaches a 5xx or an overflow: absurd page numbers and sizes
//! are clamped, an overlong search is a 400 with a sentence, the callback's
//! `?error=` branch checks and spends the state like the success branch, and a
//! re-authentication that comes back as another account changes nothing.

use reqwest::StatusCode;
use testkit::*;

#[tokio::test]
async fn absurd_pages_and_sizes_are_clamped_and_an_overlong_search_is_refused() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    for form in [
        vec![("page", "9223372036854775807")],
        vec![("page", "-9223372036854775808")],
        vec![("size", "-5")],
        vec![("size", "9223372036854775807")],
        vec![
            ("page", "9223372036854775807"),
            ("size", "9223372036854775807"),
        ],
    ] {
        let (status, view) = app.post_form("/api/dashboard_page", &form).await;
        assert_eq!(status, StatusCode::OK, "{form:?}: {view}");
        let size = view["pageSize"].as_i64().expect("size");
        assert!((1..=500).contains(&size), "{form:?}: {size}");
    }
    let long = "a".repeat(60_000);
    let (status, body) = app
        .post_form("/api/dashboard_page", &[("search", long.as_str())])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("too long"), "{body}");
    // The rendered page with the same query answers too, never a 5xx.
    for path in [
        "/dashboard?page=9223372036854775807".to_owned(),
        "/dashboard?size=-1".to_owned(),
        format!("/dashboard?q={long}"),
    ] {
        let res = app.get(&path).await;
        assert!(
            !res.status().is_server_error(),
            "{}: {}",
            &path[..40.min(path.len())],
            res.status()
        );
    }
}

#[tokio::test]
async fn the_error_branch_of_the_callback_checks_and_spends_the_state() {
    let app = TestApp::spawn().await;
    // No state at all: a page about the state, not a "declined" flash.
    let forged = url::Url::parse(&app.url("/oauth/callback?error=access_denied")).expect("url");
    let flow = app.callback(&forged, None).await;
    assert_eq!(flow.status, StatusCode::BAD_REQUEST, "{flow:?}");
    // A real state with its cookie: declined, and the state is spent.
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "cancel", ADA, &[ACME]).await;
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(flow.location.as_deref(), Some("/dashboard?flash=declined"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_states WHERE used_at IS NOT NULL")
            .await,
        1
    );
    let replay = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay:?}");
    assert!(replay.body.contains("already used"), "{}", replay.body);
}

#[tokio::test]
async fn a_reauthentication_as_another_account_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let before = app.list().await;
    // Re-authenticate #1, but consent as Grace (who has no integration yet).
    let flow = app.connect(GRACE, &[GLOBEX], Some(1)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=other_account")
    );
    assert_eq!(
        app.list().await,
        before,
        "integration 1 is still Ada's, untouched"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    let html = app
        .page_text("/dashboard?flash=failed&reason=other_account")
        .await;
    assert!(
        html.contains("does not own this integration"),
        "the flash says why"
    );
}
