//! Webhooks: the people who own an integration hear that it needs them where
//! they already are. Standard Webhooks format (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), body
//! `{"type", "timestamp", "data": {"integration", "reason", "message"}}`, never
//! a token.
//!
//! - A change that must be announced writes a [`Notice`] into the outbox in
//!   its own transaction (`db/webhook_outbox.rs`); the writers decide which
//!   notice a change is worth (connect, refresh, scheduler, disconnect).
//! - [`delivery`]: the worker that sends each message at least once, with
//!   retries, backoff and jitter for a day, and disables an endpoint failing
//!   for a day.
//! - [`endpoints`]: the use cases of the settings page (add, enable, delete,
//!   send a test event, redeliver) and the endpoint from the environment.
//! - [`audit`]: how the account log words each of those changes, naming
//!   who made it (never an endpoint's path or secret).
//! - [`address_rules`]: which addresses an endpoint added in the UI may
//!   reach (no loopback or private network unless an administrator allows it).
//! - [`signing`]: secrets and signatures (the `standardwebhooks` crate).
//! - [`consent`]: `integration.consent_expiring`, 30, 7 and 1 days ahead.

pub mod address_rules;
pub mod audit;
mod consent;
pub mod delivery;
pub mod endpoints;
pub mod signing;

use std::sync::Arc;

use domain::{UnixTime, WebhookEvent};
use rand::RngCore;
use serde_json::json;

use crate::clock::rfc3339;
use crate::integration::Integration;

pub use delivery::{retry_delay_secs, DeliveryReport};
pub use endpoints::{DeliveryRecord, EndpointSummary, NewEndpoint, WebhookError, WebhookSettings};

/// How long a message is retried before its delivery gives up.
pub const DELIVERY_WINDOW_SECS: i64 = 24 * 3600;
/// An endpoint whose attempts have all failed for this long is disabled.
pub const DISABLE_AFTER_SECS: i64 = 24 * 3600;
/// One attempt's time limit.
pub const ATTEMPT_TIMEOUT_SECS: u64 = 10;
/// A streak of failed refreshes is announced once it is this old.
pub const FAILING_NOTICE_AFTER_SECS: i64 = 600;

/// How an integration is shown in a message: the server gives the dashboard's
/// own view (`IntegrationView`), so a webhook, the service API and the page
/// agree field for field.
pub type IntegrationViewFn = dyn Fn(&Integration, UnixTime) -> serde_json::Value + Send + Sync;

/// What a change announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub event: WebhookEvent,
    /// A stable code for machines (`refresh_token_rejected`), when there is one.
    pub reason: Option<String>,
    /// The sentence for people. Never a token.
    pub message: String,
    /// For `integration.consent_expiring`: the threshold reached (30, 7 or 1).
    pub days_left: Option<i64>,
}

impl Notice {
    pub fn new(event: WebhookEvent, reason: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            event,
            reason: reason.map(str::to_owned),
            message: message.into(),
            days_left: None,
        }
    }
}

/// The JSON body of a message (stored once, sent as is on every attempt).
pub fn message_body(
    notice: &Notice,
    integration: Option<serde_json::Value>,
    now: UnixTime,
) -> String {
    let mut data = json!({
        "reason": notice.reason,
        "message": notice.message,
    });
    if let Some(view) = integration {
        data["integration"] = view;
    }
    if let Some(days) = notice.days_left {
        data["daysLeft"] = json!(days);
    }
    json!({
        "type": notice.event.as_str(),
        "timestamp": rfc3339(now),
        "data": data,
    })
    .to_string()
}

/// A new message id (`msg_` and 128 random bits): the `webhook-id` a receiver
/// deduplicates on.
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The engine's own rendering of an integration, used until the server
/// installs the dashboard's view ([`crate::Engine::with_integration_view`]).
pub fn plain_view(i: &Integration, _now: UnixTime) -> serde_json::Value {
    json!({
        "id": i.id.get(),
        "accountId": i.account_id,
        "accountName": i.account_name,
        "isActive": i.is_active,
        "hasRefreshToken": i.has_refresh_token,
        "expiresAt": rfc3339(i.expires_at),
        "lastError": i.last_error,
    })
}

/// The webhooks' share of the engine: how integrations are rendered, the
/// worker's wake-up call, and the HTTP clients.
pub(crate) struct Webhooks {
    pub(crate) view: Arc<IntegrationViewFn>,
    /// Rung after a commit that enqueued messages: the worker starts at once.
    pub(crate) wake: tokio::sync::Notify,
    /// For the endpoint from the environment and when private addresses are allowed.
    pub(crate) open: reqwest::Client,
    /// For endpoints added in the UI: connects only to public addresses.
    pub(crate) guarded: reqwest::Client,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            view: Arc::new(plain_view),
            wake: tokio::sync::Notify::new(),
            open: address_rules::client(false),
            guarded: address_rules::client(true),
        }
    }
}

impl crate::Engine {
    /// Renders integrations in webhook messages with `view` (the dashboard's
    /// `IntegrationView`).
    pub fn with_integration_view(mut self, view: Arc<IntegrationViewFn>) -> Self {
        self.webhooks = Arc::new(Webhooks {
            view,
            ..Webhooks::default()
        });
        self
    }

    /// Tells the delivery worker that messages are waiting.
    pub(crate) fn wake_webhooks(&self) {
        self.webhooks.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_has_type_timestamp_and_data_and_ids_are_unique() {
        let notice = Notice {
            days_left: Some(7),
            ..Notice::new(
                WebhookEvent::ConsentExpiring,
                Some("consent_expires_in_7_days"),
                "Soon.",
            )
        };
        let body: serde_json::Value = serde_json::from_str(&message_body(
            &notice,
            Some(json!({"id": 3})),
            UnixTime(1_800_000_000),
        ))
        .expect("json");
        assert_eq!(body["type"], "integration.consent_expiring");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00Z");
        assert_eq!(body["data"]["integration"]["id"], 3);
        assert_eq!(body["data"]["reason"], "consent_expires_in_7_days");
        assert_eq!(body["data"]["message"], "Soon.");
        assert_eq!(body["data"]["daysLeft"], 7);
        let a = new_message_id();
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, new_message_id());
    }
}
