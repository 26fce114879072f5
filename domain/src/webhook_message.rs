//! A webhook message: the [`Notice`] a change announces and the JSON body
//! ([`Notice::body`]) stored once in the outbox and sent as is on every
//! attempt. Standard Webhooks' envelope: `{"type", "timestamp", "data":
//! {"integration", "reason", "message", "daysLeft"}}`, never a token.

use serde_json::json;

use crate::time::rfc3339;
use crate::views::IntegrationView;
use crate::{UnixTime, WebhookEvent};

/// How long a message is retried before its delivery gives up.
pub const DELIVERY_WINDOW_SECS: i64 = 24 * 3600;

/// How long a message's `reconnectUrl` (a connect link that repairs the
/// integration, for `integration.needs_reauth` and
/// `integration.consent_expiring`) works.
pub const RECONNECT_LINK_LIFETIME_SECS: i64 = 7 * 86_400;

/// What a stored message holds in place of its `reconnectUrl`: a link is a
/// bearer secret of which only the hash is stored, so each attempt to send
/// the message makes a link of its own and puts it here
/// ([`with_reconnect_url`]).
pub const RECONNECT_URL_PLACEHOLDER: &str = "{{reconnectUrl}}";

/// `body` (a stored message) with `url` in place of the placeholder (`null`
/// without one: the integration is gone); `None` when it has no placeholder.
pub fn with_reconnect_url(body: &str, url: Option<&str>) -> Option<String> {
    let quoted = format!("\"{RECONNECT_URL_PLACEHOLDER}\"");
    let value = match url {
        Some(url) => serde_json::Value::String(url.to_owned()),
        None => serde_json::Value::Null,
    };
    body.contains(&quoted)
        .then(|| body.replace(&quoted, &value.to_string()))
}

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
    /// A connect link that repairs the integration without anyone signing
    /// in here (set by storage as the message is written; see
    /// [`WebhookEvent::offers_reconnect`]).
    pub reconnect_url: Option<String>,
}

impl Notice {
    pub fn new(event: WebhookEvent, reason: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            event,
            reason: reason.map(str::to_owned),
            message: message.into(),
            days_left: None,
            reconnect_url: None,
        }
    }

    /// The message's JSON body at `now`, with the integration as the
    /// dashboard shows it (none for a test event).
    pub fn body(&self, integration: Option<&IntegrationView>, now: UnixTime) -> String {
        let mut data = json!({
            "reason": self.reason,
            "message": self.message,
        });
        if let Some(view) = integration {
            data["integration"] = json!(view);
        }
        if let Some(days) = self.days_left {
            data["daysLeft"] = json!(days);
        }
        if let Some(url) = &self.reconnect_url {
            data["reconnectUrl"] = json!(url);
        }
        json!({
            "type": self.event.as_str(),
            "timestamp": rfc3339(now),
            "data": data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::IntegrationView;
    use crate::{Integration, IntegrationId, RefreshPolicy, StatusRule};

    #[test]
    fn a_body_has_type_timestamp_and_data() {
        let notice = Notice {
            days_left: Some(7),
            ..Notice::new(
                WebhookEvent::ConsentExpiring,
                Some("consent_expires_in_7_days"),
                "Soon.",
            )
        };
        let now = UnixTime(1_800_000_000);
        let integration = Integration {
            id: "3".parse::<IntegrationId>().expect("positive"),
            account_id: "acc".into(),
            account_name: "Ada".into(),
            account_email: None,
            scopes: vec!["read:jira-work".into()],
            has_refresh_token: true,
            expires_at: now + 3600,
            access_token_lifetime: 3600,
            is_active: true,
            refresh_failures: 0,
            last_refresh_at: None,
            last_error: None,
            refresh_token_issued_at: Some(now),
            consented_at: now,
            created_at: now,
            disconnected_at: None,
            sites: Vec::new(),
            end_user: Some(crate::EndUser {
                id: "customer-42".into(),
                display_name: Some("Acme Corp".into()),
            }),
            tags: crate::Tags([("tenant".to_owned(), "acme".to_owned())].into()),
        };
        let rule = StatusRule {
            margin_secs: 300,
            policy: RefreshPolicy::Scheduled,
        };
        let view = IntegrationView::at(integration, now, rule);
        let body: serde_json::Value =
            serde_json::from_str(&notice.body(Some(&view), now)).expect("json");
        assert_eq!(body["type"], "integration.consent_expiring");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00Z");
        assert_eq!(body["data"]["integration"]["id"], 3);
        assert_eq!(body["data"]["integration"]["status"], "active");
        assert_eq!(body["data"]["integration"]["endUserId"], "customer-42");
        assert_eq!(body["data"]["integration"]["displayName"], "Acme Corp");
        assert_eq!(body["data"]["integration"]["tags"]["tenant"], "acme");
        assert_eq!(body["data"]["reason"], "consent_expires_in_7_days");
        assert_eq!(body["data"]["message"], "Soon.");
        assert_eq!(body["data"]["daysLeft"], 7);
        assert!(body["data"].get("reconnectUrl").is_none(), "{body}");
        let with_link = Notice {
            reconnect_url: Some("https://dash.example.com/connect/t".into()),
            ..notice.clone()
        };
        let body: serde_json::Value =
            serde_json::from_str(&with_link.body(Some(&view), now)).expect("json");
        assert_eq!(
            body["data"]["reconnectUrl"],
            "https://dash.example.com/connect/t"
        );
        // Stored with the placeholder, sent with a link of its own.
        let stored = Notice {
            reconnect_url: Some(RECONNECT_URL_PLACEHOLDER.into()),
            ..notice.clone()
        }
        .body(Some(&view), now);
        let sent = with_reconnect_url(&stored, Some("https://dash.example.com/connect/x"))
            .expect("filled");
        let sent: serde_json::Value = serde_json::from_str(&sent).expect("json");
        assert_eq!(
            sent["data"]["reconnectUrl"],
            "https://dash.example.com/connect/x"
        );
        assert_eq!(
            with_reconnect_url(&notice.body(Some(&view), now), Some("u")),
            None
        );
        let gone: serde_json::Value =
            serde_json::from_str(&with_reconnect_url(&stored, None).expect("filled"))
                .expect("json");
        assert!(gone["data"]["reconnectUrl"].is_null());
        let bare: serde_json::Value =
            serde_json::from_str(&Notice::new(WebhookEvent::Test, None, "Hi").body(None, now))
                .expect("json");
        assert!(bare["data"].get("integration").is_none(), "{bare}");
    }
}
