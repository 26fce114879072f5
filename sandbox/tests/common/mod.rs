//! Test harness: a sandbox on port 0 with a hand-moved clock, and a client that
//! walks the consent flow over real HTTP.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use sandbox::{Client, Sandbox, Settings};
use serde_json::Value;
use url::Url;

mod jira_calls;
#[allow(unused_imports)]
pub use jira_calls::*;

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret";
pub const REDIRECT_URI: &str = "http://localhost:9999/oauth/callback";
pub const ADA: &str = "557058:ada-lovelace";
pub const GRACE: &str = "557058:grace-hopper";
pub const ACME: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
pub const GLOBEX: &str = "22222222-bbbb-4bbb-8bbb-222222222222";
pub const ALL_SCOPES: &str = "read:jira-work read:jira-user read:me offline_access";

/// The one registered test client.
pub fn clients() -> Vec<Client> {
    vec![Client {
        id: CLIENT_ID.into(),
        secret: CLIENT_SECRET.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
    }]
}

/// A time source reading `time`.
pub fn time_source(time: &Arc<AtomicI64>) -> sandbox::TimeSource {
    let time = time.clone();
    Arc::new(move || time.load(Ordering::SeqCst))
}

pub struct TestSandbox {
    pub base: String,
    pub sandbox: Sandbox,
    pub time: Arc<AtomicI64>,
    pub http: reqwest::Client,
}

impl TestSandbox {
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let time = Arc::new(AtomicI64::new(1_800_000_000));
        let sandbox = Sandbox::new(clients(), settings, time_source(&time));
        Self::serve(sandbox, time).await
    }

    /// Serves `sandbox` (built on `time_source(&time)`) on a free port.
    pub async fn serve(sandbox: Sandbox, time: Arc<AtomicI64>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = sandbox.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client");
        Self {
            base,
            sandbox,
            time,
            http,
        }
    }

    /// Moves the test clock (the sandbox's time source) forward.
    /// `GET /control/stats`.
    pub async fn stats(&self) -> Value {
        let res = self
            .http
            .get(format!("{}/control/stats", self.base))
            .send()
            .await
            .expect("stats");
        res.json().await.expect("json")
    }

    pub fn advance(&self, secs: i64) {
        self.time.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn authorize_params(&self, scope: &str) -> Vec<(&'static str, String)> {
        vec![
            ("audience", "api.atlassian.com".into()),
            ("client_id", CLIENT_ID.into()),
            ("scope", scope.into()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("state", "state-123".into()),
            ("response_type", "code".into()),
            ("prompt", "consent".into()),
        ]
    }

    pub async fn get_authorize(&self, params: &[(&str, String)]) -> reqwest::Response {
        self.http
            .get(format!("{}/authorize", self.base))
            .query(params)
            .send()
            .await
            .expect("authorize")
    }

    /// Posts the consent form's decision; answers the redirect's query.
    pub async fn decide(
        &self,
        params: &[(&str, String)],
        decision: &str,
        account: &str,
        sites: &[&str],
    ) -> Vec<(String, String)> {
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("decision", decision.into()));
        form.push(("account", account.into()));
        for s in sites {
            form.push(("site", (*s).into()));
        }
        let res = self
            .http
            .post(format!("{}/authorize", self.base))
            .form(&form)
            .send()
            .await
            .expect("decision");
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "decision must redirect"
        );
        let location = res
            .headers()
            .get("location")
            .expect("location")
            .to_str()
            .expect("ascii")
            .to_owned();
        let url = Url::parse(&location).expect("redirect url");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        url.query_pairs().into_owned().collect()
    }

    /// A code for `account` on `sites` with `scope`.
    pub async fn code(&self, scope: &str, account: &str, sites: &[&str]) -> String {
        let params = self.authorize_params(scope);
        let query = self.decide(&params, "accept", account, sites).await;
        query
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .expect("code in redirect")
    }

    /// `POST /oauth/token`, to give a body.
    pub fn token_request(&self) -> reqwest::RequestBuilder {
        self.http.post(format!("{}/oauth/token", self.base))
    }

    pub async fn token_json(&self, body: Value) -> (StatusCode, Value) {
        let res = self
            .token_request()
            .json(&body)
            .send()
            .await
            .expect("token");
        let status = res.status();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn exchange(&self, code: &str) -> (StatusCode, Value) {
        self.token_json(code_grant(code)).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.token_json(serde_json::json!({
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": refresh_token,
        }))
        .await
    }

    /// A fresh grant for Ada on both sites: the token response.
    pub async fn connect(&self, scope: &str) -> Value {
        let code = self.code(scope, ADA, &[ACME, GLOBEX]).await;
        let (status, body) = self.exchange(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        let status = res.status();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// The JSON body that exchanges `code` as the test client (a test may change
/// a field before sending it).
pub fn code_grant(code: &str) -> Value {
    serde_json::json!({
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "redirect_uri": REDIRECT_URI,
    })
}

pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}
