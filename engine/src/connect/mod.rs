//! The connect flow: [`Engine::start_connect`] stores a single-use state bound
//! to the browser and builds the consent URL; [`Engine::finish_connect`] checks
//! the callback, exchanges the code, reads the sites and the account, and
//! stores one integration per account. Every failure writes no integration.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use url::Url;

pub(crate) mod link_settings;
pub mod links;
mod placement;

pub(crate) use placement::{connection_event, connection_notices, place_grant};
pub(crate) use placement::{LinkOwner, Placement};

use domain::{Actor, ConnectFailure, EventKind, EventOutcome, Flash, IntegrationId, UnixTime};

use crate::db::{ConnectionColumns, NewEvent, NewOAuthState, StoredState};
use crate::oauth::TokenSet;
use crate::provider_error::{loggable, ProviderError};
use crate::vault::Column;
use crate::{DatabaseError, Engine, Secret};
use domain::Site;

/// States live 10 minutes.
pub const STATE_LIFETIME_SECS: i64 = 600;

/// A flow ready to send the browser to the consent page. (No `Debug`: the
/// cookie value is a secret.)
pub struct StartedFlow {
    pub authorize_url: Url,
    /// The value of the HttpOnly cookie that binds the state to this browser.
    pub browser_cookie: String,
}

/// The callback's query parameters. (No `Debug`: `code` is a credential.)
#[derive(Clone, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A stored connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// A new integration.
    New(IntegrationId),
    /// An account that already had an integration: that row was updated.
    Reconnected(IntegrationId),
    /// The integration the flow was started for was repaired.
    Reauthenticated(IntegrationId),
}

impl Connected {
    pub fn id(self) -> IntegrationId {
        match self {
            Connected::New(id) | Connected::Reconnected(id) | Connected::Reauthenticated(id) => id,
        }
    }

    /// The flash the dashboard shows.
    pub fn flash(self) -> Flash {
        match self {
            Connected::New(_) => Flash::Connected,
            Connected::Reconnected(_) => Flash::Reconnected,
            Connected::Reauthenticated(_) => Flash::Reauthenticated,
        }
    }
}

/// Something wrong with the callback's state: the callback answers these with
/// a page (the flow cannot be trusted, so nothing is attempted). The text is
/// the sentence shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateProblem {
    #[error(
        "This sign-in link has no state, so it cannot be trusted. Start again from the dashboard."
    )]
    Missing,
    #[error("This sign-in attempt is unknown to the dashboard. Start again from the dashboard.")]
    Unknown,
    #[error(
        "This sign-in attempt expired (they last 10 minutes). Start again from the dashboard."
    )]
    Expired,
    #[error("This sign-in attempt was already used. Start again from the dashboard.")]
    Replayed,
    #[error("This sign-in attempt was started in another browser (its cookie is missing). Start again from this browser.")]
    MissingCookie,
    #[error(
        "This sign-in attempt belongs to another browser session. Start again from this browser."
    )]
    CookieMismatch,
}

/// Why a flow stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The state could not be trusted: nothing was attempted.
    #[error(transparent)]
    State(#[from] StateProblem),
    /// The user declined on the consent page.
    #[error("{}", Flash::Declined.sentence())]
    Declined,
    /// The flow failed after a trusted state; `cause` says what the provider
    /// or the database said (for the log and the event, not the flash).
    #[error("{}{}", .failure.sentence(), .cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Failed {
        failure: ConnectFailure,
        cause: Option<String>,
        http_status: Option<u16>,
        error_code: Option<String>,
    },
}

impl ConnectError {
    pub(crate) fn failed(failure: ConnectFailure) -> Self {
        ConnectError::Failed {
            failure,
            cause: None,
            http_status: None,
            error_code: None,
        }
    }

    fn provider(failure: ConnectFailure) -> impl FnOnce(ProviderError) -> Self {
        move |e| ConnectError::Failed {
            failure,
            http_status: e.status(),
            error_code: e.code().map(str::to_owned),
            cause: Some(e.to_string()),
        }
    }

    /// The flash the dashboard shows, for errors that are not state problems.
    pub fn flash(&self) -> Option<Flash> {
        match self {
            ConnectError::State(_) => None,
            ConnectError::Declined => Some(Flash::Declined),
            ConnectError::Failed { failure, .. } => Some(Flash::Failed(*failure)),
        }
    }
}

fn random_text() -> String {
    crate::secret::random_token()
}

/// What the database keeps of the browser cookie: its hash, never the value.
fn binding_of(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(cookie.as_bytes()))
}

fn storage_error(e: impl std::fmt::Display) -> ConnectError {
    tracing::error!(error = %e, "could not store the OAuth flow");
    ConnectError::failed(ConnectFailure::Storage)
}

/// What the provider said about a consent, ready to be stored.
struct Consent {
    tokens: TokenSet,
    account_id: String,
    account_name: String,
    account_email: Option<String>,
    scopes: Vec<String>,
    sites: Vec<Site>,
}

impl Engine {
    /// Starts a flow (for a new connection, or to re-authenticate `reauth_of`).
    #[tracing::instrument(skip(self))]
    pub async fn start_connect(
        &self,
        reauth_of: Option<IntegrationId>,
    ) -> Result<StartedFlow, ConnectError> {
        if let Some(id) = reauth_of {
            if self
                .db()
                .find_integration(id)
                .await
                .map_err(storage_error)?
                .is_none()
            {
                return Err(ConnectError::failed(ConnectFailure::UnknownIntegration));
            }
        }
        let now = self.clock().now();
        let state = random_text();
        let cookie = random_text();
        let (authorize_url, verifier) = self.atlassian().authorize_url(&state);
        self.db()
            .insert_oauth_state(
                &NewOAuthState {
                    state: &state,
                    browser_binding: &binding_of(&cookie),
                    pkce_verifier: &verifier,
                    integration_id: reauth_of,
                    connect_session_id: None,
                    expires_at: now + STATE_LIFETIME_SECS,
                },
                now,
            )
            .await
            .map_err(storage_error)?;
        Ok(StartedFlow {
            authorize_url,
            browser_cookie: cookie,
        })
    }

    /// Finishes a flow from the callback's parameters and the browser's
    /// cookie. The state is checked and spent first, whatever else the
    /// callback carries; a failure after that is logged as an event.
    #[tracing::instrument(skip_all)]
    pub async fn finish_connect(
        &self,
        params: &CallbackParams,
        cookie: Option<&str>,
        actor: &Actor,
    ) -> Result<Connected, ConnectError> {
        let stored = self.spend_state(params.state.as_deref(), cookie).await?;
        // A link's flow finishes through `finish_link_connect` only.
        if stored.connect_session_id.is_some() {
            return Err(StateProblem::Unknown.into());
        }
        self.finish_trusted(params, stored, actor, None).await
    }

    /// After a trusted state: completes the flow, publishes the change, and
    /// logs a failure as an event.
    async fn finish_trusted(
        &self,
        params: &CallbackParams,
        stored: StoredState,
        actor: &Actor,
        link: Option<&links::LinkGrant<'_>>,
    ) -> Result<Connected, ConnectError> {
        let actor = actor.stored();
        let result = self.complete(params, stored, &actor, link).await;
        if let Ok(connected) = &result {
            self.publish(connected.id()).await;
        }
        if let Err(ConnectError::Failed {
            cause,
            http_status,
            error_code,
            failure,
        }) = &result
        {
            tracing::warn!(
                reason = failure.code(),
                cause = cause.as_deref().unwrap_or(""),
                "OAuth callback failed"
            );
            let message = result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            self.record_event(&NewEvent {
                integration_id: None,
                kind: EventKind::Connect,
                outcome: EventOutcome::Failed,
                http_status: *http_status,
                error_code: error_code.as_deref(),
                message: &message,
                actor: Some(&actor),
            })
            .await;
        }
        result
    }

    /// Checks the state against its row and the browser's cookie, and marks it used.
    async fn spend_state(
        &self,
        state: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<StoredState, StateProblem> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(StateProblem::Missing)?;
        let now = self.clock().now();
        let unreadable = |e: DatabaseError| {
            tracing::error!(error = %e, "could not read the OAuth state");
            StateProblem::Unknown
        };
        let stored = self
            .db()
            .find_oauth_state(state)
            .await
            .map_err(unreadable)?
            .ok_or(StateProblem::Unknown)?;
        if stored.used_at.is_some() {
            return Err(StateProblem::Replayed);
        }
        if now >= stored.expires_at {
            return Err(StateProblem::Expired);
        }
        let cookie = cookie.ok_or(StateProblem::MissingCookie)?;
        if binding_of(cookie) != stored.browser_binding {
            return Err(StateProblem::CookieMismatch);
        }
        // A state's spelling says which flow made it; the row must agree.
        if links::is_link_state(state) != stored.connect_session_id.is_some() {
            return Err(StateProblem::Unknown);
        }
        if !self
            .db()
            .consume_oauth_state(state, now)
            .await
            .map_err(unreadable)?
        {
            return Err(StateProblem::Replayed);
        }
        Ok(stored)
    }

    /// After a trusted state: the provider's error, or the code's exchange,
    /// the sites, the account, and the write.
    async fn complete(
        &self,
        params: &CallbackParams,
        stored: StoredState,
        actor: &str,
        link: Option<&links::LinkGrant<'_>>,
    ) -> Result<Connected, ConnectError> {
        if let Some(error) = &params.error {
            if error == "access_denied" {
                return Err(ConnectError::Declined);
            }
            // Words from the query string reach the log and the event log:
            // bounded, and without control characters (no forged log lines).
            let error = loggable(error, 64);
            return Err(ConnectError::Failed {
                failure: ConnectFailure::ProviderRefused,
                cause: Some(match &params.error_description {
                    Some(d) => format!("{error}: {}", loggable(d, 200)),
                    None => error.clone(),
                }),
                http_status: None,
                error_code: Some(error),
            });
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(ConnectError::failed(ConnectFailure::NoCode))?;
        let verifier = Secret::new(stored.pkce_verifier);
        let tokens = self
            .atlassian()
            .exchange_code(code, &verifier)
            .await
            .map_err(ConnectError::provider(ConnectFailure::Exchange))?;
        let resources = self
            .atlassian()
            .accessible_resources(&tokens.access_token)
            .await
            .map_err(ConnectError::provider(ConnectFailure::Resources))?;
        if resources.is_empty() {
            return Err(ConnectError::failed(ConnectFailure::NoSites));
        }
        let me = self
            .atlassian()
            .me(&tokens.access_token)
            .await
            .map_err(ConnectError::provider(ConnectFailure::Account))?;
        let scopes = if tokens.scopes.is_empty() {
            self.atlassian().settings().scopes.clone()
        } else {
            tokens.scopes.clone()
        };
        let consent = Consent {
            tokens,
            account_id: me.account_id,
            account_name: me.name,
            account_email: me.email,
            scopes,
            sites: resources
                .into_iter()
                .map(|r| Site {
                    cloud_id: r.id,
                    name: r.name,
                    url: r.url,
                })
                .collect(),
        };
        self.store_consent(
            &consent,
            stored.integration_id,
            link,
            self.clock().now(),
            actor,
        )
        .await
    }

    /// Writes a consent where [`place_grant`] says, with its event, in one
    /// transaction that holds the write lock from the start.
    async fn store_consent(
        &self,
        c: &Consent,
        reauth_of: Option<IntegrationId>,
        link: Option<&links::LinkGrant<'_>>,
        now: UnixTime,
        actor: &str,
    ) -> Result<Connected, ConnectError> {
        let mut write = self.db().begin_connection().await.map_err(storage_error)?;
        let rows = write
            .lookup(&c.account_id, reauth_of)
            .await
            .map_err(storage_error)?;
        let placement = place_grant(&c.account_id, reauth_of, &rows, link.map(|l| l.owner))
            .map_err(|failure| ConnectError::Failed {
                failure,
                cause: Some(format!(
                    "the consent came back for account {}",
                    c.account_name
                )),
                http_status: None,
                error_code: None,
            })?;
        let id = match placement {
            Placement::New => write
                .create(&c.account_id, &c.account_name, now)
                .await
                .map_err(storage_error)?,
            Placement::Reconnect(id) | Placement::Reauthenticate(id) => id,
        };
        let access_token = self
            .vault()
            .encrypt(id, Column::AccessToken, &c.tokens.access_token)
            .map_err(storage_error)?;
        let refresh_token = c
            .tokens
            .refresh_token
            .as_ref()
            .map(|t| self.vault().encrypt(id, Column::RefreshToken, t))
            .transpose()
            .map_err(storage_error)?;
        let columns = ConnectionColumns {
            account_id: &c.account_id,
            account_name: &c.account_name,
            account_email: c.account_email.as_deref(),
            scopes: &c.scopes,
            access_token,
            refresh_token,
            expires_in: c.tokens.expires_in,
            sites: &c.sites,
        };
        let prior = match placement {
            Placement::New => None,
            Placement::Reconnect(_) | Placement::Reauthenticate(_) => {
                write.prior_state(id).await.map_err(storage_error)?
            }
        };
        write
            .store(id, &columns, now)
            .await
            .map_err(storage_error)?;
        // A disconnected row taken over starts its ownership afresh: a
        // dashboard connection belongs to no end user and carries no tags
        // (a key confined to its old tags must not see it again).
        let fresh = prior.is_some_and(|p| p.disconnected);
        match link.and_then(|l| l.end_user.map(|u| (u, l.tags))) {
            Some((end_user, tags)) => write
                .set_owner(id, end_user, tags, fresh)
                .await
                .map_err(storage_error)?,
            None if fresh => write.clear_owner(id).await.map_err(storage_error)?,
            None => {}
        }
        let (kind, message) = connection_event(
            placement,
            &c.account_name,
            c.sites.len(),
            c.tokens.refresh_token.is_some(),
        );
        write
            .record_event(
                &NewEvent {
                    integration_id: Some(id),
                    kind,
                    outcome: EventOutcome::Ok,
                    http_status: None,
                    error_code: None,
                    message: &message,
                    actor: Some(actor),
                },
                now,
            )
            .await
            .map_err(storage_error)?;
        for notice in connection_notices(prior, &c.account_name, &message) {
            write
                .announce(id, &notice, self.settings().status_rule(), now)
                .await
                .map_err(storage_error)?;
        }
        write.commit().await.map_err(storage_error)?;
        self.wake_webhooks();
        Ok(match placement {
            Placement::New => Connected::New(id),
            Placement::Reconnect(_) => Connected::Reconnected(id),
            Placement::Reauthenticate(_) => Connected::Reauthenticated(id),
        })
    }
}
