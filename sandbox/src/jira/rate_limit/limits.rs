//! Atlassian's three rate limits on Jira's REST API, as a pure model on the
//! sandbox's clock (Atlassian's "Rate limiting" page,
//! developer.atlassian.com/cloud/jira/platform/rate-limiting/):
//!
//! - a points quota per hour: each call costs one point, a read one more
//!   per object it returns. Tier 1: one pool for the app across every
//!   site; tier 2: a pool per site. Windows are the clock's whole hours.
//! - a burst limit per site, endpoint and method: at most so many calls in
//!   one second of the clock.
//! - a per-issue write limit: at most so many writes to one issue in one
//!   second.
//!
//! A call that trips the burst or per-issue limit holds that scope for a
//! second; each call sent into a hold is refused and extends it by another
//! second (Atlassian: "sending more calls into an active limit only
//! extends it"). A spent
//! quota refuses until its window ends. Refused calls cost nothing.

use std::collections::HashMap;

/// Who shares a quota pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaTier {
    /// One pool for the app across every site (`jira-quota-global-based`).
    Global,
    /// A pool per site (`jira-quota-tenant-based`).
    PerSite,
}

impl QuotaTier {
    /// The `RateLimit-Reason` of a spent pool.
    pub fn reason(self) -> &'static str {
        match self {
            QuotaTier::Global => "jira-quota-global-based",
            QuotaTier::PerSite => "jira-quota-tenant-based",
        }
    }

    /// The quota's name in the `Beta-RateLimit*` headers.
    pub fn policy_name(self) -> &'static str {
        match self {
            QuotaTier::Global => "global-app-quota",
            QuotaTier::PerSite => "tenant-app-quota",
        }
    }
}

/// The three limits' sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    pub tier: QuotaTier,
    /// Points a pool holds per hour (Atlassian's Tier 1: 65,000).
    pub points_per_hour: u64,
    /// Calls per second per site, endpoint and method.
    pub burst_per_sec: u32,
    /// Writes per second to one issue.
    pub issue_writes_per_sec: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            tier: QuotaTier::Global,
            points_per_hour: 65_000,
            burst_per_sec: 100,
            issue_writes_per_sec: 5,
        }
    }
}

/// The limits as configuration (`SANDBOX_QUOTA_*`, `SANDBOX_BURST_PER_SEC`,
/// `SANDBOX_ISSUE_WRITES_PER_SEC`), shared by the sandbox's own binary and
/// the dashboard's sandbox mode.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Jira's points quota per hour (Atlassian's Tier 1: 65000).
    #[arg(long, env = "SANDBOX_QUOTA_POINTS_PER_HOUR", default_value_t = 65_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub sandbox_quota_points_per_hour: u64,
    /// 1: one quota pool for the app across every site; 2: a pool per site.
    #[arg(long, env = "SANDBOX_QUOTA_TIER", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub sandbox_quota_tier: u8,
    /// Jira calls per second per site, endpoint and method.
    #[arg(long, env = "SANDBOX_BURST_PER_SEC", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sandbox_burst_per_sec: u32,
    /// Writes per second to one Jira issue.
    #[arg(long, env = "SANDBOX_ISSUE_WRITES_PER_SEC", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sandbox_issue_writes_per_sec: u32,
}

impl From<&LimitArgs> for LimitSettings {
    fn from(args: &LimitArgs) -> Self {
        Self {
            tier: match args.sandbox_quota_tier {
                2 => QuotaTier::PerSite,
                _ => QuotaTier::Global,
            },
            points_per_hour: args.sandbox_quota_points_per_hour,
            burst_per_sec: args.sandbox_burst_per_sec,
            issue_writes_per_sec: args.sandbox_issue_writes_per_sec,
        }
    }
}

/// The quota window's length, in seconds.
pub const WINDOW_SECS: i64 = 3_600;
/// How long a burst or per-issue hold lasts, and what each call into one adds.
pub const HOLD_SECS: i64 = 1;
/// How many burst and issue counts are kept before the past ones go.
const MAX_TRACKED: usize = 10_000;
/// Below this share of its points (one in five), a pool is near its limit.
const NEAR_LIMIT_DIVISOR: u64 = 5;

/// One call, as the limits see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The site (cloud id) called.
    pub site: String,
    /// The endpoint: the route's template (`/ex/jira/{cloud_id}/rest/api/3/issue/{issue_id_or_key}`).
    pub endpoint: String,
    pub method: String,
    /// The issue a write changes, when it changes one.
    pub issue: Option<String>,
}

impl Call {
    /// Whether the call writes (costs the base point only, and counts
    /// against the issue's write limit).
    pub fn writes(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

/// Why a call was refused, with how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `RateLimit-Reason`: `jira-quota-global-based`,
    /// `jira-quota-tenant-based`, `jira-burst-based` or `jira-per-issue-on-write`.
    pub reason: &'static str,
    pub retry_after_secs: i64,
    /// The quota's state when the quota refused (its headers still go out).
    pub quota: Option<QuotaState>,
}

/// A pool's state, as the `Beta-RateLimit*` headers tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    pub tier: QuotaTier,
    pub points_per_hour: u64,
    pub remaining: u64,
    /// Seconds to the window's end.
    pub resets_in_secs: i64,
}

impl QuotaState {
    /// Whether the pool runs low (`X-Beta-RateLimit-NearLimit: true`).
    pub fn near_limit(&self) -> bool {
        self.remaining < self.points_per_hour / NEAR_LIMIT_DIVISOR
    }
}

/// A burst window's state (`X-RateLimit-Limit`, `X-RateLimit-Remaining`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstState {
    pub limit: u32,
    pub remaining: u32,
}

/// An admitted call: the burst state to tell. Its cost is charged by
/// [`Limits::charge`] once the answer says how many objects it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub burst: BurstState,
}

/// A count within one window (an hour, or a second).
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    index: i64,
    count: u64,
}

impl Window {
    /// The count in window `index`, starting it afresh when it is a new one.
    fn at(&mut self, index: i64) -> &mut u64 {
        if self.index != index {
            *self = Window { index, count: 0 };
        }
        &mut self.count
    }
}

/// What the sandbox counted, for `/control/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitStats {
    pub admitted: u64,
    pub points_spent: u64,
    /// Refusals by reason (planned ones included).
    pub refused: HashMap<&'static str, u64>,
}

/// The three limits' counts.
#[derive(Debug)]
pub struct Limits {
    settings: LimitSettings,
    /// Points spent per pool (`""` for the global pool, else the site).
    pools: HashMap<String, Window>,
    /// Calls per (site, endpoint, method), per second.
    bursts: HashMap<(String, String, String), Window>,
    /// Writes per (site, issue), per second.
    issue_writes: HashMap<(String, String), Window>,
    /// Held scopes (a burst key or an issue key) and when the hold ends.
    holds: HashMap<String, i64>,
    stats: LimitStats,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(LimitSettings::default())
    }
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            pools: HashMap::new(),
            bursts: HashMap::new(),
            issue_writes: HashMap::new(),
            holds: HashMap::new(),
            stats: LimitStats::default(),
        }
    }

    pub fn settings(&self) -> LimitSettings {
        self.settings
    }

    /// New sizes; the counts so far stay.
    pub fn set_settings(&mut self, settings: LimitSettings) {
        self.settings = settings;
    }

    pub fn stats(&self) -> &LimitStats {
        &self.stats
    }

    /// Counts a refusal made on top of the limits (a planned one).
    pub fn count_refusal(&mut self, reason: &'static str) {
        *self.stats.refused.entry(reason).or_default() += 1;
    }

    fn pool_key(&self, site: &str) -> String {
        match self.settings.tier {
            QuotaTier::Global => String::new(),
            QuotaTier::PerSite => site.to_owned(),
        }
    }

    /// The quota pool `site` draws from, at `now`.
    pub fn quota(&mut self, site: &str, now: i64) -> QuotaState {
        let key = self.pool_key(site);
        let spent = *self
            .pools
            .entry(key)
            .or_default()
            .at(now.div_euclid(WINDOW_SECS));
        QuotaState {
            tier: self.settings.tier,
            points_per_hour: self.settings.points_per_hour,
            remaining: self.settings.points_per_hour.saturating_sub(spent),
            resets_in_secs: WINDOW_SECS - now.rem_euclid(WINDOW_SECS),
        }
    }

    /// Decides `call` at `now`: refused while its scope is held or its
    /// quota is spent, or when it trips the burst or per-issue limit;
    /// otherwise counted against both.
    pub fn admit(&mut self, call: &Call, now: i64) -> Result<Admitted, Refusal> {
        // Seconds gone by are forgotten once many scopes were seen (callers
        // choose endpoints and issue names).
        if self.bursts.len() + self.issue_writes.len() > MAX_TRACKED {
            self.bursts.retain(|_, w| w.index >= now);
            self.issue_writes.retain(|_, w| w.index >= now);
            self.holds.retain(|_, until| *until > now);
        }
        let refusal = self.refusal(call, now);
        if let Some(refusal) = refusal {
            *self.stats.refused.entry(refusal.reason).or_default() += 1;
            return Err(refusal);
        }
        let second = now;
        let limit = self.settings.burst_per_sec;
        let burst_key = (
            call.site.clone(),
            call.endpoint.clone(),
            call.method.clone(),
        );
        let calls = self.bursts.entry(burst_key).or_default().at(second);
        *calls += 1;
        let remaining = u64::from(limit).saturating_sub(*calls);
        if let (true, Some(issue)) = (call.writes(), &call.issue) {
            *self
                .issue_writes
                .entry((call.site.clone(), issue.clone()))
                .or_default()
                .at(second) += 1;
        }
        self.stats.admitted += 1;
        Ok(Admitted {
            burst: BurstState {
                limit,
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            },
        })
    }

    /// Why `call` may not go at `now`, if it may not; holds what it trips.
    fn refusal(&mut self, call: &Call, now: i64) -> Option<Refusal> {
        let burst_hold = format!("burst {} {} {}", call.site, call.method, call.endpoint);
        let issue_hold = call
            .issue
            .as_ref()
            .filter(|_| call.writes())
            .map(|issue| format!("issue {} {issue}", call.site));
        // A call into a hold extends it.
        for (hold, reason) in [
            (Some(&burst_hold), "jira-burst-based"),
            (issue_hold.as_ref(), "jira-per-issue-on-write"),
        ] {
            let Some(hold) = hold else { continue };
            if let Some(until) = self.holds.get_mut(hold).filter(|until| **until > now) {
                *until += HOLD_SECS;
                return Some(Refusal {
                    reason,
                    retry_after_secs: *until - now,
                    quota: None,
                });
            }
        }
        let quota = self.quota(&call.site, now);
        if quota.remaining == 0 {
            return Some(Refusal {
                reason: self.settings.tier.reason(),
                retry_after_secs: quota.resets_in_secs,
                quota: Some(quota),
            });
        }
        let burst_key = (
            call.site.clone(),
            call.endpoint.clone(),
            call.method.clone(),
        );
        let calls = *self.bursts.entry(burst_key).or_default().at(now);
        if calls >= u64::from(self.settings.burst_per_sec) {
            return Some(self.hold(burst_hold, "jira-burst-based", now));
        }
        if let Some(issue_hold) = issue_hold {
            let issue = call.issue.clone().unwrap_or_default();
            let writes = *self
                .issue_writes
                .entry((call.site.clone(), issue))
                .or_default()
                .at(now);
            if writes >= u64::from(self.settings.issue_writes_per_sec) {
                return Some(self.hold(issue_hold, "jira-per-issue-on-write", now));
            }
        }
        None
    }

    fn hold(&mut self, scope: String, reason: &'static str, now: i64) -> Refusal {
        self.holds.retain(|_, until| *until > now);
        self.holds.insert(scope, now + HOLD_SECS);
        Refusal {
            reason,
            retry_after_secs: HOLD_SECS,
            quota: None,
        }
    }

    /// Charges an admitted `call` that returned `objects`: the base point,
    /// and for a read one more per object. The pool's state after it.
    pub fn charge(&mut self, call: &Call, objects: u64, now: i64) -> QuotaState {
        let cost = if call.writes() { 1 } else { 1 + objects };
        let key = self.pool_key(&call.site);
        *self
            .pools
            .entry(key)
            .or_default()
            .at(now.div_euclid(WINDOW_SECS)) += cost;
        self.stats.points_spent += cost;
        self.quota(&call.site, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-01-15T08:00:00Z, the start of an hour.
    const HOUR: i64 = 1_800_000_000 - 1_800_000_000 % WINDOW_SECS;

    fn call(site: &str, method: &str, endpoint: &str, issue: Option<&str>) -> Call {
        Call {
            site: site.into(),
            endpoint: endpoint.into(),
            method: method.into(),
            issue: issue.map(str::to_owned),
        }
    }

    fn search(site: &str) -> Call {
        call(site, "GET", "/search/jql", None)
    }

    fn small(tier: QuotaTier) -> Limits {
        Limits::new(LimitSettings {
            tier,
            points_per_hour: 100,
            burst_per_sec: 3,
            issue_writes_per_sec: 2,
        })
    }

    #[test]
    fn reads_cost_a_point_and_one_per_object_writes_the_base_point() {
        let mut limits = small(QuotaTier::Global);
        let read = search("a");
        limits.admit(&read, HOUR).expect("admitted");
        assert_eq!(limits.charge(&read, 10, HOUR).remaining, 89);
        let write = call("a", "PUT", "/issue/{id}", Some("A-1"));
        limits.admit(&write, HOUR).expect("admitted");
        let after = limits.charge(&write, 10, HOUR);
        assert_eq!((after.remaining, after.resets_in_secs), (88, 3_600));
        assert_eq!(limits.stats().points_spent, 12);
    }

    #[test]
    fn a_spent_pool_refuses_until_its_hour_ends_and_tier_decides_who_shares_it() {
        for (tier, other_site_refused) in [(QuotaTier::Global, true), (QuotaTier::PerSite, false)] {
            let mut limits = small(tier);
            let read = search("a");
            limits.admit(&read, HOUR).expect("admitted");
            let state = limits.charge(&read, 99, HOUR + 600);
            assert_eq!(state.remaining, 0);
            assert!(state.near_limit());
            let refused = limits.admit(&read, HOUR + 600).expect_err("spent");
            assert_eq!(refused.reason, tier.reason());
            assert_eq!(refused.retry_after_secs, 3_000);
            assert_eq!(
                limits.admit(&search("b"), HOUR + 600).is_err(),
                other_site_refused,
                "{tier:?}"
            );
            // A new hour, a full pool.
            assert!(limits.admit(&read, HOUR + WINDOW_SECS).is_ok());
        }
    }

    #[test]
    fn the_pool_is_near_its_limit_below_a_fifth() {
        let mut limits = small(QuotaTier::Global);
        let read = search("a");
        assert!(!limits.charge(&read, 79, HOUR).near_limit());
        assert!(limits.charge(&read, 0, HOUR).near_limit());
    }

    #[test]
    fn a_burst_holds_its_endpoint_and_method_only_and_calls_into_the_hold_extend_it() {
        let mut limits = small(QuotaTier::Global);
        let read = search("a");
        for remaining in [2, 1, 0] {
            assert_eq!(
                limits.admit(&read, HOUR).expect("admitted").burst.remaining,
                remaining
            );
        }
        let refused = limits.admit(&read, HOUR).expect_err("burst");
        assert_eq!(
            (refused.reason, refused.retry_after_secs),
            ("jira-burst-based", 1)
        );
        // Another method, endpoint or site goes on.
        assert!(limits
            .admit(&call("a", "POST", "/search/jql", None), HOUR)
            .is_ok());
        assert!(limits
            .admit(&call("a", "GET", "/myself", None), HOUR)
            .is_ok());
        assert!(limits.admit(&search("b"), HOUR).is_ok());
        // The next second the hold is over...
        assert!(limits.admit(&read, HOUR + 1).is_ok());
        // ...unless calls kept coming into it: each pushes its end.
        for _ in 0..3 {
            let _ = limits.admit(&read, HOUR + 1);
        }
        let into_the_hold = limits.admit(&read, HOUR + 1).expect_err("held");
        assert_eq!(into_the_hold.retry_after_secs, 2, "extended by a second");
        assert!(
            limits.admit(&read, HOUR + 2).is_err(),
            "extended by the call at +1"
        );
        assert!(limits.admit(&read, HOUR + 4).is_ok());
        assert_eq!(limits.stats().refused["jira-burst-based"], 4);
    }

    #[test]
    fn writes_to_one_issue_are_held_without_slowing_writes_to_another() {
        let mut limits = small(QuotaTier::Global);
        let edit = |issue: &str| call("a", "PUT", "/issue/{id}", Some(issue));
        limits.admit(&edit("A-1"), HOUR).expect("first");
        limits.admit(&edit("A-1"), HOUR).expect("second");
        let refused = limits.admit(&edit("A-1"), HOUR).expect_err("third");
        assert_eq!(refused.reason, "jira-per-issue-on-write");
        // Another issue shares the endpoint's burst (3 a second), not the hold.
        assert!(limits.admit(&edit("A-2"), HOUR).is_ok());
        // Reads of the held issue are not writes.
        assert!(limits
            .admit(&call("a", "GET", "/issue/{id}", Some("A-1")), HOUR)
            .is_ok());
        assert!(limits.admit(&edit("A-1"), HOUR + 1).is_ok());
    }

    #[test]
    fn refused_calls_cost_nothing() {
        let mut limits = small(QuotaTier::Global);
        let read = search("a");
        for _ in 0..10 {
            let _ = limits.admit(&read, HOUR);
        }
        assert_eq!(limits.quota("a", HOUR).remaining, 100);
        assert_eq!(limits.stats().admitted, 3);
    }
}
