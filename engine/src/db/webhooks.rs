//! Queries on the webhook tables: endpoints, deliveries and their attempts,
//! and the administrators' webhook settings. (The outbox's writes, made inside
//! other tables' transactions, are in `webhook_outbox.rs`.)

use sqlx::FromRow;

use domain::UnixTime;

use super::{Database, DatabaseError};

/// An endpoint as stored (its secret still sealed).
#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub event_types: String,
    pub enabled: bool,
    pub from_environment: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<UnixTime>,
    pub created_by: Option<String>,
    pub created_at: UnixTime,
    /// Deliveries of this endpoint still waiting for a success.
    pub pending: i64,
    pub delivered: i64,
    /// Failed or skipped (sent while it was disabled): not received.
    pub failed: i64,
}

/// A delivery as the settings page lists it.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub message_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<UnixTime>,
    pub created_at: UnixTime,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub at: UnixTime,
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// A delivery taken by a worker for one attempt, with what it needs to send it.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub message_id: String,
    pub attempts: i64,
    pub give_up_at: UnixTime,
    /// Until when this worker holds it: its outcome is stored only while
    /// the delivery still carries this lease.
    pub lease_until: UnixTime,
    pub body: String,
    pub endpoint_id: i64,
    pub url: String,
    pub secret: Vec<u8>,
    pub from_environment: bool,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub duration_ms: i64,
    /// What went wrong, when the attempt failed (never a secret).
    pub error: Option<String>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The failure was the receiver's as a whole (no answer, a 5xx, a 429),
    /// not this message's (another 4xx).
    pub fn endpoint_down(&self) -> bool {
        self.status.is_none_or(|s| s >= 500 || s == 429)
    }
}

/// What recording a failed attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AfterFailure {
    /// The delivery's day is over: no more attempts.
    pub gave_up: bool,
    /// The endpoint had failed for a day and is now disabled.
    pub endpoint_disabled: bool,
}

const SELECT_ENDPOINT: &str = "SELECT e.id, e.url, e.event_types, e.enabled, e.from_environment,
        e.disabled_reason, e.failing_since, e.created_by, e.created_at,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending') AS pending,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'delivered') AS delivered,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('failed', 'skipped')) AS failed
     FROM webhook_endpoints e";

impl Database {
    /// Every endpoint, the environment's first, then oldest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<EndpointRow>, DatabaseError> {
        Ok(sqlx::query_as(&format!(
            "{SELECT_ENDPOINT} ORDER BY e.from_environment DESC, e.id"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// One endpoint.
    pub async fn webhook_endpoint(&self, id: i64) -> Result<Option<EndpointRow>, DatabaseError> {
        Ok(sqlx::query_as(&format!("{SELECT_ENDPOINT} WHERE e.id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Adds an endpoint; `seal` turns its new id into the sealed secret
    /// (the ciphertext is bound to the id). Its id.
    pub async fn insert_webhook_endpoint(
        &self,
        url: &str,
        event_types: &str,
        from_environment: bool,
        created_by: Option<&str>,
        seal: impl FnOnce(i64) -> Result<Vec<u8>, crate::vault::VaultError>,
        now: UnixTime,
    ) -> Result<Result<i64, crate::vault::VaultError>, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_endpoints (url, secret, event_types, from_environment, created_by, created_at, updated_at)
             VALUES (?, x'', ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(url)
        .bind(event_types)
        .bind(from_environment)
        .bind(created_by)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let sealed = match seal(id) {
            Ok(sealed) => sealed,
            Err(e) => return Ok(Err(e)),
        };
        sqlx::query("UPDATE webhook_endpoints SET secret = ? WHERE id = ?")
            .bind(sealed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// The endpoint from the environment: its id, URL and sealed secret.
    pub async fn environment_endpoint(
        &self,
    ) -> Result<Option<(i64, String, Vec<u8>)>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, url, secret FROM webhook_endpoints WHERE from_environment = 1",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// Points the environment's endpoint at `url` with the sealed `secret`;
    /// a changed URL starts afresh (enabled, no failure streak).
    pub async fn update_environment_endpoint(
        &self,
        id: i64,
        url: &str,
        secret: &[u8],
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        sqlx::query(
            "UPDATE webhook_endpoints SET secret = ?,
                enabled = CASE WHEN url = ? THEN enabled ELSE 1 END,
                disabled_reason = CASE WHEN url = ? THEN disabled_reason ELSE NULL END,
                failing_since = CASE WHEN url = ? THEN failing_since ELSE NULL END,
                url = ?, updated_at = ?
             WHERE id = ?",
        )
        .bind(secret)
        .bind(url)
        .bind(url)
        .bind(url)
        .bind(url)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Enables or disables an endpoint by hand (enabling forgets the failures).
    pub async fn set_webhook_endpoint_enabled(
        &self,
        id: i64,
        enabled: bool,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        Ok(sqlx::query(
            "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = NULL,
                failing_since = CASE WHEN ? THEN NULL ELSE failing_since END, updated_at = ?
             WHERE id = ?",
        )
        .bind(enabled)
        .bind(enabled)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Deletes an endpoint with its deliveries and attempts (messages stay
    /// for the other endpoints). `from_environment` rows are the environment's
    /// to remove: false for them and for unknown ids.
    pub async fn delete_webhook_endpoint(&self, id: i64, any: bool) -> Result<bool, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM webhook_endpoints WHERE id = ? AND (? OR from_environment = 0)",
        )
        .bind(id)
        .bind(any)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "DELETE FROM webhook_messages WHERE NOT EXISTS
                (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Whether endpoints added in the UI may be on private addresses.
    pub async fn webhooks_allow_private(&self) -> Result<bool, DatabaseError> {
        Ok(
            sqlx::query_scalar("SELECT allow_private_addresses FROM webhook_settings WHERE id = 1")
                .fetch_optional(self.pool())
                .await?
                .unwrap_or(false),
        )
    }

    pub async fn set_webhooks_allow_private(&self, allow: bool) -> Result<(), DatabaseError> {
        sqlx::query("UPDATE webhook_settings SET allow_private_addresses = ? WHERE id = 1")
            .bind(allow)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// An endpoint's latest deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        endpoint_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.endpoint_id, d.message_id, m.type AS event_type, d.state, d.attempts,
                d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             WHERE d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?",
        )
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The attempts of deliveries `ids`, newest first.
    pub async fn webhook_attempts(&self, ids: &[i64]) -> Result<Vec<AttemptRow>, DatabaseError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT delivery_id, at, status, duration_ms, error FROM webhook_attempts
             WHERE delivery_id IN ({marks}) ORDER BY id DESC"
        );
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Sends a finished delivery (delivered, failed, skipped) again: pending
    /// now, with a new day and a new backoff. False when there is no such
    /// finished delivery (a pending one is being tried already) or its
    /// endpoint is disabled.
    pub async fn redeliver_webhook(
        &self,
        id: i64,
        now: UnixTime,
        window: i64,
    ) -> Result<bool, DatabaseError> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, give_up_at = ?,
                attempts = 0
             WHERE id = ? AND state != 'pending'
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1)",
        )
        .bind(now)
        .bind(now + window)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Takes up to `limit` due deliveries of enabled endpoints for one attempt
    /// each, oldest first, so that no endpoint has more than `per_endpoint`
    /// attempts in flight counting the ones `in_flight` already (endpoint id,
    /// attempts running): their next attempt moves to `lease_until` first, so
    /// another worker skips them, and a worker that dies mid-attempt leaves
    /// them to be retried then.
    pub async fn claim_webhook_deliveries(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: i64,
        per_endpoint: i64,
        in_flight: &[(i64, i64)],
    ) -> Result<Vec<DueDelivery>, DatabaseError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let running: serde_json::Map<String, serde_json::Value> = in_flight
            .iter()
            .map(|(endpoint, n)| (endpoint.to_string(), serde_json::Value::from(*n)))
            .collect();
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET next_attempt_at = ?1
             WHERE id IN (SELECT due.id FROM (
                 SELECT d.id, d.endpoint_id, d.next_attempt_at,
                     ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS nth
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.state = 'pending' AND d.next_attempt_at <= ?2 AND e.enabled = 1) AS due
               LEFT JOIN json_each(?3) AS running ON running.key = CAST(due.endpoint_id AS TEXT)
               WHERE due.nth <= ?4 - COALESCE(running.value, 0)
               ORDER BY due.next_attempt_at, due.id LIMIT ?5)
             RETURNING id",
        )
        .bind(lease_until)
        .bind(now)
        .bind(serde_json::Value::Object(running).to_string())
        .bind(per_endpoint)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut due = Vec::with_capacity(ids.len());
        for id in ids {
            let row: DueDelivery = sqlx::query_as(
                "SELECT d.id, d.message_id, d.attempts, d.give_up_at, d.next_attempt_at AS lease_until,
                    m.body, e.id AS endpoint_id, e.url, e.secret, e.from_environment
                 FROM webhook_deliveries d
                 JOIN webhook_messages m ON m.id = d.message_id
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.id = ?",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            due.push(row);
        }
        tx.commit().await?;
        Ok(due)
    }

    /// Records a successful attempt: delivered, and the endpoint is healthy.
    pub async fn record_webhook_success(
        &self,
        delivery: &DueDelivery,
        attempt: &AttemptResult,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.pool().begin().await?;
        insert_attempt(&mut tx, delivery.id, attempt, now).await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1,
                last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ?",
        )
        .bind(attempt.status)
        .bind(now)
        .bind(delivery.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?")
            .bind(delivery.endpoint_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, unless that is past the
    /// delivery's day (then it gave up); an endpoint failing since
    /// `disable_failing_since` or earlier is disabled with `disabled_reason`,
    /// and its waiting deliveries end.
    pub async fn record_webhook_failure(
        &self,
        delivery: &DueDelivery,
        attempt: &AttemptResult,
        retry_at: UnixTime,
        disable_failing_since: UnixTime,
        disabled_reason: &str,
        now: UnixTime,
    ) -> Result<AfterFailure, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        insert_attempt(&mut tx, delivery.id, attempt, now).await?;
        let gave_up = retry_at > delivery.give_up_at;
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?,
                state = CASE WHEN ? THEN 'failed' ELSE 'pending' END, next_attempt_at = ?
             WHERE id = ? AND state = 'pending' AND next_attempt_at = ?",
        )
        .bind(attempt.status)
        .bind(&attempt.error)
        .bind(gave_up)
        .bind(retry_at)
        .bind(delivery.id)
        .bind(delivery.lease_until)
        .execute(&mut *tx)
        .await?;
        if attempt.endpoint_down() {
            // The receiver itself is down (no answer, 5xx, 429): its other
            // waiting messages wait with this one instead of each finding out.
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = ?
                 WHERE endpoint_id = ? AND state = 'pending' AND id != ? AND next_attempt_at <= ?",
            )
            .bind(retry_at)
            .bind(delivery.endpoint_id)
            .bind(delivery.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
        )
        .bind(now)
        .bind(delivery.endpoint_id)
        .execute(&mut *tx)
        .await?;
        let disabled = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ?
             WHERE id = ? AND enabled = 1 AND failing_since <= ?",
        )
        .bind(disabled_reason)
        .bind(now)
        .bind(delivery.endpoint_id)
        .bind(disable_failing_since)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if disabled {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'failed',
                    last_error = COALESCE(last_error || ' ', '') || '(endpoint disabled)'
                 WHERE endpoint_id = ? AND state = 'pending'",
            )
            .bind(delivery.endpoint_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(AfterFailure {
            gave_up: gave_up || disabled,
            endpoint_disabled: disabled,
        })
    }

    /// Deletes deliveries finished before `before` (and their attempts), a
    /// thousand per transaction so that no refresh waits long for the write
    /// lock, then every message no delivery refers to. How many deliveries went.
    pub async fn prune_webhook_deliveries(&self, before: UnixTime) -> Result<u64, DatabaseError> {
        let mut gone = 0;
        loop {
            let batch = sqlx::query(
                "DELETE FROM webhook_deliveries WHERE id IN
                    (SELECT id FROM webhook_deliveries WHERE state != 'pending' AND created_at < ? LIMIT 1000)",
            )
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected();
            gone += batch;
            if batch < 1000 {
                break;
            }
        }
        loop {
            let batch = sqlx::query(
                "DELETE FROM webhook_messages WHERE id IN (SELECT id FROM webhook_messages m WHERE NOT EXISTS
                    (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id) LIMIT 1000)",
            )
            .execute(self.pool())
            .await?
            .rows_affected();
            if batch < 1000 {
                break;
            }
        }
        Ok(gone)
    }

    /// Sends again every delivery of endpoint `id` that did not arrive
    /// (failed or skipped); how many.
    pub async fn redeliver_undelivered(
        &self,
        id: i64,
        now: UnixTime,
        window: i64,
    ) -> Result<u64, DatabaseError> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, give_up_at = ?, attempts = 0
             WHERE endpoint_id = ? AND state IN ('failed', 'skipped')
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1)",
        )
        .bind(now)
        .bind(now + window)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// The state of delivery `id`, if it exists.
    pub async fn webhook_delivery_state(&self, id: i64) -> Result<Option<String>, DatabaseError> {
        Ok(
            sqlx::query_scalar("SELECT state FROM webhook_deliveries WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Writes a test message for one endpoint; its id.
    pub async fn enqueue_test_webhook(
        &self,
        endpoint_id: i64,
        notice: &crate::webhooks::Notice,
        now: UnixTime,
    ) -> Result<String, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let id =
            super::webhook_outbox::enqueue_for_endpoint(&mut tx, endpoint_id, notice, now).await?;
        tx.commit().await?;
        Ok(id)
    }
}

async fn insert_attempt(
    conn: &mut sqlx::SqliteConnection,
    delivery_id: i64,
    attempt: &AttemptResult,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, at, status, duration_ms, error) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(delivery_id)
    .bind(now)
    .bind(attempt.status)
    .bind(attempt.duration_ms)
    .bind(&attempt.error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
