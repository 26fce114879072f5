//! Optional persistence: the sandbox's grants, token families, refresh and
//! access tokens (as SHA-256 digests) and clock offset in SQLite tables
//! prefixed `sandbox_`, in a file of the sandbox's own, migrated from
//! `sandbox/migrations`. In sandbox mode the dashboard opens one beside its
//! database (`<database>-sandbox.db`), so a restart keeps every demo
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

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqlitePool};

use crate::rules::{Change, Restored, TokenHash};

/// The sandbox's tables, parents first.
const TABLES: [&str; 6] = [
    "sandbox_grants",
    "sandbox_grant_sites",
    "sandbox_families",
    "sandbox_refresh_tokens",
    "sandbox_access_tokens",
    "sandbox_clock",
];

/// Opens (creating when missing) the sandbox's SQLite database at `url` and
/// runs the sandbox's migrations (`sandbox/migrations`). A file made before
/// the sandbox had migrations of its own recorded the dashboard's too: those
/// are ignored. Commits are fsynced (`synchronous = FULL`): the dashboard
/// stores what the sandbox answered, so the sandbox must not forget it.
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
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator.run(&pool).await?;
    Ok(pool)
}

/// The SQLite file a database URL names, if it names one (not PostgreSQL,
/// not in memory): where the dashboard keeps the sandbox's file beside.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    let name = file.as_os_str();
    (!name.is_empty() && name != ":memory:").then(|| file.to_path_buf())
}

/// Moves the sandbox's state out of a dashboard database that still holds it
/// (its tables were the dashboard's until its migration
/// `20261210010000_sandbox_moves_out` dropped them): when the SQLite file
/// `dashboard` has sandbox rows and the sandbox's database at `url` has none,
/// copies them there, in one transaction. Call it before the dashboard's
/// migrations run. Answers whether rows were copied; a dashboard file that is
/// missing, already moved or never used in sandbox mode copies nothing and
/// creates nothing.
pub async fn carry_over(dashboard: &Path, url: &str) -> Result<bool, sqlx::Error> {
    if !dashboard.is_file() {
        return Ok(false);
    }
    let options = SqliteConnectOptions::new()
        .filename(dashboard)
        .busy_timeout(std::time::Duration::from_secs(5));
    let mut old = sqlx::SqliteConnection::connect_with(&options).await?;
    let held: bool = sqlx::query_scalar(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('sandbox_grants', 'sandbox_clock')",
    )
    .fetch_one(&mut old)
    .await?;
    let used = held
        && sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM sandbox_grants) OR EXISTS (SELECT 1 FROM sandbox_clock)",
        )
        .fetch_one(&mut old)
        .await?;
    old.close().await?;
    if !used {
        return Ok(false);
    }
    let pool = open_database(url).await?;
    let mut conn = pool.acquire().await?;
    let fresh: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM sandbox_grants) AND NOT EXISTS (SELECT 1 FROM sandbox_clock)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !fresh {
        // Copied by an earlier start (or the sandbox's file has state of its
        // own): never overwritten.
        return Ok(false);
    }
    sqlx::query("ATTACH DATABASE ? AS dashboard")
        .bind(dashboard.to_string_lossy().into_owned())
        .execute(&mut *conn)
        .await?;
    let copied = async {
        let mut tx = conn.begin().await?;
        for table in TABLES {
            // Same migration, same columns in the same order.
            sqlx::query(&format!(
                "INSERT INTO main.{table} SELECT * FROM dashboard.{table}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
    .await;
    let detached = sqlx::query("DETACH DATABASE dashboard")
        .execute(&mut *conn)
        .await;
    copied?;
    detached?;
    drop(conn);
    pool.close().await;
    Ok(true)
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
