//! What only SQLite does: opening the file (its folder created, both
//! readable by this user alone; WAL; commits that survive a power cut) and
//! binding values.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::Arguments;

use super::Value;
use crate::db::DatabaseError;

/// Opens the file at `url` (created when missing) and migrates from
/// `migrations/`.
pub(super) async fn open(url: &str) -> Result<SqlitePool, DatabaseError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| DatabaseError::BadUrl(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5))
        // FULL, not WAL's usual NORMAL: a rotated refresh token must survive
        // a power cut. Lost, the old one dies 10 minutes later and the whole
        // token family with it (measured by `bench refresh`: 0.4–0.7 ms per commit).
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
    if let Some(folder) = options
        .get_filename()
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        create_folder(folder)?;
    }
    owner_only_files(options.get_filename())?;
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // A local file does not drop connections: skip the ping (a round
        // trip to SQLite's worker thread) before every query.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(DatabaseError::Open)?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    Ok(pool)
}

/// `values` as SQLite arguments.
pub(super) fn arguments(values: &[Value]) -> Result<SqliteArguments<'static>, sqlx::Error> {
    let mut args = SqliteArguments::default();
    for value in values {
        match value.clone() {
            Value::Int(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Blob(v) => args.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// Creates the database's folder, and any missing parent, readable by this
/// user alone (a folder that already exists keeps its mode).
fn create_folder(folder: &Path) -> Result<(), DatabaseError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(folder)
        .map_err(|source| DatabaseError::CreateFolder {
            path: folder.display().to_string(),
            source,
        })
}

/// The SQLite file holds every sealed token, the session store and the
/// account log: it is created readable and writable by this user alone
/// (SQLite gives its `-wal` and `-shm` files the database file's mode), and
/// an existing file, or its `-wal` or `-shm`, that others may read is
/// narrowed to the owner.
fn owner_only_files(database: &Path) -> Result<(), DatabaseError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let name = database.as_os_str();
        if name.is_empty() || name == ":memory:" {
            return Ok(());
        }
        let not_created = |source: std::io::Error| DatabaseError::CreateFile {
            path: database.display().to_string(),
            source,
        };
        if !database.exists() {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(database)
            {
                Ok(_) => {}
                // Another process created it meanwhile: narrowed below.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(not_created(e)),
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = database.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            let Ok(metadata) = std::fs::metadata(file) else {
                continue;
            };
            if metadata.permissions().mode() & 0o077 != 0 {
                if let Err(e) =
                    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                {
                    tracing::warn!(file = %file.display(), error = %e, "could not make the database file readable by its owner alone");
                } else {
                    tracing::info!(file = %file.display(), "the database file was readable by others: now by its owner alone");
                }
            }
        }
    }
    Ok(())
}
