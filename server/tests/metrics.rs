//! `GET /metrics` and `/readyz` over real HTTP. The `metrics` recorder is one
//! per process, so the figures are checked in one test that makes its own
//! changes and reads them back (other tests of this file only check access).

use domain::{Actor, ApiScope, IntegrationId};
use prometheus_parse::{Sample, Scrape, Value};
use reqwest::StatusCode;
use testkit::*;

async fn key(app: &TestApp, scopes: &[ApiScope]) -> String {
    app.engine
        .create_api_key(
            "prometheus",
            scopes,
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("key")
        .key
}

async fn scrape(app: &TestApp, key: &str) -> Scrape {
    let res = anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(key)
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
    let text = res.text().await.expect("body");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

/// The value of the sample `name` whose labels include `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s: &&Sample| s.metric == name)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

#[tokio::test]
async fn metrics_need_a_key_with_metrics_read() {
    let app = TestApp::spawn().await;
    let res = anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A session is not a key.
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let other = key(&app, &[ApiScope::TokensRead, ApiScope::Proxy]).await;
    let res = anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn readyz_and_healthz_answer_without_a_session() {
    let app = TestApp::spawn().await;
    for (path, body) in [("/readyz", "ready"), ("/healthz", "ok")] {
        let res = anonymous().get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.text().await.expect("body"), body);
    }
    // A database that lost a migration is not ready (but still healthy).
    engine::db::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&app.database)
    .await
    .expect("forget a migration");
    let res = anonymous()
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = anonymous()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_fleet_refreshes_hand_outs_lag_and_requests_are_counted() {
    let app = TestApp::spawn().await;
    let metrics_key = key(&app, &[ApiScope::MetricsRead]).await;
    let before = scrape(&app, &metrics_key).await;
    let refreshed_before = value(
        &before,
        "jira_dashboard_refreshes_total",
        &[("result", "refreshed")],
    )
    .unwrap_or(0.0);
    let handouts_before = value(&before, "jira_dashboard_token_handouts_total", &[]).unwrap_or(0.0);

    app.connect(ADA, &[ACME], None).await;
    app.connect(GRACE, &[GLOBEX], None).await;
    // One refresh; one hand-out; one request to a known route.
    let outcome = app
        .engine
        .refresh(IntegrationId(1), &Actor::Scheduler)
        .await;
    assert!(outcome.ok(), "{}", outcome.message);
    let tokens = key(&app, &[ApiScope::TokensRead]).await;
    let res = anonymous()
        .post(app.url("/v1/integrations/1/access-token"))
        .bearer_auth(&tokens)
        .send()
        .await
        .expect("hand-out");
    assert_eq!(res.status(), StatusCode::OK);

    let after = scrape(&app, &metrics_key).await;
    assert_eq!(
        value(
            &after,
            "jira_dashboard_refreshes_total",
            &[("result", "refreshed")]
        ),
        Some(refreshed_before + 1.0)
    );
    assert!(after
        .samples
        .iter()
        .any(|s| s.metric == "jira_dashboard_refresh_duration_seconds"
            && matches!(s.value, Value::Histogram(_))));
    assert_eq!(
        value(&after, "jira_dashboard_token_handouts_total", &[]),
        Some(handouts_before + 1.0)
    );
    assert_eq!(
        value(
            &after,
            "jira_dashboard_integrations",
            &[("status", "active")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &after,
            "jira_dashboard_integrations",
            &[("status", "needs_reauth")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&after, "jira_dashboard_scheduler_lag_seconds", &[]),
        Some(0.0)
    );
    // Requests by route pattern (never the raw path), method and status.
    assert!(value(
        &after,
        "jira_dashboard_http_requests_total",
        &[
            ("route", "/v1/integrations/:id/access-token"),
            ("method", "POST"),
            ("status", "200")
        ]
    )
    .is_some_and(|n| n >= 1.0));
    assert!(!after
        .samples
        .iter()
        .any(|s| s.labels.get("route").is_some_and(|r| r.contains("/1/"))));

    // Grace's token is 200 s past the moment it should have been refreshed
    // (the scheduler does not run in tests): the lag says so.
    app.clock.advance(3_600 - 300 + 200);
    let refreshed_ada = app
        .engine
        .refresh(IntegrationId(1), &Actor::Scheduler)
        .await;
    assert!(refreshed_ada.ok());
    let late = scrape(&app, &metrics_key).await;
    assert_eq!(
        value(&late, "jira_dashboard_scheduler_lag_seconds", &[]),
        Some(200.0)
    );
    assert_eq!(
        value(
            &late,
            "jira_dashboard_integrations",
            &[("status", "expiring")]
        ),
        Some(1.0)
    );
    // A revoked grant: needs re-auth, counted by result.
    app.sandbox.revoke_grant(GRACE);
    let dead = app
        .engine
        .refresh(IntegrationId(2), &Actor::Scheduler)
        .await;
    assert!(dead.requires_reauth());
    let revoked = scrape(&app, &metrics_key).await;
    assert!(value(
        &revoked,
        "jira_dashboard_refreshes_total",
        &[("result", "needs_reauth")]
    )
    .is_some_and(|n| n >= 1.0));
    assert_eq!(
        value(
            &revoked,
            "jira_dashboard_integrations",
            &[("status", "needs_reauth")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&revoked, "jira_dashboard_scheduler_lag_seconds", &[]),
        Some(0.0)
    );
}

#[tokio::test]
async fn no_label_takes_a_value_the_client_chose() {
    let app = TestApp::spawn().await;
    // Made-up methods and paths, from a stranger: refused (405, 404, 401),
    // and counted, but never as a new series each.
    for i in 0..40 {
        let method =
            reqwest::Method::from_bytes(format!("MADEUP{i}{}", "X".repeat(500)).as_bytes())
                .expect("a token");
        let _ = anonymous()
            .request(
                method,
                app.url(&format!("/v1/integrations/{i}/nowhere-{i}")),
            )
            .send()
            .await
            .expect("send");
        let _ = anonymous()
            .get(app.url(&format!("/no-such-page-{i}")))
            .send()
            .await
            .expect("send");
    }
    let metrics_key = key(&app, &[ApiScope::MetricsRead]).await;
    let scrape = scrape(&app, &metrics_key).await;
    let known = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other",
    ];
    let requests: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "jira_dashboard_http_requests_total")
        .collect();
    assert!(
        requests
            .iter()
            .any(|s| s.labels.get("method") == Some("other")),
        "made-up methods are counted as `other`"
    );
    for sample in &requests {
        let method = sample.labels.get("method").unwrap_or_default();
        assert!(known.contains(&method), "method label {method:?}");
        let route = sample.labels.get("route").unwrap_or_default();
        assert!(
            !route.contains("nowhere") && !route.contains("no-such-page"),
            "route label {route:?} is a raw path"
        );
    }
}
