//! `POST /v1/integrations/{id}/access-token`, optional JSON
//! `{"minValiditySecs": N}` (default 60, at most 1800): a token that lives at
//! least N more seconds, refreshed first when needed (joining any refresh in
//! flight), for a key with `tokens:read`. Each hand-out is an event naming the key.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use domain::views::SiteView;
use engine::service_api::handout::{DEFAULT_MIN_VALIDITY_SECS, MAX_MIN_VALIDITY_SECS};
use engine::Engine;

use super::caller::Caller;
use super::documented::{IntegrationUnusable, NoValidKey};
use super::errors::ApiError;

/// What the caller may ask.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessTokenRequest {
    /// The token must live at least this many more seconds (0 to 1800, default 60).
    pub min_validity_secs: Option<i64>,
}

/// A fresh access token. Send it to Jira as `Authorization: Bearer <accessToken>`
/// on `{JIRA_API_URL}/ex/jira/{cloudId}/...`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenAnswer {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// RFC 3339.
    pub expires_at: String,
    pub scopes: Vec<String>,
    pub sites: Vec<SiteView>,
}

/// Hands out integration `id`'s access token.
#[utoipa::path(
    post,
    path = "/v1/integrations/{id}/access-token",
    params(("id" = i64, Path, description = "The integration's id")),
    request_body(content = Option<AccessTokenRequest>, content_type = "application/json"),
    security(("api_key" = ["tokens:read"])),
    responses(
        (status = 200, description = "The token (never cached: `Cache-Control: no-store`)", body = AccessTokenAnswer),
        (status = 400, description = "A malformed body or minValiditySecs out of range"),
        (status = 403, description = "The key lacks tokens:read"),
        NoValidKey,
        IntegrationUnusable,
    )
)]
pub async fn hand_out(
    State(engine): State<Engine>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = &caller.0;
    let id = super::integration_id(&id)?;
    let request: AccessTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AccessTokenRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "The body must be JSON like {{\"minValiditySecs\": 300}}: {e}"
            ))
        })?
    };
    let min_validity = request
        .min_validity_secs
        .unwrap_or(DEFAULT_MIN_VALIDITY_SECS);
    if !(0..=MAX_MIN_VALIDITY_SECS).contains(&min_validity) {
        return Err(ApiError::bad_request(format!(
            "minValiditySecs must be between 0 and {MAX_MIN_VALIDITY_SECS}."
        )));
    }
    let token = engine.hand_out_access_token(id, min_validity, key).await?;
    let view = engine.integration_view(token.integration);
    let answer = AccessTokenAnswer {
        access_token: token.token.expose().to_owned(),
        token_type: "Bearer",
        expires_at: view.expires_at,
        scopes: view.scopes,
        sites: view.sites,
    };
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
