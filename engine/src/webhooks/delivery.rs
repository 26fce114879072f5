//! The delivery worker: takes due deliveries (a lease in the database, so a
//! worker that dies mid-attempt leaves them to be retried, never lost), signs
//! and sends each, 10 s at most, and records the attempt. A failure is retried
//! with exponential backoff and jitter for a day; an endpoint whose attempts
//! have all failed for a day is disabled. At least once: a receiver
//! deduplicates on `webhook-id`.

use std::time::{Duration, Instant};

use domain::UnixTime;
use rand::Rng;
use tokio::task::JoinSet;

use super::{
    address_rules, signing, ATTEMPT_TIMEOUT_SECS, DELIVERY_WINDOW_SECS, DISABLE_AFTER_SECS,
};
use crate::db::{AttemptResult, DueDelivery};
use crate::vault::VaultError;
use crate::Engine;

/// Deliveries taken per round.
const BATCH: i64 = 32;
/// How long a taken delivery is hidden from other workers: the attempt's
/// timeout and a margin.
const LEASE_SECS: i64 = ATTEMPT_TIMEOUT_SECS as i64 + 5;
/// The first retry's delay, doubled per failure up to [`MAX_DELAY_SECS`].
const FIRST_DELAY_SECS: i64 = 5;
const MAX_DELAY_SECS: i64 = 3_600;
/// Why an endpoint was disabled.
pub const DISABLED_REASON: &str = "Disabled by the server: every delivery attempt failed for 24 hours. Fix the receiver, then enable it and redeliver.";

/// The delay before the next attempt after `failures` failed ones: 5 s, 10 s,
/// 20 s, ... up to an hour, of which the second half is random (`jitter` in
/// [0, 1)), so that a receiver coming back is not hit by every retry at once.
pub fn retry_delay_secs(failures: i64, jitter: f64) -> i64 {
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
    /// One round: every due delivery (at most a batch) gets one attempt.
    pub async fn deliver_webhooks(&self) -> DeliveryReport {
        let now = self.clock.now();
        let due = match self
            .db
            .claim_webhook_deliveries(now, now + LEASE_SECS, BATCH)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "could not take due webhook deliveries");
                return DeliveryReport::default();
            }
        };
        if due.is_empty() {
            return DeliveryReport::default();
        }
        let allow_private = self.db.webhooks_allow_private().await.unwrap_or(false);
        let mut attempts = JoinSet::new();
        for delivery in due {
            let engine = self.clone();
            attempts.spawn(async move {
                let result = engine.attempt(&delivery, allow_private).await;
                engine.record(&delivery, &result).await;
                result.succeeded()
            });
        }
        let mut report = DeliveryReport::default();
        while let Some(done) = attempts.join_next().await {
            report.attempted += 1;
            match done {
                Ok(true) => report.delivered += 1,
                _ => report.failed += 1,
            }
        }
        report
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
        }
        let secret =
            match self
                .vault
                .decrypt_webhook_secret(delivery.endpoint_id, &delivery.secret)
            {
                Ok(secret) => secret,
                Err(VaultError::Decrypt) | Err(_) => return failed(
                    "the endpoint's secret cannot be decrypted (was TOKEN_ENCRYPTION_KEY changed?)"
                        .to_owned(),
                ),
            };
        let timestamp = self.clock.now().secs();
        let signature =
            match signing::sign(&secret, &delivery.message_id, timestamp, &delivery.body) {
                Ok(signature) => signature,
                Err(e) => return failed(e.to_string()),
            };
        let client = if guarded {
            &self.webhooks.guarded
        } else {
            &self.webhooks.open
        };
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
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
        let now = self.clock.now();
        if result.succeeded() {
            metrics::counter!("jira_dashboard_webhook_deliveries_total", "result" => "delivered")
                .increment(1);
            if let Err(e) = self.db.record_webhook_success(delivery, result, now).await {
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
            .db
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

/// Runs delivery rounds for as long as the process lives: at once when a
/// commit rings, and every second anyway (retries come due; another process
/// may have written messages).
pub fn spawn(engine: Engine) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let report = engine.deliver_webhooks().await;
            if report.attempted as i64 >= BATCH {
                continue;
            }
            tokio::select! {
                () = engine.webhooks.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
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
