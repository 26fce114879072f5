//! The dashboard's server: reads the configuration, opens the database, wires
//! the Leptos app and the plain HTTP routes into one axum router, and serves it.
//!
//! Layout:
//! - [`config`]: every setting, a flag and an environment variable (clap), validated.
//! - [`application`]: [`Application::build`] binds (port 0 in tests) and assembles the router.
//! - [`routes`]: the plain HTTP routes (`/`, `/healthz`, `/readyz`, `/metrics`).
//! - [`oauth_routes`]: `/oauth/start` and `/oauth/callback`.
//! - [`sign_in`]: sessions, `/login`, `/logout`, `/setup`, and the guard that
//!   checks every request's session and role.
//! - [`settings_routes`]: the forms of `/settings` (users, roles, own password).
//! - [`live_events`]: `GET /events`, the server-sent stream of every change;
//!   [`live_streams`]: how many may be open, per user and per process.
//! - [`metrics`]: `GET /metrics` (Prometheus text, `metrics:read` keys) and
//!   the HTTP request counter around every route.
//! - [`service_api`]: `/v1`, for the programs that call Jira: API keys, views,
//!   fresh access tokens, the proxy and its OpenAPI document.
//! - [`hosts`]: only the public host and the loopback names are served (421 otherwise).
//! - [`security_headers`]: CSP (with the render's nonce on Leptos pages), nosniff, referrer policy.
//! - [`cross_site`]: the middleware that refuses cross-site state changes.
//! - [`bad_input`]: the middleware that answers unreadable server-function arguments with 400.
//!
//! `main.rs` stays thin: parse, build, serve; any start-up error is one line.

pub mod application;
pub mod bad_input;
pub mod config;
pub mod cross_site;
pub mod hosts;
pub mod live_events;
pub mod live_streams;
pub mod metrics;
pub mod oauth_routes;
pub mod routes;
pub mod security_headers;
pub mod service_api;
pub mod settings_routes;
pub mod sign_in;

pub use application::{Application, StartupError};
pub use config::Config;
