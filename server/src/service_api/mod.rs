//! The service API under `/v1` (DESIGN.md, "The service API"): the programs
//! that call Jira authenticate with an API key (`Authorization: Bearer jdk_…`)
//! and get integration views, fresh access tokens, or send their Jira calls
//! through the proxy. This product stays the one owner of every refresh.
//!
//! - [`caller`]: the key of a request, and the scope check.
//! - [`errors`]: the API's error answers (`{"error", "message"}` JSON).
//! - [`integrations`]: `GET /v1/integrations` (a bounded page at a time:
//!   `limit`, an opaque `cursor`), `GET /v1/integrations/{id}`.
//! - [`access_token`]: `POST /v1/integrations/{id}/access-token`.
//! - [`proxy`]: `/v1/integrations/{id}/proxy/{path}`, any method, to `JIRA_API_URL`.
//! - [`openapi`]: `GET /v1/openapi.json`, generated from the handlers (utoipa).

pub mod access_token;
pub mod caller;
pub mod errors;
pub mod integrations;
pub mod openapi;
pub mod proxy;

use axum::routing::{any, get, post};
use axum::Router;

use domain::IntegrationId;

use crate::application::AppState;
use errors::ApiError;

pub use proxy::ProxyClient;

/// The `/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/integrations", get(integrations::list))
        .route("/v1/integrations/{id}", get(integrations::one))
        .route(
            "/v1/integrations/{id}/access-token",
            post(access_token::hand_out),
        )
        .route("/v1/integrations/{id}/proxy/{*path}", any(proxy::forward))
        .route("/v1/{*rest}", any(unknown))
}

/// Any other `/v1` path: JSON, as programs expect.
async fn unknown() -> ApiError {
    ApiError::not_found("No such service API endpoint: see /v1/openapi.json.")
}

/// The integration id in a `/v1` path: a positive number, else `400`.
fn integration_id(text: &str) -> Result<IntegrationId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "\"{}\" is not an integration id: use the number from /v1/integrations.",
            text.chars().take(40).collect::<String>()
        ))
    })
}
