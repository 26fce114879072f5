use leptos::html;
use leptos::prelude::*;

use super::{DashboardCtx, Dialog};

/// "Re-authentication required": why, "Re-authenticate" (repairs the same
/// integration) and "Not now" (it stays inactive).
#[component]
pub fn ReauthDialog() -> impl IntoView {
    let ctx = expect_context::<DashboardCtx>();
    move || {
        ctx.reauth.get().map(|(id, why)| {
            let not_now = NodeRef::<html::Button>::new();
            let close = Callback::new(move |_| ctx.reauth.set(None));
            view! {
                <Dialog labelled_by="reauth-title" described_by="reauth-why" initial_focus=not_now on_close=close>
                    <h2 id="reauth-title">"Re-authentication required"</h2>
                    <p id="reauth-why">{why}</p>
                    <p class="muted">
                        "Re-authenticating opens Atlassian's consent page and repairs this same integration."
                    </p>
                    <div class="dialog-actions">
                        <button class="button" node_ref=not_now on:click=move |_| close.run(())>"Not now"</button>
                        <a class="button primary" href=format!("/oauth/start?integration={id}") rel="external">
                            "Re-authenticate"
                        </a>
                    </div>
                </Dialog>
            }
        })
    }
}
