//! `/authorize`: request checks, the consent page, Accept and Cancel.

mod common;

use common::*;
use reqwest::StatusCode;

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn unknown_client_is_an_error_page_and_never_a_redirect() {
    let sb = TestSandbox::start().await;
    let mut params = sb.authorize_params(ALL_SCOPES);
    params[1].1 = "someone-else".into();
    let res = sb.get_authorize(&params).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_none());
    assert!(res.text().await.expect("body").contains("someone-else"));
}

#[tokio::test]
async fn unregistered_redirect_uri_is_an_error_page_and_never_a_redirect() {
    let sb = TestSandbox::start().await;
    let mut params = sb.authorize_params(ALL_SCOPES);
    params[3].1 = "http://evil.example/callback".into();
    let res = sb.get_authorize(&params).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_none());
    // A prefix of a registered URI is not a match either.
    let mut params = sb.authorize_params(ALL_SCOPES);
    params[3].1 = format!("{REDIRECT_URI}/extra");
    assert_eq!(
        sb.get_authorize(&params).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn other_bad_parameters_are_redirected_back_with_an_error() {
    let sb = TestSandbox::start().await;
    for (index, value, error) in [
        (5, "token", "unsupported_response_type"),
        (0, "example.com", "invalid_request"),
        (2, "  ", "invalid_scope"),
        (4, "", "invalid_request"),
    ] {
        let mut params = sb.authorize_params(ALL_SCOPES);
        params[index].1 = value.into();
        let res = sb.get_authorize(&params).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{error}");
        let loc = location(&res).expect("redirect");
        assert!(loc.starts_with(REDIRECT_URI), "{loc}");
        assert!(loc.contains(&format!("error={error}")), "{loc}");
        assert!(!loc.contains("code="), "{loc}");
    }
}

#[tokio::test]
async fn consent_page_lists_scopes_accounts_sites_and_both_buttons() {
    let sb = TestSandbox::start().await;
    let res = sb.get_authorize(&sb.authorize_params(ALL_SCOPES)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("body");
    for needle in [
        "read:jira-work",
        "read:jira-user",
        "read:me",
        "offline_access",
        "Ada Lovelace",
        "Grace Hopper",
        "acme.atlassian.net",
        "globex.atlassian.net",
        ">Accept<",
        ">Cancel<",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

#[tokio::test]
async fn accept_redirects_with_code_and_state_and_cancel_with_access_denied() {
    let sb = TestSandbox::start().await;
    let params = sb.authorize_params(ALL_SCOPES);
    let accepted = sb.decide(&params, "accept", ADA, &[ACME]).await;
    assert!(accepted
        .iter()
        .any(|(k, v)| k == "code" && v.starts_with("sbx_code_")));
    assert!(accepted.contains(&("state".into(), "state-123".into())));

    let declined = sb.decide(&params, "cancel", ADA, &[ACME]).await;
    assert!(declined.contains(&("error".into(), "access_denied".into())));
    assert!(declined.contains(&("state".into(), "state-123".into())));
    assert!(!declined.iter().any(|(k, _)| k == "code"));
}

#[tokio::test]
async fn a_tampered_decision_form_is_checked_again() {
    let sb = TestSandbox::start().await;
    let mut params = sb.authorize_params(ALL_SCOPES);
    params[3].1 = "http://evil.example/callback".into();
    let mut form = params.clone();
    form.push(("decision", "accept".into()));
    form.push(("account", ADA.into()));
    form.push(("site", ACME.into()));
    let res = sb
        .http
        .post(format!("{}/authorize", sb.base))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_none());
}
