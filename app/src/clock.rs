//! The page's one shared clock. The server renders from data alone (the clock
//! reads `None` there and during hydration); after hydration ONE interval timer
//! ticks it every second.
//!
//! Two kinds of reader share that timer:
//! - a few nodes (the header's clock, the detail page's countdown) read the
//!   reactive [`PageClock`] signal;
//! - the dashboard's cards, of which a page can hold hundreds, register a plain
//!   callback with [`on_tick`] and write their countdown text straight into the
//!   DOM, touching a reactive signal only when a status actually changes. A
//!   tick then costs one closure call per card instead of a reactive effect
//!   (and its scheduled task) per node.

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

/// The clock from context.
pub fn use_clock() -> PageClock {
    expect_context::<PageClock>()
}

/// Calls `tick` with the current UNIX time on every tick of the page clock
/// (and at once, if the clock is already running) until the calling owner is
/// cleaned up. On the server, where nothing ticks, it does nothing.
pub fn on_tick(tick: impl Fn(i64) + 'static) {
    browser::on_tick(tick);
}

/// The time of the page clock's last tick, without subscribing to it: `None`
/// before the browser starts ticking, and always on the server. (For tick
/// callbacks that paint later, e.g. a card catching up as it comes on screen.)
pub fn last_tick() -> Option<i64> {
    browser::last_tick()
}

#[cfg(feature = "hydrate")]
fn start_ticking(set_now: WriteSignal<Option<i64>>) {
    let now = browser::unix_now();
    set_now.set(Some(now));
    browser::tick_all(now);
    // The page lives as long as the app: the one interval is never cancelled.
    gloo_timers::callback::Interval::new(1_000, move || {
        let now = browser::unix_now();
        set_now.set(Some(now));
        browser::tick_all(now);
    })
    .forget();
}

#[cfg(not(feature = "hydrate"))]
fn start_ticking(_set_now: WriteSignal<Option<i64>>) {}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use leptos::prelude::on_cleanup;

    type Tick = Rc<dyn Fn(i64)>;

    thread_local! {
        /// Registered tick callbacks by key. The browser runs one thread.
        static TICKS: RefCell<BTreeMap<u64, Tick>> = RefCell::new(BTreeMap::new());
        static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
        /// The last time ticked, so a callback registered later starts current.
        static LAST: Cell<Option<i64>> = const { Cell::new(None) };
    }

    pub fn unix_now() -> i64 {
        (js_sys::Date::now() / 1000.0).floor() as i64
    }

    pub fn on_tick(tick: impl Fn(i64) + 'static) {
        let key = NEXT_KEY.with(|k| {
            let key = k.get();
            k.set(key + 1);
            key
        });
        if let Some(now) = LAST.with(Cell::get) {
            tick(now);
        }
        TICKS.with(|t| t.borrow_mut().insert(key, Rc::new(tick)));
        on_cleanup(move || {
            TICKS.with(|t| t.borrow_mut().remove(&key));
        });
    }

    pub fn last_tick() -> Option<i64> {
        LAST.with(Cell::get)
    }

    pub fn tick_all(now: i64) {
        LAST.with(|l| l.set(Some(now)));
        // Copy the callbacks out first: one may register or clean up another.
        let ticks: Vec<Tick> = TICKS.with(|t| t.borrow().values().cloned().collect());
        for tick in ticks {
            tick(now);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn on_tick(_tick: impl Fn(i64) + 'static) {}

    pub fn last_tick() -> Option<i64> {
        None
    }
}
