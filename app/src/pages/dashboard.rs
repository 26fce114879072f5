use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{fetch_app_info, list_integrations};
use crate::components::{
    DashboardCtx, DisconnectDialog, EmptyState, Header, IntegrationCard, ReauthDialog,
};
use crate::flash::flash_message;

/// `/dashboard`: every integration with its live countdown.
#[component]
pub fn Dashboard() -> impl IntoView {
    let info = Resource::new(|| (), |_| fetch_app_info());
    let integrations = Resource::new(|| (), |_| list_integrations());
    let ctx = DashboardCtx::new(integrations);
    provide_context(ctx);
    let query = use_query_map();
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
            <Transition fallback=|| view! { <p class="loading">"Loading integrations…"</p> }>
                {move || Suspend::new(async move {
                    let info = info.await;
                    let integrations = integrations.await;
                    match (info, integrations) {
                        (Ok(_), Ok(list)) if list.is_empty() => view! { <EmptyState/> }.into_any(),
                        (Ok(info), Ok(list)) => view! {
                            <ul class="integrations" aria-label="Integrations">
                                {list
                                    .into_iter()
                                    .map(|integration| view! {
                                        <IntegrationCard integration info=info.clone()/>
                                    })
                                    .collect_view()}
                            </ul>
                        }
                        .into_any(),
                        (Err(e), _) | (_, Err(e)) => view! {
                            <p class="error" role="alert">{e.to_string()}</p>
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
