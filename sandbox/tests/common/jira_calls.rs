//! Calls to the sandbox's Jira REST API, and what they answer.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{s, TestSandbox, ALL_SCOPES};

/// A Jira answer: status, headers, and the body as JSON (or a JSON string
/// of the text when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} header"))
            .to_str()
            .expect("ascii header")
    }

    pub fn keys(&self) -> Vec<String> {
        self.body["issues"]
            .as_array()
            .unwrap_or_else(|| panic!("issues in {}", self.body))
            .iter()
            .map(|issue| s(issue, "key"))
            .collect()
    }
}

pub fn api(site: &str, rest: &str) -> String {
    format!("/ex/jira/{site}/rest/api/3{rest}")
}

pub async fn call(
    sb: &TestSandbox,
    method: Method,
    path: &str,
    token: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut request = sb
        .http
        .request(method, format!("{}{path}", sb.base))
        .bearer_auth(token)
        .query(query);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

pub async fn get(sb: &TestSandbox, token: &str, path: &str, query: &[(&str, &str)]) -> Answer {
    call(sb, Method::GET, path, token, query, None).await
}

pub async fn post(sb: &TestSandbox, token: &str, path: &str, body: Value) -> Answer {
    call(sb, Method::POST, path, token, &[], Some(body)).await
}

/// Ada's access token, for both seeded sites.
pub async fn ada_on_both_sites(sb: &TestSandbox) -> String {
    s(&sb.connect(ALL_SCOPES).await, "access_token")
}
