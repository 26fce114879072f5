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

    /// Moves the offset by `secs`; answers the new offset.
    pub fn advance(&self, secs: i64) -> i64 {
        let secs = secs.clamp(-MAX_ADVANCE_SECS, MAX_ADVANCE_SECS);
        self.offset
            .fetch_add(secs, Ordering::SeqCst)
            .saturating_add(secs)
    }

    /// How far the clock has been moved from its source.
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }

    /// A clock `offset` seconds ahead of `source` (a persisted offset).
    pub fn with_offset(source: TimeSource, offset: i64) -> Self {
        Self {
            source,
            offset: AtomicI64::new(offset),
        }
    }
}
