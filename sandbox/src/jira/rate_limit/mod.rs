//! Jira's rate limits on every Jira route ([`limits`] holds the rules):
//! each call is admitted or refused before its handler runs, and charged
//! once its answer says how many objects it returned ([`ObjectsReturned`]).
//!
//! Every answer carries the quota's state as Atlassian sends it:
//! `Beta-RateLimit-Policy: "global-app-quota";q=65000;w=3600` (missing once
//! the pool is spent, as vendors report), `Beta-RateLimit:
//! "global-app-quota";r=17842;t=2107`, and below a fifth
//! `X-Beta-RateLimit-NearLimit: true` with `X-Beta-RateLimit-Reason`; and
//! the burst's, `X-RateLimit-Limit` and `X-RateLimit-Remaining`. A refusal
//! is `429` with `RateLimit-Reason` and `Retry-After`.
//!
//! Besides the rules, `/control/jira-rate-limit` plans refusals: the next N
//! calls, whatever their site or token, answer `429` with a given reason.

pub mod limits;

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use axum::Json;
use serde_json::json;

pub use limits::{Call, LimitSettings, LimitStats, Limits, QuotaState, QuotaTier, Refusal};

use crate::clock::rfc3339;
use crate::settings::site;
use crate::Sandbox;

const LIMIT: &str = "x-ratelimit-limit";
const REMAINING: &str = "x-ratelimit-remaining";
const RESET: &str = "x-ratelimit-reset";
const REASON: &str = "ratelimit-reason";
const POLICY: &str = "beta-ratelimit-policy";
const QUOTA: &str = "beta-ratelimit";
const NEAR_LIMIT: &str = "x-beta-ratelimit-nearlimit";
const NEAR_LIMIT_REASON: &str = "x-beta-ratelimit-reason";

/// The reasons a `429` may give (`RateLimit-Reason`).
pub const REASONS: [&str; 4] = [
    "jira-quota-global-based",
    "jira-quota-tenant-based",
    "jira-burst-based",
    "jira-per-issue-on-write",
];

/// Refusals to come, as planned by `/control/jira-rate-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRefusals {
    pub calls: u32,
    pub retry_after_secs: u32,
    /// One of [`REASONS`].
    pub reason: &'static str,
}

/// How many objects an answer returned: what a read costs beyond its base
/// point. Handlers put it on their answers; none counts as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectsReturned(pub u64);

impl IntoResponseParts for ObjectsReturned {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        parts.extensions_mut().insert(self);
        Ok(parts)
    }
}

/// The limits, and the refusals planned on top of them.
#[derive(Debug, Default)]
pub struct RateLimiter {
    planned: Option<PlannedRefusals>,
    pub limits: Limits,
}

impl RateLimiter {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            planned: None,
            limits: Limits::new(settings),
        }
    }

    /// The next `calls` Jira calls answer `429` with `Retry-After:
    /// retry_after_secs` and `RateLimit-Reason: reason` (zero calls cancels
    /// a plan).
    pub fn plan(&mut self, calls: u32, retry_after_secs: u32, reason: &'static str) {
        self.planned = (calls > 0).then_some(PlannedRefusals {
            calls,
            retry_after_secs,
            reason,
        });
    }

    /// Refusals still to come.
    pub fn planned(&self) -> Option<PlannedRefusals> {
        self.planned
    }

    /// The next planned refusal, if one is planned.
    fn take_planned(&mut self) -> Option<PlannedRefusals> {
        let planned = self.planned.as_mut()?;
        let taken = *planned;
        planned.calls -= 1;
        if planned.calls == 0 {
            self.planned = None;
        }
        Some(taken)
    }
}

/// Middleware on every Jira route: a planned `429`; a refusal by the
/// limits; or the call, charged, with the limits' headers on its answer.
pub async fn limit(
    State(sandbox): State<Sandbox>,
    matched: Option<MatchedPath>,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    let param = |wanted: &str| {
        params
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| value.to_owned())
    };
    let now = sandbox.now();
    let planned = {
        let mut jira = sandbox.jira();
        let planned = jira.rate_limiter.take_planned();
        if let Some(planned) = &planned {
            jira.rate_limiter.limits.count_refusal(planned.reason);
        }
        planned
    };
    if let Some(planned) = planned {
        let refusal = Refusal {
            reason: planned.reason,
            retry_after_secs: i64::from(planned.retry_after_secs),
            quota: None,
        };
        let burst = sandbox.jira().rate_limiter.limits.settings().burst_per_sec;
        return too_many_requests(&refusal, burst, now);
    }
    // A site the sandbox does not have is not limited (its handler answers 404).
    let Some(site) = param("cloud_id")
        .and_then(|id| site(&id))
        .map(|s| s.cloud_id)
    else {
        return next.run(request).await;
    };
    // An issue is one scope whether the path names it by key or by id.
    let issue = param("issue_id_or_key").map(|named| {
        let jira = sandbox.jira();
        let id = jira.site(site).and_then(|t| t.issue(&named)).map(|i| i.id);
        id.map_or(named, |id| id.to_string())
    });
    let call = Call {
        site: site.to_owned(),
        endpoint: matched.map(|m| m.as_str().to_owned()).unwrap_or_default(),
        method: request.method().as_str().to_owned(),
        issue,
    };
    let admitted = sandbox.jira().rate_limiter.limits.admit(&call, now);
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let burst = sandbox.jira().rate_limiter.limits.settings().burst_per_sec;
            return too_many_requests(&refusal, burst, now);
        }
    };
    let mut response = next.run(request).await;
    let objects = response
        .extensions()
        .get::<ObjectsReturned>()
        .map_or(0, |o| o.0);
    let quota = sandbox
        .jira()
        .rate_limiter
        .limits
        .charge(&call, objects, now);
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(admitted.burst.limit));
    headers.insert(REMAINING, HeaderValue::from(admitted.burst.remaining));
    quota_headers(headers, &quota);
    response
}

/// The quota's state in Atlassian's headers.
fn quota_headers(headers: &mut HeaderMap, quota: &QuotaState) {
    let name = quota.tier.policy_name();
    if quota.remaining > 0 {
        let policy = format!(
            "\"{name}\";q={};w={}",
            quota.points_per_hour,
            limits::WINDOW_SECS
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(POLICY, value);
        }
    }
    let state = format!(
        "\"{name}\";r={};t={}",
        quota.remaining, quota.resets_in_secs
    );
    if let Ok(value) = HeaderValue::from_str(&state) {
        headers.insert(QUOTA, value);
    }
    if quota.near_limit() {
        headers.insert(NEAR_LIMIT, HeaderValue::from_static("true"));
        headers.insert(
            NEAR_LIMIT_REASON,
            HeaderValue::from_static(quota.tier.reason()),
        );
    }
}

/// `429` in Atlassian's shape, with the headers a client backs off by.
fn too_many_requests(refusal: &Refusal, burst_limit: u32, now: i64) -> Response {
    let reset = rfc3339(now.saturating_add(refusal.retry_after_secs));
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"errorMessages": ["Rate limit exceeded."], "errors": {}})),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(refusal.retry_after_secs),
    );
    headers.insert(REASON, HeaderValue::from_static(refusal.reason));
    headers.insert(LIMIT, HeaderValue::from(burst_limit));
    headers.insert(REMAINING, HeaderValue::from(0u32));
    if let Ok(reset) = HeaderValue::from_str(&reset) {
        headers.insert(RESET, reset);
    }
    if let Some(quota) = &refusal.quota {
        quota_headers(headers, quota);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_refusals_run_out_and_zero_cancels_a_plan() {
        let mut limiter = RateLimiter::default();
        limiter.plan(2, 30, "jira-burst-based");
        for _ in 0..2 {
            let taken = limiter.take_planned().expect("planned");
            assert_eq!(
                (taken.retry_after_secs, taken.reason),
                (30, "jira-burst-based")
            );
        }
        assert_eq!(limiter.take_planned(), None);
        limiter.plan(5, 10, "jira-burst-based");
        limiter.plan(0, 10, "jira-burst-based");
        assert_eq!(limiter.planned(), None);
    }
}
