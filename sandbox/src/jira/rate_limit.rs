//! The Jira API's rate limit. Every answer carries `X-RateLimit-Limit` and
//! `X-RateLimit-Remaining`, from a per-site count of the calls made in the
//! current minute of the sandbox's clock; that count only informs, it never
//! refuses. Refusals are planned: `/control/jira-rate-limit` makes the next N
//! Jira calls, whatever their site or token, answer `429` as Atlassian does.

use std::collections::HashMap;

use axum::extract::{RawPathParams, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::clock::rfc3339;
use crate::settings::site;
use crate::Sandbox;

/// Calls a site may make per minute, as `X-RateLimit-Limit` states it.
pub const CALLS_PER_MINUTE: u32 = 100;

const LIMIT: &str = "x-ratelimit-limit";
const REMAINING: &str = "x-ratelimit-remaining";
const RESET: &str = "x-ratelimit-reset";

/// Refusals to come, as planned by `/control/jira-rate-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRefusals {
    pub calls: u32,
    pub retry_after_secs: u32,
}

/// What the limiter decides about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer `429`, asking to retry after this many seconds.
    Refused { retry_after_secs: u32 },
    /// Go ahead; the site has this many calls left this minute.
    Admitted { remaining: u32 },
}

/// Calls a site made in one minute (UNIX seconds / 60).
#[derive(Debug, Clone, Copy)]
struct MinuteUsage {
    minute: i64,
    calls: u32,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    planned: Option<PlannedRefusals>,
    usage: HashMap<&'static str, MinuteUsage>,
}

impl RateLimiter {
    /// The next `calls` Jira calls answer `429` with `Retry-After:
    /// retry_after_secs` (zero calls cancels a plan).
    pub fn plan(&mut self, calls: u32, retry_after_secs: u32) {
        self.planned = (calls > 0).then_some(PlannedRefusals {
            calls,
            retry_after_secs,
        });
    }

    /// Refusals still to come.
    pub fn planned(&self) -> Option<PlannedRefusals> {
        self.planned
    }

    /// Decides a call to the site `cloud_id` (`None`: a site the sandbox does
    /// not have, which is not counted) at `now`.
    pub fn admit(&mut self, cloud_id: Option<&'static str>, now: i64) -> Admission {
        if let Some(planned) = &mut self.planned {
            let retry_after_secs = planned.retry_after_secs;
            planned.calls -= 1;
            if planned.calls == 0 {
                self.planned = None;
            }
            return Admission::Refused { retry_after_secs };
        }
        let Some(cloud_id) = cloud_id else {
            return Admission::Admitted {
                remaining: CALLS_PER_MINUTE,
            };
        };
        let minute = now.div_euclid(60);
        let usage = self
            .usage
            .entry(cloud_id)
            .or_insert(MinuteUsage { minute, calls: 0 });
        if usage.minute != minute {
            *usage = MinuteUsage { minute, calls: 0 };
        }
        usage.calls = usage.calls.saturating_add(1);
        Admission::Admitted {
            remaining: CALLS_PER_MINUTE.saturating_sub(usage.calls),
        }
    }
}

/// Middleware on every Jira route: a planned `429`, or the call and its
/// answer with the `X-RateLimit-*` headers.
pub async fn limit(
    State(sandbox): State<Sandbox>,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    let cloud_id = params
        .iter()
        .find(|(name, _)| *name == "cloud_id")
        .and_then(|(_, value)| site(value))
        .map(|s| s.cloud_id);
    let now = sandbox.now();
    let admission = sandbox.jira().rate_limiter.admit(cloud_id, now);
    match admission {
        Admission::Refused { retry_after_secs } => too_many_requests(retry_after_secs, now),
        Admission::Admitted { remaining } => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert(LIMIT, HeaderValue::from(CALLS_PER_MINUTE));
            headers.insert(REMAINING, HeaderValue::from(remaining));
            response
        }
    }
}

/// `429` in Atlassian's shape, with the headers a client backs off by.
fn too_many_requests(retry_after_secs: u32, now: i64) -> Response {
    let reset = rfc3339(now.saturating_add(i64::from(retry_after_secs)));
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"errorMessages": ["Rate limit exceeded."], "errors": {}})),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    headers.insert(LIMIT, HeaderValue::from(CALLS_PER_MINUTE));
    headers.insert(REMAINING, HeaderValue::from(0u32));
    if let Ok(reset) = HeaderValue::from_str(&reset) {
        headers.insert(RESET, reset);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: Option<&str> = Some("site-1");

    #[test]
    fn planned_refusals_run_out_then_calls_are_counted_per_minute() {
        let mut limiter = RateLimiter::default();
        limiter.plan(2, 30);
        for _ in 0..2 {
            assert_eq!(
                limiter.admit(SITE, 120),
                Admission::Refused {
                    retry_after_secs: 30
                }
            );
        }
        assert_eq!(limiter.planned(), None);
        // (site, now, remaining after the call): a minute per site; no site, no count.
        for (site, now, remaining) in [
            (SITE, 120, 99),
            (SITE, 179, 98),
            (Some("site-2"), 179, 99),
            (SITE, 180, 99),
            (None, 180, 100),
        ] {
            assert_eq!(
                limiter.admit(site, now),
                Admission::Admitted { remaining },
                "{site:?} at {now}"
            );
        }
    }

    #[test]
    fn the_count_never_refuses() {
        let mut limiter = RateLimiter::default();
        for _ in 0..150 {
            limiter.admit(SITE, 0);
        }
        assert_eq!(limiter.admit(SITE, 0), Admission::Admitted { remaining: 0 });
    }

    #[test]
    fn planning_zero_calls_cancels_a_plan() {
        let mut limiter = RateLimiter::default();
        limiter.plan(5, 10);
        limiter.plan(0, 10);
        assert_eq!(
            limiter.admit(SITE, 0),
            Admission::Admitted { remaining: 99 }
        );
    }
}
