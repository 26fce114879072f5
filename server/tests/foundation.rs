//! The server's first routes, over real HTTP against a real SQLite file.

use reqwest::StatusCode;
use testkit::TestApp;

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn root_redirects_to_the_dashboard() {
    let app = TestApp::spawn().await;
    let res = app.get("/").await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/dashboard");
}

#[tokio::test]
async fn the_dashboard_is_server_rendered_with_its_hydration_scripts() {
    let app = TestApp::spawn().await;
    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("body");
    assert!(html.contains("<h1>Jira Integrations</h1>"), "{html}");
    assert!(html.contains("No Jira sites connected yet"));
    assert!(
        html.contains("Sandbox"),
        "the mode badge is rendered without JavaScript"
    );
    assert!(html.contains("/pkg/jira-dashboard.js"), "hydration script");
}

#[tokio::test]
async fn list_integrations_answers_a_json_array() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/api/list_integrations"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body, serde_json::json!([]));
}

#[tokio::test]
async fn an_unknown_page_is_404() {
    let app = TestApp::spawn().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
