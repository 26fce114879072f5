//! The dashboard's server: reads the configuration, opens the database, wires
//! the Leptos app and the plain HTTP routes into one axum router, and serves it.
//!
//! Where things live:
//! - [`config`]: every setting, a flag and an environment variable (clap), validated.
//! - [`application`]: [`Application::build`] binds (port 0 in tests), builds
//!   the [`state`] and wraps the [`router`] in the guards' layers.
//! - [`state`]: [`state::AppState`], what every handler shares.
//! - [`router`]: every path the server answers, grouped by who may call it;
//!   each group's permission is declared once, beside its routes. The server
//!   functions' permissions are `app::api::PERMISSIONS`.
//! - [`routes`]: the handlers: probes, OAuth, sign-in, settings, live events,
//!   metrics, and `v1`, the service API for the programs that call Jira.
//! - [`guard`]: the middleware in front of them: access (session and role),
//!   hosts, cross-site refusal, security headers, bad server-function input.
//! - [`session`]: sessions in the database, `axum-login`'s backend, the
//!   sign-in throttle's client address and known-device cookie.
//! - [`errors`]: the product's error page and the answer to a panic.
//!
//! The test harness (a whole dashboard on a free port, several processes on
//! one PostgreSQL) is the `testkit` crate; the benchmark is the `bench` crate.
//!
//! Imports run one way: `application` -> `router` -> `state` -> `routes` ->
//! `guard` / `session` / `errors`; no route file imports the state or the router.
//!
//! `main.rs` stays thin: parse, build, serve; any start-up error is one line.

pub mod application;
pub mod config;
pub mod errors;
pub mod guard;
pub mod router;
pub mod routes;
pub mod session;
pub mod state;

pub use application::{Application, StartupError};
pub use config::Config;
