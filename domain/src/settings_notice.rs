//! [`SettingsNotice`]: what `/settings` says after one of its forms was sent
//! (`/settings?notice=<code>`). Codes, not sentences, travel in the address,
//! so a link from elsewhere cannot make the page say anything else.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsNotice {
    UserAdded,
    RoleChanged,
    UserRemoved,
    PasswordChanged,
    BadEmail,
    BadPassword,
    PasswordMismatch,
    EmailTaken,
    LastAdmin,
    WrongPassword,
    NoSuchUser,
    TooManyAttempts,
    Busy,
    Failed,
    KeyRevoked,
    KeyNeedsName,
    KeyNeedsScope,
    KeyBadTags,
    KeyConfinedMetrics,
    NoSuchKey,
    KeyShareSet,
    KeyBadShare,
    WebhookDeleted,
    WebhookEnabled,
    WebhookDisabled,
    WebhookTestQueued,
    WebhookRedelivered,
    WebhookSettingsSaved,
    NoSuchWebhook,
    WebhookCannotSend,
    WebhookFromEnvironment,
    WebhookPending,
    WebhookUndeliveredQueued,
}

names!(SettingsNotice {
    UserAdded => "user_added",
    RoleChanged => "role_changed",
    UserRemoved => "user_removed",
    PasswordChanged => "password_changed",
    BadEmail => "bad_email",
    BadPassword => "bad_password",
    PasswordMismatch => "password_mismatch",
    EmailTaken => "email_taken",
    LastAdmin => "last_admin",
    WrongPassword => "wrong_password",
    NoSuchUser => "no_such_user",
    TooManyAttempts => "too_many_attempts",
    Busy => "busy",
    Failed => "failed",
    KeyRevoked => "key_revoked",
    KeyNeedsName => "key_needs_name",
    KeyNeedsScope => "key_needs_scope",
    KeyBadTags => "key_bad_tags",
    KeyConfinedMetrics => "key_confined_metrics",
    NoSuchKey => "no_such_key",
    KeyShareSet => "key_share_set",
    KeyBadShare => "key_bad_share",
    WebhookDeleted => "webhook_deleted",
    WebhookEnabled => "webhook_enabled",
    WebhookDisabled => "webhook_disabled",
    WebhookTestQueued => "webhook_test_queued",
    WebhookRedelivered => "webhook_redelivered",
    WebhookSettingsSaved => "webhook_settings_saved",
    NoSuchWebhook => "no_such_webhook",
    WebhookCannotSend => "webhook_cannot_send",
    WebhookFromEnvironment => "webhook_from_environment",
    WebhookPending => "webhook_pending",
    WebhookUndeliveredQueued => "webhook_undelivered_queued",
});

impl SettingsNotice {
    /// The sentence the page shows.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::UserAdded => "User added. Tell them their email and password; they can change the password in Settings.",
            Self::RoleChanged => "Role changed. It applies to their next click.",
            Self::UserRemoved => "User removed. Their sessions have ended.",
            Self::PasswordChanged => "Password changed. Your other sessions have ended.",
            Self::BadEmail => "That is not an email address.",
            Self::BadPassword => "A password needs at least 10 characters (and at most 256).",
            Self::PasswordMismatch => "The two new passwords differ: type the same one twice.",
            Self::EmailTaken => "An account with that email exists already.",
            Self::LastAdmin => "The dashboard must keep at least one administrator: make someone else an admin first.",
            Self::WrongPassword => "The current password is wrong.",
            Self::NoSuchUser => "There is no such user.",
            Self::TooManyAttempts => "Too many wrong passwords: wait 15 minutes before trying again.",
            Self::Busy => "The server is busy checking passwords; try again in a moment.",
            Self::Failed => "That did not work; the server logged why. Try again in a moment.",
            Self::KeyRevoked => "API key revoked. Its next request is refused.",
            Self::KeyNeedsName => "Give the key a name (at most 80 characters), e.g. the service that will use it.",
            Self::KeyNeedsScope => "Choose at least one scope for the key.",
            Self::KeyBadTags => "Write the key's tags as key=value, separated by commas: at most 20, each key of letters, digits, _, -, . or /, each value 1 to 64 characters without commas.",
            Self::KeyConfinedMetrics => "A key confined to tags cannot read the metrics (they count the whole fleet): leave metrics:read out, or the tags.",
            Self::NoSuchKey => "There is no such live API key: it was revoked already.",
            Self::KeyShareSet => "The key's share of Jira's quota is saved. It applies to the key's next call.",
            Self::KeyBadShare => "A key's Jira weight is a whole number from 1 to 100, and its hourly points budget a whole number from 1 to 100000000, or empty for none.",
            Self::WebhookDeleted => "Webhook endpoint deleted, with its delivery log.",
            Self::WebhookEnabled => "Webhook endpoint enabled. Deliveries that ended while it was disabled can be sent again with Redeliver.",
            Self::WebhookDisabled => "Webhook endpoint disabled: nothing is sent to it until it is enabled.",
            Self::WebhookTestQueued => "Test event queued: its delivery appears in the endpoint's log within seconds.",
            Self::WebhookRedelivered => "Delivery queued again: it is sent within seconds, with a new day of retries.",
            Self::WebhookSettingsSaved => "Webhook settings saved.",
            Self::NoSuchWebhook => "There is no such webhook endpoint.",
            Self::WebhookCannotSend => "Nothing can be sent to a disabled endpoint: enable it first.",
            Self::WebhookFromEnvironment => "The endpoint from WEBHOOK_URL is managed by the environment: change or unset WEBHOOK_URL and restart instead.",
            Self::WebhookPending => "That delivery is waiting for its next attempt already.",
            Self::WebhookUndeliveredQueued => "Everything this endpoint did not receive is queued again: it is sent within seconds.",
        }
    }

    /// Whether it reports a refusal rather than a success.
    pub fn is_error(self) -> bool {
        !matches!(
            self,
            Self::UserAdded
                | Self::RoleChanged
                | Self::UserRemoved
                | Self::PasswordChanged
                | Self::KeyRevoked
                | Self::KeyShareSet
                | Self::WebhookDeleted
                | Self::WebhookEnabled
                | Self::WebhookDisabled
                | Self::WebhookTestQueued
                | Self::WebhookRedelivered
                | Self::WebhookSettingsSaved
                | Self::WebhookUndeliveredQueued
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_sentence_states_the_real_limits() {
        let text = SettingsNotice::BadPassword.sentence();
        assert!(
            text.contains(&crate::access::MIN_PASSWORD_CHARS.to_string()),
            "{text}"
        );
        assert!(
            text.contains(&crate::access::MAX_PASSWORD_CHARS.to_string()),
            "{text}"
        );
    }

    #[test]
    fn the_jira_share_sentence_states_the_real_limits() {
        let text = SettingsNotice::KeyBadShare.sentence();
        use crate::api_scope::{MAX_JIRA_POINTS_PER_HOUR, MAX_JIRA_WEIGHT};
        assert!(text.contains(&format!("1 to {MAX_JIRA_WEIGHT},")), "{text}");
        assert!(
            text.contains(&format!("1 to {MAX_JIRA_POINTS_PER_HOUR},")),
            "{text}"
        );
    }

    #[test]
    fn codes_round_trip() {
        for notice in SettingsNotice::ALL {
            assert_eq!(SettingsNotice::parse(notice.as_str()), Some(*notice));
        }
    }
}
