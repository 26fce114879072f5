//! The service API over real HTTP: API keys and their scopes, revocation,
//! token hand-outs (refresh-on-demand joining the single flight, 409, 503),
//! and the proxy (methods, bodies, queries, statuses, rate-limit headers, the
//! caller's credentials never forwarded, one refresh on 401, path escapes
//! refused, answers streamed) against the sandbox and a test upstream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use domain::{Actor, ApiScope};
use engine::vault::Column;
use reqwest::StatusCode;
use sandbox::FaultKind;
use serde_json::{json, Value};
use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALL_SCOPES: &[ApiScope] = &[
    ApiScope::IntegrationsRead,
    ApiScope::TokensRead,
    ApiScope::Proxy,
    ApiScope::MetricsRead,
];

/// A new key with `scopes`, made by the administrator.
async fn new_key(app: &TestApp, scopes: &[ApiScope]) -> String {
    app.engine
        .create_api_key(
            "billing-sync",
            scopes,
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("create a key")
        .key
}

/// `GET path` with `key`.
async fn v1_get(app: &TestApp, path: &str, key: &str) -> (StatusCode, HeaderMap, Value) {
    app.call(reqwest::Method::GET, path, Some(key), None).await
}

async fn hand_out(app: &TestApp, key: &str, body: Option<Value>) -> (StatusCode, HeaderMap, Value) {
    app.call(
        reqwest::Method::POST,
        "/v1/integrations/1/access-token",
        Some(key),
        body,
    )
    .await
}

/// `method path` on `app` with `key`, ready for a body or headers.
fn with_key(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
) -> reqwest::RequestBuilder {
    anonymous().request(method, app.url(path)).bearer_auth(key)
}

/// `GET path` on `app` with `key`, sent.
async fn get_with_key(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    with_key(app, reqwest::Method::GET, path, key)
        .send()
        .await
        .expect("send")
}

/// A dashboard with Ada's ACME connected (integration 1) and a key with `scope`.
async fn connected_with_key(scope: ApiScope) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let key = new_key(&app, &[scope]).await;
    (app, key)
}

async fn stored_access_token(app: &TestApp) -> String {
    app.stored_token(1, Column::AccessToken).await
}

#[tokio::test]
async fn each_endpoint_refuses_a_key_without_its_scope() {
    let (app, none_of_them) = connected_with_key(ApiScope::MetricsRead).await;
    let proxy_path = format!("/v1/integrations/1/proxy/ex/jira/{ACME}/rest/api/3/myself");
    let endpoints = [
        (
            reqwest::Method::GET,
            "/v1/integrations".to_owned(),
            "integrations:read",
        ),
        (
            reqwest::Method::GET,
            "/v1/integrations/1".to_owned(),
            "integrations:read",
        ),
        (
            reqwest::Method::POST,
            "/v1/integrations/1/access-token".to_owned(),
            "tokens:read",
        ),
        (reqwest::Method::GET, proxy_path.clone(), "proxy"),
    ];
    for (method, path, scope) in &endpoints {
        let (status, _, body) = app
            .call(method.clone(), path, Some(&none_of_them), None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"].as_str().expect("m").contains(scope),
            "{body}"
        );
        // No key, or one that is not ours: 401, the same for every endpoint.
        let (status, _, body) = app.call(method.clone(), path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"], "unauthenticated");
        let (status, _, _) = app
            .call(method.clone(), path, Some("jdk_not-a-key-of-ours"), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // A session cookie is not a key: the API is for programs.
    let res = app.get("/v1/integrations").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // With the scope, each answers.
    let all = new_key(&app, ALL_SCOPES).await;
    for (method, path, _) in &endpoints {
        let (status, _, body) = app.call(method.clone(), path, Some(&all), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_its_next_request() {
    let (app, key) = connected_with_key(ApiScope::IntegrationsRead).await;
    let (status, _, _) = v1_get(&app, "/v1/integrations", &key).await;
    assert_eq!(status, StatusCode::OK);
    let id = app.engine.api_keys().await.expect("keys")[0].id;
    let revoke_url = app.url(&format!("/settings/api-keys/{id}/revoke"));
    let revoke = || app.http.post(&revoke_url).send();
    let res = revoke().await.expect("revoke");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _, body) = v1_get(&app, "/v1/integrations", &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Revoking again says there is no such live key.
    let res = revoke().await.expect("revoke");
    assert!(res
        .headers()
        .get("location")
        .is_some_and(|l| l.to_str().unwrap_or_default().contains("no_such_key")));
}

#[tokio::test]
async fn an_admin_creates_a_key_in_settings_and_sees_it_once() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/settings/api-keys",
            &[
                ("name", "reporting"),
                ("tokens:read", "on"),
                ("proxy", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("no-store")
    );
    let page = res.text().await.expect("page");
    let start = page.find("jdk_").expect("the key is shown");
    let shown: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(shown.len(), 4 + 43, "{shown}");
    // Stored as a hash: the database never holds the key.
    let stored: Vec<u8> = engine::db::query("SELECT key_hash FROM api_keys")
        .scalar(&app.database)
        .await
        .expect("row");
    assert_ne!(stored, shown.as_bytes());
    // It works, with the scopes chosen.
    let (status, _, _) = hand_out(&app, &shown, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no integration yet, but authorised"
    );
    let (status, _, _) = v1_get(&app, "/v1/integrations", &shown).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Never shown again; listed by name and prefix; logged.
    let later = app.page_text("/settings").await;
    assert!(!later.contains(&shown));
    assert!(later.contains(&shown[..12]), "the prefix tells it apart");
    assert!(later.contains("reporting"));
    assert!(
        later.contains("Created API key"),
        "the account log names it"
    );
    // No name, or no scope: refused with a sentence, nothing created.
    for form in [vec![("name", ""), ("proxy", "on")], vec![("name", "x")]] {
        let res = app.post("/settings/api-keys", &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 1);
}

#[tokio::test]
async fn a_viewer_may_not_manage_keys() {
    let app = TestApp::spawn().await;
    let viewer = app
        .add_user("viewer@example.com", "viewer-password-1", "viewer")
        .await;
    let res = viewer
        .post(app.url("/settings/api-keys"))
        .form(&[("name", "sneaky"), ("tokens:read", "on")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 0);
}

#[tokio::test]
async fn views_are_served_without_any_token() {
    let (app, key) = connected_with_key(ApiScope::IntegrationsRead).await;
    let (status, _, list) = v1_get(&app, "/v1/integrations", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], 1);
    assert_eq!(list["items"][0]["accountName"], "Ada Lovelace");
    let (status, _, one) = v1_get(&app, "/v1/integrations/1", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, list["items"][0]);
    let (status, _, _) = v1_get(&app, "/v1/integrations/9", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = v1_get(&app, "/v1/integrations/abc", &key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let token = stored_access_token(&app).await;
    assert!(!list.to_string().contains(&token));
}

#[tokio::test]
async fn a_fresh_token_is_handed_out_as_it_is_and_logged_naming_the_key() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    let before = app.sandbox.token_requests_for(ADA);
    let (status, headers, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accessToken"], stored_access_token(&app).await);
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["sites"][0]["cloudId"], ACME);
    assert!(body["scopes"].as_array().expect("scopes").len() > 1);
    assert_eq!(headers.get("cache-control").expect("no-store"), "no-store");
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before,
        "no refresh needed"
    );
    // Counted and logged, naming the key, never the token.
    app.engine.flush_usage().await;
    let (handouts, last_used): (i64, Option<i64>) =
        engine::db::query("SELECT token_handouts, last_used_at FROM api_keys")
            .fetch_one(&app.database)
            .await
            .expect("key row");
    assert_eq!((handouts, last_used.is_some()), (1, true));
    let (message, actor): (String, String) =
        engine::db::query("SELECT message, actor FROM token_events WHERE kind = 'token_handout'")
            .fetch_one(&app.database)
            .await
            .expect("event");
    assert!(message.contains("billing-sync"), "{message}");
    assert!(actor.starts_with("key:"), "{actor}");
    assert!(!message.contains(body["accessToken"].as_str().expect("token")));
    // Bad input: 400 with a sentence, nothing handed out.
    for bad in [
        json!({"minValiditySecs": 99999}),
        json!({"minValiditySecs": -1}),
        json!({"other": 1}),
    ] {
        let (status, _, body) = hand_out(&app, &key, Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let res = with_key(
        &app,
        reqwest::Method::POST,
        "/v1/integrations/1/access-token",
        &key,
    )
    .body("{not json")
    .send()
    .await
    .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_expiring_within_the_asked_validity_is_refreshed_first() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    let old = stored_access_token(&app).await;
    let before = app.sandbox.token_requests_for(ADA);
    app.clock.advance(3_600 - 200);
    // 200 s left: enough for the default 60 s, not for 300 s.
    let (_, _, body) = hand_out(&app, &key, None).await;
    assert_eq!(body["accessToken"], old);
    let (status, _, body) = hand_out(&app, &key, Some(json!({"minValiditySecs": 300}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["accessToken"], old);
    assert_eq!(body["accessToken"], stored_access_token(&app).await);
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}

#[tokio::test]
async fn fifty_callers_of_an_expiring_integration_share_one_token_request() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    let (app, key) = (Arc::new(app), Arc::new(key));
    let before = app.sandbox.token_requests_for(ADA);
    app.clock.advance(3_600 - 30);
    // A slow answer keeps the refresh in flight while everyone piles on.
    app.sandbox.inject_fault(FaultKind::Delay { ms: 400 }, 1);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (app, key) = (app.clone(), key.clone());
        tasks.spawn(async move {
            let (status, _, body) = hand_out(&app, &key, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["accessToken"].as_str().expect("token").to_owned()
        });
    }
    let tokens: std::collections::HashSet<String> = tasks.join_all().await.into_iter().collect();
    assert_eq!(tokens.len(), 1, "everyone got the one new token");
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}

#[tokio::test]
async fn only_a_person_can_repair_a_revoked_grant_409() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    app.sandbox.revoke_grant(ADA);
    app.clock.advance(3_600 - 30);
    let (status, _, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "requires_reauth");
    assert_eq!(body["requiresReauth"], true);
    assert!(!body["message"].as_str().expect("m").is_empty());
    // And from now on, without another token request.
    let before = app.sandbox.token_requests_for(ADA);
    let (status, _, _) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.sandbox.token_requests_for(ADA), before);
}

#[tokio::test]
async fn without_a_refresh_token_the_rest_of_the_token_then_409() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/sandbox/control/settings"))
        .json(&json!({"withholdRefreshTokens": true}))
        .send()
        .await
        .expect("settings");
    assert!(res.status().is_success());
    app.connect(ADA, &[ACME], None).await;
    let key = new_key(&app, &[ApiScope::TokensRead]).await;
    app.clock.advance(3_600 - 30);
    let (status, _, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::OK, "what is left of it: {body}");
    app.clock.advance(60);
    let (status, _, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["requiresReauth"], true);
}

#[tokio::test]
async fn a_transient_failure_hands_out_a_still_valid_token_else_503() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    let old = stored_access_token(&app).await;
    app.clock.advance(3_600 - 30);
    app.sandbox.inject_fault(FaultKind::ServerError, 1);
    let (status, _, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["accessToken"], old,
        "the current token, still valid for 30 s"
    );
    app.clock.advance(60);
    app.sandbox.inject_fault(FaultKind::ServerError, 1);
    let (status, headers, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "provider_unavailable");
    let retry = body["retryAfterSecs"].as_i64().expect("retryAfterSecs");
    assert!(retry >= 1, "{body}");
    assert_eq!(
        headers.get("retry-after").expect("header"),
        &retry.to_string()
    );
    // The integration stays active: a transient failure is no dead token.
    let (_, _, view) = v1_get(
        &app,
        "/v1/integrations/1",
        &new_key(&app, &[ApiScope::IntegrationsRead]).await,
    )
    .await;
    assert_eq!(view["isActive"], true);
}

// ---------------------------------------------------------------------------
// The proxy.

/// A test upstream standing in for Jira: echoes what it received, answers a
/// chosen status with rate-limit headers, always refuses with 401, or streams
/// a large answer slowly (each under Jira's REST API, [`JIRA`], the only
/// paths the proxy passes).
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicUsize>,
}

impl Upstream {
    async fn spawn(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}/api", listener.local_addr().expect("addr"));
        let me = self.clone();
        let router = axum::Router::new().fallback(move |request: Request| {
            let me = me.clone();
            async move { me.answer(request).await }
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        base
    }

    async fn answer(&self, request: Request) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let path = request.uri().path().to_owned();
        let jira = format!("/api/{JIRA}/");
        let under_jira = path.strip_prefix(&jira).unwrap_or_default();
        if let Some(code) = under_jira.strip_prefix("status/") {
            let code = code.parse().unwrap_or(500);
            return (
                AxumStatus::from_u16(code).unwrap_or(AxumStatus::INTERNAL_SERVER_ERROR),
                [
                    ("retry-after", "7"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-limit", "100"),
                    ("set-cookie", "upstream=secret"),
                    ("x-internal", "hidden"),
                ],
                "{\"errorMessages\":[\"Rate limit exceeded.\"]}",
            )
                .into_response();
        }
        if under_jira == "always-401" {
            return (AxumStatus::UNAUTHORIZED, "{\"message\":\"Unauthorized\"}").into_response();
        }
        if let Some(mb) = under_jira.strip_prefix("big/") {
            let mb: usize = mb.parse().unwrap_or(1);
            // One chunk at once, the rest after a pause: a proxy that buffers
            // the whole answer shows nothing until the pause is over.
            let chunk = Bytes::from(vec![b'x'; 1024 * 1024]);
            let stream = futures_util::stream::unfold(0usize, move |sent| {
                let chunk = chunk.clone();
                async move {
                    if sent == mb {
                        return None;
                    }
                    if sent == 1 {
                        tokio::time::sleep(Duration::from_millis(1_500)).await;
                    }
                    Some((Ok::<_, std::io::Error>(chunk), sent + 1))
                }
            });
            return Response::new(Body::from_stream(stream));
        }
        let method = request.method().to_string();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        axum::Json(json!({
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }))
        .into_response()
    }
}

/// Jira's REST API on the site ACME, under `JIRA_API_URL`.
const JIRA: &str = "ex/jira/11111111-aaaa-4aaa-8aaa-111111111111/rest/api/3";

/// Ada's ACME connected (integration 1) on a dashboard, a second dashboard on
/// its database whose Jira API base is a test upstream, and a proxy key:
/// `(app, proxied, upstream, key)`.
async fn proxied_with_key() -> (TestApp, TestApp, Upstream, String) {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let upstream = Upstream::default();
    let base = upstream.spawn().await;
    let proxied = app.process_with_jira_api(&base).await;
    let key = new_key(&proxied, &[ApiScope::Proxy]).await;
    (app, proxied, upstream, key)
}

#[tokio::test]
async fn the_proxy_passes_methods_bodies_queries_and_content_headers_and_nothing_else() {
    let (app, proxied, _, key) = proxied_with_key().await;
    let token = stored_access_token(&app).await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let path =
            format!("/v1/integrations/1/proxy/{JIRA}/issue/ACME-1?fields=summary&expand=names");
        let res = with_key(&proxied, method.clone(), &path, &key)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("cookie", "jira_dashboard_session=stolen")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-custom", "kept-out")
            .body("{\"fields\":{\"summary\":\"Hi\"}}")
            .send()
            .await
            .expect("proxy");
        assert_eq!(res.status(), StatusCode::OK);
        let echo: Value = res.json().await.expect("json");
        assert_eq!(echo["method"], method.as_str());
        assert_eq!(echo["path"], format!("/api/{JIRA}/issue/ACME-1"));
        assert_eq!(echo["query"], "fields=summary&expand=names");
        assert_eq!(echo["body"], "{\"fields\":{\"summary\":\"Hi\"}}");
        let headers = &echo["headers"];
        assert_eq!(
            headers["authorization"],
            format!("Bearer {token}"),
            "the integration's token, not the key"
        );
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["accept"], "application/json");
        for dropped in ["cookie", "x-forwarded-for", "x-custom"] {
            assert!(
                headers.get(dropped).is_none(),
                "{dropped} forwarded: {headers}"
            );
        }
        assert!(!headers.to_string().contains(&key), "the key never leaves");
    }
    proxied.engine.flush_usage().await;
    let calls: i64 = engine::db::query("SELECT proxied_calls FROM api_keys")
        .scalar(&app.database)
        .await
        .expect("row");
    assert_eq!(calls, 5);
}

#[tokio::test]
async fn upstream_statuses_and_rate_limit_headers_come_back_as_they_are() {
    let (app, proxied, _, key) = proxied_with_key().await;
    for code in [429_u16, 404, 500, 201] {
        // Each answer says "Retry-After: 7" and no calls left: the rate-limit
        // governor holds the endpoint (tests/jira_rate_limits.rs) until then.
        app.clock.advance(7);
        let path = format!("/v1/integrations/1/proxy/{JIRA}/status/{code}");
        let res = get_with_key(&proxied, &path, &key).await;
        assert_eq!(res.status().as_u16(), code);
        let h = res.headers();
        assert_eq!(h.get("retry-after").expect("retry-after"), "7");
        assert_eq!(h.get("x-ratelimit-remaining").expect("remaining"), "0");
        assert_eq!(h.get("x-ratelimit-limit").expect("limit"), "100");
        assert!(h.get("set-cookie").is_none(), "upstream cookies stay out");
        assert!(h.get("x-internal").is_none());
        assert!(res
            .text()
            .await
            .expect("body")
            .contains("Rate limit exceeded."));
    }
}

#[tokio::test]
async fn a_401_from_upstream_refreshes_once_and_retries_once() {
    let (app, proxied, upstream, key) = proxied_with_key().await;
    let before = app.sandbox.token_requests_for(ADA);
    let old = stored_access_token(&app).await;
    // A token issued more than 5 minutes ago: a 401 may mean it died early.
    app.clock.advance(400);
    let path = format!("/v1/integrations/1/proxy/{JIRA}/always-401");
    let call = || async { get_with_key(&proxied, &path, &key).await.status() };
    assert_eq!(
        call().await,
        StatusCode::UNAUTHORIZED,
        "the retry's answer, as it is"
    );
    assert_eq!(
        upstream.calls.load(Ordering::SeqCst),
        2,
        "one call, one retry"
    );
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before + 1,
        "one refresh"
    );
    assert_ne!(stored_access_token(&app).await, old);
    // The new token is refused too: a refresh cannot cure this 401 (say, a
    // scope the grant lacks), so no call rotates the token again.
    for _ in 0..5 {
        assert_eq!(call().await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 7, "no more retries");
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before + 1,
        "no more refreshes"
    );
}

#[tokio::test]
async fn against_the_sandbox_an_early_expired_token_is_refreshed_and_the_call_succeeds() {
    let (app, key) = connected_with_key(ApiScope::Proxy).await;
    let path = format!("/v1/integrations/1/proxy/ex/jira/{ACME}/rest/api/3/myself");
    let res = get_with_key(&app, &path, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["displayName"], "Ada Lovelace");
    // Jira's clock says the token died (ours does not know yet): 401, one
    // refresh, the retry succeeds.
    let before = app.sandbox.token_requests_for(ADA);
    app.clock.advance(400);
    app.sandbox.advance_clock(3_600);
    let res = get_with_key(&app, &path, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}

/// Sends `GET path` as written (no client normalisation) and answers the status line.
async fn raw_status(app: &TestApp, path: &str, key: &str) -> String {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn paths_that_try_to_leave_the_jira_api_are_refused() {
    let (_app, proxied, upstream, key) = proxied_with_key().await;
    for escape in [
        "../../v1/integrations",
        "rest/../../secret",
        "%2e%2e/secret",
        "%2E%2E%2Fsecret",
        "rest%2f..%2fsecret",
        "/evil.example/rest",
        "//evil.example/rest",
        "http://evil.example/rest",
        "http:%2f%2fevil.example",
        "@evil.example/rest",
        "rest\\..\\secret",
        "rest%5c..%5csecret",
        "./rest",
    ] {
        let path = format!("/v1/integrations/1/proxy/{escape}");
        let status = raw_status(&proxied, &path, &key).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{escape}: {status}");
    }
    assert_eq!(
        upstream.calls.load(Ordering::SeqCst),
        0,
        "nothing was sent anywhere"
    );
    // The proxy's own check, whatever reaches it.
    let base = url::Url::parse("https://api.atlassian.com/").expect("url");
    assert!(server::routes::v1::proxy::upstream_url(&base, "me", None).is_some());
    for escape in [
        "", "/x", "a//b", "a/../b", "a:b/c", "x@y", "a%2Fb", "a?b", "a#b",
    ] {
        assert!(
            server::routes::v1::proxy::upstream_url(&base, escape, None).is_none(),
            "{escape}"
        );
    }
}

#[tokio::test]
async fn a_large_answer_is_streamed_as_it_arrives() {
    let (_app, proxied, _, key) = proxied_with_key().await;
    let started = Instant::now();
    let path = format!("/v1/integrations/1/proxy/{JIRA}/big/50");
    let mut res = get_with_key(&proxied, &path, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    let first = res.chunk().await.expect("chunk").expect("a first chunk");
    let first_at = started.elapsed();
    let mut total = first.len();
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        total += chunk.len();
    }
    assert_eq!(total, 50 * 1024 * 1024);
    assert!(
        first_at < Duration::from_millis(1_200),
        "the first bytes came after {first_at:?}: the answer was held back"
    );
    assert!(started.elapsed() >= Duration::from_millis(1_500));
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let (status, _, doc) = app
        .call(reqwest::Method::GET, "/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/v1/integrations",
        "/v1/integrations/{id}",
        "/v1/integrations/{id}/access-token",
        "/v1/integrations/{id}/proxy/{path}",
    ] {
        assert!(paths.contains_key(path), "{path} missing: {paths:?}");
    }
    // Each route lists its own answers and the ones documented once for several.
    let answers = |path: &str, method: &str| -> Vec<String> {
        let found = doc["paths"][path][method]["responses"].as_object();
        found.expect("responses").keys().cloned().collect()
    };
    assert_eq!(
        answers("/v1/integrations/{id}/access-token", "post"),
        ["200", "400", "401", "403", "404", "409", "503"]
    );
    assert_eq!(
        answers("/v1/integrations", "get"),
        ["200", "400", "401", "403"]
    );
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "IntegrationView",
        "AccessTokenAnswer",
        "AccessTokenRequest",
        "Status",
    ] {
        assert!(schemas.get(schema).is_some(), "{schema} missing");
    }
    assert_eq!(
        schemas["AccessTokenRequest"]["properties"]["minValiditySecs"]["type"]
            .as_str()
            .or_else(
                || schemas["AccessTokenRequest"]["properties"]["minValiditySecs"]["type"][0]
                    .as_str()
            ),
        Some("integer")
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn the_proxy_reaches_the_sandboxes_jira_search_issues_and_rate_limits() {
    let (app, key) = connected_with_key(ApiScope::Proxy).await;
    let api = format!("/v1/integrations/1/proxy/ex/jira/{ACME}/rest/api/3");
    let search = format!(
        "{api}/search/jql?jql=project%20%3D%20ACME%20ORDER%20BY%20key%20ASC&fields=summary,status&maxResults=5"
    );
    let res = get_with_key(&app, &search, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("x-ratelimit-limit").is_some(),
        "rate-limit headers come back"
    );
    let found: Value = res.json().await.expect("json");
    let issues = found["issues"].as_array().expect("issues");
    assert_eq!(issues.len(), 5);
    assert!(issues
        .iter()
        .all(|i| i["key"].as_str().expect("key").starts_with("ACME-")));
    assert!(issues[0]["fields"]["summary"].is_string());
    // A body and a method through the proxy: create, then read back.
    let res = with_key(&app, reqwest::Method::POST, &format!("{api}/issue"), &key)
        .json(&json!({"fields": {"project": {"key": "ACME"}, "summary": "Made through the proxy", "issuetype": {"name": "Task"}}}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    let read = format!("{api}/issue/{}", created["key"].as_str().expect("key"));
    let res = get_with_key(&app, &read, &key).await;
    let issue: Value = res.json().await.expect("json");
    assert_eq!(issue["fields"]["summary"], "Made through the proxy");
    // Jira's 429 comes back as it is, with its headers.
    let res = app
        .http
        .post(app.url("/sandbox/control/jira-rate-limit"))
        .json(&json!({"next": 1, "retryAfterSecs": 9}))
        .send()
        .await
        .expect("control");
    assert!(res.status().is_success());
    let projects = format!("{api}/project/search");
    let res = get_with_key(&app, &projects, &key).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers().get("retry-after").expect("retry-after"), "9");
    assert_eq!(
        res.headers()
            .get("x-ratelimit-remaining")
            .expect("remaining"),
        "0"
    );
    // Then the endpoint is held for the 9 s Jira asked: answered here.
    let res = get_with_key(&app, &projects, &key).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let held: Value = res.json().await.expect("json");
    assert_eq!(held["error"], "rate_limited");
    app.clock.advance(9);
    let res = get_with_key(&app, &projects, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_401s_share_one_rotation() {
    let (app, proxied, _, key) = proxied_with_key().await;
    let (proxied, key) = (Arc::new(proxied), Arc::new(key));
    let before = app.sandbox.token_requests_for(ADA);
    app.clock.advance(400);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (proxied, key) = (proxied.clone(), key.clone());
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_millis(15 * i)).await;
            let path = format!("/v1/integrations/1/proxy/{JIRA}/always-401");
            get_with_key(&proxied, &path, &key).await.status()
        });
    }
    for status in tasks.join_all().await {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}

#[tokio::test]
async fn hand_outs_respect_the_providers_wait() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    let old = stored_access_token(&app).await;
    let before = app.sandbox.token_requests_for(ADA);
    app.clock.advance(3_600 - 30);
    app.sandbox.inject_fault(
        FaultKind::Status {
            code: 429,
            retry_after_secs: Some(600),
        },
        1,
    );
    for _ in 0..3 {
        let (status, _, body) = hand_out(&app, &key, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accessToken"], old, "still valid for 30 s");
    }
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before + 1,
        "one request, then it waits"
    );
    app.clock.advance(60);
    let (status, headers, body) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let wait = body["retryAfterSecs"].as_i64().expect("wait");
    // The wait the engine keeps (the provider asked 600 s; a retry with the
    // same token must still land inside the leeway), less the minute gone.
    assert!(
        (400..=600).contains(&wait),
        "the real wait, not a guess: {wait}"
    );
    assert_eq!(
        headers.get("retry-after").expect("header"),
        &wait.to_string()
    );
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}

#[tokio::test]
async fn the_same_token_handed_out_twice_is_logged_once_and_counted_twice() {
    let (app, key) = connected_with_key(ApiScope::TokensRead).await;
    for _ in 0..3 {
        let (status, _, _) = hand_out(&app, &key, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    app.engine.flush_usage().await;
    let events = "SELECT COUNT(*) FROM token_events WHERE kind = 'token_handout'";
    assert_eq!(app.count(events).await, 1);
    assert_eq!(app.count("SELECT token_handouts FROM api_keys").await, 3);
    // A new token is a new event.
    app.clock.advance(3_600 - 30);
    let (status, _, _) = hand_out(&app, &key, None).await;
    assert_eq!(status, StatusCode::OK);
    app.engine.flush_usage().await;
    assert_eq!(app.count(events).await, 2);
}

#[tokio::test]
async fn trace_and_matrix_parameters_are_refused() {
    let (_app, proxied, upstream, key) = proxied_with_key().await;
    let trace = reqwest::Method::from_bytes(b"TRACE").expect("method");
    let path = format!("/v1/integrations/1/proxy/{JIRA}/myself");
    let res = with_key(&proxied, trace, &path, &key)
        .send()
        .await
        .expect("trace");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let res = get_with_key(
        &proxied,
        "/v1/integrations/1/proxy/rest;x=1/..;/admin",
        &key,
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 0);
    // Unknown service API paths answer JSON; the scheme is case-insensitive.
    let res = anonymous()
        .get(proxied.url("/v1/nothing-here"))
        .header("authorization", format!("BEARER {key}"))
        .send()
        .await
        .expect("unknown");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "not_found");
}
