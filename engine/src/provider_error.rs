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
    /// A 5xx, a timeout, a broken connection or an unparseable body: try again later.
    #[error("the provider could not be reached or answered garbage ({detail})")]
    Transient { status: Option<u16>, detail: String },
}

impl ProviderError {
    /// The HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::RefreshTokenRejected { status, .. }
            | ProviderError::ClientRejected { status, .. }
            | ProviderError::Rejected { status, .. } => Some(*status),
            ProviderError::Transient { status, .. } => *status,
        }
    }

    /// The OAuth error code, when the provider sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ProviderError::RefreshTokenRejected { code, .. }
            | ProviderError::ClientRejected { code, .. }
            | ProviderError::Rejected { code, .. } => Some(code),
            ProviderError::Transient { .. } => None,
        }
    }
}

/// Classifies an OAuth error answer from the token endpoint.
pub fn classify_token_error(status: u16, code: &str, description: &str) -> ProviderError {
    match (status, code) {
        (500..=599, _) => ProviderError::Transient {
            status: Some(status),
            detail: format!("{code}: {description}"),
        },
        (_, "invalid_grant" | "unauthorized_client") => ProviderError::RefreshTokenRejected {
            status,
            code: code.to_owned(),
            description: description.to_owned(),
        },
        (401, _) | (_, "invalid_client" | "access_denied") => ProviderError::ClientRejected {
            status,
            code: code.to_owned(),
        },
        _ => ProviderError::Rejected {
            status,
            code: code.to_owned(),
            description: description.to_owned(),
        },
    }
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
                classify_token_error(status, code, "x"),
                ProviderError::RefreshTokenRejected { .. }
            ));
        }
    }

    #[test]
    fn bad_client_credentials_are_configuration_errors() {
        assert!(matches!(
            classify_token_error(401, "access_denied", "Unauthorized"),
            ProviderError::ClientRejected { .. }
        ));
        assert!(matches!(
            classify_token_error(400, "invalid_client", ""),
            ProviderError::ClientRejected { .. }
        ));
    }

    #[test]
    fn server_errors_are_transient() {
        assert!(matches!(
            classify_token_error(503, "server_error", ""),
            ProviderError::Transient {
                status: Some(503),
                ..
            }
        ));
    }
}
