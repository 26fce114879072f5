use leptos::prelude::*;

use crate::address::{use_address, Page};
use crate::api::{integration_detail, test_connection};
use crate::clock::use_clock;
use crate::components::{error_text, AccountMenu, DataTable, LiveIndicator};
use crate::countdown::{countdown_text, short_time, unix};
use crate::live::{use_live, LiveChange};
use crate::model::{https_link, IntegrationDetailView};

/// `/integrations/{id}`: sites, scopes, token deadlines and the event log.
#[component]
pub fn IntegrationDetail() -> impl IntoView {
    let id = match use_address().page {
        Page::Integration(id) => id.parse::<i64>().ok(),
        _ => None,
    };
    let detail = Resource::new(
        move || id,
        |id| async move {
            match id {
                Some(id) => integration_detail(id).await,
                None => Err(ServerFnError::new(
                    "The integration id in the address must be a number.",
                )),
            }
        },
    );
    let test_result = RwSignal::new(None::<(bool, String)>);
    let testing = RwSignal::new(false);
    // A change to this integration (or a reconnect) re-reads the page: its
    // facts and its event log follow what the server knows.
    let live = use_live();
    Effect::new(move |_| {
        let mine = id;
        let changes = live.drain();
        let relevant = changes.iter().any(|c| match c {
            LiveChange::Updated(v) => Some(v.id) == mine,
            LiveChange::Removed(gone) => Some(*gone) == mine,
            LiveChange::Reread => true,
        });
        if relevant {
            detail.refetch();
        }
    });
    view! {
        <header class="app-header">
            <div class="brand">
                <a class="back" href="/dashboard">"← Dashboard"</a>
            </div>
            <div class="header-actions">
                <LiveIndicator/>
            </div>
        </header>
        <main class="content detail" id="main">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => view! { <Detail detail=d test_result testing/> }.into_any(),
                        Err(e) => view! {
                            <h1>"Integration not found"</h1>
                            <p class="error" role="alert">{error_text(e)}</p>
                            <p><a href="/dashboard">"Back to the dashboard"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn Detail(
    detail: IntegrationDetailView,
    /// The last connection test's outcome: kept when a live change re-reads the page.
    test_result: RwSignal<Option<(bool, String)>>,
    testing: RwSignal<bool>,
) -> impl IntoView {
    let clock = use_clock();
    let i = detail.integration;
    let id = i.id;
    let server_now = detail.info.server_now;
    let may_operate = detail.info.may_operate();
    let viewer = detail.info.viewer.clone();
    let expires_at = unix(&i.expires_at);
    let countdown = move || countdown_text(expires_at - clock.now().unwrap_or(server_now));
    let title = i
        .sites
        .first()
        .map(|s| s.name.clone())
        .unwrap_or_else(|| format!("Integration {id}"));
    let on_test = move |_| {
        testing.set(true);
        leptos::task::spawn_local(async move {
            let result = match test_connection(id).await {
                Ok(r) => (r.ok, r.message),
                Err(e) => (false, error_text(e)),
            };
            test_result.set(Some(result));
            testing.set(false);
        });
    };
    let deadline = |t: Option<String>| {
        t.as_deref()
            .map(short_time)
            .unwrap_or_else(|| "— (no refresh token)".into())
    };
    view! {
        <AccountMenu viewer/>
        <h1>{title}</h1>
        <p class="account">{i.account_name.clone()} " · " {i.account_email.clone().unwrap_or_default()}</p>
        {owner_line(&i)}
        <section aria-labelledby="tokens-title" class="panel">
            <h2 id="tokens-title">"Tokens"</h2>
            <dl class="facts stacked">
                <div><dt>"Status"</dt><dd><span class=format!("badge status {}", i.status.as_str())>{i.status.label()}</span></dd></div>
                <div><dt>"Access token expires"</dt><dd>{short_time(&i.expires_at)} " (" <span data-testid="countdown">{countdown}</span> ")"</dd></div>
                <div><dt>"Refresh token idle deadline (90 days)"</dt><dd data-testid="idle-deadline">{deadline(i.refresh_token_idle_expires_at.clone())}</dd></div>
                <div><dt>"Refresh token absolute deadline (365 days)"</dt><dd data-testid="absolute-deadline">{deadline(i.consent_expires_at.clone())}</dd></div>
                <div><dt>"Refresh failures"</dt><dd>{i.refresh_failures}</dd></div>
                <div><dt>"Connected"</dt><dd>{short_time(&i.created_at)}</dd></div>
            </dl>
            {may_operate.then(|| view! {
                <div class="actions">
                    <button class="button" disabled=move || testing.get() on:click=on_test>"Test connection"</button>
                    <a class="button" href=format!("/oauth/start?integration={id}") rel="external">"Re-authenticate"</a>
                </div>
            })}
            <p
                class=move || match test_result.get() { Some((true, _)) => "notice ok", Some((false, _)) => "notice problem", None => "notice" }
                role="status"
                aria-live="polite"
                data-testid="notice"
            >
                {move || test_result.get().map(|(_, text)| text).unwrap_or_default()}
            </p>
        </section>
        <section aria-labelledby="sites-title" class="panel">
            <h2 id="sites-title">"Sites"</h2>
            <ul class="plain">
                {i.sites.iter().map(|s| view! {
                    <li><strong>{s.name.clone()}</strong> " "
                        <a href=https_link(&s.url).map(str::to_owned) rel="external noopener">{s.url.clone()}</a>
                        " " <code class="muted">{s.cloud_id.clone()}</code></li>
                }).collect_view()}
            </ul>
            <h2>"Granted scopes"</h2>
            <ul class="scopes">
                {i.scopes.iter().map(|s| view! { <li><code>{s.clone()}</code></li> }).collect_view()}
            </ul>
        </section>
        <ApiExamples id=id origin=detail.public_origin.clone() cloud_id=i.sites.first().map(|s| s.cloud_id.clone())/>
        {(!detail.links.is_empty()).then(|| view! { <ConnectLinks links=detail.links.clone()/> })}
        <section aria-labelledby="events-title" class="panel">
            <h2 id="events-title">"Event log"</h2>
            <DataTable label="Event log table" class="events" columns=&["When", "Event", "Outcome", "HTTP", "Code", "Details", "By"]>
                {detail.events.into_iter().map(|e| view! {
                    <tr>
                        <td>{short_time(&e.at)}</td>
                        <td>{e.kind.as_str()}</td>
                        <td>{e.outcome.as_str()}</td>
                        <td>{e.http_status.map(|s| s.to_string()).unwrap_or_default()}</td>
                        <td>{e.error_code.unwrap_or_default()}</td>
                        <td>{e.message}</td>
                        <td>{e.actor.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </section>
    }
}

/// The connect links made for this integration: who made each, until when
/// it worked, and what became of it.
#[component]
fn ConnectLinks(links: Vec<domain::views::ConnectLinkView>) -> impl IntoView {
    let state = |l: &domain::views::ConnectLinkView| match (&l.outcome, &l.opened_at) {
        (Some(outcome), _) => outcome.clone(),
        (None, Some(_)) => "opened".to_owned(),
        (None, None) => format!("unused, works until {}", short_time(&l.expires_at)),
    };
    view! {
        <section aria-labelledby="links-title" class="panel">
            <h2 id="links-title">"Connect links"</h2>
            <DataTable label="Connect links table" class="links" columns=&["Made", "By", "Outcome"]>
                {links.iter().map(|l| view! {
                    <tr data-testid="connect-link">
                        <td>{short_time(&l.created_at)}</td>
                        <td>{l.created_by.clone()}</td>
                        <td>{state(l)}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </section>
    }
}

/// The accessible names of the two examples (what a screen reader says
/// when the keyboard reaches one).
const TOKEN_EXAMPLE_LABEL: &str = "Example: a fresh access token with curl";
const PROXY_EXAMPLE_LABEL: &str = "Example: a Jira call through the proxy with curl";

/// How a program uses this integration through the service API: a fresh
/// token, or a Jira call through the proxy (copyable; the key is an API key
/// an admin creates in Settings). Each example scrolls sideways on a narrow
/// screen, so each is a named region in the tab order: a keyboard reaches
/// and scrolls it too (WCAG 2.1.1, axe `scrollable-region-focusable`).
#[component]
fn ApiExamples(id: i64, origin: String, cloud_id: Option<String>) -> impl IntoView {
    let token = format!(
        "curl -X POST {origin}/v1/integrations/{id}/access-token \\\n  -H \"Authorization: Bearer $API_KEY\" \\\n  -H \"Content-Type: application/json\" -d '{{\"minValiditySecs\": 300}}'"
    );
    let cloud = cloud_id.unwrap_or_else(|| "{cloudId}".to_owned());
    let proxied = format!(
        "curl \"{origin}/v1/integrations/{id}/proxy/ex/jira/{cloud}/rest/api/3/search/jql?jql=order%20by%20created%20DESC&fields=summary,status&maxResults=5\" \\\n  -H \"Authorization: Bearer $API_KEY\""
    );
    view! {
        <section aria-labelledby="api-title" class="panel">
            <h2 id="api-title">"Use it from a program"</h2>
            <p class="muted">"With an API key (Settings, admins): a fresh access token (scope tokens:read), or a Jira call made for you (scope proxy). This dashboard stays the one owner of the refresh token."</p>
            <pre class="snippet" data-testid="curl-token" tabindex="0" role="region" aria-label=TOKEN_EXAMPLE_LABEL>{token}</pre>
            <pre class="snippet" data-testid="curl-proxy" tabindex="0" role="region" aria-label=PROXY_EXAMPLE_LABEL>{proxied}</pre>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// Each `<pre>` of the examples, as rendered.
    fn examples() -> Vec<String> {
        let html = Owner::new().with(|| {
            view! { <ApiExamples id=7 origin="https://dash.example.com".to_owned() cloud_id=None/> }
                .to_html()
        });
        html.split("<pre")
            .skip(1)
            .map(|pre| pre.split("</pre>").next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn each_scrollable_curl_example_is_a_named_region_a_keyboard_reaches() {
        let examples = examples();
        assert_eq!(examples.len(), 2, "{examples:?}");
        for (pre, label) in examples
            .iter()
            .zip([TOKEN_EXAMPLE_LABEL, PROXY_EXAMPLE_LABEL])
        {
            let tag = pre.split('>').next().unwrap_or_default();
            assert!(tag.contains("tabindex=\"0\""), "{tag}");
            assert!(tag.contains("role=\"region\""), "{tag}");
            assert!(tag.contains(&format!("aria-label=\"{label}\"")), "{tag}");
            assert!(pre.contains("curl"), "{pre}");
        }
    }
}

/// Who the integration belongs to in the calling product and its tags
/// (connected through a connect link), if anyone.
fn owner_line(i: &domain::views::IntegrationView) -> Option<impl IntoView> {
    let owner = owner_text(i)?;
    Some(view! { <p class="end-user" data-testid="end-user">{owner}</p> })
}

/// "For Initech (customer-42) · tenant=acme", or `None` when it belongs to
/// no end user and has no tags.
pub fn owner_text(i: &domain::views::IntegrationView) -> Option<String> {
    let who = match (&i.end_user_id, &i.display_name) {
        (Some(id), Some(name)) => Some(format!("For {name} ({id})")),
        (Some(id), None) => Some(format!("For {id}")),
        _ => None,
    };
    let tags = (!i.tags.is_empty()).then(|| i.tags.written());
    match (who, tags) {
        (None, None) => None,
        (Some(w), None) => Some(w),
        (None, Some(t)) => Some(format!("Tags: {t}")),
        (Some(w), Some(t)) => Some(format!("{w} · {t}")),
    }
}
