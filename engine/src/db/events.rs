//! Queries on `token_events`: the per-integration event log. Never a token.

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{FromRow, Sqlite, SqliteExecutor};

use domain::{EventKind, EventOutcome, IntegrationId, UnixTime};

use super::{Database, DatabaseError};

/// One entry of an integration's event log.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenEvent {
    pub id: i64,
    pub integration_id: Option<IntegrationId>,
    pub at: UnixTime,
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    #[sqlx(try_from = "String")]
    pub outcome: EventOutcome,
    pub http_status: Option<i64>,
    pub error_code: Option<String>,
    pub message: String,
    /// Who caused it (`user:<email>`, `scheduler`); `None` before sign-in existed.
    pub actor: Option<String>,
}

/// A new event, before it has an id.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub integration_id: Option<IntegrationId>,
    pub kind: EventKind,
    pub outcome: EventOutcome,
    pub http_status: Option<u16>,
    pub error_code: Option<&'a str>,
    pub message: &'a str,
    /// Who caused it, as [`domain::Actor::stored`] writes it.
    pub actor: Option<&'a str>,
}

/// Appends `event` at `now`, inside whatever transaction `executor` belongs to.
pub async fn insert_event<'e>(
    executor: impl SqliteExecutor<'e>,
    event: &NewEvent<'_>,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    bind_event(
        sqlx::query(
            "INSERT INTO token_events (integration_id, at, kind, outcome, http_status, error_code, message, actor)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        event,
        now,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Binds an event's eight columns, in `token_events` order (integration_id,
/// at, kind, outcome, http_status, error_code, message, actor), to the next eight `?`.
pub(super) fn bind_event<'q>(
    query: Query<'q, Sqlite, SqliteArguments<'q>>,
    event: &NewEvent<'q>,
    now: UnixTime,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    query
        .bind(event.integration_id)
        .bind(now)
        .bind(event.kind.as_str())
        .bind(event.outcome.as_str())
        .bind(event.http_status)
        .bind(event.error_code)
        .bind(event.message)
        .bind(event.actor)
}

impl Database {
    /// Runs `update` and, when it changed a row, logs `event`, in one
    /// transaction: a state change and the entry that says so land together or
    /// not at all. False when no row matched (nothing written).
    pub(super) async fn update_and_log<'q>(
        &self,
        update: Query<'q, Sqlite, SqliteArguments<'q>>,
        event: &NewEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        if update.execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        insert_event(&mut *tx, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Appends an event.
    pub async fn record_event(
        &self,
        event: &NewEvent<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        insert_event(self.pool(), event, now).await
    }

    /// An integration's events, newest first.
    pub async fn events_of(
        &self,
        integration_id: IntegrationId,
        limit: i64,
    ) -> Result<Vec<TokenEvent>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, integration_id, at, kind, outcome, http_status, error_code, message, actor
             FROM token_events WHERE integration_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(integration_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
