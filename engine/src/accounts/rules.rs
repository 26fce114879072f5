//! The pure rules of accounts: what an email and a password must be, and when
//! the sign-in throttle lets the next attempt through ([`attempt_verdict`]).
//!
//! The throttle refuses by (email, address) pair and by address, never by
//! email alone: a stranger who knows someone's email cannot lock them out
//! from elsewhere. An email guessed from many addresses is slowed down
//! instead, progressively: never for a browser that signed in to it before
//! (a known device), nor, until the email has [`CLEAN_ADDRESS_CAP`] failures
//! in the window, for an address with no recent failure; so its owner's
//! right password gets through whatever others guess, while a guesser with
//! many addresses gets at most that many quick guesses per window.

use domain::UnixTime;

/// Failed sign-ins allowed per (email, client address) pair in
/// [`WINDOW_SECS`]; the next attempt from that address for that email is
/// refused unseen until the oldest leaves the window.
pub(crate) const MAX_FAILURES: usize = 5;
/// Failed sign-ins allowed per client address, whatever the emails, in
/// [`WINDOW_SECS`] (one address spraying passwords over many accounts).
pub(crate) const MAX_ADDRESS_FAILURES: usize = 20;
/// Failures an email collects, from any address, before it is slowed down:
/// each further attempt from an address that failed recently waits 2 s,
/// then 4 s, 8 s ... (doubling per failure, at most [`WINDOW_SECS`]) after
/// the email's newest failure.
pub(crate) const SLOW_DOWN_AFTER: usize = 5;
/// Failures an email collects in the window before even addresses without a
/// recent failure are slowed down for it (known devices never are): the
/// bound on the guesses of someone holding many addresses.
pub const CLEAN_ADDRESS_CAP: usize = 10;
/// The throttle's window: 15 minutes.
pub(crate) const WINDOW_SECS: i64 = 15 * 60;
use domain::access::MAX_PASSWORD_CHARS;
pub use domain::access::MIN_PASSWORD_CHARS;
/// The longest email accepted (RFC 5321's path limit).
pub(crate) const MAX_EMAIL_CHARS: usize = 254;

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

/// The failures the throttle weighs for one sign-in attempt, each list
/// newest first (older than the window or not, it sorts that out).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptHistory<'a> {
    /// This email from this address.
    pub pair: &'a [UnixTime],
    /// This address, for any email.
    pub address: &'a [UnixTime],
    /// This email, from any address.
    pub email: &'a [UnixTime],
    /// The browser proved it signed in to this account before: that
    /// proof's own failures (a known device has its own count instead of
    /// the address's and the email's).
    pub known_device: Option<&'a [UnixTime]>,
}

/// How many seconds until this attempt may be made; `None` when it may be
/// made now (and its password checked).
pub(crate) fn attempt_verdict(history: AttemptHistory<'_>, now: UnixTime) -> Option<i64> {
    // The owner's own browser: neither a shared network's failures nor
    // strangers guessing at the email hold it up, and a stolen proof gets
    // five guesses a window, like one address.
    // A proof whose own door is shut counts for nothing: the attempt is
    // judged like one without it.
    let known_and_open = history
        .known_device
        .is_some_and(|device| throttled_for(device, MAX_FAILURES, now).is_none());
    if known_and_open {
        return None;
    }
    let address = recent(history.address, now);
    throttled_for(history.pair, MAX_FAILURES, now)
        .or_else(|| throttled_for(history.address, MAX_ADDRESS_FAILURES, now))
        .or_else(|| {
            // An address with no recent failure is heard at once, until
            // strangers have spent the quick guesses such addresses get.
            let quick = address.is_empty() && recent(history.email, now).len() < CLEAN_ADDRESS_CAP;
            if quick {
                return None;
            }
            slowed_for(history.email, now)
        })
}

/// Given one subject's failures (newest first), how many seconds until it may
/// try again when `max` failures inside the window close its door; `None`
/// when it may try now.
pub(crate) fn throttled_for(
    failures_newest_first: &[UnixTime],
    max: usize,
    now: UnixTime,
) -> Option<i64> {
    let recent = recent(failures_newest_first, now);
    if recent.len() < max || max == 0 {
        return None;
    }
    // Once the max-th newest leaves the window, fewer than max remain inside it.
    let freeing = recent[max - 1];
    Some((freeing.secs() + WINDOW_SECS - now.secs()).max(1))
}

/// An email's slow-down: after [`SLOW_DOWN_AFTER`] failures inside the window,
/// the wait after its newest failure doubles with each further one.
fn slowed_for(email_failures_newest_first: &[UnixTime], now: UnixTime) -> Option<i64> {
    let recent = recent(email_failures_newest_first, now);
    if recent.len() < SLOW_DOWN_AFTER {
        return None;
    }
    let doublings = u32::try_from(recent.len() - SLOW_DOWN_AFTER + 1).unwrap_or(u32::MAX);
    let wait = 2_i64
        .checked_pow(doublings)
        .map_or(WINDOW_SECS, |w| w.min(WINDOW_SECS));
    let until = recent[0].secs() + wait;
    (until > now.secs()).then(|| until - now.secs())
}

fn recent(failures: &[UnixTime], now: UnixTime) -> Vec<UnixTime> {
    failures
        .iter()
        .copied()
        .filter(|at| at.secs() > now.secs() - WINDOW_SECS)
        .collect()
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
        assert_eq!(throttled_for(&four, MAX_FAILURES, now), None);
        // Five failures at 9,900 .. 9,896: the oldest leaves at 9,896 + 900.
        let five: Vec<UnixTime> = (0..5).map(|i| at(9_900 - i)).collect();
        assert_eq!(
            throttled_for(&five, MAX_FAILURES, now),
            Some(9_896 + 900 - 10_000)
        );
        // Failures older than the window do not count.
        let old: Vec<UnixTime> = (0..10).map(|i| at(9_000 - i)).collect();
        assert_eq!(throttled_for(&old, MAX_FAILURES, now), None);
    }

    fn verdict(
        pair: &[UnixTime],
        address: &[UnixTime],
        email: &[UnixTime],
        now: UnixTime,
    ) -> Option<i64> {
        attempt_verdict(
            AttemptHistory {
                pair,
                address,
                email,
                known_device: None,
            },
            now,
        )
    }

    #[test]
    fn the_pair_and_the_address_close_their_doors_but_the_email_alone_never_does() {
        let now = at(10_000);
        let five: Vec<UnixTime> = (0..5).map(|i| at(9_990 - i)).collect();
        // This address failed five times for this email: refused.
        assert!(verdict(&five, &five, &five, now).is_some());
        // Another address, never failed, same email: heard while the email
        // has fewer than CLEAN_ADDRESS_CAP failures from elsewhere ...
        let nine: Vec<UnixTime> = (0..9).map(|i| at(9_999 - i)).collect();
        assert_eq!(verdict(&[], &[], &nine, now), None);
        // ... then slowed like any other (a guesser with many addresses) ...
        let many: Vec<UnixTime> = (0..500).map(|i| at(9_999 - i % 800)).collect();
        assert!(verdict(&[], &[], &many, now).is_some());
        // ... but never the owner's own browser, wherever it is, even on a
        // network whose address failed twenty times for this email ...
        let twenty: Vec<UnixTime> = (0..20).map(|i| at(9_990 - i)).collect();
        let owner = AttemptHistory {
            pair: &twenty,
            address: &twenty,
            email: &many,
            known_device: Some(&[]),
        };
        assert_eq!(attempt_verdict(owner, now), None);
        // ... while a proof that failed five times (stolen, guessed with)
        // closes its own door: judged like no proof at all.
        let stolen = AttemptHistory {
            known_device: Some(&five),
            ..owner
        };
        assert!(attempt_verdict(stolen, now).is_some());
        let stolen_elsewhere = AttemptHistory {
            pair: &[],
            address: &[],
            email: &[],
            known_device: Some(&five),
        };
        assert_eq!(attempt_verdict(stolen_elsewhere, now), None);
    }

    #[test]
    fn an_email_guessed_from_many_addresses_slows_down_progressively() {
        let now = at(10_000);
        let dirty = [at(9_000 + 500)];
        // Four failures: no wait.
        let four: Vec<UnixTime> = (0..4).map(|i| at(9_999 - i)).collect();
        assert_eq!(verdict(&[], &dirty, &four, now), None);
        // Five, the newest just now: 2 s; six: 4 s; ... capped at the window.
        let waits: Vec<Option<i64>> = (5..=16)
            .map(|n| {
                let email: Vec<UnixTime> = (0..n).map(|i| at(10_000 - i)).collect();
                verdict(&[], &dirty, &email, now)
            })
            .collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900].map(Some)
        );
        // The wait counts from the newest failure.
        let email: Vec<UnixTime> = (0..6).map(|i| at(9_990 - i)).collect();
        assert_eq!(verdict(&[], &dirty, &email, now), None);
        // An address without a recent failure is not slowed, below the cap.
        let email: Vec<UnixTime> = (0..9).map(|i| at(10_000 - i)).collect();
        assert_eq!(verdict(&[], &[], &email, now), None);
    }
}
