use leptos::prelude::*;

/// What a new user sees before connecting anything: how to start, or, for a
/// viewer (who may not connect), who can.
#[component]
pub fn EmptyState(may_operate: bool) -> impl IntoView {
    let how = if may_operate {
        "Click Start OAuth Flow to connect a Jira Cloud site. You will be asked to approve access on \
         Atlassian's consent page, then brought back here, where the connection's token is kept \
         alive and counted down."
    } else {
        "Connections appear here once an operator or an administrator connects a Jira Cloud site."
    };
    view! {
        <section class="empty-state" aria-labelledby="empty-title">
            <h2 id="empty-title">"No Jira sites connected yet"</h2>
            <p>{how}</p>
            <a class="button primary" href="/oauth/start" rel="external" hidden=!may_operate>"Start OAuth Flow"</a>
        </section>
    }
}
