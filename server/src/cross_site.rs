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
//! single-use, valid for [`HOP_TICKET_LIFETIME`], kept in this process's
//! memory. A cross-site `GET /oauth/start` is let through only with a live
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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;

/// The path whose GET starts a flow (and is therefore guarded).
const START_PATH: &str = "/oauth/start";
/// The query parameter that carries the hop's ticket.
pub const HOP_PARAM: &str = "hop";
/// How long a hop's ticket stays valid: the browser follows the redirect at once.
pub const HOP_TICKET_LIFETIME: Duration = Duration::from_secs(60);
/// At most this many unspent tickets are kept; past it the oldest is dropped.
const MAX_TICKETS: usize = 10_000;

pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let starts_a_flow = request.uri().path() == START_PATH;
    let guarded =
        request.method() != Method::GET && request.method() != Method::HEAD || starts_a_flow;
    // A ticket is spent by any start that presents it, cross-site or not.
    let hop_ticket_ok = starts_a_flow
        && hop_ticket(&request).is_some_and(|ticket| {
            request
                .extensions()
                .get::<HopTickets>()
                .is_some_and(|tickets| tickets.redeem(&ticket))
        });
    if guarded && is_cross_site(&request) && !hop_ticket_ok {
        tracing::warn!(path = %request.uri().path(), "rejected a cross-site request");
        return crate::oauth_routes::error_page_titled(
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

/// The single-use tickets of hops between host names (see the module's
/// documentation). The router shares one set between the start handler,
/// which issues them, and the guard, which spends them.
#[derive(Clone)]
pub struct HopTickets {
    /// Ticket -> when it stops being valid.
    live: Arc<Mutex<HashMap<String, Instant>>>,
    capacity: usize,
}

impl Default for HopTickets {
    fn default() -> Self {
        Self::with_capacity(MAX_TICKETS)
    }
}

impl HopTickets {
    /// Keeps at most `capacity` unspent tickets (the oldest goes first).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            live: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// A fresh ticket, valid once within [`HOP_TICKET_LIFETIME`].
    pub fn issue(&self) -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, expires| *expires > now);
        if live.len() >= self.capacity {
            if let Some(oldest) = live
                .iter()
                .min_by_key(|(_, expires)| **expires)
                .map(|(t, _)| t.clone())
            {
                live.remove(&oldest);
            }
        }
        live.insert(ticket.clone(), now + HOP_TICKET_LIFETIME);
        ticket
    }

    /// Spends `ticket`: true if it was issued here, unspent and unexpired.
    pub fn redeem(&self, ticket: &str) -> bool {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(ticket)
            .is_some_and(|expires| expires > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_good_once() {
        let tickets = HopTickets::default();
        let ticket = tickets.issue();
        assert_eq!(ticket.len(), 64);
        assert!(tickets.redeem(&ticket));
        assert!(!tickets.redeem(&ticket));
        assert!(!tickets.redeem("made-up"));
        assert_ne!(tickets.issue(), tickets.issue());
    }

    #[test]
    fn an_expired_ticket_is_refused() {
        let tickets = HopTickets::default();
        let ticket = tickets.issue();
        tickets
            .live
            .lock()
            .expect("lock")
            .insert(ticket.clone(), Instant::now() - Duration::from_secs(1));
        assert!(!tickets.redeem(&ticket));
    }

    #[test]
    fn unspent_tickets_are_bounded() {
        let tickets = HopTickets::with_capacity(8);
        let first = tickets.issue();
        for _ in 0..8 {
            tickets.issue();
        }
        assert_eq!(tickets.live.lock().expect("lock").len(), 8);
        assert!(!tickets.redeem(&first), "the oldest went first");
    }
}
