//! The event log's vocabulary: what happened ([`EventKind`]) and how it ended
//! ([`EventOutcome`]). Stored as their snake_case names (`token_events.kind`,
//! `.outcome`) and sent to the browser the same way.

use serde::{Deserialize, Serialize};

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A connect flow: a new integration, or a failed attempt (no integration).
    Connect,
    /// A consent that updated an existing integration (re-auth or reconnect).
    Reauth,
    /// A token request with a refresh token.
    Refresh,
    /// The integration was deactivated: only a person can repair it.
    Deactivate,
    /// The access token expired with no refresh token to revive it.
    Expired,
    /// A person disconnected the integration (tokens wiped).
    Disconnect,
    /// "Test connection": one real Jira call.
    TestConnection,
    /// An access token handed to a program of the service API.
    TokenHandout,
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    Ok,
    Failed,
    /// Only a new consent can repair the integration.
    NeedsReauth,
    /// The integration changed while a refresh was in flight; nothing stored.
    Conflict,
    /// The provider answered but its answer could not be stored.
    StoreFailed,
}

names!(EventKind {
    Connect => "connect",
    Reauth => "reauth",
    Refresh => "refresh",
    Deactivate => "deactivate",
    Expired => "expired",
    Disconnect => "disconnect",
    TestConnection => "test_connection",
    TokenHandout => "token_handout",
});

names!(EventOutcome {
    Ok => "ok",
    Failed => "failed",
    NeedsReauth => "needs_reauth",
    Conflict => "conflict",
    StoreFailed => "store_failed",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_match_serde_and_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
            let json = serde_json::to_string(k).expect("serialize");
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        for o in EventOutcome::ALL {
            assert_eq!(EventOutcome::parse(o.as_str()), Some(*o));
            let json = serde_json::to_string(o).expect("serialize");
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
