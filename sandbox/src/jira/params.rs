//! Reading a Jira route's query string and page sizes, with Atlassian-shaped
//! refusals instead of axum's plain-text ones.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::jira::error::JiraError;

/// The most results one page holds (`maxResults` above it is lowered to it).
pub const MAX_PAGE_SIZE: usize = 100;
/// A page's size when `maxResults` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// A query string's parameters, decoded, in order (a name may repeat).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The whole number `name` holds, if given.
    pub fn number(&self, name: &str) -> Result<Option<i64>, JiraError> {
        self.first(name)
            .map(|value| {
                value.trim().parse().map_err(|_| {
                    JiraError::BadRequest(format!("{name} must be a whole number, not '{value}'."))
                })
            })
            .transpose()
    }
}

/// The request's query string, as an extractor.
impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self::parse(parts.uri.query()))
    }
}

/// The page size `maxResults` asks for: 50 when absent, at most 100.
pub fn page_size(max_results: Option<i64>) -> Result<usize, JiraError> {
    match max_results {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 1 => Err(JiraError::BadRequest(format!(
            "maxResults must be at least 1, not {n}."
        ))),
        Some(n) => Ok(usize::try_from(n).map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_to_50_and_stop_at_100() {
        assert_eq!(page_size(None), Ok(50));
        assert_eq!(page_size(Some(7)), Ok(7));
        assert_eq!(page_size(Some(1_000)), Ok(100));
        assert!(page_size(Some(0)).is_err());
    }

    #[test]
    fn repeated_and_encoded_parameters_are_read() {
        let params = QueryParams::parse(Some("jql=status%20%3D%20Done&fields=a&fields=b,c&n=x"));
        assert_eq!(params.first("jql"), Some("status = Done"));
        assert_eq!(params.all("fields"), ["a", "b,c"]);
        assert!(params.number("n").is_err());
        assert_eq!(params.number("missing"), Ok(None));
    }
}
