//! Jira's rate limits through the proxy, over real HTTP against the
//! sandbox's limits: a `429` holds exactly its scope (the app, a tenant, an
//! endpoint and method, an issue) and held calls are answered here without
//! reaching Jira; `Prefer: wait=N` waits in line instead; an endpoint whose
//! burst is spent is held before it trips; every process on the database
//! honours a hold one of them learnt.

use std::time::Duration;

use domain::{Actor, ApiScope};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sandbox::jira::rate_limit::LimitSettings;
use serde_json::{json, Value};
use testkit::*;

/// A new API key named `name` with `scope`, made by the administrator.
async fn new_key(app: &TestApp, name: &str, scope: ApiScope) -> String {
    new_key_with_id(app, name, scope).await.0
}

/// [`new_key`], with the key's id.
async fn new_key_with_id(app: &TestApp, name: &str, scope: ApiScope) -> (String, i64) {
    let admin = Actor::User("admin@example.com".into());
    let created = app.engine.create_api_key(name, &[scope], &admin).await;
    let created = created.expect("key");
    (created.key, created.row.id)
}

/// Sets key `id`'s share of Jira's quota through the Settings form, as
/// the administrator: the notice the page is sent back with.
async fn set_share(app: &TestApp, id: i64, weight: &str, points_per_hour: &str) -> String {
    let res = app
        .post(
            &format!("/settings/api-keys/{id}/jira-share"),
            &[("weight", weight), ("points_per_hour", points_per_hour)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().expect("location");
    location.trim_start_matches("/settings?notice=").to_owned()
}

/// A dashboard with Ada connected on both sites (integration 1) and a proxy key.
async fn connected() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME, GLOBEX], None).await;
    let key = new_key(&app, "sync", ApiScope::Proxy).await;
    (app, key)
}

fn jira(site: &str, rest: &str) -> String {
    format!("/v1/integrations/1/proxy/ex/jira/{site}/rest/api/3{rest}")
}

/// `method path` through the proxy with `key`, with `Prefer` when given.
async fn proxy(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    prefer: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .request(method.clone(), app.url(path))
        .bearer_auth(key);
    if let Some(prefer) = prefer {
        request = request.header("prefer", prefer);
    }
    if method == Method::PUT {
        request = request.json(&json!({"fields": {"summary": "Edited"}}));
    }
    let res = request.send().await.expect("proxy");
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(app: &TestApp, path: &str, key: &str) -> (StatusCode, HeaderMap, Value) {
    proxy(app, Method::GET, path, key, None).await
}

/// How many calls the sandbox's limits refused, by reason.
fn refused_by_jira(app: &TestApp, reason: &str) -> u64 {
    let jira = app.sandbox.jira();
    let stats = jira.rate_limiter.limits.stats();
    stats.refused.get(reason).copied().unwrap_or(0)
}

fn admitted_by_jira(app: &TestApp) -> u64 {
    app.sandbox.jira().rate_limiter.limits.stats().admitted
}

/// How many calls the sandbox's limits refused, whatever the reason.
fn refused_by_jira_in_all(app: &TestApp) -> u64 {
    let jira = app.sandbox.jira();
    let stats = jira.rate_limiter.limits.stats();
    stats.refused.values().sum()
}

/// A simulated hour in 180 steps of 20 s: in each step every key (in a
/// turn that moves round with the steps) tries `myself` as many times as
/// `tries` says for it. The calls each key had served, and how many the
/// product held.
async fn simulated_hour(app: &TestApp, keys: &[&str], tries: &[usize]) -> (Vec<u64>, u64) {
    let myself = jira(ACME, "/myself");
    let mut served = vec![0u64; keys.len()];
    let mut held = 0;
    for step in 0..180 {
        for turn in 0..keys.len() {
            let service = (turn + step) % keys.len();
            for _ in 0..tries[service] {
                let (status, _, body) = get(app, &myself, keys[service]).await;
                match status {
                    StatusCode::OK => served[service] += 1,
                    StatusCode::TOO_MANY_REQUESTS if body["error"] == "rate_limited" => held += 1,
                    other => panic!("step {step}: {other} {body}"),
                }
            }
        }
        app.clock.advance(20);
    }
    (served, held)
}

fn assert_held(answer: &(StatusCode, HeaderMap, Value), scope: &str, reason: &str, secs: i64) {
    let (status, headers, body) = answer;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(body["scope"], scope, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["retryAfterSecs"], secs, "{body}");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("not sent")));
    assert_eq!(headers["retry-after"], secs.to_string().as_str());
}

#[tokio::test]
async fn a_burst_429_holds_its_endpoint_only_and_held_calls_never_reach_jira() {
    let (app, key) = connected().await;
    app.sandbox.plan_jira_rate_limit(1, 3, "jira-burst-based");
    let myself = jira(ACME, "/myself");
    // Jira's own 429 comes back as it is.
    let (status, headers, _) = get(&app, &myself, &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["ratelimit-reason"], "jira-burst-based");
    let sent = admitted_by_jira(&app);
    // Then the product answers for it, without calling Jira.
    for _ in 0..5 {
        assert_held(
            &get(&app, &myself, &key).await,
            "endpoint",
            "jira-burst-based",
            3,
        );
    }
    assert_eq!(admitted_by_jira(&app), sent, "no held call reached Jira");
    // Another endpoint, another method or another tenant is not slowed.
    assert_eq!(
        get(&app, &jira(ACME, "/project/search"), &key).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &jira(GLOBEX, "/myself"), &key).await.0,
        StatusCode::OK
    );
    let edit = proxy(&app, Method::PUT, &jira(ACME, "/issue/ACME-1"), &key, None).await;
    assert_eq!(edit.0, StatusCode::NO_CONTENT, "{}", edit.2);
    app.clock.advance(2);
    assert_held(
        &get(&app, &myself, &key).await,
        "endpoint",
        "jira-burst-based",
        1,
    );
    app.clock.advance(1);
    assert_eq!(get(&app, &myself, &key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_per_issue_hold_does_not_slow_writes_to_other_issues() {
    let (app, key) = connected().await;
    app.sandbox.set_jira_limits(LimitSettings {
        issue_writes_per_sec: 1,
        ..LimitSettings::default()
    });
    let edit = |issue: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            proxy(
                app,
                Method::PUT,
                &jira(ACME, &format!("/issue/{issue}")),
                key,
                None,
            )
            .await
        }
    };
    assert_eq!(edit("ACME-1").await.0, StatusCode::NO_CONTENT);
    let (status, headers, _) = edit("ACME-1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["ratelimit-reason"], "jira-per-issue-on-write");
    assert_held(&edit("ACME-1").await, "issue", "jira-per-issue-on-write", 1);
    assert_eq!(edit("ACME-2").await.0, StatusCode::NO_CONTENT);
    // Reading the held issue is not a write.
    assert_eq!(
        get(&app, &jira(ACME, "/issue/ACME-1"), &key).await.0,
        StatusCode::OK
    );
    assert_eq!(refused_by_jira(&app, "jira-per-issue-on-write"), 1);
    app.clock.advance(1);
    assert_eq!(edit("ACME-1").await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_quota_429_holds_the_whole_app_or_one_tenant_as_its_reason_says() {
    let (app, key) = connected().await;
    app.sandbox
        .plan_jira_rate_limit(1, 60, "jira-quota-tenant-based");
    assert_eq!(
        get(&app, &jira(ACME, "/myself"), &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_held(
        &get(&app, &jira(ACME, "/project/search"), &key).await,
        "tenant",
        "jira-quota-tenant-based",
        60,
    );
    assert_eq!(
        get(&app, &jira(GLOBEX, "/myself"), &key).await.0,
        StatusCode::OK
    );
    app.sandbox
        .plan_jira_rate_limit(1, 120, "jira-quota-global-based");
    assert_eq!(
        get(&app, &jira(GLOBEX, "/myself"), &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The app's hold ends later than the tenant's: it is the one named.
    assert_held(
        &get(&app, &jira(ACME, "/myself"), &key).await,
        "app",
        "jira-quota-global-based",
        120,
    );
    assert_held(
        &get(&app, &jira(GLOBEX, "/project/search"), &key).await,
        "app",
        "jira-quota-global-based",
        120,
    );
    app.clock.advance(120);
    assert_eq!(
        get(&app, &jira(ACME, "/myself"), &key).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_endpoint_whose_burst_is_spent_is_held_before_jira_refuses() {
    let (app, key) = connected().await;
    app.sandbox.set_jira_limits(LimitSettings {
        burst_per_sec: 3,
        ..LimitSettings::default()
    });
    let myself = jira(ACME, "/myself");
    for _ in 0..3 {
        assert_eq!(get(&app, &myself, &key).await.0, StatusCode::OK);
    }
    // The third answer said none were left this second: held, not sent.
    assert_held(
        &get(&app, &myself, &key).await,
        "endpoint",
        "jira-burst-based",
        1,
    );
    assert_eq!(
        refused_by_jira(&app, "jira-burst-based"),
        0,
        "Jira never had to refuse"
    );
    app.clock.advance(1);
    assert_eq!(get(&app, &myself, &key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn prefer_wait_waits_in_line_for_a_hold_that_ends_in_time() {
    let (app, key) = connected().await;
    let app = std::sync::Arc::new(app);
    app.sandbox.plan_jira_rate_limit(1, 3, "jira-burst-based");
    let myself = jira(ACME, "/myself");
    assert_eq!(
        get(&app, &myself, &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Without the preference, or with one shorter than the hold, or one
    // that makes no sense: at once.
    for prefer in [
        None,
        Some("wait=2"),
        Some("wait=abc"),
        Some("wait=-4"),
        Some("respond-async"),
    ] {
        assert_held(
            &proxy(&app, Method::GET, &myself, &key, prefer).await,
            "endpoint",
            "jira-burst-based",
            3,
        );
    }
    // With wait=5 (and an absurd one, capped at 30 s), the calls wait in
    // line; the hold ends 3 s later on the clock; both are then served.
    let waiting = {
        let (app, key, myself) = (app.clone(), key.clone(), myself.clone());
        tokio::spawn(async move {
            let first = proxy(&app, Method::GET, &myself, &key, Some("wait=5")).await;
            let second = proxy(
                &app,
                Method::GET,
                &myself,
                &key,
                Some("wait=99999999999999999999999"),
            )
            .await;
            (first.0, second.0)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the call waits out the hold");
    app.clock.advance(3);
    let answers = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once the hold ended")
        .expect("task");
    assert_eq!(answers, (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        refused_by_jira(&app, "jira-burst-based"),
        1,
        "the one planned refusal only"
    );
}

#[tokio::test]
async fn a_hold_learnt_by_one_process_is_honoured_by_another_on_the_same_database() {
    let (app, key) = connected().await;
    let other = app.second_process().await;
    let myself = jira(ACME, "/myself");
    // The second process sends its Jira calls to the first one's sandbox.
    assert_eq!(get(&other, &myself, &key).await.0, StatusCode::OK);
    app.sandbox
        .plan_jira_rate_limit(1, 30, "jira-quota-global-based");
    assert_eq!(
        get(&app, &myself, &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let sent = admitted_by_jira(&app);
    // Within a second the other process holds the app too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let answer = get(&other, &jira(GLOBEX, "/project/search"), &key).await;
        if answer.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_held(&answer, "app", "jira-quota-global-based", 30);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other process never took the hold on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late = admitted_by_jira(&app) - sent;
    assert!(
        late <= 10,
        "{late} calls reached Jira before the hold was shared"
    );
}

#[tokio::test]
async fn five_services_at_three_times_the_quota_share_it_without_tripping_it() {
    let (app, first) = connected().await;
    // 600 points an hour; each `myself` costs 2 (a call and one object).
    app.sandbox.set_jira_limits(LimitSettings {
        points_per_hour: 600,
        ..LimitSettings::default()
    });
    let mut keys = vec![first];
    for n in 2..=5 {
        let key = new_key(&app, &format!("service-{n}"), ApiScope::Proxy).await;
        keys.push(key);
    }
    // A simulated hour in steps of 20 s: service 1 tries four calls a step,
    // the others one each; 8 calls of 2 points a step is 4.8 times the pool.
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (served, held) = simulated_hour(&app, &keys, &[4, 1, 1, 1, 1]).await;
    let refused = refused_by_jira_in_all(&app);
    assert!(refused <= 1, "Jira refused {refused} calls");
    let spent: u64 = served.iter().sum::<u64>() * 2;
    assert!(
        spent >= 570,
        "{spent} of 600 points spent ({served:?}, {held} held)"
    );
    assert!(spent <= 600, "{spent}");
    // Service 1 asked four times as often as service 2; equal weights, equal shares.
    let greedy = served[0] as f64 / (served[0] + served[1]) as f64;
    assert!(
        (0.4..=0.6).contains(&greedy),
        "service 1 took {greedy:.2} of the pair ({served:?})"
    );
}

#[tokio::test]
async fn the_pools_holds_and_each_keys_spend_are_seen_in_the_api_and_the_metrics() {
    let (app, key) = connected().await;
    let reader = new_key(&app, "prometheus", ApiScope::MetricsRead).await;
    let myself = jira(ACME, "/myself");
    assert_eq!(get(&app, &myself, &key).await.0, StatusCode::OK);
    app.sandbox.plan_jira_rate_limit(1, 30, "jira-burst-based");
    assert_eq!(
        get(&app, &myself, &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        get(&app, &myself, &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A proxy key may not read them.
    let (status, _, _) = app
        .call(Method::GET, "/v1/rate-limits", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, seen) = app
        .call(Method::GET, "/v1/rate-limits", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let pool = &seen["pools"][0];
    assert_eq!(pool["pool"], "app");
    assert_eq!(pool["remaining"], 65_000 - 2, "{seen}");
    assert_eq!(pool["points"], 65_000);
    assert_eq!(pool["pacing"], false);
    assert!(pool["resetsAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    let hold = &seen["holds"][0];
    assert_eq!(hold["scope"], "endpoint");
    assert_eq!(hold["reason"], "jira-burst-based");
    assert_eq!(hold["retryAfterSecs"], 30);
    assert_eq!(
        hold["target"],
        format!("endpoint {ACME} GET rest/api/3/myself")
    );
    let spend = &seen["keys"][0];
    assert_eq!(
        (spend["calls"].as_u64(), spend["held"].as_u64()),
        (Some(2), Some(1)),
        "{seen}"
    );
    assert_eq!(
        spend["pointsSpent"], 0.0,
        "the first answer of a window only shows the pool"
    );
    let (status, _, text) = app.call(Method::GET, "/metrics", Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text").to_owned();
    assert!(
        text.contains("jira_dashboard_jira_holds{scope=\"endpoint\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("jira_dashboard_jira_calls_held_total{"),
        "{text}"
    );
    assert!(
        text.contains("jira_dashboard_jira_quota_remaining_points{pool=\"app\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn the_products_own_connection_test_shares_the_limits() {
    let (app, key) = connected().await;
    let admin = Actor::User("admin@example.com".into());
    let id = domain::IntegrationId(1);
    // The test's own 429 holds its endpoint for the proxy's callers too.
    app.sandbox.plan_jira_rate_limit(1, 20, "jira-burst-based");
    assert!(app.engine.test_connection(id, &admin).await.is_err());
    assert_held(
        &get(&app, &jira(ACME, "/myself"), &key).await,
        "endpoint",
        "jira-burst-based",
        20,
    );
    // And a hold learnt through the proxy keeps the test from being sent.
    let sent = admitted_by_jira(&app);
    let refused = app
        .engine
        .test_connection(id, &admin)
        .await
        .expect_err("held");
    assert!(
        matches!(
            refused,
            engine::connection_test::ConnectionTestError::RateLimited(_)
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("was not sent"), "{refused}");
    assert_eq!(admitted_by_jira(&app), sent);
    app.clock.advance(20);
    assert!(app.engine.test_connection(id, &admin).await.is_ok());
}

#[tokio::test]
async fn one_key_may_have_only_eight_calls_waiting_in_line() {
    let (app, key) = connected().await;
    let app = std::sync::Arc::new(app);
    app.sandbox.plan_jira_rate_limit(1, 3, "jira-burst-based");
    let myself = jira(ACME, "/myself");
    assert_eq!(
        get(&app, &myself, &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (app, key, myself) = (app.clone(), key.clone(), myself.clone());
            tokio::spawn(async move {
                proxy(&app, Method::GET, &myself, &key, Some("wait=30"))
                    .await
                    .0
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The ninth waits nowhere: answered at once.
    let ninth = proxy(&app, Method::GET, &myself, &key, Some("wait=30")).await;
    assert_held(&ninth, "endpoint", "jira-burst-based", 3);
    app.clock.advance(3);
    for task in waiting {
        let status = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("served")
            .expect("task");
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn an_admin_sets_a_keys_share_in_settings_and_bad_input_changes_nothing() {
    let (app, _) = connected().await;
    let id = app.engine.api_keys().await.expect("keys")[0].id;
    assert_eq!(set_share(&app, id, "3", "5000").await, "key_share_set");
    let row = app.engine.api_keys().await.expect("keys")[0].clone();
    assert_eq!((row.jira_weight, row.jira_points_per_hour), (3, Some(5000)));
    let page = app.page_text("/settings").await;
    assert!(
        page.contains("Set API key \"sync\"'s Jira share: weight 3, at most 5000 points an hour"),
        "the account log names it"
    );
    // An empty budget is no budget.
    assert_eq!(set_share(&app, id, "2", "").await, "key_share_set");
    let row = app.engine.api_keys().await.expect("keys")[0].clone();
    assert_eq!((row.jira_weight, row.jira_points_per_hour), (2, None));
    // Out of range, not a number, or no such key: a sentence, nothing changed.
    for (weight, budget) in [
        ("0", ""),
        ("101", ""),
        ("-1", ""),
        ("two", ""),
        ("1", "0"),
        ("1", "100000001"),
        ("1", "1e3"),
        ("1", "99999999999999999999999"),
    ] {
        assert_eq!(
            set_share(&app, id, weight, budget).await,
            "key_bad_share",
            "{weight} {budget}"
        );
    }
    assert_eq!(set_share(&app, 999, "1", "").await, "no_such_key");
    let row = app.engine.api_keys().await.expect("keys")[0].clone();
    assert_eq!((row.jira_weight, row.jira_points_per_hour), (2, None));
    // Only an administrator may.
    let viewer = app
        .add_user("viewer@example.com", "viewer-password-1", "viewer")
        .await;
    let res = viewer
        .post(app.url(&format!("/settings/api-keys/{id}/jira-share")))
        .form(&[("weight", "50")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let row = app.engine.api_keys().await.expect("keys")[0].clone();
    assert_eq!(row.jira_weight, 2);
}

#[tokio::test]
async fn a_key_past_its_hourly_budget_is_held_while_other_keys_go() {
    let (app, _) = connected().await;
    let (capped, capped_id) = new_key_with_id(&app, "capped", ApiScope::Proxy).await;
    let free = new_key(&app, "free", ApiScope::Proxy).await;
    let reader = new_key(&app, "prometheus", ApiScope::MetricsRead).await;
    assert_eq!(set_share(&app, capped_id, "1", "10").await, "key_share_set");
    let myself = jira(ACME, "/myself");
    // The window's first answer only shows the pool; each call after it
    // costs 2 points (a call and one object): 10 points in six calls.
    for n in 0..6 {
        assert_eq!(
            get(&app, &myself, &capped).await.0,
            StatusCode::OK,
            "call {n}"
        );
    }
    let sent = admitted_by_jira(&app);
    let held = get(&app, &myself, &capped).await;
    let (status, headers, body) = &held;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["scope"], "key", "{body}");
    assert_eq!(body["reason"], "key-budget", "{body}");
    let wait = body["retryAfterSecs"].as_i64().expect("wait");
    assert!((3_500..=3_600).contains(&wait), "{body}");
    assert_eq!(headers["retry-after"], wait.to_string().as_str());
    assert_eq!(admitted_by_jira(&app), sent, "the held call was not sent");
    // Another key is not slowed; the budget is the key's, on every tenant.
    assert_eq!(get(&app, &myself, &free).await.0, StatusCode::OK);
    assert_eq!(
        get(&app, &jira(GLOBEX, "/myself"), &capped).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let (_, _, seen) = app
        .call(Method::GET, "/v1/rate-limits", Some(&reader), None)
        .await;
    let spend = seen["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["keyId"] == capped_id)
        .expect("the capped key")
        .clone();
    assert_eq!(spend["name"], "capped", "{seen}");
    assert_eq!(spend["pointsPerHour"], 10, "{seen}");
    assert_eq!(spend["pointsLastHour"], 10.0, "{seen}");
    assert_eq!(spend["held"], 2, "{seen}");
    // An hour later its spending has aged out.
    app.clock.advance(wait);
    assert_eq!(get(&app, &myself, &capped).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_key_weighing_three_gets_three_quarters_of_what_two_keys_share() {
    let (app, _) = connected().await;
    app.sandbox.set_jira_limits(LimitSettings {
        points_per_hour: 600,
        ..LimitSettings::default()
    });
    let (heavy, heavy_id) = new_key_with_id(&app, "heavy", ApiScope::Proxy).await;
    let light = new_key(&app, "light", ApiScope::Proxy).await;
    assert_eq!(set_share(&app, heavy_id, "3", "").await, "key_share_set");
    // A simulated hour in steps of 20 s; each key tries three calls a
    // step: 6 calls of 2 points a step is 3.6 times the pool.
    let (served, _) = simulated_hour(&app, &[&heavy, &light], &[3, 3]).await;
    let refused = refused_by_jira_in_all(&app);
    assert!(refused <= 1, "Jira refused {refused} calls");
    let spent = (served[0] + served[1]) * 2;
    assert!(spent >= 570, "{spent} of 600 points spent ({served:?})");
    let heavy_share = served[0] as f64 / (served[0] + served[1]) as f64;
    assert!(
        (0.65..=0.85).contains(&heavy_share),
        "the key weighing 3 took {heavy_share:.2} ({served:?})"
    );
}

#[tokio::test]
async fn a_call_the_key_may_not_make_is_refused_before_it_touches_the_limits() {
    let (app, key) = connected().await;
    let reader = new_key(&app, "prometheus", ApiScope::MetricsRead).await;
    app.sandbox
        .plan_jira_rate_limit(1, 60, "jira-quota-global-based");
    assert_eq!(
        get(&app, &jira(ACME, "/myself"), &key).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The whole app is held, yet an integration the key cannot see is
    // "not found" and a site that is not the integration's is "wrong
    // site": neither is a call to Jira, so neither is held or counted.
    let elsewhere = format!("/v1/integrations/999/proxy/ex/jira/{ACME}/rest/api/3/myself");
    let (status, _, body) = get(&app, &elsewhere, &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let stranger = "99999999-9999-4999-8999-999999999999";
    let (status, _, body) = get(&app, &jira(stranger, "/myself"), &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "wrong_site");
    let (_, _, seen) = app
        .call(Method::GET, "/v1/rate-limits", Some(&reader), None)
        .await;
    assert_eq!(seen["keys"][0]["held"], 0, "{seen}");
    assert_eq!(seen["keys"][0]["calls"], 1, "{seen}");
    // A call it may make is held.
    assert_held(
        &get(&app, &jira(GLOBEX, "/myself"), &key).await,
        "app",
        "jira-quota-global-based",
        60,
    );
}
