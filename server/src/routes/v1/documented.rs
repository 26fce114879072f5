//! Answers several `/v1` routes give alike, documented once for the OpenAPI
//! document (utoipa's `IntoResponses`): each route's own `responses(...)`
//! names these beside what is its alone.

use utoipa::IntoResponses;

/// Every route: the request carried no valid API key.
#[derive(IntoResponses)]
#[response(status = 401, description = "No valid API key")]
pub struct NoValidKey;

/// A route that needs integration `{id}` connected and its token usable:
/// the answers when it is not (`errors::ApiError` writes them).
#[derive(IntoResponses)]
pub enum IntegrationUnusable {
    #[response(
        status = 404,
        description = "No such connected integration (or one outside the key's tags)"
    )]
    NotFound,
    #[response(
        status = 409,
        description = "Only a person can repair it: `{error: requires_reauth, requiresReauth: true, message}`"
    )]
    RequiresReauth,
    #[response(
        status = 503,
        description = "A needed refresh failed transiently and the stored token has expired: `{error: provider_unavailable, retryAfterSecs, message}`"
    )]
    ProviderUnavailable,
}
