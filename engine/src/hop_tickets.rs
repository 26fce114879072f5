//! The single-use tickets that let a flow's start hop from one host name to
//! another (the server's `cross_site` module says why that is safe). They
//! live in the database, so the hop may land on any process behind a load
//! balancer, and expire on the engine's clock.

use std::sync::Arc;

use rand::RngCore;

use crate::clock::Clock;
use crate::Database;

/// How long a ticket stays valid: the browser follows the redirect at once.
pub(crate) const HOP_TICKET_LIFETIME_SECS: i64 = 60;
/// At most this many live tickets are stored; past it a hop goes without
/// one (the browser then starts again from the dashboard's own link).
pub(crate) const MAX_HOP_TICKETS: i64 = 10_000;

/// Issues and spends hop tickets; cheap to clone.
#[derive(Clone)]
pub struct HopTickets {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl HopTickets {
    pub(crate) fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// A fresh ticket (256 random bits, hex), valid once within
    /// [`HOP_TICKET_LIFETIME_SECS`]; `None` if it could not be stored (the
    /// cause is logged) or [`MAX_HOP_TICKETS`] are live, and the hop then
    /// goes without one.
    pub async fn issue(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = self.clock.now();
        match self
            .db
            .insert_hop_ticket(
                &ticket,
                now + HOP_TICKET_LIFETIME_SECS,
                now,
                MAX_HOP_TICKETS,
            )
            .await
        {
            Ok(true) => Some(ticket),
            Ok(false) => {
                tracing::warn!("{MAX_HOP_TICKETS} hop tickets are live: this hop goes without one");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "could not store a hop ticket");
                None
            }
        }
    }

    /// Spends `ticket`: true if it was issued (by any process), unspent and
    /// unexpired. Anything but 64 lower-case hex digits is refused without
    /// a look at the database.
    pub async fn redeem(&self, ticket: &str) -> bool {
        let well_formed = ticket.len() == 64
            && ticket
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return false;
        }
        match self.db.redeem_hop_ticket(ticket, self.clock.now()).await {
            Ok(good) => good,
            Err(e) => {
                tracing::error!(error = %e, "could not spend a hop ticket");
                false
            }
        }
    }
}

impl crate::Engine {
    /// The hop tickets, on this engine's database and clock.
    pub fn hop_tickets(&self) -> HopTickets {
        HopTickets::new(self.db().clone(), self.clock().clone())
    }
}
