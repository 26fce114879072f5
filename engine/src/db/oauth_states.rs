//! Queries on `oauth_states`: single-use, 10-minute states bound to a browser.

use sqlx::FromRow;

use super::{Database, DatabaseError};

/// A stored state, as the callback needs it.
#[derive(Debug, Clone, FromRow)]
pub struct StoredState {
    pub browser_binding: String,
    pub pkce_verifier: String,
    pub integration_id: Option<i64>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Database {
    /// Stores a new state.
    pub async fn insert_oauth_state(
        &self,
        state: &str,
        browser_binding: &str,
        pkce_verifier: &str,
        integration_id: Option<i64>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), DatabaseError> {
        // Old states are useless after expiry; sweep them as new ones arrive.
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < ?")
            .bind(now - 86_400)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO oauth_states (state, browser_binding, pkce_verifier, integration_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(state)
        .bind(browser_binding)
        .bind(pkce_verifier)
        .bind(integration_id)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The stored state, if any.
    pub async fn find_oauth_state(
        &self,
        state: &str,
    ) -> Result<Option<StoredState>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT browser_binding, pkce_verifier, integration_id, expires_at, used_at
             FROM oauth_states WHERE state = ?",
        )
        .bind(state)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Marks the state used; false if another request used it first.
    pub async fn consume_oauth_state(&self, state: &str, now: i64) -> Result<bool, DatabaseError> {
        let done =
            sqlx::query("UPDATE oauth_states SET used_at = ? WHERE state = ? AND used_at IS NULL")
                .bind(now)
                .bind(state)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
