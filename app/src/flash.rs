//! Flash messages after the OAuth callback. The callback redirects to
//! `/dashboard?flash=<kind>[&reason=<code>]`; only these fixed sentences are
//! ever shown, so a crafted link cannot put words on the page.

/// How a flash looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Warning,
    Failure,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Success => "flash success",
            Tone::Warning => "flash warning",
            Tone::Failure => "flash failure",
        }
    }
}

/// The sentence for a flash kind and failure reason, if they are known.
pub fn flash_message(kind: Option<&str>, reason: Option<&str>) -> Option<(Tone, &'static str)> {
    Some(match kind? {
        "connected" => (Tone::Success, "Connected. The new integration's token is now kept alive."),
        "reconnected" => (
            Tone::Success,
            "Reconnected. That account already had an integration, so it was updated instead of duplicated.",
        ),
        "reauthenticated" => (Tone::Success, "Re-authenticated. The integration is active again."),
        "declined" => (
            Tone::Warning,
            "You declined access on Atlassian's consent page, so nothing was connected.",
        ),
        "failed" => (Tone::Failure, failure_sentence(reason)),
        _ => return None,
    })
}

fn failure_sentence(reason: Option<&str>) -> &'static str {
    match reason.unwrap_or_default() {
        "provider" => "Atlassian refused the request, so nothing was connected.",
        "no_code" => "Atlassian sent no authorization code, so nothing was connected.",
        "exchange" => "The authorization code could not be exchanged for tokens, so nothing was connected.",
        "resources" => "The list of Jira sites could not be read, so nothing was connected.",
        "no_sites" => "The grant reaches no Jira site, so nothing was connected. Choose at least one site on the consent page.",
        "account" => "The Atlassian account could not be read, so nothing was connected.",
        "unknown_integration" => "The integration to re-authenticate no longer exists.",
        "other_account" => "You signed in with an account that belongs to another integration. Re-authenticate with the integration's own account.",
        _ => "The connection could not be completed, so nothing was connected.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_have_sentences_and_unknown_ones_none() {
        assert_eq!(
            flash_message(Some("connected"), None).map(|f| f.0),
            Some(Tone::Success)
        );
        assert_eq!(
            flash_message(Some("declined"), None).map(|f| f.0),
            Some(Tone::Warning)
        );
        let (tone, text) = flash_message(Some("failed"), Some("no_sites")).expect("known");
        assert_eq!(tone, Tone::Failure);
        assert!(text.contains("no Jira site"));
        assert_eq!(flash_message(Some("<script>"), None), None);
        assert_eq!(flash_message(None, Some("exchange")), None);
    }
}
