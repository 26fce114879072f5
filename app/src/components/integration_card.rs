use chrono::DateTime;
use leptos::prelude::*;

use super::{DashboardCtx, NoticeTone};
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
    let lifetime = integration.access_token_lifetime_secs;
    // Rendered from the server's clock (the same on the server and during
    // hydration); then every tick of the page clock rewrites the countdown and
    // the bar in place, and sets `status` only when the status changes.
    let first = CardTick::at(inputs, lifetime, server_now);
    let status = RwSignal::new(first.status);
    let (first_percent, first_fill) = (first.percent.to_string(), first.fill_style());
    let card_ref = NodeRef::<leptos::html::Li>::new();
    let countdown_ref = NodeRef::<leptos::html::P>::new();
    let bar_ref = NodeRef::<leptos::html::Div>::new();
    let fill_ref = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |registered: Option<()>| {
        if registered.is_none() {
            live::start(
                id,
                inputs,
                lifetime,
                status,
                (card_ref, countdown_ref, bar_ref, fill_ref),
            );
        }
    });

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
        <li class="integration" node_ref=card_ref data-integration-id=id data-status=move || status.get().as_str()>
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
            <p class="countdown" data-testid="countdown" node_ref=countdown_ref>{first.text}</p>
            <div
                class="lifetime"
                role="progressbar"
                aria-label="Share of the access token's lifetime left"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=first_percent
                node_ref=bar_ref
            >
                <div class="lifetime-fill" style=first_fill node_ref=fill_ref></div>
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

/// What a card shows for one instant: its status, countdown text and bar.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CardTick {
    status: Status,
    text: String,
    percent: u8,
}

impl CardTick {
    fn at(inputs: StatusInputs, lifetime: i64, now: i64) -> Self {
        let status = status_at(inputs, now);
        let remaining = inputs.expires_at - now;
        let text = if status == Status::NeedsReauth && remaining > 0 {
            format!("inactive: {}", countdown_text(remaining))
        } else {
            countdown_text(remaining)
        };
        Self {
            status,
            text,
            percent: lifetime_left_percent(remaining, lifetime),
        }
    }

    fn fill_style(&self) -> String {
        format!("width: {}%", self.percent)
    }
}

/// The browser side of a card's countdown: one callback on the page clock.
///
/// Cards carry `content-visibility: auto`, so the browser skips rendering the
/// ones off screen and says so with `contentvisibilityautostatechange`. A
/// skipped card keeps its status current (a signal, set only when it changes)
/// and rewrites its countdown text and bar only once a minute (staggered by
/// integration id, so a tick touches a sixtieth of them), which bounds what a
/// screen reader can find stale off screen; when the browser is about to show
/// it again it catches up before the first paint. A page of 500 cards thus
/// rewrites the handful on screen and about 8 others each second.
#[cfg(feature = "hydrate")]
mod live {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::html::{Div, Li, P};
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    use super::CardTick;
    use crate::clock::on_tick;
    use crate::model::Status;
    use crate::status::StatusInputs;

    const SKIP_EVENT: &str = "contentvisibilityautostatechange";
    /// How often a card off screen rewrites its countdown anyway.
    const SKIPPED_REPAINT_SECS: i64 = 60;

    /// The DOM a tick writes and what it wrote last.
    struct Painter {
        inputs: StatusInputs,
        lifetime: i64,
        text: web_sys::Node,
        bar: web_sys::Element,
        fill: web_sys::Element,
        shown: RefCell<Option<CardTick>>,
        /// The browser is not rendering the card (it is off screen).
        skipped: Cell<bool>,
        /// The last tick's time, for catching up when the card is shown.
        latest: Cell<Option<i64>>,
    }

    impl Painter {
        fn paint(&self, now: i64) {
            let next = CardTick::at(self.inputs, self.lifetime, now);
            let mut shown = self.shown.borrow_mut();
            let before = shown.as_ref();
            if before.map(|b| &b.text) != Some(&next.text) {
                self.text.set_node_value(Some(&next.text));
            }
            if before.map(|b| b.percent) != Some(next.percent) {
                // Attribute writes cannot fail on these elements; nothing to report.
                let _ = self
                    .bar
                    .set_attribute("aria-valuenow", &next.percent.to_string());
                let _ = self.fill.set_attribute("style", &next.fill_style());
            }
            *shown = Some(next);
        }
    }

    /// The skip listener, removed from the card when the card's tick ends.
    struct SkipListener {
        card: web_sys::EventTarget,
        callback: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Drop for SkipListener {
        fn drop(&mut self) {
            // Removing a listener cannot fail; nothing to report.
            let _ = self.card.remove_event_listener_with_callback(
                SKIP_EVENT,
                self.callback.as_ref().unchecked_ref(),
            );
        }
    }

    /// Whether the browser skips rendering `element` (content-visibility: auto
    /// off screen). The first skip event can fire before hydration, so a card
    /// asks once at start. A browser without `checkVisibility` says no.
    fn is_skipped(element: &web_sys::Element) -> bool {
        let Ok(check) = js_sys::Reflect::get(element, &JsValue::from_str("checkVisibility")) else {
            return false;
        };
        let Some(check) = check.dyn_ref::<js_sys::Function>() else {
            return false;
        };
        let options = js_sys::Object::new();
        if js_sys::Reflect::set(
            &options,
            &JsValue::from_str("contentVisibilityAuto"),
            &JsValue::TRUE,
        )
        .is_err()
        {
            return false;
        }
        check
            .call1(element, &options)
            .ok()
            .and_then(|visible| visible.as_bool())
            .is_some_and(|visible| !visible)
    }

    pub fn start(
        id: i64,
        inputs: StatusInputs,
        lifetime: i64,
        status: RwSignal<Status>,
        refs: (NodeRef<Li>, NodeRef<P>, NodeRef<Div>, NodeRef<Div>),
    ) {
        let (card, countdown, bar, fill) = refs;
        let (Some(card), Some(countdown), Some(bar), Some(fill)) = (
            card.get_untracked(),
            countdown.get_untracked(),
            bar.get_untracked(),
            fill.get_untracked(),
        ) else {
            return;
        };
        // Rewrite the countdown's text node in place: replacing the paragraph's
        // content would build (and later collect) a new node on every tick.
        let Some(text) = countdown.first_child() else {
            return;
        };
        let painter = Rc::new(Painter {
            inputs,
            lifetime,
            text,
            bar: bar.into(),
            fill: fill.into(),
            shown: RefCell::new(None),
            skipped: Cell::new(is_skipped(&countdown)),
            latest: Cell::new(None),
        });

        let on_skip = {
            let painter = Rc::clone(&painter);
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let skipped = js_sys::Reflect::get(&event, &JsValue::from_str("skipped"))
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                painter.skipped.set(skipped);
                if let (false, Some(now)) = (skipped, painter.latest.get()) {
                    painter.paint(now);
                }
            })
        };
        let card: web_sys::EventTarget = card.into();
        // Without the event (an older browser) every card simply keeps ticking.
        let _ = card.add_event_listener_with_callback(SKIP_EVENT, on_skip.as_ref().unchecked_ref());
        let listener = SkipListener {
            card,
            callback: on_skip,
        };

        on_tick(move |now| {
            let _keep_listening = &listener;
            painter.latest.set(Some(now));
            let next = crate::status::status_at(painter.inputs, now);
            if status.get_untracked() != next {
                status.set(next);
            }
            if !painter.skipped.get() || (now + id).rem_euclid(SKIPPED_REPAINT_SECS) == 0 {
                painter.paint(now);
            }
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod live {
    use leptos::html::{Div, Li, P};
    use leptos::prelude::*;

    use crate::model::Status;
    use crate::status::StatusInputs;

    /// Nothing ticks on the server.
    pub fn start(
        _id: i64,
        _inputs: StatusInputs,
        _lifetime: i64,
        _status: RwSignal<Status>,
        _refs: (NodeRef<Li>, NodeRef<P>, NodeRef<Div>, NodeRef<Div>),
    ) {
    }
}
