//! `POST /v1/connect-sessions` (scope `connect`): a connect link for one of
//! the calling product's customers (DESIGN.md, "Connect links"). The rules
//! live in `engine::connect::links`; this file reads the JSON and answers
//! `201 {"id", "url", "expiresAt"}`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use domain::time::rfc3339;
use domain::Tags;
use engine::connect::links::{LinkRefused, LinkRequest};
use engine::Engine;

use super::caller::Caller;
use super::documented::NoValidKey;
use super::errors::ApiError;

/// What a service asks for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectSessionRequest {
    /// The customer's id in the calling product: 1 to 200 characters.
    pub end_user_id: String,
    /// The customer's name, shown on the link's page and the dashboard.
    pub display_name: Option<String>,
    /// At most 20; keys and values 1 to 64 characters. A key confined to
    /// tags adds its own.
    pub tags: Option<BTreeMap<String, String>>,
    /// Re-authenticate this integration instead of connecting a new one.
    pub integration_id: Option<i64>,
    /// Where the browser goes afterwards, with `?integrationId=N&result=..`:
    /// on an origin listed in `CONNECT_RETURN_ORIGINS`.
    pub return_url: Option<String>,
}

/// A link made: send the customer to `url`. It works once, until `expiresAt`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectSessionAnswer {
    pub id: i64,
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Makes a connect link.
#[utoipa::path(
    post,
    path = "/v1/connect-sessions",
    request_body(content = ConnectSessionRequest, content_type = "application/json"),
    security(("api_key" = ["connect"])),
    responses(
        (status = 201, description = "The link (never cached: `Cache-Control: no-store`)", body = ConnectSessionAnswer),
        (status = 400, description = "A malformed body, an endUserId or tags out of bounds, a returnUrl on an origin not in CONNECT_RETURN_ORIGINS, or tags a confined key may not set"),
        (status = 403, description = "The key lacks connect"),
        NoValidKey,
        (status = 404, description = "integrationId names no connected integration this key may see"),
        (status = 429, description = "This key made 60 links in the last minute: `Retry-After`"),
    )
)]
pub async fn create(
    State(engine): State<Engine>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ConnectSessionRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "The body must be JSON like {{\"endUserId\": \"customer-42\", \"displayName\": \"Acme\", \"tags\": {{\"tenant\": \"acme\"}}}}: {e}"
        ))
    })?;
    let integration_id = request
        .integration_id
        .map(|id| super::integration_id(&id.to_string()))
        .transpose()?;
    let made = engine
        .create_connect_link(
            &caller.0,
            LinkRequest {
                end_user_id: request.end_user_id,
                display_name: request.display_name,
                tags: Tags(request.tags.unwrap_or_default()),
                integration_id,
                return_url: request.return_url,
            },
        )
        .await
        .map_err(|e| match e {
            LinkRefused::BadInput(message) => ApiError::bad_request(message),
            LinkRefused::UnknownIntegration(_) => ApiError::not_found(e.to_string()),
            LinkRefused::TooMany => ApiError::too_many(e.to_string(), 60),
            LinkRefused::Engine(e) => e.into(),
        })?;
    let answer = ConnectSessionAnswer {
        id: made.id,
        url: made.url,
        expires_at: rfc3339(made.expires_at),
    };
    let mut response = (StatusCode::CREATED, Json(answer)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
