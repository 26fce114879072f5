//! The page's live link to the server: one `EventSource` on `GET /events`
//! (browser only). It says whether the page is live, and queues each change
//! for the page to apply: `integration` (the view), `removed` (an id), and
//! "re-read" (after a reconnect, or when the stream fell behind).
//!
//! One queue and a trigger rather than a signal holding the last change: two
//! changes arriving within one tick must both be applied.

use std::collections::VecDeque;

use leptos::prelude::*;

use crate::model::IntegrationView;

/// Whether the page hears the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    /// Before the first connection (and always on the server).
    Connecting,
    Live,
    /// The connection dropped; the browser retries on its own.
    Reconnecting,
}

impl LiveState {
    pub fn label(self) -> &'static str {
        match self {
            LiveState::Connecting => "Connecting…",
            LiveState::Live => "Live",
            LiveState::Reconnecting => "Reconnecting...",
        }
    }
}

/// One change to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveChange {
    Updated(Box<IntegrationView>),
    Removed(i64),
    /// Something may have been missed: re-read what the page shows.
    Reread,
}

/// The live link, in context.
#[derive(Clone, Copy)]
pub struct Live {
    pub state: RwSignal<LiveState>,
    pending: StoredValue<VecDeque<LiveChange>>,
    /// Counts arrivals: reading it subscribes to the next one.
    arrived: RwSignal<u64>,
}

impl Live {
    /// Takes every change queued so far, and subscribes the caller to the next.
    pub fn drain(self) -> Vec<LiveChange> {
        self.arrived.track();
        self.pending
            .try_update_value(|queue| queue.drain(..).collect())
            .unwrap_or_default()
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn push(self, change: LiveChange) {
        self.pending.update_value(|queue| queue.push_back(change));
        self.arrived.update(|n| *n = n.wrapping_add(1));
    }
}

/// Puts the live link in context and, in the browser, opens the stream.
pub fn provide_live() -> Live {
    let live = Live {
        state: RwSignal::new(LiveState::Connecting),
        pending: StoredValue::new(VecDeque::new()),
        arrived: RwSignal::new(0),
    };
    provide_context(live);
    Effect::new(move |opened: Option<()>| {
        if opened.is_none() {
            browser::open(live);
        }
    });
    live
}

/// The live link from context.
pub fn use_live() -> Live {
    expect_context::<Live>()
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn open(_live: super::Live) {}
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    use super::{Live, LiveChange, LiveState};

    #[derive(serde::Deserialize)]
    struct Removed {
        id: i64,
    }

    /// How long to wait before opening a new stream when the browser gave up
    /// on one (it does when the server answers with an error, e.g. a proxy's
    /// 502 during a restart); dropped connections it retries by itself.
    const REOPEN_AFTER_MS: u32 = 3_000;
    /// `EventSource.CLOSED`.
    const CLOSED: u16 = 2;

    pub fn open(live: Live) {
        connect(live, Rc::new(Cell::new(false)));
    }

    fn connect(live: Live, was_live: Rc<Cell<bool>>) {
        let Ok(source) = web_sys::EventSource::new("/events") else {
            live.state.set(LiveState::Reconnecting);
            return;
        };
        let listen = |name: &str, handle: Box<dyn Fn(String)>| {
            let closure =
                Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                    handle(e.data().as_string().unwrap_or_default())
                });
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            closure.forget();
        };
        let ready = Rc::clone(&was_live);
        listen(
            "ready",
            Box::new(move |_| {
                live.state.set(LiveState::Live);
                // Back after a drop: catch up on what was missed.
                if ready.replace(true) {
                    live.push(LiveChange::Reread);
                }
            }),
        );
        listen(
            "integration",
            Box::new(move |data| match serde_json::from_str(&data) {
                Ok(view) => live.push(LiveChange::Updated(Box::new(view))),
                Err(_) => live.push(LiveChange::Reread),
            }),
        );
        listen(
            "removed",
            Box::new(move |data| match serde_json::from_str::<Removed>(&data) {
                Ok(r) => live.push(LiveChange::Removed(r.id)),
                Err(_) => live.push(LiveChange::Reread),
            }),
        );
        listen("resync", Box::new(move |_| live.push(LiveChange::Reread)));
        let watched = source.clone();
        let on_error = Closure::<dyn Fn()>::new(move || {
            live.state.set(LiveState::Reconnecting);
            if watched.ready_state() == CLOSED {
                let was_live = Rc::clone(&was_live);
                gloo_timers::callback::Timeout::new(REOPEN_AFTER_MS, move || {
                    connect(live, was_live)
                })
                .forget();
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        // The stream lives as long as the page.
        std::mem::forget(source);
    }
}
