//! `/control/...`: knobs for tests and demos. The dashboard mounts the sandbox
//! (and so these) only in sandbox mode.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::rules::{Fault, FaultKind};
use crate::Sandbox;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/control/grants/{account_id}/revoke", post(revoke))
        .route("/control/faults", post(faults))
        .route("/control/stats", get(stats))
        .route("/control/clock/advance", post(advance_clock))
        .route("/control/settings", post(settings))
        .route("/control/jira-rate-limit", post(jira_rate_limit))
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
            sandbox.store().set_fault(Fault { kind, remaining: count });
            Json(json!({"pending": count})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("expected {{\"kind\": \"server_error\" | \"malformed\" | {{\"delay\": {{\"ms\": N}}}}, \"count\": N}}: {e}")})),
        )
            .into_response(),
    }
}

/// Token requests per grant, and those that named no known grant.
async fn stats(State(sandbox): State<Sandbox>) -> Response {
    let (grants, unattributed) = sandbox.store().stats();
    Json(json!({"grants": grants, "unattributedTokenRequests": unattributed})).into_response()
}

#[derive(Deserialize)]
struct Advance {
    secs: i64,
}

/// Moves the sandbox's clock forward (never backward).
async fn advance_clock(
    State(sandbox): State<Sandbox>,
    body: Result<Json<Advance>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(Advance { secs })) if (0..=crate::clock::MAX_ADVANCE_SECS).contains(&secs) => {
            match sandbox.advance_clock_durably(secs).await {
                Ok(()) => Json(json!({"now": sandbox.now()})).into_response(),
                Err(e) => not_stored(&e),
            }
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected {\"secs\": N} with 0 <= N <= 10 years"})),
        )
            .into_response(),
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
/// token lifetime, the provider's latency (at most a minute).
async fn settings(
    State(sandbox): State<Sandbox>,
    body: Result<Json<SettingsPatch>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(patch)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected {\"withholdRefreshTokens\": bool, \"accessTokenLifetimeSecs\": N, \"latencyMs\": N}"})),
        )
            .into_response();
    };
    if patch.access_token_lifetime_secs.is_some_and(|s| s <= 0) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "accessTokenLifetimeSecs must be positive"})),
        )
            .into_response();
    }
    if patch.latency_ms.is_some_and(|ms| ms > 60_000) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "latencyMs must be at most 60000"})),
        )
            .into_response();
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

/// The longest `Retry-After` a planned Jira rate limit may ask for (a day).
const MAX_RETRY_AFTER_SECS: u32 = 86_400;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraRateLimitPlan {
    next: u32,
    retry_after_secs: u32,
}

/// `{"next": N, "retryAfterSecs": S}`: the next N Jira API calls answer `429`
/// with `Retry-After: S` (`next: 0` cancels).
async fn jira_rate_limit(
    State(sandbox): State<Sandbox>,
    body: Result<Json<JiraRateLimitPlan>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(JiraRateLimitPlan {
            next,
            retry_after_secs,
        })) if retry_after_secs <= MAX_RETRY_AFTER_SECS => {
            sandbox.plan_jira_rate_limit(next, retry_after_secs);
            Json(json!({"pending": next, "retryAfterSecs": retry_after_secs})).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected {\"next\": N, \"retryAfterSecs\": S} with N >= 0 and 0 <= S <= 86400"})),
        )
            .into_response(),
    }
}
