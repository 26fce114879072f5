//! The refresh engine's and the scheduler's queries on `integrations`.

use std::collections::HashSet;

use sqlx::FromRow;

use domain::{IntegrationId, UnixTime};

use super::announce::Announce;
use super::events::{insert_event, NewEvent};
use super::group_commit::{ClaimWrite, OwnedEvent, RotationWrite, Write, Written};
use super::refresh_rows::{bind_rotation, Fenced, RefreshRow, Rotation, ROTATION_UPDATE};
use super::{query, Database, DatabaseError, Query};

/// The result of trying to take a row's refresh lease.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Ours: the row as claimed, marked as sent (when it has a refresh token).
    Claimed(RefreshRow),
    /// Another holder's lease is live; the refresh token the row holds now.
    Held { refresh_token: Option<Vec<u8>> },
    /// No such connected integration.
    Missing,
}

/// A row's lease as a waiting caller sees it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct LeaseState {
    /// Someone holds a lease that has not expired.
    pub held: bool,
    pub refresh_token: Option<Vec<u8>>,
    /// Set when the last attempt failed: not before then.
    pub retry_after: Option<UnixTime>,
}

/// Who holds a lease, and with which fence.
/// A scheduler's batch, claimed for it.
#[derive(Debug, Clone, Default)]
pub struct DueBatch {
    /// In the order to refresh them: unknown outcomes first.
    pub ids: Vec<IntegrationId>,
    /// Those whose last refresh has an unknown outcome: they go ahead even
    /// while the provider asks everyone to wait (the leeway does not).
    pub unresolved: HashSet<IntegrationId>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease<'a> {
    pub owner: &'a str,
    pub fence: i64,
}

/// The scheduler's first look: refreshes whose outcome is unknown (the answer
/// was lost, the process died, the rotation could not be stored), oldest
/// first, whose lease is free and whose retry time has come. They must be
/// retried inside Atlassian's 10-minute leeway. Not claimed by another
/// scheduler ([`CLAIM_DUE_SQL`]). Binds: now, limit, this scheduler (the
/// three listings share one layout; this one needs no `$4`).
pub(crate) const UNRESOLVED_SQL: &str = "SELECT id FROM integrations
     WHERE refresh_sent_at IS NOT NULL AND disconnected_at IS NULL
       AND (retry_after IS NULL OR retry_after <= $1)
       AND (lease_owner IS NULL OR lease_expires_at <= $1)
       AND (scheduled_until IS NULL OR scheduled_until <= $1 OR scheduled_by = $3)
     ORDER BY refresh_sent_at LIMIT $2";

/// An active integration's listing by `$column` (a time), before `$4`,
/// soonest first: the rows whose refresh token is stored, whose retry time
/// has come and which no other scheduler holds. Binds: now, limit, this
/// scheduler, before.
macro_rules! due_by {
    ($column:literal) => {
        concat!(
            "SELECT id FROM integrations
     WHERE is_active = 1 AND ",
            $column,
            " <= $4
       AND refresh_token IS NOT NULL AND disconnected_at IS NULL
       AND (retry_after IS NULL OR retry_after <= $1)
       AND (scheduled_until IS NULL OR scheduled_until <= $1 OR scheduled_by = $3)
     ORDER BY ",
            $column,
            " LIMIT $2"
        )
    };
}

/// The scheduler's "due soon" query, first half: active integrations with a
/// refresh token expiring before `$4`, soonest first. It walks the
/// `(is_active, expires_at)` index in order and stops at the limit: no table
/// scan, no sort. Binds: now, limit, this scheduler, expiring before.
pub const DUE_FOR_REFRESH_SQL: &str = due_by!("expires_at");

/// Second half: refresh tokens idle since before `$4` (the 90-day inactivity
/// expiry), on the `(is_active, refresh_token_issued_at)` index. Binds: now,
/// limit, this scheduler, idle before.
pub const IDLE_REFRESH_SQL: &str = due_by!("refresh_token_issued_at");

/// Claims the rows a listing above finds for this scheduler: one statement,
/// which SQLite runs holding the write lock from its first read, so two
/// schedulers never claim the same row. `{listing}` is one of the three,
/// with their binds; `$5` is the claim's end. It answers each row's sort
/// key `{key}` too: RETURNING's order is the database's, not the listing's.
const CLAIM_DUE_SQL: &str = "UPDATE integrations SET scheduled_by = $3, scheduled_until = $5
     WHERE id IN ({listing}) RETURNING id, {key}";

/// [`CLAIM_DUE_SQL`] on PostgreSQL, where writers run side by side: the
/// listing locks the rows it lists and skips those another scheduler's
/// claim has locked (`FOR UPDATE SKIP LOCKED`); a row claimed and committed
/// meanwhile is re-checked against the listing's conditions under its lock,
/// and left out when they no longer hold.
const CLAIM_DUE_POSTGRES_SQL: &str =
    "UPDATE integrations SET scheduled_by = $3, scheduled_until = $5
     WHERE id IN ({listing} FOR UPDATE SKIP LOCKED) RETURNING id, {key}";

/// How long a scheduler's claim on a due row lasts (engine clock) unless
/// renewed: the tick renews its claims every [`SCHEDULER_CLAIM_RENEW_SECS`]
/// while it runs ([`Database::renew_claims`]), so a process that dies
/// mid-tick delays its rows by at most this long, far inside Atlassian's
/// 10-minute leeway. A tick that ends gives its claims back
/// ([`Database::release_claims`]).
pub const SCHEDULER_CLAIM_SECS: i64 = 15;
/// Integrations a tick flags as needing re-authentication at most.
pub(crate) const FLAG_BATCH: i64 = 1_000;
/// How often a running tick renews its claims.
pub(crate) const SCHEDULER_CLAIM_RENEW_SECS: u64 = 5;

impl Database {
    /// The row to refresh, if the integration exists and is connected.
    pub async fn refresh_row(
        &self,
        id: IntegrationId,
    ) -> Result<Option<RefreshRow>, DatabaseError> {
        Ok(query(
            "SELECT id, refresh_token, transient_failures, refresh_sent_at, lease_fence,
                is_active = 0 OR transient_failures > 0 OR failing_since IS NOT NULL AS troubled
             FROM integrations WHERE id = $1 AND disconnected_at IS NULL",
        )
        .bind(id)
        .fetch_optional(self)
        .await?)
    }

    /// Takes the row's refresh lease for `owner` until `until`, unless a live
    /// lease is held, and in the same durable write marks the refresh token as
    /// sent (keeping an earlier mark: the leeway counts from the first send).
    /// Committed with the other refreshes' writes of the moment (group commit).
    pub async fn claim_refresh(
        &self,
        id: IntegrationId,
        owner: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<Claim, DatabaseError> {
        let claimed = match self
            .group
            .write(Write::Claim(ClaimWrite {
                id,
                owner: owner.to_owned(),
                until,
                now,
            }))
            .await?
        {
            Written::Claimed(row) => row,
            Written::Rotated(_) => None,
        };
        if let Some(row) = claimed {
            return Ok(Claim::Claimed(row));
        }
        Ok(match self.refresh_row(id).await? {
            Some(row) => Claim::Held {
                refresh_token: row.refresh_token,
            },
            None => Claim::Missing,
        })
    }

    /// Extends a lease still held with `lease`'s fence; false if it was lost.
    pub(crate) async fn renew_lease(
        &self,
        id: IntegrationId,
        lease: Lease<'_>,
        until: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let done = query(
            "UPDATE integrations SET lease_expires_at = $1
             WHERE id = $2 AND lease_owner = $3 AND lease_fence = $4",
        )
        .bind(until)
        .bind(id)
        .bind(lease.owner)
        .bind(lease.fence)
        .execute(self)
        .await?;
        Ok(done == 1)
    }

    /// Gives a lease back without writing an outcome; `unmark` also removes
    /// the "sent" mark the claim set (when nothing was sent after all).
    pub(crate) async fn release_lease(
        &self,
        id: IntegrationId,
        lease: Lease<'_>,
        unmark: bool,
    ) -> Result<(), DatabaseError> {
        query(
            "UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL,
                refresh_sent_at = CASE WHEN $1 = 1 THEN NULL ELSE refresh_sent_at END
             WHERE id = $2 AND lease_owner = $3 AND lease_fence = $4",
        )
        .bind(unmark)
        .bind(id)
        .bind(lease.owner)
        .bind(lease.fence)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Stores a rotation and its event in one transaction, only if the row
    /// still holds the refresh token that was sent (`sent`): compare-and-swap,
    /// so no rotation is lost or replayed. False when the row had changed.
    /// A rotation that ends a failure streak also enqueues `announce`
    /// (`integration.recovered`) in that transaction.
    ///
    /// This is the refresh's hot path: the common case is committed together
    /// with the other refreshes' writes waiting at that moment, one fsync for
    /// all (`group_commit.rs`); it returns once its group is durable.
    pub async fn store_rotation(
        &self,
        at: Fenced<'_>,
        rotation: &Rotation,
        event: &NewEvent<'_>,
        announce: Option<&Announce>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        // Nothing was sent, so nothing can have rotated.
        let Some(sent) = at.sent else {
            return Ok(false);
        };
        if let Some(announce) = announce {
            return self
                .store_rotation_announcing(at, rotation, event, announce, now)
                .await;
        }
        match self
            .group
            .write(Write::Rotation(RotationWrite {
                id: at.id,
                sent: sent.to_vec(),
                fence: at.fence,
                rotation: rotation.clone(),
                event: OwnedEvent::of(event),
                now,
            }))
            .await?
        {
            Written::Rotated(stored) => Ok(stored),
            Written::Claimed(_) => Ok(false),
        }
    }

    /// [`Database::store_rotation`] with its announcement: statement by statement.
    async fn store_rotation_announcing(
        &self,
        at: Fenced<'_>,
        rotation: &Rotation,
        event: &NewEvent<'_>,
        announce: &Announce,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.begin_immediate().await?;
        let matched = bind_rotation(query(ROTATION_UPDATE), at, rotation, now)
            .execute(&mut tx)
            .await?
            == 1;
        if !matched {
            return Ok(false);
        }
        insert_event(&mut tx, event, now).await?;
        super::announce::enqueue(&mut tx, at.id, announce, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The seed's contract for a refresh that cannot succeed: `is_active = 0`,
    /// `refresh_failures + 1`, `last_refresh_at = now`, the reason, an event.
    /// Compare-and-swap like the rotation: only while the row still holds the
    /// refresh token that was judged (`sent`, `None` for "no refresh token"), so
    /// a rejection that arrives after a re-authentication cannot deactivate the
    /// repaired row. False when the row had changed (nothing written).
    pub(crate) async fn deactivate(
        &self,
        at: Fenced<'_>,
        event: &NewEvent<'_>,
        announce: &Announce,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let update = query(
            "UPDATE integrations SET is_active = 0, refresh_failures = refresh_failures + 1,
                last_refresh_at = $1, last_error = $2, retry_after = NULL, refresh_sent_at = NULL,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
             WHERE id = $3 AND refresh_token IS NOT DISTINCT FROM $4 AND lease_fence = $5
               AND disconnected_at IS NULL",
        )
        .bind(now)
        .bind(event.message)
        .bind(at.id)
        .bind(at.sent)
        .bind(at.fence);
        self.update_and_log(update, event, now, Some(announce))
            .await
    }

    /// A failure that leaves the integration active (configuration or
    /// transient): records it and when to retry, and gives the lease back. The
    /// "sent" mark stays (only a stored rotation or a deactivation settles it).
    /// Only while the row holds the refresh token that was sent, under this
    /// lease: false, with nothing written, when it changed (a re-authentication,
    /// a disconnect, a lease taken over).
    pub(crate) async fn record_refresh_failure(
        &self,
        at: Fenced<'_>,
        retry_after: UnixTime,
        event: &NewEvent<'_>,
        announce: Option<&Announce>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let update = query(
            "UPDATE integrations SET last_error = $1, last_refresh_at = $2,
                transient_failures = transient_failures + 1, retry_after = $3,
                failing_since = COALESCE(failing_since, $2),
                lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
             WHERE id = $4 AND refresh_token IS NOT DISTINCT FROM $5 AND lease_fence = $6
               AND disconnected_at IS NULL",
        )
        .bind(event.message)
        .bind(now)
        .bind(retry_after)
        .bind(at.id)
        .bind(at.sent)
        .bind(at.fence);
        self.update_and_log(update, event, now, announce).await
    }

    /// Where a row's lease stands at `now`, read without writing (for a caller
    /// waiting on another process's refresh).
    pub(crate) async fn lease_state(
        &self,
        id: IntegrationId,
        now: UnixTime,
    ) -> Result<Option<LeaseState>, DatabaseError> {
        Ok(query(
            "SELECT lease_owner IS NOT NULL AND lease_expires_at > $1 AS held, refresh_token,
                retry_after
             FROM integrations WHERE id = $2 AND disconnected_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(self)
        .await?)
    }

    /// Claims for `scheduler` the rows whose refresh has an unknown
    /// outcome, ready for a retry (at most `limit`).
    pub(crate) async fn claim_unresolved(
        &self,
        scheduler: &str,
        now: UnixTime,
        limit: i64,
    ) -> Result<Vec<IntegrationId>, DatabaseError> {
        self.claim_listing(
            UNRESOLVED_SQL,
            "refresh_sent_at",
            scheduler,
            now,
            limit,
            None,
        )
        .await
    }

    /// Runs a listing's claim ([`CLAIM_DUE_SQL`]); the ids in the listing's
    /// order (`key`, then id).
    async fn claim_listing(
        &self,
        listing: &str,
        key: &str,
        scheduler: &str,
        now: UnixTime,
        limit: i64,
        bound: Option<UnixTime>,
    ) -> Result<Vec<IntegrationId>, DatabaseError> {
        let claim = |sql: &str| sql.replace("{listing}", listing).replace("{key}", key);
        let mut claimed: Vec<(IntegrationId, Option<i64>)> =
            Query::dialect(claim(CLAIM_DUE_SQL), claim(CLAIM_DUE_POSTGRES_SQL))
                .bind(now)
                .bind(limit)
                .bind(scheduler)
                .bind(bound)
                .bind(now + SCHEDULER_CLAIM_SECS)
                .fetch_all(self)
                .await?;
        claimed.sort_unstable_by_key(|(id, key)| (*key, *id));
        Ok(claimed.into_iter().map(|(id, _)| id).collect())
    }

    /// Extends `scheduler`'s claims on `ids` (its tick still runs) until
    /// `until`; the rows another scheduler took over meanwhile stay theirs.
    pub(crate) async fn renew_claims(
        &self,
        scheduler: &str,
        ids: &[IntegrationId],
        until: UnixTime,
    ) -> Result<(), DatabaseError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = super::json_id_list(ids);
        Query::dialect(
            "UPDATE integrations SET scheduled_until = $3
             WHERE id IN (SELECT value FROM json_each($2)) AND scheduled_by = $1",
            "UPDATE integrations SET scheduled_until = $3
             WHERE id IN (SELECT value::bigint FROM json_array_elements_text($2::json))
               AND scheduled_by = $1",
        )
        .bind(scheduler)
        .bind(list)
        .bind(until)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Gives back `scheduler`'s claims on `ids` (its tick ended): whatever
    /// is still due, failed or not started may go to any scheduler.
    pub(crate) async fn release_claims(
        &self,
        scheduler: &str,
        ids: &[IntegrationId],
    ) -> Result<(), DatabaseError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = super::json_id_list(ids);
        Query::dialect(
            "UPDATE integrations SET scheduled_by = NULL, scheduled_until = NULL
             WHERE id IN (SELECT value FROM json_each($2)) AND scheduled_by = $1",
            "UPDATE integrations SET scheduled_by = NULL, scheduled_until = NULL
             WHERE id IN (SELECT value::bigint FROM json_array_elements_text($2::json))
               AND scheduled_by = $1",
        )
        .bind(scheduler)
        .bind(list)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Integrations that need a refresh now ([`DueBatch`]): first those whose last refresh
    /// has an unknown outcome, then active ones with a refresh token expiring
    /// within the margin (`expires_at <= expiring_before`) or issued before
    /// `idle_before`, none waiting out a backoff; at most `limit`, the soonest
    /// expiries first, claimed for `scheduler` (see [`CLAIM_DUE_SQL`]). Three
    /// ordered index walks, not a scan.
    pub async fn claim_due_for_refresh(
        &self,
        scheduler: &str,
        expiring_before: UnixTime,
        idle_before: UnixTime,
        now: UnixTime,
        limit: i64,
    ) -> Result<DueBatch, DatabaseError> {
        // Unknown outcomes first: they have minutes, not the margin, to live.
        // At most half the batch, so rows that keep failing (a lost key, say)
        // never starve the healthy ones.
        let mut due = self
            .claim_unresolved(scheduler, now, (limit / 2).max(1))
            .await?;
        let unresolved: HashSet<IntegrationId> = due.iter().copied().collect();
        for (sql, key, bound) in [
            (DUE_FOR_REFRESH_SQL, "expires_at", expiring_before),
            (IDLE_REFRESH_SQL, "refresh_token_issued_at", idle_before),
        ] {
            let room = limit - i64::try_from(due.len()).unwrap_or(limit);
            if room <= 0 {
                break;
            }
            let more = self
                .claim_listing(sql, key, scheduler, now, room, Some(bound))
                .await?;
            // Thousands per batch at full pace: a set, not a scan per id.
            let listed: HashSet<IntegrationId> = due.iter().copied().collect();
            due.extend(more.into_iter().filter(|id| !listed.contains(id)));
        }
        Ok(DueBatch {
            ids: due,
            unresolved,
        })
    }

    /// Active integrations whose access token expired and that have no refresh
    /// token: nothing but the user can revive them. At most [`FLAG_BATCH`],
    /// longest expired first (the rest in the next tick).
    pub async fn expired_without_refresh(
        &self,
        now: UnixTime,
    ) -> Result<Vec<(IntegrationId, i64)>, DatabaseError> {
        Ok(query(
            "SELECT id, lease_fence FROM integrations
             WHERE is_active = 1 AND expires_at <= $1 AND refresh_token IS NULL
               AND disconnected_at IS NULL
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(FLAG_BATCH)
        .fetch_all(self)
        .await?)
    }

    /// Marks an expired integration without a refresh token inactive, once,
    /// if it still is what [`Database::expired_without_refresh`] listed: the
    /// write repeats the listing's conditions and the lease's fencing counter
    /// read with it, so an integration re-authenticated (or reconnected, or
    /// claimed) between the listing and this write is left alone.
    pub(crate) async fn flag_needs_reauth(
        &self,
        id: IntegrationId,
        fence: i64,
        event: &NewEvent<'_>,
        announce: &Announce,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let update = query(
            "UPDATE integrations SET is_active = 0, last_error = $1, updated_at = $2
             WHERE id = $3 AND is_active = 1 AND expires_at <= $2 AND refresh_token IS NULL
               AND disconnected_at IS NULL AND lease_fence = $4",
        )
        .bind(event.message)
        .bind(now)
        .bind(id)
        .bind(fence);
        self.update_and_log(update, event, now, Some(announce))
            .await
    }
}
