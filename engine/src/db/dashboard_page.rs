//! The dashboard's paged, filtered listing: one page of integrations (with
//! their sites) and the total that matches, in two indexed queries.

use sqlx::{QueryBuilder, Sqlite};

use domain::{RefreshPolicy, Status, StatusRule, UnixTime};

use super::integrations::{with_sites, IntegrationRow, SiteRow, SELECT_INTEGRATION};
use super::{Database, DatabaseError};
use crate::integration::Integration;

/// The largest page the dashboard serves (`?size=500`).
pub const MAX_PAGE_SIZE: i64 = 500;

/// Appends the condition of a status filter: the same rules as
/// [`domain::status_at`] (a test holds the two together at every boundary).
fn push_status(qb: &mut QueryBuilder<'_, Sqlite>, status: Status, now: UnixTime, rule: StatusRule) {
    let soon = rule.soon(now);
    // An expired access token with a refresh token is "expired" when tokens
    // are kept fresh, "idle" on demand: each name matches nothing under the
    // other policy.
    let ran_out = match rule.policy {
        RefreshPolicy::Scheduled => Status::Expired,
        RefreshPolicy::OnDemand => Status::Idle,
    };
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
        Status::Expired | Status::Idle if status == ran_out => {
            qb.push(" AND i.is_active = 1 AND i.refresh_token IS NOT NULL AND i.expires_at <= ")
                .push_bind(now);
        }
        Status::Expired | Status::Idle => {
            qb.push(" AND 0");
        }
        Status::NeedsReauth => {
            qb.push(" AND (i.is_active = 0 OR (i.refresh_token IS NULL AND i.expires_at <= ")
                .push_bind(now)
                .push("))");
        }
    }
}

/// The order of the dashboard's listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageOrder {
    /// Oldest connection first (the default).
    #[default]
    Oldest,
    /// Soonest access-token expiry first.
    Expiry,
    /// What needs a person first: needs re-auth, expired, expiring, active;
    /// soonest expiry first within each.
    Status,
}

impl PageOrder {
    /// The name used in addresses (`?sort=expiry`); `None` for the default.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            PageOrder::Oldest => None,
            PageOrder::Expiry => Some("expiry"),
            PageOrder::Status => Some("status"),
        }
    }

    /// The order named by [`PageOrder::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "expiry" => Some(PageOrder::Expiry),
            "status" => Some(PageOrder::Status),
            _ => None,
        }
    }
}

/// How many connected integrations have each status at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetSummary {
    pub active: i64,
    pub expiring: i64,
    pub expired: i64,
    pub idle: i64,
    pub needs_reauth: i64,
}

impl FleetSummary {
    /// The count of one status.
    pub fn count(&self, status: Status) -> i64 {
        match status {
            Status::Active => self.active,
            Status::Expiring => self.expiring,
            Status::Expired => self.expired,
            Status::Idle => self.idle,
            Status::NeedsReauth => self.needs_reauth,
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
    pub order: PageOrder,
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

/// `text` as one FTS5 phrase: in double quotes, its own quotes doubled.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// ` WHERE ...` for the query's filters.
fn push_filter(
    qb: &mut QueryBuilder<'_, Sqlite>,
    query: &PageQuery,
    now: UnixTime,
    rule: StatusRule,
) {
    qb.push(" WHERE i.disconnected_at IS NULL");
    if let Some(status) = query.status {
        push_status(qb, status, now, rule);
    }
    if let Some(text) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let text = text.to_lowercase();
        if text.chars().count() >= 3 {
            // The trigram index: an index lookup, not a scan. The text is one
            // FTS5 phrase (its quotes doubled), so no character is syntax.
            qb.push(" AND i.id IN (SELECT rowid FROM integrations_search WHERE integrations_search MATCH ")
                .push_bind(fts_phrase(&text))
                .push(")");
        } else {
            // Too short for a trigram: LIKE over the rows.
            qb.push(" AND i.search_text LIKE ")
                .push_bind(like_pattern(&text))
                .push(" ESCAPE '\\'");
        }
    }
}

/// The ORDER BY terms of `order` (ending with the id, so pages are stable).
fn push_order(qb: &mut QueryBuilder<'_, Sqlite>, order: PageOrder, now: UnixTime, soon: UnixTime) {
    match order {
        PageOrder::Oldest => {}
        PageOrder::Expiry => {
            qb.push("i.expires_at, ");
        }
        PageOrder::Status => {
            // The ranks follow `push_status`'s conditions, most urgent first.
            qb.push("CASE WHEN i.is_active = 0 OR (i.refresh_token IS NULL AND i.expires_at <= ")
                .push_bind(now)
                .push(") THEN 0 WHEN i.expires_at <= ")
                .push_bind(now)
                .push(" THEN 1 WHEN i.expires_at <= ")
                .push_bind(soon)
                .push(" THEN 2 ELSE 3 END, i.expires_at, ");
        }
    }
    qb.push("i.id");
}

impl Database {
    /// Counts the connected integrations by status at `now`: one pass, with
    /// the same conditions as the status filter.
    pub async fn fleet_summary(
        &self,
        now: UnixTime,
        rule: StatusRule,
    ) -> Result<FleetSummary, DatabaseError> {
        let soon = rule.soon(now);
        let (needs_reauth, expired, expiring, active): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT \
               COALESCE(SUM(is_active = 0 OR (refresh_token IS NULL AND expires_at <= ?1)), 0), \
               COALESCE(SUM(is_active = 1 AND refresh_token IS NOT NULL AND expires_at <= ?1), 0), \
               COALESCE(SUM(is_active = 1 AND expires_at > ?1 AND expires_at <= ?2), 0), \
               COALESCE(SUM(is_active = 1 AND expires_at > ?2), 0) \
             FROM integrations WHERE disconnected_at IS NULL",
        )
        .bind(now)
        .bind(soon)
        .fetch_one(self.pool())
        .await?;
        let (expired, idle) = match rule.policy {
            RefreshPolicy::Scheduled => (expired, 0),
            RefreshPolicy::OnDemand => (0, expired),
        };
        Ok(FleetSummary {
            active,
            expiring,
            expired,
            idle,
            needs_reauth,
        })
    }

    /// A page of connected integrations, oldest first, filtered at `now`.
    pub async fn dashboard_page(
        &self,
        query: &PageQuery,
        now: UnixTime,
        rule: StatusRule,
    ) -> Result<Page, DatabaseError> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM integrations i");
        push_filter(&mut count, query, now, rule);
        let total: i64 = count.build_query_scalar().fetch_one(self.pool()).await?;

        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let mut select = QueryBuilder::<Sqlite>::new(SELECT_INTEGRATION);
        select.push(" i");
        push_filter(&mut select, query, now, rule);
        select.push(" ORDER BY ");
        push_order(&mut select, query.order, now, rule.soon(now));
        select
            .push(" LIMIT ")
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
