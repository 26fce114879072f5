//! `REFRESH_POLICY=on-demand` (issue 18) over real HTTP against the sandbox:
//! the scheduler leaves access tokens to run out and only keeps refresh
//! tokens alive against the 90-day inactivity expiry; an integration whose
//! access token ran out with its refresh token alive is "idle" (badge,
//! filter, summary, metrics, the scheduler's lag); a use (a token hand-out,
//! a connection test, the button) refreshes it.

use domain::{Actor, ApiScope};
use engine::scheduler::tick;
use reqwest::StatusCode;
use sandbox::FaultKind;
use serde_json::{json, Value};
use testkit::*;

const DAY: i64 = 86_400;

async fn on_demand() -> TestApp {
    TestApp::spawn_with(&["--refresh-policy", "on-demand"]).await
}

/// The first integration's view, as the dashboard's list gives it.
async fn first(app: &TestApp) -> Value {
    app.list().await[0].clone()
}

#[tokio::test]
async fn on_demand_the_scheduler_lets_access_tokens_run_out_and_shows_them_idle() {
    let app = on_demand().await;
    app.connect(ADA, &[ACME], None).await;
    let requests = app.sandbox.token_requests_for(ADA);

    // Within the margin: not refreshed, and not "expiring" either.
    app.clock.advance(3_600 - 100);
    let report = tick(&app.engine).await;
    assert!(report.refreshed.is_empty(), "{report:?}");
    assert_eq!(first(&app).await["status"], "active");

    // Run out: still nothing sent, and healthy.
    app.clock.advance(200);
    let report = tick(&app.engine).await;
    assert!(report.refreshed.is_empty(), "{report:?}");
    assert!(report.flagged.is_empty(), "{report:?}");
    assert_eq!(app.sandbox.token_requests_for(ADA), requests);
    let view = first(&app).await;
    assert_eq!(view["status"], "idle", "{view}");
    assert_eq!(view["isActive"], true);

    // The filter, the summary and the page say so too.
    let (status, page) = app
        .post_form("/api/dashboard_page", &[("status", "idle")])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    let (_, page) = app
        .post_form("/api/dashboard_page", &[("status", "expired")])
        .await;
    assert_eq!(page["total"], 0);
    let (_, summary) = app.post_form("/api/fleet_summary", &[]).await;
    assert_eq!(
        summary,
        json!({"active": 0, "expiring": 0, "expired": 0, "idle": 1, "needsReauth": 0})
    );
    let html = app.page_text("/dashboard").await;
    assert!(html.contains("idle: refreshed when next needed"), "{html}");
    assert!(
        html.contains(r#"<option value="idle""#),
        "the filter offers idle"
    );
    assert!(
        !html.contains(r#"<option value="expiring""#),
        "nothing expires on demand"
    );
    assert!(html.contains(r#"data-testid="summary-idle""#));
    // An idle integration is not overdue: the scheduler has no lag.
    assert_eq!(app.engine.scheduler_lag_secs().await, Ok(0));

    // A service asks for a token: it is refreshed then, once.
    let key = app
        .engine
        .create_api_key(
            "billing-sync",
            &[ApiScope::TokensRead, ApiScope::MetricsRead],
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("key")
        .key;
    let res = anonymous()
        .post(app.url("/v1/integrations/1/access-token"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("hand-out");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.sandbox.token_requests_for(ADA), requests + 1);
    assert_eq!(first(&app).await["status"], "active");

    // Prometheus counts by status, idle included.
    app.clock.advance(3_600);
    let metrics = anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains(r#"jira_dashboard_integrations{status="idle"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("jira_dashboard_scheduler_lag_seconds 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn on_demand_refresh_tokens_are_refreshed_once_every_30_days_and_never_die() {
    let app = on_demand().await;
    app.connect(ADA, &[ACME], None).await;
    let requests = app.sandbox.token_requests_for(ADA);
    // 95 days, one tick an hour: past Atlassian's 90-day inactivity expiry.
    let mut refreshed_on = Vec::new();
    for hour in 1..=95 * 24 {
        app.clock.advance(3_600);
        let report = tick(&app.engine).await;
        for outcome in &report.refreshed {
            assert!(outcome.ok(), "{outcome:?}");
            refreshed_on.push(hour / 24);
        }
    }
    assert_eq!(
        refreshed_on,
        vec![30, 60, 90],
        "one refresh per 30 idle days"
    );
    assert_eq!(app.sandbox.token_requests_for(ADA), requests + 3);
    // The family is alive: a use on day 95 refreshes it.
    let (status, outcome) = app
        .post_form("/api/refresh_integration", &[("id", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_eq!(outcome["integration"]["status"], "active");
}

#[tokio::test]
async fn on_demand_a_connection_test_refreshes_an_idle_token_first() {
    let app = on_demand().await;
    app.connect(ADA, &[ACME], None).await;
    app.clock.advance(2 * 3_600);
    assert_eq!(first(&app).await["status"], "idle");
    let requests = app.sandbox.token_requests_for(ADA);
    // Five tests at once, the provider slow: one rotation serves them all
    // (the hand-out's single flight), not one each.
    app.sandbox.store().settings.latency_ms = 200;
    let test = || app.post_form("/api/test_connection", &[("id", "1")]);
    let (a, b, c, d, e) = tokio::join!(test(), test(), test(), test(), test());
    for (status, result) in [a, b, c, d, e] {
        assert_eq!(status, StatusCode::OK, "{result}");
        assert_eq!(result["ok"], true, "{result}");
    }
    assert_eq!(app.sandbox.token_requests_for(ADA), requests + 1);
    assert_eq!(first(&app).await["status"], "active");

    // Idle again, and the provider asks to wait (429, Retry-After 120 s): a
    // second test inside the wait sends nothing and says so.
    app.sandbox.store().settings.latency_ms = 0;
    app.clock.advance(2 * 3_600);
    app.sandbox.inject_fault(
        FaultKind::Status {
            code: 429,
            retry_after_secs: Some(120),
        },
        1,
    );
    let requests = app.sandbox.token_requests_for(ADA);
    let (_, refused) = app.post_form("/api/test_connection", &[("id", "1")]).await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("429")),
        "{refused}"
    );
    assert_eq!(app.sandbox.token_requests_for(ADA), requests + 1);
    let (_, waiting) = app.post_form("/api/test_connection", &[("id", "1")]).await;
    assert_eq!(waiting["ok"], false, "{waiting}");
    assert!(
        waiting["message"]
            .as_str()
            .is_some_and(|m| m.contains("must wait 120 s")),
        "{waiting}"
    );
    assert_eq!(
        app.sandbox.token_requests_for(ADA),
        requests + 1,
        "nothing is sent while the provider asks to wait"
    );
}

#[tokio::test]
async fn scheduled_is_the_default_and_knows_no_idle() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    // The scheduler is not run: the token simply runs out.
    app.clock.advance(2 * 3_600);
    assert_eq!(first(&app).await["status"], "expired");
    let (_, page) = app
        .post_form("/api/dashboard_page", &[("status", "idle")])
        .await;
    assert_eq!(page["total"], 0);
    let html = app.page_text("/dashboard").await;
    assert!(!html.contains(r#"<option value="idle""#));
    assert!(html.contains(r#"<option value="expiring""#));
    // A day of scheduled refreshes: about 24 token requests (one an hour,
    // each 300 s before expiry).
    let requests = app.sandbox.token_requests_for(ADA);
    for _ in 0..(DAY / 30) {
        app.clock.advance(30);
        tick(&app.engine).await;
    }
    let per_day = app.sandbox.token_requests_for(ADA) - requests;
    assert!((25..=28).contains(&per_day), "{per_day}");
}
