//! `/control/...`: knobs for tests and demos. The dashboard mounts the sandbox
//! (and so these) only in sandbox mode, where its guard lets only an
//! administrator's session reach `/sandbox/control/...`; the standalone
//! `sandbox` binary, a developer tool, serves them to whoever reaches its
//! address (loopback by default).
//!
//! Every number a control takes has a limit (the constants below): a value
//! beyond it is answered `400` with a sentence, and nothing changes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::jira::rate_limit::{LimitSettings, QuotaTier, REASONS};
use crate::rules::{Fault, FaultKind};
use crate::{AdvanceError, Sandbox};

/// The most token requests (faults) or Jira calls (`429`s) one control may
/// plan to fail: more than any test needs, few enough to wait out.
pub const MAX_PLANNED_FAILURES: u32 = 1_000;
/// The longest the provider may be made to take, in milliseconds (a minute),
/// for the latency setting and an injected delay alike.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// The longest access token lifetime (a year: no token outlives its
/// family's absolute expiry).
pub const MAX_ACCESS_TOKEN_LIFETIME_SECS: i64 = 365 * 86_400;
/// The longest `Retry-After` a planned refusal may ask for (a day).
pub const MAX_RETRY_AFTER_SECS: u32 = 86_400;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/control/grants/{account_id}/revoke", post(revoke))
        .route("/control/faults", post(faults))
        .route("/control/stats", get(stats))
        .route("/control/clock/advance", post(advance_clock))
        .route("/control/settings", post(settings))
        .route("/control/jira-rate-limit", post(jira_rate_limit))
        .route("/control/jira-limits", post(jira_limits))
}

/// Revokes every token family of the account, as "Connected apps" would.
async fn revoke(State(sandbox): State<Sandbox>, Path(account_id): Path<String>) -> Response {
    match sandbox.revoke_grant_durably(&account_id).await {
        Ok(revoked) => Json(json!({"revokedFamilies": revoked})).into_response(),
        Err(e) => not_stored(&e),
    }
}

/// The change was made in memory but could not be stored (it is retried with
/// the next change).
fn not_stored(e: &sqlx::Error) -> Response {
    tracing::error!("the sandbox could not store its state: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "the sandbox could not store its state; it is retried with the next change"})),
    )
        .into_response()
}

/// A `400` whose body says what was wrong.
fn refused(sentence: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": sentence}))).into_response()
}

/// `{"kind": "server_error" | "malformed" | {"delay": {"ms": 1500}}, "count": N}`.
#[derive(Deserialize)]
struct FaultBody {
    kind: FaultKind,
    count: u32,
}

async fn faults(
    State(sandbox): State<Sandbox>,
    body: Result<Json<FaultBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(FaultBody { kind, count })) => {
            if let Err(sentence) = fault_within_limits(kind, count) {
                return refused(&sentence);
            }
            sandbox.store().set_fault(Fault { kind, remaining: count });
            Json(json!({"pending": count})).into_response()
        }
        Err(e) => refused(&format!("expected {{\"kind\": \"server_error\" | \"malformed\" | {{\"delay\": {{\"ms\": N}}}}, \"count\": N}}: {e}")),
    }
}

/// Whether a planned fault keeps to the limits; the sentence saying which
/// it passes otherwise.
fn fault_within_limits(kind: FaultKind, count: u32) -> Result<(), String> {
    if count > MAX_PLANNED_FAILURES {
        return Err(format!(
            "count must be at most {MAX_PLANNED_FAILURES} token requests."
        ));
    }
    match kind {
        FaultKind::Delay { ms } if ms > MAX_LATENCY_MS => Err(format!(
            "delay.ms must be at most {MAX_LATENCY_MS} (a minute)."
        )),
        FaultKind::Status { code, .. } if !(400..=599).contains(&code) => {
            Err("status.code must be an error status, from 400 to 599.".to_owned())
        }
        FaultKind::Status {
            retry_after_secs: Some(secs),
            ..
        } if secs > u64::from(MAX_RETRY_AFTER_SECS) => Err(format!(
            "status.retry_after_secs must be at most {MAX_RETRY_AFTER_SECS} (a day)."
        )),
        _ => Ok(()),
    }
}

/// Token requests per grant, and those that named no known grant; Jira's
/// rate limits in force, and the calls they admitted, the points spent and
/// the refusals by reason.
async fn stats(State(sandbox): State<Sandbox>) -> Response {
    let (grants, unattributed) = sandbox.store().stats();
    let jira = {
        let jira = sandbox.jira();
        let limits = &jira.rate_limiter.limits;
        let stats = limits.stats();
        json!({
            "limits": limits_json(limits.settings()),
            "admittedCalls": stats.admitted,
            "pointsSpent": stats.points_spent,
            "refused": stats.refused,
        })
    };
    Json(json!({"grants": grants, "unattributedTokenRequests": unattributed, "jira": jira}))
        .into_response()
}

#[derive(Deserialize)]
struct Advance {
    secs: i64,
}

/// Moves the sandbox's clock forward (never backward), at most ten years at
/// a time and a hundred in all.
async fn advance_clock(
    State(sandbox): State<Sandbox>,
    body: Result<Json<Advance>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let secs = match body {
        Ok(Json(Advance { secs })) if (0..=crate::clock::MAX_ADVANCE_SECS).contains(&secs) => secs,
        _ => {
            return refused(&format!(
                "expected {{\"secs\": N}} with 0 <= N <= {} (ten years).",
                crate::clock::MAX_ADVANCE_SECS
            ))
        }
    };
    match sandbox.advance_clock_durably(secs).await {
        Ok(()) => Json(json!({"now": sandbox.now()})).into_response(),
        Err(AdvanceError::OutOfRange) => refused(&format!(
            "the clock may be moved at most {} seconds (a hundred years) ahead in all; it is {} ahead now.",
            crate::clock::MAX_OFFSET_SECS,
            sandbox.clock_offset()
        )),
        Err(AdvanceError::NotStored(e)) => not_stored(&e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SettingsPatch {
    withhold_refresh_tokens: Option<bool>,
    access_token_lifetime_secs: Option<i64>,
    latency_ms: Option<u64>,
}

/// Changes switches at run time: withholding refresh tokens, the access
/// token lifetime (a second to a year), the provider's latency (at most a
/// minute). Any subset; all checked before any changes.
async fn settings(
    State(sandbox): State<Sandbox>,
    body: Result<Json<SettingsPatch>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(patch)) = body else {
        return refused("expected {\"withholdRefreshTokens\": bool, \"accessTokenLifetimeSecs\": N, \"latencyMs\": N}");
    };
    if patch
        .access_token_lifetime_secs
        .is_some_and(|s| !(1..=MAX_ACCESS_TOKEN_LIFETIME_SECS).contains(&s))
    {
        return refused(&format!(
            "accessTokenLifetimeSecs must be from 1 to {MAX_ACCESS_TOKEN_LIFETIME_SECS} (a year)."
        ));
    }
    if patch.latency_ms.is_some_and(|ms| ms > MAX_LATENCY_MS) {
        return refused(&format!(
            "latencyMs must be at most {MAX_LATENCY_MS} (a minute)."
        ));
    }
    let mut store = sandbox.store();
    if let Some(ms) = patch.latency_ms {
        store.settings.latency_ms = ms;
    }
    if let Some(w) = patch.withhold_refresh_tokens {
        store.settings.withhold_refresh_tokens = w;
    }
    if let Some(s) = patch.access_token_lifetime_secs {
        store.settings.access_token_lifetime_secs = s;
    }
    Json(json!({
        "withholdRefreshTokens": store.settings.withhold_refresh_tokens,
        "accessTokenLifetimeSecs": store.settings.access_token_lifetime_secs,
        "latencyMs": store.settings.latency_ms,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraRateLimitPlan {
    next: u32,
    retry_after_secs: u32,
    reason: Option<String>,
}

/// `{"next": N, "retryAfterSecs": S, "reason"?: R}`: the next N Jira API
/// calls answer `429` with `Retry-After: S` and `RateLimit-Reason: R`
/// (default `jira-burst-based`; `next: 0` cancels).
async fn jira_rate_limit(
    State(sandbox): State<Sandbox>,
    body: Result<Json<JiraRateLimitPlan>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(JiraRateLimitPlan {
            next,
            retry_after_secs,
            reason,
        })) if next <= MAX_PLANNED_FAILURES && retry_after_secs <= MAX_RETRY_AFTER_SECS => {
            let reason = match reason.as_deref() {
                None => "jira-burst-based",
                Some(given) => match REASONS.into_iter().find(|r| *r == given) {
                    Some(reason) => reason,
                    None => {
                        return refused(&format!(
                            "reason must be one of {}.",
                            REASONS.join(", ")
                        ))
                    }
                },
            };
            sandbox.plan_jira_rate_limit(next, retry_after_secs, reason);
            Json(json!({"pending": next, "retryAfterSecs": retry_after_secs, "reason": reason}))
                .into_response()
        }
        _ => refused(&format!(
            "expected {{\"next\": N, \"retryAfterSecs\": S, \"reason\"?: R}} with 0 <= N <= {MAX_PLANNED_FAILURES} and 0 <= S <= {MAX_RETRY_AFTER_SECS} (a day)."
        )),
    }
}

/// The most a pool may hold per hour, and a burst or per-issue limit per second.
pub const MAX_POINTS_PER_HOUR: u64 = 100_000_000;
pub const MAX_PER_SEC: u32 = 100_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JiraLimitsPatch {
    tier: Option<u8>,
    points_per_hour: Option<u64>,
    burst_per_sec: Option<u32>,
    issue_writes_per_sec: Option<u32>,
}

/// Changes Jira's rate limits at run time (any subset, all checked before
/// any changes; the counts so far stay): `{"tier": 1|2, "pointsPerHour",
/// "burstPerSec", "issueWritesPerSec"}`. Answers the limits in force.
async fn jira_limits(
    State(sandbox): State<Sandbox>,
    body: Result<Json<JiraLimitsPatch>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(patch)) = body else {
        return refused("expected {\"tier\": 1|2, \"pointsPerHour\": N, \"burstPerSec\": N, \"issueWritesPerSec\": N}, any of them.");
    };
    let tier = match patch.tier {
        None => None,
        Some(1) => Some(QuotaTier::Global),
        Some(2) => Some(QuotaTier::PerSite),
        Some(_) => return refused("tier must be 1 (one pool for the app) or 2 (a pool per site)."),
    };
    if patch
        .points_per_hour
        .is_some_and(|p| !(1..=MAX_POINTS_PER_HOUR).contains(&p))
    {
        return refused(&format!(
            "pointsPerHour must be from 1 to {MAX_POINTS_PER_HOUR}."
        ));
    }
    for (name, value) in [
        ("burstPerSec", patch.burst_per_sec),
        ("issueWritesPerSec", patch.issue_writes_per_sec),
    ] {
        if value.is_some_and(|v| !(1..=MAX_PER_SEC).contains(&v)) {
            return refused(&format!("{name} must be from 1 to {MAX_PER_SEC}."));
        }
    }
    let mut jira = sandbox.jira();
    let limits = &mut jira.rate_limiter.limits;
    let mut settings = limits.settings();
    settings.tier = tier.unwrap_or(settings.tier);
    settings.points_per_hour = patch.points_per_hour.unwrap_or(settings.points_per_hour);
    settings.burst_per_sec = patch.burst_per_sec.unwrap_or(settings.burst_per_sec);
    settings.issue_writes_per_sec = patch
        .issue_writes_per_sec
        .unwrap_or(settings.issue_writes_per_sec);
    limits.set_settings(settings);
    Json(limits_json(settings)).into_response()
}

/// Jira's rate limits in force, as the controls show them.
fn limits_json(settings: LimitSettings) -> serde_json::Value {
    json!({
        "tier": match settings.tier { QuotaTier::Global => 1, QuotaTier::PerSite => 2 },
        "pointsPerHour": settings.points_per_hour,
        "burstPerSec": settings.burst_per_sec,
        "issueWritesPerSec": settings.issue_writes_per_sec,
    })
}
