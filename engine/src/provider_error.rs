//! [`ProviderError`]: what went wrong talking to the authorization server,
//! classified the way the product must act on it.

/// A failed call to the provider, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The refresh token (or its whole family) is dead: `invalid_grant` or
    /// `unauthorized_client`. Only the user's consent can fix it.
    #[error("the provider rejected the refresh token ({code}: {description})")]
    RefreshTokenRejected {
        status: u16,
        code: String,
        description: String,
    },
    /// The app's client id or secret were rejected (`401`, `access_denied` or
    /// `invalid_client`): a configuration error, not the user's.
    #[error("the provider rejected the app's client credentials ({code})")]
    ClientRejected { status: u16, code: String },
    /// Any other error answer (`invalid_request`, a bad code, `403` on an API).
    #[error("the provider answered {status} {code}: {description}")]
    Rejected {
        status: u16,
        code: String,
        description: String,
    },
    /// A 5xx, a 429 / 408 / 425, a timeout, a broken connection or an
    /// unparseable body: try again later (not before `retry_after_secs`, when
    /// the provider said so with `Retry-After`).
    #[error("the provider could not be reached or answered garbage ({detail})")]
    Transient {
        status: Option<u16>,
        detail: String,
        retry_after_secs: Option<i64>,
    },
}

impl ProviderError {
    /// The HTTP status, when an answer arrived.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ProviderError::RefreshTokenRejected { status, .. }
            | ProviderError::ClientRejected { status, .. }
            | ProviderError::Rejected { status, .. } => Some(*status),
            ProviderError::Transient { status, .. } => *status,
        }
    }

    /// A transient failure without a status or a `Retry-After`.
    pub(crate) fn transient(detail: impl Into<String>) -> Self {
        ProviderError::Transient {
            status: None,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub(crate) fn retry_after_secs(&self) -> Option<i64> {
        match self {
            ProviderError::Transient {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        }
    }

    /// A `429 Too Many Requests`: the provider wants everyone to slow down.
    pub(crate) fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// The OAuth error code, when the provider sent one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            ProviderError::RefreshTokenRejected { code, .. }
            | ProviderError::ClientRejected { code, .. }
            | ProviderError::Rejected { code, .. } => Some(code),
            ProviderError::Transient { .. } => None,
        }
    }
}

/// Statuses that say "not now" rather than "no", whatever the body says:
/// timeouts, rate limits, too early, and every server error.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

/// Seconds from a `Retry-After` header's value (delay-seconds; an HTTP date
/// is read as "soon": 60 s), at most an hour.
pub(crate) fn parse_retry_after(value: &str) -> Option<i64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(value.parse::<i64>().unwrap_or(60).clamp(0, 3_600))
}

/// Classifies an OAuth error answer from the token endpoint.
pub(crate) fn classify_token_error(
    status: u16,
    code: &str,
    description: &str,
    retry_after_secs: Option<i64>,
) -> ProviderError {
    // The provider's words reach the log, the event log and the page: bounded.
    let code = &loggable(code, 64);
    let description = &loggable(description, 200);
    match (status, code.as_str()) {
        (s, _) if is_transient_status(s) => ProviderError::Transient {
            status: Some(status),
            detail: format!("{status} {code}: {description}"),
            retry_after_secs,
        },
        // A 401 is about the app's credentials whatever the code says: never
        // deactivate the whole fleet over a configuration error.
        (401, _) | (_, "invalid_client" | "access_denied") => ProviderError::ClientRejected {
            status,
            code: code.to_owned(),
        },
        (_, "invalid_grant" | "unauthorized_client") => ProviderError::RefreshTokenRejected {
            status,
            code: code.to_owned(),
            description: description.to_owned(),
        },
        _ => ProviderError::Rejected {
            status,
            code: code.to_owned(),
            description: description.to_owned(),
        },
    }
}

/// `text` made safe for a log line: control characters become spaces, and
/// it is cut after `max` characters.
pub(crate) fn loggable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_refresh_tokens_need_the_user() {
        for (status, code) in [
            (403, "invalid_grant"),
            (403, "unauthorized_client"),
            (400, "invalid_grant"),
        ] {
            assert!(matches!(
                classify_token_error(status, code, "x", None),
                ProviderError::RefreshTokenRejected { .. }
            ));
        }
    }

    #[test]
    fn bad_client_credentials_are_configuration_errors() {
        assert!(matches!(
            classify_token_error(401, "access_denied", "Unauthorized", None),
            ProviderError::ClientRejected { .. }
        ));
        assert!(matches!(
            classify_token_error(400, "invalid_client", "", None),
            ProviderError::ClientRejected { .. }
        ));
    }

    #[test]
    fn server_errors_are_transient() {
        assert!(matches!(
            classify_token_error(503, "server_error", "", None),
            ProviderError::Transient {
                status: Some(503),
                ..
            }
        ));
    }

    #[test]
    fn not_now_statuses_are_transient_whatever_the_body_says() {
        // A 429 with Atlassian's dead-token body is still "slow down", not "dead".
        for status in [408, 425, 429, 500, 503] {
            let e = classify_token_error(status, "invalid_grant", "x", Some(7));
            assert_eq!(e.retry_after_secs(), Some(7), "{status}");
            assert!(matches!(e, ProviderError::Transient { .. }), "{status}");
        }
        assert!(classify_token_error(429, "", "", None).is_rate_limited());
        assert!(!classify_token_error(403, "invalid_grant", "", None).is_rate_limited());
    }

    #[test]
    fn a_401_is_the_apps_credentials_whatever_its_code() {
        assert!(matches!(
            classify_token_error(401, "unauthorized_client", "", None),
            ProviderError::ClientRejected { .. }
        ));
    }

    #[test]
    fn the_providers_words_are_bounded() {
        let long = "x\n".repeat(5_000);
        let e = classify_token_error(403, "invalid_grant", &long, None);
        assert!(e.to_string().len() < 400 && !e.to_string().contains('\n'));
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_bounded() {
        assert_eq!(parse_retry_after("120"), Some(120));
        assert_eq!(parse_retry_after("999999"), Some(3_600));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), Some(60));
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn query_words_are_bounded_and_lose_control_characters() {
        assert_eq!(loggable("server_error", 64), "server_error");
        assert_eq!(
            loggable("a\nforged line\r\x1b[31m", 64),
            "a forged line  [31m"
        );
        assert_eq!(loggable(&"x".repeat(70_000), 5), "xxxxx…");
    }
}
