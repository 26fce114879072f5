//! `POST /oauth/token` with `grant_type=refresh_token`: rotation, leeway,
//! family revocation, inactivity and absolute expiry, exact error bodies.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

const UNKNOWN: fn() -> serde_json::Value =
    || json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."});
const REVOKED: fn() -> serde_json::Value =
    || json!({"error": "unauthorized_client", "error_description": "refresh_token is invalid"});

#[tokio::test]
async fn every_refresh_rotates_the_refresh_token() {
    let sb = TestSandbox::start().await;
    let first = sb.connect(ALL_SCOPES).await;
    let (status, second) = sb.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(s(&second, "refresh_token"), s(&first, "refresh_token"));
    assert_ne!(s(&second, "access_token"), s(&first, "access_token"));
    assert_eq!(second["expires_in"], 3600);
    let (status, _) = sb.refresh(&s(&second, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_rotated_token_works_for_ten_minutes_then_reuse_revokes_the_family() {
    let sb = TestSandbox::start().await;
    let first = sb.connect(ALL_SCOPES).await;
    let old = s(&first, "refresh_token");
    let (_, second) = sb.refresh(&old).await;
    sb.advance(600);
    let (status, retried) = sb.refresh(&old).await;
    assert_eq!(status, StatusCode::OK, "inside the leeway: {retried}");
    sb.advance(1);
    let (status, body) = sb.refresh(&old).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, REVOKED()));
    // Every token of the family is dead now, the newest ones included.
    for rt in [s(&second, "refresh_token"), s(&retried, "refresh_token")] {
        let (status, body) = sb.refresh(&rt).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, REVOKED()));
    }
    let (status, _) = sb.get_with_token("/me", &s(&retried, "access_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn separate_consents_make_separate_families() {
    let sb = TestSandbox::start().await;
    let a = sb.connect(ALL_SCOPES).await;
    let b = sb.connect(ALL_SCOPES).await;
    let (_, _) = sb.refresh(&s(&a, "refresh_token")).await;
    sb.advance(601);
    sb.refresh(&s(&a, "refresh_token")).await; // kills family a
    assert_eq!(sb.refresh(&s(&b, "refresh_token")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_403_invalid_grant() {
    let sb = TestSandbox::start().await;
    let (status, body) = sb.refresh("sbx_rt_made_up").await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, UNKNOWN()));
}

#[tokio::test]
async fn a_refresh_token_idle_for_90_days_is_dead() {
    let sb = TestSandbox::start().await;
    let first = sb.connect(ALL_SCOPES).await;
    sb.advance(89 * 86_400);
    let (status, second) = sb.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "used within 90 days resets the count"
    );
    sb.advance(90 * 86_400);
    let (status, body) = sb.refresh(&s(&second, "refresh_token")).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, UNKNOWN()));
}

#[tokio::test]
async fn a_family_dies_365_days_after_consent_however_often_it_is_refreshed() {
    let sb = TestSandbox::start().await;
    let mut rt = s(&sb.connect(ALL_SCOPES).await, "refresh_token");
    for _ in 0..4 {
        sb.advance(80 * 86_400);
        let (status, body) = sb.refresh(&rt).await;
        assert_eq!(status, StatusCode::OK);
        rt = s(&body, "refresh_token");
    }
    // 320 days so far; the next 45 days reach 365.
    sb.advance(45 * 86_400);
    let (status, body) = sb.refresh(&rt).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, UNKNOWN()));
}

#[tokio::test]
async fn a_wrong_secret_on_refresh_is_401_and_leaves_the_token_usable() {
    let sb = TestSandbox::start().await;
    let first = sb.connect(ALL_SCOPES).await;
    let (status, body) = sb
        .token_json(json!({
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": "nope",
            "refresh_token": s(&first, "refresh_token"),
        }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        sb.refresh(&s(&first, "refresh_token")).await.0,
        StatusCode::OK
    );
}
