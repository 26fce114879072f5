use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// "Page 2 of 100" with previous and next links.
#[component]
pub fn Pager(page: i64, page_size: i64, total: i64, current: DashboardQuery) -> impl IntoView {
    let pages = ((total + page_size - 1) / page_size).max(1);
    let first = (page - 1) * page_size + 1;
    let last = (page * page_size).min(total);
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            {(page > 1).then(|| view! { <a class="button" href=current.on_page(page - 1).href() rel="prev">"Previous"</a> })}
            <span>{format!("Page {page} of {pages}")}</span>
            {(page < pages).then(|| view! { <a class="button" href=current.on_page(page + 1).href() rel="next">"Next"</a> })}
        </nav>
    }
}
