//! The guard in front of every route: which [`Permission`] a request needs
//! ([`rule_for`], one table for pages, server functions and plain routes,
//! deny-by-default for server functions it does not know), and what a request
//! without it gets. A browser without a session is sent to `/login?next=...`
//! (on the public host, where its session cookie will live); a server
//! function or `/events` gets `401` JSON `{"error":"unauthenticated"}`; a
//! role that may not act gets `403` (JSON for programs, the error page for
//! browsers). A request let through carries its [`User`] in its extensions.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use domain::Permission;

use super::AuthSession;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: the sign-in pages, probes, static files and the sandbox (its
    /// controls excepted).
    Open,
    /// A session whose role holds this permission.
    Needs(Permission),
}

/// Server functions that only read.
const READING_FUNCTIONS: &[&str] = &[
    "/api/list_integrations",
    "/api/dashboard_page",
    "/api/app_info",
    "/api/integration_detail",
    "/api/fleet_summary",
];
/// Server functions that change an integration.
const OPERATING_FUNCTIONS: &[&str] = &[
    "/api/refresh_integration",
    "/api/disconnect_integration",
    "/api/test_connection",
];

/// The permission `method path` needs.
pub fn rule_for(method: &Method, path: &str) -> Rule {
    use Permission::*;
    let reads = method == Method::GET || method == Method::HEAD;
    match path {
        "/login" | "/setup" | "/healthz" | "/readyz" | "/favicon.ico" => Rule::Open,
        // The sandbox's knobs (revoke, faults, clock, settings) are an administrator's.
        _ if path == "/sandbox/control" || path.starts_with("/sandbox/control/") => {
            Rule::Needs(Administer)
        }
        _ if path == "/sandbox" || path.starts_with("/sandbox/") => Rule::Open,
        _ if path.starts_with("/pkg/") => Rule::Open,
        // The service API authenticates by API key, not by session (its own
        // extractor refuses a request without a live key: `service_api::caller`).
        _ if path.starts_with("/v1/") || path == "/metrics" => Rule::Open,
        "/oauth/start" | "/oauth/callback" => Rule::Needs(Operate),
        "/logout" | "/settings/password" | "/events" => Rule::Needs(Read),
        _ if READING_FUNCTIONS.contains(&path) => Rule::Needs(Read),
        _ if OPERATING_FUNCTIONS.contains(&path) => Rule::Needs(Operate),
        // Any other server function, and the user administration.
        _ if path.starts_with("/api/") || path.starts_with("/settings/") => Rule::Needs(Administer),
        // Pages (the dashboard, an integration, settings, a 404).
        _ if reads => Rule::Needs(Read),
        _ => Rule::Needs(Administer),
    }
}

/// Where people reach the dashboard, for the sign-in redirect.
#[derive(Clone)]
pub struct PublicOrigin {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// The host part (lower case), to tell whether a request is on it.
    pub host: String,
}

/// The guard (a middleware inside the session layer).
pub async fn guard(
    State(public): State<PublicOrigin>,
    auth: AuthSession,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_plain_path(request.uri().path()) {
        return (
            StatusCode::BAD_REQUEST,
            "This address has dot segments, doubled or encoded slashes: ask for the plain path.",
        )
            .into_response();
    }
    let rule = rule_for(request.method(), request.uri().path());
    let Rule::Needs(permission) = rule else {
        return next.run(request).await;
    };
    let Some(user) = auth.user.map(|u| u.0) else {
        return unauthenticated(&request, &public);
    };
    if !user.role.may(permission) {
        tracing::warn!(user = user.id, role = %user.role, path = %request.uri().path(), "refused: role may not");
        return forbidden(&request, &permission.refusal(user.role));
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}

/// Whether `path` names one thing only: no `.` or `..` segment, no empty
/// segment, no backslash and no encoded dot, slash or backslash. The rules
/// above compare prefixes; a path that something behind them might
/// normalise into another one (`/pkg/../dashboard`) is refused instead.
pub fn is_plain_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let encoded = ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e));
    let segments_ok = path
        .split('/')
        .all(|segment| !matches!(segment, "." | ".."));
    path.starts_with('/') && !encoded && !path.contains('\\') && !path.contains("//") && segments_ok
}

/// Whether the request comes from a program rather than a page load.
fn wants_json(request: &Request) -> bool {
    let path = request.uri().path();
    path.starts_with("/api/") || path == "/events" || path.starts_with("/sandbox/control/")
}

fn unauthenticated(request: &Request, public: &PublicOrigin) -> Response {
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    if wants_json(request) || !reads {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({
                "error": "unauthenticated",
                "message": "Sign in first: this needs a session.",
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    let next = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/dashboard");
    Redirect::to(&login_url(request, public, next)).into_response()
}

/// `/login?next=...`, on the public host when the request is on another name
/// for this server (the session cookie belongs to the host it is set on, and
/// the OAuth flow ends on the public one).
pub fn login_url(request: &Request, public: &PublicOrigin, next: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    match request_host(request) {
        Some(host) if host != public.host => format!("{}/login?{query}", public.origin),
        _ => format!("/login?{query}"),
    }
}

/// The request's host name, lower case, without its port.
pub fn request_host(request: &Request) -> Option<String> {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))?;
    Some(host_without_port(raw).to_ascii_lowercase())
}

/// `example.com:3000` -> `example.com`; `[::1]:3000` -> `[::1]`.
pub fn host_without_port(raw: &str) -> &str {
    if raw.starts_with('[') {
        return raw.split_inclusive(']').next().unwrap_or(raw);
    }
    raw.split(':').next().unwrap_or(raw)
}

fn forbidden(request: &Request, sentence: &str) -> Response {
    if wants_json(request) {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "error": "forbidden", "message": sentence })),
        )
            .into_response();
    }
    crate::oauth_routes::error_page_titled(StatusCode::FORBIDDEN, "Not allowed", sentence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn every_route_has_its_rule() {
        let get = Method::GET;
        let post = Method::POST;
        let table = [
            (&get, "/login", Rule::Open),
            (&post, "/login", Rule::Open),
            (&get, "/setup", Rule::Open),
            (&get, "/healthz", Rule::Open),
            (&get, "/pkg/jira-dashboard.css", Rule::Open),
            (&post, "/sandbox/oauth/token", Rule::Open),
            (&get, "/sandbox/authorize", Rule::Open),
            (&post, "/sandbox/authorize", Rule::Open),
            (&get, "/sandbox/me", Rule::Open),
            (&get, "/sandbox/ex/jira/abc/rest/api/3/myself", Rule::Open),
            (&post, "/sandbox/control/settings", Rule::Needs(Administer)),
            (&post, "/sandbox/control/faults", Rule::Needs(Administer)),
            (
                &post,
                "/sandbox/control/clock/advance",
                Rule::Needs(Administer),
            ),
            (
                &post,
                "/sandbox/control/jira-rate-limit",
                Rule::Needs(Administer),
            ),
            (
                &post,
                "/sandbox/control/grants/x/revoke",
                Rule::Needs(Administer),
            ),
            (&get, "/sandbox/control/stats", Rule::Needs(Administer)),
            (&get, "/sandbox/control", Rule::Needs(Administer)),
            (&get, "/sandbox/controls", Rule::Open),
            (&get, "/", Rule::Needs(Read)),
            (&get, "/dashboard", Rule::Needs(Read)),
            (&get, "/integrations/3", Rule::Needs(Read)),
            (&get, "/settings", Rule::Needs(Read)),
            (&post, "/settings/password", Rule::Needs(Read)),
            (&post, "/logout", Rule::Needs(Read)),
            (&post, "/api/dashboard_page", Rule::Needs(Read)),
            (&post, "/api/fleet_summary", Rule::Needs(Read)),
            (&get, "/oauth/start", Rule::Needs(Operate)),
            (&get, "/oauth/callback", Rule::Needs(Operate)),
            (&post, "/api/refresh_integration", Rule::Needs(Operate)),
            (&post, "/api/disconnect_integration", Rule::Needs(Operate)),
            (&post, "/api/test_connection", Rule::Needs(Operate)),
            (&post, "/settings/users", Rule::Needs(Administer)),
            (&post, "/settings/users/2/role", Rule::Needs(Administer)),
            // Deny by default: an unknown server function, an unknown POST.
            (&post, "/api/something_new", Rule::Needs(Administer)),
            (&post, "/dashboard", Rule::Needs(Administer)),
            // Look-alikes are not the open paths.
            (&get, "/sandboxed", Rule::Needs(Read)),
            (&get, "/v1/integrations", Rule::Open),
            (&get, "/metrics", Rule::Open),
            (&get, "/readyz", Rule::Open),
            (&post, "/v1/integrations/1/access-token", Rule::Open),
            (&get, "/v1x", Rule::Needs(Read)),
            (&get, "/login/../dashboard", Rule::Needs(Read)),
        ];
        for (method, path, rule) in table {
            assert_eq!(rule_for(method, path), rule, "{method} {path}");
        }
    }

    #[test]
    fn only_plain_paths_pass() {
        for ok in [
            "/",
            "/dashboard",
            "/integrations/3",
            "/pkg/jira-dashboard.js",
            "/sandbox/ex/jira/abc/rest/api/3/myself",
            "/dashboard/",
        ] {
            assert!(is_plain_path(ok), "{ok}");
        }
        for bad in [
            "/pkg/../dashboard",
            "/pkg/%2e%2e/integrations/1",
            "/pkg/%2E%2E/x",
            "/sandbox/..",
            "/./dashboard",
            "//dashboard",
            "/pkg//x",
            "/pkg%2f..%2fdashboard",
            "/pkg/%5c..",
            "/pkg/\\..\\dashboard",
        ] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_without_port("example.com:3000"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:3000"), "[::1]");
        assert_eq!(host_without_port("127.0.0.1:80"), "127.0.0.1");
    }
}
