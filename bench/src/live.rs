//! `bench live`: 1,000 open event streams on the real server binary (its
//! memory growth), and how long a change takes to reach all of them.

use std::time::{Duration, Instant};

use crate::common::*;

/// Live updates: 1,000 open event streams on the real server binary (its
/// memory growth), and how long a change takes to reach all of them.
pub(crate) async fn bench_live(b: &Bench) {
    const STREAMS: usize = 1_000;
    println!("\n## 6. Live updates: {STREAMS} open event streams");
    let db = b.scratch.path().join("live.db");
    let url = format!("sqlite://{}", db.display());
    let (base, mut child) = spawn_server(
        &url,
        &[
            ("ADMIN_EMAIL", testkit::ADMIN_EMAIL),
            ("ADMIN_PASSWORD", testkit::ADMIN_PASSWORD),
            ("SCHEDULER_INTERVAL_SECS", "300"),
            // One user opens them all: the figure is the streams' cost,
            // not the per-user ceiling's.
            ("LIVE_STREAMS_PER_USER", "2000"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    {
        // One integration whose refresh (it fails: its token is not one the
        // sandbox issued, and the failure is a change) is what is broadcast
        // (written beside the running server, which made the token key).
        let seeded = engine::Database::open(&url).await.expect("open");
        seed_rows(&seeded, 1, 1).await;
    }
    sign_in(&client, &base).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mb(child.id());
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let (opened, mut opening) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..STREAMS {
        let client = client.clone();
        let url = format!("{base}/events");
        let heard = heard.clone();
        let opened = opened.clone();
        tokio::spawn(async move {
            let Ok(mut res) = client.get(url).send().await else {
                return;
            };
            let mut text = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.contains("event: ready") {
                    let _ = opened.send(());
                    text = text.replace("event: ready", "");
                }
                while let Some(at) = text.find("event: integration") {
                    let _ = heard.send(Instant::now());
                    text.drain(..at + "event: integration".len());
                }
            }
        });
    }
    for _ in 0..STREAMS {
        opening.recv().await.expect("a stream opened");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mb(child.id());
    let growth = after - before;
    println!(
        "server RSS {before:.1} MB before, {after:.1} MB with {STREAMS} streams: +{growth:.1} MB (budget <= 50): {}",
        verdict(growth <= 50.0)
    );
    let mut lasts = Vec::new();
    let mut medians = Vec::new();
    for _ in 0..10 {
        let sent = Instant::now();
        let res = client
            .post(format!("{base}/api/refresh_integration"))
            .form(&[("id", "1")])
            .send()
            .await
            .expect("refresh");
        assert!(res.status().is_success(), "refresh: {}", res.status());
        let mut arrivals = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let at = tokio::time::timeout(Duration::from_secs(10), hearing.recv())
                .await
                .expect("every stream hears the change within 10 s")
                .expect("open");
            arrivals.push((at - sent).as_secs_f64() * 1e3);
        }
        arrivals.sort_by(f64::total_cmp);
        medians.push(arrivals[STREAMS / 2]);
        lasts.push(arrivals[STREAMS - 1]);
    }
    let worst = lasts.iter().copied().fold(0.0, f64::max);
    println!(
        "a change reaches all {STREAMS} (from the request that commits it, 10 changes): median client {:.1} ms, last client median {:.1} ms, max {worst:.1} ms (budget <= 1000): {}",
        median(medians),
        median(lasts.clone()),
        verdict(worst <= 1000.0)
    );
    let _ = child.kill();
    let _ = child.wait();
}
