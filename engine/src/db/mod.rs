//! The database: SQLite (the embedded default: opening creates the file and
//! its folder when missing, WAL mode, migrations from `migrations/`) or
//! PostgreSQL (`postgres://...`, migrations from `migrations-postgres/`),
//! chosen from `DATABASE_URL` (`backend/` runs one query text on either, and
//! holds what only one of them does: `sqlite.rs`, `postgres.rs`),
//! and the queries, one file per table
//! (`webhook_outbox.rs` holds the webhook writes made inside other tables'
//! transactions; `group_commit.rs` commits the refreshes' lease claims and
//! rotations in groups, one fsync per group).
//!
//! Every query text written as a literal, a `&str` constant or a `format!`
//! of constants (in `query`, `Query::dialect`, `Query::postgres_only`) is
//! compiled against each backend's schema by `query-check/` (see the
//! README's Development section).

mod announce;
mod api_keys;
mod assembled;
mod backend;
mod change_feed;
mod connect_sessions;
mod consent_warnings;
mod dashboard_page;
mod events;
mod group_commit;
mod hop_tickets;
mod integration_rows;
mod integrations;
mod jira_holds;
mod oauth_states;
mod provider_pause;
mod refresh_queries;
mod refresh_rows;
mod sessions;
mod token_keys;
mod users;
mod webhook_outbox;
mod webhooks;

pub(crate) use announce::{Announce, AnnounceIf};
pub(crate) use api_keys::ApiKeyRow;
pub(crate) use api_keys::KeyUsage;
pub use api_keys::NewApiKey;
pub(crate) use backend::Backend;
pub use backend::{query, Query, Tx};
use backend::{On, Value};
pub(crate) use change_feed::CHANGES_CHANNEL;
pub(crate) use connect_sessions::{ConnectSessionRow, NewConnectSession};
pub(crate) use dashboard_page::Page;
pub use events::NewEvent;
pub(crate) use events::TokenEvent;
pub use integrations::ConnectionColumns;
pub(crate) use integrations::IntegrationsPage;
pub use integrations::ListingFilter;
pub(crate) use integrations::MAX_PAGE_SIZE;
pub(crate) use integrations::{GrantLookup, PriorState};
pub use jira_holds::HoldRow;
pub(crate) use oauth_states::{NewOAuthState, StoredState};
pub(crate) use refresh_queries::DueBatch;
pub(crate) use refresh_queries::Lease;
pub(crate) use refresh_queries::SCHEDULER_CLAIM_RENEW_SECS;
pub use refresh_queries::{Claim, DUE_FOR_REFRESH_SQL, IDLE_REFRESH_SQL, SCHEDULER_CLAIM_SECS};
pub(crate) use refresh_rows::RefreshRow;
pub use refresh_rows::{Fenced, Rotation};
pub use sessions::Sessions;
pub use token_keys::KeyCheckError;
pub use users::NewAccountEvent;
pub(crate) use users::{AccountChange, AccountEvent, UserRow};
pub(crate) use webhook_outbox::filter_admits;
pub(crate) use webhooks::AttemptResult;
pub use webhooks::NewEndpointRow;
pub(crate) use webhooks::{AttemptRow, DeliveryRow, DueDelivery, EndpointRow};

use sqlx::sqlite::SqlitePool;

/// Why the database could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("DATABASE_URL is not a valid SQLite or PostgreSQL URL ({0})")]
    BadUrl(String),
    #[error("DATABASE_URL: cannot create the folder {path}: {source}")]
    CreateFolder {
        path: String,
        source: std::io::Error,
    },
    #[error("DATABASE_URL: cannot create the database file {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("DATABASE_URL: cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("DATABASE_URL: cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// A handle on the dashboard's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    backend: Backend,
    /// The refresh's durable writes, committed in groups (`group_commit.rs`).
    group: group_commit::GroupCommit,
}

impl Database {
    /// Opens and migrates the database at `url`: PostgreSQL for
    /// `postgres://...` (or `postgresql://`), else a SQLite file, created
    /// when missing (e.g. `sqlite://data/dashboard.db`).
    pub async fn open(url: &str) -> Result<Self, DatabaseError> {
        let backend = Backend::open(url).await?;
        let group = group_commit::GroupCommit::start(backend.clone());
        Ok(Self { backend, group })
    }

    /// The backend and its pool.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether this is a PostgreSQL database (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.backend.is_postgres()
    }

    /// The browser sessions' store in this database (its table created when
    /// missing), with a task that deletes expired sessions hourly.
    pub async fn sessions(&self) -> Result<Sessions, DatabaseError> {
        let store = Sessions::open(&self.backend).await?;
        let sweeper = store.clone();
        tokio::spawn(async move {
            use tower_sessions_core::ExpiredDeletion;
            if let Err(e) = sweeper
                .continuously_delete_expired(std::time::Duration::from_secs(3600))
                .await
            {
                tracing::error!(error = %e, "the expired-session sweeper stopped");
            }
        });
        Ok(store)
    }

    /// The SQLite pool, when the database is SQLite (the embedded sandbox
    /// shares its file; benchmarks seed it directly).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
            Backend::Postgres(_) => None,
        }
    }

    /// Starts a transaction (see [`Backend::begin`]).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.backend.begin().await
    }

    /// Starts a read-only transaction on one snapshot (see [`Backend::begin_snapshot`]).
    pub(crate) async fn begin_snapshot(&self) -> Result<Tx, sqlx::Error> {
        self.backend.begin_snapshot().await
    }

    /// Starts a writing transaction (see [`Backend::begin_immediate`]).
    pub(crate) async fn begin_immediate(&self) -> Result<Tx, sqlx::Error> {
        self.backend.begin_immediate().await
    }

    /// Starts a writing transaction serialised per key (see [`Backend::begin_locking`]).
    pub(crate) async fn begin_locking(&self, keys: &[&str]) -> Result<Tx, sqlx::Error> {
        self.backend.begin_locking(keys).await
    }

    /// Whether the database answers a trivial query.
    pub(crate) async fn is_healthy(&self) -> bool {
        query("SELECT CAST(1 AS BIGINT) AS alive")
            .scalar::<i64>(self)
            .await
            .is_ok()
    }

    /// Whether every migration this build carries has been applied.
    pub(crate) async fn migrations_applied(&self) -> bool {
        let known = match self.backend {
            Backend::Sqlite(_) => sqlx::migrate!("../migrations").iter().count(),
            Backend::Postgres(_) => sqlx::migrate!("../migrations-postgres").iter().count(),
        };
        let applied = query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success")
            .scalar::<i64>(self)
            .await;
        applied.is_ok_and(|n| usize::try_from(n).is_ok_and(|n| n >= known))
    }

    /// How long the most overdue refresh has waited at `now` (0 when nothing
    /// is overdue), among the active integrations with a refresh token: the
    /// oldest `expires_at - margin` when access tokens are kept fresh, and
    /// the oldest refresh token's idle deadline (issued + 30 days) under
    /// either policy.
    pub(crate) async fn scheduler_lag_secs(
        &self,
        now: domain::UnixTime,
        rule: domain::StatusRule,
    ) -> Result<i64, DatabaseError> {
        let (oldest_expiry, oldest_issue): (Option<i64>, Option<i64>) = query(
            "SELECT
               (SELECT MIN(expires_at) FROM integrations
                 WHERE is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL)
                 AS oldest_expiry,
               (SELECT MIN(refresh_token_issued_at) FROM integrations
                 WHERE is_active = 1 AND refresh_token IS NOT NULL AND disconnected_at IS NULL)
                 AS oldest_issue",
        )
        .fetch_one(self)
        .await?;
        let expiry_due = match rule.policy {
            domain::RefreshPolicy::Scheduled => oldest_expiry.map(|at| at - rule.margin_secs),
            domain::RefreshPolicy::OnDemand => None,
        };
        let idle_due = oldest_issue.map(|at| at + domain::time::IDLE_REFRESH_SECS);
        let due = expiry_due.into_iter().chain(idle_due).min();
        Ok(due.map_or(0, |at| (now.secs() - at).max(0)))
    }
}

/// `ids` as a JSON array, the one parameter of an `IN (json_each($n))` list
/// (SQLite; `json_array_elements_text` on PostgreSQL).
fn json_id_list(ids: &[domain::IntegrationId]) -> String {
    serde_json::to_string(&ids.iter().map(|id| id.0).collect::<Vec<i64>>())
        .unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[tokio::test]
    async fn open_creates_the_folder_and_file_and_migrates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested/deeper/dashboard.db");
        let db = Database::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("open");
        assert!(path.exists());
        assert!(db.is_healthy().await);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.sqlite_pool().expect("sqlite"))
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_its_wal_and_its_folder_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("data");
        let path = folder.join("dashboard.db");
        let db = Database::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("open");
        // A write, so the WAL and shared-memory files exist.
        sqlx::query("CREATE TABLE perms_probe (x INTEGER)")
            .execute(db.sqlite_pool().expect("sqlite"))
            .await
            .expect("write");
        assert_eq!(mode(&folder), 0o700);
        for file in ["dashboard.db", "dashboard.db-wal", "dashboard.db-shm"] {
            assert_eq!(mode(&folder.join(file)), 0o600, "{file}");
        }
        drop(db);
        // A file left readable by others (an older version, a copy) is narrowed.
        let old = dir.path().join("old.db");
        std::fs::write(&old, b"").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        Database::open(&format!("sqlite://{}", old.display()))
            .await
            .expect("open");
        assert_eq!(mode(&old), 0o600);
    }

    #[tokio::test]
    async fn open_fails_with_a_sentence_naming_the_variable_when_the_folder_is_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").expect("write");
        let err = Database::open(&format!("sqlite://{}/db.sqlite", file.display()))
            .await
            .expect_err("must fail");
        assert!(err.to_string().starts_with("DATABASE_URL"), "{err}");
    }
}
