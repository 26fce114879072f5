//! [`UnixTime`]: an instant in whole UNIX seconds, and the lifetimes Atlassian
//! gives its tokens (`shared/ATLASSIAN.md`).

use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// Atlassian's refresh tokens die after 90 days without use.
pub const REFRESH_TOKEN_IDLE_SECS: i64 = 90 * 86_400;
/// A refresh-token family dies 365 days after the consent that began it.
pub const CONSENT_LIFETIME_SECS: i64 = 365 * 86_400;
/// A refresh token unused this long is refreshed anyway, well before
/// Atlassian's 90-day inactivity expiry ends it.
pub const IDLE_REFRESH_SECS: i64 = 30 * 86_400;
/// A rotated-away refresh token still works this long (the retry leeway).
pub const ROTATION_LEEWAY_SECS: i64 = 600;

/// Seconds since the UNIX epoch. Arithmetic saturates: a provider's absurd
/// `expires_in` can never overflow into the past.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The plain number of seconds.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl Add<i64> for UnixTime {
    type Output = UnixTime;

    fn add(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

impl Sub<i64> for UnixTime {
    type Output = UnixTime;

    fn sub(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_sub(secs))
    }
}

/// Seconds from `earlier` to `self` (negative when `earlier` is later).
impl Sub<UnixTime> for UnixTime {
    type Output = i64;

    fn sub(self, earlier: UnixTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// RFC 3339 (UTC, whole seconds) for an instant: how every view, page and
/// webhook message writes one.
pub fn rfc3339(at: UnixTime) -> String {
    chrono::DateTime::from_timestamp(at.secs(), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        assert_eq!(UnixTime(10) + 5, UnixTime(15));
        assert_eq!(UnixTime(10) - 5, UnixTime(5));
        assert_eq!(UnixTime(10) - UnixTime(4), 6);
        assert_eq!(UnixTime(i64::MAX - 1) + 10, UnixTime(i64::MAX));
        assert_eq!(UnixTime(i64::MIN + 1) - 10, UnixTime(i64::MIN));
    }
}
