//! Reading integrations: the columns of `integrations` and
//! `integration_sites` an [`Integration`] is made from, for every query file
//! that reads them (the fleet listing, the dashboard's pages, the outbox's
//! rendering of the row a change left).

use std::collections::HashMap;

use sqlx::FromRow;

use domain::{EndUser, Integration, IntegrationId, Site, Tags, UnixTime};

use super::{query, DatabaseError, On};

#[derive(FromRow)]
pub(super) struct IntegrationRow {
    pub(super) id: IntegrationId,
    account_id: String,
    account_name: String,
    account_email: Option<String>,
    scopes: String,
    has_refresh_token: bool,
    pub(super) expires_at: UnixTime,
    access_token_lifetime: i64,
    is_active: bool,
    refresh_failures: i64,
    last_refresh_at: Option<UnixTime>,
    last_error: Option<String>,
    refresh_token_issued_at: Option<UnixTime>,
    consented_at: UnixTime,
    created_at: UnixTime,
    disconnected_at: Option<UnixTime>,
    end_user_id: Option<String>,
    end_user_name: Option<String>,
    tags: String,
}

#[derive(FromRow)]
pub(super) struct SiteRow {
    pub(super) integration_id: IntegrationId,
    pub(super) cloud_id: String,
    pub(super) name: String,
    pub(super) url: String,
}

/// The columns of an [`Integration`]; callers may alias the table as `i`.
pub(super) const SELECT_INTEGRATION: &str =
    "SELECT id, account_id, account_name, account_email, scopes,
        refresh_token IS NOT NULL AS has_refresh_token, expires_at, access_token_lifetime,
        (is_active = 1) AS is_active, refresh_failures, last_refresh_at, last_error, refresh_token_issued_at,
        consented_at, created_at, disconnected_at, end_user_id, end_user_name, tags
     FROM integrations";

/// The sites of each integration, by integration id, in the rows' order.
fn group_sites(rows: Vec<SiteRow>) -> HashMap<IntegrationId, Vec<Site>> {
    let mut by_integration: HashMap<IntegrationId, Vec<Site>> = HashMap::new();
    for s in rows {
        by_integration
            .entry(s.integration_id)
            .or_default()
            .push(Site {
                cloud_id: s.cloud_id,
                name: s.name,
                url: s.url,
            });
    }
    by_integration
}

/// Integrations from their rows and all their sites' rows.
pub(super) fn with_sites(rows: Vec<IntegrationRow>, sites: Vec<SiteRow>) -> Vec<Integration> {
    let mut sites = group_sites(sites);
    rows.into_iter()
        .map(|r| {
            let own = sites.remove(&r.id).unwrap_or_default();
            into_integration(r, own)
        })
        .collect()
}

fn into_integration(r: IntegrationRow, sites: Vec<Site>) -> Integration {
    Integration {
        id: r.id,
        account_id: r.account_id,
        account_name: r.account_name,
        account_email: r.account_email,
        scopes: r.scopes.split_whitespace().map(str::to_owned).collect(),
        has_refresh_token: r.has_refresh_token,
        expires_at: r.expires_at,
        access_token_lifetime: r.access_token_lifetime,
        is_active: r.is_active,
        refresh_failures: r.refresh_failures,
        last_refresh_at: r.last_refresh_at,
        last_error: r.last_error,
        refresh_token_issued_at: r.refresh_token_issued_at,
        consented_at: r.consented_at,
        created_at: r.created_at,
        disconnected_at: r.disconnected_at,
        sites,
        end_user: r.end_user_id.map(|id| EndUser {
            id,
            display_name: r.end_user_name,
        }),
        tags: Tags::from_json(&r.tags),
    }
}

/// One integration (connected or not), with its sites, read on `on` (in a
/// transaction, the webhook outbox renders the row as the change it reports
/// left it).
pub(super) async fn find_integration_on(
    mut on: On<'_>,
    id: IntegrationId,
) -> Result<Option<Integration>, DatabaseError> {
    let row: Option<IntegrationRow> = query(format!("{SELECT_INTEGRATION} WHERE id = $1"))
        .bind(id)
        .fetch_optional(on.reborrow())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let sites: Vec<SiteRow> = query(
        "SELECT integration_id, cloud_id, name, url FROM integration_sites
         WHERE integration_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(on)
    .await?;
    Ok(with_sites(vec![row], sites).pop())
}
