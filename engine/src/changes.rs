//! Every change to an integration, published once, by the engine, after it
//! is committed, whatever caused it (a button, the scheduler, the callback, a
//! disconnect): open dashboards subscribe ([`Engine::subscribe`]) and apply
//! each at once. A change carries the integration as stored right after it
//! (read once, shared by every subscriber), or its id when it is gone.
//!
//! Subscribers that fall more than [`BUFFER`] changes behind are told so
//! (`RecvError::Lagged`) and must re-read what they show.

use std::sync::Arc;

use domain::IntegrationId;
use tokio::sync::broadcast;

use crate::{Engine, Integration};

/// Changes kept for a slow subscriber before it is told it lagged.
pub const BUFFER: usize = 1_024;

/// One committed change.
#[derive(Debug, Clone)]
pub enum Change {
    /// The integration as it now stands (connected, refreshed, deactivated,
    /// tested, re-authenticated).
    Updated(Arc<Integration>),
    /// Disconnected: it leaves every page.
    Removed(IntegrationId),
}

impl Change {
    /// The integration it concerns.
    pub fn id(&self) -> IntegrationId {
        match self {
            Change::Updated(i) => i.id,
            Change::Removed(id) => *id,
        }
    }
}

/// The engine's publisher (cheap to clone; one per engine).
#[derive(Clone)]
pub struct Changes(broadcast::Sender<Change>);

impl Default for Changes {
    fn default() -> Self {
        Self(broadcast::channel(BUFFER).0)
    }
}

impl Engine {
    /// Every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.0.subscribe()
    }

    /// Publishes integration `id` as it now stands (gone: published as removed).
    pub(crate) async fn publish(&self, id: IntegrationId) {
        if self.changes.0.receiver_count() == 0 {
            return;
        }
        let change = match self.db.find_integration(id).await {
            Ok(Some(integration)) if integration.disconnected_at.is_none() => {
                Change::Updated(Arc::new(integration))
            }
            Ok(_) => Change::Removed(id),
            Err(e) => {
                tracing::error!(integration = %id, error = %e, "could not read a changed integration to publish it");
                return;
            }
        };
        // Nobody listening is fine.
        let _ = self.changes.0.send(change);
    }
}
