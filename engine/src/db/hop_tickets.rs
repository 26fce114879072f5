//! Queries on `hop_tickets`: the single-use tickets that let a flow's start
//! hop from one host name to another (the server explains why in
//! `cross_site.rs`). Stored by digest, so the table holds nothing a
//! request could present.

use sha2::{Digest, Sha256};

use domain::UnixTime;

use super::{Database, DatabaseError};

fn digest(ticket: &str) -> Vec<u8> {
    Sha256::digest(ticket.as_bytes()).to_vec()
}

impl Database {
    /// Stores `ticket`, valid until `expires_at`, and sweeps the expired ones.
    pub async fn insert_hop_ticket(
        &self,
        ticket: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        sqlx::query("DELETE FROM hop_tickets WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("INSERT INTO hop_tickets (digest, expires_at) VALUES (?, ?)")
            .bind(digest(ticket))
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Spends `ticket`: true if it was stored, unspent and unexpired at `now`.
    /// One statement, so two processes presenting it at once spend it once.
    pub async fn redeem_hop_ticket(
        &self,
        ticket: &str,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let spent: Option<UnixTime> =
            sqlx::query_scalar("DELETE FROM hop_tickets WHERE digest = ? RETURNING expires_at")
                .bind(digest(ticket))
                .fetch_optional(self.pool())
                .await?;
        Ok(spent.is_some_and(|expires_at| expires_at > now))
    }
}
