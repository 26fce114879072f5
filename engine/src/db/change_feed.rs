//! Queries on `integration_changes`: the feed of changes between processes
//! (see [`crate::change_feed`]).

use domain::IntegrationId;

use super::{query, Database, DatabaseError, Query};

/// The PostgreSQL channel [`Database::append_changes`] notifies.
pub(crate) const CHANGES_CHANNEL: &str = "integration_changes";

/// A change another process published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedEntry {
    pub seq: i64,
    pub integration_id: IntegrationId,
}

/// One look at the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRead {
    /// Other processes' entries, oldest first.
    pub entries: Vec<FeedEntry>,
    /// The newest entry's number, whoever published it.
    pub newest: i64,
    /// Entries after the follower's place were dropped unread.
    pub lost: bool,
}

impl Database {
    /// Appends `ids`, published by `origin`, in one transaction, and drops
    /// all but the newest `keep` entries. On PostgreSQL the transaction
    /// locks out other appenders first, so entries commit in the order of
    /// their numbers (a follower reading past a number never misses an
    /// entry that commits later below it), and it notifies the followers
    /// (`LISTEN integration_changes`) when it commits.
    pub async fn append_changes(
        &self,
        origin: &str,
        ids: &[IntegrationId],
        keep: i64,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.begin().await?;
        if tx.is_postgres() {
            Query::postgres_only("LOCK TABLE integration_changes IN EXCLUSIVE MODE")
                .execute(&mut tx)
                .await?;
        }
        // One statement for the batch (the lock is held for as short as can be).
        let list = super::json_id_list(ids);
        Query::dialect(
            "INSERT INTO integration_changes (integration_id, origin)
             SELECT value, $2 FROM json_each($1) ORDER BY key",
            "INSERT INTO integration_changes (integration_id, origin)
             SELECT CAST(value AS BIGINT), $2
             FROM json_array_elements_text(CAST($1 AS json)) WITH ORDINALITY AS e(value, n)
             ORDER BY n",
        )
        .bind(list)
        .bind(origin)
        .execute(&mut tx)
        .await?;
        query(
            "DELETE FROM integration_changes
             WHERE seq <= (SELECT max(seq) FROM integration_changes) - $1",
        )
        .bind(keep)
        .execute(&mut tx)
        .await?;
        if tx.is_postgres() {
            Query::postgres_only(format!("NOTIFY {CHANGES_CHANNEL}"))
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest entry's number (0 for none): where a new follower starts.
    pub async fn newest_change(&self) -> Result<i64, DatabaseError> {
        Ok(
            query("SELECT coalesce(max(seq), 0) AS newest FROM integration_changes")
                .scalar(self)
                .await?,
        )
    }

    /// Up to `limit` entries after `after` that another process than
    /// `origin` published, oldest first, read in one snapshot with the
    /// newest entry's number and whether entries after `after` were dropped
    /// before they could be read (the follower fell behind).
    pub async fn changes_after(
        &self,
        after: i64,
        origin: &str,
        limit: i64,
    ) -> Result<FeedRead, DatabaseError> {
        // One snapshot for both reads.
        let mut tx = self.begin_snapshot().await?;
        let (oldest, newest): (Option<i64>, Option<i64>) =
            query("SELECT min(seq) AS oldest, max(seq) AS newest FROM integration_changes")
                .fetch_one(&mut tx)
                .await?;
        let entries = query(
            "SELECT seq, integration_id FROM integration_changes
             WHERE seq > $1 AND origin != $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(origin)
        .bind(limit)
        .fetch_all(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(FeedRead {
            entries,
            newest: newest.unwrap_or(0),
            lost: oldest.is_some_and(|oldest| oldest > after + 1),
        })
    }
}
