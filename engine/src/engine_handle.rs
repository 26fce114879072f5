//! [`Engine`]: everything a request handler or server function needs, in one
//! cheap-to-clone value that the server puts in context.

use std::sync::Arc;

use crate::oauth::AtlassianClient;
use crate::refresh::Flights;
use crate::vault::TokenVault;
use crate::{Clock, Database};

/// The dashboard's server-side services.
#[derive(Clone)]
pub struct Engine {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub vault: TokenVault,
    pub atlassian: AtlassianClient,
    /// True when the built-in sandbox stands in for Atlassian.
    pub sandbox_mode: bool,
    /// Refresh this many seconds before an access token expires.
    pub refresh_margin_secs: i64,
    /// Refreshes in flight (single-flight per integration).
    pub(crate) flights: Arc<Flights>,
}

impl Engine {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        vault: TokenVault,
        atlassian: AtlassianClient,
        sandbox_mode: bool,
        refresh_margin_secs: i64,
    ) -> Self {
        Self {
            db,
            clock,
            vault,
            atlassian,
            sandbox_mode,
            refresh_margin_secs,
            flights: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sandbox_mode", &self.sandbox_mode)
            .field("refresh_margin_secs", &self.refresh_margin_secs)
            .finish_non_exhaustive()
    }
}
