//! Sessions: `tower-sessions` through `axum-login`, stored in the dashboard's
//! database (`engine::db::Sessions`, from `Database::sessions`), and what the
//! sign-in throttle reads.
//!
//! - [`backend`]: `axum-login`'s view of the engine's accounts.
//! - [`client_address`]: the address the sign-in throttle counts (`TRUSTED_PROXIES`).
//! - [`known_device`]: the cookie that tells the throttle a browser signed in before.
//!
//! The pages that open and close a session are `crate::routes::sign_in`; the
//! guard that reads it is `crate::guard::access`.

pub mod backend;
pub mod client_address;
pub mod known_device;

use axum_login::tower_sessions::cookie::{time::Duration, SameSite};
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{AuthManagerLayer, AuthManagerLayerBuilder};
use engine::db::Sessions;
use engine::Engine;

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
