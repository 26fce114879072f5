use leptos::prelude::*;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::dashboard_query::DashboardQuery;

/// `/dashboard?...` for `page`, keeping the filters.
pub fn page_href(current: &DashboardQuery, page: i64) -> String {
    let mut params = vec![format!("page={page}")];
    if let Some(s) = &current.status {
        params.push(format!("status={}", encode(s)));
    }
    if let Some(q) = &current.search {
        params.push(format!("q={}", encode(q)));
    }
    if let Some(size) = current.size {
        params.push(format!("size={size}"));
    }
    format!("/dashboard?{}", params.join("&"))
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

/// "Page 2 of 100" with previous and next links.
#[component]
pub fn Pager(page: i64, page_size: i64, total: i64, current: DashboardQuery) -> impl IntoView {
    let pages = ((total + page_size - 1) / page_size).max(1);
    let first = (page - 1) * page_size + 1;
    let last = (page * page_size).min(total);
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            {(page > 1).then(|| view! { <a class="button" href=page_href(&current, page - 1) rel="prev">"Previous"</a> })}
            <span>{format!("Page {page} of {pages}")}</span>
            {(page < pages).then(|| view! { <a class="button" href=page_href(&current, page + 1) rel="next">"Next"</a> })}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filters_encoded() {
        let q = DashboardQuery {
            page: 1,
            status: Some("expiring".into()),
            search: Some("a&b c".into()),
            size: None,
        };
        assert_eq!(
            page_href(&q, 3),
            "/dashboard?page=3&status=expiring&q=a%26b%20c"
        );
    }

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(encode("é/+=?#%"), "%C3%A9%2F%2B%3D%3F%23%25");
    }
}
