//! [`RefreshPolicy`]: when access tokens are refreshed (`REFRESH_POLICY`).

use serde::{Deserialize, Serialize};

use crate::{Status, UnixTime};

/// When the dashboard refreshes access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshPolicy {
    /// Every access token is kept fresh: the scheduler refreshes each one
    /// within the refresh margin of its expiry (24 token requests a day per
    /// integration with one-hour tokens).
    #[default]
    Scheduled,
    /// Access tokens are refreshed only when something needs one (the
    /// "Refresh token" button, a token hand-out, the proxy, a connection
    /// test); the scheduler only keeps each refresh token alive against the
    /// 90-day inactivity expiry. An expired access token whose refresh token
    /// is alive is [`Status::Idle`]: healthy, not a problem.
    OnDemand,
}

impl RefreshPolicy {
    /// The name in `REFRESH_POLICY` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::Scheduled => "scheduled",
            RefreshPolicy::OnDemand => "on-demand",
        }
    }

    /// The policy named by [`RefreshPolicy::as_str`]'s text.
    pub fn parse(text: &str) -> Option<Self> {
        [RefreshPolicy::Scheduled, RefreshPolicy::OnDemand]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// The statuses an integration can have under this policy, in the
    /// dashboard's order (nothing is "expiring" or "expired" on demand: an
    /// access token that ran out is idle until something needs it).
    pub fn statuses(self) -> &'static [Status] {
        match self {
            RefreshPolicy::Scheduled => &[
                Status::Active,
                Status::Expiring,
                Status::Expired,
                Status::NeedsReauth,
            ],
            RefreshPolicy::OnDemand => &[Status::Active, Status::Idle, Status::NeedsReauth],
        }
    }

    /// Seconds before expiry at which a token counts as expiring: the refresh
    /// margin when tokens are refreshed ahead of time, none on demand.
    pub fn expiring_margin(self, refresh_margin_secs: i64) -> i64 {
        match self {
            RefreshPolicy::Scheduled => refresh_margin_secs,
            RefreshPolicy::OnDemand => 0,
        }
    }
}

/// How statuses are judged: the refresh margin and the refresh policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRule {
    /// Refresh this many seconds before an access token expires.
    pub margin_secs: i64,
    pub policy: RefreshPolicy,
}

impl StatusRule {
    /// The instant up to which an access token counts as expiring.
    pub fn soon(self, now: UnixTime) -> UnixTime {
        now + self.policy.expiring_margin(self.margin_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [RefreshPolicy::Scheduled, RefreshPolicy::OnDemand] {
            assert_eq!(RefreshPolicy::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!(RefreshPolicy::parse("ondemand"), None);
    }
}
