//! The webhook outbox: a change that must be announced writes its message,
//! and one delivery per endpoint that wants it, on the change's own
//! connection, inside the change's own transaction. A crash before the commit
//! loses the change and its message together; after it, both are durable and
//! the delivery worker finds the message however long the server was down.

use sqlx::SqliteConnection;

use domain::{IntegrationId, UnixTime, WebhookEvent};

use super::integrations::find_integration_on;
use super::DatabaseError;
use crate::webhooks::{
    message_body, new_message_id, IntegrationViewFn, Notice, DELIVERY_WINDOW_SECS,
};

/// The rows a message needs: the message itself and one delivery per
/// endpoint whose filter admits it (`skipped` for a disabled endpoint, so
/// that it can be redelivered once enabled). Answers the message's id, or
/// `None` when no endpoint wants it (nothing is written then).
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    view: &IntegrationViewFn,
    integration_id: IntegrationId,
    notice: &Notice,
    now: UnixTime,
) -> Result<Option<String>, DatabaseError> {
    let wanted: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE {WANTS})"
    ))
    .bind(notice.event.as_str())
    .fetch_one(&mut *conn)
    .await?;
    if !wanted {
        return Ok(None);
    }
    let Some(integration) = find_integration_on(conn, integration_id).await? else {
        return Ok(None);
    };
    let body = message_body(notice, Some(view(&integration, now)), now);
    let id = new_message_id();
    sqlx::query(
        "INSERT INTO webhook_messages (id, type, integration_id, created_at, body) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(notice.event.as_str())
    .bind(integration_id)
    .bind(now)
    .bind(&body)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, next_attempt_at, give_up_at, created_at,
            state, last_error)
         SELECT ?, id, ?, ?, ?,
            CASE WHEN enabled = 1 THEN 'pending' ELSE 'skipped' END,
            CASE WHEN enabled = 1 THEN NULL ELSE 'not sent: the endpoint was disabled' END
         FROM webhook_endpoints WHERE {WANTS}"
    ))
    .bind(&id)
    .bind(now)
    .bind(now + DELIVERY_WINDOW_SECS)
    .bind(now)
    .bind(notice.event.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(Some(id))
}

/// A message for one endpoint alone, whatever its filter ("Send test event").
pub(crate) async fn enqueue_for_endpoint(
    conn: &mut SqliteConnection,
    endpoint_id: i64,
    notice: &Notice,
    now: UnixTime,
) -> Result<String, DatabaseError> {
    let body = message_body(notice, None, now);
    let id = new_message_id();
    sqlx::query(
        "INSERT INTO webhook_messages (id, type, integration_id, created_at, body) VALUES (?, ?, NULL, ?, ?)",
    )
    .bind(&id)
    .bind(notice.event.as_str())
    .bind(now)
    .bind(&body)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, next_attempt_at, give_up_at, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(endpoint_id)
    .bind(now)
    .bind(now + DELIVERY_WINDOW_SECS)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// An endpoint's filter admits the event type bound to the next `?`: an empty
/// filter admits everything; otherwise the type is one of its space-separated words.
const WANTS: &str = "(event_types = '' OR instr(' ' || event_types || ' ', ' ' || ? || ' ') > 0)";

/// Whether `filter` (as stored) admits `event`: the same rule as [`WANTS`].
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
        Ok(sqlx::query_as(
            "SELECT id, account_name, consented_at FROM integrations
             WHERE consented_at <= ?1 - ?2 + 30 * 86400 AND consented_at > ?1 - ?2
               AND is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL
               AND (consent_warned_days IS NULL OR consent_warned_days >
                    CASE WHEN consented_at + ?2 - ?1 <= 86400 THEN 1
                         WHEN consented_at + ?2 - ?1 <= 7 * 86400 THEN 7 ELSE 30 END)
             ORDER BY consented_at LIMIT ?3",
        )
        .bind(now)
        .bind(lifetime)
        .bind(limit)
        .fetch_all(self.pool())
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
        let mut tx = self.pool().begin().await?;
        let marked = sqlx::query(
            "UPDATE integrations SET consent_warned_days = ?
             WHERE id = ? AND (consent_warned_days IS NULL OR consent_warned_days > ?)",
        )
        .bind(days)
        .bind(id)
        .bind(days)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if marked {
            enqueue(&mut tx, view, id, notice, now).await?;
            tx.commit().await?;
        }
        Ok(marked)
    }
}
