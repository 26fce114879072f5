//! `/v1/integrations/{id}/proxy/{path}`, any method: the call goes to
//! `{JIRA_API_URL}/{path}` (and never anywhere else), for Jira's REST APIs
//! only (`ex/jira/{cloudId}/rest/...`, [`is_jira_path`]), with the query, the body
//! and the content headers, and the integration's fresh access token in place
//! of the caller's `Authorization`; no cookies, no other header. Upstream's
//! status, body and rate-limit headers come back as they are, the body
//! streamed as it arrives (a 50 MB answer is never held whole). On a `401`
//! from upstream the token is refreshed once and the call retried once, so
//! the request body is read first (at most [`MAX_BODY_BYTES`]): Jira's request
//! bodies are small; its answers are what can be large.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;

use domain::IntegrationId;
use engine::jira_limits::JiraCall;
use engine::service_api::handout::DEFAULT_MIN_VALIDITY_SECS;
use engine::service_api::{AccessToken, ApiKey};
use engine::Engine;

use super::caller::Caller;
use super::documented::{IntegrationUnusable, NoValidKey};
use super::errors::ApiError;

/// The largest request body passed on.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// How many proxied requests may hold a body in memory at once (at most
/// 16 x 10 MB), and how long one may take to send its body.
const BODIES_AT_ONCE: usize = 16;
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The methods Jira's REST API uses (`TRACE` would echo the token back).
const METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Request headers passed on to Jira (besides the token): what describes the
/// content and what the caller accepts. Nothing else: not `Authorization`,
/// not `Cookie`, not `Host`, not forwarding headers.
const PASSED_ON: &[&str] = &[
    "content-type",
    "accept",
    "accept-language",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "x-atlassian-token",
    "x-force-accept-language",
];

/// Answer headers passed back: the content's description, caching, where a
/// created resource lives, and Jira's rate limits.
fn passed_back(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "content-type"
            | "content-length"
            | "content-language"
            | "etag"
            | "last-modified"
            | "location"
            | "retry-after"
            | "x-arequestid"
            | "ratelimit-reason"
            | "beta-ratelimit"
            | "beta-ratelimit-policy"
    ) || name.starts_with("x-ratelimit-")
        || name.starts_with("x-beta-ratelimit-")
}

/// The HTTP client the proxy sends with: no redirects followed (a `3xx` goes
/// back to the caller, so the token never follows one), no cookies.
#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    bodies: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ProxyClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            http,
            bodies: std::sync::Arc::new(tokio::sync::Semaphore::new(BODIES_AT_ONCE)),
        })
    }
}

/// Where a proxied path goes: under `base`, or `None` for a path that tries
/// to leave it (dot segments, encoded separators, backslashes, empty segments,
/// a scheme or an authority of its own).
pub fn upstream_url(base: &url::Url, path: &str, query: Option<&str>) -> Option<url::Url> {
    let lower = path.to_ascii_lowercase();
    let escapes = path.is_empty()
        || path.starts_with('/')
        || path.contains(';')
        || path.contains('\\')
        || path.contains("//")
        || path.contains('@')
        || path
            .split('/')
            .next()
            .is_some_and(|first| first.contains(':'))
        || ["%2e", "%2f", "%5c", "%40", "%3a"]
            .iter()
            .any(|e| lower.contains(e))
        || path.split('/').any(|s| s == "." || s == "..")
        || path.chars().any(|c| c.is_control() || c == '#' || c == '?');
    if escapes {
        return None;
    }
    let mut text = format!("{}/{path}", base.as_str().trim_end_matches('/'));
    if let Some(q) = query {
        text.push('?');
        text.push_str(q);
    }
    let url = url::Url::parse(&text).ok()?;
    // Belt and braces: the parsed URL must still be under the base.
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none();
    let base_path = base.path().trim_end_matches('/');
    let under = url.path().starts_with(&format!("{base_path}/"));
    (same_origin && under).then_some(url)
}

/// Whether `path` (under `JIRA_API_URL`, as the caller wrote it) is one of
/// Jira's REST APIs through Atlassian's gateway: `ex/jira/{cloudId}/rest/`
/// and more, the cloud id letters, digits and hyphens. The key's scope is
/// `proxy`, to Jira: not the platform's other endpoints, and not whatever
/// else lives beside the API (in sandbox mode `JIRA_API_URL` is this
/// process's `/sandbox`, whose `/control` routes move its clock and revoke
/// grants; under `scripts/cluster` a standalone sandbox's).
pub fn is_jira_path(path: &str) -> bool {
    let mut segments = path.splitn(5, '/');
    let cloud_id_ok = |id: &str| {
        !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    matches!(
        (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ),
        (Some("ex"), Some("jira"), Some(cloud_id), Some("rest"), Some(rest))
            if cloud_id_ok(cloud_id) && !rest.is_empty()
    )
}

/// One proxied call.
#[utoipa::path(
    get,
    path = "/v1/integrations/{id}/proxy/{path}",
    params(
        ("id" = i64, Path, description = "The integration's id"),
        ("path" = String, Path, description = "The path under JIRA_API_URL, one of Jira's REST APIs: `ex/jira/{cloudId}/rest/...`, e.g. `ex/jira/{cloudId}/rest/api/3/search/jql`"),
    ),
    security(("api_key" = ["proxy"])),
    responses(
        (status = 200, description = "Jira's answer, as it is (any status). The same for HEAD, POST, PUT, PATCH, DELETE and OPTIONS; other methods get 405."),
        (status = 400, description = "A path that is not Jira's REST API (`ex/jira/{cloudId}/rest/...`) or leaves JIRA_API_URL"),
        (status = 403, description = "The key lacks proxy, or the path's cloudId is not one of the integration's sites (`{error: wrong_site}`)"),
        (status = 405, description = "A method Jira's REST API does not use (e.g. TRACE)"),
        (status = 413, description = "A request body over 10 MB"),
        (status = 429, description = "Jira's rate limit holds the call's scope and the call was not sent: `Retry-After` and `{error: rate_limited, reason, scope: app|tenant|endpoint|issue|key, retryAfterSecs, message}` (`key`: the key spent the hourly points budget an admin gave it); or Jira's own `429`, as it is, with `RateLimit-Reason`. `Prefer: wait=N` (N up to 30) waits in line for a hold that ends within N seconds."),
        (status = 502, description = "Jira could not be reached"),
        NoValidKey,
        IntegrationUnusable,
    )
)]
pub async fn forward(
    State(engine): State<Engine>,
    State(client): State<ProxyClient>,
    caller: Caller,
    Path(params): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let key = caller.0;
    let id = super::integration_id(&params.0)?;
    // The raw path (still percent-encoded, as the caller wrote it).
    let raw = request.uri().path();
    let path = raw
        .split_once("/proxy/")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    let url =
        upstream_url(engine.jira_api_url(), &path, request.uri().query()).ok_or_else(|| {
            ApiError::bad_request(
                "The proxied path must stay under JIRA_API_URL: no dot segments, encoded \
             separators, backslashes, empty segments or other hosts.",
            )
        })?;
    if !is_jira_path(&path) {
        return Err(ApiError::bad_request(
            "The proxy reaches Jira's REST APIs only: the path must start with \
             ex/jira/{cloudId}/rest/.",
        ));
    }
    let method = request.method().clone();
    if !METHODS.contains(&method) {
        return Err(ApiError::method_not_allowed(
            "The proxy passes GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS.",
        ));
    }
    let headers = passed_on(request.headers());
    let request_headers_prefer = request
        .headers()
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let request_headers_prefer = Some(request_headers_prefer).filter(|p| !p.is_empty());
    // The key must see the integration, and the call go to one of its
    // sites, before the call may spend anything of the shared quota.
    let actor = key.actor();
    let mut token = engine
        .fresh_access_token(id, DEFAULT_MIN_VALIDITY_SECS, &actor, &key.tags)
        .await?;
    // An integration's calls go to its own sites only, whatever the key.
    if let Some(cloud_id) = cloud_id_of(&path) {
        if !token
            .integration
            .sites
            .iter()
            .any(|s| s.cloud_id == cloud_id)
        {
            return Err(ApiError::wrong_site(cloud_id, id));
        }
    }
    // The body is read (under one of the proxy's body slots, given back
    // once it is read) before the call asks for any of the shared quota:
    // points are never held for a caller still sending its body.
    let body = {
        let _body_slot =
            tokio::time::timeout(BODY_READ_TIMEOUT, client.bodies.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| {
                    ApiError::busy("The proxy is busy with other uploads: try again shortly.")
                })?;
        tokio::time::timeout(
            BODY_READ_TIMEOUT,
            axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES),
        )
        .await
        .map_err(|_| ApiError::bad_request("The request body took over 30 s to arrive."))?
        .map_err(|_| {
            ApiError::too_large("The request body is over 10 MB (or could not be read).")
        })?
    };
    // Jira's rate limits: a held scope answers here, without calling Jira
    // (unless the caller asked to wait in line); every answer teaches them.
    let call = JiraCall::of(method.as_str(), &path);
    let mut admitted = match &call {
        Some(call) => {
            let admitted = match prefer_wait(request_headers_prefer.as_deref()) {
                Some(wait) => engine.jira_wait(call, key.jira_share, wait).await,
                None => engine.jira_admit(call, key.jira_share).await,
            };
            Some(admitted.map_err(|held| ApiError::rate_limited(&held))?)
        }
        None => None,
    };
    if let Some(admitted) = admitted.as_mut() {
        admitted.sending();
    }
    let mut answer = send(&client, &method, &url, &headers, &body, &token).await?;
    if let (Some(call), Some(admitted)) = (&call, admitted) {
        engine
            .jira_learn(admitted, call, answer.status().as_u16(), answer.headers())
            .await;
    }
    if answer.status() == reqwest::StatusCode::UNAUTHORIZED {
        // Jira refused the token (revoked, or expired early): once, a new one,
        // unless a refresh cannot help (then Jira's answer stands).
        // The retry is a call like any other: not into a hold.
        let retry = match &call {
            Some(call) => engine.jira_admit(call, key.jira_share).await.map(Some),
            None => Ok(None),
        };
        if let Ok(mut retry) = retry {
            let fresh = engine
                .replace_rejected_token(id, &token, &actor, &key.tags)
                .await?;
            if let Some(fresh) = fresh {
                token = fresh;
                if let Some(retry) = retry.as_mut() {
                    retry.sending();
                }
                answer = send(&client, &method, &url, &headers, &body, &token).await?;
                if let (Some(call), Some(admitted)) = (&call, retry) {
                    engine
                        .jira_learn(admitted, call, answer.status().as_u16(), answer.headers())
                        .await;
                }
            }
        }
    }
    record(&engine, &key, id).await;
    Ok(into_response(answer))
}

/// The longest a caller may wait in line for a rate-limit hold to end.
pub const MAX_PREFER_WAIT_SECS: u64 = 30;

/// `Prefer: wait=N` (RFC 7240), N seconds capped at
/// [`MAX_PREFER_WAIT_SECS`]; `None` without a usable one (a malformed or
/// absurd preference is ignored, as RFC 7240 asks of preferences).
fn prefer_wait(prefer: Option<&str>) -> Option<Duration> {
    prefer?
        .split(',')
        .filter_map(|p| p.split(';').next())
        .filter_map(|p| p.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("wait"))
        .map(|(_, n)| n.trim().trim_matches('"'))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        // Digits beyond u64 are a very long wait: capped like any other.
        .map(|n| n.parse::<u64>().unwrap_or(u64::MAX))
        .filter(|n| *n > 0)
        .map(|n| Duration::from_secs(n.min(MAX_PREFER_WAIT_SECS)))
}

/// The cloud id of a path under `ex/jira/{cloudId}/` (checked by
/// [`is_jira_path`]: letters, digits and dashes only).
fn cloud_id_of(path: &str) -> Option<&str> {
    path.strip_prefix("ex/jira/")?.split('/').next()
}

async fn record(engine: &Engine, key: &ApiKey, id: IntegrationId) {
    tracing::debug!(integration = %id, key = key.id, "proxied a Jira call");
    engine.record_proxied_call(key).await;
}

fn passed_on(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in PASSED_ON {
        for value in headers.get_all(*name) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                kept.append(name, value.clone());
            }
        }
    }
    kept
}

async fn send(
    client: &ProxyClient,
    method: &Method,
    url: &url::Url,
    headers: &HeaderMap,
    body: &Bytes,
    token: &AccessToken,
) -> Result<reqwest::Response, ApiError> {
    let mut request = client
        .http
        .request(method.clone(), url.clone())
        .headers(headers.clone())
        .bearer_auth(token.token.expose());
    if !body.is_empty() {
        request = request.body(body.clone());
    }
    request.send().await.map_err(|e| {
        let timed_out = e.is_timeout();
        // Without the URL: the log names the failure, the caller gets a sentence.
        tracing::warn!(error = %e.without_url(), "a proxied Jira call failed");
        ApiError::upstream_unavailable(if timed_out {
            "Jira did not answer in time."
        } else {
            "Jira could not be reached."
        })
    })
}

fn into_response(answer: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if passed_back(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_wait_is_read_capped_and_otherwise_ignored() {
        for (prefer, secs) in [
            (Some("wait=5"), Some(5)),
            (Some("respond-async, wait=10"), Some(10)),
            (Some("Wait = \"7\"; x=y"), Some(7)),
            (Some("wait=31"), Some(30)),
            (Some("wait=99999999999999999999999"), Some(30)),
            (Some("wait=0"), None),
            (Some("wait=-3"), None),
            (Some("wait=soon"), None),
            (Some("return=minimal"), None),
            (None, None),
        ] {
            assert_eq!(
                prefer_wait(prefer),
                secs.map(Duration::from_secs),
                "{prefer:?}"
            );
        }
    }
}
