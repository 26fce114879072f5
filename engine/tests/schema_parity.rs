//! Schema parity: the SQLite migrations (`migrations/`) and the PostgreSQL
//! ones (`migrations-postgres/`), each run by the engine's own migrator
//! ([`Database::open`]) on a fresh database, must give the same schema:
//! tables, columns (name, type class, nullability), primary keys, unique
//! constraints, indexes (name, table, columns, unique, partial or not) and
//! triggers (name, table). What differs by design is listed once, with the
//! reason, in [`BACKEND_SPECIFIC`].
//!
//! The PostgreSQL half needs a server: `TEST_POSTGRES_URL`
//! (`postgres://user@host:port`, no database: a fresh one is made there, as
//! the server's tests do; `scripts/test` starts one). Without it the test
//! says so and checks nothing.

use std::collections::BTreeMap;

use engine::Database;
use sqlx::{Connection, Row};

/// What is on one backend only, on purpose: each entry names an object by
/// its key (see [`Schema`]) and covers what lies under it (a table's
/// columns, indexes and triggers); an entry ending in `*` is a prefix.
const BACKEND_SPECIFIC: &[(&str, &str)] = &[
    (
        "table _sqlx_migrations",
        "sqlx's own bookkeeping: each backend's migration history, not the product's schema",
    ),
    (
        "table integrations_search*",
        "SQLite: the FTS5 trigram table for the search box and its shadow tables \
         (_data, _idx, _content, _docsize, _config); PostgreSQL searches with a pg_trgm index instead",
    ),
    (
        "table integrations index integrations_search_text_trgm",
        "PostgreSQL: the pg_trgm GIN index that does what SQLite's FTS5 table does",
    ),
    (
        "table integrations trigger integrations_search_after_*",
        "SQLite: keep the FTS5 table in step with integrations.search_text",
    ),
    (
        "table integrations trigger search_text_after_*",
        "SQLite: a trigger cannot assign NEW there, so search_text is written by an UPDATE after the row's insert or change",
    ),
    (
        "table integrations trigger search_text_before_*",
        "PostgreSQL: the same search_text, set on NEW before the row is written (plpgsql)",
    ),
    (
        "table sign_in_failures column id",
        "PostgreSQL: an identity column standing for SQLite's implicit rowid (the throttle hands a reserved attempt back by it)",
    ),
    (
        "table sign_in_failures primary key",
        "the same: SQLite's rowid is the key there",
    ),
];

/// One schema, flattened: a key per object (`table T`, `table T column C`,
/// `table T index I`, `table T unique (C, ...)`, `table T primary key`,
/// `table T trigger N`) and what is compared of it.
type Schema = BTreeMap<String, String>;

fn backend_specific(key: &str) -> bool {
    BACKEND_SPECIFIC
        .iter()
        .any(|(entry, _)| match entry.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == *entry || key.starts_with(&format!("{entry} ")),
        })
}

/// The type classes the product uses, from a declared SQLite type or a
/// PostgreSQL type name.
fn type_class(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    let class = if t.contains("int") {
        "integer"
    } else if t.contains("text") || t.contains("char") || t.contains("clob") {
        "text"
    } else if t.contains("blob") || t == "bytea" {
        "blob"
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") || t == "numeric" {
        "real"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("timestamp") || t.contains("date") {
        "timestamp"
    } else {
        return format!("other ({declared})");
    };
    class.to_owned()
}

fn column(declared: &str, not_null: bool) -> String {
    let null = if not_null { "not null" } else { "null" };
    format!("{} {null}", type_class(declared))
}

fn index(unique: bool, partial: bool, columns: &str) -> String {
    format!(
        "{}({columns}){}",
        if unique { "unique " } else { "" },
        if partial { " where ..." } else { "" }
    )
}

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Schema {
    let mut schema = Schema::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    for table in tables {
        schema.insert(format!("table {table}"), String::new());
        let mut key = Vec::new();
        for row in sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY pk, cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .expect("columns")
        {
            let name: String = row.get(0);
            let declared: String = row.get(1);
            let not_null: bool = row.get(2);
            let pk: i64 = row.get(3);
            if pk > 0 {
                key.push(name.clone());
            }
            // A key column is never NULL (SQLite's rule for rowid tables
            // says otherwise, but the product never writes one).
            schema.insert(
                format!("table {table} column {name}"),
                column(&declared, not_null || pk > 0),
            );
        }
        if !key.is_empty() {
            schema.insert(format!("table {table} primary key"), key.join(", "));
        }
        for row in sqlx::query(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .expect("indexes")
        {
            let name: String = row.get(0);
            let unique: bool = row.get(1);
            let origin: String = row.get(2);
            let partial: bool = row.get(3);
            let columns: Vec<String> = sqlx::query(
                "SELECT coalesce(name, '<expression>'), \"desc\" FROM pragma_index_xinfo(?) \
                 WHERE key = 1 ORDER BY seqno",
            )
            .bind(&name)
            .fetch_all(pool)
            .await
            .expect("index columns")
            .into_iter()
            .map(|r| {
                let column: String = r.get(0);
                let desc: bool = r.get(1);
                if desc {
                    format!("{column} DESC")
                } else {
                    column
                }
            })
            .collect();
            let columns = columns.join(", ");
            match origin.as_str() {
                // The primary key is compared above.
                "pk" => {}
                // Named by the backend (sqlite_autoindex_*): keyed by columns.
                "u" => {
                    schema.insert(format!("table {table} unique ({columns})"), String::new());
                }
                _ => {
                    schema.insert(
                        format!("table {table} index {name}"),
                        index(unique, partial, &columns),
                    );
                }
            }
        }
    }
    for row in sqlx::query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        .fetch_all(pool)
        .await
        .expect("triggers")
    {
        let name: String = row.get(0);
        let table: String = row.get(1);
        schema.insert(format!("table {table} trigger {name}"), String::new());
    }
    schema
}

async fn postgres_schema(conn: &mut sqlx::PgConnection) -> Schema {
    let mut schema = Schema::new();
    for row in sqlx::query(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL), a.attnotnull
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("columns")
    {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let declared: String = row.get(2);
        let not_null: bool = row.get(3);
        schema.insert(format!("table {table}"), String::new());
        schema.insert(
            format!("table {table} column {name}"),
            column(&declared, not_null),
        );
    }
    for row in sqlx::query(
        "SELECT t.relname::text, c.relname::text, i.indisunique, i.indisprimary,
                i.indpred IS NOT NULL,
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype = 'u'),
                (SELECT string_agg(
                            CASE WHEN i.indkey[k - 1] = 0 THEN '<expression>'
                                 ELSE pg_get_indexdef(i.indexrelid, k, true) END
                            || CASE WHEN (i.indoption[k - 1]::int & 1) = 1 THEN ' DESC' ELSE '' END,
                            ', ' ORDER BY k)
                 FROM generate_series(1, i.indnkeyatts::int) AS k)
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("indexes")
    {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let unique: bool = row.get(2);
        let primary: bool = row.get(3);
        let partial: bool = row.get(4);
        let constraint: bool = row.get(5);
        let columns: String = row.get(6);
        if primary {
            schema.insert(format!("table {table} primary key"), columns);
        } else if constraint {
            schema.insert(format!("table {table} unique ({columns})"), String::new());
        } else {
            schema.insert(
                format!("table {table} index {name}"),
                index(unique, partial, &columns),
            );
        }
    }
    for row in sqlx::query(
        "SELECT c.relname::text, t.tgname::text
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("triggers")
    {
        let table: String = row.get(0);
        let name: String = row.get(1);
        schema.insert(format!("table {table} trigger {name}"), String::new());
    }
    schema
}

/// Every difference, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    for (key, on_sqlite) in sqlite {
        if backend_specific(key) {
            continue;
        }
        match postgres.get(key) {
            None => found.push(format!("only on SQLite: {key} {on_sqlite}")),
            Some(on_postgres) if on_postgres != on_sqlite => found.push(format!(
                "differs: {key}: SQLite {on_sqlite}, PostgreSQL {on_postgres}"
            )),
            Some(_) => {}
        }
    }
    for (key, on_postgres) in postgres {
        if !backend_specific(key) && !sqlite.contains_key(key) {
            found.push(format!("only on PostgreSQL: {key} {on_postgres}"));
        }
    }
    found
}

/// A new, empty database on the PostgreSQL server at `server`; its URL.
async fn fresh_postgres_database(server: &str) -> String {
    let server = server.trim_end_matches('/');
    let name = format!(
        "schema_parity_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("TEST_POSTGRES_URL: connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("TEST_POSTGRES_URL: create database");
    let _ = admin.close().await;
    format!("{server}/{name}")
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Database::open(&format!("sqlite://{}/parity.db", dir.path().display()))
        .await
        .expect("migrate SQLite");
    let sqlite = sqlite_schema(sqlite.sqlite_pool().expect("a SQLite database")).await;
    assert!(sqlite.contains_key("table integrations"), "{sqlite:?}");

    let server = match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) if !server.is_empty() => server,
        _ => {
            println!("schema parity: PostgreSQL half skipped (TEST_POSTGRES_URL is not set)");
            return;
        }
    };
    let url = fresh_postgres_database(&server).await;
    drop(Database::open(&url).await.expect("migrate PostgreSQL"));
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let postgres = postgres_schema(&mut conn).await;
    let _ = conn.close().await;

    let found = differences(&sqlite, &postgres);
    assert!(
        found.is_empty(),
        "the SQLite and PostgreSQL migrations make different schemas \
         (fix with a new migration, or list a difference by design in BACKEND_SPECIFIC):\n{}",
        found.join("\n")
    );
}
