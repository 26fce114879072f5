use leptos::prelude::*;

use crate::live::{use_live, LiveState};

/// "Live" while the page hears the server, "Reconnecting..." while it does not.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_live();
    view! {
        <span
            class=move || if live.state.get() == LiveState::Live { "live-state on" } else { "live-state off" }
            data-testid="live"
            role="status"
        >
            {move || live.state.get().label()}
        </span>
    }
}
