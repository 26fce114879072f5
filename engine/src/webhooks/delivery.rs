//! The delivery worker: takes due deliveries (a lease in the database, so a
//! worker that dies mid-attempt leaves them to be retried, never lost), signs
//! and sends each, 10 s at most, and records the attempt. A failure is retried
//! with exponential backoff and jitter for a day; an endpoint whose attempts
//! have all failed for a day is disabled. At least once: a receiver
//! deduplicates on `webhook-id`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use domain::webhook_message::{
    with_reconnect_url, RECONNECT_LINK_LIFETIME_SECS, RECONNECT_URL_PLACEHOLDER,
};
use domain::UnixTime;
use rand::Rng;
use tokio::task::JoinSet;

use super::{
    address_rules, signing, ATTEMPT_TIMEOUT_SECS, DELIVERY_WINDOW_SECS, DISABLE_AFTER_SECS,
};
use crate::db::{AttemptResult, DueDelivery};
use crate::secret::{random_token, token_hash};
use crate::vault::VaultError;
use crate::Engine;

/// Deliveries taken per round by [`Engine::deliver_webhooks`].
const BATCH: i64 = 32;
/// Attempts in flight in one process at most.
const IN_FLIGHT: usize = 32;
/// Attempts in flight per endpoint at most.
const PER_ENDPOINT: i64 = 4;
/// How often finished deliveries are pruned, and how long they are kept.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
pub(crate) const KEEP_FINISHED_SECS: i64 = 30 * 86_400;
/// How long a taken delivery is hidden from other workers: the attempt's
/// timeout and a margin.
const LEASE_SECS: i64 = ATTEMPT_TIMEOUT_SECS as i64 + 5;
/// The first retry's delay, doubled per failure up to [`MAX_DELAY_SECS`].
const FIRST_DELAY_SECS: i64 = 5;
const MAX_DELAY_SECS: i64 = 3_600;
/// Why an endpoint was disabled.
pub(crate) const DISABLED_REASON: &str = "Disabled by the server: every delivery attempt failed for 24 hours. Fix the receiver, then enable it and redeliver.";

/// The delay before the next attempt after `failures` failed ones: 5 s, 10 s,
/// 20 s, ... up to an hour, of which the second half is random (`jitter` in
/// [0, 1)), so that a receiver coming back is not hit by every retry at once.
pub(crate) fn retry_delay_secs(failures: i64, jitter: f64) -> i64 {
    let exp = u32::try_from((failures - 1).clamp(0, 20)).unwrap_or(20);
    let full = FIRST_DELAY_SECS
        .saturating_mul(2_i64.saturating_pow(exp))
        .min(MAX_DELAY_SECS);
    let half = full / 2;
    // Truncation is the point: whole seconds.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let spread = (half as f64 * jitter.clamp(0.0, 1.0)) as i64;
    (full - half + spread).max(1)
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryReport {
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
}

impl Engine {
    /// One round: every due delivery (at most a batch, at most
    /// [`PER_ENDPOINT`] per endpoint) gets one attempt; waits for them all.
    pub async fn deliver_webhooks(&self) -> DeliveryReport {
        let mut attempts = JoinSet::new();
        self.start_attempts(BATCH, &[], &mut attempts).await;
        let mut report = DeliveryReport::default();
        while let Some(done) = attempts.join_next().await {
            report.attempted += 1;
            match done {
                Ok((_, true)) => report.delivered += 1,
                _ => report.failed += 1,
            }
        }
        report
    }

    /// Takes up to `limit` due deliveries (no endpoint beyond [`PER_ENDPOINT`]
    /// counting the attempts `in_flight` already) and
    /// starts an attempt for each on `attempts`; each answers its endpoint and
    /// whether it succeeded. Answers the endpoints started, one per attempt.
    async fn start_attempts(
        &self,
        limit: i64,
        in_flight: &[(i64, i64)],
        attempts: &mut JoinSet<(i64, bool)>,
    ) -> Vec<(tokio::task::Id, i64)> {
        let now = self.clock().now();
        let due = match self
            .db()
            .claim_webhook_deliveries(now, now + LEASE_SECS, limit, PER_ENDPOINT, in_flight)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "could not take due webhook deliveries");
                return Vec::new();
            }
        };
        if due.is_empty() {
            return Vec::new();
        }
        let allow_private = self.db().webhooks_allow_private().await.unwrap_or(false);
        due.into_iter()
            .map(|delivery| {
                let engine = self.clone();
                let endpoint = delivery.endpoint_id;
                let handle = attempts.spawn(async move {
                    let result = engine.attempt(&delivery, allow_private).await;
                    engine.record(&delivery, &result).await;
                    (delivery.endpoint_id, result.succeeded())
                });
                (handle.id(), endpoint)
            })
            .collect()
    }

    /// The body to send: a stored message's `reconnectUrl` placeholder
    /// replaced by a connect link made for this attempt (each attempt its
    /// own: only links' hashes are stored, never a message's link), or by
    /// `null` when the integration is gone.
    async fn body_to_send(&self, delivery: &DueDelivery) -> Result<String, String> {
        let Some(id) = delivery.integration_id else {
            return Ok(delivery.body.clone());
        };
        if !delivery.body.contains(RECONNECT_URL_PLACEHOLDER) {
            return Ok(delivery.body.clone());
        }
        let now = self.clock().now();
        let token = random_token();
        let made = self
            .db()
            .insert_reconnect_link(
                id,
                &token_hash(&token),
                now + RECONNECT_LINK_LIFETIME_SECS,
                now,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not make a webhook's reconnect link");
                "the message's reconnect link could not be made".to_owned()
            })?;
        let url = made.then(|| self.link_url(&token));
        Ok(with_reconnect_url(&delivery.body, url.as_deref())
            .unwrap_or_else(|| delivery.body.clone()))
    }

    /// Signs and sends one delivery.
    async fn attempt(&self, delivery: &DueDelivery, allow_private: bool) -> AttemptResult {
        let started = Instant::now();
        let failed = |error: String| AttemptResult {
            status: None,
            duration_ms: elapsed_ms(started),
            error: Some(error),
        };
        let guarded = !delivery.from_environment && !allow_private;
        let Ok(url) = url::Url::parse(&delivery.url) else {
            return failed("the endpoint URL does not parse".to_owned());
        };
        if guarded {
            if let Some(ip) = address_rules::internal_literal(&url) {
                return failed(format!("refused: {ip} is not a public address"));
            }
            if url.scheme() != "https" {
                return failed(
                    "refused: plain http is allowed only while private addresses are".to_owned(),
                );
            }
        }
        let secret =
            match self
                .vault()
                .decrypt_webhook_secret(delivery.endpoint_id, &delivery.secret)
            {
                Ok(secret) => secret,
                Err(VaultError::Decrypt) | Err(_) => return failed(
                    "the endpoint's secret cannot be decrypted (was TOKEN_ENCRYPTION_KEY changed?)"
                        .to_owned(),
                ),
            };
        let body = match self.body_to_send(delivery).await {
            Ok(body) => body,
            Err(e) => return failed(e),
        };
        let timestamp = self.clock().now().secs();
        let signature = match signing::sign(&secret, &delivery.message_id, timestamp, &body) {
            Ok(signature) => signature,
            Err(e) => return failed(e.to_string()),
        };
        let client = if guarded {
            &self.webhooks().guarded
        } else {
            &self.webhooks().open
        };
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECS))
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // The answer's body is not needed: it is not read.
                drop(response);
                AttemptResult {
                    status: Some(status.as_u16()),
                    duration_ms: elapsed_ms(started),
                    error: (!status.is_success())
                        .then(|| format!("the receiver answered {status}")),
                }
            }
            Err(e) => failed(describe(&e)),
        }
    }

    /// Stores an attempt's outcome and schedules what follows.
    async fn record(&self, delivery: &DueDelivery, result: &AttemptResult) {
        let now = self.clock().now();
        if result.succeeded() {
            metrics::counter!("jira_dashboard_webhook_deliveries_total", "result" => "delivered")
                .increment(1);
            if let Err(e) = self
                .db()
                .record_webhook_success(delivery, result, now)
                .await
            {
                tracing::error!(error = %e, delivery = delivery.id, "could not record a webhook delivery (it may be sent again)");
            }
            return;
        }
        let jitter = rand::thread_rng().gen_range(0.0..1.0);
        let retry_at: UnixTime = now + retry_delay_secs(delivery.attempts + 1, jitter);
        // Failing for a day: every attempt since a day ago failed, or this
        // delivery gives up having failed for its whole day.
        let window_start = delivery.give_up_at - DELIVERY_WINDOW_SECS;
        let failing_since_at_most = if retry_at > delivery.give_up_at {
            (now - DISABLE_AFTER_SECS).max(window_start)
        } else {
            now - DISABLE_AFTER_SECS
        };
        match self
            .db()
            .record_webhook_failure(
                delivery,
                result,
                retry_at,
                failing_since_at_most,
                DISABLED_REASON,
                now,
            )
            .await
        {
            Ok(after) => {
                let outcome = if after.gave_up { "gave_up" } else { "failed" };
                metrics::counter!("jira_dashboard_webhook_deliveries_total", "result" => outcome)
                    .increment(1);
                tracing::warn!(
                    delivery = delivery.id,
                    endpoint = delivery.endpoint_id,
                    error = result.error.as_deref().unwrap_or_default(),
                    gave_up = after.gave_up,
                    endpoint_disabled = after.endpoint_disabled,
                    "webhook attempt failed"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, delivery = delivery.id, "could not record a failed webhook attempt");
            }
        }
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A failed request in a sentence (never the URL's query or any header).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {ATTEMPT_TIMEOUT_SECS} s")
    } else if e.is_connect() {
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = String::new();
        while let Some(c) = cause {
            last = c.to_string();
            cause = c.source();
        }
        if last.is_empty() {
            "could not connect".to_owned()
        } else {
            format!("could not connect: {last}")
        }
    } else {
        "the request failed before an answer came".to_owned()
    }
}

/// Delivers for as long as the process lives: up to [`IN_FLIGHT`] attempts
/// at once, at most [`PER_ENDPOINT`] per endpoint (a dead receiver holds a
/// few of them for its timeout; the other endpoints' deliveries go on), a
/// new one started as soon as one ends, when a commit rings, and every
/// second anyway (retries come due; another process may have written
/// messages). Old deliveries are pruned every hour.
pub fn spawn(engine: Engine) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut attempts: JoinSet<(i64, bool)> = JoinSet::new();
        let mut endpoint_of: HashMap<tokio::task::Id, i64> = HashMap::new();
        let mut in_flight: HashMap<i64, i64> = HashMap::new();
        let mut pruned_at: Option<Instant> = None;
        loop {
            let free = IN_FLIGHT.saturating_sub(attempts.len());
            if free > 0 {
                let running: Vec<(i64, i64)> = in_flight.iter().map(|(e, n)| (*e, *n)).collect();
                let limit = i64::try_from(free).unwrap_or(BATCH);
                for (task, endpoint) in engine.start_attempts(limit, &running, &mut attempts).await
                {
                    endpoint_of.insert(task, endpoint);
                    *in_flight.entry(endpoint).or_default() += 1;
                }
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(Instant::now());
                engine.prune_webhook_deliveries().await;
            }
            tokio::select! {
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    let task = match &done {
                        Ok((task, _)) => *task,
                        Err(e) => e.id(),
                    };
                    if let Some(endpoint) = endpoint_of.remove(&task) {
                        if let Some(n) = in_flight.get_mut(&endpoint) {
                            *n -= 1;
                            if *n <= 0 {
                                in_flight.remove(&endpoint);
                            }
                        }
                    }
                }
                () = engine.webhooks().wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

impl Engine {
    /// Deletes finished deliveries older than [`KEEP_FINISHED_SECS`] (their
    /// attempts with them) and the messages no delivery needs any more.
    pub async fn prune_webhook_deliveries(&self) {
        match self
            .db()
            .prune_webhook_deliveries(self.clock().now() - KEEP_FINISHED_SECS)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "pruned old webhook deliveries"),
            Err(e) => tracing::warn!(error = %e, "could not prune old webhook deliveries"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_an_hour() {
        assert_eq!(retry_delay_secs(1, 0.0), 3);
        assert_eq!(retry_delay_secs(1, 0.999), 4);
        assert_eq!(retry_delay_secs(2, 0.0), 5);
        assert_eq!(retry_delay_secs(3, 0.0), 10);
        assert_eq!(retry_delay_secs(30, 0.0), 1_800);
        assert_eq!(retry_delay_secs(30, 1.0), 3_600);
        // A day of retries is about 30 attempts, not thousands.
        let mut at = 0;
        let mut n = 0;
        while at < 24 * 3600 {
            n += 1;
            at += retry_delay_secs(n, 0.5);
        }
        assert!((25..50).contains(&n), "{n} attempts in a day");
    }
}
