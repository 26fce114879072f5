//! The pure rules of accounts: what an email and a password must be, and when
//! the sign-in throttle lets the next attempt through.

use domain::UnixTime;

/// Failed sign-ins allowed per email and per client address in [`WINDOW_SECS`].
pub const MAX_FAILURES: usize = 5;
/// The throttle's window: 15 minutes.
pub const WINDOW_SECS: i64 = 15 * 60;
pub use domain::access::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
/// The longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email as stored: trimmed and lower-cased, or why it is not one.
pub fn normalized_email(text: &str) -> Result<String, String> {
    let email = text.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err("An email address needs an @.".to_owned());
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err("That is not an email address.".to_owned());
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "An email address has at most {MAX_EMAIL_CHARS} characters."
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("An email address has no spaces or control characters.".to_owned());
    }
    Ok(email)
}

/// Whether `password` may be chosen, or why not.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "A password needs at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "A password has at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    Ok(())
}

/// Given one subject's failures inside the window (newest first), how many
/// seconds until it may try again; `None` when it may try now.
pub fn throttled_for(failures_newest_first: &[UnixTime], now: UnixTime) -> Option<i64> {
    let recent: Vec<UnixTime> = failures_newest_first
        .iter()
        .copied()
        .filter(|at| at.secs() > now.secs() - WINDOW_SECS)
        .collect();
    if recent.len() < MAX_FAILURES {
        return None;
    }
    // Once the MAX_FAILURES-th newest leaves the window, fewer than
    // MAX_FAILURES remain inside it.
    let freeing = recent[MAX_FAILURES - 1];
    Some((freeing.secs() + WINDOW_SECS - now.secs()).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> UnixTime {
        UnixTime(secs)
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalized_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalized_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalized_email(&format!("{}@example.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough!").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn five_failures_in_fifteen_minutes_close_the_door_until_the_oldest_leaves() {
        let now = at(10_000);
        let four: Vec<UnixTime> = (0..4).map(|i| at(9_900 - i)).collect();
        assert_eq!(throttled_for(&four, now), None);
        // Five failures at 9,900 .. 9,896: the oldest leaves at 9,896 + 900.
        let five: Vec<UnixTime> = (0..5).map(|i| at(9_900 - i)).collect();
        assert_eq!(throttled_for(&five, now), Some(9_896 + 900 - 10_000));
        // Failures older than the window do not count.
        let old: Vec<UnixTime> = (0..10).map(|i| at(9_000 - i)).collect();
        assert_eq!(throttled_for(&old, now), None);
    }
}
