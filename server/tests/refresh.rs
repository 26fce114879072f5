//! The refresh engine against the sandbox over real HTTP: rotation,
//! single-flight, compare-and-swap, failure classification, the scheduler.

use domain::IntegrationId;
use engine::refresh::RefreshResult;
use engine::vault::Column;
use reqwest::StatusCode;
use sandbox::FaultKind;
use serde_json::Value;
use testkit::*;

async fn refresh_api(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.post_form("/api/refresh_integration", &[("id", id)])
        .await
}

async fn stored_refresh_token(app: &TestApp) -> String {
    app.stored_token(1, Column::RefreshToken).await
}

async fn row(app: &TestApp) -> (i64, i64, Option<i64>) {
    engine::db::query(
        "SELECT is_active, refresh_failures, last_refresh_at FROM integrations WHERE id = 1",
    )
    .fetch_one(&app.database)
    .await
    .expect("row")
}

#[tokio::test]
async fn a_refresh_stores_the_rotated_refresh_token_and_the_new_expiry() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let before = stored_refresh_token(&app).await;
    let expires_before = app.list().await[0]["expiresAt"].clone();
    app.clock.advance(1_000);
    let (status, outcome) = refresh_api(&app, "1").await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["ok"], true);
    assert_eq!(outcome["requiresReauth"], false);
    assert_eq!(outcome["integration"]["id"], 1);
    assert_ne!(outcome["integration"]["expiresAt"], expires_before);
    let after = stored_refresh_token(&app).await;
    assert_ne!(after, before, "the NEW refresh token is stored");
    // The next refresh uses the new one, and works.
    assert_eq!(refresh_api(&app, "1").await.1["ok"], true);
    assert_eq!(
        app.count_events("kind = 'refresh' AND outcome = 'ok' AND http_status = 200")
            .await,
        2
    );
    for text in app.seen.lock().expect("lock").iter() {
        assert!(
            !text.contains("sbx_rt_") && !text.contains("sbx_at_"),
            "a token leaked: {text}"
        );
    }
}

#[tokio::test]
async fn without_a_refresh_token_the_seed_contract_applies() {
    let app = TestApp::spawn_with(&["--sandbox-withhold-refresh-tokens"]).await;
    app.connect(ADA, &[ACME], None).await;
    app.clock.advance(60);
    let (status, outcome) = refresh_api(&app, "1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["ok"], false);
    assert_eq!(outcome["requiresReauth"], true);
    assert!(outcome["message"]
        .as_str()
        .expect("message")
        .contains("offline_access"));
    assert_eq!(outcome["integration"]["isActive"], false);
    assert_eq!(outcome["integration"]["status"], "needs_reauth");
    assert_eq!(row(&app).await, (0, 1, Some(1_800_000_060)));
    refresh_api(&app, "1").await;
    assert_eq!(row(&app).await.1, 2, "refresh_failures + 1 each time");
    assert_eq!(app.count_events("kind = 'deactivate'").await, 2);
}

#[tokio::test]
async fn a_rejected_refresh_token_deactivates_and_asks_for_reauth() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    app.sandbox.revoke_grant(ADA);
    let (_, outcome) = refresh_api(&app, "1").await;
    assert_eq!(outcome["requiresReauth"], true);
    assert!(outcome["message"]
        .as_str()
        .expect("message")
        .contains("rejected the refresh token"));
    assert_eq!(row(&app).await.0, 0);
    assert_eq!(row(&app).await.1, 1);
    assert_eq!(
        app.count_events(
            "kind = 'deactivate' AND http_status = 403 AND error_code = 'unauthorized_client'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn rejected_client_credentials_are_a_configuration_error() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    assert!(app
        .sandbox
        .set_client_secret("sandbox-client-id", "regenerated"));
    let (_, outcome) = refresh_api(&app, "1").await;
    assert_eq!(outcome["ok"], false);
    assert_eq!(outcome["requiresReauth"], false);
    assert!(outcome["message"]
        .as_str()
        .expect("message")
        .contains("JIRA_CLIENT_SECRET"));
    assert_eq!(row(&app).await.0, 1, "still active");
    assert_eq!(
        row(&app).await.1,
        0,
        "not a refresh failure of the integration"
    );
    assert_eq!(
        app.count_events("http_status = 401 AND error_code = 'access_denied'")
            .await,
        1
    );
}

/// The door a test refreshes through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    /// `POST /api/refresh_integration`, as the dashboard's button does.
    Api,
    /// `Engine::refresh` directly.
    Engine,
    /// One scheduler tick.
    Scheduler,
}

/// One refresh of integration 1, read the same way whichever door it went
/// through (`result` is the engine's own verdict; the API reports only `ok`
/// and `requiresReauth`).
#[derive(Debug)]
struct Attempt {
    ok: bool,
    requires_reauth: bool,
    result: Option<RefreshResult>,
    message: String,
}

async fn refresh_via(app: &TestApp, via: Via) -> Attempt {
    let outcome = match via {
        Via::Api => {
            let (_, outcome) = refresh_api(app, "1").await;
            return Attempt {
                ok: outcome["ok"].as_bool().expect("ok"),
                requires_reauth: outcome["requiresReauth"].as_bool().expect("requiresReauth"),
                result: None,
                message: outcome["message"].as_str().unwrap_or_default().to_owned(),
            };
        }
        Via::Engine => {
            app.engine
                .refresh(IntegrationId(1), &domain::Actor::Scheduler)
                .await
        }
        Via::Scheduler => engine::scheduler::tick(&app.engine)
            .await
            .refreshed
            .into_iter()
            .next()
            .expect("the scheduler refreshed it"),
    };
    Attempt {
        ok: outcome.ok(),
        requires_reauth: outcome.requires_reauth(),
        result: Some(outcome.result),
        message: outcome.message,
    }
}

/// One transient failure and its retry.
struct TransientFault {
    /// Extra command-line settings for the dashboard.
    flags: &'static [&'static str],
    /// Seconds the clock moves after connecting, before the fault.
    lead: i64,
    /// What the sandbox does to the next token request.
    fault: FaultKind,
    via: Via,
    /// Words the failure's message contains.
    message: &'static str,
    /// Counts the failure's event (exactly one).
    failed_events: &'static str,
    /// Seconds the clock moves before the retry.
    wait: i64,
}

/// The fault-refresh-advance sequence: connect, inject the fault, refresh (a
/// transient failure that keeps the integration active, its tokens unchanged,
/// a retry 30 s away and one failure event), move the clock, refresh again:
/// the same refresh token still works (inside the 10-minute leeway) and a
/// rotated one is stored.
async fn transient_fault_then_retry(case: TransientFault) {
    let app = TestApp::spawn_with(case.flags).await;
    app.connect(ADA, &[ACME], None).await;
    let before = stored_refresh_token(&app).await;
    app.clock.advance(case.lead);
    app.sandbox.inject_fault(case.fault, 1);

    let failed = refresh_via(&app, case.via).await;
    assert_eq!(
        (failed.ok, failed.requires_reauth),
        (false, false),
        "{failed:?}"
    );
    if let Some(result) = failed.result {
        assert_eq!(result, RefreshResult::Transient, "{}", failed.message);
    }
    assert!(failed.message.contains(case.message), "{}", failed.message);
    assert_eq!(row(&app).await.0, 1, "still active");
    assert_eq!(
        stored_refresh_token(&app).await,
        before,
        "tokens kept, nothing half-stored"
    );
    let retry_after: Option<i64> =
        engine::db::query("SELECT retry_after FROM integrations WHERE id = 1")
            .scalar(&app.database)
            .await
            .expect("row");
    assert_eq!(retry_after, Some(1_800_000_000 + case.lead + 30));
    assert_eq!(app.count(case.failed_events).await, 1);
    if case.via == Via::Scheduler {
        assert!(
            engine::scheduler::tick(&app.engine)
                .await
                .refreshed
                .is_empty(),
            "waits out the backoff"
        );
    }

    app.clock.advance(case.wait);
    let retried = refresh_via(&app, case.via).await;
    assert!(retried.ok, "{retried:?}");
    if let Some(result) = retried.result {
        assert_eq!(result, RefreshResult::Refreshed, "{}", retried.message);
    }
    assert_ne!(stored_refresh_token(&app).await, before);
}

#[tokio::test]
async fn a_5xx_keeps_the_tokens_and_schedules_a_retry() {
    // A manual refresh does not wait for the scheduled retry.
    transient_fault_then_retry(TransientFault {
        flags: &[],
        lead: 0,
        fault: FaultKind::ServerError,
        via: Via::Api,
        message: "retried in 30 s",
        failed_events:
            "SELECT COUNT(*) FROM token_events WHERE outcome = 'failed' AND http_status = 500",
        wait: 0,
    })
    .await;
}

#[tokio::test]
async fn a_lost_response_is_retried_with_the_same_token_inside_the_leeway() {
    // The sandbox rotates, then the answer arrives garbled: the new token is lost.
    transient_fault_then_retry(TransientFault {
        flags: &[],
        lead: 0,
        fault: FaultKind::Malformed,
        via: Via::Engine,
        message: "",
        failed_events: "SELECT COUNT(*) FROM token_events WHERE outcome = 'failed'",
        wait: 30,
    })
    .await;
}

#[tokio::test]
async fn a_timed_out_refresh_keeps_the_tokens_and_the_retry_succeeds() {
    // The sandbox answers after the client gave up (and rotates: a lost response).
    transient_fault_then_retry(TransientFault {
        flags: &["--provider-timeout-secs", "1"],
        lead: 0,
        fault: FaultKind::Delay { ms: 1_500 },
        via: Via::Engine,
        message: "timed out",
        failed_events: "SELECT COUNT(*) FROM token_events WHERE outcome = 'failed' AND message LIKE '%timed out%'",
        wait: 30,
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_refreshes_make_exactly_one_token_request() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.connect(ADA, &[ACME], None).await;
    let before = app.sandbox.token_requests_for(ADA);
    // Inside the margin, so the scheduler wants it too; a slow answer keeps
    // the request in flight while everyone piles on.
    app.clock.advance(3_600 - 100);
    app.sandbox.inject_fault(FaultKind::Delay { ms: 400 }, 1);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.spawn(async move {
            match i % 3 {
                0 => {
                    let (status, outcome) = refresh_api(&app, "1").await;
                    assert_eq!(status, StatusCode::OK);
                    (
                        outcome["ok"].as_bool().expect("ok"),
                        outcome["message"].as_str().expect("m").to_owned(),
                    )
                }
                1 => {
                    let o = app
                        .engine
                        .refresh(IntegrationId(1), &domain::Actor::Scheduler)
                        .await;
                    (o.ok(), o.message)
                }
                _ => {
                    let report = engine::scheduler::tick(&app.engine).await;
                    let Some(o) = report.refreshed.into_iter().next() else {
                        // On PostgreSQL a tick skips the rows another tick
                        // is claiming at that instant (`FOR UPDATE SKIP
                        // LOCKED`), this process's too; on SQLite the
                        // ticks' claims run one after the other and each
                        // lists it.
                        assert!(app.database.is_postgres(), "the scheduler refreshed it");
                        return None;
                    };
                    (o.ok(), o.message)
                }
            }
            .into()
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.extend(done.expect("task"));
    }
    assert!(
        outcomes.len() >= 34,
        "every caller but skipped ticks: {}",
        outcomes.len()
    );
    assert!(
        outcomes.iter().all(|o| *o == outcomes[0] && o.0),
        "{outcomes:?}"
    );
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        before + 1,
        "exactly one token request"
    );
    assert_eq!(
        app.engine
            .refresh(IntegrationId(1), &domain::Actor::Scheduler)
            .await
            .result,
        RefreshResult::Refreshed,
        "the next refresh works"
    );
}

#[tokio::test]
async fn a_row_changed_during_the_request_is_not_overwritten() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.connect(ADA, &[ACME], None).await;
    // The answer is held 1.5 s: the re-authentication below finishes first
    // even on a loaded machine (400 ms once did not, on two busy cores).
    let refreshing = app.refresh_in_flight(1_500, 100).await;
    // The user re-authenticates while the refresh is in flight.
    app.connect(ADA, &[ACME], Some(1)).await;
    let after_reauth = stored_refresh_token(&app).await;
    let outcome = refreshing.await.expect("task");
    assert_refresh_result(&outcome, RefreshResult::Conflict);
    assert_eq!(
        stored_refresh_token(&app).await,
        after_reauth,
        "the newer tokens stay"
    );
}

#[tokio::test]
async fn a_rotation_that_cannot_be_stored_is_an_error_naming_the_integration() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let before = stored_refresh_token(&app).await;
    app.fail_rotations().await;
    let (_, outcome) = refresh_api(&app, "1").await;
    assert_eq!(outcome["ok"], false);
    assert!(outcome["message"]
        .as_str()
        .expect("message")
        .contains("integration 1"));
    assert_eq!(stored_refresh_token(&app).await, before);
    assert_eq!(app.count_events("outcome = 'store_failed'").await, 1);
    assert_eq!(
        app.count_events("kind = 'refresh' AND outcome = 'ok'")
            .await,
        0
    );

    // The failed transaction was ended: once the disk "recovers", the next
    // refresh (inside the 10-minute leeway, with the same token) stores.
    app.heal_rotations().await;
    let (_, outcome) = refresh_api(&app, "1").await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_ne!(stored_refresh_token(&app).await, before);
}

#[tokio::test]
async fn unknown_ids_and_malformed_bodies_are_4xx() {
    let app = TestApp::spawn().await;
    let (status, body) = refresh_api(&app, "42").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = refresh_api(&app, "forty-two").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let res = app
        .http
        .post(app.url("/api/disconnect_integration"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_scheduler_refreshes_inside_the_margin_only() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    assert!(engine::scheduler::tick(&app.engine)
        .await
        .refreshed
        .is_empty());
    app.clock.advance(3_600 - 301);
    assert!(engine::scheduler::tick(&app.engine)
        .await
        .refreshed
        .is_empty());
    app.clock.advance(2);
    let report = engine::scheduler::tick(&app.engine).await;
    assert_eq!(report.refreshed.len(), 1);
    assert!(report.refreshed[0].ok());
    assert!(
        engine::scheduler::tick(&app.engine)
            .await
            .refreshed
            .is_empty(),
        "fresh again"
    );
}

#[tokio::test]
async fn the_scheduler_refreshes_idle_refresh_tokens_before_90_days() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    engine::db::query(
        "UPDATE integrations SET refresh_token_issued_at = $1, expires_at = $2 WHERE id = 1",
    )
    .bind(1_800_000_000_i64 - 31 * 86_400)
    .bind(1_800_000_000_i64 + 3_000)
    .execute(&app.database)
    .await
    .expect("age it");
    let report = engine::scheduler::tick(&app.engine).await;
    assert_eq!(
        report.refreshed.len(),
        1,
        "idle for 31 days: refreshed although not expiring"
    );
}

#[tokio::test]
async fn the_scheduler_backs_off_after_a_transient_failure() {
    // Inside the margin, so the scheduler picks it up.
    transient_fault_then_retry(TransientFault {
        flags: &[],
        lead: 3_500,
        fault: FaultKind::ServerError,
        via: Via::Scheduler,
        message: "",
        failed_events:
            "SELECT COUNT(*) FROM token_events WHERE outcome = 'failed' AND http_status = 500",
        wait: 30,
    })
    .await;
}

#[tokio::test]
async fn the_scheduler_flags_expired_integrations_without_refresh_token_once() {
    let app = TestApp::spawn_with(&["--sandbox-withhold-refresh-tokens"]).await;
    app.connect(ADA, &[ACME], None).await;
    assert!(engine::scheduler::tick(&app.engine)
        .await
        .flagged
        .is_empty());
    app.clock.advance(3_600);
    assert_eq!(
        engine::scheduler::tick(&app.engine).await.flagged,
        vec![IntegrationId(1)]
    );
    assert!(engine::scheduler::tick(&app.engine)
        .await
        .flagged
        .is_empty());
    assert_eq!(app.count_events("kind = 'expired'").await, 1);
    assert_eq!(app.list().await[0]["status"], "needs_reauth");
}
