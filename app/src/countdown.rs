//! Countdown text, the share of a token's lifetime left, and the times the
//! pages print: pure functions, shared by the server render and the browser.

use chrono::{DateTime, Datelike, Timelike};

/// UNIX seconds of an RFC 3339 time (0 if unparseable).
pub fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.timestamp())
        .unwrap_or_default()
}

/// `2026-11-27 14:03 UTC` for an RFC 3339 time (the text itself if unparseable).
pub fn short_time(rfc3339: &str) -> String {
    // Written field by field rather than with a format string: chrono's
    // format-string machinery would cost the browser bundle several KB.
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(d) => {
            let d = d.naive_utc();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute()
            )
        }
        Err(_) => rfc3339.to_owned(),
    }
}

/// `expires in 1h 36m 12s` for a token expiring `remaining` seconds from now;
/// `expired` at or past zero.
pub fn countdown_text(remaining: i64) -> String {
    if remaining <= 0 {
        return "expired".to_owned();
    }
    let days = remaining / 86_400;
    let hours = remaining % 86_400 / 3_600;
    let minutes = remaining % 3_600 / 60;
    let seconds = remaining % 60;
    let body = if days > 0 {
        format!("{days}d {hours}h {minutes}m")
    } else if hours > 0 {
        format!("{hours}h {minutes}m {seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    };
    format!("expires in {body}")
}

/// Percentage (0 to 100) of a `lifetime`-second token left with `remaining` seconds to go.
pub fn lifetime_left_percent(remaining: i64, lifetime: i64) -> u8 {
    if lifetime <= 0 || remaining <= 0 {
        return 0;
    }
    let pct = remaining.min(lifetime) * 100 / lifetime;
    u8::try_from(pct).unwrap_or(100)
}

/// `14:03:09` (UTC) for a UNIX time.
pub fn clock_text(now: i64) -> String {
    let secs = now.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_shows_the_largest_units() {
        assert_eq!(
            countdown_text(3_600 + 36 * 60 + 12),
            "expires in 1h 36m 12s"
        );
        assert_eq!(countdown_text(59 * 60 + 1), "expires in 59m 1s");
        assert_eq!(countdown_text(42), "expires in 42s");
        assert_eq!(
            countdown_text(2 * 86_400 + 3_600 * 3 + 60 * 4 + 5),
            "expires in 2d 3h 4m"
        );
    }

    #[test]
    fn countdown_at_or_past_zero_is_expired() {
        assert_eq!(countdown_text(0), "expired");
        assert_eq!(countdown_text(-5), "expired");
    }

    #[test]
    fn lifetime_share_is_clamped() {
        assert_eq!(lifetime_left_percent(1_800, 3_600), 50);
        assert_eq!(lifetime_left_percent(7_200, 3_600), 100);
        assert_eq!(lifetime_left_percent(-1, 3_600), 0);
        assert_eq!(lifetime_left_percent(10, 0), 0);
    }

    #[test]
    fn rfc3339_times_read_as_unix_seconds() {
        assert_eq!(unix("1970-01-01T00:01:40Z"), 100);
        assert_eq!(unix("1970-01-01T01:01:40+01:00"), 100);
        assert_eq!(unix("not a time"), 0);
    }

    #[test]
    fn short_time_is_utc_to_the_minute() {
        assert_eq!(short_time("2026-11-27T14:03:59Z"), "2026-11-27 14:03 UTC");
        assert_eq!(short_time("soon"), "soon");
    }

    #[test]
    fn clock_text_is_utc_hms() {
        assert_eq!(clock_text(86_400 + 14 * 3_600 + 3 * 60 + 9), "14:03:09");
    }
}
