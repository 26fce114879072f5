//! Jira's rate limits, governed in one place (issue 31; Atlassian's "Rate
//! limiting" and "Build an app that respects rate limits" pages,
//! developer.atlassian.com/cloud/jira/platform/rate-limiting/): every call
//! this product sends to Jira's REST API asks [`Engine::jira_admit`] first
//! and tells [`Engine::jira_learn`] what came back.
//!
//! - [`call`]: a call's tenant, endpoint, method and issue, and the scope a
//!   `429` holds (the app, a tenant, an endpoint and method, an issue).
//! - [`reading`]: what an answer's headers say (the quota's points and
//!   reset, the burst left, a refusal's reason and wait), none trusted alone.
//! - [`pacing`]: a pool running low lets its points out over the rest of its
//!   window, in fair shares per API key (weighed by each key's [`Share`]).
//! - [`budget`]: each key's points over the last hour, against the hourly
//!   budget an admin may give it.
//! - here: the [`Governor`]'s state (the holds, the pools' pacers, what each
//!   key spent) and the engine's methods. A hold is written to the database
//!   (`jira_holds`) so that every process sharing it honours it; each
//!   process reads the running holds at most once a second.
//!
//! While a hold runs, a call in its scope is not sent: Atlassian says more
//! calls into an active limit only extend it. An endpoint whose burst
//! count is spent for this second is held to the next one before it trips.

pub mod budget;
pub mod call;
pub mod pacing;
pub mod reading;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::views::{HoldView, KeySpendView, QuotaPoolView, RateLimitsView};
use domain::UnixTime;
use reqwest::header::HeaderMap;

use budget::Budget;
pub use call::{JiraCall, Scope};
use pacing::{Charge, Pacer, PoolSeen};
use reading::Reading;

/// The key the product's own calls are paced under (API keys have ids from 1).
pub const OWN_CALLS: i64 = 0;

/// Whose call it is, and that key's share of Jira's quota (set by an admin
/// in Settings, see `api_keys.jira_weight` and `jira_points_per_hour`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The API key's id ([`OWN_CALLS`] for the product's own calls).
    pub key: i64,
    /// Its weight among the keys calling while a pool paces: a key of
    /// weight 2 gets twice the points of a key of weight 1.
    pub weight: u32,
    /// The most points its calls may spend in any hour (`None`: no cap).
    pub points_per_hour: Option<u64>,
}

impl Share {
    /// The product's own calls (connection tests and the like): an equal
    /// share, no budget.
    pub const OWN: Share = Share::equal(OWN_CALLS);

    /// Stored key `row`'s share (a stored weight below 1 counts as 1, a
    /// budget below 1 as none: the form never stores either).
    pub fn of(row: &crate::db::ApiKeyRow) -> Share {
        Share {
            key: row.id,
            weight: u32::try_from(row.jira_weight.max(1)).unwrap_or(u32::MAX),
            points_per_hour: row
                .jira_points_per_hour
                .and_then(|p| u64::try_from(p).ok())
                .filter(|p| *p > 0),
        }
    }

    /// Key `key` with an equal share and no budget.
    pub const fn equal(key: i64) -> Share {
        Share {
            key,
            weight: 1,
            points_per_hour: None,
        }
    }
}

use crate::Engine;

/// How often a process reads the holds other processes stored.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often a caller waiting out a hold looks again.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Why a call may not go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub scope: Scope,
    /// The `RateLimit-Reason` that started the hold.
    pub reason: String,
    /// Seconds until the hold ends (at least 1).
    pub retry_after_secs: i64,
}

/// A quota pool as last seen on an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    /// `app`, or `tenant <cloudId>` for a pool per tenant.
    pub key: String,
    pub remaining: u64,
    pub resets_at: UnixTime,
    pub points: Option<u64>,
    pub near_limit: bool,
}

#[derive(Debug, Clone)]
struct Hold {
    reason: String,
    until: UnixTime,
}

/// The rate limits' state in this process.
#[derive(Debug, Default)]
pub struct Governor {
    /// Running holds by scope key ([`JiraCall::key`]).
    holds: Mutex<HashMap<String, Hold>>,
    /// Each pool's pacing (and its state as last seen), by pool key.
    pacers: Mutex<HashMap<String, Pacer>>,
    /// Each key's points over the last hour.
    budgets: Mutex<HashMap<i64, Budget>>,
    /// When this process last read the stored holds (real time).
    synced_at: Mutex<Option<Instant>>,
    /// Callers waiting out a hold, in line per scope key.
    lines: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// What each API key spent and was held, since this process started.
    spending: Mutex<HashMap<i64, KeySpendView>>,
    /// How many of each key's calls wait in a line now.
    waiting: Mutex<HashMap<i64, usize>>,
}

/// The most holds the view lists (the widest and longest first).
pub const MAX_HOLDS_SHOWN: usize = 50;

/// The most calls one key may have waiting in lines at once (`Prefer:
/// wait`): one key cannot tie up the server's requests.
pub const MAX_WAITING_PER_KEY: usize = 8;

/// A place among a key's waiting calls, given back when dropped.
struct Waiting<'a> {
    governor: &'a Governor,
    api_key: i64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .governor
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waiting.get_mut(&self.api_key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                waiting.remove(&self.api_key);
            }
        }
    }
}

/// A call admitted to Jira, holding what it reserved: the points taken
/// from its pools' allowances and against its key's hourly budget. Hand it
/// to [`Engine::jira_learn`] with Jira's answer; dropped without an answer
/// (the call was never sent), it gives them back.
#[must_use = "an admitted call tells the governor what Jira answered, or gives its points back"]
pub struct Admission {
    governor: Arc<Governor>,
    key: i64,
    reserved: Vec<(String, f64)>,
    budgeted: f64,
    admitted_at: UnixTime,
    /// Whether the call has gone out to Jira ([`Admission::sending`]).
    sent: bool,
    learnt: bool,
}

impl Admission {
    /// Says the call is going out now: from here on Jira may have counted
    /// it, so an admission dropped without an answer charges its points
    /// instead of giving them back.
    pub fn sending(&mut self) {
        self.sent = true;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        match (self.learnt, self.sent) {
            (true, _) => {}
            (false, true) => {
                self.governor
                    .charge_unanswered(self.key, self.budgeted, self.admitted_at)
            }
            (false, false) => self
                .governor
                .give_back(self.key, &self.reserved, self.budgeted),
        }
    }
}

/// A reason as a metrics label: Atlassian's four, the governor's four, or
/// `other` (a label never takes a value an answer chooses).
fn reason_label(reason: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-burst-based",
        "jira-per-issue-on-write",
        "paced",
        "fair-share",
        "quota-spent",
        "key-budget",
    ];
    KNOWN.into_iter().find(|k| *k == reason).unwrap_or("other")
}

impl Governor {
    /// The hold that keeps `call` from going at `now`: of those running in
    /// its scopes, the one that ends last.
    fn held(&self, call: &JiraCall, now: UnixTime) -> Option<(String, Held)> {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        call.scopes()
            .into_iter()
            .filter_map(|scope| {
                let key = call.key(scope);
                let hold = holds.get(&key).filter(|h| h.until > now)?;
                let held = Held {
                    scope,
                    reason: hold.reason.clone(),
                    retry_after_secs: hold.until.secs() - now.secs(),
                };
                Some((key, held))
            })
            .max_by_key(|(_, held)| held.retry_after_secs)
    }

    /// Holds `key` until `until` (never shortens a hold): whether it moved.
    fn hold(&self, key: &str, reason: &str, until: UnixTime) -> bool {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        match holds.get(key) {
            Some(hold) if hold.until >= until => false,
            _ => {
                holds.insert(
                    key.to_owned(),
                    Hold {
                        reason: reason.to_owned(),
                        until,
                    },
                );
                true
            }
        }
    }

    /// Whether a second has passed since the stored holds were last read
    /// (and if so, the read is this caller's to make).
    fn sync_due(&self) -> bool {
        let mut synced = self.synced_at.lock().unwrap_or_else(|p| p.into_inner());
        let due = synced.is_none_or(|at| at.elapsed() >= SYNC_EVERY);
        if due {
            *synced = Some(Instant::now());
        }
        due
    }

    /// Takes on the holds stored by every process; forgets ended ones.
    fn take_stored(&self, rows: Vec<crate::db::HoldRow>, now: UnixTime) {
        for row in rows {
            if Scope::of_key(&row.scope).is_some_and(|s| s != Scope::Key) {
                self.hold(&row.scope, &row.reason, UnixTime(row.held_until));
            }
        }
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds.retain(|_, hold| hold.until > now);
    }

    /// Whether `share`'s `call` may go at `now` as far as the pacing of the
    /// pools it may draw from goes (the app's, its tenant's): the points it
    /// took from each pool's allowance, or the hold with its line's key.
    fn paced(
        &self,
        call: &JiraCall,
        share: Share,
        now: UnixTime,
    ) -> Result<Vec<(String, f64)>, (String, Held)> {
        let mut pacers = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        let pools = [
            (Scope::App, call.key(Scope::App)),
            (Scope::Tenant, call.key(Scope::Tenant)),
        ];
        // Every pool first; the points are taken only when all let it go.
        let mut needs = Vec::new();
        for (scope, pool) in pools {
            let Some(pacer) = pacers.get_mut(&pool) else {
                continue;
            };
            match pacer.check(share.key, share.weight, now) {
                Ok(need) => needs.push((pool, need)),
                Err(paced) => {
                    let held = Held {
                        scope,
                        reason: paced.reason().to_owned(),
                        retry_after_secs: paced.retry_after_secs(),
                    };
                    // A key waiting for its share waits in a line of its
                    // own: it cannot stand in front of other keys' calls.
                    let line = match paced {
                        pacing::Paced::OverShare { .. } => format!("pace {pool} {}", share.key),
                        _ => format!("pace {pool}"),
                    };
                    return Err((line, held));
                }
            }
        }
        for (pool, need) in &needs {
            if let Some(pacer) = pacers.get_mut(pool) {
                pacer.take(*need);
            }
        }
        Ok(needs)
    }

    /// Gives back what an admitted call that was never sent reserved.
    fn give_back(&self, api_key: i64, reserved: &[(String, f64)], budgeted: f64) {
        let mut pacers = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        for (pool, points) in reserved {
            if let Some(pacer) = pacers.get_mut(pool) {
                pacer.give_back(*points);
            }
        }
        drop(pacers);
        if let Some(budget) = self
            .budgets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&api_key)
        {
            budget.release(budgeted);
        }
    }

    /// Charges a call that was sent but never answered (its answer lost to
    /// a timeout or a caller gone): Jira counted it, so its key's budget
    /// does too, at the points reserved for it.
    fn charge_unanswered(&self, api_key: i64, budgeted: f64, at: UnixTime) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let budget = budgets.entry(api_key).or_default();
        budget.release(budgeted);
        budget.spend(budgeted.max(1.0), at);
    }

    /// Reserves a call's expected points against `share`'s hourly budget,
    /// in one step with the check (calls in parallel cannot both slip under
    /// it): the points reserved, or the hold of a key that spent its budget.
    fn budget_for(&self, share: Share, now: UnixTime) -> Result<f64, (String, Held)> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let budget = budgets.entry(share.key).or_default();
        if let Some(retry_after_secs) = share.points_per_hour.and_then(|b| budget.over(b, now)) {
            let held = Held {
                scope: Scope::Key,
                reason: "key-budget".to_owned(),
                retry_after_secs,
            };
            return Err((format!("key {}", share.key), held));
        }
        Ok(budget.reserve())
    }

    /// Keeps what the answer to `admitted`'s call said of its pool, and
    /// what the call cost: the points it reserved in a pool the answer did
    /// not speak of are given back.
    fn learn_pool(&self, call: &JiraCall, admitted: &Admission, reading: &Reading, now: UnixTime) {
        let api_key = admitted.key;
        let Some(quota) = &reading.quota else {
            // No word of the pool: what was reserved stays spent, and the
            // budget is charged what was reserved (a call is never free).
            self.charge_unanswered(api_key, admitted.budgeted, now);
            return;
        };
        let key = if quota.pool.starts_with("global") {
            call.key(Scope::App)
        } else {
            call.key(Scope::Tenant)
        };
        let (here, elsewhere): (Vec<_>, Vec<_>) = admitted
            .reserved
            .iter()
            .cloned()
            .partition(|(pool, _)| *pool == key);
        let reserved: f64 = here.iter().map(|(_, points)| points).sum();
        let charge = match (reading.refusal.is_some(), call.writes()) {
            (true, _) => Charge::Refused,
            (false, true) => Charge::Write,
            (false, false) => Charge::Read,
        };
        let seen = PoolSeen {
            remaining: quota.remaining,
            resets_at: now + quota.resets_in_secs,
            points: quota.points,
            near_limit: reading.near_limit,
        };
        let cost = self
            .pacers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .observe(api_key, seen, charge, reserved, now);
        self.give_back(api_key, &elsewhere, admitted.budgeted);
        self.spend_of(api_key, |s| s.points_spent += cost);
        self.budgets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(api_key)
            .or_default()
            .spend(cost, now);
        metrics::counter!("jira_dashboard_jira_points_spent_total", "key" => api_key.to_string())
            .increment(cost.round() as u64);
        metrics::gauge!("jira_dashboard_jira_quota_remaining_points", "pool" => key)
            .set(quota.remaining as f64);
    }

    /// Counts `api_key`'s call that `held` kept from Jira.
    fn count_held(&self, api_key: i64, held: &Held) {
        metrics::counter!(
            "jira_dashboard_jira_calls_held_total",
            "key" => api_key.to_string(),
            "scope" => held.scope.as_str(),
            "reason" => reason_label(&held.reason)
        )
        .increment(1);
        self.spend_of(api_key, |s| s.held += 1);
    }

    fn spend_of(&self, api_key: i64, change: impl FnOnce(&mut KeySpendView)) {
        let mut spending = self.spending.lock().unwrap_or_else(|p| p.into_inner());
        let entry = spending.entry(api_key).or_insert_with(|| KeySpendView {
            key_id: api_key,
            name: String::new(),
            weight: 1,
            points_per_hour: None,
            points_last_hour: 0.0,
            points_spent: 0.0,
            calls: 0,
            held: 0,
            queued: 0,
        });
        change(entry);
    }

    /// Everything this process knows of Jira's limits at `now`.
    pub fn view(&self, now: UnixTime) -> RateLimitsView {
        let pacing: HashMap<String, bool> = self
            .pacers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(key, pacer)| (key.clone(), pacer.pacing(now)))
            .collect();
        let pools = self
            .pools()
            .into_iter()
            .map(|p| QuotaPoolView {
                pacing: pacing.get(&p.key).copied().unwrap_or(false),
                pool: p.key,
                remaining: p.remaining,
                points: p.points,
                resets_at: domain::time::rfc3339(p.resets_at),
                near_limit: p.near_limit,
            })
            .collect();
        let mut holds = self.holds(now);
        // The widest first, then the longest: what holds most calls.
        holds.sort_by_key(|(target, _, secs)| {
            let width = Scope::of_key(target).map_or(9, |scope| scope as u8);
            (width, -secs)
        });
        let holds = holds
            .into_iter()
            .take(MAX_HOLDS_SHOWN)
            .map(|(target, reason, secs)| HoldView {
                scope: Scope::of_key(&target)
                    .map_or("other", Scope::as_str)
                    .to_owned(),
                target,
                reason,
                retry_after_secs: secs,
            })
            .collect();
        let budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<KeySpendView> = self
            .spending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .map(|mut k| {
                k.points_last_hour = budgets.get(&k.key_id).map_or(0.0, |b| b.last_hour(now));
                k
            })
            .collect();
        keys.sort_by(|a, b| {
            b.points_spent
                .total_cmp(&a.points_spent)
                .then(a.key_id.cmp(&b.key_id))
        });
        RateLimitsView { pools, holds, keys }
    }

    /// The pools as last seen.
    pub fn pools(&self) -> Vec<PoolState> {
        let pacers = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        let mut pools: Vec<PoolState> = pacers
            .iter()
            .filter_map(|(key, pacer)| {
                let seen = pacer.seen()?;
                Some(PoolState {
                    key: key.clone(),
                    remaining: seen.remaining,
                    resets_at: seen.resets_at,
                    points: seen.points,
                    near_limit: seen.near_limit,
                })
            })
            .collect();
        pools.sort_by(|a, b| a.key.cmp(&b.key));
        pools
    }

    /// The running holds at `now`: (scope key, reason, seconds left).
    pub fn holds(&self, now: UnixTime) -> Vec<(String, String, i64)> {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        let mut running: Vec<_> = holds
            .iter()
            .filter(|(_, h)| h.until > now)
            .map(|(key, h)| (key.clone(), h.reason.clone(), h.until.secs() - now.secs()))
            .collect();
        running.sort();
        running
    }

    /// A place for one more of `api_key`'s calls to wait, if it has fewer
    /// than [`MAX_WAITING_PER_KEY`] waiting.
    fn wait_place(&self, api_key: i64) -> Option<Waiting<'_>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let n = waiting.entry(api_key).or_default();
        if *n >= MAX_WAITING_PER_KEY {
            return None;
        }
        *n += 1;
        Some(Waiting {
            governor: self,
            api_key,
        })
    }

    /// The line of callers waiting out the hold on `key`.
    fn line(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.retain(|_, line| Arc::strong_count(line) > 1);
        lines.entry(key.to_owned()).or_default().clone()
    }
}

impl Engine {
    /// Whether `share`'s `call` may be sent now: the [`Admission`] to hand
    /// to [`Engine::jira_learn`] with Jira's answer, or the hold (a `429`
    /// learnt, the key's hourly budget spent, or the pacing of a pool
    /// running low) that keeps it.
    pub async fn jira_admit(&self, call: &JiraCall, share: Share) -> Result<Admission, Held> {
        self.try_admit(call, share).await.map_err(|(_, held)| {
            self.governor().count_held(share.key, &held);
            held
        })
    }

    /// Admits `call`, or says what keeps it, with the key of the line to
    /// wait in.
    async fn try_admit(&self, call: &JiraCall, share: Share) -> Result<Admission, (String, Held)> {
        let now = self.now();
        self.read_stored_holds(now).await;
        let governor = self.governor();
        if let Some(blocker) = governor.held(call, now) {
            return Err(blocker);
        }
        let budgeted = governor.budget_for(share, now)?;
        let reserved = match governor.paced(call, share, now) {
            Ok(reserved) => reserved,
            Err(blocker) => {
                governor.give_back(share.key, &[], budgeted);
                return Err(blocker);
            }
        };
        Ok(Admission {
            governor: self.governor_handle(),
            key: share.key,
            reserved,
            budgeted,
            admitted_at: now,
            sent: false,
            learnt: false,
        })
    }

    /// [`Engine::jira_admit`], waiting in line up to `wait` (real time) for
    /// a hold to end: callers waiting on one hold go in the order they came.
    /// A hold longer than the wait, or a key with [`MAX_WAITING_PER_KEY`]
    /// calls waiting already, answers at once.
    pub async fn jira_wait(
        &self,
        call: &JiraCall,
        share: Share,
        wait: Duration,
    ) -> Result<Admission, Held> {
        let deadline = Instant::now() + wait;
        let api_key = share.key;
        let (key, held) = match self.try_admit(call, share).await {
            Ok(admitted) => return Ok(admitted),
            Err(blocked) => blocked,
        };
        let wait_secs = u64::try_from(held.retry_after_secs).unwrap_or(u64::MAX);
        let place = (Duration::from_secs(wait_secs) <= wait)
            .then(|| self.governor().wait_place(api_key))
            .flatten();
        let Some(_place) = place else {
            self.governor().count_held(api_key, &held);
            return Err(held);
        };
        metrics::counter!("jira_dashboard_jira_calls_queued_total", "key" => api_key.to_string())
            .increment(1);
        self.governor().spend_of(api_key, |s| s.queued += 1);
        let line = self.governor().line(&key);
        let Ok(_turn) = tokio::time::timeout_at(deadline.into(), line.lock_owned()).await else {
            return self.jira_admit(call, share).await;
        };
        // Looking again does not count as another held call; the last look does.
        while Instant::now() < deadline {
            if let Ok(admitted) = self.try_admit(call, share).await {
                return Ok(admitted);
            }
            tokio::time::sleep(WAIT_STEP.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
        self.jira_admit(call, share).await
    }

    /// Learns from Jira's answer to the `admitted` `call`: the pool's state
    /// and what the call cost, and on a `429` a hold of the scope its
    /// reason names, for every process. An endpoint whose burst count this
    /// answer spent is held to the next second.
    pub async fn jira_learn(
        &self,
        mut admitted: Admission,
        call: &JiraCall,
        status: u16,
        headers: &HeaderMap,
    ) {
        admitted.learnt = true;
        let now = self.now();
        let reading = reading::read(status, headers, now);
        self.governor().spend_of(admitted.key, |s| s.calls += 1);
        self.governor().learn_pool(call, &admitted, &reading, now);
        if let Some(refusal) = &reading.refusal {
            let scope = call.scope_of(&refusal.reason);
            tracing::warn!(
                scope = scope.as_str(),
                reason = %refusal.reason,
                wait_secs = refusal.wait_secs,
                tenant = %call.tenant,
                "Jira refused a call (429): its scope is held"
            );
            self.hold_jira(call, scope, &refusal.reason, now + refusal.wait_secs)
                .await;
        } else if reading.burst_remaining == Some(0) {
            self.hold_jira(call, Scope::Endpoint, "jira-burst-based", now + 1)
                .await;
        }
    }

    async fn hold_jira(&self, call: &JiraCall, scope: Scope, reason: &str, until: UnixTime) {
        let key = call.key(scope);
        if self.governor().hold(&key, reason, until) {
            if let Err(e) = self.db().hold_jira_scope(&key, reason, until).await {
                tracing::warn!(error = %e, "could not share a Jira rate-limit hold with other processes");
            }
        }
    }

    /// Jira's rate limits as this process sees them now.
    pub async fn jira_rate_limits(&self) -> RateLimitsView {
        let now = self.now();
        self.read_stored_holds(now).await;
        let mut view = self.governor().view(now);
        self.name_keys(&mut view.keys).await;
        // Counted from every hold, not only those the view lists.
        let all = self.governor().holds(now);
        for scope in [Scope::App, Scope::Tenant, Scope::Endpoint, Scope::Issue] {
            let running = all
                .iter()
                .filter(|(target, _, _)| Scope::of_key(target) == Some(scope))
                .count();
            metrics::gauge!("jira_dashboard_jira_holds", "scope" => scope.as_str())
                .set(running as f64);
        }
        view
    }

    /// Gives each key its name and share as stored (the product's own calls
    /// are "this product"; a key no longer stored keeps its id).
    async fn name_keys(&self, keys: &mut [KeySpendView]) {
        let rows = match self.db().list_api_keys().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the API keys' names for the rate limits");
                Vec::new()
            }
        };
        for spend in keys {
            match rows.iter().find(|row| row.id == spend.key_id) {
                Some(row) => {
                    let share = Share::of(row);
                    spend.name = row.name.clone();
                    spend.weight = share.weight;
                    spend.points_per_hour = share.points_per_hour;
                }
                None if spend.key_id == OWN_CALLS => spend.name = "this product".to_owned(),
                None => spend.name = format!("key {}", spend.key_id),
            }
        }
    }

    async fn read_stored_holds(&self, now: UnixTime) {
        if !self.governor().sync_due() {
            return;
        }
        match self.db().jira_holds(now).await {
            Ok(rows) => self.governor().take_stored(rows, now),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the Jira rate-limit holds other processes stored")
            }
        }
    }
}
