//! `bench seed <database file> <count>`: only seeds (for the browser benchmark).

use crate::common::*;

/// `bench seed <database file> <count>`: a database for the browser benchmark,
/// with expiries spread over the next hour of the wall clock.
pub(crate) async fn seed_only(path: &str, count: i64) {
    let db = engine::Database::open(&format!("sqlite://{path}"))
        .await
        .expect("open");
    let now = engine::Clock::now(&engine::SystemClock).secs();
    seed_rows_at(sqlite(&db), 1, count, now).await;
    println!("seeded {count} integrations into {path}");
}
