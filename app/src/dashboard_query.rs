//! The dashboard's address parameters, shared by the dashboard page (which
//! reads them) and the links and forms that write them back: the filter form,
//! the pager, the fleet summary, the view switch and the table's sort links.

use crate::address::Query;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The dashboard's address parameters:
/// `?page=2&status=expiring&q=acme&size=50&view=table&sort=expiry`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardQuery {
    pub page: i64,
    pub status: Option<String>,
    pub search: Option<String>,
    /// Integrations per page (`?size=`, default 100).
    pub size: Option<i64>,
    /// The compact table instead of the cards (`?view=table`).
    pub table: bool,
    /// `expiry` or `status` (`?sort=`); the oldest connection first without it.
    pub sort: Option<String>,
}

impl DashboardQuery {
    /// Reads the address's query: page 1 unless a number says otherwise, no
    /// status filter for an empty one or `all`, no search for blank text.
    pub fn from_query(q: &Query) -> Self {
        let text = |name: &str| q.get(name).map(str::to_owned);
        Self {
            page: q.get("page").map_or(1, page_number),
            status: text("status").filter(|s| !s.is_empty() && s != "all"),
            search: text("q").filter(|s| !s.trim().is_empty()),
            size: q.get("size").and_then(|s| s.parse().ok()),
            table: q.get("view") == Some("table"),
            sort: text("sort").filter(|s| !s.is_empty()),
        }
    }

    /// The same query on page `page`.
    pub fn on_page(&self, page: i64) -> Self {
        Self {
            page,
            ..self.clone()
        }
    }

    /// The first page of this query filtered by `status` (`None`: all).
    pub fn with_status(&self, status: Option<&str>) -> Self {
        Self {
            page: 1,
            status: status.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The first page of this query as cards (`false`) or as the table.
    pub fn as_table(&self, table: bool) -> Self {
        Self {
            page: 1,
            table,
            ..self.clone()
        }
    }

    /// The first page of this query in the order `sort` (`None`: oldest first).
    pub fn sorted(&self, sort: Option<&str>) -> Self {
        Self {
            page: 1,
            sort: sort.map(str::to_owned),
            ..self.clone()
        }
    }

    /// `/dashboard?...` for this query (defaults left out).
    pub fn href(&self) -> String {
        let mut params = Vec::new();
        if self.page > 1 {
            params.push(format!("page={}", self.page));
        }
        if let Some(s) = &self.status {
            params.push(format!("status={}", encode(s)));
        }
        if let Some(q) = &self.search {
            params.push(format!("q={}", encode(q)));
        }
        if let Some(size) = self.size {
            params.push(format!("size={size}"));
        }
        if self.table {
            params.push("view=table".to_owned());
        }
        if let Some(sort) = &self.sort {
            params.push(format!("sort={}", encode(sort)));
        }
        if params.is_empty() {
            "/dashboard".to_owned()
        } else {
            format!("/dashboard?{}", params.join("&"))
        }
    }
}

/// `?page=` as a number: too big for one means "far past the end" (the
/// server shows the last page), too small "before the start" (the first);
/// anything but a number is page 1.
fn page_number(text: &str) -> i64 {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) if digits(text.strip_prefix('+').unwrap_or(text)) => i64::MAX,
        Err(_) if text.strip_prefix('-').is_some_and(digits) => i64::MIN,
        Err(_) => 1,
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&'static str, &str)]) -> Query {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Query::parse(&text.join("&"))
    }

    #[test]
    fn an_empty_address_is_page_one_unfiltered() {
        assert_eq!(
            DashboardQuery::from_query(&params(&[])),
            DashboardQuery {
                page: 1,
                ..DashboardQuery::default()
            }
        );
    }

    #[test]
    fn filters_paging_view_and_sort_are_read_and_blanks_dropped() {
        let q = params(&[
            ("page", "3"),
            ("status", "expiring"),
            ("q", "acme"),
            ("size", "20"),
            ("view", "table"),
            ("sort", "expiry"),
        ]);
        assert_eq!(
            DashboardQuery::from_query(&q),
            DashboardQuery {
                page: 3,
                status: Some("expiring".into()),
                search: Some("acme".into()),
                size: Some(20),
                table: true,
                sort: Some("expiry".into()),
            }
        );
        let blank = params(&[
            ("page", "x"),
            ("status", "all"),
            ("q", "  "),
            ("size", ""),
            ("view", "cards"),
            ("sort", ""),
        ]);
        assert_eq!(
            DashboardQuery::from_query(&blank),
            DashboardQuery::from_query(&params(&[]))
        );
        assert_eq!(
            DashboardQuery::from_query(&params(&[("status", "")])).status,
            None
        );
    }

    #[test]
    fn a_page_too_big_for_a_number_is_far_past_the_end() {
        let page = |text: &str| DashboardQuery::from_query(&params(&[("page", text)])).page;
        assert_eq!(page("9223372036854775807"), i64::MAX);
        assert_eq!(page("99999999999999999999999"), i64::MAX);
        assert_eq!(page("-99999999999999999999999"), i64::MIN);
        assert_eq!(page("7"), 7);
        assert_eq!(page("0"), 0);
        assert_eq!(page("1e9"), 1);
        assert_eq!(page("-"), 1);
        assert_eq!(page(""), 1);
    }

    #[test]
    fn links_keep_the_rest_of_the_query_encoded() {
        let q = DashboardQuery {
            page: 2,
            status: Some("expiring".into()),
            search: Some("a&b c".into()),
            table: true,
            sort: Some("status".into()),
            ..DashboardQuery::default()
        };
        assert_eq!(
            q.on_page(3).href(),
            "/dashboard?page=3&status=expiring&q=a%26b%20c&view=table&sort=status"
        );
        // A new filter, view or order starts again on page 1.
        assert_eq!(
            q.with_status(Some("expired")).href(),
            "/dashboard?status=expired&q=a%26b%20c&view=table&sort=status"
        );
        assert_eq!(
            q.as_table(false).sorted(None).with_status(None).href(),
            "/dashboard?q=a%26b%20c"
        );
        assert_eq!(DashboardQuery::default().href(), "/dashboard");
    }

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(encode("é/+=?#%"), "%C3%A9%2F%2B%3D%3F%23%25");
    }
}
