//! `GET /v1/rate-limits`: Jira's rate limits as this process sees them (the
//! quota pools as last seen, the holds running, and what each API key spent
//! and was held), for a key with `metrics:read`.

use axum::extract::State;
use axum::Json;

use domain::views::RateLimitsView;
use engine::Engine;

use super::caller::Caller;
use super::documented::NoValidKey;
use super::errors::ApiError;

/// Jira's rate limits: pools, holds and spend per key.
#[utoipa::path(
    get,
    path = "/v1/rate-limits",
    security(("api_key" = ["metrics:read"])),
    responses(
        (status = 200, description = "The pools as last seen (remaining points, reset, pacing), the running holds by scope, and each key's points, calls, held and queued calls since this process started", body = RateLimitsView),
        (status = 403, description = "The key lacks metrics:read, or is confined to tags (the figures name every tenant and key)"),
        NoValidKey,
    )
)]
pub async fn show(
    State(engine): State<Engine>,
    // The key that passed its scope (`crate::router`).
    caller: Caller,
) -> Result<Json<RateLimitsView>, ApiError> {
    if !caller.0.tags.0.is_empty() {
        return Err(ApiError::confined(
            "This key is confined to tags; the rate limits name every tenant and key. Use a key without tags.",
        ));
    }
    Ok(Json(engine.jira_rate_limits().await))
}
