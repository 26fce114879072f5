//! Who is calling: the API key in `Authorization: Bearer <key>`. Missing,
//! malformed, unknown or revoked: `401`. A revoked key is refused on its very
//! next request (every request looks the key up).

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use domain::ApiScope;
use engine::service_api::ApiKey;
use engine::Engine;

use super::errors::ApiError;

/// The key a request presented.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKey);

impl Caller {
    /// The key, if it holds `scope`; else `403`.
    pub fn require(&self, scope: ApiScope) -> Result<&ApiKey, ApiError> {
        if self.0.may(scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden(scope))
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Engine: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(ApiError::unauthenticated)?;
        let engine = Engine::from_ref(state);
        match engine.authenticate_api_key(presented).await {
            Ok(Some(key)) => Ok(Caller(key)),
            Ok(None) => Err(ApiError::unauthenticated()),
            Err(e) => Err(e.into()),
        }
    }
}
