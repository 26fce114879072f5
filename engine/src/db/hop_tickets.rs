//! Queries on `hop_tickets`: the single-use tickets that let a flow's start
//! hop from one host name to another (the server explains why in
//! `cross_site.rs`). Stored by digest, so the table holds nothing a
//! request could present.

use sha2::{Digest, Sha256};

use domain::UnixTime;

use super::{query, Database, DatabaseError};

fn digest(ticket: &str) -> Vec<u8> {
    Sha256::digest(ticket.as_bytes()).to_vec()
}

impl Database {
    /// Sweeps the expired tickets and stores `ticket`, valid until
    /// `expires_at`, unless `capacity` live ones are stored already (then
    /// false: nothing is stored). One transaction. (On PostgreSQL two
    /// processes storing at the same moment may each pass the count: the cap
    /// is a bound on a flood, not an exact number.)
    pub async fn insert_hop_ticket(
        &self,
        ticket: &str,
        expires_at: UnixTime,
        now: UnixTime,
        capacity: i64,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.begin().await?;
        query("DELETE FROM hop_tickets WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut tx)
            .await?;
        let stored = query(
            "INSERT INTO hop_tickets (digest, expires_at)
             SELECT $1, $2
             WHERE (SELECT count(*) FROM (SELECT 1 FROM hop_tickets LIMIT $3) AS live) < $3",
        )
        .bind(digest(ticket))
        .bind(expires_at)
        .bind(capacity)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(stored == 1)
    }

    /// Spends `ticket`: true if it was stored, unspent and unexpired at `now`.
    /// A read first, so a made-up ticket never takes the write lock; then
    /// one statement, so two processes presenting it at once spend it once.
    pub(crate) async fn redeem_hop_ticket(
        &self,
        ticket: &str,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let stored: i64 = query("SELECT COUNT(*) AS n FROM hop_tickets WHERE digest = $1")
            .bind(digest(ticket))
            .scalar(self)
            .await?;
        if stored == 0 {
            return Ok(false);
        }
        let spent: Option<UnixTime> =
            query("DELETE FROM hop_tickets WHERE digest = $1 RETURNING expires_at")
                .bind(digest(ticket))
                .scalar_optional(self)
                .await?;
        Ok(spent.is_some_and(|expires_at| expires_at > now))
    }
}
