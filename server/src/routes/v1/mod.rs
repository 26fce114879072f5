//! The service API under `/v1` (DESIGN.md, "The service API"): the programs
//! that call Jira authenticate with an API key (`Authorization: Bearer jdk_…`)
//! and get integration views, fresh access tokens, or send their Jira calls
//! through the proxy. This product stays the one owner of every refresh.
//!
//! - [`caller`]: the key of a request, and the scope check.
//! - [`errors`]: the API's error answers (`{"error", "message"}` JSON);
//!   [`documented`]: the answers several routes document alike.
//! - [`integrations`]: `GET /v1/integrations` (a bounded page at a time:
//!   `limit`, an opaque `cursor`), `GET /v1/integrations/{id}`.
//! - [`access_token`]: `POST /v1/integrations/{id}/access-token`.
//! - [`connect_sessions`]: `POST /v1/connect-sessions`, connect links.
//! - [`proxy`]: `/v1/integrations/{id}/proxy/{path}`, any method, to `JIRA_API_URL`.
//! - [`rate_limits`]: `GET /v1/rate-limits`, Jira's rate limits as seen here.
//! - [`openapi`]: `GET /v1/openapi.json`, generated from the handlers (utoipa).

pub mod access_token;
pub mod caller;
pub mod connect_sessions;
pub mod documented;
pub mod errors;
pub mod integrations;
pub mod openapi;
pub mod proxy;
pub mod rate_limits;

use domain::IntegrationId;

use errors::ApiError;

pub use proxy::ProxyClient;

/// Any other `/v1` path: JSON, as programs expect.
pub async fn unknown() -> ApiError {
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
