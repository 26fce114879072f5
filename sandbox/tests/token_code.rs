//! `POST /oauth/token` with `grant_type=authorization_code`.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn json_exchange_answers_atlassians_shape_with_a_refresh_token_for_offline_access() {
    let sb = TestSandbox::start().await;
    let body = sb.connect(ALL_SCOPES).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], ALL_SCOPES);
    assert!(s(&body, "access_token").starts_with("sbx_at_"));
    assert!(s(&body, "refresh_token").starts_with("sbx_rt_"));
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let sb = TestSandbox::start().await;
    let body = sb.connect("read:jira-work read:me").await;
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["scope"], "read:jira-work read:me");
}

#[tokio::test]
async fn form_bodies_work_too() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let res = sb
        .token_request()
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_is_single_use_and_replaying_it_revokes_what_it_issued() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let (status, first) = sb.exchange(&code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = sb.exchange(&code).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(again["error"], "invalid_grant");
    let (status, _) = sb
        .get_with_token(
            "/oauth/token/accessible-resources",
            &s(&first, "access_token"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "tokens of a replayed code are revoked"
    );
    let (status, body) = sb.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let sb = TestSandbox::start().await;
    let fresh = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let stale = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    sb.advance(599);
    assert_eq!(sb.exchange(&fresh).await.0, StatusCode::OK);
    sb.advance(1);
    let (status, body) = sb.exchange(&stale).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn the_redirect_uri_must_match_the_authorize_request() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let mut body = code_grant(&code);
    body["redirect_uri"] = json!("http://localhost:9999/other");
    let (status, body) = sb.token_json(body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_client_secret_is_401_access_denied() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let mut body = code_grant(&code);
    body["client_secret"] = json!("wrong");
    let (status, body) = sb.token_json(body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": "Unauthorized"})
    );
    // Credentials in a Basic header instead of the body are not accepted.
    let res = sb
        .token_request()
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}))
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The code was not consumed by the failed attempts.
    assert_eq!(sb.exchange(&code).await.0, StatusCode::OK);
}

#[tokio::test]
async fn pkce_s256_is_verified_when_a_challenge_was_sent() {
    let sb = TestSandbox::start().await;
    let verifier = "a-long-enough-code-verifier-0123456789-abcdefghijklmnop";
    let mut params = sb.authorize_params(ALL_SCOPES);
    params.push(("code_challenge", sandbox::rules::pkce_s256(verifier)));
    params.push(("code_challenge_method", "S256".into()));
    let code_of = |q: Vec<(String, String)>| {
        q.into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("code")
    };
    let exchange = |code: String, verifier: Option<&'static str>| {
        let mut body = code_grant(&code);
        if let Some(v) = verifier {
            body["code_verifier"] = json!(v);
        }
        sb.token_json(body)
    };
    let code = code_of(sb.decide(&params, "accept", ADA, &[ACME]).await);
    let (status, body) =
        exchange(code, Some("the-wrong-verifier-the-wrong-verifier-0000000")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "invalid_grant");
    let code = code_of(sb.decide(&params, "accept", ADA, &[ACME]).await);
    assert_eq!(exchange(code, None).await.0, StatusCode::FORBIDDEN);
    let code = code_of(sb.decide(&params, "accept", ADA, &[ACME]).await);
    assert_eq!(
        exchange(
            code,
            Some("a-long-enough-code-verifier-0123456789-abcdefghijklmnop")
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let sb = TestSandbox::start().await;
    let (status, body) = sb.token_json(json!({"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    let res = sb
        .token_request()
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
