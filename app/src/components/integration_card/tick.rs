//! What one tick of the page clock makes a card show: its status badge, its
//! countdown line and its lifetime bar. Pure, so the server's render, the
//! browser's ticks and the tests agree.

use crate::countdown::{countdown_text, lifetime_left_percent};
use crate::model::Status;
use crate::status::{status_at, StatusInputs};

/// What a card shows for one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTick {
    pub status: Status,
    pub countdown: Countdown,
}

impl CardTick {
    /// The card of an integration with `inputs` and an access token of
    /// `lifetime` seconds, at `now` (UNIX seconds).
    pub fn at(inputs: StatusInputs, lifetime: i64, now: i64) -> Self {
        let status = status_at(inputs, now);
        Self {
            status,
            countdown: Countdown::at(status, inputs.expires_at - now, lifetime),
        }
    }
}

/// A card's countdown line and lifetime bar for one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countdown {
    pub text: String,
    /// Share of the access token's lifetime left, 0 to 100.
    pub percent: u8,
}

impl Countdown {
    /// For a card whose status is `status` (at the same instant) and whose
    /// access token, `lifetime` seconds long, expires `remaining` seconds from
    /// now. A card that needs re-authentication before its token has expired
    /// (it was deactivated) says so in front of the countdown.
    pub fn at(status: Status, remaining: i64, lifetime: i64) -> Self {
        let text = if status == Status::NeedsReauth && remaining > 0 {
            format!("inactive: {}", countdown_text(remaining))
        } else if status == Status::Idle {
            "idle: refreshed when next needed".to_owned()
        } else {
            countdown_text(remaining)
        };
        Self {
            text,
            percent: lifetime_left_percent(remaining, lifetime),
        }
    }

    /// The bar's fill, as an inline style.
    pub fn fill_style(&self) -> String {
        format!("width: {}%", self.percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPIRES_AT: i64 = 10_000;
    const LIFETIME: i64 = 3_600;

    fn inputs(is_active: bool, has_refresh_token: bool) -> StatusInputs {
        StatusInputs {
            is_active,
            has_refresh_token,
            expires_at: EXPIRES_AT,
            margin_secs: 300,
            policy: domain::RefreshPolicy::Scheduled,
        }
    }

    #[test]
    fn an_idle_card_says_it_is_refreshed_when_next_needed() {
        let on_demand = StatusInputs {
            policy: domain::RefreshPolicy::OnDemand,
            ..inputs(true, true)
        };
        assert_eq!(
            CardTick::at(on_demand, LIFETIME, EXPIRES_AT - 10),
            CardTick {
                status: Status::Active,
                countdown: Countdown::at(Status::Active, 10, LIFETIME),
            }
        );
        let idle = CardTick::at(on_demand, LIFETIME, EXPIRES_AT + 5);
        assert_eq!(idle.status, Status::Idle);
        assert_eq!(idle.countdown.text, "idle: refreshed when next needed");
        assert_eq!(idle.countdown.percent, 0);
    }

    fn tick(status: Status, text: &str, percent: u8) -> CardTick {
        CardTick {
            status,
            countdown: Countdown {
                text: text.to_owned(),
                percent,
            },
        }
    }

    #[test]
    fn an_active_card_counts_down_and_empties_its_bar() {
        let i = inputs(true, true);
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT - LIFETIME),
            tick(Status::Active, "expires in 1h 0m 0s", 100)
        );
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT - 1_800),
            tick(Status::Active, "expires in 30m 0s", 50)
        );
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT - 300),
            tick(Status::Expiring, "expires in 5m 0s", 8)
        );
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT),
            tick(Status::Expired, "expired", 0)
        );
    }

    #[test]
    fn a_deactivated_card_says_inactive_until_its_token_expires() {
        let i = inputs(false, true);
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT - 42),
            tick(Status::NeedsReauth, "inactive: expires in 42s", 1)
        );
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT),
            tick(Status::NeedsReauth, "expired", 0)
        );
    }

    #[test]
    fn without_a_refresh_token_expiry_needs_reauth_and_reads_expired() {
        let i = inputs(true, false);
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT - 42),
            tick(Status::Expiring, "expires in 42s", 1)
        );
        assert_eq!(
            CardTick::at(i, LIFETIME, EXPIRES_AT + 5),
            tick(Status::NeedsReauth, "expired", 0)
        );
    }

    #[test]
    fn the_bar_is_filled_by_width() {
        assert_eq!(
            Countdown::at(Status::Active, 1_800, LIFETIME).fill_style(),
            "width: 50%"
        );
        assert_eq!(
            Countdown::at(Status::Expired, -1, LIFETIME).fill_style(),
            "width: 0%"
        );
    }
}
