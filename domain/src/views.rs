//! The JSON views that cross the wire: what the server functions answer, what
//! the service API (`/v1`) sends and what a webhook message carries. Field
//! names are camelCase; no view ever carries a token. Each view is built in
//! one place ([`IntegrationView::at`] here, the others by the engine), so the
//! page, `/v1` and a webhook agree field for field.

use serde::{Deserialize, Serialize};

use crate::integration::Integration;
use crate::status::{status_at, StatusInputs};
use crate::time::rfc3339;
use crate::{EventKind, EventOutcome, Status, StatusRule, UnixTime};

/// A Jira Cloud site an integration reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SiteView {
    pub cloud_id: String,
    pub name: String,
    pub url: String,
}

/// One integration as the dashboard shows it. Timestamps are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub id: i64,
    pub status: Status,
    pub is_active: bool,
    pub has_refresh_token: bool,
    pub expires_at: String,
    /// Lifetime of the current access token in seconds (for the progress bar).
    pub access_token_lifetime_secs: i64,
    pub refresh_failures: i64,
    pub last_refresh_at: Option<String>,
    pub last_error: Option<String>,
    pub account_id: String,
    pub account_name: String,
    pub account_email: Option<String>,
    pub sites: Vec<SiteView>,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub refresh_token_idle_expires_at: Option<String>,
    pub consent_expires_at: Option<String>,
    /// The customer of the calling product it was connected for (a connect
    /// link); `None` for a connection made on the dashboard.
    pub end_user_id: Option<String>,
    pub display_name: Option<String>,
    /// Its tags (`{}` without any).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub tags: crate::Tags,
}

/// Which authorization server the dashboard talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The built-in emulator under `/sandbox`.
    Sandbox,
    /// Atlassian's real endpoints (or any configured server).
    Atlassian,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Sandbox => "Sandbox",
            Mode::Atlassian => "Atlassian",
        }
    }
}

/// Facts about the running server the header shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub mode: Mode,
    /// The refresh margin and policy the statuses are judged by.
    pub status_rule: crate::StatusRule,
    /// The server's clock when it answered: the first render (server and
    /// hydration alike) counts down from it, so the two never mismatch.
    pub server_now: i64,
    /// Who is signed in (the header shows them; buttons follow their role).
    pub viewer: Option<ViewerView>,
}

impl AppInfo {
    /// Whether the signed-in person may use the buttons that change integrations.
    pub fn may_operate(&self) -> bool {
        self.viewer
            .as_ref()
            .is_some_and(|v| v.role.may(crate::Permission::Operate))
    }
}

/// The signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewerView {
    pub email: String,
    pub role: crate::Role,
}

/// A user, as `/settings` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: crate::Role,
    pub created_at: String,
}

/// An entry of the account log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEventView {
    pub id: i64,
    pub at: String,
    /// Who did it (an email).
    pub actor: String,
    pub message: String,
}

/// `/settings`: who is signed in, and for an admin the users and the account log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub me: ViewerView,
    /// Empty unless the signed-in person is an admin.
    pub users: Vec<UserView>,
    pub account_events: Vec<AccountEventView>,
    /// Empty unless the signed-in person is an admin.
    pub api_keys: Vec<ApiKeyView>,
    /// A key just created: shown this once, never again.
    pub new_key: Option<NewKeyView>,
    /// Empty unless the signed-in person is an admin.
    pub webhooks: Vec<WebhookEndpointView>,
    /// Whether endpoints added here may be on private addresses.
    pub allow_private_webhooks: bool,
    /// An endpoint just added, with its secret (shown this once).
    pub new_webhook: Option<NewWebhookView>,
    /// Why the endpoint just submitted was refused.
    pub webhook_error: Option<String>,
    pub info: AppInfo,
}

/// A webhook endpoint as `/settings` lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointView {
    pub id: i64,
    pub url: String,
    /// Its event filter; empty means every type.
    pub events: Vec<String>,
    pub enabled: bool,
    pub from_environment: bool,
    /// Why the server disabled it, if it did.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<WebhookDeliveryView>,
}

/// One message's delivery to one endpoint, and its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    pub id: i64,
    pub message_id: String,
    pub event_type: String,
    /// pending, delivered or failed.
    pub state: String,
    /// When the next attempt starts (pending only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub attempts: Vec<WebhookAttemptView>,
}

/// One attempt: when, the receiver's status, how long, what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAttemptView {
    pub at: String,
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// An endpoint just added, with its signing secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhookView {
    pub url: String,
    pub secret: String,
}

/// An API key as `/settings` lists it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub token_handouts: i64,
    pub proxied_calls: i64,
    /// The tags it is confined to, written `key=value, ...` (empty: none).
    pub tags: String,
    /// Its weight among the keys calling Jira while the quota runs low.
    pub jira_weight: u32,
    /// The most Jira points its calls may spend in any hour (`None`: no cap).
    pub jira_points_per_hour: Option<u64>,
}

/// A key just created, with the key itself (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewKeyView {
    pub name: String,
    pub key: String,
}

/// The answer of `refresh_integration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshOutcomeView {
    pub ok: bool,
    pub requires_reauth: bool,
    pub message: String,
    pub integration: IntegrationView,
}

/// The answer of `test_connection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTestView {
    pub ok: bool,
    /// The Jira display name, when the call succeeded.
    pub display_name: Option<String>,
    pub message: String,
}

/// One entry of an integration's event log (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: i64,
    pub at: String,
    pub kind: EventKind,
    pub outcome: EventOutcome,
    pub http_status: Option<i64>,
    pub error_code: Option<String>,
    pub message: String,
    /// Who caused it: an email, "scheduler", or none (before sign-in existed).
    pub actor: Option<String>,
}

/// `/integrations/{id}`: the integration and its event log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationDetailView {
    pub integration: IntegrationView,
    pub events: Vec<EventView>,
    /// The connect links made for it (to re-authenticate it, or that
    /// connected it), newest first.
    pub links: Vec<ConnectLinkView>,
    pub info: AppInfo,
    /// Where programs reach this dashboard (the service API's base), for the
    /// page's curl examples.
    pub public_origin: String,
}

/// A connect link, as the integration page lists it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectLinkView {
    pub id: i64,
    pub created_at: String,
    /// Who made it: an API key's label, or "webhook" for a message's reconnectUrl.
    pub created_by: String,
    pub expires_at: String,
    /// When its one use started the flow.
    pub opened_at: Option<String>,
    /// `connected`, `reauthenticated`, `declined` or `failed`, once finished.
    pub outcome: Option<String>,
}

/// One page of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardPageView {
    pub items: Vec<IntegrationView>,
    /// Integrations matching the filter, on every page.
    pub total: i64,
    /// The page served, 1-based: the one asked for, or the last when the
    /// one asked for lies beyond it.
    pub page: i64,
    pub page_size: i64,
    /// The whole fleet by status (not just this filter).
    pub summary: FleetSummaryView,
}

/// How many connected integrations have each status (the dashboard's summary).
pub type FleetSummaryView = crate::status::FleetSummary;

impl IntegrationView {
    /// The view of `i` at `now`, its status judged by `rule`.
    pub fn at(i: Integration, now: UnixTime, rule: StatusRule) -> Self {
        let status = status_at(
            StatusInputs {
                is_active: i.is_active,
                has_refresh_token: i.has_refresh_token,
                expires_at: i.expires_at.secs(),
                margin_secs: rule.margin_secs,
                policy: rule.policy,
            },
            now.secs(),
        );
        Self {
            id: i.id.get(),
            status,
            is_active: i.is_active,
            has_refresh_token: i.has_refresh_token,
            expires_at: rfc3339(i.expires_at),
            access_token_lifetime_secs: i.access_token_lifetime,
            refresh_failures: i.refresh_failures,
            last_refresh_at: i.last_refresh_at.map(rfc3339),
            refresh_token_idle_expires_at: i.refresh_token_idle_expires_at().map(rfc3339),
            consent_expires_at: i.consent_expires_at().map(rfc3339),
            last_error: i.last_error,
            account_id: i.account_id,
            account_name: i.account_name,
            account_email: i.account_email,
            sites: i
                .sites
                .into_iter()
                .map(|s| SiteView {
                    cloud_id: s.cloud_id,
                    name: s.name,
                    url: s.url,
                })
                .collect(),
            scopes: i.scopes,
            created_at: rfc3339(i.created_at),
            end_user_id: i.end_user.as_ref().map(|u| u.id.clone()),
            display_name: i.end_user.and_then(|u| u.display_name),
            tags: i.tags,
        }
    }
}

/// Jira's rate limits as this product sees them (`GET /v1/rate-limits`, and
/// the dashboard's "Jira quota" panel): the quota pools as last seen, the
/// holds running, and what each API key spent and was held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RateLimitsView {
    pub pools: Vec<QuotaPoolView>,
    pub holds: Vec<HoldView>,
    /// Keys by points spent, most first (this process, since it started).
    pub keys: Vec<KeySpendView>,
}

/// A quota pool as the last answer told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QuotaPoolView {
    /// `app` (one pool for the app), or `tenant <cloudId>`.
    pub pool: String,
    pub remaining: u64,
    /// The window's points, when Jira said.
    pub points: Option<u64>,
    /// RFC 3339.
    pub resets_at: String,
    pub near_limit: bool,
    /// Whether calls are being spread over the rest of the window.
    pub pacing: bool,
}

/// A running hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    /// `app`, `tenant`, `endpoint` or `issue`.
    pub scope: String,
    /// What it holds: `app`, `tenant <cloudId>`, `endpoint <cloudId>
    /// <METHOD> <path>`, `issue <cloudId> <issue>`.
    pub target: String,
    pub reason: String,
    pub retry_after_secs: i64,
}

/// What one API key (or the product's own calls, key 0) spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeySpendView {
    pub key_id: i64,
    /// The key's name (`this product` for key 0, its own calls).
    pub name: String,
    /// Its weight among the keys calling while a pool paces (1: equal shares).
    pub weight: u32,
    /// The most points its calls may spend in any hour, if an admin set one.
    pub points_per_hour: Option<u64>,
    /// Points its calls cost over the last hour.
    pub points_last_hour: f64,
    /// Points its calls cost since this process started, as learnt from
    /// the pool's drops.
    pub points_spent: f64,
    /// Calls sent to Jira.
    pub calls: u64,
    /// Calls answered `rate_limited` without reaching Jira.
    pub held: u64,
    /// Calls that waited in line (`Prefer: wait`).
    pub queued: u64,
}
