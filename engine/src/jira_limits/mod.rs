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
//!   window, in fair shares per API key.
//! - here: the [`Governor`]'s state (the holds and the pools last seen) and
//!   the engine's methods. A hold is written to the database
//!   (`jira_holds`) so that every process sharing it honours it; each
//!   process reads the running holds at most once a second.
//!
//! While a hold runs, a call in its scope is not sent: Atlassian says more
//! calls into an active limit only extend it. An endpoint whose burst
//! count is spent for this second is held to the next one before it trips.

pub mod call;
pub mod pacing;
pub mod reading;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::views::{HoldView, KeySpendView, QuotaPoolView, RateLimitsView};
use domain::UnixTime;
use reqwest::header::HeaderMap;

pub use call::{JiraCall, Scope};
use pacing::Pacer;
use reading::Reading;

/// The key the product's own calls are paced under (API keys have ids from 1).
pub const OWN_CALLS: i64 = 0;

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
    /// Pools by key.
    pools: Mutex<HashMap<String, PoolState>>,
    /// Each pool's pacing, by pool key.
    pacers: Mutex<HashMap<String, Pacer>>,
    /// When this process last read the stored holds (real time).
    synced_at: Mutex<Option<Instant>>,
    /// Callers waiting out a hold, in line per scope key.
    lines: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// What each API key spent and was held, since this process started.
    spending: Mutex<HashMap<i64, KeySpendView>>,
    /// How many of each key's calls wait in a line now.
    waiting: Mutex<HashMap<i64, usize>>,
}

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

/// A reason as a metrics label: Atlassian's four, the pacing's three, or
/// `other` (a label never takes a value an answer chooses).
fn reason_label(reason: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-burst-based",
        "jira-per-issue-on-write",
        "paced",
        "fair-share",
        "quota-spent",
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
            if Scope::of_key(&row.scope).is_some() {
                self.hold(&row.scope, &row.reason, UnixTime(row.held_until));
            }
        }
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds.retain(|_, hold| hold.until > now);
    }

    /// Whether `api_key`'s `call` may go at `now` as far as the pacing of
    /// the pools it may draw from goes (the app's, its tenant's).
    fn paced(&self, call: &JiraCall, api_key: i64, now: UnixTime) -> Option<(String, Held)> {
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
            match pacer.check(api_key, now) {
                Ok(need) => needs.push((pool, need)),
                Err(paced) => {
                    let held = Held {
                        scope,
                        reason: paced.reason().to_owned(),
                        retry_after_secs: paced.retry_after_secs(),
                    };
                    return Some((format!("pace {pool}"), held));
                }
            }
        }
        for (pool, need) in needs {
            if let Some(pacer) = pacers.get_mut(&pool) {
                pacer.take(need);
            }
        }
        None
    }

    /// Keeps what an answer to `api_key`'s `call` said of its pool.
    fn learn_pool(&self, call: &JiraCall, api_key: i64, reading: &Reading, now: UnixTime) {
        let Some(quota) = &reading.quota else { return };
        let key = if quota.pool.starts_with("global") {
            call.key(Scope::App)
        } else {
            call.key(Scope::Tenant)
        };
        let cost = self
            .pacers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .observe(
                api_key,
                quota.remaining,
                now + quota.resets_in_secs,
                quota.points,
                reading.near_limit,
                now,
            );
        self.spend_of(api_key, |s| s.points_spent += cost);
        metrics::counter!("jira_dashboard_jira_points_spent_total", "key" => api_key.to_string())
            .increment(cost.round() as u64);
        metrics::gauge!("jira_dashboard_jira_quota_remaining_points", "pool" => key.clone())
            .set(quota.remaining as f64);
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let known_points = pools.get(&key).and_then(|p| p.points);
        pools.insert(
            key.clone(),
            PoolState {
                key,
                remaining: quota.remaining,
                resets_at: now + quota.resets_in_secs,
                points: quota.points.or(known_points),
                near_limit: reading.near_limit,
            },
        );
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
        let holds = self
            .holds(now)
            .into_iter()
            .map(|(target, reason, secs)| HoldView {
                scope: Scope::of_key(&target)
                    .map_or("other", Scope::as_str)
                    .to_owned(),
                target,
                reason,
                retry_after_secs: secs,
            })
            .collect();
        let mut keys: Vec<KeySpendView> = self
            .spending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
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
        let pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let mut pools: Vec<PoolState> = pools.values().cloned().collect();
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
    /// Whether `api_key`'s `call` may be sent now: `Err` names the hold
    /// (a `429` learnt, or the pacing of a pool running low) that keeps it.
    pub async fn jira_admit(&self, call: &JiraCall, api_key: i64) -> Result<(), Held> {
        match self.jira_blocker(call, api_key).await {
            None => Ok(()),
            Some((_, held)) => {
                self.governor().count_held(api_key, &held);
                Err(held)
            }
        }
    }

    /// What keeps `call` from going, with the key of the line to wait in.
    async fn jira_blocker(&self, call: &JiraCall, api_key: i64) -> Option<(String, Held)> {
        let now = self.now();
        self.read_stored_holds(now).await;
        let governor = self.governor();
        governor
            .held(call, now)
            .or_else(|| governor.paced(call, api_key, now))
    }

    /// [`Engine::jira_admit`], waiting in line up to `wait` (real time) for
    /// a hold to end: callers waiting on one hold go in the order they came.
    /// A hold longer than the wait, or a key with [`MAX_WAITING_PER_KEY`]
    /// calls waiting already, answers at once.
    pub async fn jira_wait(
        &self,
        call: &JiraCall,
        api_key: i64,
        wait: Duration,
    ) -> Result<(), Held> {
        let deadline = Instant::now() + wait;
        let Some((key, held)) = self.jira_blocker(call, api_key).await else {
            return Ok(());
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
            return self.jira_admit(call, api_key).await;
        };
        // Looking again does not count as another held call; the last look does.
        while Instant::now() < deadline {
            if self.jira_blocker(call, api_key).await.is_none() {
                return Ok(());
            }
            tokio::time::sleep(WAIT_STEP.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
        self.jira_admit(call, api_key).await
    }

    /// Learns from Jira's answer to `call`: the pool's state, and on a `429`
    /// a hold of the scope its reason names, for every process. An endpoint
    /// whose burst count this answer spent is held to the next second.
    pub async fn jira_learn(
        &self,
        call: &JiraCall,
        api_key: i64,
        status: u16,
        headers: &HeaderMap,
    ) {
        let now = self.now();
        let reading = reading::read(status, headers);
        self.governor().spend_of(api_key, |s| s.calls += 1);
        self.governor().learn_pool(call, api_key, &reading, now);
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
        let view = self.governor().view(now);
        for scope in [Scope::App, Scope::Tenant, Scope::Endpoint, Scope::Issue] {
            let running = view
                .holds
                .iter()
                .filter(|h| h.scope == scope.as_str())
                .count();
            metrics::gauge!("jira_dashboard_jira_holds", "scope" => scope.as_str())
                .set(running as f64);
        }
        view
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
