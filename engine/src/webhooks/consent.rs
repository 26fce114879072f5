//! `integration.consent_expiring`: Atlassian ends every token family 365 days
//! after its consent, whatever the refreshes do. The scheduler warns 30, 7 and
//! 1 days before, once each per consent (a new consent starts over); a server
//! that was down across a threshold sends only the most urgent one due.

use domain::time::CONSENT_LIFETIME_SECS;
use domain::webhook_event::CONSENT_WARNING_DAYS;
use domain::{IntegrationId, UnixTime, WebhookEvent};

use crate::Engine;
use domain::time::rfc3339;
use domain::Notice;

/// Integrations read per batch, and batches per tick at most (the rest are
/// next tick's).
const BATCH: i64 = 500;
const MAX_BATCHES: usize = 20;

/// The threshold (days) a consent ending at `ends_at` has reached at `now`,
/// if any: the smallest of 30, 7, 1 whose window has begun. `None` before 30
/// days are left and once the consent has ended.
pub(crate) fn threshold_reached(ends_at: UnixTime, now: UnixTime) -> Option<i64> {
    let left = ends_at - now;
    if left <= 0 {
        return None;
    }
    CONSENT_WARNING_DAYS
        .iter()
        .copied()
        .filter(|days| left <= days * 86_400)
        .min()
}

/// The notice for a consent ending at `ends_at`, `days` ahead.
pub(crate) fn consent_notice(account_name: &str, days: i64, ends_at: UnixTime) -> Notice {
    let when = rfc3339(ends_at);
    let span = if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    };
    Notice {
        days_left: Some(days),
        ..Notice::new(
            WebhookEvent::ConsentExpiring,
            Some(&format!("consent_expires_in_{days}_days")),
            format!(
                "The consent of {account_name} ends within {span} ({when}): Atlassian then rejects its refresh token. \
                 Re-authenticate before then to keep it working."
            ),
        )
    }
}

impl Engine {
    /// Sends the consent warnings due at `now`; the integrations warned.
    /// Reads the due rows a batch at a time (each read skips the rows just
    /// warned), at most [`MAX_BATCHES`] batches per tick.
    pub async fn warn_expiring_consents(&self, now: UnixTime) -> Vec<IntegrationId> {
        let mut warned = Vec::new();
        for _ in 0..MAX_BATCHES {
            let due = match self.db().consents_to_warn(now, BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "could not list the consents that end soon");
                    break;
                }
            };
            let mut progress = false;
            let full = i64::try_from(due.len()).unwrap_or(BATCH) >= BATCH;
            for (id, account_name, consented_at) in due {
                let ends_at = consented_at + CONSENT_LIFETIME_SECS;
                let Some(days) = threshold_reached(ends_at, now) else {
                    continue;
                };
                let notice = consent_notice(&account_name, days, ends_at);
                match self
                    .db()
                    .mark_consent_warned(id, days, &notice, self.settings().status_rule(), now)
                    .await
                {
                    Ok(true) => {
                        progress = true;
                        warned.push(id);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(integration = %id, error = %e, "could not record a consent warning")
                    }
                }
            }
            if !full || !progress {
                break;
            }
        }
        if !warned.is_empty() {
            self.wake_webhooks();
        }
        warned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn thresholds_are_reached_at_30_7_and_1_days() {
        let ends = UnixTime(1_000 * DAY);
        assert_eq!(threshold_reached(ends, ends - (30 * DAY + 1)), None);
        assert_eq!(threshold_reached(ends, ends - 30 * DAY), Some(30));
        assert_eq!(threshold_reached(ends, ends - 8 * DAY), Some(30));
        assert_eq!(threshold_reached(ends, ends - 7 * DAY), Some(7));
        assert_eq!(threshold_reached(ends, ends - 2 * DAY), Some(7));
        assert_eq!(threshold_reached(ends, ends - DAY), Some(1));
        assert_eq!(threshold_reached(ends, ends - 1), Some(1));
        assert_eq!(threshold_reached(ends, ends), None);
    }

    #[test]
    fn the_notice_names_the_days_and_the_date() {
        let n = consent_notice("Ada", 7, UnixTime(1_800_000_000));
        assert_eq!(n.reason.as_deref(), Some("consent_expires_in_7_days"));
        assert_eq!(n.days_left, Some(7));
        assert!(
            n.message.contains("within 7 days (2027-01-15T08:00:00Z)"),
            "{}",
            n.message
        );
    }
}
