//! Server-only logic of the Jira integration dashboard. Nothing here is compiled
//! into the browser bundle: only the `app` crate's `ssr` feature and the `server`
//! binary depend on this crate.
//!
//! Ids, instants, statuses, event kinds, the stored integration and the wire
//! contract's views are the `domain` crate's types.
//!
//! Layers, each importing only those below it: the foundation ([`clock`],
//! [`secret`], [`vault`]); storage ([`db`]); the features (everything else);
//! the [`Engine`] facade every other crate goes through.
//!
//! Layout:
//! - [`Engine`] (`engine_handle.rs`): the one door. Its fields are private; each
//!   use case is a method returning domain types: `integrations_page`
//!   ([`listing`]), `dashboard_page`, `integration`, `integration_detail`, `disconnect`
//!   (there), `refresh` / `refresh_integration` ([`refresh`]),
//!   `test_connection` ([`connection_test`]), `start_connect` /
//!   `finish_connect` ([`connect`]), and [`scheduler::tick`].
//! - [`accounts`]: the people who sign in: first administrator, sign-in with
//!   its throttle, users and roles, the account log (`accounts/rules.rs` is pure).
//! - [`changes`]: every committed change to an integration, published once
//!   to subscribers (the live event stream); [`change_feed`] carries the
//!   changes between processes that share the database.
//! - [`clock`]: the time source, a parameter everywhere so tests move time by hand.
//! - [`db`]: storage, SQLite or PostgreSQL (`db/backend/` runs one query text
//!   on either, with what only one of them does in `sqlite.rs` and `postgres.rs`; migrations from `migrations/` and `migrations-postgres/`), one
//!   file per table. It imports only `domain` and the foundation ([`clock`],
//!   [`secret`], [`vault`]), never a feature: an announced change is rendered
//!   by `db/announce.rs` with `domain`'s `IntegrationView::at`, inside the
//!   change's own transaction.
//! - [`jira_limits`]: Jira's rate limits governed in one place: every call
//!   the proxy sends asks first and teaches it after; a `429` holds its scope
//!   (app, tenant, endpoint, issue) for every process (`db/jira_holds.rs`).
//! - [`listing`]: the fleet listing a bounded page at a time (a keyset on the
//!   id, the service API's opaque cursor, the size's bounds).
//! - [`secret`]: [`Secret`], a token that cannot be printed or serialized.
//! - [`vault`]: XChaCha20-Poly1305 encryption of tokens at rest (older
//!   AES-256-GCM values still open), and its nonce budget.
//! - [`oauth`]: the OAuth client (the `oauth2` crate) and the Atlassian API calls.
//! - [`provider_error`]: what a provider failure means for the product.
//! - [`provider_pace`]: how many scheduled token requests may be in flight (adapts
//!   to the provider's latency, backs off on overload).
//! - [`connect`]: the connect / re-authenticate flow (state, callback, storage);
//!   `connect/placement.rs` holds its rules (which row a grant lands on, the event text);
//!   `connect/links.rs` the connect links a service makes for its customers
//!   (`create_connect_link`, `start_connect_link`, `finish_link_connect`).
//! - [`connection_test`]: "Test connection", one real Jira call.
//! - [`hop_tickets`]: the single-use tickets of a flow's start that moves
//!   between host names, kept in the database for every process.
//! - [`refresh`]: the one refresh function (single-flight, compare-and-swap);
//!   `refresh/decision.rs` is its pure part (answer + row -> write, event, message).
//!   `refresh/refreshing.rs` owns what a process's refreshes share: the
//!   flights, the lease owner, the pace and the provider's pause.
//! - [`scheduler`]: the background task that refreshes before expiry and flags the dead.
//! - [`service_api`]: API keys, token hand-outs and their usage (the programs
//!   that call Jira: the HTTP side is the server's `service_api`).
//! - [`views`]: the wire contract's views (`domain::views`) made from the
//!   engine's data, at its clock and status rule.
//! - [`webhooks`]: webhook endpoints, the outbox's messages, their signed
//!   delivery with retries, and the consent warnings.

pub mod accounts;
pub mod change_feed;
pub mod changes;
mod clock;
pub mod connect;
pub mod connection_test;
pub mod db;
mod engine_handle;
pub mod hop_tickets;
pub mod jira_limits;
pub mod listing;
pub mod oauth;
mod provider_error;
pub mod provider_pace;
pub mod refresh;
pub mod scheduler;
mod secret;
pub mod service_api;
pub mod vault;
pub mod views;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Database, DatabaseError};
use domain::Integration;
pub use domain::Site;
pub use engine_handle::{Engine, EngineError, EngineSettings};
use provider_error::ProviderError;
pub use refresh::refreshing::MAX_SLOW_DOWN_SECS;
pub use secret::Secret;
pub use vault::TokenVault;
