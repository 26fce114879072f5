//! The scheduler's "due soon" query at 100,000 integrations, with its query
//! plan (the whole run only).

use domain::UnixTime;

use crate::common::*;

pub(crate) async fn bench_due_soon(b: &Bench) {
    println!("\n## 2. Scheduler \"due soon\" query at 100,000 integrations");
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations")
        .fetch_one(sqlite(&b.instance.database))
        .await
        .expect("count");
    seed_rows(&b.instance.database, 2_000_000, 100_000 - have).await;
    sqlx::query("ANALYZE")
        .execute(sqlite(&b.instance.database))
        .await
        .expect("analyze");
    let (due, t) = time_due_soon(&b.instance.database, UnixTime(NOW), 300).await;
    println!(
        "due_for_refresh -> {due} rows: median {t:.3} ms (budget <= 5): {}",
        verdict(t <= 5.0)
    );
    let mut scans = false;
    for (sql, bound) in [
        (engine::db::DUE_FOR_REFRESH_SQL, NOW + 300),
        (engine::db::IDLE_REFRESH_SQL, NOW - 30 * 86_400),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(NOW)
                .bind(engine::scheduler::BATCH)
                .bind("bench")
                .bind(bound)
                .fetch_all(sqlite(&b.instance.database))
                .await
                .expect("plan");
        println!("EXPLAIN QUERY PLAN:");
        for (_, _, _, detail) in &plan {
            println!("  {detail}");
            scans |= detail.starts_with("SCAN") || detail.contains("TEMP B-TREE");
        }
    }
    println!("index walks only (no scan, no sort): {}", verdict(!scans));
}
