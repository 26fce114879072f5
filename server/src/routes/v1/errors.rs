//! The service API's error answers: a status and `{"error": code, "message"}`
//! (plus `requiresReauth` or `retryAfterSecs` where DESIGN.md says so).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use engine::service_api::HandoutError;
use engine::EngineError;

/// An error answer of the service API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": error, "message": message.into() }),
            retry_after_secs: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Send an API key: Authorization: Bearer <key>. An admin creates keys in Settings.",
        )
    }

    pub fn forbidden(scope: domain::ApiScope) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("This API key lacks the scope {scope}: an admin can create a key that has it."),
        )
    }

    /// The key is confined to tags, and the answer would show more.
    pub fn confined(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The proxied path names a site the integration does not reach.
    pub fn wrong_site(cloud_id: &str, id: domain::IntegrationId) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "wrong_site",
            format!(
                "Site {} is not one of integration {id}'s sites: use a cloudId from its sites.",
                cloud_id.chars().take(64).collect::<String>()
            ),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// `429` with `Retry-After`.
    pub fn too_many(message: impl Into<String>, retry_after_secs: i64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        error.body["retryAfterSecs"] = json!(retry_after_secs);
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// Jira's rate limit holds the call's scope: `429` with `Retry-After`
    /// and `{"error": "rate_limited", "reason", "scope", "retryAfterSecs"}`,
    /// answered without calling Jira.
    pub fn rate_limited(held: &engine::jira_limits::Held) -> Self {
        let reason = if held.reason.is_empty() {
            "unspecified"
        } else {
            held.reason.as_str()
        };
        let message = match held.scope {
            engine::jira_limits::Scope::Key => format!(
                "This key's calls cost its hourly Jira points budget (set by an admin in Settings) over the last hour; the call was not sent. Retry after {} s, when enough of that spending is an hour old.",
                held.retry_after_secs
            ),
            _ => format!(
                "Jira's rate limit ({reason}) holds this call's {} for {} s more; the call was not sent. Retry after that, or send Prefer: wait=N (N up to 30) to wait in line.",
                held.scope.as_str(),
                held.retry_after_secs
            ),
        };
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        error.body["reason"] = json!(reason);
        error.body["scope"] = json!(held.scope.as_str());
        error.body["retryAfterSecs"] = json!(held.retry_after_secs);
        error.retry_after_secs = Some(held.retry_after_secs);
        error
    }

    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    pub fn upstream_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream_unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(_) => Self::not_found(e.to_string()),
            EngineError::Storage(_) => Self::internal(e.to_string()),
        }
    }
}

impl From<HandoutError> for ApiError {
    fn from(e: HandoutError) -> Self {
        match e {
            HandoutError::NotFound(_) => Self::not_found(e.to_string()),
            HandoutError::RequiresReauth(message) => Self {
                status: StatusCode::CONFLICT,
                body: json!({
                    "error": "requires_reauth",
                    "requiresReauth": true,
                    "message": message,
                }),
                retry_after_secs: None,
            },
            HandoutError::Unavailable {
                retry_after_secs,
                message,
            } => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                body: json!({
                    "error": "provider_unavailable",
                    "retryAfterSecs": retry_after_secs,
                    "message": message,
                }),
                retry_after_secs: Some(retry_after_secs),
            },
            HandoutError::Vault => Self::internal(e.to_string()),
            HandoutError::Engine(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
