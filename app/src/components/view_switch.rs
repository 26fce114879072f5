use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;

/// "Cards | Table": links to the same query in the other view.
#[component]
pub fn ViewSwitch(current: DashboardQuery) -> impl IntoView {
    let link = |table: bool, label: &'static str| {
        view! {
            <a
                class="view-choice"
                href=current.as_table(table).href()
                aria-current=(current.table == table).then_some("page")
            >
                {label}
            </a>
        }
    };
    view! {
        <nav class="view-switch" aria-label="View">
            {link(false, "Cards")}
            {link(true, "Table")}
        </nav>
    }
}
