//! What the OAuth callback tells the dashboard. The callback redirects to
//! `/dashboard?flash=<flash>[&reason=<failure>]`; the dashboard turns those two
//! words back into a fixed sentence, so a crafted link cannot put words on the
//! page. Both sides use these types: a renamed code breaks the build, not the page.

/// Why a connect flow that reached the provider failed. Its [`sentence`]
/// is the one thing the user reads about it (the log adds the cause).
///
/// [`sentence`]: ConnectFailure::sentence
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// The provider sent `?error=` other than `access_denied`.
    ProviderRefused,
    /// The callback carried no authorization code.
    NoCode,
    /// The code could not be exchanged for tokens.
    Exchange,
    /// accessible-resources could not be read.
    Resources,
    /// The grant reaches no Jira site.
    NoSites,
    /// `/me` could not be read.
    Account,
    /// The integration being re-authenticated no longer exists.
    UnknownIntegration,
    /// The consent came back for an account other than the one the
    /// re-authenticated integration belongs to.
    OtherAccount,
    /// Through a connect link, the consent came back for an Atlassian account
    /// that already has an integration belonging to someone else.
    OtherOwner,
    /// The connect link that started the flow was withdrawn meanwhile (its
    /// API key revoked).
    LinkWithdrawn,
    /// The connection could not be stored.
    Storage,
}

impl ConnectFailure {
    pub const ALL: [ConnectFailure; 11] = [
        ConnectFailure::ProviderRefused,
        ConnectFailure::NoCode,
        ConnectFailure::Exchange,
        ConnectFailure::Resources,
        ConnectFailure::NoSites,
        ConnectFailure::Account,
        ConnectFailure::UnknownIntegration,
        ConnectFailure::OtherAccount,
        ConnectFailure::OtherOwner,
        ConnectFailure::LinkWithdrawn,
        ConnectFailure::Storage,
    ];

    /// The `reason=` code in the redirect.
    pub fn code(self) -> &'static str {
        match self {
            ConnectFailure::ProviderRefused => "provider",
            ConnectFailure::NoCode => "no_code",
            ConnectFailure::Exchange => "exchange",
            ConnectFailure::Resources => "resources",
            ConnectFailure::NoSites => "no_sites",
            ConnectFailure::Account => "account",
            ConnectFailure::UnknownIntegration => "unknown_integration",
            ConnectFailure::OtherAccount => "other_account",
            ConnectFailure::OtherOwner => "other_owner",
            ConnectFailure::LinkWithdrawn => "link_withdrawn",
            ConnectFailure::Storage => "storage",
        }
    }

    /// The failure a `reason=` code names.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// What the user reads.
    pub fn sentence(self) -> &'static str {
        match self {
            ConnectFailure::ProviderRefused => "Atlassian refused the request, so nothing was connected.",
            ConnectFailure::NoCode => "Atlassian sent no authorization code, so nothing was connected.",
            ConnectFailure::Exchange => "The authorization code could not be exchanged for tokens, so nothing was connected.",
            ConnectFailure::Resources => "The list of Jira sites could not be read, so nothing was connected.",
            ConnectFailure::NoSites => "The grant reaches no Jira site, so nothing was connected. Choose at least one site on the consent page.",
            ConnectFailure::Account => "The Atlassian account could not be read, so nothing was connected.",
            ConnectFailure::UnknownIntegration => "The integration to re-authenticate no longer exists.",
            ConnectFailure::OtherAccount => "You signed in with an account that does not own this integration, so nothing changed. Re-authenticate with the integration's own Atlassian account.",
            ConnectFailure::OtherOwner => "This Atlassian account is already connected here for someone else, so nothing changed. Connect with another Atlassian account, or ask the product that sent you the link.",
            ConnectFailure::LinkWithdrawn => "The link that started this was withdrawn meanwhile, so nothing was connected. Ask whoever sent it for a new one.",
            ConnectFailure::Storage => "The connection could not be completed, so nothing was connected.",
        }
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sentence())
    }
}

/// How a flash looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Warning,
    Failure,
}

impl Tone {
    /// The flash's CSS classes.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Success => "flash success",
            Tone::Warning => "flash warning",
            Tone::Failure => "flash failure",
        }
    }
}

/// The outcome of a connect flow, as the callback's redirect names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    /// A new integration.
    Connected,
    /// An account that already had an integration: that one was updated.
    Reconnected,
    /// The integration the flow was started for was repaired.
    Reauthenticated,
    /// The user declined on the consent page.
    Declined,
    Failed(ConnectFailure),
}

impl Flash {
    /// The `flash=` word.
    pub fn kind(self) -> &'static str {
        match self {
            Flash::Connected => "connected",
            Flash::Reconnected => "reconnected",
            Flash::Reauthenticated => "reauthenticated",
            Flash::Declined => "declined",
            Flash::Failed(_) => "failed",
        }
    }

    /// `flash=..[&reason=..]`, for the redirect's query.
    pub fn query(self) -> String {
        match self {
            Flash::Failed(f) => format!("flash=failed&reason={}", f.code()),
            other => format!("flash={}", other.kind()),
        }
    }

    /// The flash a redirect's `flash` and `reason` name; a failure with an
    /// unknown reason reads as a storage failure (the generic sentence).
    pub fn parse(kind: &str, reason: Option<&str>) -> Option<Self> {
        Some(match kind {
            "connected" => Flash::Connected,
            "reconnected" => Flash::Reconnected,
            "reauthenticated" => Flash::Reauthenticated,
            "declined" => Flash::Declined,
            "failed" => Flash::Failed(
                reason
                    .and_then(ConnectFailure::from_code)
                    .unwrap_or(ConnectFailure::Storage),
            ),
            _ => return None,
        })
    }

    pub fn tone(self) -> Tone {
        match self {
            Flash::Connected | Flash::Reconnected | Flash::Reauthenticated => Tone::Success,
            Flash::Declined => Tone::Warning,
            Flash::Failed(_) => Tone::Failure,
        }
    }

    /// What the user reads.
    pub fn sentence(self) -> &'static str {
        match self {
            Flash::Connected => "Connected. The new integration's token is now kept alive.",
            Flash::Reconnected => "Reconnected. That account already had an integration, so it was updated instead of duplicated.",
            Flash::Reauthenticated => "Re-authenticated. The integration is active again.",
            Flash::Declined => "You declined access on Atlassian's consent page, so nothing was connected.",
            Flash::Failed(f) => f.sentence(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_the_redirect() {
        for f in ConnectFailure::ALL {
            assert_eq!(ConnectFailure::from_code(f.code()), Some(f));
            let flash = Flash::Failed(f);
            let query = flash.query();
            let reason = query.split("reason=").nth(1);
            assert_eq!(Flash::parse(flash.kind(), reason), Some(flash));
        }
        for flash in [
            Flash::Connected,
            Flash::Reconnected,
            Flash::Reauthenticated,
            Flash::Declined,
        ] {
            assert_eq!(Flash::parse(flash.kind(), None), Some(flash));
        }
    }

    #[test]
    fn unknown_words_show_nothing_or_the_generic_sentence() {
        assert_eq!(Flash::parse("<script>", None), None);
        assert_eq!(
            Flash::parse("failed", Some("<b>")),
            Some(Flash::Failed(ConnectFailure::Storage))
        );
    }
}
