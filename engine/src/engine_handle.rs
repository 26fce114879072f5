//! [`Engine`]: the one door into the dashboard's server-side logic. Each use
//! case is one method (listing, reading, refreshing, disconnecting, testing,
//! connecting; see the other modules of this crate for the methods that have
//! files of their own), and each returns domain types. Server functions and
//! HTTP handlers only translate between HTTP and these.
//!
//! Its fields are private to this file. The feature files reach the
//! foundation (the database, the clock, the vault, the provider client)
//! and the services that own their state (the refreshes' [`Refreshing`],
//! the live updates, the webhooks, the keys' usage log, the connect links'
//! settings) through the accessors below, never a field.

use std::sync::Arc;

use domain::{Actor, EventKind, EventOutcome, IntegrationId, RefreshPolicy, StatusRule, UnixTime};

use crate::db::{NewEvent, Page, TokenEvent, MAX_PAGE_SIZE};
use crate::oauth::AtlassianClient;
use crate::refresh::refreshing::{Refreshing, MAX_SLOW_DOWN_SECS};
use crate::vault::TokenVault;
use crate::{Clock, Database, DatabaseError, Integration};
use domain::{FleetSummary, PageQuery};

/// Events shown on an integration's page, newest first.
pub(crate) const EVENT_LOG_LENGTH: i64 = 200;

/// The dashboard's server-side services.
#[derive(Clone)]
pub struct Engine {
    db: Database,
    clock: Arc<dyn Clock>,
    vault: TokenVault,
    atlassian: AtlassianClient,
    settings: EngineSettings,
    /// The refreshes' shared state in this process.
    refreshing: Arc<Refreshing>,
    /// Where committed changes are published (see [`crate::changes`]).
    changes: crate::changes::Changes,
    /// Changes published here, not yet in the database's feed.
    unwritten: Arc<crate::change_feed::Unwritten>,
    /// The API keys' usage, written in batches (see [`crate::service_api::usage`]).
    usage: Arc<crate::service_api::usage::UsageLog>,
    /// Webhooks: the worker's wake-up, the HTTP clients.
    webhooks: Arc<crate::webhooks::Webhooks>,
    /// Where connect links point and may return to.
    links: Arc<crate::connect::link_settings::LinkSettings>,
    /// Jira's rate limits: holds and pools (see [`crate::jira_limits`]).
    governor: Arc<crate::jira_limits::Governor>,
}

/// How the engine was configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// True when the built-in sandbox stands in for Atlassian.
    pub sandbox_mode: bool,
    /// Refresh this many seconds before an access token expires.
    pub refresh_margin_secs: i64,
    /// The most scheduled token requests in flight at once (the pace adapts below it).
    pub max_concurrency: usize,
    /// Whether the scheduler keeps access tokens fresh or only refresh tokens alive.
    pub refresh_policy: RefreshPolicy,
}

impl EngineSettings {
    /// How the statuses are judged under these settings.
    pub fn status_rule(&self) -> StatusRule {
        StatusRule {
            margin_secs: self.refresh_margin_secs,
            policy: self.refresh_policy,
        }
    }
}

/// Why a use case could not be carried out. The text is for the user; the
/// cause of a storage failure is logged where it happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("Integration {0} does not exist or is already disconnected.")]
    NotFound(IntegrationId),
    #[error("Could not {0}; the server logged the cause.")]
    Storage(&'static str),
}

/// An integration and its event log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationDetail {
    pub integration: Integration,
    pub events: Vec<TokenEvent>,
}

impl Engine {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        vault: TokenVault,
        atlassian: AtlassianClient,
        settings: EngineSettings,
    ) -> Self {
        let public_url = atlassian
            .settings()
            .redirect_uri
            .join("/")
            .unwrap_or_else(|_| atlassian.settings().redirect_uri.clone());
        Self {
            db,
            clock,
            vault,
            settings,
            refreshing: Arc::new(Refreshing::new(settings.max_concurrency)),
            usage: Arc::default(),
            changes: Default::default(),
            unwritten: Arc::default(),
            webhooks: Arc::default(),
            governor: Arc::default(),
            links: Arc::new(crate::connect::link_settings::LinkSettings {
                public_url,
                return_origins: Vec::new(),
            }),
            atlassian,
        }
    }

    /// The same engine with connect links pointing at `links.public_url`
    /// and returning only to `links.return_origins` (by default: the
    /// redirect URI's origin, and nowhere).
    pub fn with_connect_links(
        mut self,
        links: crate::connect::link_settings::LinkSettings,
    ) -> Self {
        self.links = Arc::new(links);
        self
    }

    /// Where connect links point and may return to.
    pub fn link_settings(&self) -> &crate::connect::link_settings::LinkSettings {
        &self.links
    }

    /// The database.
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// The time source.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Seals and opens the stored tokens.
    pub(crate) fn vault(&self) -> &TokenVault {
        &self.vault
    }

    /// Atlassian's endpoints (or the sandbox's).
    pub(crate) fn atlassian(&self) -> &AtlassianClient {
        &self.atlassian
    }

    /// The refreshes' shared state: flights, lease owner, pace, pause.
    pub(crate) fn refreshing(&self) -> &Refreshing {
        &self.refreshing
    }

    /// Where committed changes are published.
    pub(crate) fn changes(&self) -> &crate::changes::Changes {
        &self.changes
    }

    /// Changes published here, not yet in the database's feed.
    pub(crate) fn unwritten(&self) -> &crate::change_feed::Unwritten {
        &self.unwritten
    }

    /// The API keys' usage log.
    pub(crate) fn usage(&self) -> &crate::service_api::usage::UsageLog {
        &self.usage
    }

    /// Jira's rate limits in this process.
    pub fn governor(&self) -> &crate::jira_limits::Governor {
        &self.governor
    }

    /// The governor, to keep beyond a borrow (an admitted call holds it).
    pub(crate) fn governor_handle(&self) -> Arc<crate::jira_limits::Governor> {
        self.governor.clone()
    }

    /// The webhooks' worker wake-up and HTTP clients.
    pub(crate) fn webhooks(&self) -> &crate::webhooks::Webhooks {
        &self.webhooks
    }

    /// A `429`: Atlassian limits the app, not one process, so the pause of
    /// [`Refreshing::slow_down`] is also stored for every other process sharing
    /// the database, which takes it on at its next look
    /// ([`Engine::learn_fleet_pause`]).
    pub(crate) async fn rate_limited(&self, now: UnixTime, secs: i64) {
        let Some(until) = self.refreshing.slow_down(now, secs) else {
            // Already paused as long: nothing new to tell the others.
            return;
        };
        if let Err(e) = self.db.pause_provider(until).await {
            tracing::warn!(error = %e, "could not share the provider's pause with other processes");
        }
    }

    /// Takes on the pause another process sharing the database was asked
    /// for. A stored pause that ends later than any pause may last was
    /// written by a process whose clock ran ahead: it ends after
    /// [`MAX_SLOW_DOWN_SECS`] from now instead, for every process.
    pub(crate) async fn learn_fleet_pause(&self) -> Result<(), DatabaseError> {
        let stored = self.db.provider_paused_until().await?;
        let now = self.now();
        let latest = now + MAX_SLOW_DOWN_SECS;
        let until = if stored > latest {
            tracing::warn!(
                ends_in_secs = stored.secs() - now.secs(),
                "the provider's pause another process stored lasts longer than any may (a clock ahead?): it ends in {MAX_SLOW_DOWN_SECS} s"
            );
            self.db.cap_provider_pause(stored, latest).await?;
            latest
        } else {
            stored
        };
        if self.refreshing.pause_until(until) && until > now {
            tracing::warn!(
                until = until.secs(),
                "another process was asked to slow down: the scheduler pauses"
            );
        }
        Ok(())
    }

    /// How many scheduled token requests may be in flight now (the adaptive pace).
    pub fn provider_pace_limit(&self) -> usize {
        self.refreshing.pace().limit()
    }

    /// The engine's clock, now.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub fn settings(&self) -> EngineSettings {
        self.settings
    }

    /// The origin of the provider's consent page (a form that starts a flow
    /// is redirected there: its page's policy must allow it).
    pub fn consent_origin(&self) -> String {
        self.atlassian
            .settings()
            .auth_url
            .origin()
            .ascii_serialization()
    }

    /// The callback URL registered with the provider.
    pub fn redirect_uri(&self) -> &url::Url {
        &self.atlassian.settings().redirect_uri
    }

    /// The base of Jira's API (`JIRA_API_URL`): the service API's proxy sends
    /// calls under it, and nowhere else.
    pub fn jira_api_url(&self) -> &url::Url {
        &self.atlassian.settings().api_url
    }

    /// Whether the database answers and carries every migration (`/readyz`).
    pub async fn is_ready(&self) -> bool {
        self.db.is_healthy().await && self.db.migrations_applied().await
    }

    /// How long the most overdue refresh has waited, in seconds (0 when none
    /// is overdue): the scheduler's lag, for `/metrics`.
    pub async fn scheduler_lag_secs(&self) -> Result<i64, EngineError> {
        self.db
            .scheduler_lag_secs(self.now(), self.settings.status_rule())
            .await
            .map_err(storage("measure the scheduler's lag"))
    }

    /// Whether the database answers.
    pub async fn is_healthy(&self) -> bool {
        self.db.is_healthy().await
    }

    /// One page of the dashboard at the engine's clock; the page size is
    /// clamped to 1..=[`MAX_PAGE_SIZE`] and the page number to 0 or more.
    #[tracing::instrument(skip(self))]
    pub async fn dashboard_page(&self, query: PageQuery) -> Result<Page, EngineError> {
        let query = PageQuery {
            page: query.page.max(0),
            page_size: query.page_size.clamp(1, MAX_PAGE_SIZE),
            ..query
        };
        self.db
            .dashboard_page(&query, self.now(), self.settings.status_rule())
            .await
            .map_err(storage("list the integrations"))
    }

    /// How many connected integrations have each status, at the engine's clock.
    #[tracing::instrument(skip(self))]
    pub async fn fleet_summary(&self) -> Result<FleetSummary, EngineError> {
        self.db
            .fleet_summary(self.now(), self.settings.status_rule())
            .await
            .map_err(storage("count the integrations"))
    }

    /// One connected integration.
    #[tracing::instrument(skip(self))]
    pub async fn integration(&self, id: IntegrationId) -> Result<Integration, EngineError> {
        self.db
            .find_integration(id)
            .await
            .map_err(storage("read the integration"))?
            .filter(|i| i.disconnected_at.is_none())
            .ok_or(EngineError::NotFound(id))
    }

    /// One connected integration and its event log.
    #[tracing::instrument(skip(self))]
    pub async fn integration_detail(
        &self,
        id: IntegrationId,
    ) -> Result<IntegrationDetail, EngineError> {
        let integration = self.integration(id).await?;
        let events = self
            .db
            .events_of(id, EVENT_LOG_LENGTH)
            .await
            .map_err(storage("read the event log"))?;
        Ok(IntegrationDetail {
            integration,
            events,
        })
    }

    /// Disconnects `id`: its tokens are deleted, its events kept.
    #[tracing::instrument(skip(self))]
    pub async fn disconnect(&self, id: IntegrationId, actor: &Actor) -> Result<(), EngineError> {
        let actor = actor.stored();
        let event = NewEvent {
            integration_id: Some(id),
            kind: EventKind::Disconnect,
            outcome: EventOutcome::Ok,
            http_status: None,
            error_code: None,
            message: "Disconnected; tokens deleted",
            actor: Some(&actor),
        };
        let announce = crate::db::Announce {
            notice: domain::Notice::new(
                domain::WebhookEvent::Disconnected,
                None,
                format!(
                    "Integration {id} was disconnected in the dashboard; its tokens are deleted."
                ),
            ),
            rule: self.settings.status_rule(),
            when: crate::db::AnnounceIf::Always,
        };
        match self.db.disconnect(id, &event, &announce, self.now()).await {
            Ok(true) => {
                self.wake_webhooks();
                self.publish(id).await;
                Ok(())
            }
            Ok(false) => Err(EngineError::NotFound(id)),
            Err(e) => Err(storage("disconnect the integration")(e)),
        }
    }

    /// Appends an event; a failure to write it is logged, never dropped silently.
    pub(crate) async fn record_event(&self, event: &NewEvent<'_>) {
        if let Err(e) = self.db.record_event(event, self.now()).await {
            tracing::error!(
                kind = %event.kind,
                outcome = %event.outcome,
                error = %e,
                "could not record an event"
            );
        }
    }
}

/// Logs a database error and names what could not be done.
pub(crate) fn storage(what: &'static str) -> impl FnOnce(DatabaseError) -> EngineError {
    move |e| {
        tracing::error!(error = %e, "could not {what}");
        EngineError::Storage(what)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
