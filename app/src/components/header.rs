use leptos::prelude::*;

use super::{AccountMenu, LiveIndicator};
use crate::clock::use_clock;
use crate::countdown::clock_text;
use crate::model::{AppInfo, Mode};

/// App name, mode badge, the page clock and "Start OAuth Flow".
#[component]
pub fn Header(info: Resource<Result<AppInfo, ServerFnError>>) -> impl IntoView {
    let clock = use_clock();
    let badge = move || {
        info.get().and_then(Result::ok).map(|info| {
            let class = match info.mode {
                Mode::Sandbox => "badge mode sandbox",
                Mode::Atlassian => "badge mode atlassian",
            };
            view! { <span class=class data-testid="mode-badge">{info.mode.label()}</span> }
        })
    };
    // The buttons follow the role: "Start OAuth Flow" for those who may connect.
    let actions = move || {
        info.get().and_then(Result::ok).map(|i| {
            let start = i.may_operate().then(|| {
                view! { <a class="button primary" href="/oauth/start" rel="external">"Start OAuth Flow"</a> }
            });
            view! { {start} <AccountMenu viewer=i.viewer/> }
        })
    };
    let now = move || {
        clock
            .now()
            .or_else(|| info.get().and_then(Result::ok).map(|i| i.server_now))
            .map(|t| format!("{} UTC", clock_text(t)))
            .unwrap_or_default()
    };
    view! {
        <header class="app-header">
            <div class="brand">
                <h1>"Jira Integrations"</h1>
                <Transition fallback=|| ()>{badge}</Transition>
            </div>
            <div class="header-actions">
                <LiveIndicator/>
                <time class="page-clock" data-testid="page-clock" aria-label="Current time">
                    <Transition fallback=|| ()>{now}</Transition>
                </time>
                <Transition fallback=|| ()>{actions}</Transition>
            </div>
        </header>
    }
}
