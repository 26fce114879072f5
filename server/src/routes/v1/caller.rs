//! Who is calling: the API key in `Authorization: Bearer <key>`. Missing,
//! malformed, unknown or revoked: `401`; without the scope its routes need:
//! `403`. A revoked key is refused on its very next request (every request
//! looks the key up). `crate::router` declares each route's scope once,
//! beside it ([`NeedsScope`], [`require`]); a handler reads the key that
//! passed as its [`Caller`].

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use domain::ApiScope;
use engine::service_api::ApiKey;
use engine::Engine;

use super::errors::ApiError;

/// The key a request presented, once [`require`] let it through.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKey);

/// What a route of the service API needs: a live key holding `scope`.
#[derive(Clone)]
pub struct NeedsScope {
    pub engine: Engine,
    pub scope: ApiScope,
}

/// The guard of a service API route: looks the presented key up, checks its
/// scope, and hands it to the handler as its [`Caller`].
pub async fn require(State(needs): State<NeedsScope>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let key = match authenticate(&parts, &needs.engine).await {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    if !key.may(needs.scope) {
        return ApiError::forbidden(needs.scope).into_response();
    }
    parts.extensions.insert(Caller(key));
    next.run(Request::from_parts(parts, body)).await
}

/// The live key in `Authorization: Bearer <key>`, else `401`.
async fn authenticate(parts: &Parts, engine: &Engine) -> Result<ApiKey, ApiError> {
    let presented = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .ok_or_else(ApiError::unauthenticated)?;
    match engine.authenticate_api_key(presented).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(ApiError::unauthenticated()),
        Err(e) => Err(e.into()),
    }
}

/// The key [`require`] let through; a handler outside a scoped route gets
/// none, so its callers are refused (`401`), never let through unchecked.
impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a service API route without its scope");
            ApiError::unauthenticated()
        })
    }
}
