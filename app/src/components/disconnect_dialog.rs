use leptos::html;
use leptos::prelude::*;

use super::{DashboardCtx, Dialog};

/// Asks before disconnecting (the tokens are deleted).
#[component]
pub fn DisconnectDialog() -> impl IntoView {
    let ctx = expect_context::<DashboardCtx>();
    move || {
        ctx.confirm_disconnect.get().map(|(id, site)| {
            let cancel = NodeRef::<html::Button>::new();
            let close = Callback::new(move |_| ctx.confirm_disconnect.set(None));
            view! {
                <Dialog labelled_by="disconnect-title" described_by="disconnect-why" initial_focus=cancel on_close=close>
                    <h2 id="disconnect-title">{format!("Disconnect {site}?")}</h2>
                    <p id="disconnect-why">
                        "Its tokens are deleted and it leaves the dashboard. Its event log is kept. \
                         You can connect it again at any time."
                    </p>
                    <div class="dialog-actions">
                        <button class="button" node_ref=cancel on:click=move |_| close.run(())>"Cancel"</button>
                        <button class="button danger-solid" on:click=move |_| ctx.disconnect(id)>"Disconnect"</button>
                    </div>
                </Dialog>
            }
        })
    }
}
