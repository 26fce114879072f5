//! The dashboard's shared vocabulary: the contracts that cross crates, written
//! once as types so the compiler catches a rename. It compiles for the server
//! and for the browser alike (serde, serde_json and chrono only; the `sqlx` feature, on in server
//! builds, lets ids and instants bind as SQL values).
//!
//! Layout:
//! - `names` (macro): closed sets of values stored and sent by their snake_case names.
//! - [`access`]: [`Role`], [`Permission`] and the [`Actor`] an event names.
//! - [`api_scope`]: [`ApiScope`], what an API key of the service API may do.
//! - [`ids`]: [`IntegrationId`], the number that names an integration everywhere.
//! - [`time`]: [`UnixTime`], an instant in UNIX seconds, Atlassian's lifetimes,
//!   and `rfc3339`, how every view and message writes an instant.
//! - [`status`]: [`Status`] and [`status_at`], an integration's standing at an
//!   instant, and the [`FleetSummary`], the fleet's counts by status.
//! - [`page_query`]: [`PageQuery`] and [`PageOrder`], what a dashboard page asks for.
//! - [`refresh_policy`]: [`RefreshPolicy`], scheduled or on-demand refreshes, and
//!   the [`StatusRule`] (margin and policy) statuses are judged by.
//! - [`event`]: [`EventKind`] and [`EventOutcome`], the columns of the event log.
//! - [`settings_notice`]: [`SettingsNotice`], what `/settings` says after a form.
//! - [`webhook_event`]: [`WebhookEvent`], what a webhook reports, by its wire name.
//! - [`integration`]: [`Integration`] and [`Site`], the stored connection as
//!   every layer reads it (never a token), with Atlassian's deadlines.
//! - [`jira_webhook_filter`]: what a Jira webhook's JQL filter may say (the
//!   subset Jira takes), checked before anything is sent to Jira.
//! - [`views`]: the wire contract, the JSON views of server functions, `/v1`
//!   and webhook messages; [`IntegrationView::at`] builds the integration's.
//! - [`webhook_message`]: [`Notice`], what a change announces, and its body.
//! - [`end_user`]: [`EndUser`] and [`Tags`], who an integration belongs to in
//!   the calling product and the tags that filter listings and confine keys.
//! - [`connect_failure`]: [`ConnectFailure`] and [`Flash`], what the OAuth
//!   callback tells the dashboard through `/dashboard?flash=..&reason=..`.

#[macro_use]
mod names;

pub mod access;
pub mod api_scope;
pub mod connect_failure;
pub mod end_user;
pub mod event;
pub mod ids;
pub mod integration;
pub mod jira_webhook_filter;
pub mod page_query;
pub mod refresh_policy;
pub mod settings_notice;
pub mod status;
pub mod time;
pub mod views;
pub mod webhook_event;
pub mod webhook_message;

pub use access::{Actor, Permission, Role};
pub use api_scope::ApiScope;
pub use connect_failure::{ConnectFailure, Flash, Tone};
pub use end_user::{EndUser, Tags};
pub use event::{EventKind, EventOutcome};
pub use ids::IntegrationId;
pub use integration::{Integration, Site};
pub use page_query::{PageOrder, PageQuery};
pub use refresh_policy::{RefreshPolicy, StatusRule};
pub use settings_notice::SettingsNotice;
pub use status::{status_at, FleetSummary, Status, StatusInputs};
pub use time::UnixTime;
pub use views::IntegrationView;
pub use webhook_event::WebhookEvent;
pub use webhook_message::Notice;
