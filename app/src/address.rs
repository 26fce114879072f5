//! Which page the address names, and its query parameters: read from the
//! request on the server and from `window.location` in the browser.
//!
//! The app has three pages, and every link between them is a full page load
//! (the server renders each page whole, then the browser hydrates it), so it
//! needs no client-side router. Leaving `leptos_router` out took a third of
//! the browser bundle away (385 KB to 270 KB gzipped, measured): each routed
//! view is kept behind a type-erased view that carries an asynchronous
//! hydration path this app never takes.

use leptos::prelude::*;

/// The pages the app renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `/dashboard`.
    Dashboard,
    /// `/integrations/{id}`, with the id as written (the page reads it).
    Integration(String),
    /// Anything else.
    NotFound,
}

impl Page {
    /// The page a path names.
    pub fn of(path: &str) -> Self {
        match path.strip_prefix("/integrations/") {
            Some(id) if !id.is_empty() && !id.contains('/') => Page::Integration(id.to_owned()),
            _ if path == "/dashboard" => Page::Dashboard,
            _ => Page::NotFound,
        }
    }
}

/// An address's query parameters, decoded (`+` is a space, as a GET form sends it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Reads `a=1&b=two` (a leading `?` is allowed).
    pub fn parse(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        Self(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The current page and its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub page: Page,
    pub query: Query,
}

/// Reads the current address and puts it in context.
pub fn provide_address() -> Address {
    let (path, query) = current();
    let address = Address {
        page: Page::of(&path),
        query: Query::parse(&query),
    };
    provide_context(address.clone());
    address
}

/// The current address, from context.
pub fn use_address() -> Address {
    expect_context::<Address>()
}

/// The request's path and query (on the server).
#[cfg(feature = "ssr")]
fn current() -> (String, String) {
    use_context::<http::request::Parts>()
        .map(|parts| {
            (
                parts.uri.path().to_owned(),
                parts.uri.query().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default()
}

/// The page's path and query (in the browser).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn current() -> (String, String) {
    web_sys::window()
        .map(|w| w.location())
        .map(|l| {
            (
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

/// Neither (a plain `cargo check`).
#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn current() -> (String, String) {
    Default::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(Page::of("/dashboard"), Page::Dashboard);
        assert_eq!(Page::of("/integrations/42"), Page::Integration("42".into()));
        assert_eq!(Page::of("/integrations/"), Page::NotFound);
        assert_eq!(Page::of("/integrations/4/2"), Page::NotFound);
        assert_eq!(Page::of("/dashboard/x"), Page::NotFound);
        assert_eq!(Page::of("/"), Page::NotFound);
    }

    #[test]
    fn queries_are_decoded_and_the_first_value_wins() {
        let q = Query::parse("?q=a+b%26c&status=&q=second&flag");
        assert_eq!(q.get("q"), Some("a b&c"));
        assert_eq!(q.get("status"), Some(""));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("missing"), None);
        assert_eq!(Query::parse(""), Query::default());
    }
}
