//! How many scheduled token requests may be in flight towards the provider
//! at once. A fixed number is wrong everywhere: 8 requests at 150 ms each is
//! 53 refreshes a second, far below what a large fleet needs, while a
//! provider that is struggling needs fewer, not more. So the number adapts,
//! within a configurable ceiling (`SCHEDULER_MAX_CONCURRENCY`):
//!
//! - **Slow start**, then **additive increase**: it doubles every round trip
//!   until the first sign of trouble, then grows by one per round trip.
//! - **Latency**: an answer much slower than the fastest seen lately (twice
//!   the baseline and 50 ms more) means a queue is building at the provider:
//!   the number shrinks by a tenth.
//! - **Overload**: a `429`, a timeout or a `5xx` halves it (the engine's own
//!   pause after a `429` also applies).
//!
//! It learns from every refresh token request, scheduled or not, timed from
//! the request to its answer: the lease, the claims and the writes around it
//! are the database's latency, and must not read as a struggling provider
//! (a slow database holds the refreshes back anyway: each one waits for a
//! connection of the pool).
//!
//! Pure arithmetic behind a mutex; the clock is the caller's (each answer's
//! measured duration), so every rule is a unit test below.

use std::sync::Mutex;
use std::time::Duration;

/// Where the number starts, and its floor.
pub const INITIAL: usize = 8;
const FLOOR: f64 = 1.0;

#[derive(Debug)]
struct State {
    limit: f64,
    ceiling: f64,
    slow_start: bool,
    /// The fastest recent answer, in ms (drifts up slowly, so that a provider
    /// that became slower for good becomes the new normal).
    baseline_ms: Option<f64>,
}

/// The adaptive concurrency limit (one per engine).
#[derive(Debug)]
pub(crate) struct ProviderPace(Mutex<State>);

/// What an answer said about the provider's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// An answer (success, or an error that is not about load).
    Answered,
    /// `429`, a timeout, a `5xx`: too much.
    Overloaded,
}

impl ProviderPace {
    pub(crate) fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1) as f64;
        Self(Mutex::new(State {
            limit: (INITIAL as f64).min(ceiling),
            ceiling,
            slow_start: true,
            baseline_ms: None,
        }))
    }

    /// How many may be in flight now.
    pub(crate) fn limit(&self) -> usize {
        let state = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Truncation is the point: whole requests.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = state.limit.floor() as usize;
        whole.max(1)
    }

    /// Learns from one answer that took `took`.
    pub(crate) fn record(&self, signal: Signal, took: Duration) {
        let mut s = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ms = took.as_secs_f64() * 1000.0;
        match signal {
            Signal::Overloaded => {
                s.slow_start = false;
                s.limit = (s.limit / 2.0).max(FLOOR);
            }
            Signal::Answered => {
                let baseline = match s.baseline_ms {
                    None => ms,
                    Some(b) => (b * 1.002).min(ms),
                };
                s.baseline_ms = Some(baseline);
                if ms > baseline * 2.0 + 50.0 {
                    s.slow_start = false;
                    s.limit = (s.limit * 0.9).max(FLOOR);
                } else if s.slow_start {
                    // One more per answer: doubles every round trip.
                    s.limit += 1.0;
                } else {
                    // One more per round trip.
                    s.limit += 1.0 / s.limit;
                }
                s.limit = s.limit.min(s.ceiling);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(150);

    /// `n` answers in a row.
    fn answers(pace: &ProviderPace, n: usize, took: Duration) {
        for _ in 0..n {
            pace.record(Signal::Answered, took);
        }
    }

    #[test]
    fn it_grows_fast_to_the_ceiling_while_the_provider_keeps_pace() {
        let pace = ProviderPace::new(256);
        assert_eq!(pace.limit(), INITIAL);
        // Slow start: a round trip of `limit` answers doubles it.
        answers(&pace, 8, FAST);
        assert_eq!(pace.limit(), 16);
        answers(&pace, 1_000, FAST);
        assert_eq!(pace.limit(), 256, "never past the ceiling");
        assert_eq!(ProviderPace::new(4).limit(), 4, "a ceiling below the start");
    }

    #[test]
    fn overload_halves_it_and_growth_is_then_additive() {
        let pace = ProviderPace::new(256);
        answers(&pace, 56, FAST);
        assert_eq!(pace.limit(), 64);
        pace.record(Signal::Overloaded, FAST);
        assert_eq!(pace.limit(), 32);
        // About one more per round trip (32 answers) now, not doubling.
        answers(&pace, 40, FAST);
        assert_eq!(pace.limit(), 33);
        for _ in 0..20 {
            pace.record(Signal::Overloaded, FAST);
        }
        assert_eq!(pace.limit(), 1, "never below one");
    }

    #[test]
    fn answers_much_slower_than_the_baseline_shrink_it() {
        let pace = ProviderPace::new(256);
        answers(&pace, 56, FAST);
        assert_eq!(pace.limit(), 64);
        // 150 ms baseline: 349 ms is still normal, 400 ms is a queue.
        pace.record(Signal::Answered, Duration::from_millis(349));
        assert_eq!(pace.limit(), 65);
        pace.record(Signal::Answered, Duration::from_millis(400));
        assert_eq!(pace.limit(), 58);
        // A provider that is uniformly slower (a far region) is not
        // overloaded: 400 ms from the start grows like 150 ms did.
        let far = ProviderPace::new(256);
        answers(&far, 8, Duration::from_millis(400));
        assert_eq!(far.limit(), 16);
    }
}
