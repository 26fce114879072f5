//! `#[server]` functions. Each has a fixed endpoint under `/api/` (a contract
//! other tests rely on); bodies are form-encoded, answers JSON.

#[cfg(feature = "ssr")]
mod server_side;

use leptos::prelude::*;

use crate::model::{
    AppInfo, ConnectionTestView, DashboardPageView, IntegrationDetailView, IntegrationView,
    RefreshOutcomeView,
};

/// Every connected integration, as views (never a token).
#[server(endpoint = "list_integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationView>, ServerFnError> {
    let engine = server_side::engine()?;
    let now = engine.clock.now();
    let integrations = engine
        .db
        .list_integrations()
        .await
        .map_err(server_side::internal("list the integrations"))?;
    Ok(integrations
        .into_iter()
        .map(|i| server_side::integration_view(i, now, engine.refresh_margin_secs))
        .collect())
}

/// One page of the dashboard (`size`, default 100, at most 500), filtered by status
/// (`active` | `expiring` | `expired` | `needs_reauth`) and by a search over
/// site names and URLs and account names and emails. `page` is 1-based.
#[server(endpoint = "dashboard_page")]
pub async fn dashboard_page(
    page: Option<i64>,
    status: Option<String>,
    search: Option<String>,
    size: Option<i64>,
) -> Result<DashboardPageView, ServerFnError> {
    use engine::db::{PageQuery, StatusFilter};
    let engine = server_side::engine()?;
    let status = match status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(text) => Some(StatusFilter::parse(text).ok_or_else(|| {
            server_side::client_error(
                http::StatusCode::BAD_REQUEST,
                format!("Unknown status filter \"{text}\": use active, expiring, expired or needs_reauth."),
            )
        })?),
    };
    let page = page.unwrap_or(1).max(1);
    let page_size = size
        .unwrap_or(crate::model::PAGE_SIZE)
        .clamp(1, engine::db::MAX_PAGE_SIZE);
    let now = engine.clock.now();
    let found = engine
        .db
        .dashboard_page(
            &PageQuery {
                page: page - 1,
                page_size,
                status,
                search,
            },
            now,
            engine.refresh_margin_secs,
        )
        .await
        .map_err(server_side::internal("list the integrations"))?;
    Ok(DashboardPageView {
        items: found
            .items
            .into_iter()
            .map(|i| server_side::integration_view(i, now, engine.refresh_margin_secs))
            .collect(),
        total: found.total,
        page,
        page_size,
    })
}

/// The mode (sandbox or Atlassian), the refresh margin and the server's clock.
#[server(endpoint = "app_info")]
pub async fn fetch_app_info() -> Result<AppInfo, ServerFnError> {
    let engine = server_side::engine()?;
    Ok(server_side::app_info(&engine))
}

/// Disconnects integration `id`: its tokens are deleted, its events kept.
#[server(endpoint = "disconnect_integration")]
pub async fn disconnect_integration(id: i64) -> Result<(), ServerFnError> {
    let engine = server_side::engine()?;
    let now = engine.clock.now();
    match engine.db.disconnect(id, now).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(server_side::client_error(
            http::StatusCode::NOT_FOUND,
            format!("Integration {id} does not exist or is already disconnected."),
        )),
        Err(e) => Err(server_side::internal("disconnect the integration")(e)),
    }
}

/// Refreshes integration `id` now (or joins the refresh already in flight).
#[server(endpoint = "refresh_integration")]
pub async fn refresh_integration(id: i64) -> Result<RefreshOutcomeView, ServerFnError> {
    use engine::refresh::RefreshResult;
    let engine = server_side::engine()?;
    let outcome = engine.refresh(id).await;
    if outcome.result == RefreshResult::NotFound {
        return Err(server_side::client_error(
            http::StatusCode::NOT_FOUND,
            outcome.message,
        ));
    }
    let integration = engine
        .db
        .find_integration(id)
        .await
        .map_err(server_side::internal("read the integration"))?
        .ok_or_else(|| {
            server_side::client_error(
                http::StatusCode::NOT_FOUND,
                format!("Integration {id} does not exist."),
            )
        })?;
    Ok(RefreshOutcomeView {
        ok: outcome.ok(),
        requires_reauth: outcome.requires_reauth(),
        message: outcome.message,
        integration: server_side::integration_view(
            integration,
            engine.clock.now(),
            engine.refresh_margin_secs,
        ),
    })
}

/// Calls Jira's `/rest/api/3/myself` with integration `id`'s stored token.
#[server(endpoint = "test_connection")]
pub async fn test_connection(id: i64) -> Result<ConnectionTestView, ServerFnError> {
    use engine::connection_test::ConnectionTestError;
    let engine = server_side::engine()?;
    match engine.test_connection(id).await {
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
    let engine = server_side::engine()?;
    let integration = engine
        .db
        .find_integration(id)
        .await
        .map_err(server_side::internal("read the integration"))?
        .filter(|i| i.disconnected_at.is_none())
        .ok_or_else(|| {
            server_side::client_error(
                http::StatusCode::NOT_FOUND,
                format!("Integration {id} does not exist or was disconnected."),
            )
        })?;
    let events = engine
        .db
        .events_of(id, 200)
        .await
        .map_err(server_side::internal("read the event log"))?;
    Ok(IntegrationDetailView {
        integration: server_side::integration_view(
            integration,
            engine.clock.now(),
            engine.refresh_margin_secs,
        ),
        events: events.into_iter().map(server_side::event_view).collect(),
        info: server_side::app_info(&engine),
    })
}
