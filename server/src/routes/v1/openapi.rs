//! `GET /v1/openapi.json`: the service API described by utoipa from the
//! handlers' own annotations and types (nothing written by hand here but
//! the list of them). Open: it holds no data.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{access_token, connect_sessions, integrations, proxy, rate_limits};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jira Integrations service API",
        description = "Fresh Jira access tokens and proxied Jira calls for the programs that \
                       call Jira: this product is the one owner of every refresh. Send an API \
                       key (Settings, admins) as `Authorization: Bearer <key>`."
    ),
    paths(
        integrations::list,
        integrations::one,
        access_token::hand_out,
        proxy::forward,
        connect_sessions::create,
        rate_limits::show,
    ),
    components(schemas(
        integrations::IntegrationList,
        access_token::AccessTokenRequest,
        access_token::AccessTokenAnswer,
        connect_sessions::ConnectSessionRequest,
        connect_sessions::ConnectSessionAnswer,
    )),
    modifiers(&ApiKeyAuth)
)]
pub struct ServiceApi;

/// The `api_key` security scheme the paths name: a bearer key.
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from Settings (jdk_…)"))
                    .build(),
            ),
        );
    }
}

/// The document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ServiceApi::openapi())
}
