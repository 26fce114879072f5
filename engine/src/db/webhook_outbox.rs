//! The webhook outbox: a change that must be announced writes its message,
//! and one delivery per endpoint that wants it, on the change's own
//! connection, inside the change's own transaction. A crash before the commit
//! loses the change and its message together; after it, both are durable and
//! the delivery worker finds the message however long the server was down.

use domain::webhook_message::DELIVERY_WINDOW_SECS;
use domain::{IntegrationId, Notice, UnixTime, WebhookEvent};
use rand::RngCore;

use super::{query, DatabaseError, Query, Tx};

/// Whether any endpoint's filter admits `event` (a disabled one included: its
/// delivery is written `skipped`, to be redelivered once enabled).
pub(super) async fn wanted(tx: &mut Tx, event: WebhookEvent) -> Result<bool, DatabaseError> {
    let (sqlite_wants, pg_wants) = wants(1);
    Query::dialect(
        format!("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE {sqlite_wants})"),
        format!("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE {pg_wants})"),
    )
    .bind(event.as_str())
    .scalar::<bool>(&mut *tx)
    .await
    .map_err(DatabaseError::from)
}

/// Writes a finished message `body` and one delivery per endpoint whose
/// filter admits `event` (`skipped` for a disabled endpoint, so that it can
/// be redelivered once enabled). Answers the message's id.
pub(super) async fn insert(
    tx: &mut Tx,
    integration_id: Option<IntegrationId>,
    event: WebhookEvent,
    body: &str,
    now: UnixTime,
) -> Result<String, DatabaseError> {
    let id = new_message_id();
    query(
        "INSERT INTO webhook_messages (id, type, integration_id, created_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(event.as_str())
    .bind(integration_id)
    .bind(now)
    .bind(body)
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
        .bind(event.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

/// A new message id (`msg_` and 128 random bits): the `webhook-id` a receiver
/// deduplicates on.
fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// A message for one endpoint alone, whatever its filter ("Send test event").
pub(crate) async fn enqueue_for_endpoint(
    tx: &mut Tx,
    endpoint_id: i64,
    notice: &Notice,
    now: UnixTime,
) -> Result<String, DatabaseError> {
    let body = notice.body(None, now);
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
pub(crate) fn filter_admits(filter: &str, event: WebhookEvent) -> bool {
    filter.trim().is_empty() || filter.split_whitespace().any(|t| t == event.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_msg_and_128_random_bits() {
        let a = new_message_id();
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, new_message_id());
    }

    #[test]
    fn a_filter_admits_its_words_or_everything_when_empty() {
        assert!(filter_admits("", WebhookEvent::Connected));
        assert!(filter_admits(
            " integration.connected  integration.recovered",
            WebhookEvent::Recovered
        ));
        assert!(!filter_admits(
            "integration.connected",
            WebhookEvent::Recovered
        ));
    }
}
