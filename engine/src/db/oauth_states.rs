//! Queries on `oauth_states`: single-use, 10-minute states bound to a browser.

use sqlx::FromRow;

use domain::{IntegrationId, UnixTime};

use super::{query, Database, DatabaseError, On};
use crate::secret::Secret;

/// A state about to be stored by `/oauth/start`.
pub(crate) struct NewOAuthState<'a> {
    /// The `state` parameter sent to the provider.
    pub state: &'a str,
    /// Hash of the HttpOnly cookie the browser must present back.
    pub browser_binding: &'a str,
    pub pkce_verifier: &'a Secret,
    /// The integration being re-authenticated, if any.
    pub integration_id: Option<IntegrationId>,
    /// The connect link that started the flow, if one did.
    pub connect_session_id: Option<i64>,
    pub expires_at: UnixTime,
}

/// A stored state, as the callback needs it. (No `Debug`: it holds the PKCE verifier.)
#[derive(Clone, FromRow)]
pub(crate) struct StoredState {
    pub browser_binding: String,
    pub pkce_verifier: String,
    pub integration_id: Option<IntegrationId>,
    pub connect_session_id: Option<i64>,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// Stores a new state on `on` (the connect link's flow stores it in the
/// transaction that spends the link).
pub(super) async fn insert_oauth_state(
    on: impl Into<On<'_>>,
    new: &NewOAuthState<'_>,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    query(
        "INSERT INTO oauth_states (state, browser_binding, pkce_verifier, integration_id,
            connect_session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.state)
    .bind(new.browser_binding)
    .bind(new.pkce_verifier.expose())
    .bind(new.integration_id)
    .bind(new.connect_session_id)
    .bind(now)
    .bind(new.expires_at)
    .execute(on)
    .await?;
    Ok(())
}

impl Database {
    /// Stores a new state.
    pub(crate) async fn insert_oauth_state(
        &self,
        new: &NewOAuthState<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        // Old states are useless after expiry; sweep them as new ones arrive.
        query("DELETE FROM oauth_states WHERE expires_at < $1")
            .bind(now - 86_400)
            .execute(self)
            .await?;
        insert_oauth_state(self, new, now).await
    }

    /// The stored state, if any.
    pub(crate) async fn find_oauth_state(
        &self,
        state: &str,
    ) -> Result<Option<StoredState>, DatabaseError> {
        Ok(query(
            "SELECT browser_binding, pkce_verifier, integration_id, connect_session_id,
                expires_at, used_at
             FROM oauth_states WHERE state = $1",
        )
        .bind(state)
        .fetch_optional::<StoredState>(self)
        .await?)
    }

    /// Marks the state used; false if another request used it first.
    pub(crate) async fn consume_oauth_state(
        &self,
        state: &str,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let done =
            query("UPDATE oauth_states SET used_at = $1 WHERE state = $2 AND used_at IS NULL")
                .bind(now)
                .bind(state)
                .execute(self)
                .await?;
        Ok(done == 1)
    }
}
