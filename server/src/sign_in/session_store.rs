//! The session store, in the dashboard's own database: `tower-sessions`'
//! SQLite store or its PostgreSQL store, whichever `DATABASE_URL` chose, so
//! a browser may reach any process sharing that database.

use async_trait::async_trait;
use axum_login::tower_sessions::session::{Id, Record};
use axum_login::tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use engine::db::Backend;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Sessions in SQLite (table `tower_sessions`) or PostgreSQL (schema
/// `tower_sessions`, table `session`).
#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// The store on `backend`'s pool, its table created when missing.
    pub async fn open(backend: &Backend) -> Result<Self, tower_sessions_sqlx_store::sqlx::Error> {
        Ok(match backend {
            Backend::Sqlite(pool) => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await?;
                Sessions::Sqlite(store)
            }
            Backend::Postgres(pool) => {
                let store = PostgresStore::new(pool.clone());
                // Processes starting together on an empty database may race
                // to create the table: the loser finds it made on its retry.
                if store.migrate().await.is_err() {
                    store.migrate().await?;
                }
                Sessions::Postgres(store)
            }
        })
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.create(record).await,
            Sessions::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.save(record).await,
            Sessions::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(store) => store.load(id).await,
            Sessions::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete(id).await,
            Sessions::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete_expired().await,
            Sessions::Postgres(store) => store.delete_expired().await,
        }
    }
}
