//! `POST /oauth/token`: JSON or form bodies, client credentials in the body.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::rules::{FaultKind, TokenError};
use crate::Sandbox;

/// The token endpoint.
pub async fn token(State(sandbox): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match parse_body(&headers, &body) {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());

    let fault = {
        let mut store = sandbox.store();
        store.count_token_request(get("code"), get("refresh_token"));
        store.take_fault()
    };
    match fault {
        Some(FaultKind::ServerError) => return server_error(),
        Some(FaultKind::Delay { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::Status {
            code,
            retry_after_secs,
        }) => return status_fault(code, retry_after_secs),
        Some(FaultKind::Malformed | FaultKind::EmptyAnswer) | None => {}
    }

    let result =
        authenticate(&sandbox, get("client_id"), get("client_secret")).and_then(|client_id| {
            let now = sandbox.now();
            let mut store = sandbox.store();
            match get("grant_type") {
                Some("authorization_code") => {
                    let code = get("code").ok_or_else(|| missing("code"))?;
                    let redirect_uri =
                        get("redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
                    store.exchange_code(&client_id, code, redirect_uri, get("code_verifier"), now)
                }
                Some("refresh_token") => {
                    let token = get("refresh_token").ok_or_else(|| missing("refresh_token"))?;
                    store.refresh(&client_id, token, now)
                }
                Some(_) => Err(TokenError::UnsupportedGrantType),
                None => Err(missing("grant_type")),
            }
        });
    // Durable before the answer: a client that stores the new refresh token must
    // find it known after a restart. Failing that, a transient error: the client
    // keeps what it has and retries (the leeway accepts the same token again).
    if let Err(e) = sandbox.flush().await {
        tracing::error!("the sandbox could not store its state: {e}");
        return server_error();
    }
    match (result, fault) {
        (Ok(_), Some(FaultKind::Malformed)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"access_token\": \"",
        )
            .into_response(),
        (Ok(_), Some(FaultKind::EmptyAnswer)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response()
        }
        (Ok(issued), _) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(issued),
        )
            .into_response(),
        (Err(e), _) => error_response(&e),
    }
}

/// `500 {"error":"server_error"}`: an injected fault, or the state not stored.
fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({"error": "server_error", "error_description": "Internal server error"})),
    )
        .into_response()
}

/// An injected status answer (`429 Too Many Requests` and friends).
fn status_fault(code: u16, retry_after_secs: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        Json(serde_json::json!({"error": "temporarily_unavailable", "error_description": status.canonical_reason().unwrap_or("")})),
    )
        .into_response();
    if let Some(secs) = retry_after_secs {
        if let Ok(value) = header::HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

fn missing(name: &str) -> TokenError {
    TokenError::BadRequest(format!("{name} is required"))
}

/// Checks the client id and secret from the body; answers the client id.
fn authenticate(
    sandbox: &Sandbox,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<String, TokenError> {
    match (client_id.and_then(|id| sandbox.client(id)), client_secret) {
        (Some(client), Some(secret)) if client.secret == secret => Ok(client.id),
        _ => Err(TokenError::BadClient),
    }
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| TokenError::BadRequest("the body is not valid JSON".into()))?;
        let object = value
            .as_object()
            .ok_or_else(|| TokenError::BadRequest("the body must be a JSON object".into()))?;
        Ok(object
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect())
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(url::form_urlencoded::parse(body).into_owned().collect())
    } else {
        Err(TokenError::BadRequest(
            "Content-Type must be application/json or application/x-www-form-urlencoded".into(),
        ))
    }
}

fn error_response(e: &TokenError) -> Response {
    let (status, body) = e.status_and_body();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}
