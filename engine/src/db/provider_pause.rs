//! The provider's pause every process shares (`provider_pause`, one row): a
//! `429` seen by one process holds back the scheduled refreshes of all.

use domain::UnixTime;

use super::{query, Database, DatabaseError};

impl Database {
    /// Extends the fleet's pause to `until` (never shortens it).
    pub async fn pause_provider(&self, until: UnixTime) -> Result<(), DatabaseError> {
        query(
            "UPDATE provider_pause
             SET paused_until = CASE WHEN paused_until < $1 THEN $1 ELSE paused_until END
             WHERE id = 1",
        )
        .bind(until.secs())
        .execute(self)
        .await?;
        Ok(())
    }

    /// Until when the fleet holds off (0 when it never had to).
    pub async fn provider_paused_until(&self) -> Result<UnixTime, DatabaseError> {
        let until = query("SELECT paused_until FROM provider_pause WHERE id = 1")
            .scalar_optional::<i64>(self)
            .await?;
        Ok(UnixTime(until.unwrap_or(0)))
    }
}
