//! Refreshes that survive real faults (issue 12): a lost answer or a crash is
//! retried with the same refresh token inside Atlassian's 10-minute leeway, a
//! cancelled caller does not cause a second token request, two server
//! processes on one database send one request per rotation, "not now"
//! answers are transient, and a late rejection cannot undo a re-authentication.
//! The sandbox over real HTTP; both clocks moved by hand.

use domain::IntegrationId;
use engine::refresh::RefreshResult;
use engine::scheduler::tick;
use engine::vault::Column;
use engine::Secret;
use sandbox::FaultKind;
use testkit::*;

const ONE: IntegrationId = IntegrationId(1);

/// Integration 1 refreshed as the scheduler would: the result.
async fn scheduler_refresh(app: &TestApp) -> RefreshResult {
    app.engine
        .refresh(ONE, &domain::Actor::Scheduler)
        .await
        .result
}
/// Past Atlassian's 10-minute leeway for a rotated-away refresh token.
const ELEVEN_MINUTES: i64 = 11 * 60;

async fn refreshed_by_tick(app: &TestApp) -> Vec<RefreshResult> {
    tick(&app.engine)
        .await
        .refreshed
        .into_iter()
        .filter(|o| o.integration_id == ONE)
        .map(|o| o.result)
        .collect()
}

/// After `secs`, the scheduler finishes the unresolved refresh with the same
/// token; eleven minutes later (the old token would be dead by now) the
/// integration still refreshes and was never deactivated.
async fn saved_by_the_scheduler_after(app: &TestApp, secs: i64) {
    app.clock.advance(secs);
    assert_eq!(refreshed_by_tick(app).await, vec![RefreshResult::Refreshed]);
    app.clock.advance(ELEVEN_MINUTES);
    assert_eq!(scheduler_refresh(app).await, RefreshResult::Refreshed);
    assert_alive(app).await;
}

/// The integration is active and was never deactivated.
async fn assert_alive(app: &TestApp) {
    let (active, failures): (bool, i64) = engine::db::query(
        "SELECT (is_active = 1) AS is_active, refresh_failures FROM integrations WHERE id = 1",
    )
    .fetch_one(&app.database)
    .await
    .expect("row");
    assert!(
        active && failures == 0,
        "active {active}, failures {failures}"
    );
    assert_eq!(app.count_events("outcome = 'needs_reauth'").await, 0);
}

/// The scheduler's listing of expired integrations without a refresh
/// token, at the engine's now: ids and fences.
async fn expired_without_refresh(app: &TestApp) -> Vec<(IntegrationId, i64)> {
    app.database
        .expired_without_refresh(app.engine.now())
        .await
        .expect("listing")
}

async fn stored_refresh_token(app: &TestApp) -> Secret {
    let (_, refresh) = app
        .database
        .encrypted_tokens(ONE)
        .await
        .expect("db")
        .expect("row");
    app.vault
        .decrypt(ONE, Column::RefreshToken, &refresh.expect("refresh token"))
        .expect("decrypt")
}

#[tokio::test]
async fn a_lost_answer_on_a_row_not_yet_due_is_retried_inside_the_leeway() {
    // A button refresh an hour before expiry; the provider rotates, but its
    // answer arrives garbled (truncated JSON), or as a proxy's empty 200.
    for fault in [FaultKind::Malformed, FaultKind::EmptyAnswer] {
        let app = TestApp::spawn().await;
        app.connect(ADA, &[ACME], None).await;
        app.sandbox.inject_fault(fault, 1);
        let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
        assert_eq!(
            outcome.result,
            RefreshResult::Transient,
            "{fault:?}: {}",
            outcome.message
        );
        // The row is not due for ~55 minutes, yet the scheduler retries it with
        // the same token while the provider still accepts it.
        saved_by_the_scheduler_after(&app, 30).await;
    }
}

#[tokio::test]
async fn a_process_that_dies_between_the_answer_and_the_commit_is_finished_by_another() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let sent = stored_refresh_token(&app).await;
    // Another process claims the row (marking the token as sent), the provider
    // rotates, and the process dies before it stores the answer.
    let now = app.engine.now();
    let claim = app
        .database
        .claim_refresh(ONE, "a-process-that-dies", now + 60, now)
        .await
        .expect("claim");
    assert!(matches!(claim, engine::db::Claim::Claimed(_)));
    app.atlassian
        .refresh(&sent)
        .await
        .expect("the provider rotated");
    // While its lease lives nobody else sends the token...
    assert_eq!(refreshed_by_tick(&app).await, vec![]);
    // ...once it expires, the scheduler finds the unresolved refresh and
    // finishes it with the same token, inside the leeway.
    saved_by_the_scheduler_after(&app, 61).await;
}

#[tokio::test]
async fn a_rotation_that_could_not_be_stored_is_retried_by_the_scheduler_inside_the_leeway() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    app.fail_rotations().await;
    assert_eq!(scheduler_refresh(&app).await, RefreshResult::StoreFailed);
    app.heal_rotations().await;
    saved_by_the_scheduler_after(&app, 30).await;
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_flight_causes_no_second_token_request() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.connect(ADA, &[ACME], None).await;
    let before = app.sandbox.token_requests_for(ADA);
    let first = app.refresh_in_flight(500, 150).await;
    first.abort(); // the browser tab closed
    let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
    assert_refresh_result(&outcome, RefreshResult::Refreshed);
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before + 1,
        "exactly one token request"
    );
    assert_alive(&app).await;
}

#[tokio::test]
async fn two_server_processes_on_one_database_send_one_token_request_per_rotation() {
    let a = TestApp::spawn().await;
    a.connect(ADA, &[ACME], None).await;
    let b = a.second_process().await;
    let before = a.sandbox.token_requests_for(ADA);
    let rotations_before = a
        .count("SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'")
        .await;
    // Slow answers, so the processes' refreshes overlap.
    a.sandbox.inject_fault(FaultKind::Delay { ms: 150 }, 100);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let engine = if i % 2 == 0 {
            a.engine.clone()
        } else {
            b.engine.clone()
        };
        tasks.spawn(async move { engine.refresh(ONE, &domain::Actor::Scheduler).await });
    }
    while let Some(done) = tasks.join_next().await {
        let outcome = done.expect("task");
        assert_refresh_result(&outcome, RefreshResult::Refreshed);
    }
    let requests = a.sandbox.token_requests_for(ADA) - before;
    let rotations = a
        .count("SELECT COUNT(*) FROM token_events WHERE kind = 'refresh' AND outcome = 'ok'")
        .await
        - rotations_before;
    assert!(requests >= 1);
    assert_eq!(
        requests,
        u64::try_from(rotations).expect("count"),
        "one token request per rotation"
    );
    assert_alive(&a).await;
    // And the family is healthy: both processes can still refresh.
    assert_eq!(scheduler_refresh(&b).await, RefreshResult::Refreshed);
    assert_eq!(scheduler_refresh(&a).await, RefreshResult::Refreshed);
}

#[tokio::test]
async fn not_now_answers_are_transient_and_a_429_slows_the_whole_scheduler_down() {
    // A margin longer than the token's life: every integration is due at once.
    let app = TestApp::spawn_with(&["--refresh-margin-secs", "4000"]).await;
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    let before = stored_refresh_token(&app).await;
    app.sandbox.inject_fault(
        FaultKind::Status {
            code: 429,
            retry_after_secs: Some(120),
        },
        1,
    );
    let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
    assert_refresh_result(&outcome, RefreshResult::Transient);
    assert!(
        outcome.message.contains("retried in 120 s"),
        "{}",
        outcome.message
    );
    assert_eq!(stored_refresh_token(&app).await.expose(), before.expose());
    // Grace's integration is due and not backing off, but the provider asked
    // everyone to wait: the scheduler starts nothing until the Retry-After ends.
    app.clock.advance(60);
    assert!(tick(&app.engine).await.refreshed.is_empty());
    app.clock.advance(61);
    let report = tick(&app.engine).await;
    assert_eq!(report.refreshed.len(), 2, "{report:?}");
    assert!(report.refreshed.iter().all(|o| o.ok()), "{report:?}");
    for code in [408, 425, 503] {
        app.sandbox.inject_fault(
            FaultKind::Status {
                code,
                retry_after_secs: None,
            },
            1,
        );
        let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
        assert_eq!(
            outcome.result,
            RefreshResult::Transient,
            "{code}: {}",
            outcome.message
        );
    }
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_rejection_that_arrives_after_a_reauthentication_does_not_deactivate_it() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.connect(ADA, &[ACME], None).await;
    // The user revoked the app; the refresh in flight will be rejected late.
    app.sandbox.revoke_grant(ADA);
    // The answer is held 1.5 s: the re-authentication below finishes first
    // even on a loaded machine (400 ms once did not, on two busy cores).
    let refreshing = app.refresh_in_flight(1_500, 100).await;
    // Meanwhile the user re-authenticates the integration.
    let flow = app.connect(ADA, &[ACME], Some(1)).await;
    assert_eq!(
        flow.location.as_deref(),
        Some("/dashboard?flash=reauthenticated&integration=1")
    );
    let outcome = refreshing.await.expect("task");
    assert_refresh_result(&outcome, RefreshResult::Conflict);
    assert_alive(&app).await;
    assert_eq!(scheduler_refresh(&app).await, RefreshResult::Refreshed);
}

#[tokio::test]
async fn stopping_waits_for_a_refresh_already_sent_to_store_its_answer() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.connect(ADA, &[ACME], None).await;
    let before = stored_refresh_token(&app).await;
    let caller = app.refresh_in_flight(300, 50).await;
    caller.abort(); // the request that asked for it is gone, as at shutdown
    assert!(
        app.engine
            .finish_refreshes(std::time::Duration::from_secs(5))
            .await
    );
    // The rotation is stored: the token sent is no longer the one kept.
    assert_ne!(stored_refresh_token(&app).await.expose(), before.expose());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM integrations WHERE refresh_sent_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn an_integration_re_authenticated_after_the_listing_is_not_flagged() {
    let app = TestApp::spawn_with(&["--sandbox-withhold-refresh-tokens"]).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    app.clock.advance(3_601);
    // The scheduler lists it (expired, no refresh token) ...
    let listed = expired_without_refresh(&app).await;
    assert_eq!(listed.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [ONE]);
    // ... a person re-authenticates it before the scheduler writes ...
    app.connect(GRACE, &[GLOBEX], Some(1)).await;
    // ... and the write finds it changed: nothing flagged, nothing announced.
    let (id, fence) = listed[0];
    assert!(
        !engine::scheduler::flag_if_still_unrefreshable(&app.engine, id, fence, app.engine.now())
            .await
    );
    let view = app.engine.integration(ONE).await.expect("integration");
    assert!(view.is_active, "still active after its re-authentication");
    assert_eq!(app.count_events("outcome = 'needs_reauth'").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_messages WHERE type = 'integration.needs_reauth'")
            .await,
        0
    );
    // Expired again, with the fence read now, it is flagged once.
    app.clock.advance(3_601);
    let listed = expired_without_refresh(&app).await;
    assert_eq!(tick(&app.engine).await.flagged, [ONE]);
    assert_eq!(listed.len(), 1);
}

/// A clock that, once told to, jumps forward at every read: a process
/// paused (stopped, swapped out) between each two of its steps.
struct StallingClock {
    inner: engine::ManualClock,
    stall: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl engine::Clock for StallingClock {
    fn now(&self) -> domain::UnixTime {
        let stall = self.stall.load(std::sync::atomic::Ordering::SeqCst);
        if stall > 0 {
            self.inner.advance(stall);
        }
        self.inner.now()
    }
}

#[tokio::test]
async fn a_process_paused_past_its_lease_sends_nothing() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    let manual = engine::ManualClock::new(1_800_000_000);
    let stall = Arc::new(AtomicI64::new(0));
    let clock = StallingClock {
        inner: manual.clone(),
        stall: stall.clone(),
    };
    let app = TestApp::spawn_on(&[], Arc::new(clock), manual).await;
    app.connect(ADA, &[ACME], None).await;
    let before = app.sandbox.token_requests_for(ADA);
    let token = app.stored_token(1, Column::RefreshToken).await;
    // Each step of the refresh finds the lease older than it lasts.
    stall.store(engine::refresh::LEASE_SECS + 5, Ordering::SeqCst);
    let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
    stall.store(0, Ordering::SeqCst);
    assert_eq!(outcome.result, RefreshResult::Transient, "{outcome:?}");
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before,
        "a spent lease sends no token"
    );
    assert_eq!(app.stored_token(1, Column::RefreshToken).await, token);
    // Running again, after the lease ran out, it refreshes with that token.
    app.clock.advance(engine::refresh::LEASE_SECS + 1);
    let outcome = app.engine.refresh(ONE, &domain::Actor::Scheduler).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(app.sandbox.token_requests_for(ADA), before + 1);
}
