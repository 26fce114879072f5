//! Queries on the webhook tables: endpoints, deliveries and their attempts,
//! and the administrators' webhook settings. (The outbox's writes, made inside
//! other tables' transactions, are in `webhook_outbox.rs`.)
//!
//! Every change an administrator (or the environment, at start-up) makes to
//! the endpoints or the settings writes its account-log entry in the same
//! transaction: the change and the entry naming who made it commit together,
//! and a change that does not happen logs nothing.

use sqlx::FromRow;

use domain::UnixTime;

use super::users::{change_and_log, log_account_event, NewAccountEvent};
use super::{query, Database, DatabaseError, Query, Tx};

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
    /// The integration the message is about, if any.
    pub integration_id: Option<domain::IntegrationId>,
    pub endpoint_id: i64,
    pub url: String,
    pub secret: Vec<u8>,
    pub from_environment: bool,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptResult {
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub duration_ms: i64,
    /// What went wrong, when the attempt failed (never a secret).
    pub error: Option<String>,
}

impl AttemptResult {
    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The failure was the receiver's as a whole (no answer, a 5xx, a 429),
    /// not this message's (another 4xx).
    pub(crate) fn endpoint_down(&self) -> bool {
        self.status.is_none_or(|s| s >= 500 || s == 429)
    }
}

/// What recording a failed attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AfterFailure {
    /// The delivery's day is over: no more attempts.
    pub gave_up: bool,
    /// The endpoint had failed for a day and is now disabled.
    pub endpoint_disabled: bool,
}

const SELECT_ENDPOINT: &str = "SELECT e.id, e.url, e.event_types, (e.enabled = 1) AS enabled,
        (e.from_environment = 1) AS from_environment,
        e.disabled_reason, e.failing_since, e.created_by, e.created_at,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending') AS pending,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'delivered') AS delivered,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('failed', 'skipped')) AS failed
     FROM webhook_endpoints e";

/// An endpoint's columns as it is added (its secret is sealed once its id is known).
#[derive(Debug, Clone, Copy)]
pub struct NewEndpointRow<'a> {
    pub url: &'a str,
    /// Space-separated event types; empty for every type.
    pub event_types: &'a str,
    pub from_environment: bool,
    /// Who added it (`user:<email>`, `environment`).
    pub created_by: Option<&'a str>,
}

impl Database {
    /// Every endpoint, the environment's first, then oldest first.
    pub(crate) async fn webhook_endpoints(&self) -> Result<Vec<EndpointRow>, DatabaseError> {
        Ok(query(format!(
            "{SELECT_ENDPOINT} ORDER BY e.from_environment DESC, e.id"
        ))
        .fetch_all::<EndpointRow>(self)
        .await?)
    }

    /// One endpoint.
    pub(crate) async fn webhook_endpoint(
        &self,
        id: i64,
    ) -> Result<Option<EndpointRow>, DatabaseError> {
        Ok(query(format!("{SELECT_ENDPOINT} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional::<EndpointRow>(self)
            .await?)
    }

    /// Adds an endpoint and logs `event`; `seal` turns its new id into the
    /// sealed secret (the ciphertext is bound to the id). Its id.
    pub async fn insert_webhook_endpoint(
        &self,
        endpoint: NewEndpointRow<'_>,
        seal: impl FnOnce(i64) -> Result<Vec<u8>, crate::vault::VaultError>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Result<i64, crate::vault::VaultError>, DatabaseError> {
        let mut tx = self.begin().await?;
        // The empty secret is bound (`x''` is a bit string on PostgreSQL).
        let id: i64 = query(
            "INSERT INTO webhook_endpoints (url, secret, event_types, from_environment, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(endpoint.url)
        .bind(Vec::<u8>::new())
        .bind(endpoint.event_types)
        .bind(endpoint.from_environment)
        .bind(endpoint.created_by)
        .bind(now)
        .scalar::<i64>(&mut tx)
        .await?;
        let sealed = match seal(id) {
            Ok(sealed) => sealed,
            Err(e) => return Ok(Err(e)),
        };
        query("UPDATE webhook_endpoints SET secret = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut tx)
            .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// The endpoint from the environment: its id, URL and sealed secret.
    pub(crate) async fn environment_endpoint(
        &self,
    ) -> Result<Option<(i64, String, Vec<u8>)>, DatabaseError> {
        Ok(
            query("SELECT id, url, secret FROM webhook_endpoints WHERE from_environment = 1")
                .fetch_optional::<(i64, String, Vec<u8>)>(self)
                .await?,
        )
    }

    /// Points the environment's endpoint at `url` with the sealed `secret`
    /// and logs `event` (none: the same secret sealed anew, with the newest
    /// key), if it still has the sealed secret `was` (as read before): false
    /// when another process starting at the same moment changed it first
    /// (then nothing is written or logged). A changed URL starts afresh
    /// (enabled, no failure streak).
    pub(crate) async fn update_environment_endpoint(
        &self,
        id: i64,
        url: &str,
        secret: &[u8],
        was: &[u8],
        event: Option<&NewAccountEvent<'_>>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let tx = self.begin().await?;
        let change = query(
            "UPDATE webhook_endpoints SET secret = $1,
                enabled = CASE WHEN url = $2 THEN enabled ELSE 1 END,
                disabled_reason = CASE WHEN url = $2 THEN disabled_reason ELSE NULL END,
                failing_since = CASE WHEN url = $2 THEN failing_since ELSE NULL END,
                url = $2, updated_at = $3
             WHERE id = $4 AND secret = $5",
        )
        .bind(secret)
        .bind(url)
        .bind(now)
        .bind(id)
        .bind(was);
        change_and_log(tx, change, event, now).await
    }

    /// Enables or disables an endpoint by hand (enabling forgets the
    /// failures) and logs `event`; false (nothing logged) for an unknown id.
    pub(crate) async fn set_webhook_endpoint_enabled(
        &self,
        id: i64,
        enabled: bool,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let change = query(
            "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = NULL,
                failing_since = CASE WHEN CAST($1 AS BIGINT) = 1 THEN NULL ELSE failing_since END, updated_at = $2
             WHERE id = $3",
        )
        .bind(enabled)
        .bind(now)
        .bind(id);
        change_and_log(self.begin().await?, change, Some(event), now).await
    }

    /// Deletes an endpoint with its deliveries and attempts (messages stay
    /// for the other endpoints) and logs `event`. `from_environment` rows are
    /// the environment's to remove (`any`): false for them and for unknown
    /// ids, and nothing logged.
    pub(crate) async fn delete_webhook_endpoint(
        &self,
        id: i64,
        any: bool,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        // Under the write lock, as the attempts' records are: a delete that
        // cascades to the deliveries while an attempt is recorded would lock
        // their rows in the opposite order (a deadlock on PostgreSQL).
        let mut tx = self.begin_immediate().await?;
        let deleted = query(
            "DELETE FROM webhook_endpoints WHERE id = $1 AND ($2 = 1 OR from_environment = 0)",
        )
        .bind(id)
        .bind(any)
        .execute(&mut tx)
        .await?
            == 1;
        if !deleted {
            return Ok(false);
        }
        query(
            "DELETE FROM webhook_messages WHERE NOT EXISTS
                (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
        )
        .execute(&mut tx)
        .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether endpoints added in the UI may be on private addresses.
    pub(crate) async fn webhooks_allow_private(&self) -> Result<bool, DatabaseError> {
        Ok(query(
            "SELECT (allow_private_addresses = 1) AS allow_private_addresses FROM webhook_settings WHERE id = 1",
        )
        .scalar_optional::<bool>(self)
        .await?
        .unwrap_or(false))
    }

    /// Allows or forbids private addresses and logs `event`, when that
    /// changes the setting; whether it did (saving it unchanged logs nothing).
    pub(crate) async fn set_webhooks_allow_private(
        &self,
        allow: bool,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let change = query(
            "UPDATE webhook_settings SET allow_private_addresses = $1
             WHERE id = 1 AND allow_private_addresses <> $1",
        )
        .bind(allow);
        change_and_log(self.begin().await?, change, Some(event), now).await
    }

    /// An endpoint's latest deliveries, newest first.
    pub(crate) async fn webhook_deliveries(
        &self,
        endpoint_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, DatabaseError> {
        Ok(query(
            "SELECT d.id, d.endpoint_id, d.message_id, m.type AS event_type, d.state, d.attempts,
                d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all::<DeliveryRow>(self)
        .await?)
    }

    /// The attempts of deliveries `ids`, newest first.
    pub(crate) async fn webhook_attempts(
        &self,
        ids: &[i64],
    ) -> Result<Vec<AttemptRow>, DatabaseError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = (1..=ids.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = query(format!(
            "SELECT delivery_id, at, status, duration_ms, error FROM webhook_attempts
             WHERE delivery_id IN ({marks}) ORDER BY id DESC"
        ));
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all::<AttemptRow>(self).await?)
    }

    /// Sends a finished delivery (delivered, failed, skipped) again: pending
    /// now, with a new day and a new backoff; logs `event`. False (nothing
    /// logged) when there is no such finished delivery (a pending one is
    /// being tried already) or its endpoint is disabled.
    pub(crate) async fn redeliver_webhook(
        &self,
        id: i64,
        now: UnixTime,
        window: i64,
        event: &NewAccountEvent<'_>,
    ) -> Result<bool, DatabaseError> {
        let change = query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, give_up_at = $2,
                attempts = 0
             WHERE id = $3 AND state != 'pending'
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1)",
        )
        .bind(now)
        .bind(now + window)
        .bind(id);
        change_and_log(self.begin().await?, change, Some(event), now).await
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
        // The write lock (on PostgreSQL, the advisory lock of
        // `begin_immediate`) makes claims run one after the other, so two
        // workers, of this process or another, never take the same delivery:
        // each claim's UPDATE sees the leases of the claims before it.
        let mut tx = self.begin_immediate().await?;
        let running: serde_json::Map<String, serde_json::Value> = in_flight
            .iter()
            .map(|(endpoint, n)| (endpoint.to_string(), serde_json::Value::from(*n)))
            .collect();
        let claim = |running_join: &str, running_count: &str| {
            format!(
                "UPDATE webhook_deliveries SET next_attempt_at = $1
                 WHERE id IN (SELECT due.id FROM (
                     SELECT d.id, d.endpoint_id, d.next_attempt_at,
                         ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS nth
                     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                     WHERE d.state = 'pending' AND d.next_attempt_at <= $2 AND e.enabled = 1) AS due
                   LEFT JOIN {running_join} AS running ON running.key = CAST(due.endpoint_id AS TEXT)
                   WHERE due.nth <= $4 - COALESCE({running_count}, 0)
                   ORDER BY due.next_attempt_at, due.id LIMIT $5)
                 RETURNING id"
            )
        };
        let mut ids: Vec<i64> = Query::dialect(
            claim("json_each($3)", "running.value"),
            claim(
                "json_each_text(CAST($3 AS json))",
                "CAST(running.value AS BIGINT)",
            ),
        )
        .bind(lease_until)
        .bind(now)
        .bind(serde_json::Value::Object(running).to_string())
        .bind(per_endpoint)
        .bind(limit)
        .scalars::<i64>(&mut tx)
        .await?;
        // RETURNING's order is the database's: oldest first, as enqueued.
        ids.sort_unstable();
        let mut due = Vec::with_capacity(ids.len());
        for id in ids {
            let row = query(
                "SELECT d.id, d.message_id, d.attempts, d.give_up_at, d.next_attempt_at AS lease_until,
                    m.body, m.integration_id, e.id AS endpoint_id, e.url, e.secret,
                    (e.from_environment = 1) AS from_environment
                 FROM webhook_deliveries d
                 JOIN webhook_messages m ON m.id = d.message_id
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.id = $1",
            )
            .bind(id)
            .fetch_one::<DueDelivery>(&mut tx)
            .await?;
            due.push(row);
        }
        tx.commit().await?;
        Ok(due)
    }

    /// Records a successful attempt: delivered, and the endpoint is healthy.
    pub(crate) async fn record_webhook_success(
        &self,
        delivery: &DueDelivery,
        attempt: &AttemptResult,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        // The write lock (PostgreSQL: the advisory lock): this locks the
        // delivery's row, then its endpoint's, while a concurrent failure
        // that disables the endpoint locks the endpoint's, then every pending
        // delivery's; interleaved on PostgreSQL they would deadlock. (On
        // SQLite the first statement writes anyway: no change.)
        let mut tx = self.begin_immediate().await?;
        insert_attempt(&mut tx, delivery.id, attempt, now).await?;
        query(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1,
                last_status = $1, last_error = NULL, delivered_at = $2 WHERE id = $3",
        )
        .bind(attempt.status)
        .bind(now)
        .bind(delivery.id)
        .execute(&mut tx)
        .await?;
        query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
            .bind(delivery.endpoint_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, unless that is past the
    /// delivery's day (then it gave up); an endpoint failing since
    /// `disable_failing_since` or earlier is disabled with `disabled_reason`,
    /// and its waiting deliveries end.
    pub(crate) async fn record_webhook_failure(
        &self,
        delivery: &DueDelivery,
        attempt: &AttemptResult,
        retry_at: UnixTime,
        disable_failing_since: UnixTime,
        disabled_reason: &str,
        now: UnixTime,
    ) -> Result<AfterFailure, DatabaseError> {
        // The write lock (PostgreSQL: the advisory lock): two failures of
        // one endpoint's deliveries, or a failure and a success, lock the
        // same delivery and endpoint rows in opposite orders (the one that
        // disables the endpoint ends every pending delivery) and would
        // deadlock on PostgreSQL; the disabling must also see every other
        // attempt's outcome. (On SQLite the first statement writes anyway.)
        let mut tx = self.begin_immediate().await?;
        insert_attempt(&mut tx, delivery.id, attempt, now).await?;
        let gave_up = retry_at > delivery.give_up_at;
        query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2,
                state = CASE WHEN $3 = 1 THEN 'failed' ELSE 'pending' END, next_attempt_at = $4
             WHERE id = $5 AND state = 'pending' AND next_attempt_at = $6",
        )
        .bind(attempt.status)
        .bind(&attempt.error)
        .bind(gave_up)
        .bind(retry_at)
        .bind(delivery.id)
        .bind(delivery.lease_until)
        .execute(&mut tx)
        .await?;
        if attempt.endpoint_down() {
            // The receiver itself is down (no answer, 5xx, 429): its other
            // waiting messages wait with this one instead of each finding out.
            query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1
                 WHERE endpoint_id = $2 AND state = 'pending' AND id != $3 AND next_attempt_at <= $4",
            )
            .bind(retry_at)
            .bind(delivery.endpoint_id)
            .bind(delivery.id)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        query(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(delivery.endpoint_id)
        .execute(&mut tx)
        .await?;
        let disabled = query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2
             WHERE id = $3 AND enabled = 1 AND failing_since <= $4",
        )
        .bind(disabled_reason)
        .bind(now)
        .bind(delivery.endpoint_id)
        .bind(disable_failing_since)
        .execute(&mut tx)
        .await?
            == 1;
        if disabled {
            query(
                "UPDATE webhook_deliveries SET state = 'failed',
                    last_error = COALESCE(last_error || ' ', '') || '(endpoint disabled)'
                 WHERE endpoint_id = $1 AND state = 'pending'",
            )
            .bind(delivery.endpoint_id)
            .execute(&mut tx)
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
    pub(crate) async fn prune_webhook_deliveries(
        &self,
        before: UnixTime,
    ) -> Result<u64, DatabaseError> {
        let mut gone = 0;
        loop {
            let batch = query(
                "DELETE FROM webhook_deliveries WHERE id IN
                    (SELECT id FROM webhook_deliveries WHERE state != 'pending' AND created_at < $1 LIMIT 1000)",
            )
            .bind(before)
            .execute(self)
            .await?;
            gone += batch;
            if batch < 1000 {
                break;
            }
        }
        loop {
            let batch = query(
                "DELETE FROM webhook_messages WHERE id IN (SELECT id FROM webhook_messages m WHERE NOT EXISTS
                    (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id) LIMIT 1000)",
            )
            .execute(self)
            .await?;
            if batch < 1000 {
                break;
            }
        }
        Ok(gone)
    }

    /// Sends again every delivery of endpoint `id` that did not arrive
    /// (failed or skipped); how many. When there were some, logs `event`
    /// with the message `message` words from that number.
    pub(crate) async fn redeliver_undelivered(
        &self,
        id: i64,
        now: UnixTime,
        window: i64,
        event: &NewAccountEvent<'_>,
        message: impl FnOnce(u64) -> String,
    ) -> Result<u64, DatabaseError> {
        let mut tx = self.begin().await?;
        let n = query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, give_up_at = $2, attempts = 0
             WHERE endpoint_id = $3 AND state IN ('failed', 'skipped')
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1)",
        )
        .bind(now)
        .bind(now + window)
        .bind(id)
        .execute(&mut tx)
        .await?;
        if n > 0 {
            let message = message(n);
            log_account_event(
                &mut tx,
                &NewAccountEvent {
                    message: &message,
                    ..*event
                },
                now,
            )
            .await?;
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Delivery `id`, if it exists: its state, message id and event type,
    /// and its endpoint's URL (what the account log names).
    pub(crate) async fn webhook_delivery_target(
        &self,
        id: i64,
    ) -> Result<Option<(String, String, String, String)>, DatabaseError> {
        Ok(query(
            "SELECT d.state, d.message_id, m.type AS event_type, e.url
             FROM webhook_deliveries d
             JOIN webhook_messages m ON m.id = d.message_id
             JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional::<(String, String, String, String)>(self)
        .await?)
    }

    /// Writes a test message for one endpoint and logs `event`; its id.
    pub(crate) async fn enqueue_test_webhook(
        &self,
        endpoint_id: i64,
        notice: &domain::Notice,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<String, DatabaseError> {
        let mut tx = self.begin().await?;
        let id =
            super::webhook_outbox::enqueue_for_endpoint(&mut tx, endpoint_id, notice, now).await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }
}

async fn insert_attempt(
    tx: &mut Tx,
    delivery_id: i64,
    attempt: &AttemptResult,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    query(
        "INSERT INTO webhook_attempts (delivery_id, at, status, duration_ms, error) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(delivery_id)
    .bind(now)
    .bind(attempt.status)
    .bind(attempt.duration_ms)
    .bind(&attempt.error)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
