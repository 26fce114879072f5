//! The page's one shared clock. The server renders from data alone (the clock
//! reads `None` there and during hydration); after hydration ONE interval timer
//! ticks it every second, and every countdown on the page reads it.

use leptos::prelude::*;

/// The shared clock: UNIX seconds, or `None` before the browser starts ticking.
#[derive(Debug, Clone, Copy)]
pub struct PageClock(pub ReadSignal<Option<i64>>);

impl PageClock {
    /// The current time, if the browser clock is running.
    pub fn now(self) -> Option<i64> {
        self.0.get()
    }
}

/// Puts the clock in context and, in the browser, starts its single timer.
pub fn provide_clock() {
    let (now, set_now) = signal(None::<i64>);
    provide_context(PageClock(now));
    Effect::new(move |started: Option<bool>| {
        // Effects run only in the browser, and this one tracks nothing: it runs once.
        if started.is_none() {
            start_ticking(set_now);
        }
        true
    });
}

#[cfg(feature = "hydrate")]
fn start_ticking(set_now: WriteSignal<Option<i64>>) {
    fn unix_now() -> i64 {
        (js_sys::Date::now() / 1000.0).floor() as i64
    }
    set_now.set(Some(unix_now()));
    // The page lives as long as the app: the one interval is never cancelled.
    gloo_timers::callback::Interval::new(1_000, move || set_now.set(Some(unix_now()))).forget();
}

#[cfg(not(feature = "hydrate"))]
fn start_ticking(_set_now: WriteSignal<Option<i64>>) {}

/// The clock from context.
pub fn use_clock() -> PageClock {
    expect_context::<PageClock>()
}
