use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// Filter by status and search by site or account: a plain GET form, so it
/// works without JavaScript too.
#[component]
pub fn Filters(current: Signal<DashboardQuery>) -> impl IntoView {
    let status = move || current.with(|c| c.status.clone().unwrap_or_default());
    let option = move |value: &'static str, label: &'static str| {
        view! { <option value=value selected=move || status() == value>{label}</option> }
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
                    value=move || current.with(|c| c.search.clone().unwrap_or_default())
                />
            </label>
            {move || current.with(|c| c.size).map(|size| view! { <input type="hidden" name="size" value=size/> })}
            <button class="button" type="submit">"Apply"</button>
        </form>
    }
}
