//! Queries on `token_events`: the per-integration event log. Never a token.

use sqlx::FromRow;

use domain::{EventKind, EventOutcome, IntegrationId, UnixTime};

use super::announce::{self, Announce, AnnounceIf};
use super::{query, Database, DatabaseError, On, Query};

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

/// Appends `event` at `now`, on `on` (a transaction, or the database).
pub(crate) async fn insert_event<'a>(
    on: impl Into<On<'a>>,
    event: &NewEvent<'_>,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    bind_event(
        query(
            "INSERT INTO token_events (integration_id, at, kind, outcome, http_status, error_code, message, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ),
        event,
        now,
    )
    .execute(on)
    .await?;
    Ok(())
}

/// Binds an event's eight columns, in `token_events` order (integration_id,
/// at, kind, outcome, http_status, error_code, message, actor), to the next
/// eight placeholders.
pub(super) fn bind_event(query: Query, event: &NewEvent<'_>, now: UnixTime) -> Query {
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
    /// Runs `update` and, when it changed a row, logs `event` and (when its
    /// condition holds) enqueues `announce`'s webhook message, in one
    /// transaction: a state change, the entry that says so and its
    /// announcement land together or not at all. False when no row matched
    /// (nothing written).
    pub(super) async fn update_and_log(
        &self,
        update: Query,
        event: &NewEvent<'_>,
        now: UnixTime,
        announce: Option<&Announce>,
    ) -> Result<bool, DatabaseError> {
        // IMMEDIATE: the write lock is taken before the first read, so a
        // concurrent writer makes this wait (busy timeout) instead of failing
        // with "database is locked" when a read-then-write upgrade collides.
        // On PostgreSQL the read locks the row instead, which keeps "was it
        // active?" true until the update.
        let mut tx = self.begin_locking(&[]).await?;
        let id = event.integration_id;
        let was_active = match (announce.map(|a| a.when), id) {
            (Some(AnnounceIf::WasActive), Some(id)) => Query::dialect(
                "SELECT (is_active = 1) AS is_active FROM integrations WHERE id = $1",
                "SELECT (is_active = 1) AS is_active FROM integrations WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .scalar_optional::<bool>(&mut tx)
            .await?
            .unwrap_or(false),
            _ => true,
        };
        if update.execute(&mut tx).await? == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, event, now).await?;
        if let (Some(announce), Some(id)) = (announce, id) {
            let due = match announce.when {
                AnnounceIf::Always => true,
                AnnounceIf::WasActive => was_active,
                AnnounceIf::FailingFor(secs) => {
                    query(
                        "UPDATE integrations SET failing_announced = 1
                         WHERE id = $1 AND failing_announced = 0 AND failing_since <= $2",
                    )
                    .bind(id)
                    .bind(now - secs)
                    .execute(&mut tx)
                    .await?
                        == 1
                }
            };
            if due {
                announce::enqueue(&mut tx, id, announce, now).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Appends an event.
    pub(crate) async fn record_event(
        &self,
        event: &NewEvent<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        insert_event(self, event, now).await
    }

    /// An integration's events, newest first.
    pub(crate) async fn events_of(
        &self,
        integration_id: IntegrationId,
        limit: i64,
    ) -> Result<Vec<TokenEvent>, DatabaseError> {
        Ok(query(
            "SELECT id, integration_id, at, kind, outcome, http_status, error_code, message, actor
             FROM token_events WHERE integration_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(integration_id)
        .bind(limit)
        .fetch_all(self)
        .await?)
    }
}
