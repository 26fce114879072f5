//! Pacing one quota pool before any `429` (pure; Atlassian's "Build an app
//! that respects rate limits": spread calls so the quota lasts its window).
//!
//! A pool paces while it is known and running low: near its limit (the
//! answers say so, or less than a fifth is left), or the last minute's
//! spending, kept up, would empty it before it resets. Pacing lets points
//! out at what is left divided by the seconds left (recomputed from every
//! answer, so it converges on spending the whole pool by the reset), and
//! shares them fairly: a key that has spent more of this window than a key
//! waiting for points (told to wait within the last half minute or so)
//! lets that key go first. Spending is compared per unit of weight, so a
//! key an admin weighed 2 gets twice the points of a key weighing 1; a key
//! nobody waits behind is never slowed for its share. A spent pool holds
//! every call until it resets, but for one call every 30 s that checks it
//! still is (one header is not trusted alone).
//!
//! What a call costs is learnt from the answers: a write costs one point, a
//! refused call none, a read the drop in the pool's remaining points since
//! the answer before (1 at least), kept per key as a running average. A
//! pool's remaining points never rise within a window (one odd answer does
//! not refill it); a new window starts when the old one's reset has passed,
//! or the pool refills by a tenth of its size.

use std::collections::{HashMap, VecDeque};

use domain::UnixTime;

/// How far back spending counts towards deciding to pace.
const RECENT_SECS: i64 = 60;
/// Below this share of its points (one in five) a pool is near its limit.
const NEAR_LIMIT_DIVISOR: u64 = 5;
/// The most a paced pool saves up while nobody calls, in seconds of its
/// rate: callers that come in bursts still spend the pool, and no burst
/// takes more than a minute's points.
const BURST_SECS: f64 = 60.0;
/// A key may run this far past a waiting key (per unit of weight) before
/// it lets that key go first.
const FAIR_SLACK: f64 = 1.1;
/// A key told to wait counts as waiting for its wait and this much more,
/// within [`MIN_WAITING_SECS`, `MAX_WAITING_SECS`]: long enough for a
/// caller that comes back when told, short enough that one that never
/// comes back holds nobody for longer than the pool saves up.
const WAITING_GRACE_SECS: i64 = 5;
const MIN_WAITING_SECS: i64 = 30;
const MAX_WAITING_SECS: i64 = 45;
/// A pool said to be spent lets one call through this often to check.
const PROBE_AFTER_SECS: i64 = 30;
/// The longest a paced call is told to wait before asking again.
const MAX_PACE_WAIT_SECS: i64 = 60;
/// A refill by this share of the pool's size (one tenth) starts a new window.
const REFILL_DIVISOR: u64 = 10;

/// Why a call must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paced {
    /// The pool is spent: until it resets.
    Spent { retry_after_secs: i64 },
    /// The pool is paced and this call's points are not due yet.
    NotYet { retry_after_secs: i64 },
    /// This key took more than a key waiting behind it.
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

/// What an answer said of its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSeen {
    pub remaining: u64,
    pub resets_at: UnixTime,
    /// The window's points, when the answer said.
    pub points: Option<u64>,
    pub near_limit: bool,
}

/// What the call an answer answers may be charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// A read: what the pool dropped since the answer before (1 at least).
    Read,
    /// A write: Atlassian charges the base point only.
    Write,
    /// Refused (`429`): nothing.
    Refused,
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
    /// Each key's weight, as its last call said (1 at least).
    weights: HashMap<i64, f64>,
    /// Keys told to wait, and until when they count as waiting.
    waiting: HashMap<i64, UnixTime>,
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
    /// Learns from an answer to `key`'s call (`charge` says what kind)
    /// that reserved `reserved` points of this pool's allowance when it was
    /// admitted: what the call cost (0 for the answer that first saw this
    /// window).
    pub fn observe(
        &mut self,
        key: i64,
        seen: PoolSeen,
        charge: Charge,
        reserved: f64,
        now: UnixTime,
    ) -> f64 {
        let new_window = match self.remaining {
            None => true,
            Some(before) => {
                // A refill counts only against a known size (answers that
                // arrive out of order differ by a point or two).
                let size = seen.points.or(self.points).unwrap_or(0);
                let refilled = size >= REFILL_DIVISOR
                    && seen.remaining >= before.saturating_add(size / REFILL_DIVISOR);
                now >= self.resets_at || refilled
            }
        };
        if new_window {
            self.spent.clear();
            self.recent.clear();
            self.waiting.clear();
            self.allowance = 0.0;
            self.accrued_at = now;
            self.engaged = false;
        }
        // Within a window the pool only drains.
        let remaining = match self.remaining {
            Some(before) if !new_window => seen.remaining.min(before),
            _ => seen.remaining,
        };
        let cost = match (self.remaining, charge) {
            (_, _) if new_window => 0.0,
            (_, Charge::Refused) => 0.0,
            (_, Charge::Write) => 1.0,
            (Some(before), Charge::Read) => before.saturating_sub(remaining).max(1) as f64,
            (None, Charge::Read) => 1.0,
        };
        // The call was admitted at `reserved`; the answer says what it cost.
        // (A call admitted before pacing began reserved nothing: its points
        // are in what pacing divides, not a debt.)
        if !new_window && reserved > 0.0 && self.pacing(now) {
            self.allowance -= cost - reserved;
        }
        if cost > 0.0 {
            *self.spent.entry(key).or_default() += cost;
            let average = self.cost.entry(key).or_insert(cost);
            *average = 0.8 * *average + 0.2 * cost;
            match self.recent.back_mut() {
                Some((at, points)) if *at == now => *points += cost,
                _ => self.recent.push_back((now, cost)),
            }
        }
        self.remaining = Some(remaining);
        // Within a window the reset only moves later: one answer with a
        // reset too soon does not end pacing early.
        self.resets_at = match new_window {
            true => seen.resets_at,
            false => seen.resets_at.max(self.resets_at),
        };
        self.points = seen.points.or(self.points);
        self.near_limit = seen.near_limit;
        self.seen_at = now;
        cost
    }

    /// Gives back `points` a call reserved but never sent.
    pub fn give_back(&mut self, points: f64) {
        self.allowance += points;
    }

    /// The pool as last seen (`None` before any answer).
    pub fn seen(&self) -> Option<PoolSeen> {
        Some(PoolSeen {
            remaining: self.remaining?,
            resets_at: self.resets_at,
            points: self.points,
            near_limit: self.near_limit,
        })
    }

    fn cost_of(&self, key: i64) -> f64 {
        self.cost.get(&key).copied().unwrap_or(1.0)
    }

    /// Points `key` spent this window, per unit of its weight.
    fn spent_per_weight(&self, key: i64) -> f64 {
        let spent = self.spent.get(&key).copied().unwrap_or(0.0);
        spent / self.weights.get(&key).copied().unwrap_or(1.0)
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

    /// Whether `key`'s call may go at `now` (with an equal share); when it
    /// may, its estimated points are taken from the allowance.
    pub fn admit(&mut self, key: i64, now: UnixTime) -> Result<(), Paced> {
        let need = self.check(key, 1, now)?;
        self.take(need);
        Ok(())
    }

    /// Takes `need` points (what [`Pacer::check`] answered) from the allowance.
    pub fn take(&mut self, need: f64) {
        self.allowance -= need;
    }

    /// Whether `key`'s call (the key weighs `weight`, 1 at least) may go at
    /// `now`: the points it is expected to cost (0 unless the pool paces),
    /// taken only by [`Pacer::take`], so a call another pool refuses spends
    /// nothing here.
    pub fn check(&mut self, key: i64, weight: u32, now: UnixTime) -> Result<f64, Paced> {
        let answer = self.decide(key, weight, now);
        match answer {
            Ok(_) => {
                self.waiting.remove(&key);
            }
            Err(Paced::NotYet { retry_after_secs } | Paced::OverShare { retry_after_secs }) => {
                let counts = (retry_after_secs + WAITING_GRACE_SECS)
                    .clamp(MIN_WAITING_SECS, MAX_WAITING_SECS);
                self.waiting.insert(key, now + counts);
            }
            Err(Paced::Spent { .. }) => {}
        }
        answer
    }

    fn decide(&mut self, key: i64, weight: u32, now: UnixTime) -> Result<f64, Paced> {
        self.weights.insert(key, f64::from(weight.max(1)));
        self.waiting.retain(|_, until| *until > now);
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
        // A call dearer than the most the pool saves up goes when the
        // allowance is full (it would never be due otherwise).
        let need = self.cost_of(key).min(rate * BURST_SECS);
        // Fair shares: a key that spent more (per unit of weight) than a
        // key waiting for points lets that key go first.
        let mine = self.spent_per_weight(key);
        let slack = need / f64::from(weight.max(1));
        let behind_me = self
            .waiting
            .keys()
            .filter(|other| **other != key)
            .any(|other| mine > self.spent_per_weight(*other) * FAIR_SLACK + slack);
        if behind_me {
            return Err(Paced::OverShare {
                retry_after_secs: wait_for(need, rate),
            });
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

    /// An answer's view of a pool resetting at the hour's end.
    fn seen(remaining: u64, points: Option<u64>, near_limit: bool) -> PoolSeen {
        PoolSeen {
            remaining,
            resets_at: UnixTime(HOUR + 3_600),
            points,
            near_limit,
        }
    }

    /// A pool of `points` an hour, seen by one answer at the hour's start.
    fn pool(points: u64) -> Pacer {
        let mut pacer = Pacer::default();
        let first = seen(points, Some(points), false);
        pacer.observe(0, first, Charge::Read, 0.0, UnixTime(HOUR));
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
            seen(0, None, true),
            Charge::Read,
            0.0,
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
    /// `keys` (key 1 calls `greed` times as often and weighs `weight`, the
    /// others 1): what each key spent and the total, each call costing 2
    /// points, and the calls refused for want of points.
    fn an_hour(points: u64, keys: i64, greed: usize, weight: u32) -> (HashMap<i64, u64>, u64, u64) {
        let mut pacer = pool(points);
        let mut remaining = points;
        let mut spent: HashMap<i64, u64> = HashMap::new();
        let mut refused = 0;
        for second in 0..3_600 {
            let now = UnixTime(HOUR + second);
            for key in 1..=keys {
                let (tries, weight) = if key == 1 { (greed, weight) } else { (1, 1) };
                for _ in 0..tries {
                    let reserved = match pacer.check(key, weight, now) {
                        Ok(need) => {
                            pacer.take(need);
                            need
                        }
                        Err(_) => continue,
                    };
                    if remaining == 0 {
                        refused += 1;
                        continue;
                    }
                    remaining = remaining.saturating_sub(2);
                    *spent.entry(key).or_default() += 2;
                    pacer.observe(
                        key,
                        seen(remaining, None, false),
                        Charge::Read,
                        reserved,
                        now,
                    );
                }
            }
        }
        (spent, points - remaining, refused)
    }

    #[test]
    fn at_three_times_the_demand_the_pool_lasts_the_hour_and_is_nearly_all_spent() {
        let (_, spent, refused) = an_hour(3_600, 3, 1, 1);
        assert_eq!(refused, 0, "never spent before the reset");
        assert!(spent >= 3_420, "{spent} of 3600 spent");
    }

    #[test]
    fn a_greedy_key_gets_no_more_than_its_share() {
        let (by_key, spent, refused) = an_hour(3_600, 2, 10, 1);
        assert_eq!(refused, 0);
        assert!(spent >= 3_420, "{spent}");
        let greedy = by_key[&1] as f64 / spent as f64;
        assert!(
            (0.4..=0.6).contains(&greedy),
            "the greedy key took {greedy:.2}"
        );
    }

    #[test]
    fn a_key_weighing_three_gets_three_times_the_share_of_a_key_weighing_one() {
        // Both keys want far more than the pool gives (the other key calls
        // once a second at 2 points, three times what its share allows).
        let (by_key, spent, refused) = an_hour(1_200, 2, 10, 3);
        assert_eq!(refused, 0);
        assert!(spent >= 1_140, "{spent}");
        let heavy = by_key[&1] as f64 / spent as f64;
        assert!(
            (0.68..=0.82).contains(&heavy),
            "the key weighing 3 took {heavy:.2} (3/4 expected)"
        );
    }

    #[test]
    fn a_key_nobody_waits_behind_is_never_slowed_for_its_share() {
        // Key 1 calls once a second all hour; key 2 calls once, at 10 min,
        // is told to wait, and never comes back: key 1 still spends the pool.
        let mut pacer = pool(3_600);
        let mut remaining = 3_600u64;
        for second in 0..3_600 {
            let now = UnixTime(HOUR + second);
            if second == 600 {
                let _ = pacer.check(2, 1, now);
            }
            for _ in 0..3 {
                let Ok(need) = pacer.check(1, 1, now) else {
                    continue;
                };
                pacer.take(need);
                remaining = remaining.saturating_sub(2);
                pacer.observe(1, seen(remaining, None, false), Charge::Read, need, now);
            }
        }
        assert!(remaining <= 180, "{remaining} of 3600 left at the reset");
    }

    #[test]
    fn writes_cost_a_point_refusals_none_and_one_odd_answer_refills_nothing() {
        let mut pacer = pool(1_000);
        let now = UnixTime(HOUR + 5);
        let write = pacer.observe(1, seen(990, None, false), Charge::Write, 0.0, now);
        assert_eq!(
            write, 1.0,
            "a write costs the base point, whatever the drop"
        );
        let refused = pacer.observe(1, seen(985, None, false), Charge::Refused, 0.0, now);
        assert_eq!(refused, 0.0);
        // An answer that says more is left than before, by less than a
        // tenth of the pool: the pool does not refill within its window.
        pacer.observe(1, seen(1_050, Some(1_000), false), Charge::Read, 0.0, now);
        assert_eq!(pacer.seen().map(|s| s.remaining), Some(985));
        let read = pacer.observe(1, seen(975, None, false), Charge::Read, 0.0, now);
        assert_eq!(read, 10.0);
        // A wrong reset time alone does not start a new window; a refill does.
        let odd = PoolSeen {
            resets_at: UnixTime(HOUR + 1_000),
            ..seen(970, None, false)
        };
        assert_eq!(pacer.observe(1, odd, Charge::Read, 0.0, now), 5.0);
        let big = pacer.observe(1, seen(500, None, false), Charge::Read, 0.0, now);
        assert_eq!(big, 470.0);
        let refilled = pacer.observe(1, seen(1_000, None, false), Charge::Read, 0.0, now);
        assert_eq!(refilled, 0.0, "a new window's first answer costs nothing");
    }

    #[test]
    fn a_call_dearer_than_the_pool_saves_up_still_goes_when_the_allowance_is_full() {
        let mut pacer = pool(3_600);
        let mut remaining = 3_600;
        for second in 1..=3 {
            remaining -= 300;
            let answer = seen(remaining, None, false);
            pacer.observe(1, answer, Charge::Read, 0.0, UnixTime(HOUR + second));
        }
        // 2,700 points over the hour's rest: 45 points saved up at most, a
        // call costs 300. It waits for a full allowance, not for ever.
        assert!(pacer.check(1, 1, UnixTime(HOUR + 4)).is_err());
        assert!(pacer.check(1, 1, UnixTime(HOUR + 64)).is_ok());
    }
}
