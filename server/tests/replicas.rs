//! Several server processes on one database (issue 17), each with its own
//! scheduler, all sending token requests to one provider (the first
//! process's sandbox): the schedulers' claims hand each due integration to
//! exactly one process and spread a backlog over all of them, and a claim
//! left by a process that died only delays its rows, well inside
//! Atlassian's 10-minute leeway. Real refreshes over HTTP.

mod common;

use common::*;
use engine::scheduler::{tick, TickReport};
use engine::Clock;

/// Runs ticks until one is not full, as the scheduler's loop does.
async fn drain(engine: &engine::Engine) -> Vec<engine::refresh::RefreshOutcome> {
    let mut refreshed = Vec::new();
    loop {
        let TickReport {
            refreshed: more,
            full,
            ..
        } = tick(engine).await;
        refreshed.extend(more);
        if !full {
            return refreshed;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_schedulers_refresh_each_due_integration_exactly_once() {
    let app = TestApp::spawn().await;
    let second = app.second_process().await;
    let third = app.second_process().await;
    const N: i64 = 1_500;
    // All within the refresh margin (300 s): three batches' worth.
    app.seed_families(N, app.clock.now().0 + 100).await;
    let before = app.sandbox.token_requests_for(ADA);

    let (a, b, c) = tokio::join!(
        drain(&app.engine),
        drain(&second.engine),
        drain(&third.engine)
    );
    let failed: Vec<_> = a.iter().chain(&b).chain(&c).filter(|o| !o.ok()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let mut ids: Vec<i64> = a
        .iter()
        .chain(&b)
        .chain(&c)
        .map(|o| o.integration_id.0)
        .collect();
    ids.sort_unstable();
    let twice: Vec<i64> = ids
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    assert!(twice.is_empty(), "refreshed twice: {} of them", twice.len());
    ids.dedup();
    assert_eq!(ids.len() as i64, N, "each one refreshed");
    assert_eq!(
        app.sandbox.token_requests_for(ADA) - before,
        N as u64,
        "one token request per rotation, none twice"
    );
    let working = [&a, &b, &c].iter().filter(|r| !r.is_empty()).count();
    assert!(
        working >= 2,
        "the backlog spreads: {} / {} / {}",
        a.len(),
        b.len(),
        c.len()
    );

    // The next round finds nothing due on any of them.
    app.clock.advance(30);
    for engine in [&app.engine, &second.engine, &third.engine] {
        assert!(tick(engine).await.refreshed.is_empty());
    }
    assert_eq!(app.sandbox.token_requests_for(ADA) - before, N as u64);
}

#[tokio::test]
async fn a_claim_left_by_a_dead_process_only_delays_its_rows() {
    let app = TestApp::spawn().await;
    let second = app.second_process().await;
    let now = app.clock.now();
    app.seed_families(10, now.0 + 100).await;
    // A process claims the batch, then dies before refreshing any of it.
    let claimed = app
        .database
        .claim_due_for_refresh(
            "a-process-that-died",
            now + 300,
            now - 30 * 86_400,
            now,
            500,
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 10);
    assert!(drain(&second.engine).await.is_empty(), "claimed by another");

    // The claim ends two minutes later; the rows' tokens expired meanwhile,
    // and the refresh tokens still work: the survivor refreshes them all.
    app.clock.advance(121);
    let refreshed = drain(&second.engine).await;
    assert_eq!(refreshed.len(), 10, "{refreshed:?}");
    assert!(refreshed.iter().all(|o| o.ok()), "{refreshed:?}");
}
