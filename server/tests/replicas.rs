//! Several server processes on one database (issue 17), each with its own
//! scheduler, all sending token requests to one provider (the first
//! process's sandbox): the schedulers' claims hand each due integration to
//! exactly one process and spread a backlog over all of them, a claim left
//! by a process that died only delays its rows, well inside Atlassian's
//! 10-minute leeway, and a dashboard open on one process sees the changes
//! another made. Real refreshes and event streams over HTTP.

use domain::IntegrationId;
use engine::scheduler::{tick, TickReport};
use engine::Clock;
use testkit::live::Stream;
use testkit::*;

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
    let soon = app.clock.now().0 + 100;
    app.seed_families(N, |_| soon).await;
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
    // Integration 10 expires first, 1 last.
    app.seed_families(10, |id| now.0 + 200 - id).await;
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
    let ids: Vec<i64> = claimed.ids.iter().map(|id| id.0).collect();
    assert_eq!(
        ids,
        (1..=10).rev().collect::<Vec<_>>(),
        "soonest expiry first"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM integrations WHERE scheduled_by = 'a-process-that-died'")
            .await,
        10
    );
    let claim_secs = engine::db::SCHEDULER_CLAIM_SECS;
    assert!(claim_secs <= 15, "a dead process's claim ends within 15 s");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM integrations WHERE scheduled_until = {}",
            now.0 + claim_secs
        ))
        .await,
        10,
        "claimed for SCHEDULER_CLAIM_SECS"
    );
    assert!(drain(&second.engine).await.is_empty(), "claimed by another");
    app.clock.advance(claim_secs - 1);
    assert!(
        drain(&second.engine).await.is_empty(),
        "a second before its end"
    );

    // The claim ends then, and the refresh tokens still work: the
    // survivor refreshes them all.
    app.clock.advance(1);
    let refreshed = drain(&second.engine).await;
    assert_eq!(refreshed.len(), 10, "{refreshed:?}");
    assert!(refreshed.iter().all(|o| o.ok()), "{refreshed:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM integrations WHERE scheduled_by IS NOT NULL")
            .await,
        0,
        "a tick that ends gives its claims back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_on_one_process_sees_the_changes_another_made() {
    let app = TestApp::spawn().await;
    let other = app.second_process().await;
    let mut here = Stream::open(&app.http, app.url("/events")).await;
    let mut there = Stream::open(&other.http, other.url("/events")).await;
    for stream in [&mut here, &mut there] {
        assert_eq!(stream.next_event().await.0, "ready");
    }

    // Connected through the first process: both streams hear it, once.
    app.connect(ADA, &[ACME], None).await;
    assert_eq!(here.next_view().await["id"], 1);
    let view = there.next_view().await;
    assert_eq!(view["id"], 1);
    assert_eq!(view["status"], "active");

    // Refreshed by the second process's scheduler.
    app.clock.advance(3_600 - 200);
    let report = tick(&other.engine).await;
    assert_eq!(report.refreshed.len(), 1, "{report:?}");
    let seen_there = there.next_view().await;
    let seen_here = here.next_view().await;
    assert_eq!(seen_here["expiresAt"], seen_there["expiresAt"]);
    assert_ne!(seen_here["expiresAt"], view["expiresAt"], "the new expiry");

    // Disconnected through the second process: gone from the first's page.
    other
        .post_form("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert_eq!(there.next_event().await.0, "removed");
    let (event, data) = here.next_event().await;
    assert_eq!((event.as_str(), data.as_str()), ("removed", r#"{"id":1}"#));

    // Nothing twice: the next frame on either is a heartbeat or nothing.
    for stream in [&mut here, &mut there] {
        let next =
            tokio::time::timeout(std::time::Duration::from_millis(800), stream.next_frame()).await;
        match next {
            Err(_elapsed) => {}
            Ok(Some((kind, _))) if kind == "comment" => {}
            other => panic!("a change twice: {other:?}"),
        }
    }
}

/// Atlassian limits the app, not a process: a `429` one process got holds
/// back the others' schedulers for as long.
#[tokio::test]
async fn a_429_seen_by_one_process_pauses_the_schedulers_of_all() {
    let app = TestApp::spawn().await;
    let second = app.second_process().await;
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    // Both within the refresh margin.
    app.clock.advance(3_400);
    app.sandbox.inject_fault(
        sandbox::FaultKind::Status {
            code: 429,
            retry_after_secs: Some(90),
        },
        1,
    );
    let outcome = app
        .engine
        .refresh(IntegrationId(1), &domain::Actor::Scheduler)
        .await;
    assert!(!outcome.ok(), "{outcome:?}");
    let before = app.sandbox.token_requests_for(GRACE);

    // The other process's scheduler holds off too: Atlassian limits the app.
    let report = tick(&second.engine).await;
    assert!(report.refreshed.is_empty(), "{report:?}");
    assert_eq!(app.sandbox.token_requests_for(GRACE), before);

    // And goes on once the pause is over.
    app.clock.advance(91);
    let report = tick(&second.engine).await;
    assert_eq!(report.refreshed.len(), 2, "{report:?}");
    assert!(report.refreshed.iter().all(|o| o.ok()), "{report:?}");
    assert_eq!(app.sandbox.token_requests_for(GRACE), before + 1);
}

/// A pause stored by a process whose clock ran ahead (a month from now)
/// lasts no longer than any pause may, for every process.
#[tokio::test]
async fn a_pause_stored_far_ahead_ends_after_the_longest_pause() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    app.clock.advance(3_400);
    let month = app.clock.now() + 30 * 86_400;
    app.database
        .pause_provider(month)
        .await
        .expect("a pause from a clock a month ahead");
    let report = tick(&app.engine).await;
    assert!(report.refreshed.is_empty(), "{report:?}");
    assert_eq!(
        app.database
            .provider_paused_until()
            .await
            .expect("read the pause"),
        app.clock.now() + engine::MAX_SLOW_DOWN_SECS,
        "brought forward for every process"
    );
    app.clock.advance(engine::MAX_SLOW_DOWN_SECS + 1);
    let report = tick(&app.engine).await;
    assert_eq!(report.refreshed.len(), 1, "{report:?}");
    assert!(report.refreshed[0].ok(), "{report:?}");
}

/// The feed's rules, on the database: a follower that fell further behind
/// than the feed keeps learns it lost entries; a follower hears only the
/// other processes; a process's dropped changes reach followers as a
/// re-read marker.
#[tokio::test]
async fn the_change_feed_says_when_a_follower_lost_entries() {
    let app = TestApp::spawn().await;
    let db = &app.database;
    let start = db.newest_change().await.expect("newest");
    let ids: Vec<IntegrationId> = (1..=5).map(IntegrationId).collect();
    db.append_changes("elsewhere", &ids, 3)
        .await
        .expect("append");
    let read = db.changes_after(start, "here", 100).await.expect("read");
    assert!(read.lost, "two of five were dropped unread");
    assert_eq!(read.entries.len(), 3);
    assert_eq!(read.newest, start + 5);
    let read = db
        .changes_after(start + 2, "here", 100)
        .await
        .expect("read");
    assert!(!read.lost, "nothing after the cursor was dropped");
    let mine = db
        .changes_after(start + 2, "elsewhere", 100)
        .await
        .expect("read");
    assert!(mine.entries.is_empty(), "a process does not hear itself");
    assert_eq!(mine.newest, start + 5);
}

/// The invariant the dashboard's index walks rely on, kept by the database.
#[tokio::test]
async fn an_active_integration_cannot_be_disconnected() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let broken = engine::db::query("UPDATE integrations SET disconnected_at = 1 WHERE id = 1")
        .execute(&app.database)
        .await;
    assert!(broken.is_err(), "refused");
    let (status, _) = app
        .post_form("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert!(status.is_success());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM integrations WHERE is_active = 0 AND disconnected_at IS NOT NULL"
        )
        .await,
        1
    );
}
