//! The refresh engine: one function ([`Engine::refresh`]) serves the button,
//! the API and the scheduler. At most one token request per integration is in
//! flight (concurrent callers share its outcome), the row is updated only if it
//! still holds the refresh token that was sent, and every failure is classified:
//! a dead refresh token deactivates (the seed's contract); a configuration or
//! transient error leaves the integration alone.
//!
//! - [`decision`]: the pure part (answer + row -> what to store, log and say).
//! - this file: the I/O shell around it (read, ask, write) and single-flight.

pub mod decision;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::IntegrationId;
use tokio::sync::OnceCell;

use decision::{after_write, decide, Attempt, Decision, PlannedEvent, Stored, Write};
pub use decision::{backoff_secs, ReauthReason, RefreshResult};

use crate::db::{NewEvent, Rotation};
use crate::oauth::TokenSet;
use crate::{Engine, Integration};

/// The outcome every caller of one refresh shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub integration_id: IntegrationId,
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

/// A refresh's outcome and the integration as it stands afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub outcome: RefreshOutcome,
    pub integration: Integration,
}

/// The refreshes in flight, one per integration.
#[derive(Default)]
pub struct Flights(Mutex<HashMap<IntegrationId, Arc<OnceCell<RefreshOutcome>>>>);

impl Engine {
    /// Refreshes integration `id`, or joins the refresh already in flight.
    #[tracing::instrument(skip(self), fields(integration = %id))]
    pub async fn refresh(&self, id: IntegrationId) -> RefreshOutcome {
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

    /// [`Engine::refresh`], then the integration as it stands: the button's and
    /// the API's use case. `NotFound` for an unknown or disconnected id.
    pub async fn refresh_integration(
        &self,
        id: IntegrationId,
    ) -> Result<Refreshed, crate::EngineError> {
        let outcome = self.refresh(id).await;
        if outcome.result == RefreshResult::NotFound {
            return Err(crate::EngineError::NotFound(id));
        }
        let integration = self.integration(id).await?;
        Ok(Refreshed {
            outcome,
            integration,
        })
    }

    /// One attempt: read the row, ask the provider, decide, write.
    async fn refresh_once(&self, id: IntegrationId) -> RefreshOutcome {
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
                tracing::error!(error = %e, "could not read the integration");
                return outcome(
                    RefreshResult::StoreFailed,
                    format!("Integration {id} could not be read from the database; the server logged the cause."),
                );
            }
        };
        let sent = row.refresh_token;
        let answer = match &sent {
            None => None,
            Some(blob) => match self.vault.decrypt(id, blob) {
                Ok(token) => Some(self.atlassian.refresh(&token).await),
                Err(e) => {
                    tracing::error!(error = %e, "could not decrypt the refresh token");
                    return outcome(
                        RefreshResult::StoreFailed,
                        format!("The refresh token of integration {id} could not be decrypted (was TOKEN_ENCRYPTION_KEY changed?)."),
                    );
                }
            },
        };
        let now = self.clock.now();
        let attempt = match &answer {
            None => Attempt::NoRefreshToken,
            Some(answer) => Attempt::Answered(answer),
        };
        let decision = decide(attempt, row.transient_failures, now);
        let tokens = answer.as_ref().and_then(|a| a.as_ref().ok());
        let stored = self.write(id, sent.as_deref(), &decision, tokens).await;
        match after_write(&decision, id, stored) {
            None => outcome(decision.result, decision.message),
            Some((result, event)) => {
                self.record_event(&new_event(id, &event)).await;
                outcome(result, event.message)
            }
        }
    }

    /// Carries out the decision's write (with its event, in one transaction).
    async fn write(
        &self,
        id: IntegrationId,
        sent: Option<&[u8]>,
        decision: &Decision,
        tokens: Option<&TokenSet>,
    ) -> Stored {
        let event = new_event(id, &decision.event);
        let now = self.clock.now();
        let written = match (decision.write, sent, tokens) {
            (Write::Rotation, Some(sent), Some(tokens)) => match self.seal(id, tokens) {
                Ok(rotation) => self
                    .db
                    .store_rotation(id, sent, &rotation, &event, now)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            (Write::Rotation, _, _) => Err("a rotation without tokens".to_owned()),
            (Write::Deactivation, sent, _) => self
                .db
                .deactivate(id, sent, &event, now)
                .await
                .map_err(|e| e.to_string()),
            (Write::Failure { retry_after }, _, _) => self
                .db
                .record_refresh_failure(id, retry_after, &event, now)
                .await
                .map(|()| true)
                .map_err(|e| e.to_string()),
        };
        match written {
            Ok(true) => Stored::Done,
            Ok(false) => Stored::RowChanged,
            Err(e) => {
                tracing::error!(write = ?decision.write, error = %e, "could not store the refresh's outcome");
                Stored::Failed
            }
        }
    }

    /// The new tokens, encrypted for row `id`.
    fn seal(
        &self,
        id: IntegrationId,
        tokens: &TokenSet,
    ) -> Result<Rotation, crate::vault::VaultError> {
        Ok(Rotation {
            access_token: self.vault.encrypt(id, &tokens.access_token)?,
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| self.vault.encrypt(id, t))
                .transpose()?,
            expires_in: tokens.expires_in,
        })
    }
}

/// A planned event, for row `id`.
pub(crate) fn new_event(id: IntegrationId, event: &PlannedEvent) -> NewEvent<'_> {
    NewEvent {
        integration_id: Some(id),
        kind: event.kind,
        outcome: event.outcome,
        http_status: event.http_status,
        error_code: event.error_code.as_deref(),
        message: &event.message,
    }
}
