//! Group commit: the refresh's two durable writes (the lease claim that marks
//! a refresh token as sent, and the rotation that stores its successor) from
//! concurrent refreshes share one transaction, and so one fsync. Each write
//! runs inside its own savepoint, so one write's failure (a compare-and-swap
//! that no longer matches, a statement that fails) touches no other; each
//! caller hears its own outcome only after the COMMIT that made it durable
//! (or its failure, if the COMMIT failed: then none of the group was written).
//!
//! One task owns the queue and takes whatever has gathered while the previous
//! group was committing (up to [`MAX_GROUP`]): an idle database commits a lone
//! write at once, a busy one commits many per fsync.
//!
//! That is SQLite's answer to one writer at a time. PostgreSQL commits
//! concurrent transactions side by side (and flushes their WAL together):
//! there each write runs at once in its own transaction.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use domain::{EventKind, EventOutcome, IntegrationId, UnixTime};

use super::events::{bind_event, insert_event};
use super::refresh_rows::{
    bind_rotation, Fenced, RefreshRow, Rotation, CLAIM_SQL, ROTATION_UPDATE,
};
use super::{query, Backend, DatabaseError, NewEvent, On, Query};

/// The most writes committed together.
pub(crate) const MAX_GROUP: usize = 64;

/// An event owned by its write (the queue outlives the caller's borrows).
#[derive(Debug, Clone)]
pub(crate) struct OwnedEvent {
    pub integration_id: Option<IntegrationId>,
    pub kind: EventKind,
    pub outcome: EventOutcome,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub message: String,
    pub actor: Option<String>,
}

impl OwnedEvent {
    pub(crate) fn of(e: &NewEvent<'_>) -> Self {
        Self {
            integration_id: e.integration_id,
            kind: e.kind,
            outcome: e.outcome,
            http_status: e.http_status,
            error_code: e.error_code.map(str::to_owned),
            message: e.message.to_owned(),
            actor: e.actor.map(str::to_owned),
        }
    }

    fn borrowed(&self) -> NewEvent<'_> {
        NewEvent {
            integration_id: self.integration_id,
            kind: self.kind,
            outcome: self.outcome,
            http_status: self.http_status,
            error_code: self.error_code.as_deref(),
            message: &self.message,
            actor: self.actor.as_deref(),
        }
    }
}

/// One durable write of a refresh.
#[derive(Debug)]
pub(crate) enum Write {
    /// Take the lease and mark the token as sent: the claimed row, if free.
    Claim(ClaimWrite),
    /// Store a rotation and its event if the row still holds `sent`: whether it did.
    Rotation(RotationWrite),
}

/// [`Write::Claim`]: row `id` leased to `owner` until `until`.
#[derive(Debug)]
pub(crate) struct ClaimWrite {
    pub id: IntegrationId,
    pub owner: String,
    pub until: UnixTime,
    pub now: UnixTime,
}

impl ClaimWrite {
    /// `claim` ([`CLAIM_SQL`]) with its binds.
    fn bind(&self, claim: Query) -> Query {
        claim
            .bind(self.owner.as_str())
            .bind(self.until)
            .bind(self.now)
            .bind(self.id)
    }
}

/// [`Write::Rotation`]: row `id`'s new tokens, if it still holds `sent`
/// under `fence`, with the event that tells of them.
#[derive(Debug)]
pub(crate) struct RotationWrite {
    pub id: IntegrationId,
    pub sent: Vec<u8>,
    pub fence: i64,
    pub rotation: Rotation,
    pub event: OwnedEvent,
    pub now: UnixTime,
}

impl RotationWrite {
    /// `update` ([`ROTATION_UPDATE`] first) with the rotation's binds, `$1`
    /// to `$8`, against its compare-and-swap target.
    fn bind(&self, update: Query) -> Query {
        let target = Fenced {
            id: self.id,
            sent: Some(&self.sent),
            fence: self.fence,
        };
        bind_rotation(update, target, &self.rotation, self.now)
    }
}

/// What a write came to.
#[derive(Debug)]
pub(crate) enum Written {
    Claimed(Option<RefreshRow>),
    Rotated(bool),
}

pub(crate) struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Written, DatabaseError>>,
}

/// The queue's sending end on SQLite (cheap to clone; the committer task
/// ends when the last one is dropped); PostgreSQL's pool otherwise.
#[derive(Debug, Clone)]
pub(crate) enum GroupCommit {
    Queue(mpsc::Sender<Job>),
    Direct(PgPool),
}

impl GroupCommit {
    /// Starts the committer on SQLite's pool.
    pub(crate) fn start(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite(pool) => {
                let (tx, rx) = mpsc::channel(MAX_GROUP * 16);
                tokio::spawn(committer(pool, rx));
                Self::Queue(tx)
            }
            Backend::Postgres(pool) => Self::Direct(pool),
        }
    }

    /// Queues `write` and waits until it is durable (or failed).
    pub(crate) async fn write(&self, write: Write) -> Result<Written, DatabaseError> {
        let queue = match self {
            Self::Queue(queue) => queue,
            Self::Direct(pool) => return direct_write(pool, &write).await,
        };
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job { write, reply })
            .await
            .map_err(|_| DatabaseError::Query(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| DatabaseError::Query(sqlx::Error::PoolClosed))?
    }
}

async fn committer(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let results = commit_group(&pool, &jobs).await;
        for (job, result) in jobs.drain(..).zip(results) {
            // A caller that went away no longer needs its answer.
            let _ = job.reply.send(result);
        }
    }
}

/// Runs every write of the group in one transaction, each in a savepoint.
async fn commit_group(pool: &SqlitePool, jobs: &[Job]) -> Vec<Result<Written, DatabaseError>> {
    let failed_all = |e: &sqlx::Error| {
        jobs.iter()
            .map(|_| Err(DatabaseError::Query(sqlx::Error::Protocol(e.to_string()))))
            .collect::<Vec<_>>()
    };
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return failed_all(&e),
    };
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        return failed_all(&e);
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        results.push(one_write(&mut conn, &job.write).await);
    }
    if let Err(e) = sqlx::query("COMMIT").execute(&mut *conn).await {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return failed_all(&e);
    }
    results
}

/// One write inside its own savepoint: all of it, or (on an error) none of
/// it. Each travels to SQLite's worker thread as one multi-statement query
/// (one hop, not four), the savepoint included.
async fn one_write(conn: &mut SqliteConnection, write: &Write) -> Result<Written, DatabaseError> {
    let done = match write {
        Write::Claim(claim) => {
            let sql = format!("SAVEPOINT one_write; {CLAIM_SQL}; RELEASE one_write;");
            claim
                .bind(query(sql))
                .fetch_all::<RefreshRow>(On::SqliteConn(&mut *conn))
                .await
                .map(|rows| Written::Claimed(rows.into_iter().next()))
        }
        Write::Rotation(rotation) => {
            // The rotation's binds are $1 to $8, the event's follow.
            let sql = format!(
                "SAVEPOINT one_write;
                 {ROTATION_UPDATE};
                 INSERT INTO token_events (integration_id, at, kind, outcome, http_status, error_code, message, actor)
                    SELECT $9, $10, $11, $12, $13, $14, $15, $16 WHERE changes() = 1 RETURNING id;
                 RELEASE one_write;"
            );
            let event = rotation.event.borrowed();
            // The event's id when the update matched; no row when it did not.
            bind_event(rotation.bind(query(sql)), &event, rotation.now)
                .scalars::<i64>(On::SqliteConn(&mut *conn))
                .await
                .map(|ids| Written::Rotated(!ids.is_empty()))
        }
    };
    if done.is_err() {
        // A statement failed inside the savepoint: undo this write alone.
        let _ = sqlx::query("ROLLBACK TO one_write; RELEASE one_write;")
            .execute(&mut *conn)
            .await;
    }
    Ok(done?)
}

/// One write on PostgreSQL, in its own transaction: the claim is one
/// statement; the rotation and its event commit together.
async fn direct_write(pool: &PgPool, write: &Write) -> Result<Written, DatabaseError> {
    Ok(match write {
        Write::Claim(claim) => Written::Claimed(
            claim
                .bind(query(CLAIM_SQL))
                .fetch_optional::<RefreshRow>(On::PgPool(pool))
                .await?,
        ),
        Write::Rotation(rotation) => {
            let mut tx = super::Tx::postgres(pool.begin().await?);
            let stored = rotation
                .bind(query(ROTATION_UPDATE))
                .execute(&mut tx)
                .await?
                == 1;
            if stored {
                insert_event(&mut tx, &rotation.event.borrowed(), rotation.now).await?;
            }
            tx.commit().await?;
            Written::Rotated(stored)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;

    async fn database_with_rows(n: i64) -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::open(&format!("sqlite://{}/db.sqlite", dir.path().display()))
            .await
            .expect("open");
        for id in 1..=n {
            sqlx::query(
                "INSERT INTO integrations (id, account_id, account_name, scopes, access_token, refresh_token,
                    expires_at, access_token_lifetime, consented_at, created_at, updated_at)
                 VALUES (?, ?, 'A', 'offline_access', x'01', x'02', 0, 3600, 0, 0, 0)",
            )
            .bind(id)
            .bind(format!("account-{id}"))
            .execute(db.sqlite_pool().expect("sqlite"))
            .await
            .expect("seed");
        }
        (dir, db)
    }

    fn rotation_of(id: i64, sent: &[u8]) -> Write {
        Write::Rotation(RotationWrite {
            id: IntegrationId(id),
            sent: sent.to_vec(),
            fence: 0,
            rotation: Rotation {
                access_token: vec![9],
                refresh_token: Some(vec![8]),
                expires_in: 3600,
            },
            event: OwnedEvent {
                integration_id: Some(IntegrationId(id)),
                kind: EventKind::Refresh,
                outcome: EventOutcome::Ok,
                http_status: None,
                error_code: None,
                message: "Refreshed".into(),
                actor: Some("scheduler".into()),
            },
            now: UnixTime(100),
        })
    }

    #[tokio::test]
    async fn one_group_one_transaction_each_write_its_own_outcome() {
        let (_dir, db) = database_with_rows(4).await;
        // Row 3's rotation fails mid-write (a trigger, as a full disk would).
        sqlx::query(
            "CREATE TRIGGER fail_three BEFORE UPDATE OF access_token ON integrations
             WHEN NEW.id = 3 BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        )
        .execute(db.sqlite_pool().expect("sqlite"))
        .await
        .expect("trigger");
        let mut answers = Vec::new();
        let jobs: Vec<Job> = [
            rotation_of(1, &[2]),
            rotation_of(2, &[7]), // not the token the row holds: no match
            rotation_of(3, &[2]),
            Write::Claim(ClaimWrite {
                id: IntegrationId(4),
                owner: "me".into(),
                until: UnixTime(200),
                now: UnixTime(100),
            }),
        ]
        .into_iter()
        .map(|write| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            Job { write, reply }
        })
        .collect();
        let results = commit_group(db.sqlite_pool().expect("sqlite"), &jobs).await;
        assert!(
            matches!(results[0], Ok(Written::Rotated(true))),
            "{:?}",
            results[0]
        );
        assert!(
            matches!(results[1], Ok(Written::Rotated(false))),
            "{:?}",
            results[1]
        );
        assert!(results[2].is_err(), "{:?}", results[2]);
        assert!(
            matches!(&results[3], Ok(Written::Claimed(Some(row))) if row.id == IntegrationId(4))
        );
        // Durable and isolated: 1 rotated with its event, 3 untouched (no
        // event either), 4 leased and marked as sent.
        type Row = (i64, Vec<u8>, Option<String>, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, refresh_token, lease_owner, refresh_sent_at FROM integrations ORDER BY id",
        )
        .fetch_all(db.sqlite_pool().expect("sqlite"))
        .await
        .expect("rows");
        assert_eq!(rows[0].1, vec![8]);
        assert_eq!(rows[1].1, vec![2]);
        assert_eq!(rows[2].1, vec![2]);
        assert_eq!((rows[3].2.as_deref(), rows[3].3), (Some("me"), Some(100)));
        let events: Vec<i64> = sqlx::query_scalar("SELECT integration_id FROM token_events")
            .fetch_all(db.sqlite_pool().expect("sqlite"))
            .await
            .expect("events");
        assert_eq!(events, [1]);
    }

    #[tokio::test]
    async fn concurrent_writes_through_the_queue_each_hear_their_own_outcome() {
        let (_dir, db) = database_with_rows(32).await;
        let writes = (1..=32).map(|id| {
            let db = db.clone();
            tokio::spawn(async move {
                let sent = if id % 2 == 0 { vec![2] } else { vec![5] };
                matches!(
                    db.group.write(rotation_of(id, &sent)).await,
                    Ok(Written::Rotated(true))
                )
            })
        });
        let mut stored = Vec::new();
        for w in writes {
            stored.push(w.await.expect("join"));
        }
        // Exactly the even rows held the token sent.
        assert_eq!(stored, (1..=32).map(|id| id % 2 == 0).collect::<Vec<_>>());
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_events")
            .fetch_one(db.sqlite_pool().expect("sqlite"))
            .await
            .expect("count");
        assert_eq!(events, 16);
    }
}
