//! Only the dashboard's own names are served: the public host (`PUBLIC_URL`,
//! else the redirect URI's) and the loopback names. A request naming any other
//! `Host` is answered `421 Misdirected Request`: a page on another site whose
//! name an attacker re-pointed at this server (DNS rebinding) gets nothing,
//! and cannot pass the cross-site check with a `Host` of its own choosing.
//! The probes (`/healthz`, `/readyz`) answer whatever the name: an
//! orchestrator may call them by address, and they reveal nothing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::guard::access::request_host;

/// The host names served (lower case, without ports).
#[derive(Clone)]
pub struct ServedHosts(Arc<Vec<String>>);

impl ServedHosts {
    /// `public` (the configured names) plus `localhost`, `127.0.0.1` and `[::1]`.
    pub fn new(public: Vec<String>) -> Self {
        let mut hosts = public;
        for loopback in ["localhost", "127.0.0.1", "[::1]"] {
            if !hosts.iter().any(|h| h == loopback) {
                hosts.push(loopback.to_owned());
            }
        }
        Self(Arc::new(hosts))
    }

    pub fn serves(&self, host: &str) -> bool {
        self.0.iter().any(|h| h == host)
    }
}

/// The middleware.
pub async fn only_served_hosts(
    State(hosts): State<ServedHosts>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    match request_host(&request) {
        Some(host) if hosts.serves(&host) => next.run(request).await,
        host => {
            tracing::warn!(
                host = host.as_deref().unwrap_or(""),
                "refused a request for a host this server does not serve"
            );
            (
                StatusCode::MISDIRECTED_REQUEST,
                "This server does not answer for that host name.",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_host_and_the_loopback_names_are_served() {
        let hosts = ServedHosts::new(vec!["dash.example.com".into()]);
        for ok in ["dash.example.com", "localhost", "127.0.0.1", "[::1]"] {
            assert!(hosts.serves(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "dash.example.com.evil.example",
            "127.0.0.2",
            "",
        ] {
            assert!(!hosts.serves(bad), "{bad}");
        }
    }
}
