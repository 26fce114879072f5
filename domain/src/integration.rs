//! The stored integration, as the engine sees it (tokens stay in the database
//! and are never part of this type), with the deadlines Atlassian's rules give it.

use crate::time::{CONSENT_LIFETIME_SECS, REFRESH_TOKEN_IDLE_SECS};
use crate::{EndUser, IntegrationId, Tags, UnixTime};

/// One Jira Cloud connection: one Atlassian account's grant and the sites it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub account_id: String,
    pub account_name: String,
    pub account_email: Option<String>,
    pub scopes: Vec<String>,
    pub has_refresh_token: bool,
    pub expires_at: UnixTime,
    /// Lifetime of the current access token in seconds (for the progress bar).
    pub access_token_lifetime: i64,
    pub is_active: bool,
    pub refresh_failures: i64,
    pub last_refresh_at: Option<UnixTime>,
    pub last_error: Option<String>,
    pub refresh_token_issued_at: Option<UnixTime>,
    pub consented_at: UnixTime,
    pub created_at: UnixTime,
    pub disconnected_at: Option<UnixTime>,
    pub sites: Vec<Site>,
    /// Who it belongs to in the calling product (connected through a
    /// connect link); `None` for a connection made on the dashboard.
    pub end_user: Option<EndUser>,
    pub tags: Tags,
}

impl Integration {
    /// When the current refresh token dies unless used (Atlassian's 90-day
    /// inactivity expiry); `None` without a refresh token.
    pub fn refresh_token_idle_expires_at(&self) -> Option<UnixTime> {
        self.refresh_token_issued_at
            .filter(|_| self.has_refresh_token)
            .map(|t| t + REFRESH_TOKEN_IDLE_SECS)
    }

    /// When the token family dies whatever happens (365 days after consent);
    /// `None` without a refresh token (the access token's expiry is the end).
    pub fn consent_expires_at(&self) -> Option<UnixTime> {
        Some(self.consented_at + CONSENT_LIFETIME_SECS).filter(|_| self.has_refresh_token)
    }
}

/// A Jira Cloud site reachable through an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub cloud_id: String,
    pub name: String,
    pub url: String,
}
