//! The wire contract's views (`domain::views`) made from the engine's data:
//! what the server functions answer, `/v1` sends and the live stream
//! carries. An integration is rendered at the engine's clock with its status
//! rule, exactly as the webhook outbox renders it inside a change.

use domain::time::rfc3339;
use domain::views::{ConnectLinkView, EventView, IntegrationView};
use domain::Integration;

use crate::db::{ConnectSessionRow, TokenEvent};
use crate::Engine;

impl Engine {
    /// The view of `i` now, its status judged by this engine's margin and policy.
    pub fn integration_view(&self, i: Integration) -> IntegrationView {
        IntegrationView::at(i, self.now(), self.settings().status_rule())
    }
}

/// A connect link as the integration page lists it (never its token).
pub fn connect_link_view(row: ConnectSessionRow) -> ConnectLinkView {
    ConnectLinkView {
        id: row.id,
        created_at: rfc3339(row.created_at),
        created_by: domain::Actor::parse(&row.created_by)
            .map(|a| a.label())
            .unwrap_or(row.created_by),
        expires_at: rfc3339(row.expires_at),
        opened_at: row.opened_at.map(rfc3339),
        outcome: row.outcome,
    }
}

/// An entry of an integration's event log as the integration page shows it.
pub fn event_view(e: TokenEvent) -> EventView {
    EventView {
        id: e.id,
        at: rfc3339(e.at),
        kind: e.kind,
        outcome: e.outcome,
        http_status: e.http_status,
        error_code: e.error_code,
        message: e.message,
        actor: e
            .actor
            .as_deref()
            .and_then(domain::Actor::parse)
            .map(|a| a.label().to_owned()),
    }
}
