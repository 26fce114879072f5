//! The sandbox's clock: an injected time source (the wall clock, or a test's
//! hand-moved clock) plus an offset that `/control/clock/advance` moves forward.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where the sandbox reads the time (UNIX seconds).
pub type TimeSource = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock as a [`TimeSource`].
pub fn system_time() -> TimeSource {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    })
}

/// The most one advance may move the clock (ten years): beyond any token's life.
pub const MAX_ADVANCE_SECS: i64 = 10 * 366 * 86_400;

/// The furthest the clock may be moved from its source in all (a hundred
/// years): far beyond any test's need, and far enough from `i64`'s limits
/// that every "now plus a lifetime" stays an ordinary number.
pub const MAX_OFFSET_SECS: i64 = 100 * 366 * 86_400;

/// A time source plus an adjustable offset.
pub struct SandboxClock {
    source: TimeSource,
    offset: AtomicI64,
}

impl SandboxClock {
    pub fn new(source: TimeSource) -> Self {
        Self {
            source,
            offset: AtomicI64::new(0),
        }
    }

    pub fn now(&self) -> i64 {
        (self.source)().saturating_add(self.offset.load(Ordering::SeqCst))
    }

    /// Moves the offset by `secs` (at most [`MAX_ADVANCE_SECS`] either way),
    /// stopping at [`MAX_OFFSET_SECS`] from the source; answers the new offset.
    pub fn advance(&self, secs: i64) -> i64 {
        let secs = secs.clamp(-MAX_ADVANCE_SECS, MAX_ADVANCE_SECS);
        let moved = |offset: i64| {
            offset
                .saturating_add(secs)
                .clamp(-MAX_OFFSET_SECS, MAX_OFFSET_SECS)
        };
        let before = self
            .offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| Some(moved(o)))
            .unwrap_or_else(|o| o);
        moved(before)
    }

    /// Moves the offset forward by `secs` (`0..=`[`MAX_ADVANCE_SECS`]) unless
    /// that would take it beyond [`MAX_OFFSET_SECS`]: the new offset, or
    /// `None` and no move at all.
    pub fn try_advance(&self, secs: i64) -> Option<i64> {
        if !(0..=MAX_ADVANCE_SECS).contains(&secs) {
            return None;
        }
        let moved = |offset: i64| {
            offset
                .checked_add(secs)
                .filter(|o| (-MAX_OFFSET_SECS..=MAX_OFFSET_SECS).contains(o))
        };
        self.offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, moved)
            .ok()
            .and_then(moved)
    }

    /// How far the clock has been moved from its source.
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }

    /// A clock `offset` seconds ahead of `source` (a persisted offset, held
    /// to [`MAX_OFFSET_SECS`]).
    pub fn with_offset(source: TimeSource, offset: i64) -> Self {
        Self {
            source,
            offset: AtomicI64::new(offset.clamp(-MAX_OFFSET_SECS, MAX_OFFSET_SECS)),
        }
    }
}

/// The UTC calendar date and time of `secs` (UNIX seconds):
/// `(year, month, day, hour, minute, second)`.
pub fn utc(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // `of_day` is in 0..86_400, so each part fits in a u32.
    let part = |v: i64| u32::try_from(v).unwrap_or_default();
    (
        year,
        month,
        day,
        part(of_day / 3_600),
        part(of_day % 3_600 / 60),
        part(of_day % 60),
    )
}

/// `secs` as an RFC 3339 UTC timestamp, e.g. `2027-01-15T08:00:00Z`.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = utc(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`): no date crate needed for two timestamp formats.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or_default();
    (year, small(month), small(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_stays_within_its_limit() {
        let clock = SandboxClock::new(Arc::new(|| 1_800_000_000));
        assert_eq!(clock.try_advance(-1), None);
        assert_eq!(clock.try_advance(MAX_ADVANCE_SECS + 1), None);
        assert_eq!(clock.try_advance(i64::MAX), None);
        assert_eq!(clock.offset(), 0, "a refused advance moves nothing");
        for _ in 0..10 {
            assert!(clock.try_advance(MAX_ADVANCE_SECS).is_some());
        }
        assert_eq!(clock.offset(), MAX_OFFSET_SECS);
        assert_eq!(clock.try_advance(1), None, "past 100 years");
        assert_eq!(clock.offset(), MAX_OFFSET_SECS);
        // The helper stops at the limit instead of wrapping.
        for _ in 0..20 {
            clock.advance(i64::MAX);
        }
        assert_eq!(clock.offset(), MAX_OFFSET_SECS);
        assert_eq!(clock.now(), 1_800_000_000 + MAX_OFFSET_SECS);
        let clock = SandboxClock::with_offset(Arc::new(|| 0), i64::MAX);
        assert_eq!(clock.offset(), MAX_OFFSET_SECS, "a stored offset too");
    }

    #[test]
    fn rfc3339_formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(951_825_599), "2000-02-29T11:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
