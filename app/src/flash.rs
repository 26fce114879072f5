//! Flash messages after the OAuth callback. The callback redirects to
//! `/dashboard?flash=<kind>[&reason=<code>]`; both words are read back into
//! [`domain::Flash`], whose fixed sentences are the only ones ever shown, so a
//! crafted link cannot put words on the page.

use domain::Flash;
pub use domain::Tone;

/// The look and sentence for a flash kind and failure reason, if they are known.
pub fn flash_message(kind: Option<&str>, reason: Option<&str>) -> Option<(Tone, &'static str)> {
    let flash = Flash::parse(kind?, reason)?;
    Some((flash.tone(), flash.sentence()))
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
