//! What an API key may do: each scope opens one part of the service API.

use serde::{Deserialize, Serialize};

/// One scope of an API key.
/// The heaviest weight an API key may have among the keys sharing Jira's
/// quota (Settings; 1 is an equal share).
pub const MAX_JIRA_WEIGHT: u32 = 100;
/// The largest hourly Jira points budget an API key may be given
/// (Atlassian's largest pools hold millions of points an hour).
pub const MAX_JIRA_POINTS_PER_HOUR: u64 = 100_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ApiScope {
    /// `GET /v1/integrations` and `/v1/integrations/{id}`: the views, never a token.
    #[serde(rename = "integrations:read")]
    IntegrationsRead,
    /// `POST /v1/integrations/{id}/access-token`: a fresh access token.
    #[serde(rename = "tokens:read")]
    TokensRead,
    /// `/v1/integrations/{id}/proxy/{path}`: Jira calls made with the token.
    #[serde(rename = "proxy")]
    Proxy,
    /// `GET /metrics`.
    #[serde(rename = "metrics:read")]
    MetricsRead,
    /// `POST /v1/connect-sessions`: connect links for the calling product's customers.
    #[serde(rename = "connect")]
    Connect,
}

names!(ApiScope {
    IntegrationsRead => "integrations:read",
    TokensRead => "tokens:read",
    Proxy => "proxy",
    MetricsRead => "metrics:read",
    Connect => "connect",
});

impl ApiScope {
    /// What the scope allows, in one phrase (the settings page's checkboxes).
    pub fn summary(self) -> &'static str {
        match self {
            ApiScope::IntegrationsRead => "list and read integrations (never a token)",
            ApiScope::TokensRead => "get a fresh access token",
            ApiScope::Proxy => "call Jira through this product",
            ApiScope::MetricsRead => "read the Prometheus metrics",
            ApiScope::Connect => "create connect links for its customers",
        }
    }

    /// Scopes written space-separated (as stored), unknown names refused.
    pub fn parse_list(text: &str) -> Result<Vec<ApiScope>, String> {
        let mut scopes = Vec::new();
        for name in text.split_whitespace() {
            let scope = ApiScope::parse(name).ok_or_else(|| {
                format!(
                    "Unknown scope \"{}\": use integrations:read, tokens:read, proxy, metrics:read or connect.",
                    name.chars().take(40).collect::<String>()
                )
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(scopes)
    }

    /// The stored form: names, space-separated.
    pub fn join(scopes: &[ApiScope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_sorted_without_repeats() {
        let scopes = ApiScope::parse_list("proxy  tokens:read proxy").expect("valid");
        assert_eq!(scopes, [ApiScope::TokensRead, ApiScope::Proxy]);
        assert_eq!(ApiScope::join(&scopes), "tokens:read proxy");
        assert!(ApiScope::parse_list("tokens:write").is_err());
        for s in ApiScope::ALL {
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
        }
    }
}
