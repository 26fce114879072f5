//! The middleware in front of the routes.
//!
//! - [`access`]: who may pass, by session and role (declared per group of
//!   routes in `crate::router`), and what a stranger or a role that may not
//!   act gets.
//! - [`hosts`]: only the public host and the loopback names are served (421 otherwise).
//! - [`cross_site`]: refuses cross-site state changes.
//! - [`security_headers`]: CSP (with the render's nonce on Leptos pages), nosniff, referrer policy.
//! - [`bad_input`]: answers unreadable server-function arguments with 400.

pub mod access;
pub mod bad_input;

/// A request's path as the logs may show it: a connect link's token (a
/// bearer secret in the path) is left out.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/connect/") {
        Some(_) => "/connect/{token}".into(),
        None => path.into(),
    }
}
pub mod cross_site;
pub mod hosts;
pub mod security_headers;
