use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;
use crate::model::Status;
use domain::RefreshPolicy;

/// A status as the filter's list names it.
fn filter_label(status: Status) -> &'static str {
    match status {
        Status::Active => "Active",
        Status::Expiring => "Expiring",
        Status::Expired => "Expired",
        Status::Idle => "Idle",
        Status::NeedsReauth => "Needs re-auth",
    }
}

/// Filter by status and search by site or account: a plain GET form, so it
/// works without JavaScript too.
#[component]
pub fn Filters(
    current: DashboardQuery,
    /// Only the statuses this policy can produce are offered.
    policy: RefreshPolicy,
) -> impl IntoView {
    let status = current.status.clone().unwrap_or_default();
    let option = |value: &'static str, label: &'static str| {
        view! { <option value=value selected=status == value>{label}</option> }
    };
    let options = policy
        .statuses()
        .iter()
        .map(|st| option(st.as_str(), filter_label(*st)))
        .collect_view();
    view! {
        <form class="filters" method="get" action="/dashboard" role="search">
            <label>
                <span>"Status"</span>
                <select name="status">
                    {option("", "All")}
                    {options}
                </select>
            </label>
            <label class="grow">
                <span>"Search"</span>
                <input
                    type="search"
                    name="q"
                    placeholder="Site or account"
                    value=current.search.clone().unwrap_or_default()
                />
            </label>
            // The view, order and page size stay as they are.
            {current.size.map(|size| view! { <input type="hidden" name="size" value=size/> })}
            {current.table.then(|| view! { <input type="hidden" name="view" value="table"/> })}
            {current.sort.clone().map(|sort| view! { <input type="hidden" name="sort" value=sort/> })}
            <button class="button" type="submit">"Apply"</button>
        </form>
    }
}
