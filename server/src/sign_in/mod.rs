//! Signing in: sessions in the database (`tower-sessions` with its SQLx
//! store, through `axum-login`), the pages and routes that open and close
//! them, and the guard that decides, for every request, who may pass.
//!
//! - [`backend`]: `axum-login`'s view of the engine's accounts.
//! - [`access`]: the guard: which permission each route needs, and the
//!   answers to a stranger (303 to `/login`, or `401` JSON) and to a role
//!   that may not act (`403`).
//! - [`client_address`]: the address the sign-in throttle counts (`TRUSTED_PROXIES`).
//! - [`known_device`]: the cookie that tells the throttle a browser signed in before.
//! - [`routes`]: `/login`, `POST /logout`, `/setup?token=...`.
//! - [`session_store`]: sessions in SQLite or PostgreSQL, as the database is.
//! - [`pages`]: the HTML of the sign-in and setup pages (no WebAssembly: they
//!   work before and without it).

pub mod access;
pub mod backend;
pub mod client_address;
pub mod known_device;
pub mod pages;
pub mod routes;
pub mod session_store;

use axum_login::tower_sessions::cookie::{time::Duration, SameSite};
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{AuthManagerLayer, AuthManagerLayerBuilder};
use engine::Engine;
use session_store::Sessions;

pub use backend::{AuthSession, Backend, SessionUser};

/// How long a session lasts after it was last changed (signing in changes it).
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// The session cookie's name: `__Host-` prefixed (pinned to this host, path
/// `/`, `Secure`) when the dashboard is served over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-jira_dashboard_session"
    } else {
        "jira_dashboard_session"
    }
}

/// The session store in the dashboard's database (created when missing),
/// with a task that deletes expired sessions hourly.
pub async fn session_store(
    backend: &engine::db::Backend,
) -> Result<Sessions, tower_sessions_sqlx_store::sqlx::Error> {
    let store = Sessions::open(backend).await?;
    let sweeper = store.clone();
    tokio::spawn(async move {
        use axum_login::tower_sessions::ExpiredDeletion;
        if let Err(e) = sweeper
            .continuously_delete_expired(std::time::Duration::from_secs(3600))
            .await
        {
            tracing::error!(error = %e, "the expired-session sweeper stopped");
        }
    });
    Ok(store)
}

/// The layer that gives every request its session and signed-in user.
pub fn auth_layer(
    engine: Engine,
    store: Sessions,
    secure: bool,
) -> AuthManagerLayer<Backend, Sessions> {
    let sessions = SessionManagerLayer::new(store)
        .with_name(cookie_name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(SESSION_LIFETIME));
    AuthManagerLayerBuilder::new(Backend::new(engine), sessions).build()
}
