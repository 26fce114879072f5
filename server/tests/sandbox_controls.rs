//! Issue 28, finding 4: the built-in sandbox's controls (`/sandbox/control/...`:
//! revoke a grant, inject faults, move the clock, change token lifetimes and
//! latency, plan Jira 429s, read the counters) are an administrator's. A
//! stranger, a viewer and an operator are refused and change nothing; the
//! administrator's numbers are held to their limits; and a service API key
//! with the `proxy` scope reaches Jira's REST API and nothing else, whatever
//! `JIRA_API_URL` serves beside it (this process's `/sandbox`, or a standalone
//! sandbox as under `scripts/cluster`).

use domain::{Actor, ApiScope};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "a password long enough";

/// Adds a user with `role` through the settings form (as the administrator)
/// and signs them in: their client.
async fn user(app: &TestApp, email: &str, role: &str) -> reqwest::Client {
    app.add_user(email, PASSWORD, role).await
}

/// Every control, with a body that would change something.
fn controls() -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::POST,
            format!("/sandbox/control/grants/{ADA}/revoke"),
            json!({}),
        ),
        (
            Method::POST,
            "/sandbox/control/faults".into(),
            json!({"kind": "server_error", "count": 5}),
        ),
        (
            Method::POST,
            "/sandbox/control/clock/advance".into(),
            json!({"secs": 86_400}),
        ),
        (
            Method::POST,
            "/sandbox/control/settings".into(),
            json!({"withholdRefreshTokens": true, "accessTokenLifetimeSecs": 1, "latencyMs": 60_000}),
        ),
        (
            Method::POST,
            "/sandbox/control/jira-rate-limit".into(),
            json!({"next": 5, "retryAfterSecs": 60}),
        ),
        (Method::GET, "/sandbox/control/stats".into(), Value::Null),
    ]
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
    method: &Method,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = client.request(method.clone(), app.url(path));
    if !body.is_null() {
        request = request.json(body);
    }
    request.send().await.expect("control")
}

/// `POST /sandbox/control/{path}` with `body`, as the administrator.
async fn admin_control(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    let path = format!("/sandbox/control/{path}");
    send(&app.http, app, &Method::POST, &path, &body).await
}

/// What the controls could change, as the sandbox holds it.
#[derive(Debug, PartialEq)]
struct Knobs {
    now: i64,
    offset: i64,
    lifetime: i64,
    latency_ms: u64,
    withhold: bool,
    planned_429s: bool,
}

fn knobs(app: &TestApp) -> Knobs {
    let planned_429s = app.sandbox.jira().rate_limiter.planned().is_some();
    let store = app.sandbox.store();
    Knobs {
        now: app.sandbox.now(),
        offset: app.sandbox.clock_offset(),
        lifetime: store.settings.access_token_lifetime_secs,
        latency_ms: store.settings.latency_ms,
        withhold: store.settings.withhold_refresh_tokens,
        planned_429s,
    }
}

/// The grant still works and no fault is pending: a refresh (a token
/// request) and a connection test (a Jira call) both succeed.
async fn assert_grant_untouched(app: &TestApp) {
    let (status, outcome) = app
        .post_form("/api/refresh_integration", &[("id", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["ok"], true, "not revoked, no fault: {outcome}");
    let (_, test) = app.post_form("/api/test_connection", &[("id", "1")]).await;
    assert_eq!(test["ok"], true, "no planned 429: {test}");
}

/// Sends `GET path` as written (no client normalisation): the status line.
async fn raw_status(app: &TestApp, path: &str) -> String {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn strangers_viewers_and_operators_are_refused_every_control_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let viewer = user(&app, "vera@example.com", "viewer").await;
    let operator = user(&app, "otto@example.com", "operator").await;
    let before = knobs(&app);
    let requests_before = app.sandbox.token_requests_for(ADA);
    for (method, path, body) in controls() {
        let res = send(&anonymous(), &app, &method, &path, &body).await;
        // A program's call: 401 JSON, whatever the method.
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let answer: Value = res.json().await.expect("json");
        assert_eq!(answer["error"], "unauthenticated");
        for (who, client) in [("viewer", &viewer), ("operator", &operator)] {
            let res = send(client, &app, &method, &path, &body).await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{who}: {method} {path}"
            );
            let text = res.text().await.expect("body");
            assert!(!text.contains("grants"), "{who} read the counters: {text}");
        }
    }
    // Look-alikes of the controls' paths reach nothing either.
    for path in [
        "/sandbox/control/../control/stats",
        "/sandbox//control/stats",
        "/sandbox/control%2Fstats",
        "/sandbox/c%6Fntrol/stats",
        "/sandbox/Control/stats",
    ] {
        let status = raw_status(&app, path).await;
        assert!(!status.contains(" 200 "), "{path}: {status}");
    }
    assert_eq!(knobs(&app), before, "nothing moved");
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        requests_before,
        "no token request was made"
    );
    assert_grant_untouched(&app).await;
}

#[tokio::test]
async fn the_administrator_uses_every_control() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let now = app.sandbox.now();
    let mut answers = Vec::new();
    for (method, path, body) in controls() {
        let res = send(&app.http, &app, &method, &path, &body).await;
        assert_eq!(res.status(), StatusCode::OK, "{method} {path}");
        answers.push(res.json::<Value>().await.expect("json"));
    }
    assert_eq!(answers[0]["revokedFamilies"], 1);
    assert_eq!(answers[1]["pending"], 5);
    assert_eq!(answers[2]["now"], now + 86_400);
    assert_eq!(answers[3]["accessTokenLifetimeSecs"], 1);
    assert_eq!(answers[4]["pending"], 5);
    assert_eq!(answers[5]["grants"][0]["accountId"], ADA);
    let after = knobs(&app);
    assert_eq!(after.offset, 86_400);
    assert_eq!((after.lifetime, after.latency_ms), (1, 60_000));
    assert!(after.withhold && after.planned_429s);
}

#[tokio::test]
async fn numbers_beyond_their_limits_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let before = knobs(&app);
    for (path, body, field) in [
        (
            "faults",
            json!({"kind": "server_error", "count": 1_001}),
            "count",
        ),
        (
            "faults",
            json!({"kind": {"delay": {"ms": u64::MAX}}, "count": 1}),
            "delay.ms",
        ),
        (
            "faults",
            json!({"kind": {"status": {"code": 200, "retry_after_secs": null}}, "count": 1}),
            "status.code",
        ),
        (
            "faults",
            json!({"kind": {"status": {"code": 429, "retry_after_secs": u64::MAX}}, "count": 1}),
            "retry_after_secs",
        ),
        (
            "settings",
            json!({"withholdRefreshTokens": true, "accessTokenLifetimeSecs": i64::MAX}),
            "accessTokenLifetimeSecs",
        ),
        (
            "settings",
            json!({"accessTokenLifetimeSecs": 0}),
            "accessTokenLifetimeSecs",
        ),
        (
            "settings",
            json!({"accessTokenLifetimeSecs": 60, "latencyMs": 60_001}),
            "latencyMs",
        ),
        ("clock/advance", json!({"secs": i64::MAX}), "secs"),
        ("clock/advance", json!({"secs": -1}), "secs"),
        (
            "jira-rate-limit",
            json!({"next": u32::MAX, "retryAfterSecs": 5}),
            "next",
        ),
        (
            "jira-rate-limit",
            json!({"next": 1, "retryAfterSecs": 86_401}),
            "retryAfterSecs",
        ),
    ] {
        let res = admin_control(&app, path, body.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        let answer: Value = res.json().await.expect("json");
        let sentence = answer["error"].as_str().unwrap_or_default();
        assert!(sentence.contains(field), "{path} {body}: {sentence}");
    }
    // Ten years at a time, a hundred in all: the eleventh decade is refused.
    let decade = sandbox::clock::MAX_ADVANCE_SECS;
    let advance = |secs: i64| admin_control(&app, "clock/advance", json!({ "secs": secs }));
    for _ in 0..10 {
        assert_eq!(advance(decade).await.status(), StatusCode::OK);
    }
    let moved = app.sandbox.now();
    assert_eq!(advance(1).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.sandbox.now(), moved);
    let after = knobs(&app);
    assert_eq!(
        Knobs {
            now: before.now,
            offset: 0,
            ..after
        },
        before,
        "only the clock moved, and only by the accepted advances"
    );
}

/// A key with every scope, `proxy` among them.
async fn proxy_key(app: &TestApp) -> String {
    app.engine
        .create_api_key(
            "reporting",
            &[
                ApiScope::Proxy,
                ApiScope::TokensRead,
                ApiScope::IntegrationsRead,
            ],
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("create a key")
        .key
}

/// Paths under `JIRA_API_URL` that are not Jira's REST API (each `{account}`
/// and `{site}` filled in): the sandbox's controls, its token and consent
/// endpoints, the platform's other endpoints, and near misses.
const NOT_JIRA: &[(&str, &str)] = &[
    ("POST", "control/grants/{account}/revoke"),
    ("POST", "control/faults"),
    ("POST", "control/clock/advance"),
    ("POST", "control/settings"),
    ("POST", "control/jira-rate-limit"),
    ("GET", "control/stats"),
    ("POST", "oauth/token"),
    ("GET", "oauth/token/accessible-resources"),
    ("GET", "me"),
    ("GET", "authorize"),
    ("GET", "ex/jira/{site}"),
    ("GET", "ex/jira/{site}/rest"),
    ("GET", "ex/jira/{site}/rest/"),
    ("GET", "ex/jira/{site}/control/stats"),
    ("GET", "ex/confluence/{site}/rest/api/space"),
    ("GET", "ex/jira/a.b/rest/api/3/myself"),
    ("GET", "EX/JIRA/{site}/rest/api/3/myself"),
];

/// Sends every [`NOT_JIRA`] path through `app`'s proxy with `key`: each is
/// refused with `400` and a sentence naming Jira's paths.
async fn assert_only_jira_passes(app: &TestApp, key: &str) {
    for (method, path) in NOT_JIRA {
        let path = path.replace("{account}", ADA).replace("{site}", ACME);
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let res = anonymous()
            .request(
                method.clone(),
                app.url(&format!("/v1/integrations/1/proxy/{path}")),
            )
            .bearer_auth(key)
            .json(&json!({"secs": 86_400, "kind": "server_error", "count": 5, "accessTokenLifetimeSecs": 1}))
            .send()
            .await
            .expect("proxy");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        let answer: Value = res.json().await.expect("json");
        assert_eq!(answer["error"], "bad_request");
        let sentence = answer["message"].as_str().unwrap_or_default();
        assert!(
            sentence.contains("ex/jira/{cloudId}/rest/"),
            "{method} {path}: {sentence}"
        );
    }
}

#[tokio::test]
async fn a_proxy_key_reaches_jiras_rest_api_and_never_the_sandboxs_controls() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let key = proxy_key(&app).await;
    let before = knobs(&app);
    let requests_before = app.sandbox.token_requests_for(ADA);
    assert_only_jira_passes(&app, &key).await;
    assert_eq!(knobs(&app), before, "nothing moved");
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        requests_before,
        "refused before any call: not even a token was asked for"
    );
    // Jira's paths still pass, and this is the first Jira call this minute.
    let res = anonymous()
        .get(app.url(&format!(
            "/v1/integrations/1/proxy/ex/jira/{ACME}/rest/api/3/myself"
        )))
        .bearer_auth(&key)
        .send()
        .await
        .expect("proxy");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("x-ratelimit-remaining")
            .expect("remaining"),
        "99",
        "none of the refused paths was sent to the sandbox"
    );
    assert_grant_untouched(&app).await;
}

#[tokio::test]
async fn a_proxy_key_cannot_reach_a_standalone_sandboxs_open_controls() {
    // As under scripts/cluster: JIRA_API_URL is a standalone sandbox, whose
    // controls answer anyone (it has no sessions).
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let standalone = sandbox::Sandbox::new(
        Vec::new(),
        sandbox::Settings::default(),
        sandbox::clock::system_time(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = standalone.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let proxied = app.process_with_jira_api(&base).await;
    let key = proxy_key(&proxied).await;
    let now = standalone.now();
    assert_only_jira_passes(&proxied, &key).await;
    assert_eq!(standalone.clock_offset(), 0, "its clock did not move");
    assert_eq!(standalone.now(), now);
    assert!(standalone.jira().rate_limiter.planned().is_none());
    let settings = standalone.store().settings.clone();
    assert_eq!(settings.access_token_lifetime_secs, 3_600);
    assert!(!settings.withhold_refresh_tokens);
    let (grants, unattributed) = standalone.store().stats();
    assert!(grants.is_empty());
    assert_eq!(unattributed, 0, "no token request reached it");
}

#[test]
fn only_jiras_rest_paths_are_jira_paths() {
    use server::routes::v1::proxy::is_jira_path;
    for jira in [
        "ex/jira/11111111-aaaa-4aaa-8aaa-111111111111/rest/api/3/myself",
        "ex/jira/abc/rest/agile/1.0/board",
        "ex/jira/abc/rest/api/3/search/jql",
    ] {
        assert!(is_jira_path(jira), "{jira}");
    }
    for other in [
        "",
        "me",
        "oauth/token/accessible-resources",
        "control/stats",
        "ex/jira/abc",
        "ex/jira/abc/rest",
        "ex/jira/abc/rest/",
        "ex/jira//rest/api/3/myself",
        "ex/jira/a.b/rest/api/3/myself",
        "ex/jira/a%2Fb/rest/api/3/myself",
        "ex/confluence/abc/rest/api/space",
        "x/ex/jira/abc/rest/api/3/myself",
    ] {
        assert!(!is_jira_path(other), "{other}");
    }
}
