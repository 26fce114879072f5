use chrono::DateTime;
use leptos::prelude::*;

use super::{DashboardCtx, NoticeTone};
use crate::clock::use_clock;
use crate::countdown::{countdown_text, lifetime_left_percent};
use crate::model::{AppInfo, IntegrationView, Status};
use crate::status::{status_at, StatusInputs};

/// UNIX seconds of an RFC 3339 time (0 if unparseable).
pub fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.timestamp())
        .unwrap_or_default()
}

/// `2026-11-27 14:03 UTC` for an RFC 3339 time.
pub fn short_time(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// One integration: site, account, status, live countdown, lifetime bar, actions.
#[component]
pub fn IntegrationCard(integration: IntegrationView, info: AppInfo) -> impl IntoView {
    let clock = use_clock();
    let ctx = expect_context::<DashboardCtx>();
    let id = integration.id;
    let expires_at = unix(&integration.expires_at);
    let inputs = StatusInputs {
        is_active: integration.is_active,
        has_refresh_token: integration.has_refresh_token,
        expires_at,
        margin_secs: info.refresh_margin_secs,
    };
    let server_now = info.server_now;
    // The shared clock ticks every second; memos keep what changes rarely (the
    // status, the bar's percentage) from touching the DOM on every tick.
    let now = Memo::new(move |_| clock.now().unwrap_or(server_now));
    let status = Memo::new(move |_| status_at(inputs, now.get()));
    let countdown = move || {
        let remaining = expires_at - now.get();
        if status.get() == Status::NeedsReauth && remaining > 0 {
            format!("inactive: {}", countdown_text(remaining))
        } else {
            countdown_text(remaining)
        }
    };
    let lifetime = integration.access_token_lifetime_secs;
    let percent = Memo::new(move |_| lifetime_left_percent(expires_at - now.get(), lifetime));

    let (site_name, site_url) = integration
        .sites
        .first()
        .map(|s| (s.name.clone(), s.url.clone()))
        .unwrap_or_else(|| ("(no site)".to_owned(), String::new()));
    let more_sites = integration.sites.len().saturating_sub(1);
    let account = match &integration.account_email {
        Some(email) => format!("{} <{}>", integration.account_name, email),
        None => integration.account_name.clone(),
    };
    let last_refresh = integration
        .last_refresh_at
        .as_deref()
        .map(short_time)
        .unwrap_or_else(|| "never".to_owned());
    let last_error = integration.last_error.clone();
    let notice = move || ctx.notice.get().filter(|n| n.integration_id == id);
    let busy = move || ctx.busy.get().is_some();
    let site_for_dialog = site_name.clone();

    view! {
        <li class="integration" data-integration-id=id data-status=move || status.get().as_str()>
            <div class="integration-head">
                <div class="integration-title">
                    <h2 class="site-name">
                        <a href=format!("/integrations/{id}")>{site_name}</a>
                    </h2>
                    <a class="site-url" href=site_url.clone() rel="external noopener">{site_url.clone()}</a>
                    {(more_sites > 0).then(|| view! { <span class="more-sites">{format!(" +{more_sites} more")}</span> })}
                    <p class="account">{account}</p>
                </div>
                <span class=move || format!("badge status {}", status.get().as_str()) data-testid="status">
                    {move || status.get().label()}
                </span>
            </div>
            <p class="countdown" data-testid="countdown">{countdown}</p>
            <div
                class="lifetime"
                role="progressbar"
                aria-label="Share of the access token's lifetime left"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || percent.get().to_string()
            >
                <div class="lifetime-fill" style=move || format!("width: {}%", percent.get())></div>
            </div>
            <dl class="facts">
                <div><dt>"Failures"</dt><dd data-testid="failures">{integration.refresh_failures}</dd></div>
                <div><dt>"Last refresh"</dt><dd>{last_refresh}</dd></div>
                <div><dt>"Refresh token"</dt><dd>{if integration.has_refresh_token { "yes" } else { "none" }}</dd></div>
            </dl>
            {last_error.map(|e| view! { <p class="last-error">{e}</p> })}
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
