use leptos::prelude::*;

use crate::components::{AccountMenu, DataTable};
use crate::countdown::short_time;
use crate::document::static_document;
use crate::model::{
    AccountEventView, ApiKeyView, NewKeyView, NewWebhookView, SettingsView, UserView,
    WebhookEndpointView,
};
use domain::{ApiScope, Permission, Role, SettingsNotice, WebhookEvent};

/// `/settings`, rendered on the server only: the signed-in person's
/// password; for administrators, the users (add, change role, remove), the
/// API keys, the webhooks and the account log. Every form posts to a plain route and comes back here with
/// `?notice=`. Nothing here needs the browser's WebAssembly, so none of it is
/// compiled into it (the page carries no hydration script): the settings and
/// the sign-in pages cost the browser bundle nothing.
pub fn settings_document(settings: SettingsView, notice: Option<SettingsNotice>) -> String {
    static_document("Settings", move || {
        let notice = notice.map(|n| {
            let class = if n.is_error() {
                "flash failure"
            } else {
                "flash success"
            };
            view! { <p class=class role="status" data-testid="settings-notice">{n.sentence()}</p> }
        });
        let mode = settings.info.mode;
        let mode_class = match mode {
            crate::model::Mode::Sandbox => "badge mode sandbox",
            crate::model::Mode::Atlassian => "badge mode atlassian",
        };
        let viewer = settings.info.viewer.clone();
        // A key just created: at the top, where it cannot be missed.
        let created = settings.new_key.clone().map(|k: NewKeyView| {
            view! {
                <div class="new-key" role="status">
                    <p><strong>{format!("API key \"{}\" created.", k.name)}</strong> " Copy it now: it is shown this once, and only its hash is kept."</p>
                    <code class="secret" data-testid="new-api-key">{k.key}</code>
                </div>
            }
        });
        let created_hook = settings.new_webhook.clone().map(|h: NewWebhookView| {
            view! {
                <div class="new-key" role="status">
                    <p><strong>{format!("Webhook endpoint {} added.", h.url)}</strong> " Copy its signing secret now: it is shown this once. Receivers verify the webhook-signature header with it."</p>
                    <code class="secret" data-testid="new-webhook-secret">{h.secret}</code>
                </div>
            }
        });
        view! {
            <header class="app-header">
                <div class="brand">
                    <a class="back" href="/dashboard">"← Dashboard"</a>
                    <span class=mode_class data-testid="mode-badge">{mode.label()}</span>
                </div>
                <div class="header-actions"><AccountMenu viewer/></div>
            </header>
            <main class="content settings" id="main">
                <h1>"Settings"</h1>
                {notice}
                {created}
                {created_hook}
                <SettingsSections settings/>
            </main>
        }
    })
}

#[component]
fn SettingsSections(settings: SettingsView) -> impl IntoView {
    let admin = settings.me.role.may(Permission::Administer);
    view! {
        <section class="panel" aria-labelledby="me-title">
            <h2 id="me-title">"Your account"</h2>
            <p>"Signed in as " <strong>{settings.me.email.clone()}</strong> " (" {settings.me.role.as_str()} ": " {settings.me.role.summary()} ")."</p>
            <h3>"Change your password"</h3>
            <form class="stacked-form" method="post" action="/settings/password">
                <label for="current">"Current password"</label>
                <input id="current" name="current" type="password" autocomplete="current-password" required/>
                <label for="new">"New password (at least 10 characters)"</label>
                <input id="new" name="new" type="password" autocomplete="new-password" required minlength="10"/>
                <label for="confirm">"New password again"</label>
                <input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="10"/>
                <button class="button primary" type="submit">"Change password"</button>
            </form>
        </section>
        {if admin {
            view! {
                <Users users=settings.users.clone() me=settings.me.email.clone()/>
                <ApiKeys keys=settings.api_keys.clone()/>
                <Webhooks endpoints=settings.webhooks.clone() allow_private=settings.allow_private_webhooks error=settings.webhook_error.clone()/>
                <AccountLog events=settings.account_events.clone()/>
            }
            .into_any()
        } else {
            view! {
                <p class="muted">"Users, API keys and webhooks are managed by administrators."</p>
            }
            .into_any()
        }}
    }
}

/// The service API's keys: the one just created (shown once), the list with
/// what each did, "Revoke", and the form that creates one.
#[component]
fn ApiKeys(keys: Vec<ApiKeyView>) -> impl IntoView {
    let rows = keys
        .into_iter()
        .map(|k| {
            let state = match &k.revoked_at {
                Some(at) => view! { <span class="muted">{format!("revoked {}", short_time(at))}</span> }.into_any(),
                None => view! {
                    <form method="post" action=format!("/settings/api-keys/{}/revoke", k.id) class="inline-form">
                        <button class="button danger" type="submit">"Revoke"</button>
                    </form>
                }
                .into_any(),
            };
            // Its share of Jira's quota: editable while the key lives.
            let share = match &k.revoked_at {
                Some(_) => view! { <span class="muted">{share_text(k.jira_weight, k.jira_points_per_hour)}</span> }.into_any(),
                None => {
                    let id = k.id;
                    view! {
                        <form method="post" action=format!("/settings/api-keys/{id}/jira-share") class="share-form" data-testid="jira-share-form">
                            <label for=format!("weight-{id}")>"Weight"</label>
                            <input id=format!("weight-{id}") name="weight" type="number" min="1" max=domain::api_scope::MAX_JIRA_WEIGHT.to_string() required value=k.jira_weight.to_string()/>
                            <label for=format!("budget-{id}")>"Points an hour"</label>
                            <input id=format!("budget-{id}") name="points_per_hour" type="number" min="1" max=domain::api_scope::MAX_JIRA_POINTS_PER_HOUR.to_string() placeholder="no cap" value=k.jira_points_per_hour.map(|p| p.to_string()).unwrap_or_default()/>
                            <button class="button" type="submit">"Save"</button>
                        </form>
                    }
                    .into_any()
                }
            };
            let used = k
                .last_used_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "never".to_owned());
            view! {
                <tr data-testid="api-key" data-key-id=k.id>
                    <td><strong>{k.name}</strong><br/><code>{format!("{}…", k.prefix)}</code></td>
                    <td>
                        {k.scopes.join(" ")}
                        {(!k.tags.is_empty()).then(|| view! { <br/><span class="muted" data-testid="key-tags">{format!("only {}", k.tags)}</span> })}
                    </td>
                    <td>{short_time(&k.created_at)}<br/><span class="muted">{k.created_by}</span></td>
                    <td>{used}</td>
                    <td class="num">{k.token_handouts}</td>
                    <td class="num">{k.proxied_calls}</td>
                    <td>{share}</td>
                    <td>{state}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let scopes = ApiScope::ALL
        .iter()
        .map(|s| {
            view! {
                <label class="choice">
                    <input type="checkbox" name=s.as_str() value="on"/>
                    <code>{s.as_str()}</code> ": " {s.summary()}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="keys-title">
            <h2 id="keys-title">"API keys"</h2>
            <p class="muted">"Services that call Jira ask this dashboard for a fresh access token, or send their calls through it, with one of these keys (Authorization: Bearer <key>). See docs/SERVICE_API.md and /v1/openapi.json. Revoking a key refuses its next request; access tokens it already received stay valid until they expire (at most an hour)."</p>
            <p class="muted">"Jira share: every proxied call spends the app's one Jira quota. While it runs low, keys take turns by weight (a key of weight 2 gets twice the points of a key of weight 1); a key given points an hour is held once its calls cost that much in the last hour, whatever the quota."</p>
            <DataTable label="API keys table" class="keys" columns=&["Name", "Scopes", "Created", "Last used", "Tokens", "Proxied", "Jira share", ""]>
                {rows}
            </DataTable>
            <h3>"Create a key"</h3>
            <form class="stacked-form" method="post" action="/settings/api-keys">
                <label for="key-name">"Name (the service that will use it)"</label>
                <input id="key-name" name="name" required maxlength="80"/>
                <fieldset class="scopes">
                    <legend>"Scopes"</legend>
                    {scopes}
                </fieldset>
                <label for="key-tags">"Confine to tags (optional, e.g. tenant=acme): the key then sees and acts on only the integrations carrying all of them"</label>
                <input id="key-tags" name="tags" maxlength="2000" placeholder="tenant=acme"/>
                <button class="button primary" type="submit">"Create key"</button>
            </form>
        </section>
    }
    .into_any()
}

/// A key's share of Jira's quota, in words.
fn share_text(weight: u32, points_per_hour: Option<u64>) -> String {
    match points_per_hour {
        Some(points) => format!("weight {weight}, {points} points an hour"),
        None => format!("weight {weight}"),
    }
}

/// Webhook endpoints: each with its filter, its state, "Send test event",
/// enable / disable / delete, and its latest deliveries with every attempt
/// and "Redeliver"; the form that adds one; the private-address setting.
#[component]
fn Webhooks(
    endpoints: Vec<WebhookEndpointView>,
    allow_private: bool,
    error: Option<String>,
) -> impl IntoView {
    let error = error.map(
        |e| view! { <p class="flash failure" role="alert" data-testid="webhook-error">{e}</p> },
    );
    let list = if endpoints.is_empty() {
        view! { <p class="muted">"No endpoint yet."</p> }.into_any()
    } else {
        endpoints
            .into_iter()
            .map(|e| view! { <WebhookEndpoint endpoint=e/> })
            .collect_view()
            .into_any()
    };
    let events = WebhookEvent::SUBSCRIBABLE
        .iter()
        .map(|e| {
            view! {
                <label class="choice">
                    <input type="checkbox" name=e.as_str() value="on" checked/>
                    <code>{e.as_str()}</code> ": " {e.describe()}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="hooks-title" data-testid="webhooks">
            <h2 id="hooks-title">"Webhooks"</h2>
            <p class="muted">"Each event is POSTed as JSON in the Standard Webhooks format: headers webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256 with the endpoint's secret). Failed deliveries are retried with backoff for 24 hours; an endpoint that fails for a whole day is disabled. Receivers should deduplicate on webhook-id: a message may arrive more than once."</p>
            {error}
            {list}
            <h3>"Add an endpoint"</h3>
            <form class="stacked-form" method="post" action="/settings/webhooks">
                <label for="hook-url">"URL (https://...)"</label>
                <input id="hook-url" name="url" type="url" required maxlength="2000" placeholder="https://hooks.example.com/jira"/>
                <fieldset class="scopes">
                    <legend>"Events"</legend>
                    {events}
                </fieldset>
                <button class="button primary" type="submit">"Add endpoint"</button>
            </form>
            <h3>"Addresses"</h3>
            <form class="stacked-form" method="post" action="/settings/webhooks/settings">
                <label class="choice">
                    <input type="checkbox" name="allow_private" value="on" checked=allow_private/>
                    "Allow endpoints on loopback and private addresses (127.0.0.1, 10.x, 192.168.x, ...). Off by default: an endpoint could otherwise reach services on this server's own network."
                </label>
                <button class="button" type="submit">"Save"</button>
            </form>
        </section>
    }
    .into_any()
}

#[component]
fn WebhookEndpoint(endpoint: WebhookEndpointView) -> impl IntoView {
    let e = endpoint;
    let state = if e.enabled {
        view! { <span class="badge healthy">"enabled"</span> }.into_any()
    } else {
        view! { <span class="badge needs_reauth" data-testid="webhook-disabled">"disabled"</span> }
            .into_any()
    };
    let source = e
        .from_environment
        .then(|| view! { <span class="badge">"WEBHOOK_URL"</span> });
    let filter = if e.events.is_empty() {
        "every event".to_owned()
    } else {
        e.events.join(", ")
    };
    let reason = e
        .disabled_reason
        .clone()
        .map(|r| view! { <p class="flash failure">{r}</p> });
    let failing = e
        .failing_since
        .as_deref()
        .filter(|_| e.enabled)
        .map(|at| view! { <p class="muted">{format!("Every attempt has failed since {}.", short_time(at))}</p> });
    let toggle = if e.enabled {
        view! {
            <form method="post" action=format!("/settings/webhooks/{}/disable", e.id) class="inline-form">
                <button class="button" type="submit">"Disable"</button>
            </form>
        }
        .into_any()
    } else {
        view! {
            <form method="post" action=format!("/settings/webhooks/{}/enable", e.id) class="inline-form">
                <button class="button" type="submit">"Enable"</button>
            </form>
        }
        .into_any()
    };
    let missed = (e.enabled && e.failed > 0).then(|| {
        view! {
            <form method="post" action=format!("/settings/webhooks/{}/redeliver", e.id) class="inline-form">
                <button class="button" type="submit">"Redeliver undelivered"</button>
            </form>
        }
    });
    let delete = (!e.from_environment).then(|| {
        view! {
            <details class="confirm-remove">
                <summary>"Delete…"</summary>
                <form class="inline-form" method="post" action=format!("/settings/webhooks/{}/delete", e.id)>
                    <button class="button danger" type="submit">"Delete endpoint"</button>
                </form>
            </details>
        }
    });
    let rows = e
        .deliveries
        .into_iter()
        .map(|d| {
            let attempts = if d.attempts.is_empty() {
                view! { <span class="muted">"not tried yet"</span> }.into_any()
            } else {
                view! {
                    <ol class="plain attempts">
                        {d.attempts.into_iter().map(|a| {
                            let status = a.status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
                            let error = a.error.map(|e| format!(" · {e}")).unwrap_or_default();
                            view! {
                                <li data-testid="webhook-attempt">{format!("{} · {status} · {} ms{error}", short_time(&a.at), a.duration_ms)}</li>
                            }
                        }).collect_view()}
                    </ol>
                }
                .into_any()
            };
            // A pending delivery is being tried already.
            let redeliver = (d.state != "pending").then(|| view! {
                <form method="post" action=format!("/settings/webhooks/deliveries/{}/redeliver", d.id) class="inline-form">
                    <button class="button" type="submit">"Redeliver"</button>
                </form>
            });
            let next = d
                .next_attempt_at
                .as_deref()
                .map(|at| format!(" (next attempt {})", short_time(at)))
                .unwrap_or_default();
            view! {
                <tr data-testid="webhook-delivery" data-state=d.state.clone()>
                    <td><code>{d.event_type}</code><br/><span class="muted">{short_time(&d.created_at)}</span></td>
                    <td><code class="message-id">{d.message_id}</code></td>
                    <td>{format!("{}{next}", d.state)}</td>
                    <td>{attempts}</td>
                    <td>{redeliver}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <article class="webhook" data-testid="webhook-endpoint" data-endpoint-id=e.id>
            <h3><code>{e.url}</code> " " {state} " " {source}</h3>
            <p class="muted">{format!("Events: {filter}. Added {} by {}. Delivered {}, waiting {}, not received {}.", short_time(&e.created_at), e.created_by, e.delivered, e.pending, e.failed)}</p>
            {reason}
            {failing}
            <div class="actions">
                <form method="post" action=format!("/settings/webhooks/{}/test", e.id) class="inline-form">
                    <button class="button" type="submit">"Send test event"</button>
                </form>
                {toggle}
                {missed}
                {delete}
            </div>
            <DataTable label="Deliveries table" class="deliveries" columns=&["Event", "Message", "State", "Attempts", ""]>
                {rows}
            </DataTable>
        </article>
    }
    .into_any()
}

/// The newest account changes, each naming who made it.
#[component]
fn AccountLog(events: Vec<AccountEventView>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="log-title">
            <h2 id="log-title">"Account log"</h2>
            <ul class="plain account-log">
                {events.into_iter().map(|e| view! {
                    <li>{short_time(&e.at)} " · " <strong>{e.actor}</strong> " · " {e.message}</li>
                }.into_any()).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .iter()
        .rev()
        .map(|r| view! { <option value=r.as_str() selected=*r == selected>{r.as_str()}</option> })
        .collect_view()
}

#[component]
fn Users(users: Vec<UserView>, me: String) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="users-title">
            <h2 id="users-title">"Users"</h2>
            <DataTable label="Users table" class="users" columns=&["Email", "Role", "Added", "Remove"]>
                {users.into_iter().map(|u| {
                    let you = (u.email == me).then_some(" (you)");
                    view! {
                        <tr data-user=u.email.clone()>
                            <td>{u.email.clone()}{you}</td>
                            <td>
                                <form class="inline-form" method="post" action=format!("/settings/users/{}/role", u.id)>
                                    <label class="visually-hidden" for=format!("role-{}", u.id)>{format!("Role of {}", u.email)}</label>
                                    <select id=format!("role-{}", u.id) name="role">{role_options(u.role)}</select>
                                    <button class="button" type="submit">"Change role"</button>
                                </form>
                            </td>
                            <td>{short_time(&u.created_at)}</td>
                            <td>
                                <details class="confirm-remove">
                                    <summary>"Remove…"</summary>
                                    <form class="inline-form" method="post" action=format!("/settings/users/{}/remove", u.id)>
                                        <button class="button danger" type="submit">{format!("Remove {}", u.email)}</button>
                                    </form>
                                </details>
                            </td>
                        </tr>
                    }
                    .into_any()
                }).collect_view()}
            </DataTable>
            <h3>"Add a user"</h3>
            <form class="stacked-form" method="post" action="/settings/users">
                <label for="new-email">"Email"</label>
                <input id="new-email" name="email" type="email" required autocomplete="off"/>
                <label for="new-password">"First password (at least 10 characters; they can change it)"</label>
                <input id="new-password" name="password" type="password" required minlength="10" autocomplete="new-password"/>
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role">{role_options(Role::Viewer)}</select>
                <p class="muted">
                    "viewer: " {Role::Viewer.summary()} ". operator: " {Role::Operator.summary()} ". admin: " {Role::Admin.summary()} "."
                </p>
                <button class="button primary" type="submit">"Add user"</button>
            </form>
        </section>
    }
    .into_any()
}
