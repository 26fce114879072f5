//! The product's error page, rendered on the server only (no WebAssembly):
//! what went wrong and the way back to the dashboard.

use leptos::prelude::*;

use crate::document::static_document;

/// `heading`, the `sentence` that says what went wrong and a link back to
/// the dashboard. Both texts are escaped by Leptos.
pub fn error_document(heading: &str, sentence: &str) -> String {
    let (h1, sentence) = (heading.to_owned(), sentence.to_owned());
    static_document(heading, move || {
        view! {
            <main class="content">
                <h1>{h1}</h1>
                <p class="error" role="alert">{sentence}</p>
                <p><a class="button primary" href="/dashboard">"Back to the dashboard"</a></p>
            </main>
        }
    })
}
