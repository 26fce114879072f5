//! `#[server]` functions. Each has a fixed endpoint under `/api/` (a contract
//! other tests rely on); bodies are form-encoded, answers JSON. Each only
//! translates between HTTP and one of the engine's use cases.

#[cfg(feature = "ssr")]
mod server_side;
#[cfg(feature = "ssr")]
pub use server_side::app_info;

use domain::Permission;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::model::{
    AppInfo, ConnectionTestView, DashboardPageView, FleetSummaryView, IntegrationDetailView,
    IntegrationView, RateLimitsView, RefreshOutcomeView,
};

/// Who may call each server function: the one table the server's guard
/// checks (`server::router`, before the function runs) and the functions
/// read back through `server_side::signed_in` (to learn who acts). A server
/// function missing here is an administrator's alone; a test in the server
/// walks every registered server function and fails on one missing here.
pub const PERMISSIONS: &[(&str, Permission)] = &[
    (<ListIntegrations as ServerFn>::PATH, Permission::Read),
    (<DashboardPage as ServerFn>::PATH, Permission::Read),
    (<FleetSummary as ServerFn>::PATH, Permission::Read),
    (<JiraQuota as ServerFn>::PATH, Permission::Read),
    (<FetchAppInfo as ServerFn>::PATH, Permission::Read),
    (<IntegrationDetail as ServerFn>::PATH, Permission::Read),
    (<RefreshIntegration as ServerFn>::PATH, Permission::Operate),
    (
        <DisconnectIntegration as ServerFn>::PATH,
        Permission::Operate,
    ),
    (<TestConnection as ServerFn>::PATH, Permission::Operate),
];

/// The permission the server function at `path` needs, from [`PERMISSIONS`].
pub fn permission_of(path: &str) -> Option<Permission> {
    PERMISSIONS
        .iter()
        .find(|(known, _)| *known == path)
        .map(|(_, permission)| *permission)
}

/// The connected integrations as views (never a token), oldest first, a
/// bounded page at a time: `limit` of them (default 100, at most 500) with
/// ids above `after` (from the first without it). The answer stays a JSON
/// array (DESIGN.md's contract); the headers say the rest: `X-Total-Count`,
/// every connected integration, and `X-Next-After`, the `after` of the next
/// page (absent on the last). The whole fleet in one answer was 94.5 MB at
/// 200,000 integrations.
#[server(endpoint = "list_integrations")]
pub async fn list_integrations(
    after: Option<String>,
    limit: Option<String>,
) -> Result<Vec<IntegrationView>, ServerFnError> {
    // Text, read here: a bad number gets this product's sentence, not the
    // form decoder's.
    use engine::listing::{parse_after, parse_limit, DEFAULT_LISTING_LIMIT};
    server_side::signed_in(ListIntegrations::PATH)?;
    let engine = server_side::engine()?;
    let bad = |e: engine::listing::ListingError| {
        server_side::client_error(http::StatusCode::BAD_REQUEST, e.to_string())
    };
    let after = match after.as_deref() {
        None => None,
        Some(text) => parse_after(text).map_err(bad)?,
    };
    let limit = match limit.as_deref() {
        None => DEFAULT_LISTING_LIMIT,
        Some(text) => parse_limit(text).map_err(bad)?,
    };
    let page = engine
        .integrations_page(after, limit)
        .await
        .map_err(server_side::engine_error)?;
    server_side::page_headers(page.total, page.next_after);
    Ok(page
        .items
        .into_iter()
        .map(|i| engine.integration_view(i))
        .collect())
}

/// One page of the dashboard (`size`, default 100, at most 500), filtered by status
/// (`active` | `expiring` | `expired` | `needs_reauth`) and by a search over
/// site names and URLs and account names and emails. `page` is 1-based.
/// `sort` is `expiry` (soonest first) or `status` (what needs a person
/// first); without it the oldest connection comes first.
#[server(endpoint = "dashboard_page")]
pub async fn dashboard_page(
    page: Option<i64>,
    status: Option<String>,
    search: Option<String>,
    size: Option<i64>,
    sort: Option<String>,
) -> Result<DashboardPageView, ServerFnError> {
    use crate::model::Status;
    server_side::signed_in(DashboardPage::PATH)?;
    let engine = server_side::engine()?;
    let status = match status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            server_side::client_error(
                http::StatusCode::BAD_REQUEST,
                format!(
                    "Unknown status filter \"{}\": use active, expiring, expired, idle or needs_reauth.",
                    text.chars().take(40).collect::<String>()
                ),
            )
        })?),
    };
    if search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(server_side::client_error(
            http::StatusCode::BAD_REQUEST,
            format!("The search is too long: at most {MAX_SEARCH_CHARS} characters."),
        ));
    }
    let order = match sort.as_deref() {
        None | Some("") => domain::PageOrder::default(),
        Some(text) => domain::PageOrder::parse(text).ok_or_else(|| {
            server_side::client_error(
                http::StatusCode::BAD_REQUEST,
                format!(
                    "Unknown sort \"{}\": use expiry or status.",
                    text.chars().take(40).collect::<String>()
                ),
            )
        })?,
    };
    // 1 or more here; past the last page, the engine serves the last one
    // and says which it served.
    let page = page.unwrap_or(1).max(1);
    let found = engine
        .dashboard_page(domain::PageQuery {
            page: page - 1,
            page_size: size.unwrap_or(crate::model::PAGE_SIZE),
            status,
            search,
            order,
        })
        .await
        .map_err(server_side::engine_error)?;
    Ok(DashboardPageView {
        summary: found.summary,
        page_size: found.page_size,
        total: found.total,
        page: found.page + 1,
        items: found
            .items
            .into_iter()
            .map(|i| engine.integration_view(i))
            .collect(),
    })
}

/// How many connected integrations have each status now (the dashboard's
/// summary above the cards).
#[server(endpoint = "fleet_summary")]
pub async fn fleet_summary() -> Result<FleetSummaryView, ServerFnError> {
    server_side::signed_in(FleetSummary::PATH)?;
    let engine = server_side::engine()?;
    let summary = engine
        .fleet_summary()
        .await
        .map_err(server_side::engine_error)?;
    Ok(summary)
}

/// Jira's rate limits as this server sees them (the dashboard's "Jira
/// quota" panel; the same as `GET /v1/rate-limits`): the quota pools, the
/// API keys by points spent, and the holds running. API keys are named for
/// administrators only (Settings lists them to no one else); others see
/// "API key <id>".
#[server(endpoint = "jira_quota")]
pub async fn jira_quota() -> Result<RateLimitsView, ServerFnError> {
    let me = server_side::signed_in(JiraQuota::PATH)?;
    let engine = server_side::engine()?;
    let mut figures = engine.jira_rate_limits().await;
    if !me.role.may(Permission::Administer) {
        for key in figures.keys.iter_mut().filter(|k| k.key_id != 0) {
            key.name = format!("API key {}", key.key_id);
        }
    }
    Ok(figures)
}

/// The longest search the dashboard accepts (site names and emails are short).
pub const MAX_SEARCH_CHARS: usize = 200;

/// The mode (sandbox or Atlassian), the refresh margin and the server's clock.
#[server(endpoint = "app_info")]
pub async fn fetch_app_info() -> Result<AppInfo, ServerFnError> {
    server_side::signed_in(FetchAppInfo::PATH)?;
    let engine = server_side::engine()?;
    Ok(server_side::app_info(&engine))
}

/// Disconnects integration `id`: its tokens are deleted, its events kept.
#[server(endpoint = "disconnect_integration")]
pub async fn disconnect_integration(id: i64) -> Result<(), ServerFnError> {
    let user = server_side::signed_in(DisconnectIntegration::PATH)?;
    let engine = server_side::engine()?;
    engine
        .disconnect(server_side::integration_id(id)?, &user.actor())
        .await
        .map_err(server_side::engine_error)
}

/// Refreshes integration `id` now (or joins the refresh already in flight).
#[server(endpoint = "refresh_integration")]
pub async fn refresh_integration(id: i64) -> Result<RefreshOutcomeView, ServerFnError> {
    let user = server_side::signed_in(RefreshIntegration::PATH)?;
    let engine = server_side::engine()?;
    let refreshed = engine
        .refresh_integration(server_side::integration_id(id)?, &user.actor())
        .await
        .map_err(server_side::engine_error)?;
    Ok(RefreshOutcomeView {
        ok: refreshed.outcome.ok(),
        requires_reauth: refreshed.outcome.requires_reauth(),
        message: refreshed.outcome.message,
        integration: engine.integration_view(refreshed.integration),
    })
}

/// Calls Jira's `/rest/api/3/myself` with integration `id`'s stored token.
#[server(endpoint = "test_connection")]
pub async fn test_connection(id: i64) -> Result<ConnectionTestView, ServerFnError> {
    use engine::connection_test::ConnectionTestError;
    let user = server_side::signed_in(TestConnection::PATH)?;
    let engine = server_side::engine()?;
    match engine
        .test_connection(server_side::integration_id(id)?, &user.actor())
        .await
    {
        Ok(me) => Ok(ConnectionTestView {
            ok: true,
            message: format!("Connected to {} as {}.", me.site_name, me.display_name),
            display_name: Some(me.display_name),
        }),
        Err(e @ ConnectionTestError::NotFound(_)) => Err(server_side::client_error(
            http::StatusCode::NOT_FOUND,
            e.to_string(),
        )),
        Err(e) => Ok(ConnectionTestView {
            ok: false,
            display_name: None,
            message: e.to_string(),
        }),
    }
}

/// One integration with its event log (newest first), for `/integrations/{id}`.
#[server(endpoint = "integration_detail")]
pub async fn integration_detail(id: i64) -> Result<IntegrationDetailView, ServerFnError> {
    server_side::signed_in(IntegrationDetail::PATH)?;
    let engine = server_side::engine()?;
    let detail = engine
        .integration_detail(server_side::integration_id(id)?)
        .await
        .map_err(server_side::engine_error)?;
    let links = engine
        .connect_links_of(detail.integration.id, 20)
        .await
        .map_err(server_side::engine_error)?
        .into_iter()
        .map(engine::views::connect_link_view)
        .collect();
    Ok(IntegrationDetailView {
        links,
        integration: engine.integration_view(detail.integration),
        events: detail
            .events
            .into_iter()
            .map(engine::views::event_view)
            .collect(),
        info: server_side::app_info(&engine),
        public_origin: engine.redirect_uri().origin().ascii_serialization(),
    })
}
