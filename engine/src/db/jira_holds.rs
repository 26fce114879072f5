//! Jira's rate-limit holds every process shares (`jira_holds`): a `429` one
//! process saw holds its scope for all until its wait ends.

use domain::UnixTime;

use super::{query, Database, DatabaseError};

/// A stored hold.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HoldRow {
    pub scope: String,
    pub reason: String,
    pub held_until: i64,
}

impl Database {
    /// Holds `scope` until `until` for `reason` (never shortens a hold).
    pub async fn hold_jira_scope(
        &self,
        scope: &str,
        reason: &str,
        until: UnixTime,
    ) -> Result<(), DatabaseError> {
        query(
            "INSERT INTO jira_holds (scope, reason, held_until) VALUES ($1, $2, $3)
             ON CONFLICT (scope) DO UPDATE
               SET reason = excluded.reason, held_until = excluded.held_until
             WHERE jira_holds.held_until < excluded.held_until",
        )
        .bind(scope)
        .bind(reason)
        .bind(until.secs())
        .execute(self)
        .await?;
        Ok(())
    }

    /// The holds still running at `now` (the app's and the tenants' first,
    /// so no number of narrower ones crowds them out). Ended ones, when
    /// there are any, are deleted (a read alone most of the time: this runs
    /// every second).
    pub async fn jira_holds(&self, now: UnixTime) -> Result<Vec<HoldRow>, DatabaseError> {
        let ended: i64 = query("SELECT COUNT(*) AS n FROM jira_holds WHERE held_until <= $1")
            .bind(now.secs())
            .scalar(self)
            .await?;
        let running: Vec<HoldRow> = query(
            "SELECT scope, reason, held_until FROM jira_holds WHERE held_until > $1
             ORDER BY CASE WHEN scope = 'app' OR scope LIKE 'tenant %' THEN 0 ELSE 1 END,
                 held_until DESC
             LIMIT 10000",
        )
        .bind(now.secs())
        .fetch_all(self)
        .await?;
        if ended > 0 {
            query("DELETE FROM jira_holds WHERE held_until <= $1")
                .bind(now.secs())
                .execute(self)
                .await?;
        }
        Ok(running)
    }
}
