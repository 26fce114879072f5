//! `GET /v1/integrations` and `GET /v1/integrations/{id}`: the same views the
//! dashboard shows (never a token), for a key with `integrations:read`.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use app::model::IntegrationView;
use domain::ApiScope;
use engine::Engine;

use super::caller::Caller;
use super::errors::ApiError;

/// Every connected integration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntegrationList {
    pub items: Vec<IntegrationView>,
}

/// Every connected integration, oldest first.
#[utoipa::path(
    get,
    path = "/v1/integrations",
    security(("api_key" = ["integrations:read"])),
    responses(
        (status = 200, description = "Every connected integration", body = IntegrationList),
        (status = 401, description = "No valid API key"),
        (status = 403, description = "The key lacks integrations:read"),
    )
)]
pub async fn list(
    State(engine): State<Engine>,
    caller: Caller,
) -> Result<Json<IntegrationList>, ApiError> {
    caller.require(ApiScope::IntegrationsRead)?;
    let items = engine
        .integrations()
        .await?
        .into_iter()
        .map(|i| app::api::integration_view(&engine, i))
        .collect();
    Ok(Json(IntegrationList { items }))
}

/// One connected integration.
#[utoipa::path(
    get,
    path = "/v1/integrations/{id}",
    params(("id" = i64, Path, description = "The integration's id")),
    security(("api_key" = ["integrations:read"])),
    responses(
        (status = 200, description = "The integration", body = IntegrationView),
        (status = 401, description = "No valid API key"),
        (status = 403, description = "The key lacks integrations:read"),
        (status = 404, description = "No such connected integration"),
    )
)]
pub async fn one(
    State(engine): State<Engine>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    caller.require(ApiScope::IntegrationsRead)?;
    let integration = engine.integration(super::integration_id(&id)?).await?;
    Ok(Json(app::api::integration_view(&engine, integration)))
}
