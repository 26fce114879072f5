//! Every query text the product runs on PostgreSQL, compiled with sqlx's
//! `query_unchecked!`: the build fails when a text is not valid SQL for the
//! PostgreSQL schema of `migrations-postgres/` (a table or column that does not exist, a
//! syntax error, the wrong number of placeholders).
//!
//! - `build.rs` (with `../scan.rs`) finds the texts in the engine's and
//!   server's sources and writes the macro calls.
//! - `.sqlx/` holds what a real PostgreSQL 15 database said of each text (sqlx's
//!   offline data, `SQLX_OFFLINE=true` in `.cargo/config.toml`), made by
//!   `scripts/prepare-queries`. A new or changed text fails the build
//!   until that script has checked it against a database built from the
//!   migrations; `scripts/test` runs it with `--check`, so the data cannot
//!   fall behind the migrations either.

include!(concat!(env!("OUT_DIR"), "/checks.rs"));
