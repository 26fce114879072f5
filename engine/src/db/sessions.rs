//! The session store, in the dashboard's own database: `tower-sessions`'
//! SQLite store or its PostgreSQL store, whichever `DATABASE_URL` chose, so
//! a browser may reach any process sharing that database.
//!
//! A session id is a bearer secret (the cookie's value): the store keeps
//! only its SHA-256 ([`stored_id`]), so a copy of the database or a backup
//! lets no one take over a signed-in browser. The browser's id is hashed on
//! every load, save and delete; the record handed back carries the browser's
//! id again.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::Backend;

/// The id a session is stored under: the first 128 bits of the SHA-256 of
/// the browser's id (itself 128 random bits, so no salt or stretching adds
/// anything).
fn stored_id(id: &Id) -> Id {
    let digest = Sha256::new()
        .chain_update(b"jira-dashboard session id\0")
        .chain_update(id.0.to_le_bytes())
        .finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(first))
}

/// `record` as stored: under its [`stored_id`].
fn stored(record: &Record) -> Record {
    let mut stored = record.clone();
    stored.id = stored_id(&record.id);
    stored
}

/// Sessions in SQLite (table `tower_sessions`) or PostgreSQL (schema
/// `tower_sessions`, table `session`).
#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// The store on `backend`'s pool, its table created when missing.
    pub(crate) async fn open(
        backend: &Backend,
    ) -> Result<Self, tower_sessions_sqlx_store::sqlx::Error> {
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

impl Sessions {
    async fn create_stored(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.create(record).await,
            Sessions::Postgres(store) => store.create(record).await,
        }
    }

    async fn save_stored(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.save(record).await,
            Sessions::Postgres(store) => store.save(record).await,
        }
    }

    async fn load_stored(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(store) => store.load(id).await,
            Sessions::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete_stored(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete(id).await,
            Sessions::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let mut row = stored(record);
            let wanted = row.id;
            self.create_stored(&mut row).await?;
            if row.id == wanted {
                return Ok(());
            }
            // The hashed id was taken (the inner store then saved the record
            // under a random id no browser holds): drop that row and draw a
            // new browser id.
            self.delete_stored(&row.id).await?;
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.save_stored(&stored(record)).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.load_stored(&stored_id(id)).await?.map(|mut record| {
            record.id = *id;
            record
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.delete_stored(&stored_id(id)).await
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
