//! A faithful local emulator of Atlassian's OAuth 2.0 (3LO) endpoints, rule for
//! rule as `shared/ATLASSIAN.md` states them: the consent page, single-use codes,
//! client checks, refresh tokens only with `offline_access`, rotation with a
//! 10-minute leeway, family revocation on reuse, inactivity and absolute expiry,
//! the exact error bodies, and the resource endpoints. The dashboard mounts it at
//! `/sandbox` in sandbox mode; the `sandbox` binary serves it alone.
//!
//! Layout:
//! - [`Sandbox`] (this file): the shared state handle and [`Sandbox::router`].
//! - [`settings`]: registered clients, lifetimes, and the seeded accounts and sites.
//! - [`clock`]: the sandbox's clock (an injected time source plus a test offset).
//! - [`rules`]: the token rules as plain functions of state and time, no HTTP.
//! - [`authorize`]: `GET/POST /authorize`, the consent page.
//! - [`token`]: `POST /oauth/token` (JSON or form bodies, fault injection).
//! - [`resources`]: accessible-resources, `/me`, `/ex/jira/{cloudId}/rest/api/3/myself`.
//! - [`control`]: `/control/...` for tests and demos (revoke, faults, counters, clock).

pub mod authorize;
pub mod clock;
pub mod control;
pub mod resources;
pub mod rules;
pub mod settings;
pub mod token;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::routing::{get, post};
use axum::Router;

pub use clock::{SandboxClock, TimeSource};
pub use rules::{Fault, FaultKind, Store};
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
}

impl Sandbox {
    /// A sandbox that knows `clients`, applies `settings`, and reads time from `time`.
    pub fn new(clients: Vec<Client>, settings: Settings, time: TimeSource) -> Self {
        Self {
            inner: Arc::new(Inner {
                clients: RwLock::new(clients),
                clock: SandboxClock::new(time),
                store: Mutex::new(Store::new(settings)),
            }),
        }
    }

    /// The routes, relative to wherever the caller mounts them.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/authorize",
                get(authorize::consent_page).post(authorize::decision),
            )
            .route("/oauth/token", post(token::token))
            .route(
                "/oauth/token/accessible-resources",
                get(resources::accessible_resources),
            )
            .route("/me", get(resources::me))
            .route(
                "/ex/jira/{cloud_id}/rest/api/3/myself",
                get(resources::myself),
            )
            .merge(control::routes())
            .with_state(self.clone())
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

    /// Moves the sandbox's clock forward by `secs`.
    pub fn advance_clock(&self, secs: i64) {
        self.inner.clock.advance(secs);
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
    /// "Connected apps". Returns how many families were revoked.
    pub fn revoke_grant(&self, account_id: &str) -> usize {
        self.store().revoke_account(account_id)
    }

    /// Makes the next `count` token requests fail with `kind`.
    pub fn inject_fault(&self, kind: FaultKind, count: u32) {
        self.store().set_fault(Fault {
            kind,
            remaining: count,
        });
    }
}
