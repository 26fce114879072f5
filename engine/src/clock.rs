//! The time source. Every piece of expiry logic takes a [`Clock`] so tests can
//! move time forward without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use domain::UnixTime;

/// Something that tells the current time in UNIX seconds.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime(chrono::Utc::now().timestamp())
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock that reads `start` until advanced.
    pub fn new(start: i64) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let clock = ManualClock::new(1_000);
        let other = clock.clone();
        assert_eq!(clock.now(), UnixTime(1_000));
        clock.advance(60);
        assert_eq!(other.now(), UnixTime(1_060));
        other.set(5);
        assert_eq!(clock.now(), UnixTime(5));
    }
}
