//! [`Refreshing`]: what one process's refreshes share, owned in one place:
//! the refreshes in flight (single-flight per integration), the name on the
//! leases this process takes, the adaptive pace of scheduled token requests,
//! and the pause the provider asked for (a `429`, or credentials it
//! rejected), which the scheduler honours.

use std::sync::atomic::{AtomicI64, Ordering};

use rand::RngCore;

use domain::UnixTime;

use super::Flights;
use crate::provider_pace::ProviderPace;

/// The longest the whole scheduler pauses after a `429`.
pub const MAX_SLOW_DOWN_SECS: i64 = 120;

/// The refreshes' shared state in this process.
pub(crate) struct Refreshing {
    /// Refreshes in flight in this process (single-flight per integration).
    flights: Flights,
    /// This process's name on the refresh leases it takes (random).
    owner: String,
    /// Until when the provider asked everyone to slow down: the scheduler
    /// starts no refresh before then. UNIX seconds; 0 = never.
    slow_down_until: AtomicI64,
    /// How many scheduled token requests may be in flight (adaptive).
    pace: ProviderPace,
}

impl Refreshing {
    /// Fresh state for a process allowing `max_concurrency` scheduled token
    /// requests in flight at the most.
    pub(crate) fn new(max_concurrency: usize) -> Self {
        Self {
            flights: Flights::default(),
            owner: lease_owner(),
            slow_down_until: AtomicI64::new(0),
            pace: ProviderPace::new(max_concurrency),
        }
    }

    pub(super) fn flights(&self) -> &Flights {
        &self.flights
    }

    /// This process's name on the leases and claims it takes.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// The adaptive pace of scheduled token requests.
    pub(crate) fn pace(&self) -> &ProviderPace {
        &self.pace
    }

    /// No scheduled refresh of this process starts for `secs` (at most
    /// [`MAX_SLOW_DOWN_SECS`]; longer waits are each row's own
    /// `retry_after`). Answers the pause's end if it moved it.
    pub(crate) fn slow_down(&self, now: UnixTime, secs: i64) -> Option<UnixTime> {
        let until = now + secs.clamp(0, MAX_SLOW_DOWN_SECS);
        let moved = self.pause_until(until);
        tracing::warn!(
            until = until.secs(),
            "the provider asked to slow down: the scheduler pauses"
        );
        moved.then_some(until)
    }

    /// Pauses until `until` unless already paused as long: whether it moved.
    pub(crate) fn pause_until(&self, until: UnixTime) -> bool {
        let before = self
            .slow_down_until
            .fetch_max(until.secs(), Ordering::SeqCst);
        until.secs() > before
    }

    /// Until when everyone must hold off, if ever.
    pub(crate) fn slowed_down_until(&self) -> Option<UnixTime> {
        Some(UnixTime(self.slow_down_until.load(Ordering::SeqCst))).filter(|t| t.secs() > 0)
    }

    /// Whether the scheduler must hold off at `now`.
    pub(crate) fn slowed_down(&self, now: UnixTime) -> bool {
        now.secs() < self.slow_down_until.load(Ordering::SeqCst)
    }
}

/// A random name for this process's leases.
fn lease_owner() -> String {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
