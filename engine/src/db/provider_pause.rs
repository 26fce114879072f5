//! The provider's pause every process shares (`provider_pause`, one row): a
//! `429` seen by one process holds back the scheduled refreshes of all.

use domain::UnixTime;

use super::{query, Database, DatabaseError};

impl Database {
    /// Extends the fleet's pause to `until` (never shortens it).
    pub async fn pause_provider(&self, until: UnixTime) -> Result<(), DatabaseError> {
        // An upsert, so a lost row cannot silently keep the pause local.
        query(
            "INSERT INTO provider_pause (id, paused_until) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET paused_until = excluded.paused_until
             WHERE provider_pause.paused_until < excluded.paused_until",
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

    /// Brings a pause stored as `seen` forward to `latest`, unless another
    /// process changed it meanwhile. For a pause longer than any may last:
    /// a process whose clock ran ahead wrote it.
    pub(crate) async fn cap_provider_pause(
        &self,
        seen: UnixTime,
        latest: UnixTime,
    ) -> Result<(), DatabaseError> {
        query("UPDATE provider_pause SET paused_until = $2 WHERE id = 1 AND paused_until = $1")
            .bind(seen.secs())
            .bind(latest.secs())
            .execute(self)
            .await?;
        Ok(())
    }
}
