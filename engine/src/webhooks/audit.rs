//! How the account log words a change to the webhooks. Adding, testing,
//! enabling, disabling, deleting an endpoint, sending deliveries again and
//! allowing private addresses (which turns the address rule off) are
//! security changes: each is an entry naming who made it (an administrator,
//! or the environment for the endpoint of `WEBHOOK_URL`), which endpoint,
//! and what, in a plain sentence. The endpoint is named by its origin alone:
//! a path or query may carry the receiver's own credential (shown as `/…`),
//! and its signing secret is never written anywhere but its sealed column.

use url::Url;

use crate::db::NewAccountEvent;

/// The account log's actor for the endpoint of `WEBHOOK_URL` /
/// `WEBHOOK_SECRET`, brought in step with the environment at start-up (the
/// same word the endpoint's "created by" shows).
pub(crate) const ENVIRONMENT: &str = "environment";

/// The account log's `action` of each change.
pub(crate) mod action {
    pub(crate) const ADD: &str = "add_webhook";
    pub(crate) const CHANGE: &str = "change_webhook";
    pub(crate) const ENABLE: &str = "enable_webhook";
    pub(crate) const DISABLE: &str = "disable_webhook";
    pub(crate) const DELETE: &str = "delete_webhook";
    pub(crate) const TEST: &str = "test_webhook";
    pub(crate) const REDELIVER: &str = "redeliver_webhook";
    pub(crate) const REDELIVER_UNDELIVERED: &str = "redeliver_webhooks";
    pub(crate) const ALLOW_PRIVATE: &str = "allow_private_webhooks";
    pub(crate) const FORBID_PRIVATE: &str = "forbid_private_webhooks";
}

/// The subject of a change to the webhook settings (not to one endpoint).
const SETTINGS_SUBJECT: &str = "webhook settings";

/// An endpoint as the account log names it: its origin, then `/…` when its
/// URL goes on (`https://hooks.example.com/…`).
pub(crate) fn endpoint_label(url: &str) -> String {
    let Ok(url) = Url::parse(url) else {
        return "(an unreadable URL)".to_owned();
    };
    let origin = url.origin().ascii_serialization();
    if url.path() == "/" && url.query().is_none() {
        origin
    } else {
        format!("{origin}/…")
    }
}

/// One account-log entry about the webhooks, owned until it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    pub actor: String,
    pub action: &'static str,
    pub subject: String,
    pub message: String,
}

impl LogEntry {
    /// A change to the endpoint at `url`; `message` words it from the
    /// endpoint's label.
    pub(crate) fn endpoint(
        actor: impl Into<String>,
        action: &'static str,
        url: &str,
        message: impl FnOnce(&str) -> String,
    ) -> Self {
        let subject = endpoint_label(url);
        let message = message(&subject);
        Self {
            actor: actor.into(),
            action,
            subject,
            message,
        }
    }

    /// Private addresses allowed (the address rule off) or forbidden again.
    pub(crate) fn private_addresses(actor: impl Into<String>, allow: bool) -> Self {
        let (action, message) = if allow {
            (
                action::ALLOW_PRIVATE,
                "Allowed webhook endpoints on private addresses: the address rule is off, \
                 so new endpoints may reach loopback, private and internal networks",
            )
        } else {
            (
                action::FORBID_PRIVATE,
                "Forbade webhook endpoints on private addresses: the address rule is on again",
            )
        };
        Self {
            actor: actor.into(),
            action,
            subject: SETTINGS_SUBJECT.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The entry as the account log's writer takes it.
    pub(crate) fn event(&self) -> NewAccountEvent<'_> {
        NewAccountEvent {
            actor: &self.actor,
            action: self.action,
            subject: &self.subject,
            message: &self.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_named_by_its_origin_never_its_path_or_query() {
        assert_eq!(
            endpoint_label("https://hooks.example.com/"),
            "https://hooks.example.com"
        );
        assert_eq!(
            endpoint_label("https://hooks.example.com/services/T0/B0/s3cr3t"),
            "https://hooks.example.com/…"
        );
        assert_eq!(
            endpoint_label("http://10.1.2.3:8080/?token=s3cr3t"),
            "http://10.1.2.3:8080/…"
        );
        assert_eq!(endpoint_label("not a url"), "(an unreadable URL)");
        let entry = LogEntry::endpoint(
            "user:ann@example.com",
            action::ADD,
            "https://hooks.example.com/x?key=s3cr3t",
            |e| format!("Added webhook endpoint {e}"),
        );
        assert_eq!(entry.subject, "https://hooks.example.com/…");
        assert!(!format!("{entry:?}").contains("s3cr3t"));
    }

    #[test]
    fn allowing_private_addresses_says_the_address_rule_is_off() {
        let on = LogEntry::private_addresses("user:ann@example.com", true);
        assert!(on.message.contains("address rule is off"), "{}", on.message);
        let off = LogEntry::private_addresses("user:ann@example.com", false);
        assert!(
            off.message.contains("address rule is on"),
            "{}",
            off.message
        );
        assert_ne!(on.action, off.action);
    }
}
