//! `bench pace` (issue 18): the scheduler against a provider that answers in 150 ms.

use std::time::{Duration, Instant};

use crate::common::*;

/// The scheduler against a provider that answers in 150 ms: how many
/// refreshes a second it sustains once its pace has adapted (issue 18's
/// budget is 400/s; a fixed 8 in flight would give about 53/s).
pub(crate) async fn bench_pace(b: &Bench) {
    const FLEET: usize = 6_000;
    const LATENCY_MS: u64 = 150;
    println!("\n## 8. Scheduler pace against a {LATENCY_MS} ms provider");
    let started = Instant::now();
    connect_many(b, FLEET).await;
    println!(
        "connected {FLEET} integrations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.instance.sandbox.store().settings.latency_ms = LATENCY_MS;
    // An hour later every access token is within the margin: all are due.
    let engine = &b.instance.engine;
    b.clock.advance(3_600);
    let started = Instant::now();
    let mut refreshed = 0;
    let mut per_second = Vec::new();
    let mut window = (Instant::now(), 0usize);
    loop {
        let report = engine::scheduler::tick(engine).await;
        let ok = report.refreshed.iter().filter(|o| o.ok()).count();
        refreshed += ok;
        window.1 += ok;
        if window.0.elapsed() >= Duration::from_secs(5) {
            per_second.push(window.1 as f64 / window.0.elapsed().as_secs_f64());
            window = (Instant::now(), 0);
        }
        if report.due == 0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = refreshed as f64 / secs;
    println!(
        "refreshed {refreshed} in {secs:.1} s: {rate:.0} refreshes/s overall; per 5 s: {}",
        per_second
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let steady = per_second
        .iter()
        .skip(1)
        .copied()
        .fold(f64::INFINITY, f64::min);
    println!(
        "sustained (slowest 5 s after the first): {steady:.0} refreshes/s (budget >= 400): {}; pace now {} in flight",
        verdict(steady >= 400.0),
        engine.provider_pace_limit()
    );
    assert_eq!(refreshed, FLEET, "every refresh succeeded");
}
