//! accessible-resources, `/me` and Jira's `myself`.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn accessible_resources_lists_the_sites_of_the_grant() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let (status, body) = sb
        .get_with_token(
            "/oauth/token/accessible-resources",
            &s(&tokens, "access_token"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let sites = body.as_array().expect("array");
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["id"], ACME);
    assert_eq!(sites[0]["url"], "https://acme.atlassian.net");
    assert_eq!(sites[0]["name"], "acme");
    assert!(sites[0]["avatarUrl"].is_string());
    assert!(sites[0]["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .any(|s| s == "read:jira-work"));
}

#[tokio::test]
async fn consenting_again_for_more_sites_extends_the_grant() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, GRACE, &[ACME]).await;
    let (_, first) = sb.exchange(&code).await;
    let (_, body) = sb
        .get_with_token(
            "/oauth/token/accessible-resources",
            &s(&first, "access_token"),
        )
        .await;
    assert_eq!(body.as_array().expect("array").len(), 1);
    let code = sb.code(ALL_SCOPES, GRACE, &[GLOBEX]).await;
    let (_, second) = sb.exchange(&code).await;
    let (_, body) = sb
        .get_with_token(
            "/oauth/token/accessible-resources",
            &s(&second, "access_token"),
        )
        .await;
    assert_eq!(body.as_array().expect("array").len(), 2);
}

#[tokio::test]
async fn me_and_myself_describe_the_account() {
    let sb = TestSandbox::start().await;
    let token = s(&sb.connect(ALL_SCOPES).await, "access_token");
    let (status, me) = sb.get_with_token("/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["account_id"], ADA);
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["account_status"], "active");
    let (status, myself) = sb
        .get_with_token(&format!("/ex/jira/{ACME}/rest/api/3/myself"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(myself["accountId"], ADA);
    assert_eq!(myself["displayName"], "Ada Lovelace");
    assert_eq!(myself["active"], true);
}

#[tokio::test]
async fn a_site_outside_the_grant_is_404() {
    let sb = TestSandbox::start().await;
    let code = sb.code(ALL_SCOPES, ADA, &[ACME]).await;
    let token = s(&sb.exchange(&code).await.1, "access_token");
    let (status, _) = sb
        .get_with_token(&format!("/ex/jira/{GLOBEX}/rest/api/3/myself"), &token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn expired_and_unknown_access_tokens_are_401() {
    let sb = TestSandbox::start().await;
    let token = s(&sb.connect(ALL_SCOPES).await, "access_token");
    let myself = format!("/ex/jira/{ACME}/rest/api/3/myself");
    sb.advance(3_599);
    assert_eq!(sb.get_with_token(&myself, &token).await.0, StatusCode::OK);
    sb.advance(1);
    for path in ["/oauth/token/accessible-resources", "/me", myself.as_str()] {
        assert_eq!(
            sb.get_with_token(path, &token).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        sb.get_with_token("/me", "sbx_at_unknown").await.0,
        StatusCode::UNAUTHORIZED
    );
    let res = sb
        .http
        .get(format!("{}/me", sb.base))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn me_needs_the_read_me_scope() {
    let sb = TestSandbox::start().await;
    let token = s(&sb.connect("read:jira-work").await, "access_token");
    assert_eq!(
        sb.get_with_token("/me", &token).await.0,
        StatusCode::FORBIDDEN
    );
}
