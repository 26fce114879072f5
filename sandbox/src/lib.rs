//! A faithful local emulator of Atlassian's OAuth 2.0 (3LO) endpoints, rule for
//! rule as `shared/ATLASSIAN.md` states them: the consent page, single-use codes,
//! client checks, refresh tokens only with `offline_access`, rotation with a
//! 10-minute leeway, family revocation on reuse, inactivity and absolute expiry,
//! the exact error bodies, and the resource endpoints. The dashboard mounts it at
//! `/sandbox` in sandbox mode; the `sandbox` binary serves it alone.
//!
//! State lives in memory ([`Sandbox::new`]) or, written through to SQLite
//! tables prefixed `sandbox_`, survives a restart ([`Sandbox::open`]): the
//! dashboard keeps it in its own database in sandbox mode. Jira data is not
//! part of it: every start begins from the seed.
//!
//! Layout:
//! - [`Sandbox`] (this file): the shared state handle, [`Sandbox::router`], and
//!   [`Sandbox::flush`], which every mutating route awaits before answering.
//! - [`settings`]: registered clients, lifetimes, and the seeded accounts and sites.
//! - [`clock`]: the sandbox's clock (an injected time source plus a test offset).
//! - [`rules`]: the token rules as plain functions of state and time, no HTTP;
//!   tokens kept as SHA-256 digests; the journal of changes to persist.
//! - [`persist`]: the SQLite tables: load at start-up, write a batch of changes.
//! - [`authorize`]: `GET/POST /authorize`, the consent page.
//! - [`token`]: `POST /oauth/token` (JSON or form bodies, fault injection).
//! - [`resources`]: accessible-resources, `/me`, `/ex/jira/{cloudId}/rest/api/3/myself`,
//!   and [`resources::JiraCaller`], the access check of every Jira route.
//! - [`jira`]: a small Jira REST API on each seeded site (search with a JQL
//!   subset, issues, projects) and the rate limit of every Jira route; its
//!   seeded issues and the issues created through it live in memory only.
//! - [`control`]: `/control/...` for tests and demos (revoke, faults, counters,
//!   clock, Jira rate limit), each number within a limit; under the dashboard
//!   only an administrator reaches them.

pub mod authorize;
pub mod clock;
pub mod control;
pub mod jira;
pub mod persist;
pub mod resources;
pub mod rules;
pub mod settings;
pub mod token;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::routing::{get, post, put};
use axum::{middleware, Router};
use sqlx::SqlitePool;

use jira::JiraStore;

pub use clock::{SandboxClock, TimeSource};
pub use rules::{Fault, FaultKind, RestoreError, Store};
pub use settings::{Account, Client, Settings, Site, ACCOUNTS, SITES};

/// The emulator's state; cheap to clone, shared by every route.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    clients: RwLock<Vec<Client>>,
    clock: SandboxClock,
    store: Mutex<Store>,
    jira: Mutex<JiraStore>,
    persisted: Option<Persisted>,
}

/// Where the state is written through to.
struct Persisted {
    pool: SqlitePool,
    /// Held by one flush at a time, from taking the journal to the commit, so
    /// the database always holds a prefix of the changes, in order.
    writing: Arc<tokio::sync::Mutex<()>>,
}

/// Why [`Sandbox::open`] could not load the persisted state.
#[derive(Debug)]
pub enum OpenError {
    Database(sqlx::Error),
    Inconsistent(RestoreError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Database(e) => write!(f, "cannot read the sandbox's state: {e}"),
            OpenError::Inconsistent(e) => {
                write!(f, "the sandbox's stored state is inconsistent: {e}")
            }
        }
    }
}

impl std::error::Error for OpenError {}

/// Why [`Sandbox::advance_clock_durably`] did not move the clock for good.
#[derive(Debug)]
pub enum AdvanceError {
    /// Backward, or too far: the clock did not move.
    OutOfRange,
    /// Moved, but not stored yet (retried with the next change).
    NotStored(sqlx::Error),
}

impl Sandbox {
    /// A sandbox that knows `clients`, applies `settings`, and reads time from
    /// `time`. Its state lives in memory and is lost when it stops.
    pub fn new(clients: Vec<Client>, settings: Settings, time: TimeSource) -> Self {
        let clock = SandboxClock::new(time);
        Self {
            inner: Arc::new(Inner {
                clients: RwLock::new(clients),
                jira: Mutex::new(JiraStore::seeded(clock.now(), settings.jira_limits)),
                clock,
                store: Mutex::new(Store::new(settings)),
                persisted: None,
            }),
        }
    }

    /// A sandbox whose state lives in `pool`'s database (the `sandbox_` tables,
    /// created by the migrations): loads what an earlier run left there, then
    /// writes every change through before answering. `settings` apply as given
    /// (they are configuration, not state).
    pub async fn open(
        clients: Vec<Client>,
        settings: Settings,
        time: TimeSource,
        pool: SqlitePool,
    ) -> Result<Self, OpenError> {
        let (state, offset) = persist::load(&pool, time())
            .await
            .map_err(OpenError::Database)?;
        let limits = settings.jira_limits;
        let store = Store::restore(settings, state).map_err(OpenError::Inconsistent)?;
        let clock = SandboxClock::with_offset(time, offset);
        Ok(Self {
            inner: Arc::new(Inner {
                clients: RwLock::new(clients),
                jira: Mutex::new(JiraStore::seeded(clock.now(), limits)),
                clock,
                store: Mutex::new(store),
                persisted: Some(Persisted {
                    pool,
                    writing: Arc::new(tokio::sync::Mutex::new(())),
                }),
            }),
        })
    }

    /// Makes every change made so far durable (a no-op in memory). Every route
    /// that changes state awaits this before answering; on an error the changes
    /// stay queued for the next flush and the route answers `500`.
    pub async fn flush(&self) -> Result<(), sqlx::Error> {
        let Some(persisted) = &self.inner.persisted else {
            return Ok(());
        };
        let guard = persisted.writing.clone().lock_owned().await;
        let changes = self.store().take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        let pool = persisted.pool.clone();
        let sandbox = self.clone();
        // On a task of its own: the write and the lock's release complete even
        // if the request that started them is dropped (a client hanging up).
        let task = tokio::spawn(async move {
            let written = persist::write(&pool, &changes).await;
            if written.is_err() {
                sandbox.store().requeue_changes(changes);
            }
            drop(guard);
            written
        });
        match task.await {
            Ok(written) => written,
            Err(e) => {
                tracing::error!("the sandbox's state writer stopped: {e}");
                Err(sqlx::Error::WorkerCrashed)
            }
        }
    }

    /// [`Sandbox::flush`] for callers that cannot wait (the synchronous test
    /// helpers): the write happens on a task, soon after.
    fn flush_soon(&self) {
        if self.inner.persisted.is_none() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let sandbox = self.clone();
            runtime.spawn(async move {
                if let Err(e) = sandbox.flush().await {
                    tracing::warn!("the sandbox could not store its state: {e}");
                }
            });
        }
    }

    /// The routes, relative to wherever the caller mounts them.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/oauth/token", post(token::token))
            .route(
                "/oauth/token/accessible-resources",
                get(resources::accessible_resources),
            )
            .route("/me", get(resources::me))
            .merge(self.jira_routes())
            // Every provider endpoint answers after the configured latency;
            // the consent page and the controls do not wait.
            .route_layer(middleware::from_fn_with_state(self.clone(), latency))
            .route(
                "/authorize",
                get(authorize::consent_page).post(authorize::decision),
            )
            .merge(control::routes())
            .with_state(self.clone())
    }

    /// Jira's REST API under `/ex/jira/{cloud_id}/rest/api/3`: each route
    /// checks the caller with [`resources::JiraCaller`], and all of them,
    /// `myself` included, sit behind the rate limit.
    fn jira_routes(&self) -> Router<Sandbox> {
        const API: &str = "/ex/jira/{cloud_id}/rest/api/3";
        Router::new()
            .route(&format!("{API}/myself"), get(resources::myself))
            .route(
                &format!("{API}/search/jql"),
                get(jira::search::search_by_query).post(jira::search::search_by_body),
            )
            .route(&format!("{API}/issue"), post(jira::issues::create_issue))
            .route(
                &format!("{API}/issue/{{issue_id_or_key}}"),
                get(jira::issues::get_issue).put(jira::issues::edit_issue),
            )
            .route(
                &format!("{API}/project/search"),
                get(jira::projects::search_projects),
            )
            .route(
                &format!("{API}/webhook"),
                get(jira::webhooks::list)
                    .post(jira::webhooks::register)
                    .delete(jira::webhooks::delete),
            )
            .route(
                &format!("{API}/webhook/refresh"),
                put(jira::webhooks::refresh),
            )
            .route_layer(middleware::from_fn_with_state(
                self.clone(),
                jira::rate_limit::limit,
            ))
    }

    /// The registered client with this id.
    pub fn client(&self, client_id: &str) -> Option<Client> {
        self.inner
            .clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|c| c.id == client_id)
            .cloned()
    }

    /// Regenerates a client's secret, as an admin might in the developer
    /// console: the app's configured secret stops working. False if unknown.
    pub fn set_client_secret(&self, client_id: &str, secret: &str) -> bool {
        let mut clients = self
            .inner
            .clients
            .write()
            .unwrap_or_else(|p| p.into_inner());
        match clients.iter_mut().find(|c| c.id == client_id) {
            Some(client) => {
                client.secret = secret.to_owned();
                true
            }
            None => false,
        }
    }

    /// The sandbox's current time (UNIX seconds).
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// How far the clock has been moved ahead of its source, in seconds.
    pub fn clock_offset(&self) -> i64 {
        self.inner.clock.offset()
    }

    /// Moves the sandbox's clock forward by `secs` (stored soon after, when
    /// persisted; the control route uses [`Sandbox::advance_clock_durably`]).
    pub fn advance_clock(&self, secs: i64) {
        self.advance_clock_in_memory(secs);
        self.flush_soon();
    }

    /// Moves the sandbox's clock forward by `secs`, durably: the control
    /// route's move, refused whole when `secs` is not in
    /// `0..=`[`clock::MAX_ADVANCE_SECS`] or the clock would end up more than
    /// [`clock::MAX_OFFSET_SECS`] ahead of its source.
    pub async fn advance_clock_durably(&self, secs: i64) -> Result<(), AdvanceError> {
        {
            // Under the store's lock, so offsets are journaled in the order taken.
            let mut store = self.store();
            let offset = self
                .inner
                .clock
                .try_advance(secs)
                .ok_or(AdvanceError::OutOfRange)?;
            store.record_clock_offset(offset);
        }
        self.flush().await.map_err(AdvanceError::NotStored)
    }

    fn advance_clock_in_memory(&self, secs: i64) {
        // Under the store's lock, so offsets are journaled in the order taken.
        let mut store = self.store();
        let offset = self.inner.clock.advance(secs);
        store.record_clock_offset(offset);
    }

    /// The Jira data and rate limiter. Never hold the guard across an `.await`.
    pub fn jira(&self) -> MutexGuard<'_, JiraStore> {
        self.inner
            .jira
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The rules' state. Never hold the guard across an `.await`.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps half-written in a
        // way that matters for an emulator; keep serving.
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Token requests received so far for the grant of `account_id` (any client).
    pub fn token_requests_for(&self, account_id: &str) -> u64 {
        self.store().token_requests_for(account_id)
    }

    /// Revokes every token family of `account_id`'s grants, as a user would in
    /// "Connected apps". Returns how many families were revoked. When persisted
    /// the revocation is stored soon after; the control route uses
    /// [`Sandbox::revoke_grant_durably`].
    pub fn revoke_grant(&self, account_id: &str) -> usize {
        let revoked = self.store().revoke_account(account_id);
        self.flush_soon();
        revoked
    }

    /// [`Sandbox::revoke_grant`], durable before it returns.
    pub async fn revoke_grant_durably(&self, account_id: &str) -> Result<usize, sqlx::Error> {
        let revoked = self.store().revoke_account(account_id);
        self.flush().await?;
        Ok(revoked)
    }

    /// Makes the next `calls` Jira API calls answer `429` with `Retry-After:
    /// retry_after_secs` and `RateLimit-Reason: reason` (zero cancels).
    pub fn plan_jira_rate_limit(&self, calls: u32, retry_after_secs: u32, reason: &'static str) {
        self.jira()
            .rate_limiter
            .plan(calls, retry_after_secs, reason);
    }

    /// Resizes Jira's rate limits (the counts so far stay).
    pub fn set_jira_limits(&self, limits: jira::rate_limit::LimitSettings) {
        self.jira().rate_limiter.limits.set_settings(limits);
    }

    /// Makes the next `count` token requests fail with `kind`.
    pub fn inject_fault(&self, kind: FaultKind, count: u32) {
        self.store().set_fault(Fault {
            kind,
            remaining: count,
        });
    }
}

/// Waits the configured latency (`Settings::latency_ms`), then answers.
async fn latency(
    axum::extract::State(sandbox): axum::extract::State<Sandbox>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let ms = sandbox.store().settings.latency_ms;
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    next.run(request).await
}
