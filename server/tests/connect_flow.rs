//! The connect flow end to end over real HTTP: /oauth/start, the sandbox's
//! consent page, /oauth/callback, encrypted storage, and every failure path.

use domain::IntegrationId;
use engine::vault::Column;
use engine::Secret;
use reqwest::{Method, StatusCode};
use testkit::*;

#[tokio::test]
async fn start_redirects_to_the_consent_page_with_every_parameter() {
    let app = TestApp::spawn().await;
    let (authorize, _) = app.start(None).await;
    assert_eq!(authorize.path(), "/sandbox/authorize");
    let q: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(q["audience"], "api.atlassian.com");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "sandbox-client-id");
    assert_eq!(
        q["scope"],
        "read:jira-work read:jira-user read:me offline_access"
    );
    assert_eq!(q["redirect_uri"], app.url("/oauth/callback"));
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() >= 32);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_states WHERE used_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_completed_flow_stores_one_integration_with_encrypted_tokens() {
    let app = TestApp::spawn().await;
    let flow = app.connect(ADA, &[ACME, GLOBEX], None).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER);
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=connected&integration=1")
    );

    let list = app.list().await;
    assert_eq!(list.as_array().expect("array").len(), 1);
    let view = &list[0];
    assert_eq!(view["id"], 1);
    assert_eq!(view["accountId"], ADA);
    assert_eq!(view["accountName"], "Ada Lovelace");
    assert_eq!(view["accountEmail"], "ada@example.com");
    assert_eq!(view["status"], "active");
    assert_eq!(view["isActive"], true);
    assert_eq!(view["hasRefreshToken"], true);
    assert_eq!(view["sites"].as_array().expect("sites").len(), 2);
    assert_eq!(view["sites"][0]["cloudId"], ACME);
    assert_eq!(view["sites"][0]["url"], "https://acme.atlassian.net");
    assert!(view.get("accessToken").is_none() && view.get("refreshToken").is_none());

    // At rest: ciphertext that is not the token, and decrypts to the token the
    // sandbox issued (the sandbox accepts it).
    let (access, refresh) = app
        .database
        .encrypted_tokens(IntegrationId(1))
        .await
        .expect("db")
        .expect("row");
    let (access, refresh) = (access.expect("access"), refresh.expect("refresh"));
    let access_token = app
        .vault
        .decrypt(IntegrationId(1), Column::AccessToken, &access)
        .expect("decrypt");
    let refresh_token = app
        .vault
        .decrypt(IntegrationId(1), Column::RefreshToken, &refresh)
        .expect("decrypt");
    assert!(access_token.expose().starts_with("sbx_at_"));
    assert!(refresh_token.expose().starts_with("sbx_rt_"));
    for (blob, token) in [(&access, &access_token), (&refresh, &refresh_token)] {
        let needle = token.expose().as_bytes();
        assert!(
            !blob.windows(needle.len()).any(|w| w == needle),
            "plaintext at rest"
        );
    }
    let me = app
        .atlassian
        .me(&access_token)
        .await
        .expect("the sandbox knows the token");
    assert_eq!(me.account_id, ADA);

    // No response of the flow carried a token.
    for text in app.seen.lock().expect("lock").iter() {
        assert!(
            !text.contains(access_token.expose()),
            "access token leaked: {text}"
        );
        assert!(
            !text.contains(refresh_token.expose()),
            "refresh token leaked"
        );
        assert!(
            !text.contains("sbx_at_") && !text.contains("sbx_rt_"),
            "a token leaked: {text}"
        );
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM token_events WHERE kind = 'connect' AND integration_id = 1"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_stored_file_alone_reveals_no_token() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let (access, _) = app
        .database
        .encrypted_tokens(IntegrationId(1))
        .await
        .expect("db")
        .expect("row");
    let access = access.expect("access");
    let token = app
        .vault
        .decrypt(IntegrationId(1), Column::AccessToken, &access)
        .expect("decrypt");
    let needle = token.expose().as_bytes();
    // What the database holds (either backend) is sealed.
    assert!(
        !access.windows(needle.len()).any(|w| w == needle),
        "the stored column holds the token"
    );
    // The file itself: SQLite only (PostgreSQL keeps its files on its server).
    let Some(pool) = app.database.sqlite_pool() else {
        return;
    };
    engine::db::query("PRAGMA wal_checkpoint(FULL)")
        .execute(&app.database)
        .await
        .expect("checkpoint");
    let path = pool.connect_options().get_filename().to_path_buf();
    for file in [path.clone(), path.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{file:?} holds a token"
            );
        }
    }
}

#[tokio::test]
async fn reconnecting_the_same_account_updates_the_same_integration() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let flow = app.connect(ADA, &[ACME, GLOBEX], None).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=reconnected&integration=1")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    assert_eq!(
        app.list().await[0]["sites"]
            .as_array()
            .expect("sites")
            .len(),
        2
    );
    // Another account is another integration.
    let flow = app.connect(GRACE, &[GLOBEX], None).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=connected&integration=2")
    );
}

#[tokio::test]
async fn re_authenticating_repairs_the_same_row_and_keeps_its_history() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    engine::db::query("UPDATE integrations SET is_active = 0, refresh_failures = 2 WHERE id = 1")
        .execute(&app.database)
        .await
        .expect("deactivate");
    let flow = app.connect(ADA, &[ACME], Some(1)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=reauthenticated&integration=1")
    );
    let view = &app.list().await[0];
    assert_eq!(view["id"], 1);
    assert_eq!(view["isActive"], true);
    assert_eq!(view["refreshFailures"], 2, "failures stay in its history");
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM token_events WHERE kind = 'reauth'")
            .await,
        1
    );
}

#[tokio::test]
async fn re_authenticating_with_another_accounts_grant_is_refused() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[ACME], None).await;
    let flow = app.connect(GRACE, &[ACME], Some(1)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=other_account")
    );
    assert_eq!(app.list().await[0]["accountId"], ADA);
}

#[tokio::test]
async fn re_authenticating_an_unknown_integration_is_404() {
    let app = TestApp::spawn().await;
    let res = app.get("/oauth/start?integration=99").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get("/oauth/start?integration=abc").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_states").await, 0);
}

#[tokio::test]
async fn declined_consent_flashes_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "cancel", ADA, &[ACME]).await;
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(flow.location.as_deref(), Some("/dashboard?flash=declined"));
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
    let html = app.page_text("/dashboard?flash=declined").await;
    assert!(
        html.contains("You declined access"),
        "the dashboard shows the flash"
    );
}

#[tokio::test]
async fn another_provider_error_flashes_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let state: String = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let mut callback = url::Url::parse(&app.url("/oauth/callback")).expect("url");
    callback
        .query_pairs_mut()
        .append_pair("error", "server_error")
        .append_pair("state", &state);
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=provider")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
}

async fn assert_state_rejected(app: &TestApp, flow: Flow, sentence: &str) {
    assert_eq!(flow.status, StatusCode::BAD_REQUEST, "{}", flow.body);
    assert!(flow.body.contains(sentence), "{}", flow.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
}

#[tokio::test]
async fn a_missing_or_forged_state_is_rejected_with_a_page() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    let code: String = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let mut no_state = url::Url::parse(&app.url("/oauth/callback")).expect("url");
    no_state.query_pairs_mut().append_pair("code", &code);
    assert_state_rejected(
        &app,
        app.callback(&no_state, Some(&cookie)).await,
        "no state",
    )
    .await;
    let mut forged = no_state.clone();
    forged
        .query_pairs_mut()
        .append_pair("state", "forged-state");
    assert_state_rejected(&app, app.callback(&forged, Some(&cookie)).await, "unknown").await;
}

#[tokio::test]
async fn a_state_without_its_cookie_or_with_another_is_rejected() {
    let app = TestApp::spawn().await;
    let (authorize, _) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    assert_state_rejected(
        &app,
        app.callback(&callback, None).await,
        "cookie is missing",
    )
    .await;
    assert_state_rejected(
        &app,
        app.callback(&callback, Some("jira_oauth_binding=somebody-elses"))
            .await,
        "another browser",
    )
    .await;
    // Neither attempt spent the state: the right browser can still finish.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_states WHERE used_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_replayed_state_is_rejected() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    assert_eq!(
        app.callback(&callback, Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    let again = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("already used"));
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
}

#[tokio::test]
async fn an_expired_state_is_rejected() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    app.clock.advance(600);
    assert_state_rejected(
        &app,
        app.callback(&callback, Some(&cookie)).await,
        "expired",
    )
    .await;
}

#[tokio::test]
async fn a_failed_code_exchange_writes_nothing() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    // The code dies after 10 minutes at the sandbox; the state (also 10 minutes)
    // is checked on our clock, which both share: move 599 s, then spend the code.
    app.sandbox.advance_clock(601);
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=exchange")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM token_events WHERE outcome = 'failed' AND http_status = 403"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_malformed_token_response_writes_nothing() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    let callback = app.consent(&authorize, "accept", ADA, &[ACME]).await;
    app.sandbox.inject_fault(sandbox::FaultKind::Malformed, 1);
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=exchange")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
}

#[tokio::test]
async fn a_grant_without_sites_writes_nothing() {
    let app = TestApp::spawn().await;
    let (authorize, cookie) = app.start(None).await;
    // The consent page refuses an empty choice, so forge a code with no site.
    let q: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    let code = app.sandbox.store().issue_code(
        sandbox::rules::CodeGrant {
            client_id: q["client_id"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
            scopes: q["scope"].split(' ').map(String::from).collect(),
            account_id: ADA.into(),
            cloud_ids: vec![],
            code_challenge: Some(q["code_challenge"].clone()),
        },
        app.sandbox.now(),
    );
    let mut callback = url::Url::parse(&app.url("/oauth/callback")).expect("url");
    callback
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q["state"]);
    let flow = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=failed&reason=no_sites")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
}

#[tokio::test]
async fn start_moves_a_browser_to_the_redirect_uris_host_first() {
    let app = TestApp::spawn().await;
    let port = app.base.rsplit(':').next().expect("port");
    let res = app
        .http
        .get(format!("http://localhost:{port}/oauth/start?integration=1"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        app.url("/oauth/start?integration=1").as_str()
    );
}

#[tokio::test]
async fn disconnect_wipes_the_tokens_and_logs_an_event() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let res = app
        .post("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.list().await, serde_json::json!([]));
    assert_eq!(
        app.database
            .encrypted_tokens(IntegrationId(1))
            .await
            .expect("db"),
        Some((None, None))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM token_events WHERE kind = 'disconnect'")
            .await,
        1
    );
    let res = app
        .post("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("does not exist or is already disconnected"));
}

/// The status of `method path` sent with `headers` (a POST carries the form `id=1`).
async fn status_of(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> StatusCode {
    let mut request = app.http.request(method.clone(), app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if method == Method::POST {
        request = request.form(&[("id", "1")]);
    }
    request.send().await.expect("send").status()
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    for (method, path, header) in [
        (
            Method::POST,
            "/api/disconnect_integration",
            ("origin", "https://evil.example"),
        ),
        (
            Method::POST,
            "/api/disconnect_integration",
            ("sec-fetch-site", "cross-site"),
        ),
        (
            Method::GET,
            "/oauth/start",
            ("sec-fetch-site", "cross-site"),
        ),
    ] {
        assert_eq!(
            status_of(&app, method.clone(), path, &[header]).await,
            StatusCode::FORBIDDEN,
            "{method} {path} {header:?}"
        );
    }
    assert_eq!(
        app.list().await.as_array().expect("array").len(),
        1,
        "nothing changed"
    );
    // The dashboard's own pages pass.
    assert_eq!(
        status_of(
            &app,
            Method::POST,
            "/api/disconnect_integration",
            &[
                ("origin", app.base.as_str()),
                ("sec-fetch-site", "same-origin")
            ],
        )
        .await,
        StatusCode::OK
    );
}

#[test]
fn secrets_do_not_print() {
    assert!(!format!("{:?}", Secret::new("sbx_at_x")).contains("sbx_at_x"));
}
