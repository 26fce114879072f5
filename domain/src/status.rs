//! An integration's status from its timestamps: pure, so the server render and
//! the browser's ticking clock agree.

use serde::{Deserialize, Serialize};

use crate::RefreshPolicy;

/// Where an integration stands, derived from its timestamps by [`status_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Expiring,
    Expired,
    /// On demand ([`RefreshPolicy::OnDemand`]): the access token ran out and
    /// the refresh token is alive; the next use refreshes it. Healthy.
    Idle,
    NeedsReauth,
}

impl Status {
    /// The label a person reads on the badge.
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
            Status::Idle => "idle",
            Status::NeedsReauth => "needs re-auth",
        }
    }

    /// The machine name, as in the JSON (`needs_reauth`), for CSS classes,
    /// the `?status=` filter and test hooks.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
            Status::Idle => "idle",
            Status::NeedsReauth => "needs_reauth",
        }
    }

    /// The status named by [`Status::as_str`]'s text.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Every status, in the dashboard's order (a policy has a subset:
    /// [`RefreshPolicy::statuses`]).
    pub const ALL: [Status; 5] = [
        Status::Active,
        Status::Expiring,
        Status::Expired,
        Status::Idle,
        Status::NeedsReauth,
    ];
}

/// The facts the status depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInputs {
    pub is_active: bool,
    pub has_refresh_token: bool,
    /// Access token expiry, UNIX seconds.
    pub expires_at: i64,
    /// Seconds before expiry at which the token is refreshed.
    pub margin_secs: i64,
    pub policy: RefreshPolicy,
}

/// The status at `now` (UNIX seconds).
///
/// An inactive integration, or an expired one with no refresh token, needs
/// re-authentication: nothing can revive it without the user. An expired one
/// with a refresh token is merely `expired` (the next refresh revives it), or
/// `idle` on demand, where nothing refreshes it until it is needed. On demand
/// nothing is `expiring` either.
pub fn status_at(inputs: StatusInputs, now: i64) -> Status {
    if !inputs.is_active {
        Status::NeedsReauth
    } else if now >= inputs.expires_at {
        match (inputs.has_refresh_token, inputs.policy) {
            (false, _) => Status::NeedsReauth,
            (true, RefreshPolicy::Scheduled) => Status::Expired,
            (true, RefreshPolicy::OnDemand) => Status::Idle,
        }
    } else if inputs.expires_at - now <= inputs.policy.expiring_margin(inputs.margin_secs) {
        Status::Expiring
    } else {
        Status::Active
    }
}

/// How many connected integrations have each status at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSummary {
    pub active: i64,
    pub expiring: i64,
    pub expired: i64,
    #[serde(default)]
    pub idle: i64,
    pub needs_reauth: i64,
}

impl FleetSummary {
    /// The count of one status.
    pub fn count(&self, status: Status) -> i64 {
        match status {
            Status::Active => self.active,
            Status::Expiring => self.expiring,
            Status::Expired => self.expired,
            Status::Idle => self.idle,
            Status::NeedsReauth => self.needs_reauth,
        }
    }

    /// Every connected integration.
    pub fn total(&self) -> i64 {
        self.active + self.expiring + self.expired + self.idle + self.needs_reauth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("all"), None);
    }

    fn inputs(is_active: bool, has_refresh_token: bool) -> StatusInputs {
        StatusInputs {
            is_active,
            has_refresh_token,
            expires_at: 10_000,
            margin_secs: 300,
            policy: RefreshPolicy::Scheduled,
        }
    }

    #[test]
    fn on_demand_an_expired_token_with_a_refresh_token_is_idle() {
        let on_demand = |is_active, has_refresh_token| StatusInputs {
            policy: RefreshPolicy::OnDemand,
            ..inputs(is_active, has_refresh_token)
        };
        let i = on_demand(true, true);
        // Never "expiring": nothing refreshes ahead of time.
        assert_eq!(status_at(i, 10_000 - 301), Status::Active);
        assert_eq!(status_at(i, 9_999), Status::Active);
        assert_eq!(status_at(i, 10_000), Status::Idle);
        assert_eq!(status_at(i, 10_000 + 86_400), Status::Idle);
        // Without a refresh token, or deactivated, it is dead as before.
        assert_eq!(
            status_at(on_demand(true, false), 10_000),
            Status::NeedsReauth
        );
        assert_eq!(status_at(on_demand(false, true), 0), Status::NeedsReauth);
    }

    #[test]
    fn a_policy_lists_exactly_the_statuses_it_can_produce() {
        for policy in [RefreshPolicy::Scheduled, RefreshPolicy::OnDemand] {
            let mut seen = Vec::new();
            for (is_active, has_refresh_token) in [(true, true), (true, false), (false, true)] {
                for now in [0, 9_700, 9_999, 10_000, 20_000] {
                    let i = StatusInputs {
                        policy,
                        ..inputs(is_active, has_refresh_token)
                    };
                    let status = status_at(i, now);
                    if !seen.contains(&status) {
                        seen.push(status);
                    }
                }
            }
            for status in &seen {
                assert!(policy.statuses().contains(status), "{policy:?}: {status:?}");
            }
            assert_eq!(seen.len(), policy.statuses().len(), "{policy:?}");
        }
    }

    #[test]
    fn active_until_the_margin_then_expiring_then_expired() {
        let i = inputs(true, true);
        assert_eq!(status_at(i, 10_000 - 301), Status::Active);
        assert_eq!(status_at(i, 10_000 - 300), Status::Expiring);
        assert_eq!(status_at(i, 9_999), Status::Expiring);
        assert_eq!(status_at(i, 10_000), Status::Expired);
    }

    #[test]
    fn expired_without_refresh_token_needs_reauth() {
        assert_eq!(status_at(inputs(true, false), 10_000), Status::NeedsReauth);
        assert_eq!(status_at(inputs(true, false), 9_000), Status::Active);
    }

    #[test]
    fn inactive_always_needs_reauth() {
        assert_eq!(status_at(inputs(false, true), 0), Status::NeedsReauth);
    }
}
