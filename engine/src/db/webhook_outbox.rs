//! The webhook outbox: a change that must be announced writes its message,
//! and one delivery per endpoint that wants it, on the change's own
//! connection, inside the change's own transaction. A crash before the commit
//! loses the change and its message together; after it, both are durable and
//! the delivery worker finds the message however long the server was down.

use domain::{IntegrationId, UnixTime, WebhookEvent};

use super::integrations::find_integration_on;
use super::{query, DatabaseError, Query, Tx};
use crate::webhooks::{
    message_body, new_message_id, IntegrationViewFn, Notice, DELIVERY_WINDOW_SECS,
};

/// The rows a message needs: the message itself and one delivery per
/// endpoint whose filter admits it (`skipped` for a disabled endpoint, so
/// that it can be redelivered once enabled). Answers the message's id, or
/// `None` when no endpoint wants it (nothing is written then).
pub(crate) async fn enqueue(
    tx: &mut Tx,
    view: &IntegrationViewFn,
    integration_id: IntegrationId,
    notice: &Notice,
    now: UnixTime,
) -> Result<Option<String>, DatabaseError> {
    let (sqlite_wants, pg_wants) = wants(1);
    let wanted: bool = Query::dialect(
        format!("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE {sqlite_wants})"),
        format!("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE {pg_wants})"),
    )
    .bind(notice.event.as_str())
    .scalar::<bool>(&mut *tx)
    .await?;
    if !wanted {
        return Ok(None);
    }
    let Some(integration) = find_integration_on(tx.into(), integration_id).await? else {
        return Ok(None);
    };
    let body = message_body(notice, Some(view(&integration, now)), now);
    let id = new_message_id();
    query(
        "INSERT INTO webhook_messages (id, type, integration_id, created_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(notice.event.as_str())
    .bind(integration_id)
    .bind(now)
    .bind(&body)
    .execute(&mut *tx)
    .await?;
    let deliveries = |wants: &str| {
        format!(
            "INSERT INTO webhook_deliveries (message_id, endpoint_id, next_attempt_at, give_up_at, created_at,
                state, last_error)
             SELECT $1, id, $2, $3, $4,
                CASE WHEN enabled = 1 THEN 'pending' ELSE 'skipped' END,
                CASE WHEN enabled = 1 THEN NULL ELSE 'not sent: the endpoint was disabled' END
             FROM webhook_endpoints WHERE {wants}"
        )
    };
    let (sqlite_wants, pg_wants) = wants(5);
    Query::dialect(deliveries(&sqlite_wants), deliveries(&pg_wants))
        .bind(&id)
        .bind(now)
        .bind(now + DELIVERY_WINDOW_SECS)
        .bind(now)
        .bind(notice.event.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(Some(id))
}

/// A message for one endpoint alone, whatever its filter ("Send test event").
pub(crate) async fn enqueue_for_endpoint(
    tx: &mut Tx,
    endpoint_id: i64,
    notice: &Notice,
    now: UnixTime,
) -> Result<String, DatabaseError> {
    let body = message_body(notice, None, now);
    let id = new_message_id();
    query(
        "INSERT INTO webhook_messages (id, type, integration_id, created_at, body) VALUES ($1, $2, NULL, $3, $4)",
    )
    .bind(&id)
    .bind(notice.event.as_str())
    .bind(now)
    .bind(&body)
    .execute(&mut *tx)
    .await?;
    query(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, next_attempt_at, give_up_at, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(endpoint_id)
    .bind(now)
    .bind(now + DELIVERY_WINDOW_SECS)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// An endpoint's filter admits the event type bound to placeholder `$n`: an
/// empty filter admits everything; otherwise the type is one of its
/// space-separated words. (SQLite's text, PostgreSQL's: `instr` is `strpos` there.)
fn wants(n: usize) -> (String, String) {
    (
        format!("(event_types = '' OR instr(' ' || event_types || ' ', ' ' || ${n} || ' ') > 0)"),
        format!("(event_types = '' OR strpos(' ' || event_types || ' ', ' ' || ${n} || ' ') > 0)"),
    )
}

/// Whether `filter` (as stored) admits `event`: the same rule as [`wants`].
pub fn filter_admits(filter: &str, event: WebhookEvent) -> bool {
    filter.trim().is_empty() || filter.split_whitespace().any(|t| t == event.as_str())
}

impl super::Database {
    /// Connected, refreshable integrations whose consent ends within 30 days
    /// of `now` (and has not ended), that have not been warned at the
    /// threshold they have reached: (id, account name, consented at). The
    /// threshold is computed here, so rows already warned are never read again.
    pub async fn consents_to_warn(
        &self,
        now: UnixTime,
        limit: i64,
    ) -> Result<Vec<(IntegrationId, String, UnixTime)>, DatabaseError> {
        let lifetime = domain::time::CONSENT_LIFETIME_SECS;
        Ok(query(
            "SELECT id, account_name, consented_at FROM integrations
             WHERE consented_at <= CAST($1 AS BIGINT) - $2 + 30 * 86400 AND consented_at > CAST($1 AS BIGINT) - $2
               AND is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL
               AND (consent_warned_days IS NULL OR consent_warned_days >
                    CASE WHEN consented_at + $2 - $1 <= 86400 THEN 1
                         WHEN consented_at + $2 - $1 <= 7 * 86400 THEN 7 ELSE 30 END)
             ORDER BY consented_at LIMIT $3",
        )
        .bind(now)
        .bind(lifetime)
        .bind(limit)
        .fetch_all::<(IntegrationId, String, UnixTime)>(self)
        .await?)
    }

    /// Records that the consent of `id` was warned `days` ahead and enqueues
    /// the warning, in one transaction; false when it was warned already.
    pub(crate) async fn mark_consent_warned(
        &self,
        id: IntegrationId,
        days: i64,
        notice: &Notice,
        view: &IntegrationViewFn,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        // A single conditional UPDATE: of two concurrent twins (PostgreSQL),
        // the second waits for the first's row lock, re-reads the row and
        // changes nothing, so the warning is enqueued once.
        let mut tx = self.begin().await?;
        let marked = query(
            "UPDATE integrations SET consent_warned_days = $1
             WHERE id = $2 AND (consent_warned_days IS NULL OR consent_warned_days > $1)",
        )
        .bind(days)
        .bind(id)
        .execute(&mut tx)
        .await?
            == 1;
        if marked {
            enqueue(&mut tx, view, id, notice, now).await?;
            tx.commit().await?;
        }
        Ok(marked)
    }
}
