//! The dashboard's user interface and server functions. This crate compiles
//! twice: with `ssr` for the server (it then calls into the `engine` crate) and
//! with `hydrate` for the browser (WebAssembly; nothing server-only is linked).
//!
//! Layout:
//! - [`shell`] and [`App`] (this file): the HTML document and the page switch.
//! - [`document`]: the one `<head>` every page carries, and the static
//!   documents (sign-in, setup, settings, error pages) the server renders
//!   with no WebAssembly.
//! - [`address`]: which page the address names, and its query (no
//!   client-side router: every link is a full page load).
//! - [`model`]: the views the pages show (`domain::views`, the wire contract,
//!   re-exported) and what only pages need.
//! - [`status`], [`countdown`]: pure logic (status from timestamps; countdown
//!   text, lifetime share and the times the pages print), shared by the server
//!   render and the browser.
//! - [`dashboard_query`]: the dashboard's address parameters, read by the page
//!   and written back into links by its filter form and pager.
//! - [`flash`]: the fixed sentences shown after the OAuth callback.
//! - [`live`]: the page's live link to `GET /events` (browser only opens it).
//! - [`clock`]: the page's one shared one-second clock (browser only ticks).
//! - [`api`]: `#[server]` functions under `/api/...`.
//! - [`pages`]: one module per page; [`components`]: the pieces they share.
//!   Pages use components, never the other way round. The dashboard's
//!   integration card is a folder: the component, what a clock tick makes it
//!   show (pure, unit-tested) and the browser-only painter that writes it.

pub mod address;
pub mod api;
pub mod clock;
pub mod components;
pub mod countdown;
pub mod dashboard_query;
pub mod document;
pub mod flash;
pub mod live;
pub mod model;
pub mod pages;
pub mod status;

use leptos::either::EitherOf3;
use leptos::prelude::*;

use address::Page;
use document::DocumentHead;

/// The HTML document the server renders around [`App`]: the product's one
/// head ([`document::DocumentHead`]) with the hydration scripts.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <DocumentHead>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
            </DocumentHead>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: the page the address names, and the context every page
/// shares. (`/` is a plain server redirect to `/dashboard`, see the server's
/// routes; the server renders `/dashboard` and `/integrations/{id}` whole,
/// and its 404 page through here too.)
#[component]
pub fn App() -> impl IntoView {
    let address = address::provide_address();
    clock::provide_clock();
    live::provide_live();
    mark_hydrated();

    view! {
        {match address.page {
            Page::Dashboard => EitherOf3::A(view! { <pages::Dashboard/> }),
            Page::Integration(_) => EitherOf3::B(view! { <pages::IntegrationDetail/> }),
            Page::NotFound => EitherOf3::C(view! { <pages::NotFound/> }),
        }}
    }
}

/// Marks the document `data-hydrated="true"` once the WebAssembly has taken
/// over, so browser tests know event handlers are attached.
fn mark_hydrated() {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
