//! Every change to an integration, published once, by the engine, after it
//! is committed, whatever caused it (a button, the scheduler, the callback, a
//! disconnect): open dashboards subscribe ([`Engine::subscribe`]) and apply
//! each at once. A change carries the integration as stored right after it
//! (read once, shared by every subscriber), or its id when it is gone.
//!
//! Subscribers that fall more than [`BUFFER`] changes behind are told so
//! (`RecvError::Lagged`) and must re-read what they show. Changes made by
//! other processes sharing the database arrive through the feed
//! ([`crate::change_feed`]).

use std::sync::Arc;

use domain::IntegrationId;
use tokio::sync::broadcast;

use crate::{Engine, Integration};

/// Changes kept for a slow subscriber before it is told it lagged.
pub(crate) const BUFFER: usize = 1_024;

/// One committed change.
#[derive(Debug, Clone)]
pub enum Change {
    /// The integration as it now stands (connected, refreshed, deactivated,
    /// tested, re-authenticated).
    Updated(Arc<Integration>),
    /// Disconnected: it leaves every page.
    Removed(IntegrationId),
    /// Changes were missed (made elsewhere, and the feed moved on): re-read.
    Resync,
}

/// The engine's publisher (cheap to clone; one per engine).
#[derive(Clone)]
pub(crate) struct Changes(broadcast::Sender<Change>);

impl Default for Changes {
    fn default() -> Self {
        Self(broadcast::channel(BUFFER).0)
    }
}

impl Changes {
    pub(crate) fn has_subscribers(&self) -> bool {
        self.0.receiver_count() > 0
    }

    pub(crate) fn send(&self, change: Change) {
        // Nobody listening is fine.
        let _ = self.0.send(change);
    }
}

impl Engine {
    /// Every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes().0.subscribe()
    }

    /// Publishes integration `id` as it now stands (gone: published as
    /// removed), here and, through the feed, to the other processes.
    pub(crate) async fn publish(&self, id: IntegrationId) {
        self.queue_for_feed(id);
        if !self.publish_here(id).await {
            self.changes().send(Change::Resync);
        }
    }

    /// Tells this process's subscribers about integration `id` as it now
    /// stands; false if it could not be read (the cause is logged).
    pub(crate) async fn publish_here(&self, id: IntegrationId) -> bool {
        if !self.changes().has_subscribers() {
            return true;
        }
        let change = match self.db().find_integration(id).await {
            Ok(Some(integration)) if integration.disconnected_at.is_none() => {
                Change::Updated(Arc::new(integration))
            }
            Ok(_) => Change::Removed(id),
            Err(e) => {
                tracing::error!(integration = %id, error = %e, "could not read a changed integration to publish it");
                return false;
            }
        };
        self.changes().send(change);
        true
    }
}
