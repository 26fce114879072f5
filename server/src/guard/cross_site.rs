//! Rejects state-changing requests that another site made the browser send
//! (CSRF): every non-GET request, and `GET /oauth/start`. Browsers label such
//! requests with `Sec-Fetch-Site` and `Origin`; clients that send neither (curl,
//! the provider's servers) are not browsers acting for someone else. A refusal
//! is the product's error page (`403`).
//!
//! # The hop between host names, and why letting it through is safe
//!
//! The binding cookie must be set on the redirect URI's host, so a start that
//! arrives on another name for this server (`127.0.0.1` when the redirect URI
//! says `localhost`) creates nothing and redirects the browser to
//! `/oauth/start` on the redirect URI's host. Browsers label that redirected
//! request `Sec-Fetch-Site: cross-site`, since the two names are different
//! sites, and for a user's first click it would be refused here.
//!
//! So the hop carries a [`HopTickets`] ticket (`?hop=`): 256 random bits,
//! single-use, valid for a minute, kept (as a digest) in the database, so
//! whichever process the hop lands on can spend it. A cross-site `GET /oauth/start` is let through only with a live
//! ticket, and presenting one spends it whatever the request's labels. (A
//! request without `Sec-Fetch-Site` gets a plain hop: a client that sends no
//! Fetch Metadata sends no `Origin` on a GET navigation either, and passes.)
//!
//! - A ticket is issued only by a start that passed this guard itself: a link
//!   on our own page, a typed address or bookmark, or a client that is not a
//!   browser. A page on another site that links to either name's
//!   `/oauth/start` is refused as before; it cannot read a ticket out of a
//!   redirect it causes (cross-origin redirects are opaque to it) and cannot
//!   guess one.
//! - The remaining case is someone able to reach the server directly who
//!   mints a ticket and lures a victim to the hopped URL within a minute. The
//!   most that achieves is what the victim typing `/oauth/start` achieves: a
//!   flow started in the victim's browser. The start answers the state (inside
//!   the consent URL) and the cookie bound to it in one response to that
//!   browser, so only the account the victim consents with at the provider
//!   can come back, and only into the browser that holds the cookie. The
//!   login CSRF the state and cookie binding exists for (the attacker's own
//!   code delivered to the victim's callback) needs a state whose cookie the
//!   victim holds but whose value the attacker knows, and no ticket gives
//!   that. Re-authenticating someone else's integration is refused by the
//!   engine unless the same Atlassian account comes back.
//! - Tickets never reach the request logs (the trace span records the path
//!   only) and die after one use, so a hopped URL left in a browser's history
//!   is worthless.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
pub use engine::hop_tickets::HopTickets;

/// The path whose GET starts a flow (and is therefore guarded).
const START_PATH: &str = "/oauth/start";
/// The query parameter that carries the hop's ticket.
pub const HOP_PARAM: &str = "hop";

pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let starts_a_flow = request.uri().path() == START_PATH;
    let guarded =
        request.method() != Method::GET && request.method() != Method::HEAD || starts_a_flow;
    // A ticket is spent by any start that presents it, cross-site or not.
    let hop_ticket_ok = match (
        starts_a_flow,
        hop_ticket(&request),
        request.extensions().get::<HopTickets>(),
    ) {
        (true, Some(ticket), Some(tickets)) => tickets.redeem(&ticket).await,
        _ => false,
    };
    if guarded && is_cross_site(&request) && !hop_ticket_ok {
        tracing::warn!(
            path = %super::loggable_path(request.uri().path()),
            "rejected a cross-site request"
        );
        return crate::errors::error_page_titled(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This request came from another site, so it was refused: connecting, \
             refreshing and disconnecting must be started from the dashboard's own pages.",
        );
    }
    next.run(request).await
}

fn hop_ticket(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == HOP_PARAM)
        .map(|(_, value)| value.into_owned())
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
