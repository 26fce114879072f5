//! The browser side of a card's countdown: one callback on the page clock that
//! writes the countdown's text node and the lifetime bar in place.
//!
//! Cards carry `content-visibility: auto`, so the browser skips rendering the
//! ones off screen and says so with `contentvisibilityautostatechange`. A
//! skipped card keeps its status current (a signal, set only when it changes)
//! and rewrites its countdown text and bar only once a minute (staggered by
//! integration id, so a tick touches a sixtieth of them), which bounds what a
//! screen reader can find stale off screen; when the browser is about to show
//! it again it catches up before the first paint. A page of 500 cards thus
//! rewrites the handful on screen and about 8 others each second.

use leptos::web_sys::Element;

/// The nodes of a card (or a table row) that its ticks write.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct CardNodes {
    /// The card, whose skip events say whether it is on screen.
    pub card: Element,
    /// The countdown line (its text node is rewritten).
    pub countdown: Element,
    /// The lifetime bar (its `aria-valuenow`) and its fill (its width); a
    /// table row has none.
    pub bar: Option<(Element, Element)>,
}

#[cfg(feature = "hydrate")]
pub use browser::start;

/// Nothing ticks on the server.
#[cfg(not(feature = "hydrate"))]
pub fn start(
    _id: i64,
    _inputs: crate::status::StatusInputs,
    _lifetime: i64,
    _status: leptos::prelude::RwSignal<crate::model::Status>,
    _nodes: CardNodes,
) {
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    use super::super::tick::Countdown;
    use super::CardNodes;
    use crate::clock::{last_tick, on_tick};
    use crate::model::Status;
    use crate::status::{status_at, StatusInputs};

    const SKIP_EVENT: &str = "contentvisibilityautostatechange";
    /// How often a card off screen rewrites its countdown anyway.
    const SKIPPED_REPAINT_SECS: i64 = 60;

    /// The DOM a tick writes and what it wrote last.
    struct Painter {
        inputs: StatusInputs,
        lifetime: i64,
        text: web_sys::Node,
        bar: Option<(web_sys::Element, web_sys::Element)>,
        shown: RefCell<Option<Countdown>>,
        /// The browser is not rendering the card (it is off screen).
        skipped: Cell<bool>,
    }

    impl Painter {
        /// Writes the countdown for `now`, when the card's status is `status`;
        /// only what changed since the last write.
        fn paint(&self, status: Status, now: i64) {
            let next = Countdown::at(status, self.inputs.expires_at - now, self.lifetime);
            let mut shown = self.shown.borrow_mut();
            let before = shown.as_ref();
            if before.map(|b| &b.text) != Some(&next.text) {
                self.text.set_node_value(Some(&next.text));
            }
            if let (true, Some((bar, fill))) =
                (before.map(|b| b.percent) != Some(next.percent), &self.bar)
            {
                // Attribute writes cannot fail on these elements; nothing to report.
                let _ = bar.set_attribute("aria-valuenow", &next.percent.to_string());
                let _ = fill.set_attribute("style", &next.fill_style());
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

    /// Registers the card's tick on the page clock (until the card is cleaned
    /// up): it sets `status` when the status changes and paints the countdown.
    pub fn start(
        id: i64,
        inputs: StatusInputs,
        lifetime: i64,
        status: RwSignal<Status>,
        nodes: CardNodes,
    ) {
        let CardNodes {
            card,
            countdown,
            bar,
        } = nodes;
        // Rewrite the countdown's text node in place: replacing the paragraph's
        // content would build (and later collect) a new node on every tick.
        let Some(text) = countdown.first_child() else {
            return;
        };
        let painter = Rc::new(Painter {
            inputs,
            lifetime,
            text,
            bar,
            shown: RefCell::new(None),
            skipped: Cell::new(is_skipped(&countdown)),
        });

        let on_skip = {
            let painter = Rc::clone(&painter);
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let skipped = js_sys::Reflect::get(&event, &JsValue::from_str("skipped"))
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                painter.skipped.set(skipped);
                // Catching up happens only as a card comes on screen, so the
                // status is worked out afresh here rather than kept per card.
                if let (false, Some(now)) = (skipped, last_tick()) {
                    painter.paint(status_at(painter.inputs, now), now);
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
            let next = status_at(painter.inputs, now);
            if status.get_untracked() != next {
                status.set(next);
            }
            if !painter.skipped.get() || (now + id).rem_euclid(SKIPPED_REPAINT_SECS) == 0 {
                painter.paint(next, now);
            }
        });
    }
}
