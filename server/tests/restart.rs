//! Issue 12, "The sandbox survives a restart": the built-in sandbox keeps its
//! state in the dashboard's database, so a second server on the same file (a
//! restart) still knows every token the dashboard holds.

use reqwest::StatusCode;
use serde_json::Value;
use testkit::*;

async fn api(app: &TestApp, endpoint: &str, id: &str) -> (StatusCode, Value) {
    app.post_form(&format!("/api/{endpoint}"), &[("id", id)])
        .await
}

#[tokio::test]
async fn after_a_restart_the_next_refresh_and_the_connection_test_still_work() {
    let app = TestApp::spawn().await;
    let flow = app.connect(ADA, &[ACME], None).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER, "{flow:?}");
    // One rotation before the restart: the dashboard holds the second
    // refresh token of the family, the sandbox superseded the first.
    app.clock.advance(1_000);
    let (status, outcome) = api(&app, "refresh_integration", "1").await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["ok"], true, "{outcome}");

    let restarted = app.restart().await;
    assert_ne!(restarted.base, app.base);

    // "Test connection" with the access token issued before the restart.
    let (status, test) = api(&restarted, "test_connection", "1").await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["displayName"], "Ada Lovelace");

    // The next refresh, with the refresh token stored before the restart.
    restarted.clock.advance(1_000);
    let (status, outcome) = api(&restarted, "refresh_integration", "1").await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_eq!(outcome["requiresReauth"], false, "{outcome}");
    assert_eq!(
        restarted.sandbox.token_requests_for(ADA),
        1,
        "the restarted sandbox answered it"
    );
    // And the one after it, and the connection test with the new access token.
    let (_, outcome) = api(&restarted, "refresh_integration", "1").await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    let (_, test) = api(&restarted, "test_connection", "1").await;
    assert_eq!(test["ok"], true, "{test}");
}

#[tokio::test]
async fn a_grant_revoked_before_a_restart_stays_revoked() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let res = app
        .http
        .post(app.url(&format!("/sandbox/control/grants/{ADA}/revoke")))
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);

    let restarted = app.restart().await;
    let (_, test) = api(&restarted, "test_connection", "1").await;
    assert_eq!(test["ok"], false, "{test}");
    let (_, outcome) = api(&restarted, "refresh_integration", "1").await;
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["requiresReauth"], true, "{outcome}");
    // Rejected as revoked (`unauthorized_client`), not as a token the sandbox
    // forgot (`invalid_grant`, what an in-memory sandbox answers here).
    assert_eq!(
        restarted
            .count("SELECT COUNT(*) FROM token_events WHERE error_code = 'unauthorized_client'")
            .await,
        1
    );
}
