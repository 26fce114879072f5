use leptos::prelude::*;

use crate::address::use_address;
use crate::api::{dashboard_page, fetch_app_info, fleet_summary};
use crate::clock::use_clock;
use crate::components::{
    DashboardCtx, DisconnectDialog, EmptyState, Filters, FleetSummary, Header, IntegrationCard,
    JiraQuotaPanel, Pager, ReauthDialog, TableHead, ViewSwitch,
};
use crate::dashboard_query::DashboardQuery;
use crate::flash::flash_message;
use crate::live::{use_live, LiveChange};
use crate::model::{DashboardPageView, FleetSummaryView, IntegrationView};

/// The cards on the page, each behind its own signal: a live change to one
/// integration sets that card's signal and redraws that card alone.
#[derive(Clone, Copy)]
struct Slots(StoredValue<Vec<(i64, RwSignal<IntegrationView>)>>);

impl Slots {
    fn new() -> Self {
        Self(StoredValue::new(Vec::new()))
    }

    /// Forgets the previous page's cards (their owners go with that page).
    fn clear(self) {
        self.0.update_value(Vec::clear);
    }

    /// A signal for a card about to be drawn.
    fn add(self, integration: IntegrationView) -> RwSignal<IntegrationView> {
        let id = integration.id;
        let slot = RwSignal::new(integration);
        self.0.update_value(|slots| slots.push((id, slot)));
        slot
    }

    fn find(self, id: i64) -> Option<RwSignal<IntegrationView>> {
        self.0
            .with_value(|slots| slots.iter().find(|(i, _)| *i == id).map(|(_, s)| *s))
    }
}

/// Applies each live change to the page: a card on the page is redrawn in
/// place (its countdown restarts from the new expiry); anything that may move
/// cards between pages or filters (a new integration, a removal, a status
/// that leaves the filter, a sorted view, a reconnect) re-reads the page.
/// The fleet summary is re-counted at most once a second after changes, and
/// every half minute anyway (statuses also change as time passes).
fn apply_live(
    slots: Slots,
    page: Resource<Result<DashboardPageView, ServerFnError>>,
    summary: RwSignal<FleetSummaryView>,
    wanted: DashboardQuery,
) {
    let live = use_live();
    // In place only where the page's order and filter cannot move the card.
    let in_place = move |status: &str| {
        wanted.sort.is_none() && wanted.status.as_deref().is_none_or(|s| s == status)
    };
    let recount = StoredValue::new(false);
    Effect::new(move |_| {
        let changes = live.drain();
        if changes.is_empty() {
            return;
        }
        recount.set_value(true);
        let mut reread = false;
        for change in changes {
            match change {
                LiveChange::Updated(view) => match slots.find(view.id) {
                    Some(slot) if in_place(view.status.as_str()) => slot.set(*view),
                    _ => reread = true,
                },
                LiveChange::Removed(id) => reread |= slots.find(id).is_some(),
                LiveChange::Reread => reread = true,
            }
        }
        if reread {
            page.refetch();
        }
    });
    let clock = use_clock();
    Effect::new(move |_| {
        let Some(now) = clock.now() else { return };
        if recount.get_value() || now % 30 == 0 {
            recount.set_value(false);
            leptos::task::spawn_local(async move {
                if let Ok(counts) = fleet_summary().await {
                    summary.set(counts);
                }
            });
        }
    });
}

/// `/dashboard`: every integration with its live countdown, 100 per page, as
/// cards or as a compact table, under the fleet's counts by status; below
/// them, the Jira quota the services share.
#[component]
pub fn Dashboard() -> impl IntoView {
    // Every link and form leads to a new page load: the address is fixed.
    let query = use_address().query;
    let wanted = DashboardQuery::from_query(&query);
    let info = Resource::new(|| (), |_| fetch_app_info());
    let integrations = Resource::new(|| (), {
        let w = wanted.clone();
        move |_| {
            let w = w.clone();
            dashboard_page(Some(w.page), w.status, w.search, w.size, w.sort)
        }
    });
    let ctx = DashboardCtx::new(integrations);
    provide_context(ctx);
    let slots = Slots::new();
    let summary = RwSignal::new(FleetSummaryView::default());
    apply_live(slots, integrations, summary, wanted.clone());
    let flash = flash_message(query.get("flash"), query.get("reason")).map(|(tone, text)| {
        view! { <p class=tone.class() role="status" data-testid="flash">{text}</p> }
    });

    view! {
        <Header info/>
        <main class="content" id="main">
            {flash}
            <Transition fallback=|| view! { <p class="loading">"Loading integrations…"</p> }>
                {move || { let w = wanted.clone(); Suspend::new(async move {
                    let info = info.await;
                    let page = integrations.await;
                    let filtered = w.status.is_some() || w.search.is_some();
                    let policy = info.as_ref().map(|i| i.status_rule.policy).unwrap_or_default();
                    if let Ok(page) = &page {
                        summary.set(page.summary);
                    }
                    let list = match (info, page) {
                        (Ok(info), Ok(page)) if page.total == 0 && !filtered => {
                            return view! { <EmptyState may_operate=info.may_operate()/> }.into_any();
                        }
                        (Ok(_), Ok(page)) if page.items.is_empty() => view! {
                            <p class="empty-filter">"No integration matches this filter."</p>
                        }
                        .into_any(),
                        (Ok(info), Ok(page)) => {
                            // Each card is drawn from its own slot, which live
                            // changes to that integration set.
                            slots.clear();
                            let cards = page.items.into_iter().map(|integration| {
                                let slot = slots.add(integration);
                                view! { <IntegrationCard integration=slot info=info.clone()/> }
                            }).collect_view();
                            let class = if w.table { "integrations compact" } else { "integrations" };
                            view! {
                                {w.table.then(|| view! { <TableHead current=w.clone()/> })}
                                <ul class=class aria-label="Integrations">{cards}</ul>
                                <Pager page=page.page page_size=page.page_size total=page.total current=w.clone()/>
                            }
                            .into_any()
                        }
                        (Err(e), _) | (_, Err(e)) => view! {
                            <p class="error" role="alert">{crate::components::error_text(e)}</p>
                        }
                        .into_any(),
                    };
                    view! {
                        <Filters current=w.clone() policy/>
                        <div class="list-head">
                            <FleetSummary summary current=w.clone() policy/>
                            <ViewSwitch current=w/>
                        </div>
                        {list}
                    }
                    .into_any()
                })}}
            </Transition>
            <JiraQuotaPanel/>
            <ReauthDialog/>
            <DisconnectDialog/>
        </main>
    }
}
