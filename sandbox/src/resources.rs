//! The resource endpoints: accessible-resources, `/me`, and Jira's `myself`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::rules::{AccessGrant, OFFLINE_ACCESS};
use crate::settings::{account, site};
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

/// `GET /ex/jira/{cloudId}/rest/api/3/myself`.
pub async fn myself(
    State(sandbox): State<Sandbox>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(grant) = bearer(&sandbox, &headers) else {
        return unauthorized();
    };
    if !grant.cloud_ids.contains(&cloud_id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"errorMessages": ["Site not found or not reachable with this token"], "errors": {}})),
        )
            .into_response();
    }
    let Some(a) = account(&grant.account_id) else {
        return unauthorized();
    };
    Json(json!({
        "accountId": a.account_id,
        "accountType": "atlassian",
        "emailAddress": a.email,
        "displayName": a.name,
        "active": true,
        "timeZone": "Europe/London",
        "locale": "en_GB",
    }))
    .into_response()
}
