//! The refresh engine: one function ([`Engine::refresh`]) serves the button, the
//! API and the scheduler. At most one token request per integration is in
//! flight (concurrent callers share its outcome), the row is updated only if it
//! still holds the refresh token that was sent, and every failure is classified:
//! a dead refresh token deactivates (the seed's contract); a configuration or
//! transient error leaves the integration alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::db::{NewEvent, Rotation};
use crate::provider_error::ProviderError;
use crate::Engine;

/// Backoff after transient failures: 30 s, 60 s, 120 s, 240 s, then 300 s, so
/// retries with the same refresh token stay inside the 10-minute leeway.
pub fn backoff_secs(failures_so_far: i64) -> i64 {
    let exp = u32::try_from(failures_so_far.clamp(0, 4)).unwrap_or(4);
    (30 * 2_i64.pow(exp)).min(300)
}

/// Why only the user can fix an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthReason {
    /// No refresh token: `offline_access` was not granted.
    NoOfflineAccess,
    /// The provider rejected the refresh token (expired, rotated away, revoked).
    RefreshTokenRejected,
}

/// What a refresh came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshResult {
    Refreshed,
    NeedsReauth(ReauthReason),
    /// The app's client credentials were rejected: fix the configuration.
    ConfigurationError,
    /// 5xx, timeout, broken connection, malformed answer: retried later.
    Transient,
    /// The provider rotated the token but storing it failed.
    StoreFailed,
    /// The integration changed while the request was in flight (re-authenticated
    /// or disconnected); the answer was not stored.
    Conflict,
    /// No such connected integration.
    NotFound,
    /// Another error answer from the provider.
    ProviderError,
}

/// The outcome every caller of one refresh shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub integration_id: i64,
    pub result: RefreshResult,
    /// A sentence for the user; never a token.
    pub message: String,
}

impl RefreshOutcome {
    pub fn ok(&self) -> bool {
        self.result == RefreshResult::Refreshed
    }

    pub fn requires_reauth(&self) -> bool {
        matches!(self.result, RefreshResult::NeedsReauth(_))
    }
}

/// The refreshes in flight, one per integration.
#[derive(Default)]
pub struct Flights(Mutex<HashMap<i64, Arc<OnceCell<RefreshOutcome>>>>);

impl Engine {
    /// Refreshes integration `id`, or joins the refresh already in flight.
    pub async fn refresh(&self, id: i64) -> RefreshOutcome {
        let cell = {
            let mut flights = self.flights.0.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(id).or_default().clone()
        };
        let engine = self.clone();
        let outcome = cell
            .get_or_init(|| async move {
                // A task of its own: a caller that goes away (a closed browser
                // tab) cannot abandon a rotation half-way.
                let task = tokio::spawn(async move { engine.refresh_once(id).await });
                task.await.unwrap_or_else(|e| RefreshOutcome {
                    integration_id: id,
                    result: RefreshResult::StoreFailed,
                    message: format!("The refresh of integration {id} stopped unexpectedly ({e})."),
                })
            })
            .await
            .clone();
        let mut flights = self.flights.0.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(&id).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            flights.remove(&id);
        }
        outcome
    }

    async fn refresh_once(&self, id: i64) -> RefreshOutcome {
        let outcome = |result, message: String| RefreshOutcome {
            integration_id: id,
            result,
            message,
        };
        let row = match self.db.refresh_row(id).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                return outcome(
                    RefreshResult::NotFound,
                    format!("Integration {id} does not exist or was disconnected."),
                )
            }
            Err(e) => {
                tracing::error!(integration = id, error = %e, "could not read the integration");
                return outcome(
                    RefreshResult::StoreFailed,
                    format!("Integration {id} could not be read from the database; the server logged the cause."),
                );
            }
        };
        let now = self.clock.now();
        let Some(sent) = row.refresh_token else {
            let message =
                "No refresh token: offline_access was not granted, so Atlassian issued none. \
                           Re-authenticate to keep this integration working.";
            self.deactivate_logged(id, message, None, None, now).await;
            return outcome(
                RefreshResult::NeedsReauth(ReauthReason::NoOfflineAccess),
                message.into(),
            );
        };
        let refresh_token = match self.vault.decrypt(id, &sent) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(integration = id, error = %e, "could not decrypt the refresh token");
                return outcome(
                    RefreshResult::StoreFailed,
                    format!("The refresh token of integration {id} could not be decrypted (was TOKEN_ENCRYPTION_KEY changed?)."),
                );
            }
        };
        match self.atlassian.refresh(&refresh_token).await {
            Ok(tokens) => {
                let rotation = self
                    .vault
                    .encrypt(id, &tokens.access_token)
                    .and_then(|access| {
                        let refresh = tokens
                            .refresh_token
                            .as_ref()
                            .map(|t| self.vault.encrypt(id, t))
                            .transpose()?;
                        Ok(Rotation {
                            access_token: access,
                            refresh_token: refresh,
                            expires_in: tokens.expires_in,
                        })
                    });
                let message = format!(
                    "Refreshed; the new access token expires in {} s",
                    tokens.expires_in
                );
                let event = NewEvent {
                    integration_id: Some(id),
                    kind: "refresh",
                    outcome: "ok",
                    http_status: Some(200),
                    error_code: None,
                    message: &message,
                };
                let stored = match rotation {
                    Ok(rotation) => self
                        .db
                        .store_rotation(id, &sent, &rotation, &event, now)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match stored {
                    Ok(true) => outcome(RefreshResult::Refreshed, "Token refreshed.".into()),
                    Ok(false) => {
                        let message = format!(
                            "Integration {id} changed while its token was being refreshed (re-authenticated or disconnected); nothing was stored."
                        );
                        self.event_logged(
                            id,
                            "refresh",
                            "conflict",
                            Some(200),
                            None,
                            &message,
                            now,
                        )
                        .await;
                        outcome(RefreshResult::Conflict, message)
                    }
                    Err(e) => {
                        tracing::error!(integration = id, error = %e, "Atlassian rotated the token but storing it failed");
                        let message = format!(
                            "Atlassian issued new tokens for integration {id} but they could not be stored; \
                             the previous refresh token stays valid for 10 minutes, so the next refresh retries."
                        );
                        self.event_logged(
                            id,
                            "refresh",
                            "store_failed",
                            Some(200),
                            None,
                            &message,
                            now,
                        )
                        .await;
                        outcome(RefreshResult::StoreFailed, message)
                    }
                }
            }
            Err(err @ ProviderError::RefreshTokenRejected { .. }) => {
                let message = format!(
                    "Atlassian rejected the refresh token ({}): it expired, was revoked, or was already used. \
                     Re-authenticate to reconnect this integration.",
                    err.code().unwrap_or("invalid_grant")
                );
                self.deactivate_logged(id, &message, err.status(), err.code(), now)
                    .await;
                outcome(
                    RefreshResult::NeedsReauth(ReauthReason::RefreshTokenRejected),
                    message,
                )
            }
            Err(err @ ProviderError::ClientRejected { .. }) => {
                let message =
                    "Atlassian rejected the app's client credentials: check JIRA_CLIENT_ID and \
                               JIRA_CLIENT_SECRET. The integration was left as it is.";
                self.failure_logged(id, message, None, &err, now).await;
                outcome(RefreshResult::ConfigurationError, message.into())
            }
            Err(err @ ProviderError::Transient { .. }) => {
                let retry_in = backoff_secs(row.transient_failures);
                let message = format!(
                    "Atlassian could not be reached or answered garbage ({err}). The tokens were kept; \
                     the refresh is retried in {retry_in} s."
                );
                self.failure_logged(id, &message, Some(now + retry_in), &err, now)
                    .await;
                outcome(RefreshResult::Transient, message)
            }
            Err(err @ ProviderError::Rejected { .. }) => {
                let message = format!(
                    "Atlassian refused the refresh ({err}). The integration was left as it is."
                );
                self.failure_logged(id, &message, None, &err, now).await;
                outcome(RefreshResult::ProviderError, message)
            }
        }
    }

    async fn deactivate_logged(
        &self,
        id: i64,
        message: &str,
        status: Option<u16>,
        code: Option<&str>,
        now: i64,
    ) {
        let event = NewEvent {
            integration_id: Some(id),
            kind: "deactivate",
            outcome: "needs_reauth",
            http_status: status,
            error_code: code,
            message,
        };
        if let Err(e) = self.db.deactivate(id, message, &event, now).await {
            tracing::error!(integration = id, error = %e, "could not record the deactivation");
        }
    }

    async fn failure_logged(
        &self,
        id: i64,
        message: &str,
        retry_after: Option<i64>,
        err: &ProviderError,
        now: i64,
    ) {
        let event = NewEvent {
            integration_id: Some(id),
            kind: "refresh",
            outcome: "failed",
            http_status: err.status(),
            error_code: err.code(),
            message,
        };
        if let Err(e) = self
            .db
            .record_refresh_failure(id, message, retry_after, &event, now)
            .await
        {
            tracing::error!(integration = id, error = %e, "could not record the refresh failure");
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn event_logged(
        &self,
        id: i64,
        kind: &str,
        outcome: &str,
        status: Option<u16>,
        code: Option<&str>,
        message: &str,
        now: i64,
    ) {
        let event = NewEvent {
            integration_id: Some(id),
            kind,
            outcome,
            http_status: status,
            error_code: code,
            message,
        };
        if let Err(e) = self.db.record_event(&event, now).await {
            tracing::error!(integration = id, error = %e, "could not record an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_and_stays_inside_the_leeway() {
        assert_eq!(
            (0..7).map(backoff_secs).collect::<Vec<_>>(),
            vec![30, 60, 120, 240, 300, 300, 300]
        );
    }
}
