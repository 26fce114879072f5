//! [`WebhookEvent`]: the event types a webhook endpoint receives, by their
//! wire names (`integration.needs_reauth`), which are also what an
//! endpoint's event filter stores.

use serde::{Deserialize, Serialize};

/// What a webhook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A new integration (or one that had been disconnected, connected again).
    #[serde(rename = "integration.connected")]
    Connected,
    /// A new consent on a connected integration.
    #[serde(rename = "integration.reauthenticated")]
    Reauthenticated,
    /// Deactivated: only a person can repair it (the reason says why).
    #[serde(rename = "integration.needs_reauth")]
    NeedsReauth,
    /// Working again: the first success after a failure streak, or the
    /// re-authentication that repaired a deactivated integration.
    #[serde(rename = "integration.recovered")]
    Recovered,
    /// Refreshes have failed (without deactivating) for 10 minutes; once per streak.
    #[serde(rename = "integration.refresh_failing")]
    RefreshFailing,
    /// The 365-day consent ends in 30, 7 or 1 days; once each.
    #[serde(rename = "integration.consent_expiring")]
    ConsentExpiring,
    /// A person disconnected it (tokens wiped).
    #[serde(rename = "integration.disconnected")]
    Disconnected,
    /// "Send test event" on the settings page; sent to that endpoint alone.
    #[serde(rename = "webhook.test")]
    Test,
}

impl WebhookEvent {
    /// Whether its message carries `reconnectUrl`: the events that ask for
    /// a person's consent again.
    pub fn offers_reconnect(self) -> bool {
        matches!(
            self,
            WebhookEvent::NeedsReauth | WebhookEvent::ConsentExpiring
        )
    }
}

names!(WebhookEvent {
    Connected => "integration.connected",
    Reauthenticated => "integration.reauthenticated",
    NeedsReauth => "integration.needs_reauth",
    Recovered => "integration.recovered",
    RefreshFailing => "integration.refresh_failing",
    ConsentExpiring => "integration.consent_expiring",
    Disconnected => "integration.disconnected",
    Test => "webhook.test",
});

impl WebhookEvent {
    /// The types an endpoint can choose in its filter (every one but the test).
    pub const SUBSCRIBABLE: &'static [WebhookEvent] = &[
        WebhookEvent::Connected,
        WebhookEvent::Reauthenticated,
        WebhookEvent::NeedsReauth,
        WebhookEvent::Recovered,
        WebhookEvent::RefreshFailing,
        WebhookEvent::ConsentExpiring,
        WebhookEvent::Disconnected,
    ];

    /// What it means, for the settings page's filter.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Connected => "a new integration",
            Self::Reauthenticated => "a new consent on an integration",
            Self::NeedsReauth => "an integration deactivated: a person must re-authenticate",
            Self::Recovered => "an integration working again after failures",
            Self::RefreshFailing => "refreshes failing for 10 minutes",
            Self::ConsentExpiring => "the 365-day consent ends in 30, 7 or 1 days",
            Self::Disconnected => "an integration disconnected",
            Self::Test => "a test event",
        }
    }
}

/// The days before the consent's end at which `integration.consent_expiring`
/// is sent, farthest first.
pub const CONSENT_WARNING_DAYS: [i64; 3] = [30, 7, 1];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde_and_the_stored_names() {
        for event in WebhookEvent::ALL {
            let json = serde_json::to_string(event).expect("serialize");
            assert_eq!(json, format!("\"{}\"", event.as_str()));
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(*event));
        }
        assert!(!WebhookEvent::SUBSCRIBABLE.contains(&WebhookEvent::Test));
        assert_eq!(
            WebhookEvent::SUBSCRIBABLE.len(),
            WebhookEvent::ALL.len() - 1
        );
    }
}
