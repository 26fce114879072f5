//! Pacing one quota pool before any `429` (pure; Atlassian's "Build an app
//! that respects rate limits": spread calls so the quota lasts its window).
//!
//! A pool paces while it is known and running low: near its limit (the
//! answers say so, or less than a fifth is left), or the last minute's
//! spending, kept up, would empty it before it resets. Pacing lets points
//! out at what is left divided by the seconds left (recomputed from every
//! answer, so it converges on spending the whole pool by the reset), and
//! shares them fairly: a key that spent more than an equal share of this
//! window, among the keys that called in the last minute, waits while the
//! others go. A spent pool holds every call until it resets, but for one
//! call every 30 s that checks it still is (one header is not trusted alone).
//!
//! What a call costs is learnt from the answers: the drop in the pool's
//! remaining points since the answer before (1 at least), kept per key as a
//! running average.

use std::collections::{HashMap, VecDeque};

use domain::UnixTime;

/// How far back spending and activity count.
const RECENT_SECS: i64 = 60;
/// Below this share of its points (one in five) a pool is near its limit.
const NEAR_LIMIT_DIVISOR: u64 = 5;
/// The most a paced pool saves up while nobody calls, in seconds of its
/// rate: callers that come in bursts still spend the pool, and no burst
/// takes more than a minute's points.
const BURST_SECS: f64 = 60.0;
/// A key may run this far past an equal share before it waits.
const FAIR_SLACK: f64 = 1.1;
/// A pool said to be spent lets one call through this often to check.
const PROBE_AFTER_SECS: i64 = 30;
/// The longest a paced call is told to wait before asking again.
const MAX_PACE_WAIT_SECS: i64 = 60;

/// Why a call must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paced {
    /// The pool is spent: until it resets.
    Spent { retry_after_secs: i64 },
    /// The pool is paced and this call's points are not due yet.
    NotYet { retry_after_secs: i64 },
    /// This key took more than its share while others call.
    OverShare { retry_after_secs: i64 },
}

impl Paced {
    pub fn retry_after_secs(self) -> i64 {
        match self {
            Paced::Spent { retry_after_secs }
            | Paced::NotYet { retry_after_secs }
            | Paced::OverShare { retry_after_secs } => retry_after_secs,
        }
    }

    /// The reason a `rate_limited` answer gives.
    pub fn reason(self) -> &'static str {
        match self {
            Paced::Spent { .. } => "quota-spent",
            Paced::NotYet { .. } => "paced",
            Paced::OverShare { .. } => "fair-share",
        }
    }
}

/// One pool's pacing state.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// The pool as last seen: remaining points, when it resets, its size.
    remaining: Option<u64>,
    resets_at: UnixTime,
    points: Option<u64>,
    near_limit: bool,
    /// Points that may go out now, while pacing.
    allowance: f64,
    accrued_at: UnixTime,
    /// Points each key spent this window.
    spent: HashMap<i64, f64>,
    /// When each key last called.
    active: HashMap<i64, UnixTime>,
    /// What a call of each key costs, on average.
    cost: HashMap<i64, f64>,
    /// Points spent, by second, over the last minute.
    recent: VecDeque<(UnixTime, f64)>,
    /// Whether this window has paced: once it has, it paces to its reset
    /// (paced spending would otherwise look slow enough to stop pacing, and
    /// the first second unpaced would go to whoever calls most).
    engaged: bool,
    /// When an answer last told this pool's state (or a probe went out).
    seen_at: UnixTime,
}

impl Pacer {
    /// Learns from an answer to `key`'s call: the pool has `remaining`
    /// points until `resets_at`; `points` in all when the answer said. What
    /// the call cost (0 for the answer that first saw this window).
    pub fn observe(
        &mut self,
        key: i64,
        remaining: u64,
        resets_at: UnixTime,
        points: Option<u64>,
        near_limit: bool,
        now: UnixTime,
    ) -> f64 {
        let same_window =
            self.remaining.is_some() && resets_at.secs().abs_diff(self.resets_at.secs()) <= 2;
        if !same_window {
            self.spent.clear();
            self.recent.clear();
            self.allowance = 0.0;
            self.accrued_at = now;
            self.engaged = false;
        }
        let cost = match self.remaining {
            Some(before) if same_window => before.saturating_sub(remaining).max(1) as f64,
            _ => 1.0,
        };
        // The estimate admitted this call at; the answer says what it cost.
        let estimated = self.cost_of(key);
        if self.pacing(now) {
            self.allowance -= cost - estimated;
        }
        // (The answer that first saw the pool is no key's spending.)
        if same_window {
            *self.spent.entry(key).or_default() += cost;
        }
        let average = self.cost.entry(key).or_insert(cost);
        *average = 0.8 * *average + 0.2 * cost;
        match self.recent.back_mut() {
            Some((at, points)) if *at == now => *points += cost,
            _ => self.recent.push_back((now, cost)),
        }
        self.remaining = Some(remaining);
        self.resets_at = resets_at;
        self.points = points.or(self.points);
        self.near_limit = near_limit;
        self.seen_at = now;
        if same_window {
            cost
        } else {
            0.0
        }
    }

    fn cost_of(&self, key: i64) -> f64 {
        self.cost.get(&key).copied().unwrap_or(1.0)
    }

    /// Whether the pool paces at `now`.
    pub fn pacing(&self, now: UnixTime) -> bool {
        let Some(remaining) = self.remaining.filter(|_| now < self.resets_at) else {
            return false;
        };
        let low = self.near_limit
            || self
                .points
                .is_some_and(|points| remaining < points / NEAR_LIMIT_DIVISOR);
        let recent: f64 = self
            .recent
            .iter()
            .filter(|(at, _)| now.secs() - at.secs() < RECENT_SECS)
            .map(|(_, points)| points)
            .sum();
        let left = (self.resets_at.secs() - now.secs()) as f64;
        let would_need = recent / RECENT_SECS as f64 * left;
        self.engaged || low || would_need > remaining as f64
    }

    /// Whether `key`'s call may go at `now`; when it may, its estimated
    /// points are taken from the allowance.
    pub fn admit(&mut self, key: i64, now: UnixTime) -> Result<(), Paced> {
        let need = self.check(key, now)?;
        self.take(need);
        Ok(())
    }

    /// Takes `need` points (what [`Pacer::check`] answered) from the allowance.
    pub fn take(&mut self, need: f64) {
        self.allowance -= need;
    }

    /// Whether `key`'s call may go at `now`: the points it is expected to
    /// cost (0 unless the pool paces), taken only by [`Pacer::take`], so a
    /// call another pool refuses spends nothing here.
    pub fn check(&mut self, key: i64, now: UnixTime) -> Result<f64, Paced> {
        self.active.insert(key, now);
        self.active
            .retain(|_, at| now.secs() - at.secs() < RECENT_SECS);
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.secs() - at.secs() >= RECENT_SECS)
        {
            self.recent.pop_front();
        }
        let Some(remaining) = self.remaining.filter(|_| now < self.resets_at) else {
            return Ok(0.0);
        };
        let left = self.resets_at.secs() - now.secs();
        if remaining == 0 {
            // One answer saying so is not trusted for long: a call goes
            // through now and then to see whether it still is.
            if now.secs() - self.seen_at.secs() >= PROBE_AFTER_SECS {
                self.seen_at = now;
                return Ok(0.0);
            }
            return Err(Paced::Spent {
                retry_after_secs: left.min(PROBE_AFTER_SECS - (now.secs() - self.seen_at.secs())),
            });
        }
        if !self.pacing(now) {
            self.accrued_at = now;
            self.allowance = 0.0;
            return Ok(0.0);
        }
        self.engaged = true;
        let rate = remaining as f64 / left as f64;
        let elapsed = (now.secs() - self.accrued_at.secs()).max(0) as f64;
        self.allowance = (self.allowance + rate * elapsed)
            .min(rate * BURST_SECS)
            .max(-(remaining as f64));
        self.accrued_at = now;
        let need = self.cost_of(key);
        // Fair shares: past an equal share of this window, among the keys
        // calling now, a key waits while others go.
        let callers = self.active.len();
        if callers > 1 {
            let total: f64 = self.spent.values().sum();
            let mine = self.spent.get(&key).copied().unwrap_or(0.0);
            let share = total / callers as f64;
            if mine > share * FAIR_SLACK + need {
                return Err(Paced::OverShare {
                    retry_after_secs: wait_for(need, rate),
                });
            }
        }
        if self.allowance + 1e-9 < need {
            return Err(Paced::NotYet {
                retry_after_secs: wait_for(need - self.allowance, rate),
            });
        }
        Ok(need)
    }
}

/// Seconds until `points` accrue at `rate`, 1 to [`MAX_PACE_WAIT_SECS`].
fn wait_for(points: f64, rate: f64) -> i64 {
    if rate <= 0.0 {
        return MAX_PACE_WAIT_SECS;
    }
    ((points / rate).ceil() as i64).clamp(1, MAX_PACE_WAIT_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 1_800_000_000;

    /// A pool of `points` an hour, seen by one answer at the hour's start.
    fn pool(points: u64) -> Pacer {
        let mut pacer = Pacer::default();
        pacer.observe(
            0,
            points,
            UnixTime(HOUR + 3_600),
            Some(points),
            false,
            UnixTime(HOUR),
        );
        pacer
    }

    #[test]
    fn a_pool_with_room_to_spare_does_not_pace() {
        let mut pacer = pool(1_000);
        assert!(!pacer.pacing(UnixTime(HOUR)));
        for _ in 0..50 {
            assert_eq!(pacer.admit(1, UnixTime(HOUR + 10)), Ok(()));
        }
    }

    #[test]
    fn a_spent_pool_holds_every_call_until_it_resets() {
        let mut pacer = pool(100);
        pacer.observe(
            1,
            0,
            UnixTime(HOUR + 3_600),
            None,
            true,
            UnixTime(HOUR + 600),
        );
        assert_eq!(
            pacer.admit(1, UnixTime(HOUR + 600)),
            Err(Paced::Spent {
                retry_after_secs: 30
            })
        );
        assert_eq!(
            pacer.admit(1, UnixTime(HOUR + 620)),
            Err(Paced::Spent {
                retry_after_secs: 10
            })
        );
        // Every 30 s one call goes to see whether the pool is still spent.
        assert_eq!(pacer.admit(1, UnixTime(HOUR + 630)), Ok(()));
        assert!(pacer.admit(2, UnixTime(HOUR + 630)).is_err(), "one probe");
        assert_eq!(
            pacer.admit(2, UnixTime(HOUR + 3_600)),
            Ok(()),
            "a new window"
        );
    }

    /// Three times the pool's demand, one call a second from each of
    /// `keys` (key 1 calls `greed` times as often): what each key spent
    /// and the total, each call costing 2 points.
    fn an_hour(points: u64, keys: i64, greed: usize) -> (HashMap<i64, u64>, u64, u64) {
        let mut pacer = pool(points);
        let mut remaining = points;
        let mut spent: HashMap<i64, u64> = HashMap::new();
        let mut refused = 0;
        for second in 0..3_600 {
            let now = UnixTime(HOUR + second);
            for key in 1..=keys {
                let tries = if key == 1 { greed } else { 1 };
                for _ in 0..tries {
                    if pacer.admit(key, now).is_err() {
                        continue;
                    }
                    if remaining == 0 {
                        refused += 1;
                        continue;
                    }
                    remaining = remaining.saturating_sub(2);
                    *spent.entry(key).or_default() += 2;
                    pacer.observe(key, remaining, UnixTime(HOUR + 3_600), None, false, now);
                }
            }
        }
        (spent, points - remaining, refused)
    }

    #[test]
    fn at_three_times_the_demand_the_pool_lasts_the_hour_and_is_nearly_all_spent() {
        let (_, spent, refused) = an_hour(3_600, 3, 1);
        assert_eq!(refused, 0, "never spent before the reset");
        assert!(spent >= 3_420, "{spent} of 3600 spent");
    }

    #[test]
    fn a_greedy_key_gets_no_more_than_its_share() {
        let (by_key, spent, refused) = an_hour(3_600, 2, 10);
        assert_eq!(refused, 0);
        assert!(spent >= 3_420, "{spent}");
        let greedy = by_key[&1] as f64 / spent as f64;
        assert!(
            (0.4..=0.6).contains(&greedy),
            "the greedy key took {greedy:.2}"
        );
    }
}
