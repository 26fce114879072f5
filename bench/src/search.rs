//! `bench search` (issue 18): search by site or account among 1,000,000 integrations.

use std::time::Instant;

use crate::common::*;

/// Issue 18's search budget: a search by site or account among 1,000,000
/// integrations <= 50 ms (the trigram index), with the count of matches; the
/// database's size per integration.
pub(crate) async fn bench_search(b: &Bench) {
    const FLEET: i64 = 1_000_000;
    println!("\n## 9. Search among {FLEET} integrations");
    let started = Instant::now();
    let db = &b.instance.database;
    seed_rows(db, 2_000_000, FLEET).await;
    println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    let size = database_bytes(sqlite(db)).await;
    println!(
        "database: {:.0} MB, {:.0} bytes per integration (with its site, both indexes and the search index)",
        size as f64 / 1e6,
        size as f64 / FLEET as f64
    );
    for text in [
        "site-2345678.",
        "person 2999999",
        "erson299999",
        "erson25",
        "-2",
    ] {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..10 {
            let (page, ms) = timed(b.instance.engine.dashboard_page(domain::PageQuery {
                page: 0,
                page_size: 100,
                status: None,
                search: Some(text.to_owned()),
                order: domain::PageOrder::Oldest,
            }))
            .await;
            times.push(ms);
            total = page.expect("page").total;
        }
        let t = median(times);
        println!(
            "search {text:?}: {total} match(es), median {t:.1} ms with the total (budget <= 50): {}",
            verdict(t <= 50.0)
        );
    }
}
