//! Rejects state-changing requests that another site made the browser send
//! (CSRF): every non-GET request, and `GET /oauth/start`. Browsers label such
//! requests with `Sec-Fetch-Site` and `Origin`; clients that send neither (curl,
//! the provider's servers) are not browsers acting for someone else.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let guarded = request.method() != Method::GET && request.method() != Method::HEAD
        || request.uri().path() == "/oauth/start";
    if guarded && is_cross_site(&request) {
        tracing::warn!(path = %request.uri().path(), "rejected a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: this action must come from the dashboard's own pages.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // same-origin: our own pages; none: typed in the address bar or a bookmark.
        return !matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}
