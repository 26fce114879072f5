//! The two databases the dashboard runs on, behind one query type.
//!
//! [`Backend`] is SQLite (the embedded default) or PostgreSQL (several
//! processes sharing one database). Every query in `db/` is a [`Query`]:
//! its SQL, written once in the dialect both accept (`$1` placeholders,
//! flags stored as integers 0/1, `IS NOT DISTINCT FROM`), and its bound
//! values, owned, so that the query can run on either backend's pool or
//! transaction. Rows decode with each backend's own codecs (`FromRow` is
//! derived generically). Where the dialects differ, [`Query::dialect`]
//! takes one text per backend.
//!
//! What only one database does lives in its file: [`sqlite`] (opening the
//! file: its folder, its mode, WAL and durable commits; binding values) and
//! [`postgres`] (the pool and its session settings, the clock check,
//! binding values, the advisory locks that serialise writers as SQLite's
//! one writer does).

mod postgres;
mod sqlite;

use std::borrow::Cow;
use std::convert::identity;

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{FromRow, Postgres, Sqlite, Transaction};

use domain::{IntegrationId, UnixTime};

/// Which database, with its connection pool.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    /// Opens and migrates the database at `url`: PostgreSQL for
    /// `postgres://...` (or `postgresql://`), else a SQLite file, created
    /// when missing (e.g. `sqlite://data/dashboard.db`).
    pub(crate) async fn open(url: &str) -> Result<Self, super::DatabaseError> {
        Ok(
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Backend::Postgres(postgres::open(url).await?)
            } else {
                Backend::Sqlite(sqlite::open(url).await?)
            },
        )
    }

    /// Whether this is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    /// Starts a transaction (`BEGIN`).
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Backend::Sqlite(pool) => Tx::sqlite(pool.begin().await?),
            Backend::Postgres(pool) => Tx::postgres(pool.begin().await?),
        })
    }

    /// Starts a transaction that holds the database's write lock from its
    /// first statement, for a read-then-write that must not interleave
    /// with another one: `BEGIN IMMEDIATE` on SQLite (one writer at a time
    /// anyway); on PostgreSQL, a transaction-scoped advisory lock that every
    /// such transaction takes, so they run one after the other as they do
    /// on SQLite. Rare writes only (consents, account changes, webhook
    /// claims): the refresh's writes are single compare-and-swap statements,
    /// the sign-in throttle locks per subject ([`Backend::begin_locking`]).
    pub(crate) async fn begin_immediate(&self) -> Result<Tx, sqlx::Error> {
        self.begin_locking(&[GLOBAL_WRITE_LOCK]).await
    }

    /// Starts a read-only transaction whose statements all read one
    /// snapshot: a plain transaction on SQLite (it reads one snapshot
    /// already); `REPEATABLE READ` on PostgreSQL, whose default (`READ
    /// COMMITTED`) gives each statement its own.
    pub(crate) async fn begin_snapshot(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Backend::Sqlite(pool) => Tx::sqlite(pool.begin().await?),
            Backend::Postgres(pool) => Tx::postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// Starts a writing transaction that serialises with every other one
    /// naming one of `keys`: `BEGIN IMMEDIATE` on SQLite (which serialises
    /// all writers); on PostgreSQL, `READ COMMITTED` (whatever the server's
    /// default) and a transaction-scoped advisory lock per key, taken in
    /// order (no deadlock between two such transactions). At most
    /// [`LOCK_WAITERS`] of a process's transactions wait for such locks at
    /// once, so waiters never take the whole connection pool from the
    /// refreshes.
    pub(crate) async fn begin_locking(&self, keys: &[&str]) -> Result<Tx, sqlx::Error> {
        match self {
            Backend::Sqlite(pool) => Ok(Tx::sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Backend::Postgres(pool) => postgres::begin_locking(pool, keys).await,
        }
    }
}

/// The key of [`Backend::begin_immediate`]'s lock.
const GLOBAL_WRITE_LOCK: &str = "writes";

/// An open transaction on either backend; rolled back when dropped
/// without [`Tx::commit`].
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
    /// A place among the lock waiters, held to the end.
    _waiting: Option<tokio::sync::SemaphorePermit<'static>>,
}

#[derive(Debug)]
enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    fn sqlite(tx: Transaction<'static, Sqlite>) -> Self {
        Self {
            inner: TxInner::Sqlite(tx),
            _waiting: None,
        }
    }

    pub(crate) fn postgres(tx: Transaction<'static, Postgres>) -> Self {
        Self {
            inner: TxInner::Postgres(tx),
            _waiting: None,
        }
    }

    /// A PostgreSQL transaction holding a place among the lock waiters.
    fn postgres_waiting(
        tx: Transaction<'static, Postgres>,
        waiting: tokio::sync::SemaphorePermit<'static>,
    ) -> Self {
        Self {
            inner: TxInner::Postgres(tx),
            _waiting: Some(waiting),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
    }

    /// Whether this is a PostgreSQL transaction.
    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, TxInner::Postgres(_))
    }
}

/// Where a query runs: a pool (its own connection, autocommit) or an open
/// transaction.
pub enum On<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteConn(&'a mut SqliteConnection),
    PgConn(&'a mut PgConnection),
}

impl On<'_> {
    /// The same place for one more query: a pool is shared, a connection
    /// (an open transaction) borrowed again.
    pub(crate) fn reborrow(&mut self) -> On<'_> {
        match self {
            On::SqlitePool(pool) => On::SqlitePool(pool),
            On::PgPool(pool) => On::PgPool(pool),
            On::SqliteConn(conn) => On::SqliteConn(conn),
            On::PgConn(conn) => On::PgConn(conn),
        }
    }
}

impl<'a> From<&'a Backend> for On<'a> {
    fn from(backend: &'a Backend) -> Self {
        match backend {
            Backend::Sqlite(pool) => On::SqlitePool(pool),
            Backend::Postgres(pool) => On::PgPool(pool),
        }
    }
}

impl<'a> From<&'a super::Database> for On<'a> {
    fn from(db: &'a super::Database) -> Self {
        db.backend().into()
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        match &mut tx.inner {
            TxInner::Sqlite(tx) => On::SqliteConn(tx),
            TxInner::Postgres(tx) => On::PgConn(tx),
        }
    }
}

/// A value bound to a placeholder. Flags bind as integers 0/1: both
/// schemas store them so, and the SQL compares them with `= 1`.
#[derive(Debug, Clone)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

macro_rules! value_from {
    ($variant:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from($v: $t) -> Self {
                Value::$variant($e)
            }
        })*
    };
}

value_from!(Int:
    i64 => |v| Some(v),
    Option<i64> => |v| v,
    i32 => |v| Some(i64::from(v)),
    u16 => |v| Some(i64::from(v)),
    Option<u16> => |v| v.map(i64::from),
    bool => |v| Some(i64::from(v)),
    IntegrationId => |v| Some(v.0),
    Option<IntegrationId> => |v| v.map(|id| id.0),
    UnixTime => |v| Some(v.secs()),
    Option<UnixTime> => |v| v.map(|t| t.secs()),
);
value_from!(Text:
    &str => |v| Some(v.to_owned()),
    String => |v| Some(v),
    &String => |v| Some(v.clone()),
    Option<&str> => |v| v.map(str::to_owned),
    Option<String> => |v| v,
    &Option<String> => |v| v.clone(),
);
value_from!(Blob:
    &[u8] => |v| Some(v.to_vec()),
    Vec<u8> => |v| Some(v),
    &Vec<u8> => |v| Some(v.clone()),
    Option<&[u8]> => |v| v.map(<[u8]>::to_vec),
    Option<Vec<u8>> => |v| v,
    &Option<Vec<u8>> => |v| v.clone(),
);

/// Builds `$query`'s text and arguments for the backend `$on` names, makes
/// the sqlx query with `$build` (`query_with`, `query_as_with`), runs
/// `$method` on the pool or connection and maps the result with `$then`:
/// the same code for either backend, each with its own types.
macro_rules! run_on {
    ($query:expr, $on:expr, $build:expr, $method:ident, $then:expr) => {{
        // One arm: `$dialect` (`sqlite` or `postgres`) builds the text and
        // arguments for the executor `$exec`.
        macro_rules! on {
            ($dialect:ident, $exec:expr) => {{
                let (sql, args) = $query.$dialect()?;
                $build(sql, args).$method($exec).await.map($then)
            }};
        }
        match $on.into() {
            On::SqlitePool(pool) => on!(sqlite, pool),
            On::SqliteConn(conn) => on!(sqlite, conn),
            On::PgPool(pool) => on!(postgres, pool),
            On::PgConn(conn) => on!(postgres, conn),
        }
    }};
}

/// [`run_on!`] for a query whose rows decode as the caller's `T`, as they come.
macro_rules! fetch_as {
    ($query:expr, $on:expr, $method:ident) => {
        run_on!(
            $query,
            $on,
            sqlx::query_as_with::<_, T, _>,
            $method,
            identity
        )
    };
}

/// A query: its SQL (one text, or one per backend) and its bound values.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until it runs"]
pub struct Query {
    sqlite: Cow<'static, str>,
    postgres: Cow<'static, str>,
    values: Vec<Value>,
}

/// A query in the dialect both backends accept.
pub fn query(sql: impl Into<Cow<'static, str>>) -> Query {
    let sql = sql.into();
    Query {
        sqlite: sql.clone(),
        postgres: sql,
        values: Vec::new(),
    }
}

impl Query {
    /// A query whose text differs between the backends.
    pub fn dialect(
        sqlite: impl Into<Cow<'static, str>>,
        postgres: impl Into<Cow<'static, str>>,
    ) -> Query {
        Query {
            sqlite: sqlite.into(),
            postgres: postgres.into(),
            values: Vec::new(),
        }
    }

    /// A statement only PostgreSQL runs (its caller checked the backend):
    /// `query-check/` checks its text against PostgreSQL's schema alone.
    pub(crate) fn postgres_only(sql: impl Into<Cow<'static, str>>) -> Query {
        query(sql)
    }

    /// Binds the next placeholder.
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    fn sqlite(&self) -> Result<(&str, SqliteArguments<'static>), sqlx::Error> {
        Ok((&self.sqlite, sqlite::arguments(&self.values)?))
    }

    fn postgres(&self) -> Result<(&str, PgArguments), sqlx::Error> {
        Ok((&self.postgres, postgres::arguments(&self.values)?))
    }

    /// Runs the query; how many rows it changed.
    pub async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<u64, sqlx::Error> {
        run_on!(self, on, sqlx::query_with, execute, |done| done
            .rows_affected())
    }

    /// Every row, decoded as `T`.
    pub async fn fetch_all<'a, T>(self, on: impl Into<On<'a>>) -> Result<Vec<T>, sqlx::Error>
    where
        T: Rows,
    {
        fetch_as!(self, on, fetch_all)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'a, T>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<T>, sqlx::Error>
    where
        T: Rows,
    {
        fetch_as!(self, on, fetch_optional)
    }

    /// The first row; an error when there is none.
    pub async fn fetch_one<'a, T>(self, on: impl Into<On<'a>>) -> Result<T, sqlx::Error>
    where
        T: Rows,
    {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of every row.
    pub async fn scalars<'a, T>(self, on: impl Into<On<'a>>) -> Result<Vec<T>, sqlx::Error>
    where
        (T,): Rows,
    {
        Ok(self
            .fetch_all::<(T,)>(on)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// The first column of the first row, if any.
    pub(crate) async fn scalar_optional<'a, T>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<T>, sqlx::Error>
    where
        (T,): Rows,
    {
        Ok(self.fetch_optional::<(T,)>(on).await?.map(|(v,)| v))
    }

    /// The first column of the first row; an error when there is none.
    pub async fn scalar<'a, T>(self, on: impl Into<On<'a>>) -> Result<T, sqlx::Error>
    where
        (T,): Rows,
    {
        Ok(self.fetch_one::<(T,)>(on).await?.0)
    }
}

/// A row type both backends decode.
pub trait Rows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> Rows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}
