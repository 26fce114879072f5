//! A fresh access token for a program: the stored one while it lives long
//! enough, else a refresh first, through the same single-flight refresh as
//! the dashboard's button and the scheduler (a refresh in flight is joined,
//! never repeated). Only a person can repair an integration that needs
//! re-authentication; a transient provider failure hands out the current
//! token while it is still valid.

use domain::{Actor, IntegrationId, Tags, UnixTime};

use super::ApiKey;
use crate::refresh::{RefreshOutcome, RefreshResult};
use crate::vault::Column;
use crate::{Engine, EngineError, Integration, Secret};

/// `minValiditySecs` when a caller names none.
pub const DEFAULT_MIN_VALIDITY_SECS: i64 = 60;
/// The most a caller may ask for: half an access token's hour. (Asking for
/// more would make every call refresh, rotating the token for nothing.)
pub const MAX_MIN_VALIDITY_SECS: i64 = 1_800;

/// An access token and what it reaches. (No `Debug` of the token: [`Secret`].)
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: UnixTime,
    pub integration: Integration,
}

/// Why no token was handed out; the text is for the calling program's people.
#[derive(Debug, thiserror::Error)]
pub enum HandoutError {
    #[error("Integration {0} does not exist or was disconnected.")]
    NotFound(IntegrationId),
    /// Only a person can repair it: re-authenticate in the dashboard.
    #[error("{0}")]
    RequiresReauth(String),
    /// A needed refresh failed transiently and the stored token has expired.
    #[error("{message}")]
    Unavailable {
        retry_after_secs: i64,
        message: String,
    },
    #[error("The access token could not be decrypted (was TOKEN_ENCRYPTION_KEY changed?).")]
    Vault,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// After Jira refused a token (`401`), a refresh is tried only if that token
/// was issued at least this long ago (or expires within the refresh margin):
/// a `401` that a refresh cannot cure (a scope Jira wants and the grant lacks)
/// must not rotate the token on every call.
pub(crate) const REJECTED_TOKEN_COOLDOWN_SECS: i64 = 300;

impl Engine {
    /// Integration `id`'s access token for `key`, valid for at least
    /// `min_validity_secs` more seconds when a refresh can make it so. The
    /// hand-out is counted and logged as an event naming the key.
    pub async fn hand_out_access_token(
        &self,
        id: IntegrationId,
        min_validity_secs: i64,
        key: &ApiKey,
    ) -> Result<AccessToken, HandoutError> {
        let token = self
            .fresh_access_token(id, min_validity_secs, &key.actor(), &key.tags)
            .await?;
        self.record_handout(key, id, &token).await;
        Ok(token)
    }

    /// The stored token when it lives `min_validity_secs` more (at most half
    /// its lifetime: asking for more would refresh on every call); otherwise
    /// a refresh first (or the refresh in flight, joined), unless the
    /// provider asked to wait.
    /// An integration that does not carry all of `confined_to` (a confined
    /// key's tags) is not found, as if it did not exist.
    pub async fn fresh_access_token(
        &self,
        id: IntegrationId,
        min_validity_secs: i64,
        actor: &Actor,
        confined_to: &Tags,
    ) -> Result<AccessToken, HandoutError> {
        let current = self.stored_access_token(id, confined_to).await?;
        let wanted = min_validity_secs.min(current.integration.access_token_lifetime / 2);
        if current.expires_at - self.now() >= wanted {
            return Ok(current);
        }
        if !current.integration.has_refresh_token {
            // Nothing can renew it: hand out what is left, then say why not.
            if current.expires_at > self.now() {
                return Ok(current);
            }
            return Err(HandoutError::RequiresReauth(format!(
                "Integration {id}'s access token has expired and it has no refresh token \
                 (offline_access was not granted): re-authenticate it in the dashboard."
            )));
        }
        if let Some(until) = self.refresh_held_until(id).await? {
            return self.current_or_wait(current, until, None);
        }
        let outcome = self.refresh_replacing(id, actor, &current.token).await;
        self.after_refresh(id, outcome, true).await
    }

    /// After Jira refused `rejected` (a `401` to a proxied call): a new
    /// token, or `None` when a refresh would not help (it is not the stored
    /// token any more and the stored one was refused too, or it was issued
    /// within [`REJECTED_TOKEN_COOLDOWN_SECS`]): then Jira's answer stands.
    pub async fn replace_rejected_token(
        &self,
        id: IntegrationId,
        rejected: &AccessToken,
        actor: &Actor,
        confined_to: &Tags,
    ) -> Result<Option<AccessToken>, HandoutError> {
        let current = self.stored_access_token(id, confined_to).await?;
        if current.token != rejected.token {
            // Replaced meanwhile (another call's refresh): try that one.
            return Ok(Some(current));
        }
        let now = self.now();
        let issued_at = current.expires_at - current.integration.access_token_lifetime;
        let expiring = current.expires_at - now <= self.settings().refresh_margin_secs;
        if !current.integration.has_refresh_token
            || (now - issued_at < REJECTED_TOKEN_COOLDOWN_SECS && !expiring)
        {
            return Ok(None);
        }
        if self.refresh_held_until(id).await?.is_some() {
            return Ok(None);
        }
        let outcome = self.refresh_replacing(id, actor, &current.token).await;
        // The current token is known to be refused: never hand it out again.
        self.after_refresh(id, outcome, false).await.map(Some)
    }

    /// Until when no refresh may be sent for `id`: the provider's or the
    /// backoff's wait for that row, or a `429` for everyone.
    async fn refresh_held_until(
        &self,
        id: IntegrationId,
    ) -> Result<Option<UnixTime>, HandoutError> {
        let now = self.now();
        let row = self
            .db()
            .lease_state(id, now)
            .await
            .map_err(crate::engine_handle::storage("read the refresh's wait"))?;
        let row_wait = row.and_then(|r| r.retry_after).filter(|t| *t > now);
        let everyone = self.refreshing().slowed_down_until().filter(|t| *t > now);
        Ok(row_wait.max(everyone))
    }

    /// The current token while it is valid, else `503` with the real wait.
    fn current_or_wait(
        &self,
        current: AccessToken,
        until: UnixTime,
        message: Option<String>,
    ) -> Result<AccessToken, HandoutError> {
        if current.expires_at > self.now() {
            return Ok(current);
        }
        let retry_after_secs = (until - self.now()).max(1);
        Err(HandoutError::Unavailable {
            retry_after_secs,
            message: message.unwrap_or_else(|| {
                format!(
                    "Integration {}'s token has expired and its refresh must wait {retry_after_secs} s \
                     (the provider asked, or earlier attempts failed).",
                    current.integration.id
                )
            }),
        })
    }

    /// (The caller may see `id`: it was checked before the refresh.)
    async fn after_refresh(
        &self,
        id: IntegrationId,
        outcome: RefreshOutcome,
        current_if_valid: bool,
    ) -> Result<AccessToken, HandoutError> {
        let seen = Tags::default();
        match outcome.result {
            // Conflict: re-authenticated or changed meanwhile; read what stands.
            RefreshResult::Refreshed | RefreshResult::Conflict => {
                self.stored_access_token(id, &seen).await
            }
            RefreshResult::NeedsReauth(_) => Err(HandoutError::RequiresReauth(outcome.message)),
            RefreshResult::NotFound => Err(HandoutError::NotFound(id)),
            RefreshResult::ConfigurationError
            | RefreshResult::Transient
            | RefreshResult::StoreFailed
            | RefreshResult::ProviderError => {
                let current = self.stored_access_token(id, &seen).await?;
                let until = self.refresh_held_until(id).await?.unwrap_or(self.now() + 1);
                if current_if_valid {
                    return self.current_or_wait(current, until, Some(outcome.message));
                }
                Err(HandoutError::Unavailable {
                    retry_after_secs: (until - self.now()).max(1),
                    message: outcome.message,
                })
            }
        }
    }
    /// The stored token of a connected integration that does not need
    /// re-authentication.
    async fn stored_access_token(
        &self,
        id: IntegrationId,
        confined_to: &Tags,
    ) -> Result<AccessToken, HandoutError> {
        let integration = self.integration(id).await.map_err(|e| match e {
            EngineError::NotFound(id) => HandoutError::NotFound(id),
            other => HandoutError::Engine(other),
        })?;
        if !integration.tags.includes(confined_to) {
            return Err(HandoutError::NotFound(id));
        }
        if !integration.is_active {
            return Err(HandoutError::RequiresReauth(
                integration.last_error.clone().unwrap_or_else(|| {
                    format!(
                        "Integration {id} was deactivated: re-authenticate it in the dashboard."
                    )
                }),
            ));
        }
        let blob = self
            .db()
            .encrypted_tokens(id)
            .await
            .map_err(crate::engine_handle::storage("read the access token"))?
            .and_then(|(access, _)| access)
            .ok_or_else(|| {
                HandoutError::RequiresReauth(format!(
                    "Integration {id} holds no access token: re-authenticate it in the dashboard."
                ))
            })?;
        let token = self
            .vault()
            .decrypt(id, Column::AccessToken, &blob)
            .map_err(|_| HandoutError::Vault)?;
        Ok(AccessToken {
            token,
            expires_at: integration.expires_at,
            integration,
        })
    }
}
