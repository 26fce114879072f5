use leptos::prelude::*;

use crate::dashboard_query::DashboardQuery;
use crate::model::{FleetSummaryView, Status};
use domain::RefreshPolicy;

/// The fleet by status above the cards: each count links to its filter (the
/// one shown is marked), so what needs a person is one click away. The counts
/// follow `summary`, which the page re-reads as live changes arrive.
#[component]
pub fn FleetSummary(
    summary: RwSignal<FleetSummaryView>,
    current: DashboardQuery,
    /// Only the statuses this policy can produce are shown.
    policy: RefreshPolicy,
) -> impl IntoView {
    let link = |status: Option<Status>| {
        let name = status.map(Status::as_str);
        let shown = current.status.as_deref() == name;
        let count = move || {
            summary.with(|s| match status {
                Some(st) => s.count(st),
                None => policy.statuses().iter().map(|&st| s.count(st)).sum(),
            })
        };
        view! {
            <a
                class=format!("summary-item {}", name.unwrap_or("all"))
                href=current.with_status(name).href()
                aria-current=shown.then_some("true")
                data-testid=format!("summary-{}", name.unwrap_or("all"))
            >
                <strong class="count">{count}</strong>
                " "
                {status.map(Status::label).unwrap_or("all")}
            </a>
        }
    };
    view! {
        <nav class="fleet-summary" aria-label="Integrations by status">
            {link(None)}
            {policy.statuses().iter().map(|&st| link(Some(st))).collect_view()}
        </nav>
    }
}
