//! The dashboard's address parameters, shared by the dashboard page (which
//! reads them) and the filter form and pager (which write links back to it).

use leptos_router::params::ParamsMap;

/// The dashboard's address parameters: `?page=2&status=expiring&q=acme`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    pub page: i64,
    pub status: Option<String>,
    pub search: Option<String>,
    /// Integrations per page (`?size=`, default 100).
    pub size: Option<i64>,
}

impl DashboardQuery {
    /// Reads the address's query: page 1 unless a number says otherwise, no
    /// status filter for an empty one or `all`, no search for blank text.
    pub fn from_params(q: &ParamsMap) -> Self {
        Self {
            page: q.get_str("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            status: q.get("status").filter(|s| !s.is_empty() && s != "all"),
            search: q.get("q").filter(|s| !s.trim().is_empty()),
            size: q.get_str("size").and_then(|s| s.parse().ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&'static str, &str)]) -> ParamsMap {
        pairs.iter().map(|&(k, v)| (k, v.to_owned())).collect()
    }

    #[test]
    fn an_empty_address_is_page_one_unfiltered() {
        assert_eq!(
            DashboardQuery::from_params(&params(&[])),
            DashboardQuery {
                page: 1,
                status: None,
                search: None,
                size: None,
            }
        );
    }

    #[test]
    fn filters_and_paging_are_read_and_blanks_dropped() {
        let q = params(&[
            ("page", "3"),
            ("status", "expiring"),
            ("q", "acme"),
            ("size", "20"),
        ]);
        assert_eq!(
            DashboardQuery::from_params(&q),
            DashboardQuery {
                page: 3,
                status: Some("expiring".into()),
                search: Some("acme".into()),
                size: Some(20),
            }
        );
        let blank = params(&[("page", "x"), ("status", "all"), ("q", "  "), ("size", "")]);
        assert_eq!(
            DashboardQuery::from_params(&blank),
            DashboardQuery::from_params(&params(&[]))
        );
        assert_eq!(
            DashboardQuery::from_params(&params(&[("status", "")])).status,
            None
        );
    }
}
