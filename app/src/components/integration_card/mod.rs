//! One integration's card on the dashboard (the compact table lays the same
//! card out as one row). Split by concern:
//! - this file: the card (what it shows and its buttons) and its countdown;
//! - [`tick`]: what a tick of the page clock makes it show (status,
//!   countdown text, lifetime bar): pure, with the unit tests;
//! - [`painter`]: the browser-only code that writes each tick into the DOM.

mod painter;
mod tick;

use leptos::html::{Div, Li, P};
use leptos::prelude::*;

use super::{DashboardCtx, NoticeTone};
use crate::countdown::{short_time, unix};
use crate::model::{https_link, AppInfo, IntegrationView, Status};
use crate::status::{StatusInputs, StatusRule};
use painter::CardNodes;
use tick::CardTick;

/// What a card's countdown follows: its status inputs and token lifetime.
fn countdown_inputs(integration: &IntegrationView, rule: StatusRule) -> (StatusInputs, i64) {
    let inputs = StatusInputs {
        is_active: integration.is_active,
        has_refresh_token: integration.has_refresh_token,
        expires_at: unix(&integration.expires_at),
        margin_secs: rule.margin_secs,
        policy: rule.policy,
    };
    (inputs, integration.access_token_lifetime_secs)
}

/// One integration: site, account, status, live countdown, lifetime bar,
/// actions. The card follows `integration`: a live change sets it, and the
/// countdown restarts from the new expiry while the facts below it follow.
#[component]
pub fn IntegrationCard(integration: RwSignal<IntegrationView>, info: AppInfo) -> impl IntoView {
    let ctx = expect_context::<DashboardCtx>();
    let rule = info.status_rule;
    let first_view = integration.get_untracked();
    let id = first_view.id;
    // Rendered from the server's clock (the same on the server and during
    // hydration); then every tick of the page clock rewrites the countdown and
    // the bar in place, and sets `status` only when the status changes.
    let (inputs, lifetime) = countdown_inputs(&first_view, rule);
    let first = CardTick::at(inputs, lifetime, info.server_now);
    let status = RwSignal::new(first.status);
    let first_percent = first.countdown.percent.to_string();
    let first_fill = first.countdown.fill_style();
    let (card, line, bar, fill) = (
        NodeRef::<Li>::new(),
        NodeRef::<P>::new(),
        NodeRef::<Div>::new(),
        NodeRef::<Div>::new(),
    );
    // Runs again (ending the previous tick) whenever the integration changes.
    Effect::new(move |_| {
        let (inputs, lifetime) = integration.with(|i| countdown_inputs(i, rule));
        let nodes = (|| {
            Some(CardNodes {
                card: card.get_untracked()?.into(),
                countdown: line.get_untracked()?.into(),
                bar: Some((bar.get_untracked()?.into(), fill.get_untracked()?.into())),
            })
        })();
        if let Some(nodes) = nodes {
            painter::start(id, inputs, lifetime, status, nodes);
        }
    });

    let (site_name, site_url) = first_view
        .sites
        .first()
        .map(|s| (s.name.clone(), s.url.clone()))
        .unwrap_or_else(|| ("(no site)".to_owned(), String::new()));
    let more_sites = first_view.sites.len().saturating_sub(1);
    let account = match &first_view.account_email {
        Some(email) => format!("{} <{}>", first_view.account_name, email),
        None => first_view.account_name.clone(),
    };
    // The facts that a refresh or a deactivation changes follow the signal.
    let failures = move || integration.with(|i| i.refresh_failures);
    let last_refresh = move || {
        integration.with(|i| {
            i.last_refresh_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "never".to_owned())
        })
    };
    let refresh_token =
        move || integration.with(|i| if i.has_refresh_token { "yes" } else { "none" });
    let last_error = move || {
        integration
            .with(|i| i.last_error.clone())
            .map(|e| view! { <p class="last-error">{e}</p> })
    };
    let notice = move || ctx.notice.get().filter(|n| n.integration_id == id);
    let busy = move || ctx.busy.get().is_some();
    let site_for_dialog = site_name.clone();
    // Viewers get no buttons (and the server refuses them anyway).
    let may_operate = info.may_operate();

    view! {
        <li class="integration" node_ref=card data-integration-id=id data-status=move || status.get().as_str()>
            <div class="integration-head">
                <div class="integration-title">
                    <h2 class="site-name">
                        <a href=format!("/integrations/{id}")>{site_name}</a>
                    </h2>
                    // Without an href (not https) the element is plain text, not a link.
                    <a class="site-url" href=https_link(&site_url).map(str::to_owned) rel="external noopener">{site_url.clone()}</a>
                    {(more_sites > 0).then(|| view! { <span class="more-sites">{format!(" +{more_sites} more")}</span> })}
                    <p class="account">{account}</p>
                    {crate::pages::owner_text(&first_view).map(|owner| view! { <p class="end-user" data-testid="end-user">{owner}</p> })}
                </div>
                <span class=move || format!("badge status {}", status.get().as_str()) data-testid="status">
                    {move || status.get().label()}
                </span>
            </div>
            <p class="countdown" data-testid="countdown" node_ref=line>{first.countdown.text}</p>
            <div
                class="lifetime"
                role="progressbar"
                aria-label="Share of the access token's lifetime left"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=first_percent
                node_ref=bar
            >
                <div class="lifetime-fill" style=first_fill node_ref=fill></div>
            </div>
            <dl class="facts">
                <div><dt>"Failures"</dt><dd data-testid="failures">{failures}</dd></div>
                <div><dt>"Last refresh"</dt><dd>{last_refresh}</dd></div>
                <div><dt>"Refresh token"</dt><dd>{refresh_token}</dd></div>
            </dl>
            {last_error}
            {may_operate.then(|| view! {
            <div class="actions">
                <button class="button" disabled=busy on:click=move |_| ctx.refresh(id)>"Refresh token"</button>
                <button class="button" disabled=busy on:click=move |_| ctx.test(id)>"Test connection"</button>
                <button
                    class="button danger"
                    disabled=busy
                    on:click=move |_| ctx.confirm_disconnect.set(Some((id, site_for_dialog.clone())))
                >
                    "Disconnect"
                </button>
                {move || (status.get() == Status::NeedsReauth).then(|| view! {
                    <a class="button primary" href=format!("/oauth/start?integration={id}") rel="external">
                        "Re-authenticate"
                    </a>
                })}
            </div>
            })}
            <p
                class=move || match notice().map(|n| n.tone) {
                    Some(NoticeTone::Ok) => "notice ok",
                    Some(NoticeTone::Problem) => "notice problem",
                    None => "notice",
                }
                role="status"
                aria-live="polite"
                data-testid="notice"
            >
                {move || notice().map(|n| n.text).unwrap_or_default()}
            </p>
        </li>
    }
}
