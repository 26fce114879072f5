//! The dashboard's paged, filtered listing: one page of integrations (with
//! their sites), the total that matches and the fleet's counts by status, at
//! a million integrations too: counts come from `fleet_counts` and index
//! ranges, pages from an index walk or a table walk that stops at the page,
//! never from a pass over every row (a search narrows by its trigram index).
//!
//! Each query has a SQLite text and a PostgreSQL text: SQLite's names the
//! index each walk takes (`INDEXED BY`, which its planner would not always
//! pick) and searches its FTS5 trigram table; PostgreSQL's leaves the index
//! to its planner and searches `search_text` with LIKE (a pg_trgm GIN index).

use std::collections::HashMap;

use domain::{FleetSummary, PageOrder, PageQuery, RefreshPolicy, Status, StatusRule, UnixTime};

use super::assembled::Sql;
use super::integration_rows::{with_sites, IntegrationRow, SiteRow, SELECT_INTEGRATION};
use super::integrations::MAX_PAGE_SIZE;
use super::{query, Database, DatabaseError, Query, Tx};
use domain::Integration;

/// Appends the condition of a status filter: the same rules as
/// [`domain::status_at`] (a test holds the two together at every boundary).
fn push_status(qb: &mut Sql, status: Status, now: UnixTime, rule: StatusRule) {
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
            qb.push_dialect(" AND 0", " AND FALSE");
        }
        Status::NeedsReauth => {
            qb.push(" AND (i.is_active = 0 OR (i.refresh_token IS NULL AND i.expires_at <= ")
                .push_bind(now)
                .push("))");
        }
    }
}

/// One page and the number of integrations that match the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Integration>,
    pub total: i64,
    /// The 0-based page served: the one asked for, or the last page when
    /// the one asked for lies beyond it (a bookmark from a bigger fleet,
    /// `?page=9223372036854775807`).
    pub page: i64,
    /// The page size used (clamped to 1..=[`MAX_PAGE_SIZE`]).
    pub page_size: i64,
    /// The whole fleet by status at the same instant.
    pub summary: FleetSummary,
}

/// `text` with LIKE's wildcards (and the escape character) escaped, for
/// `LIKE ... ESCAPE '\'`.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `%text%` for LIKE, with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> String {
    format!("%{}%", like_escape(text))
}

/// `text` as one FTS5 phrase: in double quotes, its own quotes doubled.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// What the query searches for, lower case, without control characters
/// (FTS5 cannot take a NUL) or surrounding spaces; `None` for no search.
fn search_text(query: &PageQuery) -> Option<String> {
    let text: String = query
        .search
        .as_deref()?
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_lowercase())
}

/// ` WHERE ...` for the query's filters.
fn push_filter(qb: &mut Sql, query: &PageQuery, now: UnixTime, rule: StatusRule) {
    qb.push(" WHERE i.disconnected_at IS NULL");
    if let Some(status) = query.status {
        push_status(qb, status, now, rule);
    }
    if let Some(text) = search_text(query) {
        if text.chars().count() >= 3 {
            // The trigram index: an index lookup, not a scan. On SQLite the
            // text is one FTS5 phrase (its quotes doubled), so no character
            // is syntax; on PostgreSQL a LIKE on `search_text`, which its
            // pg_trgm GIN index answers (wildcards escaped as below).
            qb.push_dialect(
                " AND i.id IN (SELECT rowid FROM integrations_search WHERE integrations_search MATCH ",
                " AND i.search_text LIKE ('%' || ",
            )
            .push_bind_dialect(fts_phrase(&text), like_escape(&text))
            .push_dialect(")", " || '%') ESCAPE '\\'");
        } else {
            // Too short for a trigram: LIKE over the rows.
            qb.push(" AND i.search_text LIKE ")
                .push_bind(like_pattern(&text))
                .push(" ESCAPE '\\'");
        }
    }
}

/// The ORDER BY terms of `order` (ending with the id, so pages are stable).
fn push_order(qb: &mut Sql, order: PageOrder, now: UnixTime, soon: UnixTime) {
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

/// The ids of every connected integration, active then inactive, each an
/// index range in `(expires_at, id)` order. Two lists that SQLite merges
/// (a compound SELECT with an ORDER BY streams both sides in order), so a
/// deep page costs index steps, never memory for the rows before it. An
/// active row is always connected (a disconnect sets `is_active = 0` in the
/// same statement), so the active side is read from the index alone.
/// `$1` is the limit, `$2` the offset.
const CONNECTED_BY_EXPIRY: &str =
    "SELECT id, expires_at FROM integrations INDEXED BY integrations_due_soon
     WHERE is_active = 1
 UNION ALL
 SELECT id, expires_at FROM integrations INDEXED BY integrations_due_soon
     WHERE is_active = 0 AND disconnected_at IS NULL
 ORDER BY expires_at, id LIMIT $1 OFFSET $2";

/// [`CONNECTED_BY_EXPIRY`] on PostgreSQL (the planner picks the indexes; a
/// top-level UNION ALL is an append it can merge in order).
const CONNECTED_BY_EXPIRY_PG: &str = "SELECT id, expires_at FROM integrations
     WHERE is_active = 1
 UNION ALL
 SELECT id, expires_at FROM integrations
     WHERE is_active = 0 AND disconnected_at IS NULL
 ORDER BY expires_at, id LIMIT $1 OFFSET $2";

/// The ids of "needs re-auth" in `(expires_at, id)` order: the inactive
/// ones, merged (as above) with the active ones that ran out without a
/// refresh token (a partial index). `$1` is the limit, `$2` the offset,
/// `$3` now.
const NEEDING_REAUTH_BY_EXPIRY: &str =
    "SELECT id, expires_at FROM integrations INDEXED BY integrations_due_soon
     WHERE is_active = 0 AND disconnected_at IS NULL
 UNION ALL
 SELECT id, expires_at FROM integrations INDEXED BY integrations_without_refresh_token
     WHERE is_active = 1 AND refresh_token IS NULL AND disconnected_at IS NULL AND expires_at <= $3
 ORDER BY expires_at, id LIMIT $1 OFFSET $2";

/// [`NEEDING_REAUTH_BY_EXPIRY`] on PostgreSQL.
const NEEDING_REAUTH_BY_EXPIRY_PG: &str = "SELECT id, expires_at FROM integrations
     WHERE is_active = 0 AND disconnected_at IS NULL
 UNION ALL
 SELECT id, expires_at FROM integrations
     WHERE is_active = 1 AND refresh_token IS NULL AND disconnected_at IS NULL AND expires_at <= $3
 ORDER BY expires_at, id LIMIT $1 OFFSET $2";

/// The ids of "needs re-auth" in id order: the inactive ones on their own
/// partial index, merged with the active ones that ran out without a
/// refresh token (sorted by id: that set is small). `$1` is the limit, `$2`
/// the offset, `$3` now.
const NEEDING_REAUTH_BY_ID: &str = "SELECT id FROM integrations INDEXED BY integrations_inactive
     WHERE is_active = 0 AND disconnected_at IS NULL
 UNION ALL
 SELECT id FROM integrations INDEXED BY integrations_without_refresh_token
     WHERE is_active = 1 AND refresh_token IS NULL AND disconnected_at IS NULL AND expires_at <= $3
 ORDER BY id LIMIT $1 OFFSET $2";

/// [`NEEDING_REAUTH_BY_ID`] on PostgreSQL.
const NEEDING_REAUTH_BY_ID_PG: &str = "SELECT id FROM integrations
     WHERE is_active = 0 AND disconnected_at IS NULL
 UNION ALL
 SELECT id FROM integrations
     WHERE is_active = 1 AND refresh_token IS NULL AND disconnected_at IS NULL AND expires_at <= $3
 ORDER BY id LIMIT $1 OFFSET $2";

impl Database {
    /// How many connected integrations are active and inactive
    /// (`fleet_counts`, kept by triggers).
    pub(super) async fn connected_counts(reader: &mut Tx) -> Result<(i64, i64), DatabaseError> {
        let counts: Vec<(bool, i64)> =
            query("SELECT (is_active = 1) AS is_active, connected FROM fleet_counts")
                .fetch_all(reader)
                .await?;
        let count = |active: bool| {
            counts
                .iter()
                .find(|(a, _)| *a == active)
                .map_or(0, |(_, n)| *n)
        };
        Ok((count(true), count(false)))
    }

    /// Counts the connected integrations by status at `now`, with the same
    /// conditions as the status filter, without reading every row: the
    /// active and inactive totals are kept by triggers, and the statuses that
    /// depend on the clock are ranges of the `(is_active, expires_at)` index
    /// (the range that is usually small is counted, the other derived).
    pub(crate) async fn fleet_summary(
        &self,
        now: UnixTime,
        rule: StatusRule,
    ) -> Result<FleetSummary, DatabaseError> {
        let soon = rule.soon(now);
        // One read transaction: every count from the same snapshot, so a
        // write between two of them cannot skew the sums.
        let mut tx = self.begin_snapshot().await?;
        let (active_total, inactive) = Self::connected_counts(&mut tx).await?;
        // Active, no refresh token, run out: only a person can revive it
        // (the scheduler soon flags it inactive). A partial index.
        let dead: i64 = Query::dialect(
            "SELECT count(*) AS n FROM integrations INDEXED BY integrations_without_refresh_token
             WHERE is_active = 1 AND refresh_token IS NULL AND expires_at <= $1",
            "SELECT count(*) FROM integrations
             WHERE is_active = 1 AND refresh_token IS NULL AND expires_at <= $1",
        )
        .bind(now)
        .scalar(&mut tx)
        .await?;
        let range = |from: Option<UnixTime>, to: Option<UnixTime>| {
            let mut q = Sql::new("SELECT count(*) FROM integrations");
            q.push_dialect(" INDEXED BY integrations_due_soon", "")
                .push(" WHERE is_active = 1");
            if let Some(from) = from {
                q.push(" AND expires_at > ").push_bind(from);
            }
            if let Some(to) = to {
                q.push(" AND expires_at <= ").push_bind(to);
            }
            q.build()
        };
        let summary = match rule.policy {
            RefreshPolicy::Scheduled => {
                // The scheduler keeps the run-out range small.
                let ran_out: i64 = range(None, Some(now)).scalar(&mut tx).await?;
                let expiring: i64 = range(Some(now), Some(soon)).scalar(&mut tx).await?;
                FleetSummary {
                    active: active_total - ran_out - expiring,
                    expiring,
                    expired: ran_out - dead,
                    idle: 0,
                    needs_reauth: inactive + dead,
                }
            }
            RefreshPolicy::OnDemand => {
                // Most tokens sit idle: the fresh range is the small one.
                let fresh: i64 = range(Some(now), None).scalar(&mut tx).await?;
                FleetSummary {
                    active: fresh,
                    expiring: 0,
                    expired: 0,
                    idle: active_total - fresh - dead,
                    needs_reauth: inactive + dead,
                }
            }
        };
        tx.commit().await?;
        Ok(summary)
    }

    /// A page of connected integrations, filtered at `now`, with the
    /// number that match and the fleet's counts by status.
    pub(crate) async fn dashboard_page(
        &self,
        query: &PageQuery,
        now: UnixTime,
        rule: StatusRule,
    ) -> Result<Page, DatabaseError> {
        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let summary = self.fleet_summary(now, rule).await?;
        let searching = search_text(query).is_some();
        let (page, total, rows) = if searching {
            // The trigram index narrows the rows first; counting them all is
            // quick for a selective search (see docs/OPERATIONS.md's performance figures).
            let mut count = Sql::new("SELECT COUNT(*) FROM integrations i");
            push_filter(&mut count, query, now, rule);
            let total: i64 = count.build().scalar(self).await?;
            let page = page_within(query.page, page_size, total);
            let offset = page * page_size;
            let mut select = Sql::new(SELECT_INTEGRATION);
            select.push(" i");
            push_filter(&mut select, query, now, rule);
            select.push(" ORDER BY ");
            push_order(&mut select, query.order, now, rule.soon(now));
            select
                .push(" LIMIT ")
                .push_bind(page_size)
                .push(" OFFSET ")
                .push_bind(offset);
            (page, total, select.build().fetch_all(self).await?)
        } else {
            let total = match query.status {
                Some(status) => summary.count(status),
                None => summary.total(),
            };
            let page = page_within(query.page, page_size, total);
            let offset = page * page_size;
            let rows = match (query.order, query.status) {
                // Nothing there (a status this policy never gives, say): no
                // query, which could not use the index it names anyway.
                _ if offset >= total => Vec::new(),
                (PageOrder::Oldest, status) => {
                    // A walk in id order stops at the page, but crosses every
                    // row without the status before it: fine for most of the
                    // fleet, wherever the others sit. Fewer are read from
                    // their index range (ids only), whatever their ids.
                    let sparse = status.is_some() && total.saturating_mul(2) <= summary.total();
                    self.oldest_first(status, sparse, now, rule, page_size, offset)
                        .await?
                }
                (PageOrder::Expiry, Some(status)) => {
                    self.by_expiry(status, now, rule, page_size, offset).await?
                }
                (PageOrder::Expiry, None) => {
                    let ids: Vec<(i64, i64)> =
                        Query::dialect(CONNECTED_BY_EXPIRY, CONNECTED_BY_EXPIRY_PG)
                            .bind(page_size)
                            .bind(offset)
                            .fetch_all(self)
                            .await?;
                    let ids: Vec<i64> = ids.into_iter().map(|(id, _)| id).collect();
                    self.rows_in_order(&ids).await?
                }
                (PageOrder::Status, Some(status)) => {
                    self.by_expiry(status, now, rule, page_size, offset).await?
                }
                (PageOrder::Status, None) => {
                    // Most urgent status first, each in expiry order: the
                    // page takes its share of each, by the counts.
                    let mut rows = Vec::new();
                    let mut skip = offset;
                    for &status in STATUS_RANK {
                        let count = summary.count(status);
                        let want = page_size - i64::try_from(rows.len()).unwrap_or(page_size);
                        if want <= 0 {
                            break;
                        }
                        if skip >= count {
                            skip -= count;
                            continue;
                        }
                        rows.extend(self.by_expiry(status, now, rule, want, skip).await?);
                        skip = 0;
                    }
                    rows
                }
            };
            (page, total, rows)
        };

        let mut sites: Vec<SiteRow> = Vec::new();
        if !rows.is_empty() {
            let mut q = Sql::new(
                "SELECT integration_id, cloud_id, name, url FROM integration_sites WHERE integration_id IN (",
            );
            q.push_list(rows.iter().map(|r| r.id));
            // By name as SQLite compares text (bytes): PostgreSQL's default
            // collation would sort by its locale's rules. The cloud id breaks
            // ties, so both list a page's sites in the same order.
            q.push(") ORDER BY name")
                .push_dialect(", cloud_id", " COLLATE \"C\", cloud_id COLLATE \"C\"");
            sites = q.build().fetch_all(self).await?;
        }
        let items = with_sites(rows, sites);
        Ok(Page {
            items,
            total,
            page,
            page_size,
            summary,
        })
    }

    /// Connected integrations (with `status`, if any) in id order: walking
    /// the table and stopping at the page, or, when at most half the fleet
    /// has the status (`sparse`), from its index ranges.
    async fn oldest_first(
        &self,
        status: Option<Status>,
        sparse: bool,
        now: UnixTime,
        rule: StatusRule,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<IntegrationRow>, DatabaseError> {
        if status == Some(Status::NeedsReauth) {
            return self.needing_reauth_oldest_first(now, limit, offset).await;
        }
        if let (Some(status), true) = (status, sparse) {
            // Active, so connected: the range's ids come from the index
            // alone (only "expired" and "idle" look at the row, for its
            // refresh token); the first `limit` after `offset` by id.
            let mut ids = Sql::new("SELECT i.id FROM integrations i");
            ids.push_dialect(" INDEXED BY integrations_due_soon WHERE 1", " WHERE TRUE");
            push_status(&mut ids, status, now, rule);
            ids.push(" ORDER BY i.id LIMIT ")
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
            let ids: Vec<i64> = ids.build().scalars(self).await?;
            return self.rows_by_id(&ids).await;
        }
        let mut select = Sql::new(SELECT_INTEGRATION);
        select.push_dialect(" i NOT INDEXED", " i");
        push_filter(
            &mut select,
            &PageQuery {
                status,
                ..PageQuery::default()
            },
            now,
            rule,
        );
        select
            .push(" ORDER BY i.id LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        Ok(select.build().fetch_all(self).await?)
    }

    /// "Needs re-auth" in id order ([`NEEDING_REAUTH_BY_ID`]), then the
    /// page's rows by id.
    async fn needing_reauth_oldest_first(
        &self,
        now: UnixTime,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<IntegrationRow>, DatabaseError> {
        let ids: Vec<i64> = Query::dialect(NEEDING_REAUTH_BY_ID, NEEDING_REAUTH_BY_ID_PG)
            .bind(limit)
            .bind(offset)
            .bind(now)
            .scalars(self)
            .await?;
        self.rows_by_id(&ids).await
    }

    /// The rows of `ids`, in the order of `ids`.
    async fn rows_in_order(&self, ids: &[i64]) -> Result<Vec<IntegrationRow>, DatabaseError> {
        let position: HashMap<i64, usize> =
            ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
        let mut rows = self.rows_by_id(ids).await?;
        rows.sort_by_key(|r| position.get(&r.id.0).copied().unwrap_or(usize::MAX));
        Ok(rows)
    }

    /// The rows of `ids`, in id order.
    async fn rows_by_id(&self, ids: &[i64]) -> Result<Vec<IntegrationRow>, DatabaseError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut select = Sql::new(SELECT_INTEGRATION);
        select.push(" WHERE id IN (");
        select.push_list(ids.iter().copied());
        select.push(") ORDER BY id");
        Ok(select.build().fetch_all(self).await?)
    }

    /// Integrations with `status` in `(expires_at, id)` order, on the
    /// `(is_active, expires_at)` index (no sort).
    async fn by_expiry(
        &self,
        status: Status,
        now: UnixTime,
        rule: StatusRule,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<IntegrationRow>, DatabaseError> {
        if status == Status::NeedsReauth {
            let ids: Vec<(i64, i64)> =
                Query::dialect(NEEDING_REAUTH_BY_EXPIRY, NEEDING_REAUTH_BY_EXPIRY_PG)
                    .bind(limit)
                    .bind(offset)
                    .bind(now)
                    .fetch_all(self)
                    .await?;
            let ids: Vec<i64> = ids.into_iter().map(|(id, _)| id).collect();
            return self.rows_in_order(&ids).await;
        }
        // Every other status is active, so connected (see
        // `CONNECTED_BY_EXPIRY`): the rows skipped before the page are
        // index steps, not row reads (only "expired" and "idle" read the
        // row, for its refresh token).
        let mut select = Sql::new(SELECT_INTEGRATION);
        select.push_dialect(
            " i INDEXED BY integrations_due_soon WHERE 1",
            " i WHERE TRUE",
        );
        push_status(&mut select, status, now, rule);
        select
            .push(" ORDER BY i.expires_at, i.id LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        Ok(select.build().fetch_all(self).await?)
    }
}

/// The 0-based page to serve when `asked` is wanted of `total` rows in pages
/// of `page_size`: at least the first, at most the last (the first when
/// nothing matches), so an address past the end shows the end rather than an
/// empty page numbered in the billions.
fn page_within(asked: i64, page_size: i64, total: i64) -> i64 {
    let last = (total.max(1) - 1) / page_size.max(1);
    asked.clamp(0, last)
}

/// The statuses in the order "what needs a person first" lists them.
const STATUS_RANK: &[Status] = &[
    Status::NeedsReauth,
    Status::Expired,
    Status::Idle,
    Status::Expiring,
    Status::Active,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_past_the_end_is_the_last_page() {
        assert_eq!(page_within(0, 100, 250), 0);
        assert_eq!(page_within(2, 100, 250), 2);
        assert_eq!(page_within(3, 100, 250), 2);
        assert_eq!(page_within(i64::MAX, 100, 250), 2);
        assert_eq!(page_within(1, 100, 200), 1);
        assert_eq!(page_within(2, 100, 200), 1);
        assert_eq!(page_within(-5, 100, 250), 0);
        assert_eq!(page_within(i64::MIN, 500, 250), 0);
        assert_eq!(page_within(i64::MAX, 1, 0), 0);
        assert_eq!(page_within(i64::MAX, 1, i64::MAX), i64::MAX - 1);
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
