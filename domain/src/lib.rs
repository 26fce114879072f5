//! The dashboard's shared vocabulary: the contracts that cross crates, written
//! once as types so the compiler catches a rename. It compiles for the server
//! and for the browser alike (serde only; the `sqlx` feature, on in server
//! builds, lets ids and instants bind as SQL values).
//!
//! Layout:
//! - `names` (macro): closed sets of values stored and sent by their snake_case names.
//! - [`access`]: [`Role`], [`Permission`] and the [`Actor`] an event names.
//! - [`api_scope`]: [`ApiScope`], what an API key of the service API may do.
//! - [`ids`]: [`IntegrationId`], the number that names an integration everywhere.
//! - [`time`]: [`UnixTime`], an instant in UNIX seconds, and Atlassian's lifetimes.
//! - [`status`]: [`Status`] and [`status_at`], an integration's standing at an instant.
//! - [`refresh_policy`]: [`RefreshPolicy`], scheduled or on-demand refreshes, and
//!   the [`StatusRule`] (margin and policy) statuses are judged by.
//! - [`event`]: [`EventKind`] and [`EventOutcome`], the columns of the event log.
//! - [`settings_notice`]: [`SettingsNotice`], what `/settings` says after a form.
//! - [`webhook_event`]: [`WebhookEvent`], what a webhook reports, by its wire name.
//! - [`connect_failure`]: [`ConnectFailure`] and [`Flash`], what the OAuth
//!   callback tells the dashboard through `/dashboard?flash=..&reason=..`.

#[macro_use]
mod names;

pub mod access;
pub mod api_scope;
pub mod connect_failure;
pub mod event;
pub mod ids;
pub mod refresh_policy;
pub mod settings_notice;
pub mod status;
pub mod time;
pub mod webhook_event;

pub use access::{Actor, Permission, Role};
pub use api_scope::ApiScope;
pub use connect_failure::{ConnectFailure, Flash, Tone};
pub use event::{EventKind, EventOutcome};
pub use ids::IntegrationId;
pub use refresh_policy::{RefreshPolicy, StatusRule};
pub use settings_notice::SettingsNotice;
pub use status::{status_at, Status, StatusInputs};
pub use time::UnixTime;
pub use webhook_event::WebhookEvent;
