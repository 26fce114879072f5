//! Webhooks: the people who own an integration hear that it needs them where
//! they already are. Standard Webhooks format (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), body
//! `{"type", "timestamp", "data": {"integration", "reason", "message"}}`, never
//! a token.
//!
//! - A change that must be announced writes a [`domain::Notice`] into the
//!   outbox in its own transaction (`db/announce.rs`, the body rendered by
//!   `domain::webhook_message`); the writers decide which notice a change is
//!   worth (connect, refresh, scheduler, disconnect).
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

mod address_rules;
mod audit;
mod consent;
pub mod delivery;
mod endpoints;
pub mod signing;

pub use delivery::DeliveryReport;
use domain::webhook_message::DELIVERY_WINDOW_SECS;
pub use endpoints::{EndpointSummary, WebhookError, WebhookSettings};

/// An endpoint whose attempts have all failed for this long is disabled.
pub(crate) const DISABLE_AFTER_SECS: i64 = 24 * 3600;
/// One attempt's time limit.
pub(crate) const ATTEMPT_TIMEOUT_SECS: u64 = 10;
/// A streak of failed refreshes is announced once it is this old.
pub(crate) const FAILING_NOTICE_AFTER_SECS: i64 = 600;

/// The webhooks' share of the engine: the worker's wake-up call and the HTTP clients.
pub(crate) struct Webhooks {
    /// Rung after a commit that enqueued messages: the worker starts at once.
    wake: tokio::sync::Notify,
    /// For the endpoint from the environment and when private addresses are allowed.
    open: reqwest::Client,
    /// For endpoints added in the UI: connects only to public addresses.
    guarded: reqwest::Client,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            open: address_rules::client(false),
            guarded: address_rules::client(true),
        }
    }
}

impl crate::Engine {
    /// Tells the delivery worker that messages are waiting.
    pub(crate) fn wake_webhooks(&self) {
        self.webhooks().wake.notify_one();
    }
}
