//! The handlers, one file (or folder) per feature; `crate::router` says
//! which path reaches which, and who may call it.
//!
//! - [`probes`]: `/healthz`, `/readyz`.
//! - [`oauth`]: `/oauth/start` and `/oauth/callback`; [`flow_cookie`]: the
//!   cookie that binds a flow to its browser, for both flows.
//! - [`connect_links`]: `/connect/{token}`, a connect link's pages for a
//!   visitor with no account here (its flow ends at `/oauth/callback` too).
//! - [`sign_in`]: `/login`, `/logout`, `/setup`, and their pages.
//! - [`settings`]: the forms of `/settings` (users, roles, own password, API keys, webhooks).
//! - [`events`]: `GET /events`, the server-sent stream of every change, and
//!   how many may be open ([`events::streams`]).
//! - [`metrics`]: `GET /metrics` and the HTTP request counter around every route.
//! - [`v1`]: the service API, for the programs that call Jira.

pub mod connect_links;
pub mod events;
pub mod flow_cookie;
pub mod metrics;
pub mod oauth;
pub mod probes;
pub mod settings;
pub mod sign_in;
pub mod v1;
