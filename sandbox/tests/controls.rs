//! `/control/...`: revoke, faults, counters, clock, settings.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use sandbox::Settings;
use serde_json::{json, Value};

async fn control(sb: &TestSandbox, path: &str, body: Value) -> (StatusCode, Value) {
    control_text(sb, path, &body.to_string()).await
}

/// `POST /control/{path}` with a JSON body as written (it may hold numbers
/// past what a `Value` holds): the status and the JSON answer (`null` if none).
async fn control_text(sb: &TestSandbox, path: &str, body: &str) -> (StatusCode, Value) {
    let res = sb
        .http
        .post(format!("{}/control/{path}", sb.base))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("control");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The sentence of a refusal (empty if there is none).
fn refusal(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn revoking_a_grant_kills_its_refresh_and_access_tokens() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let (status, body) = control(&sb, &format!("grants/{ADA}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["revokedFamilies"], 1);
    let (status, body) = sb.refresh(&s(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(
        sb.get_with_token("/me", &s(&tokens, "access_token"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn injected_500s_fail_the_next_requests_without_touching_tokens() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let (status, _) = control(&sb, "faults", json!({"kind": "server_error", "count": 2})).await;
    assert_eq!(status, StatusCode::OK);
    let rt = s(&tokens, "refresh_token");
    assert_eq!(sb.refresh(&rt).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sb.refresh(&rt).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        sb.refresh(&rt).await.0,
        StatusCode::OK,
        "the token was not rotated by the failures"
    );
}

#[tokio::test]
async fn an_injected_malformed_body_still_rotates_so_a_retry_inside_the_leeway_works() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    control(&sb, "faults", json!({"kind": "malformed", "count": 1})).await;
    let rt = s(&tokens, "refresh_token");
    let (status, body) = sb.refresh(&rt).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_string(), "not JSON: {body}");
    let (status, body) = sb.refresh(&rt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s(&body, "refresh_token").starts_with("sbx_rt_"));
}

#[tokio::test]
async fn an_injected_delay_slows_the_answer() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    control(
        &sb,
        "faults",
        json!({"kind": {"delay": {"ms": 300}}, "count": 1}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        sb.refresh(&s(&tokens, "refresh_token")).await.0,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stats_count_token_requests_per_grant() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    sb.refresh(&s(&tokens, "refresh_token")).await;
    sb.refresh("sbx_rt_unknown").await;
    let body = sb.stats().await;
    assert_eq!(body["grants"][0]["accountId"], ADA);
    assert_eq!(body["grants"][0]["tokenRequests"], 2);
    assert_eq!(body["unattributedTokenRequests"], 1);
    assert_eq!(sb.sandbox.token_requests_for(ADA), 2);
}

#[tokio::test]
async fn the_clock_control_moves_the_sandbox_clock() {
    let sb = TestSandbox::start().await;
    let token = s(&sb.connect(ALL_SCOPES).await, "access_token");
    let (status, _) = control(&sb, "clock/advance", json!({"secs": 3_600})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sb.get_with_token("/me", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        control(&sb, "clock/advance", json!({"secs": -5})).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn withholding_refresh_tokens_reproduces_an_app_without_offline_access() {
    let sb = TestSandbox::start_with(Settings {
        withhold_refresh_tokens: true,
        ..Settings::default()
    })
    .await;
    let tokens = sb.connect(ALL_SCOPES).await;
    assert!(tokens.get("refresh_token").is_none());
    assert!(!s(&tokens, "scope").contains("offline_access"));
    // And it can be switched at run time.
    let (status, _) = control(
        &sb,
        "settings",
        json!({"withholdRefreshTokens": false, "accessTokenLifetimeSecs": 60}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let tokens = sb.connect(ALL_SCOPES).await;
    assert!(tokens.get("refresh_token").is_some());
    assert_eq!(tokens["expires_in"], 60);
}

#[tokio::test]
async fn the_provider_answers_after_the_configured_latency_and_the_controls_do_not_wait() {
    let sb = TestSandbox::start_with(Settings {
        latency_ms: 150,
        ..Settings::default()
    })
    .await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let started = Instant::now();
    let (status, rotated) = sb.refresh(&s(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let (status, _) = sb.get_with_token("/me", &s(&rotated, "access_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));

    // Changed at run time; the controls themselves answer at once.
    let started = Instant::now();
    let (status, body) = control(&sb, "settings", json!({"latencyMs": 0})).await;
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["latencyMs"], 0);
    let started = Instant::now();
    let (status, _) = sb.refresh(&s(&rotated, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = control(&sb, "settings", json!({"latencyMs": 60_001})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal(&body).contains("latencyMs"), "{body}");
}

/// Every number past its limit (and every i64/u64 extreme), one control at a
/// time: each answered `400` with a sentence naming the field. Per control,
/// its bodies (JSON as written) and the field each must name.
const OUT_OF_BOUNDS: &[(&str, &[(&str, &str)])] = &[
    (
        "faults",
        &[
            (r#"{"kind": "server_error", "count": 1001}"#, "count"),
            (r#"{"kind": "server_error", "count": 4294967295}"#, "count"),
            (
                r#"{"kind": {"delay": {"ms": 60001}}, "count": 1}"#,
                "delay.ms",
            ),
            (
                r#"{"kind": {"delay": {"ms": 18446744073709551615}}, "count": 1}"#,
                "delay.ms",
            ),
            (
                r#"{"kind": {"status": {"code": 200, "retry_after_secs": null}}, "count": 1}"#,
                "status.code",
            ),
            (
                r#"{"kind": {"status": {"code": 101, "retry_after_secs": null}}, "count": 1}"#,
                "status.code",
            ),
            (
                r#"{"kind": {"status": {"code": 429, "retry_after_secs": 86401}}, "count": 1}"#,
                "retry_after_secs",
            ),
        ],
    ),
    (
        "settings",
        &[
            (
                r#"{"accessTokenLifetimeSecs": 0}"#,
                "accessTokenLifetimeSecs",
            ),
            (
                r#"{"accessTokenLifetimeSecs": 31536001}"#,
                "accessTokenLifetimeSecs",
            ),
            (
                r#"{"withholdRefreshTokens": true, "accessTokenLifetimeSecs": 9223372036854775807}"#,
                "accessTokenLifetimeSecs",
            ),
            (
                r#"{"accessTokenLifetimeSecs": 60, "latencyMs": 60001}"#,
                "latencyMs",
            ),
        ],
    ),
    (
        "clock/advance",
        &[
            (r#"{"secs": 9223372036854775807}"#, "secs"),
            (r#"{"secs": 316224001}"#, "secs"),
        ],
    ),
    (
        "jira-rate-limit",
        &[
            (r#"{"next": 1001, "retryAfterSecs": 5}"#, "next"),
            (r#"{"next": 1, "retryAfterSecs": 86401}"#, "retryAfterSecs"),
        ],
    ),
];

#[tokio::test]
async fn numbers_beyond_their_limits_are_refused_and_change_nothing() {
    let sb = TestSandbox::start().await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let now = sb.sandbox.now();
    for (path, bodies) in OUT_OF_BOUNDS {
        for (body, field) in *bodies {
            let (status, answer) = control_text(&sb, path, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
            assert!(answer.is_object(), "{path} {body}: a JSON answer");
            let sentence = refusal(&answer);
            assert!(sentence.contains(field), "{path} {body}: {sentence}");
        }
    }
    // Nothing changed: no fault, no rate limit, the same clock and settings.
    assert_eq!(sb.sandbox.now(), now);
    assert_eq!(sb.sandbox.clock_offset(), 0);
    assert!(sb.sandbox.jira().rate_limiter.planned().is_none());
    let started = Instant::now();
    let (status, rotated) = sb.refresh(&s(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(rotated["expires_in"], 3_600);
    assert!(rotated.get("refresh_token").is_some());
}

#[tokio::test]
async fn numbers_at_their_limits_are_taken() {
    let sb = TestSandbox::start().await;
    for (path, body) in [
        ("faults", json!({"kind": "server_error", "count": 1000})),
        (
            "faults",
            json!({"kind": {"status": {"code": 503, "retry_after_secs": 86_400}}, "count": 1}),
        ),
        ("faults", json!({"kind": "server_error", "count": 0})),
        (
            "settings",
            json!({"accessTokenLifetimeSecs": 31_536_000, "latencyMs": 60_000}),
        ),
        (
            "settings",
            json!({"accessTokenLifetimeSecs": 1, "latencyMs": 0}),
        ),
        (
            "jira-rate-limit",
            json!({"next": 1000, "retryAfterSecs": 86_400}),
        ),
        ("jira-rate-limit", json!({"next": 0, "retryAfterSecs": 0})),
    ] {
        let (status, answer) = control(&sb, path, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path} {body}: {answer}");
    }
}

#[tokio::test]
async fn the_clock_moves_at_most_a_hundred_years_in_all() {
    let sb = TestSandbox::start().await;
    let ten_years = sandbox::clock::MAX_ADVANCE_SECS;
    let advance = |secs: i64| control(&sb, "clock/advance", json!({ "secs": secs }));
    for _ in 0..9 {
        assert_eq!(advance(ten_years).await.0, StatusCode::OK);
    }
    assert_eq!(advance(ten_years - 1).await.0, StatusCode::OK);
    let before = sb.sandbox.now();
    let (status, answer) = advance(2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(refusal(&answer).contains("a hundred years"), "{answer}");
    assert_eq!(sb.sandbox.now(), before, "the clock did not move");
    // What is left of the hundred years may still be used; tokens still work.
    assert_eq!(advance(1).await.0, StatusCode::OK);
    assert_eq!(sb.sandbox.clock_offset(), sandbox::clock::MAX_OFFSET_SECS);
    let tokens = sb.connect(ALL_SCOPES).await;
    assert_eq!(
        sb.get_with_token("/me", &s(&tokens, "access_token"))
            .await
            .0,
        StatusCode::OK
    );
}
