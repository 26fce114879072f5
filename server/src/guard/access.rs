//! The guards in front of the routes: `crate::router` declares which
//! [`Permission`] each group of routes [`Needs`] (a `route_layer` beside the
//! group); the server functions need what `app::api::PERMISSIONS` says
//! (deny-by-default for one it does not name); this file says what a request
//! without it gets. A browser without a session is sent to `/login?next=...`
//! (on the public host, where its session cookie will live); a server
//! function or `/events` gets `401` JSON `{"error":"unauthenticated"}`; a
//! role that may not act gets `403` (JSON for programs, the error page for
//! browsers). A request let through carries its
//! [`User`](engine::accounts::User) in its extensions.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use domain::Permission;

use crate::session::AuthSession;

/// Where people reach the dashboard, for the sign-in redirect.
#[derive(Clone)]
pub struct PublicOrigin {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// The host part (lower case), to tell whether a request is on it.
    pub host: String,
}

/// What a group of routes needs: a session whose role holds `reads` for a
/// `GET`/`HEAD`, `writes` for any other method, unless its [`Rule`] says
/// otherwise for some paths. `crate::router` declares one per group of
/// routes, beside them (`route_layer`), with [`guard`].
#[derive(Clone)]
pub struct Needs {
    public: PublicOrigin,
    reads: Permission,
    writes: Permission,
    rule: Rule,
}

/// Which paths of a group need something other than `reads`/`writes` by
/// method.
#[derive(Clone, Copy)]
enum Rule {
    /// None: every path by its method.
    Group,
    /// The server functions (under [`SERVER_FUNCTIONS`]) each need what
    /// [`app::api::PERMISSIONS`] says (an administrator's when it is not
    /// there); the pages beside them are by their method.
    ServerFunctions,
    /// The sandbox's knobs (revoke, faults, clock, settings) need `writes`;
    /// the rest of the emulator is open.
    SandboxControls,
    /// The files and every address no route answers (the 404 page): the
    /// stylesheet, scripts and icon are open; an unknown address under the
    /// administrator's prefixes (server functions, the settings forms, the
    /// sandbox's controls) needs `writes` whatever the method, so no one
    /// below learns more there than before; anything else by its method.
    FilesAndNotFound,
    /// The OAuth callback: a flow a connect link started (its `state` says
    /// so, and the engine checks the stored row agrees) is open, since its
    /// visitor has no account here; any other by its method, as its start.
    OAuthCallback,
}

impl Needs {
    /// `permission`, whatever the method.
    pub fn to(public: &PublicOrigin, permission: Permission) -> Self {
        Self {
            public: public.clone(),
            reads: permission,
            writes: permission,
            rule: Rule::Group,
        }
    }

    /// A page: reading it is a viewer's; any other method an administrator's
    /// (deny by default).
    pub fn page(public: &PublicOrigin) -> Self {
        Self {
            public: public.clone(),
            reads: Permission::Read,
            writes: Permission::Administer,
            rule: Rule::Group,
        }
    }

    /// The pages ([`Needs::page`]) and the server functions beside them
    /// ([`Rule::ServerFunctions`]).
    pub fn server_functions_and_pages(public: &PublicOrigin) -> Self {
        Self {
            rule: Rule::ServerFunctions,
            ..Self::page(public)
        }
    }

    /// The built-in sandbox: its controls are an administrator's, the rest
    /// is open ([`Rule::SandboxControls`]).
    pub fn sandbox_controls(public: &PublicOrigin) -> Self {
        Self {
            rule: Rule::SandboxControls,
            ..Self::to(public, Permission::Administer)
        }
    }

    /// The OAuth callback: an operator's, a connect link's flow excepted
    /// ([`Rule::OAuthCallback`]).
    pub fn oauth_callback(public: &PublicOrigin) -> Self {
        Self {
            rule: Rule::OAuthCallback,
            ..Self::to(public, Permission::Operate)
        }
    }

    /// The files and the 404 page ([`Rule::FilesAndNotFound`]).
    pub fn files_and_not_found(public: &PublicOrigin) -> Self {
        Self {
            rule: Rule::FilesAndNotFound,
            ..Self::page(public)
        }
    }

    /// What `request` needs, `None` if it is open.
    fn permission_for(&self, request: &Request) -> Option<Permission> {
        let path = request.uri().path();
        let by_method = self.permission(request.method());
        match self.rule {
            Rule::Group => Some(by_method),
            Rule::ServerFunctions if path.starts_with(SERVER_FUNCTIONS) => {
                Some(app::api::permission_of(path).unwrap_or(Permission::Administer))
            }
            Rule::ServerFunctions => Some(by_method),
            Rule::SandboxControls if is_sandbox_control(path) => Some(self.writes),
            Rule::SandboxControls => None,
            Rule::FilesAndNotFound if path.starts_with("/pkg/") || path == "/favicon.ico" => None,
            Rule::FilesAndNotFound
                if path.starts_with(SERVER_FUNCTIONS)
                    || path.starts_with("/settings/")
                    || is_sandbox_control(path) =>
            {
                Some(self.writes)
            }
            Rule::FilesAndNotFound => Some(by_method),
            Rule::OAuthCallback if is_link_flow(request) => None,
            Rule::OAuthCallback => Some(by_method),
        }
    }

    fn permission(&self, method: &Method) -> Permission {
        if method == Method::GET || method == Method::HEAD {
            self.reads
        } else {
            self.writes
        }
    }
}

/// Whether a callback's `state` names a flow a connect link started.
fn is_link_flow(request: &Request) -> bool {
    request
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "state")
                .map(|(_, value)| engine::connect::links::is_link_state(&value))
        })
        .unwrap_or(false)
}

/// Refuses a path that is not plain (a middleware around every route, inside
/// the session layer): the permissions are declared per route, and a path
/// that something behind them might normalise into another one is refused.
pub async fn plain_paths_only(request: Request, next: Next) -> Response {
    if !is_plain_path(request.uri().path()) {
        return (
            StatusCode::BAD_REQUEST,
            "This address has dot segments, doubled or encoded slashes: ask for the plain path.",
        )
            .into_response();
    }
    next.run(request).await
}

/// The guard of a group of routes: lets a request the group's [`Needs`]
/// leave open through, and a session whose role holds what it needs, with
/// its [`User`](engine::accounts::User) in the request's extensions.
pub async fn guard(
    State(needs): State<Needs>,
    auth: AuthSession,
    request: Request,
    next: Next,
) -> Response {
    match needs.permission_for(&request) {
        None => next.run(request).await,
        Some(permission) => pass(permission, &needs.public, auth, request, next).await,
    }
}

/// Where the server functions are served (`#[server]`'s default prefix).
const SERVER_FUNCTIONS: &str = "/api/";

/// Whether `path` is the sandbox's controls or under them.
fn is_sandbox_control(path: &str) -> bool {
    path == "/sandbox/control" || path.starts_with("/sandbox/control/")
}

async fn pass(
    permission: Permission,
    public: &PublicOrigin,
    auth: AuthSession,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(user) = auth.user.map(|u| u.0) else {
        return unauthenticated(&request, public);
    };
    if !user.role.may(permission) {
        tracing::warn!(user = user.id, role = %user.role, path = %request.uri().path(), "refused: role may not");
        return forbidden(&request, &permission.refusal(user.role));
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}

/// Whether `path` names one thing only: no `.` or `..` segment, no empty
/// segment, no backslash and no encoded dot, slash or backslash. The routes
/// are matched by path; a path that something behind them might
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
    crate::errors::error_page_titled(StatusCode::FORBIDDEN, "Not allowed", sentence)
}

#[cfg(test)]
mod tests {
    use super::*;

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
