//! The dashboard's server-side render at 10,000 integrations (the whole run only).

use std::time::Instant;

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
        let mut times = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let res = b
                .http
                .get(format!("{}{path}", b.instance.base))
                .send()
                .await
                .expect("get");
            assert!(res.status().is_success());
            let body = res.text().await.expect("body");
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(body.contains("Jira Integrations"));
        }
        let t = median(times);
        println!(
            "GET {path}: median {t:.2} ms (budget <= 20): {}",
            verdict(t <= 20.0)
        );
    }
}
