//! The single-use tickets that let a flow's start hop from one host name to
//! another (the server's `cross_site` module says why that is safe). They
//! live in the database, so the hop may land on any process behind a load
//! balancer, and expire on the engine's clock.

use std::sync::Arc;

use rand::RngCore;

use crate::clock::Clock;
use crate::Database;

/// How long a ticket stays valid: the browser follows the redirect at once.
pub const HOP_TICKET_LIFETIME_SECS: i64 = 60;

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
    /// cause is logged), and the hop then goes without one.
    pub async fn issue(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = self.clock.now();
        match self
            .db
            .insert_hop_ticket(&ticket, now + HOP_TICKET_LIFETIME_SECS, now)
            .await
        {
            Ok(()) => Some(ticket),
            Err(e) => {
                tracing::error!(error = %e, "could not store a hop ticket");
                None
            }
        }
    }

    /// Spends `ticket`: true if it was issued (by any process), unspent and
    /// unexpired.
    pub async fn redeem(&self, ticket: &str) -> bool {
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
        HopTickets::new(self.db.clone(), self.clock.clone())
    }
}
