//! Registered clients, lifetimes, and the seeded accounts and sites.

/// An OAuth app registered in the (emulated) developer console.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
    /// Callback URLs; an authorize request must name one of them exactly.
    pub redirect_uris: Vec<String>,
}

/// Lifetimes and switches. The defaults are Atlassian's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `expires_in` of access tokens (Atlassian: 3600).
    pub access_token_lifetime_secs: i64,
    /// Authorization codes expire after this (10 minutes).
    pub code_lifetime_secs: i64,
    /// A rotated refresh token keeps working this long (10 minutes).
    pub rotation_leeway_secs: i64,
    /// A refresh token unused this long is dead (90 days).
    pub refresh_idle_secs: i64,
    /// A token family dies this long after consent (365 days).
    pub refresh_absolute_secs: i64,
    /// Reproduces an app registered without offline access: no refresh token,
    /// even when `offline_access` is requested.
    pub withhold_refresh_tokens: bool,
    /// How long every provider endpoint (token, resources, Jira) takes to
    /// answer, in milliseconds: the real Atlassian answers in tens to
    /// hundreds of milliseconds, not in a fraction of one.
    pub latency_ms: u64,
    /// Jira's rate limits: the quota's tier and points, the burst and
    /// per-issue write limits (Atlassian's defaults).
    pub jira_limits: crate::jira::rate_limit::LimitSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_lifetime_secs: 3_600,
            code_lifetime_secs: 600,
            rotation_leeway_secs: 600,
            refresh_idle_secs: 90 * 86_400,
            refresh_absolute_secs: 365 * 86_400,
            withhold_refresh_tokens: false,
            latency_ms: 0,
            jira_limits: Default::default(),
        }
    }
}

/// A seeded Atlassian account.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub account_id: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub nickname: &'static str,
}

/// A seeded Jira Cloud site.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub cloud_id: &'static str,
    pub name: &'static str,
    pub url: &'static str,
}

/// The accounts a person can choose on the consent page.
pub const ACCOUNTS: [Account; 2] = [
    Account {
        account_id: "557058:ada-lovelace",
        name: "Ada Lovelace",
        email: "ada@example.com",
        nickname: "ada",
    },
    Account {
        account_id: "557058:grace-hopper",
        name: "Grace Hopper",
        email: "grace@example.com",
        nickname: "grace",
    },
];

/// The sites a grant can reach.
pub const SITES: [Site; 2] = [
    Site {
        cloud_id: "11111111-aaaa-4aaa-8aaa-111111111111",
        name: "acme",
        url: "https://acme.atlassian.net",
    },
    Site {
        cloud_id: "22222222-bbbb-4bbb-8bbb-222222222222",
        name: "globex",
        url: "https://globex.atlassian.net",
    },
];

pub fn account(account_id: &str) -> Option<&'static Account> {
    ACCOUNTS.iter().find(|a| a.account_id == account_id)
}

pub fn site(cloud_id: &str) -> Option<&'static Site> {
    SITES.iter().find(|s| s.cloud_id == cloud_id)
}
