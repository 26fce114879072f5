//! Jira's dynamic webhooks over HTTP: registered with the `manage:jira-webhook`
//! scope, listed with their expiry, extended, deleted; 30 days of life on the
//! sandbox's clock; one URL per app; only Jira's JQL subset.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const WITH_WEBHOOKS: &str = "read:jira-work manage:jira-webhook offline_access";
const DAY: i64 = 86_400;

async fn token(sb: &TestSandbox, scope: &str) -> String {
    s(&sb.connect(scope).await, "access_token")
}

async fn register(sb: &TestSandbox, token: &str, url: &str, jql: &str) -> Answer {
    let body = json!({
        "url": url,
        "webhooks": [{"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": jql}]
    });
    post(sb, token, &api(ACME, "/webhook"), body).await
}

async fn listed(sb: &TestSandbox, token: &str) -> Vec<Value> {
    let answer = get(sb, token, &api(ACME, "/webhook"), &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["values"].as_array().expect("values").clone()
}

#[tokio::test]
async fn a_registered_webhook_lives_thirty_days_and_a_refresh_extends_it() {
    let sb = TestSandbox::start().await;
    let token = token(&sb, WITH_WEBHOOKS).await;
    let made = register(
        &sb,
        &token,
        "https://app.example/jira/events",
        "project = ACME",
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let id = made.body["webhookRegistrationResult"][0]["createdWebhookId"]
        .as_u64()
        .expect("an id");
    let hooks = listed(&sb, &token).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["id"], id);
    assert_eq!(hooks[0]["jqlFilter"], "project = ACME");
    // The sandbox's clock starts at 2027-01-15T08:00:00Z.
    assert_eq!(hooks[0]["expirationDate"], "2027-02-14T08:00:00.000+0000");
    // At day 29 a refresh gives it 30 days from then.
    sb.advance(29 * DAY);
    let token = token_again(&sb).await;
    let refreshed = call(
        &sb,
        Method::PUT,
        &api(ACME, "/webhook/refresh"),
        &token,
        &[],
        Some(json!({"webhookIds": [id]})),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        refreshed.body["expirationDate"],
        "2027-03-15T08:00:00.000+0000"
    );
    sb.advance(2 * DAY);
    let token = token_again(&sb).await;
    assert_eq!(listed(&sb, &token).await.len(), 1, "alive at day 31");
    // Unrefreshed, it is gone 30 days later.
    sb.advance(28 * DAY);
    let token = token_again(&sb).await;
    assert!(listed(&sb, &token).await.is_empty(), "expired");
}

/// A fresh access token (the clock moved past the last one's hour).
async fn token_again(sb: &TestSandbox) -> String {
    token(sb, WITH_WEBHOOKS).await
}

#[tokio::test]
async fn deleting_removes_the_apps_webhooks() {
    let sb = TestSandbox::start().await;
    let token = token(&sb, WITH_WEBHOOKS).await;
    let made = register(
        &sb,
        &token,
        "https://app.example/jira/events",
        "project = ACME",
    )
    .await;
    let id = made.body["webhookRegistrationResult"][0]["createdWebhookId"].clone();
    let deleted = call(
        &sb,
        Method::DELETE,
        &api(ACME, "/webhook"),
        &token,
        &[],
        Some(json!({"webhookIds": [id]})),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert!(listed(&sb, &token).await.is_empty());
}

#[tokio::test]
async fn the_scope_one_url_per_app_and_the_jql_subset_are_enforced() {
    let sb = TestSandbox::start().await;
    let without = token(&sb, ALL_SCOPES).await;
    let refused = register(
        &sb,
        &without,
        "https://app.example/jira/events",
        "project = ACME",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body["errorMessages"][0]
        .as_str()
        .is_some_and(|m| m.contains("manage:jira-webhook")));

    let token = token(&sb, WITH_WEBHOOKS).await;
    let first = register(
        &sb,
        &token,
        "https://app.example/jira/events",
        "project = ACME",
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    let elsewhere = register(&sb, &token, "https://other.example/hooks", "project = ACME").await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    assert!(elsewhere.body["errorMessages"][0]
        .as_str()
        .is_some_and(|m| m.contains("single URL per app")));
    let unsupported = register(
        &sb,
        &token,
        "https://app.example/jira/events",
        "project = ACME AND priority = High",
    )
    .await;
    assert_eq!(
        unsupported.status,
        StatusCode::OK,
        "per webhook, not the request"
    );
    let errors = &unsupported.body["webhookRegistrationResult"][0]["errors"];
    assert!(
        errors[0].as_str().is_some_and(|e| e.contains("priority")),
        "{errors}"
    );
    let not_json = call(
        &sb,
        Method::POST,
        &api(ACME, "/webhook"),
        &token,
        &[],
        Some(json!({"webhooks": "none"})),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(listed(&sb, &token).await.len(), 1, "only the first");
}
