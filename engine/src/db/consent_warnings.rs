//! The consent warnings' queries: which integrations' 365-day consent ends
//! soon and was not warned yet at the threshold reached, and the mark that
//! records a warning with its message, in one transaction.

use domain::{IntegrationId, Notice, StatusRule, UnixTime};

use super::announce;
use super::{query, DatabaseError};

impl super::Database {
    /// Connected, refreshable integrations whose consent ends within 30 days
    /// of `now` (and has not ended), that have not been warned at the
    /// threshold they have reached: (id, account name, consented at). The
    /// threshold is computed here, so rows already warned are never read again.
    pub(crate) async fn consents_to_warn(
        &self,
        now: UnixTime,
        limit: i64,
    ) -> Result<Vec<(IntegrationId, String, UnixTime)>, DatabaseError> {
        let lifetime = domain::time::CONSENT_LIFETIME_SECS;
        Ok(query(
            "SELECT id, account_name, consented_at FROM integrations
             WHERE consented_at <= CAST($1 AS BIGINT) - $2 + 30 * 86400 AND consented_at > CAST($1 AS BIGINT) - $2
               AND is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL
               AND (consent_warned_days IS NULL OR consent_warned_days >
                    CASE WHEN consented_at + $2 - $1 <= 86400 THEN 1
                         WHEN consented_at + $2 - $1 <= 7 * 86400 THEN 7 ELSE 30 END)
             ORDER BY consented_at LIMIT $3",
        )
        .bind(now)
        .bind(lifetime)
        .bind(limit)
        .fetch_all::<(IntegrationId, String, UnixTime)>(self)
        .await?)
    }

    /// Records that the consent of `id` was warned `days` ahead and enqueues
    /// the warning, in one transaction; false when it was warned already.
    pub(crate) async fn mark_consent_warned(
        &self,
        id: IntegrationId,
        days: i64,
        notice: &Notice,
        rule: StatusRule,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        // A single conditional UPDATE: of two concurrent twins (PostgreSQL),
        // the second waits for the first's row lock, re-reads the row and
        // changes nothing, so the warning is enqueued once.
        let mut tx = self.begin().await?;
        let marked = query(
            "UPDATE integrations SET consent_warned_days = $1
             WHERE id = $2 AND (consent_warned_days IS NULL OR consent_warned_days > $1)",
        )
        .bind(days)
        .bind(id)
        .execute(&mut tx)
        .await?
            == 1;
        if marked {
            let announce = announce::Announce {
                notice: notice.clone(),
                rule,
                when: announce::AnnounceIf::Always,
            };
            announce::enqueue(&mut tx, id, &announce, now).await?;
            tx.commit().await?;
        }
        Ok(marked)
    }
}
