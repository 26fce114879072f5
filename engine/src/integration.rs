//! The stored integration, as the engine sees it (tokens stay in the database
//! and are never part of this type).

/// One Jira Cloud connection: one Atlassian account's grant and the sites it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: i64,
    pub account_id: String,
    pub account_name: String,
    pub account_email: Option<String>,
    pub scopes: Vec<String>,
    pub has_refresh_token: bool,
    pub expires_at: i64,
    pub access_token_lifetime: i64,
    pub is_active: bool,
    pub refresh_failures: i64,
    pub last_refresh_at: Option<i64>,
    pub last_error: Option<String>,
    pub refresh_token_issued_at: Option<i64>,
    pub consented_at: i64,
    pub created_at: i64,
    pub disconnected_at: Option<i64>,
    pub sites: Vec<Site>,
}

/// A Jira Cloud site reachable through an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub cloud_id: String,
    pub name: String,
    pub url: String,
}
