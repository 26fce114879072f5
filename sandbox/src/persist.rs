//! Optional persistence: the sandbox's grants, token families, refresh and
//! access tokens (as SHA-256 digests) and clock offset in SQLite tables
//! prefixed `sandbox_` (migration `*_sandbox_state.sql`). In sandbox mode the
//! dashboard passes a pool on its own database, so a restart keeps every demo
//! integration alive; without a pool the sandbox lives in memory.
//!
//! Write-through: the rules record each change in the store's journal; before
//! an answer goes out, [`Sandbox::flush`](crate::Sandbox::flush) writes every
//! pending change in one transaction (a refresh: three small indexed
//! statements, one round trip). Flushes run one at a time and each writes the
//! journal's oldest changes first, so the database always holds a prefix of
//! what the sandbox did, in order. A flush that fails puts its changes back;
//! the request answers `500` (transient: the caller keeps its tokens and
//! retries within the rotation leeway) and the next flush writes them.
//!
//! Codes, request counters, pending faults and `/control/settings` switches
//! are not stored: see the migration for why.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::rules::{Change, Restored, TokenHash};

/// Opens (creating when missing) the SQLite database at `url` for the sandbox
/// alone (`SANDBOX_DATABASE_URL`) and runs the project's migrations, the
/// sandbox's tables among them (the dashboard's too, unused: one migration
/// history, so the same file could later serve the dashboard). Commits are
/// fsynced (`synchronous = FULL`): no one else's commit makes them durable.
pub async fn open_database(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5))
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    Ok(pool)
}

/// A one-connection pool on the same (WAL) database file as `dashboard`, for
/// the sandbox mounted inside the dashboard. Its commits are not fsynced
/// (`synchronous = NORMAL`), and need not be: a commit survives a crash of the
/// process as soon as it is done (it is in the write-ahead log), and the only
/// client, the dashboard, stores what the sandbox answered with a FULL commit
/// to the same log, whose fsync makes every earlier frame durable, the
/// sandbox's first. A power cut can only lose a sandbox commit together with
/// the dashboard's record of its answer; the dashboard still holds the
/// previous refresh token, which the sandbox then still knows.
pub fn sharing_wal_with(dashboard: &SqlitePool) -> SqlitePool {
    let options = (*dashboard.connect_options())
        .clone()
        .synchronous(SqliteSynchronous::Normal);
    SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_lazy_with(options)
}

fn id(value: i64, table: &str) -> Result<usize, sqlx::Error> {
    usize::try_from(value)
        .map_err(|_| sqlx::Error::Decode(format!("{table}: negative id {value}").into()))
}

fn hash(bytes: Vec<u8>, table: &str) -> Result<TokenHash, sqlx::Error> {
    TokenHash::try_from(bytes.as_slice())
        .map_err(|_| sqlx::Error::Decode(format!("{table}: a token hash is not 32 bytes").into()))
}

/// Reads everything back, with the stored clock offset. `source_now` is the
/// time source's reading; access tokens already expired on the sandbox's clock
/// (source plus offset) are deleted, as nothing can use them again, so the
/// table does not grow for ever.
pub async fn load(pool: &SqlitePool, source_now: i64) -> Result<(Restored, i64), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let offset: i64 = sqlx::query_scalar("SELECT offset_secs FROM sandbox_clock WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    sqlx::query("DELETE FROM sandbox_access_tokens WHERE expires_at <= ?")
        .bind(source_now.saturating_add(offset))
        .execute(&mut *conn)
        .await?;
    let mut state = Restored::default();
    for row in sqlx::query("SELECT id, client_id, account_id FROM sandbox_grants ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
    {
        state.grants.push((
            id(row.try_get(0)?, "sandbox_grants")?,
            row.try_get(1)?,
            row.try_get(2)?,
            Vec::new(),
        ));
    }
    for row in sqlx::query("SELECT grant_id, cloud_id FROM sandbox_grant_sites")
        .fetch_all(&mut *conn)
        .await?
    {
        let grant = id(row.try_get(0)?, "sandbox_grant_sites")?;
        // Grants are dense from 0: the id is the position.
        if let Some(g) = state.grants.get_mut(grant) {
            g.3.push(row.try_get(1)?);
        }
    }
    for row in sqlx::query(
        "SELECT id, grant_id, scopes, consented_at, revoked FROM sandbox_families ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        state.families.push((
            id(row.try_get(0)?, "sandbox_families")?,
            id(row.try_get(1)?, "sandbox_families")?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        ));
    }
    for row in sqlx::query(
        "SELECT token_hash, family_id, issued_at, superseded_at FROM sandbox_refresh_tokens",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        state.refresh_tokens.push((
            hash(row.try_get(0)?, "sandbox_refresh_tokens")?,
            id(row.try_get(1)?, "sandbox_refresh_tokens")?,
            row.try_get(2)?,
            row.try_get(3)?,
        ));
    }
    for row in sqlx::query("SELECT token_hash, family_id, expires_at FROM sandbox_access_tokens")
        .fetch_all(&mut *conn)
        .await?
    {
        state.access_tokens.push((
            hash(row.try_get(0)?, "sandbox_access_tokens")?,
            id(row.try_get(1)?, "sandbox_access_tokens")?,
            row.try_get(2)?,
        ));
    }
    Ok((state, offset))
}

/// Writes `changes` in one transaction, sent to SQLite as one multi-statement
/// query. Inserts ignore rows already there, so writing a batch twice (a
/// retry after an error that came after the commit) changes nothing.
pub async fn write(pool: &SqlitePool, changes: &[Change]) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for change in changes {
        sql.push_str(match change {
            Change::Grant { .. } => {
                "INSERT INTO sandbox_grants (id, client_id, account_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING;\n"
            }
            Change::GrantSite { .. } => {
                "INSERT INTO sandbox_grant_sites (grant_id, cloud_id) VALUES (?, ?) ON CONFLICT DO NOTHING;\n"
            }
            Change::Family { .. } => {
                "INSERT INTO sandbox_families (id, grant_id, scopes, consented_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING;\n"
            }
            Change::FamilyRevoked { .. } => "UPDATE sandbox_families SET revoked = 1 WHERE id = ?;\n",
            Change::RefreshToken { .. } => {
                "INSERT INTO sandbox_refresh_tokens (token_hash, family_id, issued_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING;\n"
            }
            Change::Superseded { .. } => {
                "UPDATE sandbox_refresh_tokens SET superseded_at = ? WHERE token_hash = ? AND superseded_at IS NULL;\n"
            }
            Change::AccessToken { .. } => {
                "INSERT INTO sandbox_access_tokens (token_hash, family_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING;\n"
            }
            Change::ClockOffset(_) => {
                "INSERT INTO sandbox_clock (id, offset_secs) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET offset_secs = excluded.offset_secs;\n"
            }
        });
    }
    sql.push_str("COMMIT;");
    let mut query = sqlx::query(&sql);
    // Ids are indices of in-memory vectors: always far below i64::MAX.
    let db_id = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    for change in changes {
        query = match change {
            Change::Grant {
                id,
                client_id,
                account_id,
            } => query
                .bind(db_id(*id))
                .bind(client_id.clone())
                .bind(account_id.clone()),
            Change::GrantSite { grant, cloud_id } => {
                query.bind(db_id(*grant)).bind(cloud_id.clone())
            }
            Change::Family {
                id,
                grant,
                scopes,
                consented_at,
            } => query
                .bind(db_id(*id))
                .bind(db_id(*grant))
                .bind(scopes.clone())
                .bind(*consented_at),
            Change::FamilyRevoked { id } => query.bind(db_id(*id)),
            Change::RefreshToken {
                hash,
                family,
                issued_at,
            } => query
                .bind(hash.to_vec())
                .bind(db_id(*family))
                .bind(*issued_at),
            Change::Superseded { hash, at } => query.bind(*at).bind(hash.to_vec()),
            Change::AccessToken {
                hash,
                family,
                expires_at,
            } => query
                .bind(hash.to_vec())
                .bind(db_id(*family))
                .bind(*expires_at),
            Change::ClockOffset(offset) => query.bind(*offset),
        };
    }
    let mut conn = pool.acquire().await?;
    // `execute` runs every statement, through COMMIT.
    match query.execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(e) => {
            // A statement failed after BEGIN: end the transaction before the
            // connection goes back to the pool (a no-op if SQLite already did).
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}
