use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// "Page 2 of 100" with previous and next links. `page` is the page served:
/// when the address asked for one past the end, the server served the last
/// one, and the pager says so.
#[component]
pub fn Pager(page: i64, page_size: i64, total: i64, current: DashboardQuery) -> impl IntoView {
    let pages = ((total + page_size - 1) / page_size).max(1);
    let first = (page - 1) * page_size + 1;
    let last = (page * page_size).min(total);
    let past_the_end = (current.page > page).then(|| {
        view! {
            <span class="muted" role="status" data-testid="past-the-end">
                {format!("There is no page {}: this is the last one.", current.page)}
            </span>
        }
    });
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            {(page > 1).then(|| view! { <a class="button" href=current.on_page(page - 1).href() rel="prev">"Previous"</a> })}
            <span>{format!("Page {page} of {pages}")}</span>
            {past_the_end}
            {(page < pages).then(|| view! { <a class="button" href=current.on_page(page + 1).href() rel="next">"Next"</a> })}
        </nav>
    }
}
