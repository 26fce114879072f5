//! Issue 12, "the first click of a new user fails", over real HTTP: the hop
//! from one host name to the redirect URI's host, the cross-site guard that
//! must let that hop through and nothing else, the error pages a browser sees,
//! and what the request logs may carry.
//!
//! The harness serves on `127.0.0.1:<port>` with the redirect URI on the same
//! address, so here `localhost:<port>` (resolved to the same socket) plays the
//! other name a user may have typed: a start on `localhost` hops to
//! `127.0.0.1`, exactly as a start on `127.0.0.1` hops to `localhost` in
//! `scripts/run`'s configuration.

use std::sync::{Arc, Mutex};

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use testkit::*;
use url::Url;

/// The headers Chromium sends on a top-level navigation that crossed sites
/// (a link on `127.0.0.1` redirected to `localhost`, or a link on another site).
fn cross_site_navigation(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .header("sec-fetch-user", "?1")
}

/// The headers Chromium sends when a link on our own page is clicked.
fn same_origin_navigation(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .header("sec-fetch-user", "?1")
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ascii")
        .to_owned()
}

fn binding_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_oauth_binding="))
        .map(|c| c.split(';').next().expect("pair").to_owned())
}

/// Asserts `res` is one of the product's error pages, and returns its text.
async fn assert_error_page(res: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status);
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let body = res.text().await.expect("body");
    assert!(
        content_type.starts_with("text/html"),
        "{content_type}: {body}"
    );
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(
        body.contains(r#"<link rel="stylesheet" href="/pkg/jira-dashboard.css">"#),
        "styled like the product: {body}"
    );
    assert!(body.contains("<h1>"), "a heading: {body}");
    assert!(body.contains(r#"href="/dashboard""#), "a way back: {body}");
    body
}

/// Clicking "Start OAuth Flow" on `localhost` while the redirect URI names
/// `127.0.0.1`: the answer is the hop to the redirect URI's host.
async fn click_start_on_the_other_name(app: &TestApp, browser: &reqwest::Client) -> Url {
    let other = app.url("/oauth/start").replace("127.0.0.1", "localhost");
    let res = same_origin_navigation(browser.get(&other))
        .send()
        .await
        .expect("start on the other name");
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(
        binding_cookie(&res).is_none(),
        "the hop creates no state and sets no cookie"
    );
    let hop = Url::parse(&location(&res)).expect("hop url");
    assert_eq!(
        hop.origin(),
        Url::parse(&app.base).expect("base").origin(),
        "the hop goes to the redirect URI's host"
    );
    assert_eq!(hop.path(), "/oauth/start");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_states").await,
        0,
        "no state before the redirect URI's host is reached"
    );
    hop
}

/// A signed-in browser that resolves `localhost` to the test server and
/// follows nothing. (Its session cookie goes to both names, as if it had
/// signed in on each.)
fn browser_for(app: &TestApp) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(COOKIE, app.session.parse().expect("cookie"));
    stranger_for(app, headers)
}

/// A browser with no session that resolves `localhost` to the test server.
fn stranger_for(app: &TestApp, headers: reqwest::header::HeaderMap) -> reqwest::Client {
    let addr: std::net::SocketAddr = app
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("socket address");
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .default_headers(headers)
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_stranger_on_the_other_name_signs_in_on_the_redirect_uris_host() {
    let app = TestApp::spawn().await;
    let stranger = stranger_for(&app, Default::default());
    let other = app.url("/oauth/start").replace("127.0.0.1", "localhost");
    let res = same_origin_navigation(stranger.get(&other))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = Url::parse(&location(&res)).expect("absolute login url");
    assert_eq!(
        login.origin(),
        Url::parse(&app.base).expect("base").origin(),
        "sign-in happens where the session must live"
    );
    assert_eq!(login.path(), "/login");
    assert_eq!(
        login
            .query_pairs()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned()),
        Some("/oauth/start".to_owned())
    );
    // The sign-in page itself, asked for on the other name, moves too.
    let res = stranger
        .get(
            app.url("/login?next=/dashboard")
                .replace("127.0.0.1", "localhost"),
        )
        .send()
        .await
        .expect("login page");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with(&app.base), "{}", location(&res));
}

#[tokio::test]
async fn the_hop_to_the_redirect_uris_host_is_let_through_and_the_flow_completes() {
    let app = TestApp::spawn().await;
    let browser = browser_for(&app);
    let hop = click_start_on_the_other_name(&app, &browser).await;

    // The browser follows the hop to another site: Chromium labels it cross-site.
    let res = cross_site_navigation(browser.get(hop.clone()))
        .send()
        .await
        .expect("the hopped start");
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the hopped start must reach the consent page: {:?}",
        res.text().await
    );
    let cookie = binding_cookie(&res).expect("the binding cookie, on the redirect URI's host");
    let authorize = Url::parse(&location(&res)).expect("authorize url");
    assert_eq!(authorize.path(), "/sandbox/authorize");

    // Consent, then the callback with the cookie: the integration exists.
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER, "{}", flow.body);
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=connected&integration=1")
    );
    assert_eq!(app.list().await.as_array().expect("array").len(), 1);

    // The hop's ticket is single-use: replaying the hopped URL cross-site is refused.
    let replay = cross_site_navigation(browser.get(hop))
        .send()
        .await
        .expect("replay");
    assert_error_page(replay, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_client_without_fetch_metadata_gets_a_plain_hop_and_passes() {
    let app = TestApp::spawn().await;
    let browser = browser_for(&app);
    let other = app.url("/oauth/start").replace("127.0.0.1", "localhost");
    let res = browser.get(&other).send().await.expect("start");
    assert_eq!(location(&res), app.url("/oauth/start"), "no ticket needed");
    let res = browser
        .get(app.url("/oauth/start"))
        .send()
        .await
        .expect("hopped");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(binding_cookie(&res).is_some());
}

#[tokio::test]
async fn the_hop_keeps_the_integration_to_re_authenticate() {
    let app = TestApp::spawn().await;
    let flow = app.connect(GRACE, &[ACME], None).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER, "{}", flow.body);
    let browser = browser_for(&app);
    let other = app
        .url("/oauth/start?integration=1")
        .replace("127.0.0.1", "localhost");
    let res = same_origin_navigation(browser.get(&other))
        .send()
        .await
        .expect("start");
    let hop = Url::parse(&location(&res)).expect("hop");
    assert!(hop
        .query_pairs()
        .any(|(k, v)| k == "integration" && v == "1"));
    let res = cross_site_navigation(browser.get(hop))
        .send()
        .await
        .expect("hopped start");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = binding_cookie(&res).expect("cookie");
    let authorize = Url::parse(&location(&res)).expect("authorize");
    let callback = app.consent(&authorize, "accept", GRACE, &[ACME]).await;
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=reauthenticated&integration=1"),
        "{}",
        flow.body
    );
}

#[tokio::test]
async fn a_cross_site_start_that_is_not_our_hop_is_refused_with_a_page() {
    let app = TestApp::spawn().await;
    let browser = browser_for(&app);

    // Another site links straight to the start on the redirect URI's host ...
    let res = cross_site_navigation(app.http.get(app.url("/oauth/start")))
        .send()
        .await
        .expect("cross-site start");
    let page = assert_error_page(res, StatusCode::FORBIDDEN).await;
    assert!(page.contains("another site"), "{page}");
    // ... or with a ticket it made up ...
    let res = cross_site_navigation(app.http.get(app.url("/oauth/start?hop=made-up")))
        .send()
        .await
        .expect("forged ticket");
    assert_error_page(res, StatusCode::FORBIDDEN).await;
    // ... or to the start on the other name, which would otherwise hand out a ticket.
    let other = app.url("/oauth/start").replace("127.0.0.1", "localhost");
    let res = cross_site_navigation(browser.get(&other))
        .send()
        .await
        .expect("cross-site start on the other name");
    assert_error_page(res, StatusCode::FORBIDDEN).await;
    // A cross-site POST gets the same page.
    let res = app
        .http
        .post(app.url("/api/list_integrations"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("cross-site post");
    assert_error_page(res, StatusCode::FORBIDDEN).await;

    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_states").await,
        0,
        "nothing was started"
    );
    // A ticket is spent on the host it is presented to, once: a hopped URL
    // someone else obtained does not outlive its first use either.
    let hop = click_start_on_the_other_name(&app, &browser).await;
    let used = same_origin_navigation(browser.get(hop.clone()))
        .send()
        .await
        .expect("same-origin use");
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    let res = cross_site_navigation(browser.get(hop))
        .send()
        .await
        .expect("replay");
    assert_error_page(res, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn unreadable_oauth_query_strings_get_a_page_not_plain_text() {
    let app = TestApp::spawn().await;
    for path in [
        "/oauth/start?integration=1&integration=2",
        "/oauth/callback?state=a&state=b",
    ] {
        let res = app.get(path).await;
        let page = assert_error_page(res, StatusCode::BAD_REQUEST).await;
        assert!(!page.contains("<script"), "{page}");
    }
    // An unknown integration to re-authenticate was already a page; it stays one.
    let res = app.get("/oauth/start?integration=99").await;
    assert_error_page(res, StatusCode::NOT_FOUND).await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_carry_the_path_but_never_the_code_or_the_state() {
    // The test's runtime has one thread, so the server's tasks log into this
    // subscriber too.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    // Other tests run on other threads and may have registered the request
    // span's callsites while this subscriber was being installed; make every
    // callsite ask it again.
    tracing::callsite::rebuild_interest_cache();
    let flow = app
        .http
        .get(callback.clone())
        .header(COOKIE, format!("{}; {cookie}", app.session))
        .send()
        .await
        .expect("callback");
    assert_eq!(flow.status(), StatusCode::SEE_OTHER);

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        logs.contains("/oauth/callback"),
        "the request is logged by its path: {logs}"
    );
    let query: std::collections::HashMap<String, String> =
        callback.query_pairs().into_owned().collect();
    for name in ["code", "state"] {
        let value = &query[name];
        assert!(
            !logs.contains(value.as_str()),
            "the callback's {name} leaked into the logs: {logs}"
        );
    }
}

#[test]
fn the_server_prints_the_address_to_open_on_the_redirect_uris_host() {
    let (found, printed) = open_line(
        testkit::server_binary!(),
        &[
            ("ADMIN_EMAIL", "ops@example.com"),
            ("ADMIN_PASSWORD", "a long enough password"),
        ],
    );
    assert_eq!(
        found.as_deref(),
        Some(
            "open http://localhost:45678/dashboard and sign in as ops@example.com (ADMIN_PASSWORD)"
        ),
        "one line naming the address to open and how to sign in; printed: {printed:#?}"
    );
    assert!(
        printed.iter().all(|l| !l.contains("http://127.0.0.1")),
        "no other address looks like one to open: {printed:#?}"
    );
}

/// Behind a load balancer the hopped start may land on another process: the
/// ticket lives in the shared database (as a digest), so any process spends
/// it, once, within its minute.
#[tokio::test]
async fn a_hop_ticket_issued_by_one_process_is_spent_by_another_once() {
    let app = TestApp::spawn().await;
    let other = app.second_process().await;
    let ticket = app.engine.hop_tickets().issue().await.expect("a ticket");
    assert_eq!(ticket.len(), 64);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM hop_tickets").await,
        1,
        "stored"
    );
    let stored: Vec<u8> = engine::db::query("SELECT digest FROM hop_tickets")
        .scalar(&app.database)
        .await
        .expect("digest");
    assert_ne!(stored, ticket.as_bytes(), "only its digest is kept");
    assert!(other.engine.hop_tickets().redeem(&ticket).await);
    assert!(!app.engine.hop_tickets().redeem(&ticket).await, "spent");
    assert!(!other.engine.hop_tickets().redeem("made-up").await);

    // A minute later a ticket is worthless, and the next issue sweeps it.
    let late = app.engine.hop_tickets().issue().await.expect("a ticket");
    app.clock.advance(61);
    assert!(!other.engine.hop_tickets().redeem(&late).await, "expired");
    let _ = app.engine.hop_tickets().issue().await;
    app.clock.advance(61);
    let _ = app.engine.hop_tickets().issue().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM hop_tickets").await,
        1,
        "expired tickets are swept"
    );

    // Live tickets are bounded: past the cap nothing is stored.
    let now = engine::Clock::now(&app.clock);
    let db = &app.database;
    assert!(db
        .insert_hop_ticket("a", now + 60, now, 3)
        .await
        .expect("insert"));
    assert!(db
        .insert_hop_ticket("b", now + 60, now, 3)
        .await
        .expect("insert"));
    assert!(!db
        .insert_hop_ticket("c", now + 60, now, 3)
        .await
        .expect("insert"));
}
