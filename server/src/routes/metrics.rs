//! `GET /metrics` (Prometheus text, for an API key with `metrics:read`) and
//! the HTTP request counter every route passes through. The engine records
//! its own figures through the `metrics` facade (refresh outcomes and
//! latency, token hand-outs, proxied calls); the fleet's standing is read
//! when Prometheus scrapes:
//!
//! - `jira_dashboard_refreshes_total{result}`, `jira_dashboard_refresh_duration_seconds`
//! - `jira_dashboard_integrations{status}`: connected integrations by status now
//! - `jira_dashboard_scheduler_lag_seconds`: how long the most overdue refresh has waited
//! - `jira_dashboard_token_handouts_total`, `jira_dashboard_proxied_calls_total`
//! - Jira's rate limits (`engine::jira_limits`):
//!   `jira_dashboard_jira_quota_remaining_points{pool}`,
//!   `jira_dashboard_jira_holds{scope}` (running now),
//!   `jira_dashboard_jira_calls_held_total{key, scope, reason}` (answered
//!   without reaching Jira), `jira_dashboard_jira_calls_queued_total{key}`,
//!   `jira_dashboard_jira_points_spent_total{key}` (key: the API key's id;
//!   0 for the product's own calls)
//! - `jira_dashboard_webhook_deliveries_total{result}`: webhook attempts by
//!   result (`delivered`, `failed` and retried, `gave_up`)
//! - `jira_dashboard_http_requests_total{route, method, status}` (the route's
//!   pattern, e.g. `/v1/integrations/:id`, never the raw path, or `unmatched`;
//!   the method among the standard nine, or `other`: no label takes a value a
//!   client chooses, so the series stay a fixed set),
//!   `jira_dashboard_http_request_duration_seconds{route}`
//!
//! One recorder per process (the `metrics` facade is global): several
//! dashboards in one test process share it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use domain::Status;
use engine::Engine;

use crate::routes::v1::caller::Caller;
use crate::routes::v1::errors::ApiError;

/// The buckets of every `*_duration_seconds` histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed on first use.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Latencies as histograms (buckets from 5 ms to 30 s), so
            // Prometheus can aggregate them across replicas.
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder already installed (a host program's): ours
            // still renders what is recorded through the handle it owns.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

/// Counts every request by route (the pattern, never the raw path: ids and
/// proxied paths would explode the series), method and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "jira_dashboard_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status
    )
    .increment(1);
    metrics::histogram!("jira_dashboard_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A method as a label: the standard ones by name, anything else `other`.
/// A client chooses its method freely (any token of up to 64 KB); a label
/// taking it would make a new series, kept forever, per made-up method.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A route pattern as a label: `/v1/integrations/:id` rather than axum's
/// `{id}` (braces inside label values trip simpler Prometheus parsers).
fn route_label(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{}", name.trim_start_matches('*')),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// `GET /metrics`.
pub async fn scrape(
    State(engine): State<Engine>,
    State(handle): State<PrometheusHandle>,
    // The key that passed its scope (`crate::router`).
    _caller: Caller,
) -> Result<Response, ApiError> {
    let summary = engine.fleet_summary().await?;
    let lag = engine.scheduler_lag_secs().await?;
    for status in Status::ALL {
        metrics::gauge!("jira_dashboard_integrations", "status" => status.as_str())
            .set(summary.count(status) as f64);
    }
    metrics::gauge!("jira_dashboard_scheduler_lag_seconds").set(lag as f64);
    // Sets the holds' gauges (the pools' are set as answers come).
    engine.jira_rate_limits().await;
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{method_label, route_label};
    use axum::http::Method;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let made_up = Method::from_bytes("X".repeat(2048).as_bytes()).expect("a token");
        assert_eq!(method_label(&made_up), "other");
        let other = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&other), "other");
    }

    #[test]
    fn route_patterns_name_their_parameters_with_colons() {
        assert_eq!(
            route_label("/v1/integrations/{id}/access-token"),
            "/v1/integrations/:id/access-token"
        );
        assert_eq!(
            route_label("/v1/integrations/{id}/proxy/{*path}"),
            "/v1/integrations/:id/proxy/:path"
        );
        assert_eq!(route_label("/healthz"), "/healthz");
    }
}
