//! Queries on `integration_changes`: the feed of changes between processes
//! (see [`crate::change_feed`]).

use domain::IntegrationId;

use super::{Database, DatabaseError};

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
    /// all but the newest `keep` entries.
    pub async fn append_changes(
        &self,
        origin: &str,
        ids: &[IntegrationId],
        keep: i64,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query("INSERT INTO integration_changes (integration_id, origin) VALUES (?, ?)")
                .bind(id)
                .bind(origin)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "DELETE FROM integration_changes
             WHERE seq <= (SELECT max(seq) FROM integration_changes) - ?",
        )
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest entry's number (0 for none): where a new follower starts.
    pub async fn newest_change(&self) -> Result<i64, DatabaseError> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM integration_changes")
                .fetch_one(self.pool())
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
        let mut tx = self.pool().begin().await?;
        let (oldest, newest): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT min(seq), max(seq) FROM integration_changes")
                .fetch_one(&mut *tx)
                .await?;
        let entries = sqlx::query_as(
            "SELECT seq, integration_id FROM integration_changes
             WHERE seq > ? AND origin != ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(origin)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(FeedRead {
            entries,
            newest: newest.unwrap_or(0),
            lost: oldest.is_some_and(|oldest| oldest > after + 1),
        })
    }
}
