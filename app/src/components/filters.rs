use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// Filter by status and search by site or account: a plain GET form, so it
/// works without JavaScript too.
#[component]
pub fn Filters(current: DashboardQuery) -> impl IntoView {
    let status = current.status.clone().unwrap_or_default();
    let option = |value: &'static str, label: &'static str| {
        view! { <option value=value selected=status == value>{label}</option> }
    };
    view! {
        <form class="filters" method="get" action="/dashboard" role="search">
            <label>
                <span>"Status"</span>
                <select name="status">
                    {option("", "All")}
                    {option("active", "Active")}
                    {option("expiring", "Expiring")}
                    {option("expired", "Expired")}
                    {option("needs_reauth", "Needs re-auth")}
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
