//! "Test connection": one real Jira call (`/rest/api/3/myself`) with the stored
//! access token, on the integration's first site. On demand
//! ([`domain::RefreshPolicy::OnDemand`]) a token that has run out (or is about
//! to) is refreshed first: the test is a use like any other.

use domain::{EventKind, EventOutcome, IntegrationId};

use crate::db::NewEvent;
use crate::jira_limits::{JiraCall, Share};
use crate::provider_error::ProviderError;
use crate::service_api::HandoutError;
use crate::vault::Column;
use crate::{Engine, EngineError};

/// Why a connection test could not succeed; the text is for the user.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionTestError {
    #[error("Integration {0} does not exist or was disconnected.")]
    NotFound(IntegrationId),
    #[error("Integration {0} reaches no Jira site.")]
    NoSite(IntegrationId),
    #[error("Integration {0} has no access token; re-authenticate it.")]
    NoToken(IntegrationId),
    #[error("The access token could not be decrypted (was TOKEN_ENCRYPTION_KEY changed?).")]
    Vault,
    #[error("Jira refused the access token (expired or revoked): refresh the token, or re-authenticate.")]
    Unauthorized,
    #[error("Jira answered an error: {0}")]
    Provider(ProviderError),
    #[error("The database could not be read; the server logged the cause.")]
    Storage,
    #[error("The idle access token could not be refreshed for the test: {0}")]
    Refresh(String),
    #[error("Jira's rate limit ({}) holds calls to this site for {} s more: the test was not sent. Try again then.", .0.reason, .0.retry_after_secs)]
    RateLimited(crate::jira_limits::Held),
}

/// On demand, a test refreshes a token that has less than this left.
const TEST_MIN_VALIDITY_SECS: i64 = 60;

/// The Jira user the token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTestResult {
    pub display_name: String,
    pub account_id: String,
    pub site_name: String,
}

impl Engine {
    /// Calls Jira's `myself` with integration `id`'s stored access token.
    #[tracing::instrument(skip(self))]
    pub async fn test_connection(
        &self,
        id: IntegrationId,
        actor: &domain::Actor,
    ) -> Result<ConnectionTestResult, ConnectionTestError> {
        let storage = |e: crate::DatabaseError| {
            tracing::error!(error = %e, "connection test could not read the database");
            ConnectionTestError::Storage
        };
        let integration = self
            .db()
            .find_integration(id)
            .await
            .map_err(storage)?
            .filter(|i| i.disconnected_at.is_none())
            .ok_or(ConnectionTestError::NotFound(id))?;
        let site = integration
            .sites
            .first()
            .ok_or(ConnectionTestError::NoSite(id))?;
        let on_demand = self.settings().refresh_policy == domain::RefreshPolicy::OnDemand;
        let token = if on_demand && integration.is_active && integration.has_refresh_token {
            // The hand-out's path: it honours a refresh in flight, a
            // provider's pause and a row's retry time, and rotates once
            // however many tests ask at the same moment.
            self.fresh_access_token(id, TEST_MIN_VALIDITY_SECS, actor, &domain::Tags::default())
                .await
                .map_err(|e| match e {
                    HandoutError::NotFound(id) => ConnectionTestError::NotFound(id),
                    HandoutError::Vault => ConnectionTestError::Vault,
                    HandoutError::Engine(EngineError::NotFound(id)) => {
                        ConnectionTestError::NotFound(id)
                    }
                    HandoutError::Engine(EngineError::Storage(_)) => ConnectionTestError::Storage,
                    HandoutError::RequiresReauth(message)
                    | HandoutError::Unavailable { message, .. } => {
                        ConnectionTestError::Refresh(message)
                    }
                })?
                .token
        } else {
            let blob = self
                .db()
                .encrypted_tokens(id)
                .await
                .map_err(storage)?
                .and_then(|(access, _)| access)
                .ok_or(ConnectionTestError::NoToken(id))?;
            self.vault()
                .decrypt(id, Column::AccessToken, &blob)
                .map_err(|_| ConnectionTestError::Vault)?
        };
        // The product's own Jira call shares the app's rate limits.
        let path = format!("ex/jira/{}/rest/api/3/myself", site.cloud_id);
        let call = JiraCall::of("GET", &path);
        let admitted = match &call {
            Some(call) => Some(
                self.jira_admit(call, Share::OWN)
                    .await
                    .map_err(ConnectionTestError::RateLimited)?,
            ),
            None => None,
        };
        let mut admitted = admitted;
        if let Some(admitted) = admitted.as_mut() {
            admitted.sending();
        }
        let (result, seen) = self.atlassian().myself(&site.cloud_id, &token).await;
        // (No answer at all: the admission charges what it reserved.)
        if let (Some(call), Some(admitted), Some((status, headers))) = (&call, admitted, &seen) {
            self.jira_learn(admitted, call, *status, headers).await;
        }
        let (outcome, status, code, message) = match &result {
            Ok(me) => (
                EventOutcome::Ok,
                Some(200),
                None,
                format!("Jira answered as {}", me.display_name),
            ),
            Err(e) => (
                EventOutcome::Failed,
                e.status(),
                e.code().map(str::to_owned),
                format!("Jira call failed: {e}"),
            ),
        };
        self.record_event(&NewEvent {
            integration_id: Some(id),
            kind: EventKind::TestConnection,
            outcome,
            http_status: status,
            error_code: code.as_deref(),
            message: &message,
            actor: Some(&actor.stored()),
        })
        .await;
        // Its event log grew.
        self.publish(id).await;
        match result {
            Ok(me) => Ok(ConnectionTestResult {
                display_name: me.display_name,
                account_id: me.account_id,
                site_name: site.name.clone(),
            }),
            Err(ProviderError::Rejected { status: 401, .. }) => {
                Err(ConnectionTestError::Unauthorized)
            }
            Err(e) => Err(ConnectionTestError::Provider(e)),
        }
    }
}
