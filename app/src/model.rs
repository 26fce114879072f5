//! The views the pages show: the wire contract's types (`domain::views`,
//! re-exported here so pages name them in one place) and what only pages need.

pub use domain::views::*;
pub use domain::Status;

/// Integrations shown per dashboard page.
pub const PAGE_SIZE: i64 = 100;

/// A provider's site URL as a link target: only an https one. (A provider
/// could name anything, `javascript:` included; such a URL is shown as text.)
pub fn https_link(url: &str) -> Option<&str> {
    url.get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| url)
}

#[cfg(test)]
mod link_tests {
    use super::https_link;

    #[test]
    fn only_https_urls_become_links() {
        assert_eq!(
            https_link("https://acme.atlassian.net"),
            Some("https://acme.atlassian.net")
        );
        assert_eq!(
            https_link("HTTPS://acme.atlassian.net"),
            Some("HTTPS://acme.atlassian.net")
        );
        for bad in [
            "http://acme.atlassian.net",
            "javascript:alert(1)",
            "data:text/html,x",
            "",
            "//evil",
        ] {
            assert_eq!(https_link(bad), None, "{bad}");
        }
    }
}
