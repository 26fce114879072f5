//! What only PostgreSQL does: the pool and its session settings, the clock
//! check at start-up, binding values (text without NUL), and the advisory
//! locks that serialise writers the way SQLite's single writer does.

use std::str::FromStr;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Arguments;

use super::{Tx, Value};
use crate::db::DatabaseError;

/// The pool's size per process: the refreshes in flight (a claim, then a
/// rotation, each a short statement) and the dashboard's reads.
const CONNECTIONS: u32 = 16;

/// How many of a process's transactions may hold or wait for advisory locks
/// at once (of its pool of [`CONNECTIONS`]), so waiters never take the whole
/// pool from the refreshes.
pub(crate) const LOCK_WAITERS: usize = 4;
static LOCK_WAITING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(LOCK_WAITERS);

/// The clock difference [`warn_of_clock_skew`] tolerates.
const MAX_CLOCK_SKEW_SECS: i64 = 5;

/// Connects to `url` and migrates from `migrations-postgres/`.
pub(super) async fn open(url: &str) -> Result<PgPool, DatabaseError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DatabaseError::BadUrl(e.to_string()))?
        .options([
            // A rotated refresh token must survive a crash, as on SQLite
            // (FULL): whatever the server's default.
            ("synchronous_commit", "on"),
            // A process that stops mid-transaction (a frozen VM) must not
            // hold its row and advisory locks for the hours TCP takes to
            // notice; nor may a lock wait or a statement hang a request.
            ("idle_in_transaction_session_timeout", "30s"),
            ("lock_timeout", "30s"),
            ("statement_timeout", "60s"),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(DatabaseError::Open)?;
    sqlx::migrate!("../migrations-postgres").run(&pool).await?;
    warn_of_clock_skew(&pool).await;
    Ok(pool)
}

/// Leases, scheduler claims and Atlassian's leeway compare times that
/// different processes wrote: a process whose clock is off by more than a
/// few seconds is said so at start-up (against the database server's clock).
async fn warn_of_clock_skew(pool: &PgPool) {
    let database: Result<i64, _> =
        sqlx::query_scalar("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)")
            .fetch_one(pool)
            .await;
    let here = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if let Ok(database) = database {
        let skew = here - database;
        if skew.abs() > MAX_CLOCK_SKEW_SECS {
            tracing::warn!(
                skew_secs = skew,
                "this machine's clock is {skew} s off the database server's: leases and Atlassian's 10-minute leeway need the processes' clocks within a few seconds (run NTP)"
            );
        }
    }
}

/// `values` as PostgreSQL arguments.
pub(super) fn arguments(values: &[Value]) -> Result<PgArguments, sqlx::Error> {
    let mut args = PgArguments::default();
    for value in values {
        match value.clone() {
            Value::Int(v) => args.add(v),
            // PostgreSQL's text cannot hold NUL (SQLite's can): dropped,
            // so a stray one in a form or a provider's answer is not a 500.
            Value::Text(v) => args.add(v.map(|s| {
                if s.contains('\0') {
                    s.replace('\0', "")
                } else {
                    s
                }
            })),
            Value::Blob(v) => args.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// A `READ COMMITTED` transaction (whatever the server's default) holding a
/// transaction-scoped advisory lock per key, taken in order (no deadlock
/// between two such transactions), among at most [`LOCK_WAITERS`].
pub(super) async fn begin_locking(pool: &PgPool, keys: &[&str]) -> Result<Tx, sqlx::Error> {
    let permit = LOCK_WAITING
        .acquire()
        .await
        .map_err(|_| sqlx::Error::PoolClosed)?;
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("jira-dashboard:{key}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(Tx::postgres_waiting(tx, permit))
}
