//! The connect flow: [`Engine::start_connect`] stores a single-use state bound
//! to the browser and builds the consent URL; [`Engine::finish_connect`] checks
//! the callback, exchanges the code, reads the sites and the account, and
//! stores one integration per account. Every failure writes no integration.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

use crate::db::{NewConnection, SaveError, Saved};
use crate::integration::Site;
use crate::provider_error::ProviderError;
use crate::Engine;

/// States live 10 minutes.
pub const STATE_LIFETIME_SECS: i64 = 600;

/// A flow ready to send the browser to the consent page.
#[derive(Debug)]
pub struct StartedFlow {
    pub authorize_url: Url,
    /// The value of the HttpOnly cookie that binds the state to this browser.
    pub browser_cookie: String,
}

/// The callback's query parameters.
#[derive(Debug, Clone, Default, serde::Deserialize)]
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
    New(i64),
    /// An account that already had an integration: that row was updated.
    Reconnected(i64),
    /// The integration the flow was started for was repaired.
    Reauthenticated(i64),
}

impl Connected {
    pub fn id(self) -> i64 {
        match self {
            Connected::New(id) | Connected::Reconnected(id) | Connected::Reauthenticated(id) => id,
        }
    }
}

/// Why a flow stopped. The text is the sentence shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("You declined access on Atlassian's consent page, so nothing was connected.")]
    Declined,
    #[error("Atlassian refused the request ({0}), so nothing was connected.")]
    ProviderRefused(String),
    #[error(
        "This sign-in link has no state, so it cannot be trusted. Start again from the dashboard."
    )]
    MissingState,
    #[error("This sign-in attempt is unknown to the dashboard. Start again from the dashboard.")]
    UnknownState,
    #[error(
        "This sign-in attempt expired (they last 10 minutes). Start again from the dashboard."
    )]
    ExpiredState,
    #[error("This sign-in attempt was already used. Start again from the dashboard.")]
    ReplayedState,
    #[error("This sign-in attempt was started in another browser (its cookie is missing). Start again from this browser.")]
    MissingCookie,
    #[error(
        "This sign-in attempt belongs to another browser session. Start again from this browser."
    )]
    CookieMismatch,
    #[error("Atlassian sent no authorization code, so nothing was connected.")]
    MissingCode,
    #[error(
        "The authorization code could not be exchanged for tokens ({0}), so nothing was connected."
    )]
    Exchange(ProviderError),
    #[error("The list of Jira sites could not be read ({0}), so nothing was connected.")]
    Resources(ProviderError),
    #[error("The grant reaches no Jira site, so nothing was connected. Choose at least one site on the consent page.")]
    NoSites,
    #[error("The Atlassian account could not be read ({0}), so nothing was connected.")]
    Account(ProviderError),
    #[error("Integration {0} does not exist.")]
    UnknownIntegration(i64),
    #[error("You signed in as {account_name}, who is already connected as integration {other_id}. Re-authenticate with the integration's own account.")]
    AccountBelongsToAnother { account_name: String, other_id: i64 },
    #[error("The connection could not be saved; the server logged the cause.")]
    Storage,
}

impl ConnectError {
    /// Errors about the state itself: the callback answers them with a page.
    pub fn is_state_problem(&self) -> bool {
        matches!(
            self,
            ConnectError::MissingState
                | ConnectError::UnknownState
                | ConnectError::ExpiredState
                | ConnectError::ReplayedState
                | ConnectError::MissingCookie
                | ConnectError::CookieMismatch
        )
    }
}

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of the browser cookie: its hash, never the value.
fn binding_of(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(cookie.as_bytes()))
}

fn storage_error(e: impl std::fmt::Display) -> ConnectError {
    tracing::error!(error = %e, "could not store the OAuth flow");
    ConnectError::Storage
}

impl Engine {
    /// Starts a flow (for a new connection, or to re-authenticate `reauth_of`).
    pub async fn start_connect(&self, reauth_of: Option<i64>) -> Result<StartedFlow, ConnectError> {
        if let Some(id) = reauth_of {
            if self
                .db
                .find_integration(id)
                .await
                .map_err(storage_error)?
                .is_none()
            {
                return Err(ConnectError::UnknownIntegration(id));
            }
        }
        let now = self.clock.now();
        let state = random_text();
        let cookie = random_text();
        let (authorize_url, verifier) = self.atlassian.authorize_url(&state);
        self.db
            .insert_oauth_state(
                &state,
                &binding_of(&cookie),
                verifier.expose(),
                reauth_of,
                now,
                now + STATE_LIFETIME_SECS,
            )
            .await
            .map_err(storage_error)?;
        Ok(StartedFlow {
            authorize_url,
            browser_cookie: cookie,
        })
    }

    /// Finishes a flow from the callback's parameters and the browser's cookie.
    pub async fn finish_connect(
        &self,
        params: &CallbackParams,
        cookie: Option<&str>,
    ) -> Result<Connected, ConnectError> {
        if let Some(error) = &params.error {
            return Err(if error == "access_denied" {
                ConnectError::Declined
            } else {
                ConnectError::ProviderRefused(match &params.error_description {
                    Some(d) => format!("{error}: {d}"),
                    None => error.clone(),
                })
            });
        }
        let state = params
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(ConnectError::MissingState)?;
        let now = self.clock.now();
        let stored = self
            .db
            .find_oauth_state(state)
            .await
            .map_err(storage_error)?
            .ok_or(ConnectError::UnknownState)?;
        if stored.used_at.is_some() {
            return Err(ConnectError::ReplayedState);
        }
        if now >= stored.expires_at {
            return Err(ConnectError::ExpiredState);
        }
        let cookie = cookie.ok_or(ConnectError::MissingCookie)?;
        if binding_of(cookie) != stored.browser_binding {
            return Err(ConnectError::CookieMismatch);
        }
        if !self
            .db
            .consume_oauth_state(state, now)
            .await
            .map_err(storage_error)?
        {
            return Err(ConnectError::ReplayedState);
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(ConnectError::MissingCode)?;

        let verifier = crate::Secret::new(stored.pkce_verifier);
        let tokens = self
            .atlassian
            .exchange_code(code, &verifier)
            .await
            .map_err(ConnectError::Exchange)?;
        let resources = self
            .atlassian
            .accessible_resources(&tokens.access_token)
            .await
            .map_err(ConnectError::Resources)?;
        if resources.is_empty() {
            return Err(ConnectError::NoSites);
        }
        let me = self
            .atlassian
            .me(&tokens.access_token)
            .await
            .map_err(ConnectError::Account)?;
        let scopes = if tokens.scopes.is_empty() {
            self.atlassian.settings().scopes.clone()
        } else {
            tokens.scopes
        };
        let connection = NewConnection {
            reauth_of: stored.integration_id,
            account_id: me.account_id,
            account_name: me.name,
            account_email: me.email,
            scopes,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
            sites: resources
                .into_iter()
                .map(|r| Site {
                    cloud_id: r.id,
                    name: r.name,
                    url: r.url,
                })
                .collect(),
        };
        let now = self.clock.now();
        match self.db.save_connection(&self.vault, &connection, now).await {
            Ok(Saved::Created(id)) => Ok(Connected::New(id)),
            Ok(Saved::Updated(id)) if connection.reauth_of.is_some() => {
                Ok(Connected::Reauthenticated(id))
            }
            Ok(Saved::Updated(id)) => Ok(Connected::Reconnected(id)),
            Err(SaveError::UnknownIntegration(id)) => Err(ConnectError::UnknownIntegration(id)),
            Err(SaveError::AccountBelongsToAnother {
                account_name,
                other_id,
            }) => Err(ConnectError::AccountBelongsToAnother {
                account_name,
                other_id,
            }),
            Err(e) => Err(storage_error(e)),
        }
    }
}
