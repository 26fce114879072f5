//! The test harness of the server's integration tests (`server/tests`) and of
//! the benchmark (`bench`): no product binary links it.
//!
//! - [`local_instance`]: [`LocalInstance`], a whole dashboard in sandbox mode
//!   on a free port with a throw-away database (a SQLite file, or a fresh
//!   PostgreSQL database when `TEST_POSTGRES_URL` names a server).
//! - [`local_cluster`]: several real `server` processes on one PostgreSQL
//!   database with a standalone sandbox (the cluster tests, `bench replicas`).
//! - [`test_app`]: [`TestApp`], an instance on a hand-moved clock signed in
//!   as the administrator, with the connect flow and the calls the tests share.
//! - [`live`]: reading `GET /events` (server-sent events).
//! - [`receiver`]: a scriptable webhook receiver.
//!
//! The `server` binary is built for the server's own tests only: a test
//! names it with [`server_binary!`], which Cargo resolves in that test.

pub mod live;
pub mod local_cluster;
pub mod local_instance;
pub mod receiver;
pub mod test_app;

pub use local_instance::{seed_families, LocalInstance, Seeding, ADMIN_EMAIL, ADMIN_PASSWORD};
pub use test_app::*;

/// The path of the `server` binary, for a test of the `server` package
/// (`env!("CARGO_BIN_EXE_server")`, read where the macro is used: Cargo
/// sets it for the integration tests of the package that builds the binary).
#[macro_export]
macro_rules! server_binary {
    () => {
        ::std::path::Path::new(env!("CARGO_BIN_EXE_server"))
    };
}
