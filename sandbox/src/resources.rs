//! The resource endpoints: accessible-resources, `/me`, and Jira's `myself`,
//! and [`JiraCaller`]: the access check of every Jira API route.

use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::rules::{AccessGrant, OFFLINE_ACCESS};
use crate::settings::{account, site, Account};
use crate::Sandbox;

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"code": 401, "message": "Unauthorized"})),
    )
        .into_response()
}

/// The grant behind the request's bearer token, if it is live.
fn bearer(sandbox: &Sandbox, headers: &HeaderMap) -> Option<AccessGrant> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    let now = sandbox.now();
    sandbox.store().access(token.trim(), now)
}

/// `GET /oauth/token/accessible-resources`: every site the grant reaches.
pub async fn accessible_resources(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    let Some(grant) = bearer(&sandbox, &headers) else {
        return unauthorized();
    };
    let scopes: Vec<&String> = grant
        .scopes
        .iter()
        .filter(|s| *s != OFFLINE_ACCESS)
        .collect();
    let sites: Vec<_> = grant
        .cloud_ids
        .iter()
        .filter_map(|id| site(id))
        .map(|s| {
            json!({
                "id": s.cloud_id,
                "url": s.url,
                "name": s.name,
                "scopes": scopes,
                "avatarUrl": format!("https://site-admin-avatar-cdn.example/avatars/{}.png", s.name),
            })
        })
        .collect();
    Json(sites).into_response()
}

/// `GET /me`: the account behind the token (needs `read:me`).
pub async fn me(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    let Some(grant) = bearer(&sandbox, &headers) else {
        return unauthorized();
    };
    if !grant.scopes.iter().any(|s| s == "read:me") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"code": 403, "message": "The token does not have the read:me scope"})),
        )
            .into_response();
    }
    let Some(a) = account(&grant.account_id) else {
        return unauthorized();
    };
    Json(json!({
        "account_id": a.account_id,
        "account_type": "atlassian",
        "email": a.email,
        "name": a.name,
        "picture": format!("https://avatar-management.example/{}.png", a.nickname),
        "account_status": "active",
        "nickname": a.nickname,
        "zoneinfo": "Europe/London",
        "locale": "en-GB",
    }))
    .into_response()
}

/// Who calls a Jira API (`/ex/jira/{cloudId}/rest/api/3/...`), once the
/// request passed the check every such route makes: a live bearer token
/// (otherwise `401`) whose grant reaches `{cloudId}` (otherwise `404`).
#[derive(Debug, Clone)]
pub struct JiraCaller {
    pub account: &'static Account,
    pub cloud_id: String,
    /// The app (OAuth client) whose token it is, and the token's scopes.
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// Why a Jira route turns a caller away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JiraAccessDenied {
    /// No live token (missing, unknown, expired, revoked): `401`.
    Unauthorized,
    /// The token's grant does not reach the site: `404`.
    SiteNotReachable,
}

/// The sentence of a `404` for a site the token does not reach.
pub const SITE_NOT_REACHABLE: &str = "Site not found or not reachable with this token";

impl IntoResponse for JiraAccessDenied {
    fn into_response(self) -> Response {
        match self {
            JiraAccessDenied::Unauthorized => unauthorized(),
            JiraAccessDenied::SiteNotReachable => (
                StatusCode::NOT_FOUND,
                Json(json!({"errorMessages": [SITE_NOT_REACHABLE], "errors": {}})),
            )
                .into_response(),
        }
    }
}

impl FromRequestParts<Sandbox> for JiraCaller {
    type Rejection = JiraAccessDenied;

    async fn from_request_parts(
        parts: &mut Parts,
        sandbox: &Sandbox,
    ) -> Result<Self, JiraAccessDenied> {
        let cloud_id = RawPathParams::from_request_parts(parts, sandbox)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "cloud_id")
                    .map(|(_, value)| value.to_owned())
            })
            .unwrap_or_default();
        jira_caller(sandbox, &parts.headers, cloud_id)
    }
}

fn jira_caller(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    cloud_id: String,
) -> Result<JiraCaller, JiraAccessDenied> {
    let grant = bearer(sandbox, headers).ok_or(JiraAccessDenied::Unauthorized)?;
    if !grant.cloud_ids.contains(&cloud_id) {
        return Err(JiraAccessDenied::SiteNotReachable);
    }
    let account = account(&grant.account_id).ok_or(JiraAccessDenied::Unauthorized)?;
    Ok(JiraCaller {
        account,
        cloud_id,
        client_id: grant.client_id,
        scopes: grant.scopes,
    })
}

/// `GET /ex/jira/{cloudId}/rest/api/3/myself`.
pub async fn myself(caller: JiraCaller) -> Response {
    let a = caller.account;
    let answer = Json(json!({
        "accountId": a.account_id,
        "accountType": "atlassian",
        "emailAddress": a.email,
        "displayName": a.name,
        "active": true,
        "timeZone": "Europe/London",
        "locale": "en_GB",
    }));
    (crate::jira::rate_limit::ObjectsReturned(1), answer).into_response()
}
