//! Jira's three rate limits over HTTP: the hourly points quota and its
//! headers, the burst limit per site, endpoint and method, the per-issue
//! write limit, the controls that size and plan them, and their counts.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn control(sb: &TestSandbox, path: &str, body: Value) -> (StatusCode, Value) {
    let res = sb
        .http
        .post(format!("{}/control/{path}", sb.base))
        .json(&body)
        .send()
        .await
        .expect("control");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn stats(sb: &TestSandbox) -> Value {
    sb.stats().await["jira"].clone()
}

async fn edit(sb: &TestSandbox, token: &str, site: &str, issue: &str) -> Answer {
    let body = json!({"fields": {"summary": format!("Edited {issue}")}});
    call(
        sb,
        Method::PUT,
        &api(site, &format!("/issue/{issue}")),
        token,
        &[],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn every_answer_tells_the_quota_and_a_read_costs_a_point_per_object() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    control(&sb, "jira-limits", json!({"pointsPerHour": 40})).await;
    // The test clock reads 2027-01-15T08:00:00Z, the start of an hour.
    let page = [("jql", "project = ACME"), ("maxResults", "10")];
    let read = get(&sb, &token, &api(ACME, "/search/jql"), &page).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.keys().len(), 10);
    assert_eq!(
        read.header("beta-ratelimit-policy"),
        "\"global-app-quota\";q=40;w=3600"
    );
    // 1 point for the call, 10 for the issues.
    assert_eq!(
        read.header("beta-ratelimit"),
        "\"global-app-quota\";r=29;t=3600"
    );
    assert!(read.headers.get("x-beta-ratelimit-nearlimit").is_none());
    sb.advance(600);
    // A write costs the base point only; the pool is shared by every site (tier 1).
    let written = edit(&sb, &token, GLOBEX, "GLX-1").await;
    assert_eq!(written.status, StatusCode::NO_CONTENT, "{}", written.body);
    assert_eq!(
        written.header("beta-ratelimit"),
        "\"global-app-quota\";r=28;t=3000"
    );
    let issue = get(&sb, &token, &api(GLOBEX, "/issue/GLX-1"), &[]).await;
    assert_eq!(issue.body["fields"]["summary"], "Edited GLX-1");
    // 2 points for one issue; then Acme's 27 issues overspend the pool (28
    // points for the 26 left): a call is charged in full. Below a fifth of
    // the pool the answers say so.
    let page = [("jql", ""), ("maxResults", "100")];
    let low = get(&sb, &token, &api(ACME, "/search/jql"), &page).await;
    assert_eq!(
        low.header("beta-ratelimit"),
        "\"global-app-quota\";r=0;t=3000"
    );
    assert_eq!(low.header("x-beta-ratelimit-nearlimit"), "true");
    assert_eq!(
        low.header("x-beta-ratelimit-reason"),
        "jira-quota-global-based"
    );
    // Spent: the policy header is missing (as vendors report) and calls are refused until the hour ends.
    assert!(low.headers.get("beta-ratelimit-policy").is_none());
    let refused = get(&sb, &token, &api(GLOBEX, "/myself"), &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.header("ratelimit-reason"),
        "jira-quota-global-based"
    );
    assert_eq!(refused.header("retry-after"), "3000");
    sb.advance(3_000);
    // A new hour, and a new token (the first one lived an hour).
    let token = ada_on_both_sites(&sb).await;
    let next_hour = get(&sb, &token, &api(GLOBEX, "/myself"), &[]).await;
    assert_eq!(next_hour.status, StatusCode::OK);
    assert_eq!(
        next_hour.header("beta-ratelimit"),
        "\"global-app-quota\";r=38;t=3600"
    );
    let counted = stats(&sb).await;
    assert_eq!(counted["admittedCalls"], 5);
    assert_eq!(counted["pointsSpent"], 11 + 1 + 2 + 28 + 2);
    assert_eq!(counted["refused"]["jira-quota-global-based"], 1);
}

#[tokio::test]
async fn tier_two_gives_each_site_its_own_pool() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    control(&sb, "jira-limits", json!({"tier": 2, "pointsPerHour": 3})).await;
    for _ in 0..3 {
        assert_eq!(
            edit(&sb, &token, ACME, "ACME-1").await.status,
            StatusCode::NO_CONTENT
        );
        sb.advance(1);
    }
    let spent = get(&sb, &token, &api(ACME, "/myself"), &[]).await;
    assert_eq!(spent.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spent.header("ratelimit-reason"), "jira-quota-tenant-based");
    let other = get(&sb, &token, &api(GLOBEX, "/myself"), &[]).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(
        other.header("beta-ratelimit"),
        "\"tenant-app-quota\";r=1;t=3597"
    );
}

#[tokio::test]
async fn a_burst_holds_one_endpoint_and_method_of_one_site_and_calls_into_it_extend_it() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    control(&sb, "jira-limits", json!({"burstPerSec": 2})).await;
    let myself = api(ACME, "/myself");
    for remaining in ["1", "0"] {
        let answer = get(&sb, &token, &myself, &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-ratelimit-limit"), "2");
        assert_eq!(answer.header("x-ratelimit-remaining"), remaining);
    }
    let refused = get(&sb, &token, &myself, &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("ratelimit-reason"), "jira-burst-based");
    assert_eq!(refused.header("retry-after"), "1");
    assert_eq!(
        refused.body,
        json!({"errorMessages": ["Rate limit exceeded."], "errors": {}})
    );
    // Another endpoint, method or site is not held.
    assert_eq!(
        get(&sb, &token, &api(ACME, "/project/search"), &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&sb, &token, &api(GLOBEX, "/myself"), &[]).await.status,
        StatusCode::OK
    );
    let by_body = call(
        &sb,
        Method::POST,
        &api(ACME, "/search/jql"),
        &token,
        &[],
        Some(json!({"jql": "project = ACME"})),
    )
    .await;
    assert_eq!(by_body.status, StatusCode::OK);
    // A call into the hold pushes its end a second further.
    let into = get(&sb, &token, &myself, &[]).await;
    assert_eq!(into.header("retry-after"), "2");
    sb.advance(1);
    assert_eq!(
        get(&sb, &token, &myself, &[]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    sb.advance(2);
    assert_eq!(get(&sb, &token, &myself, &[]).await.status, StatusCode::OK);
    assert_eq!(stats(&sb).await["refused"]["jira-burst-based"], 3);
}

#[tokio::test]
async fn writes_to_one_issue_are_held_and_writes_to_others_go_on() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    control(&sb, "jira-limits", json!({"issueWritesPerSec": 2})).await;
    for _ in 0..2 {
        assert_eq!(
            edit(&sb, &token, ACME, "ACME-1").await.status,
            StatusCode::NO_CONTENT
        );
    }
    let refused = edit(&sb, &token, ACME, "ACME-1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.header("ratelimit-reason"),
        "jira-per-issue-on-write"
    );
    // Named by its id, it is the same issue; another issue goes on.
    let by_id = edit(&sb, &token, ACME, "10001").await;
    assert_eq!(by_id.header("ratelimit-reason"), "jira-per-issue-on-write");
    assert_eq!(
        edit(&sb, &token, ACME, "ACME-2").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&sb, &token, &api(ACME, "/issue/ACME-1"), &[])
            .await
            .status,
        StatusCode::OK
    );
    // Two calls went into the hold: it ends two seconds later.
    sb.advance(2);
    assert_eq!(
        edit(&sb, &token, ACME, "ACME-1").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn the_rate_limit_control_answers_exactly_n_429s_with_their_reason_then_200s() {
    let sb = TestSandbox::start().await;
    let token = ada_on_both_sites(&sb).await;
    let (status, planned) = control(
        &sb,
        "jira-rate-limit",
        json!({"next": 3, "retryAfterSecs": 30, "reason": "jira-quota-tenant-based"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(planned["reason"], "jira-quota-tenant-based");
    let paths = [
        api(ACME, "/myself"),
        api(ACME, "/search/jql"),
        api(GLOBEX, "/issue/GLX-1"),
    ];
    for path in &paths {
        let answer = get(&sb, &token, path, &[]).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(
            answer.body,
            json!({"errorMessages": ["Rate limit exceeded."], "errors": {}})
        );
        assert_eq!(answer.header("retry-after"), "30");
        assert_eq!(answer.header("ratelimit-reason"), "jira-quota-tenant-based");
        assert_eq!(answer.header("x-ratelimit-remaining"), "0");
        // The test clock reads 2027-01-15T08:00:00Z.
        assert_eq!(answer.header("x-ratelimit-reset"), "2027-01-15T08:00:30Z");
    }
    for path in &paths {
        let answer = get(&sb, &token, path, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_eq!(answer.header("x-ratelimit-limit"), "100");
        assert_eq!(answer.header("x-ratelimit-remaining"), "99", "{path}");
        assert!(answer.headers.get("retry-after").is_none());
    }
    // Without a reason, a planned refusal is a burst's.
    control(
        &sb,
        "jira-rate-limit",
        json!({"next": 1, "retryAfterSecs": 1}),
    )
    .await;
    let answer = get(&sb, &token, &paths[0], &[]).await;
    assert_eq!(answer.header("ratelimit-reason"), "jira-burst-based");
}

#[tokio::test]
async fn the_limit_controls_refuse_what_makes_no_sense_and_change_nothing() {
    let sb = TestSandbox::start().await;
    for body in [
        json!({"next": 1}),
        json!({"next": -1, "retryAfterSecs": 5}),
        json!({"next": 1, "retryAfterSecs": 90_000}),
        json!({"next": 1, "retryAfterSecs": 5, "reason": "jira-made-up"}),
    ] {
        let (status, answer) = control(&sb, "jira-rate-limit", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    for body in [
        json!({"tier": 3}),
        json!({"pointsPerHour": 0}),
        json!({"burstPerSec": 0}),
        json!({"issueWritesPerSec": 1_000_000}),
        json!({"burstPerSec": 5, "pointsPerHour": -1}),
        json!({"bursts": 5}),
    ] {
        let (status, answer) = control(&sb, "jira-limits", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(
        stats(&sb).await["limits"],
        json!({"tier": 1, "pointsPerHour": 65_000, "burstPerSec": 100, "issueWritesPerSec": 5})
    );
    let (status, limits) = control(&sb, "jira-limits", json!({"burstPerSec": 7})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(limits["burstPerSec"], 7);
    assert_eq!(limits["pointsPerHour"], 65_000);
}
