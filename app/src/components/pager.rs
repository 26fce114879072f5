use leptos::prelude::*;

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

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
}
