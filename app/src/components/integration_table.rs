use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// The column heads of the compact table (`?view=table`), whose rows are the
/// same cards laid out one line each by the stylesheet: no second component
/// for the browser bundle to carry. "Status" and "Expires" sort; a second
/// click on the sorted one goes back to the oldest connection first.
#[component]
pub fn TableHead(current: DashboardQuery) -> impl IntoView {
    let head = |sort: &'static str, label: &'static str| {
        let sorted = current.sort.as_deref() == Some(sort);
        let next = if sorted { None } else { Some(sort) };
        view! {
            <span>
                <a href=current.sorted(next).href() aria-current=sorted.then_some("true") data-testid=format!("sort-{sort}")>
                    {label}
                    {sorted.then_some(" ▲")}
                </a>
            </span>
        }
    };
    view! {
        <div class="table-head">
            <span>"Site and account"</span>
            {head("status", "Status")}
            {head("expiry", "Expires")}
            <span>"Lifetime"</span>
            <span>"Failures · refreshed · token"</span>
            <span>"Actions"</span>
        </div>
    }
}
