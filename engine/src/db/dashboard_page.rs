//! The dashboard's paged, filtered listing: one page of integrations (with
//! their sites) and the total that matches, in two indexed queries.

use sqlx::{QueryBuilder, Sqlite};

use domain::{Status, UnixTime};

use super::integrations::{with_sites, IntegrationRow, SiteRow, SELECT_INTEGRATION};
use super::{Database, DatabaseError};
use crate::integration::Integration;

/// The largest page the dashboard serves (`?size=500`).
pub const MAX_PAGE_SIZE: i64 = 500;

/// Appends the condition of a status filter: the same rules as
/// [`domain::status_at`] (a test holds the two together at every boundary).
fn push_status(qb: &mut QueryBuilder<'_, Sqlite>, status: Status, now: UnixTime, soon: UnixTime) {
    match status {
        Status::Active => {
            qb.push(" AND i.is_active = 1 AND i.expires_at > ")
                .push_bind(soon);
        }
        Status::Expiring => {
            qb.push(" AND i.is_active = 1 AND i.expires_at > ")
                .push_bind(now)
                .push(" AND i.expires_at <= ")
                .push_bind(soon);
        }
        Status::Expired => {
            qb.push(" AND i.is_active = 1 AND i.refresh_token IS NOT NULL AND i.expires_at <= ")
                .push_bind(now);
        }
        Status::NeedsReauth => {
            qb.push(" AND (i.is_active = 0 OR (i.refresh_token IS NULL AND i.expires_at <= ")
                .push_bind(now)
                .push("))");
        }
    }
}

/// What the dashboard asks for.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// 0-based page number.
    pub page: i64,
    pub page_size: i64,
    pub status: Option<Status>,
    /// Matches site name or URL, account name or email (case-insensitive).
    pub search: Option<String>,
}

/// One page and the number of integrations that match the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Integration>,
    pub total: i64,
    /// The page size used (clamped to 1..=[`MAX_PAGE_SIZE`]).
    pub page_size: i64,
}

/// `%text%` for LIKE, with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// ` WHERE ...` for the query's filters.
fn push_filter(
    qb: &mut QueryBuilder<'_, Sqlite>,
    query: &PageQuery,
    now: UnixTime,
    margin_secs: i64,
) {
    qb.push(" WHERE i.disconnected_at IS NULL");
    if let Some(status) = query.status {
        push_status(qb, status, now, now + margin_secs);
    }
    if let Some(text) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = like_pattern(&text.to_lowercase());
        qb.push(" AND i.search_text LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'");
    }
}

impl Database {
    /// A page of connected integrations, oldest first, filtered at `now`.
    pub async fn dashboard_page(
        &self,
        query: &PageQuery,
        now: UnixTime,
        margin_secs: i64,
    ) -> Result<Page, DatabaseError> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM integrations i");
        push_filter(&mut count, query, now, margin_secs);
        let total: i64 = count.build_query_scalar().fetch_one(self.pool()).await?;

        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let mut select = QueryBuilder::<Sqlite>::new(SELECT_INTEGRATION);
        select.push(" i");
        push_filter(&mut select, query, now, margin_secs);
        select
            .push(" ORDER BY i.id LIMIT ")
            .push_bind(page_size)
            .push(" OFFSET ")
            .push_bind(query.page.max(0).saturating_mul(page_size));
        let rows: Vec<IntegrationRow> = select.build_query_as().fetch_all(self.pool()).await?;

        let mut sites: Vec<SiteRow> = Vec::new();
        if !rows.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT integration_id, cloud_id, name, url FROM integration_sites WHERE integration_id IN (",
            );
            let mut ids = q.separated(", ");
            for r in &rows {
                ids.push_bind(r.id);
            }
            q.push(") ORDER BY name");
            sites = q.build_query_as().fetch_all(self.pool()).await?;
        }
        let items = with_sites(rows, sites);
        Ok(Page {
            items,
            total,
            page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
