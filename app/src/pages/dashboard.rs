use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{dashboard_page, fetch_app_info};
use crate::components::{
    DashboardCtx, DisconnectDialog, EmptyState, Filters, Header, IntegrationCard, Pager,
    ReauthDialog,
};
use crate::dashboard_query::DashboardQuery;
use crate::flash::flash_message;

/// `/dashboard`: every integration with its live countdown, 100 per page.
#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let wanted = move || query.with(DashboardQuery::from_params);
    let info = Resource::new(|| (), |_| fetch_app_info());
    let integrations = Resource::new(wanted, |w| {
        dashboard_page(Some(w.page), w.status, w.search, w.size)
    });
    let ctx = DashboardCtx::new(integrations);
    provide_context(ctx);
    let flash = move || {
        query.with(|q| {
            flash_message(q.get_str("flash"), q.get_str("reason")).map(|(tone, text)| {
                view! { <p class=tone.class() role="status" data-testid="flash">{text}</p> }
            })
        })
    };

    view! {
        <Header info/>
        <main class="content" id="main">
            {flash}
            <Filters current=Signal::derive(wanted)/>
            <Transition fallback=|| view! { <p class="loading">"Loading integrations…"</p> }>
                {move || Suspend::new(async move {
                    let info = info.await;
                    let page = integrations.await;
                    let filtered = {
                        let w = wanted();
                        w.status.is_some() || w.search.is_some()
                    };
                    match (info, page) {
                        (Ok(info), Ok(page)) if page.total == 0 && !filtered => view! { <EmptyState may_operate=info.may_operate()/> }.into_any(),
                        (Ok(_), Ok(page)) if page.items.is_empty() => view! {
                            <p class="empty-filter">"No integration matches this filter."</p>
                        }
                        .into_any(),
                        (Ok(info), Ok(page)) => view! {
                            <ul class="integrations" aria-label="Integrations">
                                {page
                                    .items
                                    .clone()
                                    .into_iter()
                                    .map(|integration| view! {
                                        <IntegrationCard integration info=info.clone()/>
                                    })
                                    .collect_view()}
                            </ul>
                            <Pager page=page.page page_size=page.page_size total=page.total current=wanted()/>
                        }
                        .into_any(),
                        (Err(e), _) | (_, Err(e)) => view! {
                            <p class="error" role="alert">{crate::components::error_text(e)}</p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
            <ReauthDialog/>
            <DisconnectDialog/>
        </main>
    }
}
