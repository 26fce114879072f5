use leptos::prelude::*;

/// What a new user sees before connecting anything.
#[component]
pub fn EmptyState(may_operate: bool) -> impl IntoView {
    if !may_operate {
        return view! {
            <section class="empty-state" aria-labelledby="empty-title">
                <h2 id="empty-title">"No Jira sites connected yet"</h2>
                <p>"Connections appear here once an operator or an administrator connects a Jira Cloud site."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="empty-state" aria-labelledby="empty-title">
            <h2 id="empty-title">"No Jira sites connected yet"</h2>
            <p>
                "Click " <strong>"Start OAuth Flow"</strong>
                " to connect a Jira Cloud site. You will be asked to approve access on \
                Atlassian's consent page, then brought back here, where the connection's \
                token is kept alive and counted down."
            </p>
            <a class="button primary" href="/oauth/start" rel="external">"Start OAuth Flow"</a>
        </section>
    }
    .into_any()
}
