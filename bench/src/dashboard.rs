//! The dashboard's server-side render at 10,000 integrations (the whole run only).

use crate::common::*;

pub(crate) async fn bench_dashboard(b: &Bench) {
    println!("\n## 3. Dashboard render with 10,000 integrations (100 per page)");
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations")
        .fetch_one(sqlite(&b.instance.database))
        .await
        .expect("count");
    seed_rows(&b.instance.database, 1_000_000, 10_000 - have).await;
    for path in [
        "/dashboard",
        "/dashboard?page=50",
        "/dashboard?status=expiring",
        "/dashboard?q=site-99",
    ] {
        let t = median_page_ms(b, path, 30).await;
        println!(
            "GET {path}: median {t:.2} ms (budget <= 20): {}",
            verdict(t <= 20.0)
        );
    }
}
