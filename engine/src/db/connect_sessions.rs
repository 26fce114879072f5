//! Queries on `connect_sessions`: the connect links a service makes for its
//! customers (only each link token's SHA-256 is kept), the flow a link starts
//! (`oauth_states.connect_session_id`), and what became of it.

use sqlx::FromRow;

use domain::{IntegrationId, UnixTime};

use super::oauth_states::{insert_oauth_state, NewOAuthState};
use super::users::{log_account_event, NewAccountEvent};
use super::{query, Database, DatabaseError};

/// A stored link (never its token).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ConnectSessionRow {
    pub id: i64,
    /// `None`: a webhook's reconnectUrl for an integration made on the dashboard.
    pub end_user_id: Option<String>,
    pub end_user_name: Option<String>,
    /// The tags it gives the integration, as stored (a JSON object).
    pub tags: String,
    /// The integration it re-authenticates, or the one it connected.
    pub integration_id: Option<IntegrationId>,
    pub return_url: Option<String>,
    /// The API key that made it (`None`: the product, for a webhook's `reconnectUrl`).
    pub api_key_id: Option<i64>,
    pub created_by: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// When its one use started the OAuth flow.
    pub opened_at: Option<UnixTime>,
    pub finished_at: Option<UnixTime>,
    /// `connected`, `reauthenticated`, `declined` or `failed`, once finished.
    pub outcome: Option<String>,
}

/// A link about to be stored.
pub(crate) struct NewConnectSession<'a> {
    pub token_hash: &'a [u8],
    pub end_user_id: Option<&'a str>,
    pub end_user_name: Option<&'a str>,
    /// A JSON object of strings.
    pub tags: &'a str,
    pub integration_id: Option<IntegrationId>,
    pub return_url: Option<&'a str>,
    pub api_key_id: Option<i64>,
    pub created_by: &'a str,
    pub expires_at: UnixTime,
}

const SELECT_SESSION: &str = "SELECT id, end_user_id, end_user_name, tags, integration_id,
    return_url, api_key_id, created_by, created_at, expires_at, opened_at, finished_at, outcome
    FROM connect_sessions";

impl Database {
    /// Stores a new link with its account-log entry; answers its id, or
    /// `None` (nothing stored) when its key made `per_minute` links in the
    /// last minute already: counted and written in one transaction
    /// serialised per key, so concurrent requests (any process) cannot all
    /// pass the count.
    pub(crate) async fn insert_connect_session(
        &self,
        new: &NewConnectSession<'_>,
        event: &NewAccountEvent<'_>,
        per_minute: i64,
        now: UnixTime,
    ) -> Result<Option<i64>, DatabaseError> {
        let lock = format!("connect-links:{}", new.api_key_id.unwrap_or(0));
        let mut tx = self.begin_locking(&[&lock]).await?;
        if let Some(key) = new.api_key_id {
            let made = query(
                "SELECT COUNT(*) AS made FROM connect_sessions WHERE api_key_id = $1 AND created_at >= $2",
            )
            .bind(key)
            .bind(now - 60)
            .scalar::<i64>(&mut tx)
            .await?;
            if made >= per_minute {
                return Ok(None);
            }
        }
        // Links are useless a day after they expire; sweep them as new ones
        // arrive (a finished one stays: the integration page lists it).
        query("DELETE FROM connect_sessions WHERE expires_at < $1 AND opened_at IS NULL")
            .bind(now - 86_400)
            .execute(&mut tx)
            .await?;
        let id = query(
            "INSERT INTO connect_sessions (token_hash, end_user_id, end_user_name, tags,
                integration_id, return_url, api_key_id, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(new.token_hash)
        .bind(new.end_user_id)
        .bind(new.end_user_name)
        .bind(new.tags)
        .bind(new.integration_id)
        .bind(new.return_url)
        .bind(new.api_key_id)
        .bind(new.created_by)
        .bind(now)
        .bind(new.expires_at)
        .scalar::<i64>(&mut tx)
        .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Stores a reconnect link for integration `id` (a webhook message's
    /// `reconnectUrl`): for its end user (none for one made on the
    /// dashboard), made by `webhook`; false when the integration is gone.
    pub(crate) async fn insert_reconnect_link(
        &self,
        id: IntegrationId,
        token_hash: &[u8],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let stored = query(
            "INSERT INTO connect_sessions (token_hash, end_user_id, end_user_name, tags,
                integration_id, created_by, created_at, expires_at)
             SELECT $1, end_user_id, end_user_name, '{}', id, 'webhook', $2, $3
             FROM integrations WHERE id = $4 AND disconnected_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .bind(id)
        .execute(self)
        .await?;
        Ok(stored == 1)
    }

    /// The link whose token hashes to `token_hash`, if any.
    pub(crate) async fn connect_session_by_hash(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<ConnectSessionRow>, DatabaseError> {
        Ok(query(format!("{SELECT_SESSION} WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self)
            .await?)
    }

    /// Link `id`.
    pub(crate) async fn connect_session(
        &self,
        id: i64,
    ) -> Result<Option<ConnectSessionRow>, DatabaseError> {
        Ok(query(format!("{SELECT_SESSION} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self)
            .await?)
    }

    /// Spends link `id` (its one use) and stores the OAuth state of the flow
    /// it starts, together; false, and nothing stored, when the link was used
    /// already or has expired by `now`.
    pub(crate) async fn open_connect_session(
        &self,
        id: i64,
        state: &NewOAuthState<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.begin().await?;
        let spent = query(
            "UPDATE connect_sessions SET opened_at = $1
             WHERE id = $2 AND opened_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(&mut tx)
        .await?;
        if spent != 1 {
            return Ok(false);
        }
        insert_oauth_state(&mut tx, state, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records what became of link `id`'s flow (and the integration it
    /// reached, if any), with its account-log entry.
    pub(crate) async fn finish_connect_session(
        &self,
        id: i64,
        outcome: &str,
        integration_id: Option<IntegrationId>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.begin().await?;
        query(
            "UPDATE connect_sessions SET finished_at = $1, outcome = $2,
                integration_id = coalesce($3, integration_id)
             WHERE id = $4",
        )
        .bind(now)
        .bind(outcome)
        .bind(integration_id)
        .bind(id)
        .execute(&mut tx)
        .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many links key `api_key_id` made at or after `since` (its rate limit).
    pub(crate) async fn connect_sessions_made_since(
        &self,
        api_key_id: i64,
        since: UnixTime,
    ) -> Result<i64, DatabaseError> {
        Ok(query(
            "SELECT COUNT(*) AS made FROM connect_sessions WHERE api_key_id = $1 AND created_at >= $2",
        )
        .bind(api_key_id)
        .bind(since)
        .scalar::<i64>(self)
        .await?)
    }

    /// The latest `limit` links made for integration `id` (to re-authenticate
    /// it, or that connected it), newest first.
    pub(crate) async fn connect_sessions_of(
        &self,
        id: IntegrationId,
        limit: i64,
    ) -> Result<Vec<ConnectSessionRow>, DatabaseError> {
        Ok(query(format!(
            "{SELECT_SESSION} WHERE integration_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(id)
        .bind(limit)
        .fetch_all(self)
        .await?)
    }
}
