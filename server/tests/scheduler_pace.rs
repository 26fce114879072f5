//! The scheduler's pace towards the provider (issue 18): it grows while
//! answers come back quickly, halves on overload, stays under its ceiling
//! (`SCHEDULER_MAX_CONCURRENCY`), and a tick says how many were due, so that
//! a full batch is followed at once by the next. Real refreshes against the
//! sandbox over HTTP.

use std::time::Duration;
use testkit::*;

use engine::refresh::RefreshResult;
use engine::scheduler::{tick, tick_within};
use sandbox::FaultKind;

#[tokio::test]
async fn the_pace_grows_with_answers_and_halves_on_a_429() {
    // A margin longer than the token's life: every integration is due at once.
    let app = TestApp::spawn_with(&["--refresh-margin-secs", "4000"]).await;
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    assert_eq!(app.engine.provider_pace_limit(), 8);
    let report = tick(&app.engine).await;
    assert_eq!(report.due, 2);
    assert!(report.refreshed.iter().all(|o| o.ok()), "{report:?}");
    // Two quick answers in slow start: two more in flight allowed.
    assert_eq!(app.engine.provider_pace_limit(), 10);

    app.sandbox.inject_fault(
        FaultKind::Status {
            code: 429,
            retry_after_secs: Some(1),
        },
        1,
    );
    app.clock.advance(10);
    let report = tick(&app.engine).await;
    assert_eq!(report.refreshed.len(), 2, "{report:?}");
    // One 429 halves it (then one quick answer adds to it, additively now).
    let limit = app.engine.provider_pace_limit();
    assert!((5..=6).contains(&limit), "{limit}");
}

#[tokio::test]
async fn the_pace_learns_from_every_token_request_and_only_from_the_provider() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let id = domain::IntegrationId(1);
    assert_eq!(app.engine.provider_pace_limit(), 8);
    // A refresh outside the scheduler (a person's button) is a token
    // request like a scheduled one.
    let person = domain::Actor::User("admin@example.com".into());
    let outcome = app.engine.refresh(id, &person).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(app.engine.provider_pace_limit(), 9);

    // A 503 from the token endpoint is the provider's overload: halved.
    app.sandbox.inject_fault(
        FaultKind::Status {
            code: 503,
            retry_after_secs: None,
        },
        1,
    );
    let outcome = app.engine.refresh(id, &domain::Actor::Scheduler).await;
    assert_eq!(outcome.result, RefreshResult::Transient, "{outcome:?}");
    assert_eq!(app.engine.provider_pace_limit(), 4);

    // A refresh that never reaches the provider (its refresh token cannot
    // be decrypted: a database or key problem) tells the pace nothing.
    engine::db::query("UPDATE integrations SET refresh_token = $1 WHERE id = $2")
        .bind(vec![0u8; 40])
        .bind(id.0)
        .execute(&app.database)
        .await
        .expect("garble the stored refresh token");
    app.clock.advance(600);
    let asked = app.sandbox.token_requests_for(ADA);
    let outcome = app.engine.refresh(id, &domain::Actor::Scheduler).await;
    assert_eq!(outcome.result, RefreshResult::StoreFailed, "{outcome:?}");
    assert_eq!(app.sandbox.token_requests_for(ADA), asked, "nothing sent");
    assert_eq!(app.engine.provider_pace_limit(), 4);
}

#[tokio::test]
async fn the_pace_never_passes_its_ceiling() {
    let app = TestApp::spawn_with(&[
        "--refresh-margin-secs",
        "4000",
        "--scheduler-max-concurrency",
        "3",
    ])
    .await;
    assert_eq!(app.engine.provider_pace_limit(), 3);
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    for _ in 0..5 {
        tick(&app.engine).await;
        app.clock.advance(10);
    }
    assert_eq!(app.engine.provider_pace_limit(), 3);
}

#[test]
fn a_ceiling_out_of_range_stops_start_up_naming_the_variable() {
    for bad in ["0", "5000", "many"] {
        let err = server::Config::from_args(["server", "--scheduler-max-concurrency", bad])
            .expect_err("must fail")
            .to_string();
        assert!(
            err.contains("scheduler-max-concurrency") || err.contains("SCHEDULER_MAX_CONCURRENCY"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_tick_that_runs_out_of_time_stops_starting_refreshes_and_says_it_is_full() {
    // One at a time, 300 ms an answer: a budget of 100 ms starts only one.
    let app = TestApp::spawn_with(&["--scheduler-max-concurrency", "1"]).await;
    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    // Both within the margin of expiry.
    app.clock.advance(3_400);
    app.sandbox.store().settings.latency_ms = 300;
    let report = tick_within(&app.engine, Duration::from_millis(100)).await;
    assert_eq!(report.due, 2);
    assert_eq!(report.refreshed.len(), 1, "{report:?}");
    assert!(report.refreshed[0].ok(), "{report:?}");
    assert!(
        report.full,
        "the rest is waiting: the next tick starts at once"
    );

    // The next tick takes the one left, and only that one.
    let report = tick(&app.engine).await;
    assert_eq!(report.refreshed.len(), 1, "{report:?}");
    assert!(report.refreshed[0].ok(), "{report:?}");
    assert!(!report.full, "{report:?}");
    assert_eq!(
        app.sandbox.token_requests_for(ADA) + app.sandbox.token_requests_for(GRACE),
        4,
        "two connects and two refreshes"
    );
}
