//! The product's HTML documents: the one `<head>` every page carries
//! ([`DocumentHead`]) and, on the server, the whole pages that need no
//! WebAssembly ([`static_document`]: sign-in, setup, settings, error pages).
//! The Leptos pages get the same head through [`crate::shell`].

use leptos::prelude::*;

/// The product's name: the last part of every page's title.
pub const PRODUCT: &str = "Jira Integrations";

/// The stylesheet cargo-leptos builds from `style/main.css`.
pub const STYLESHEET: &str = "/pkg/jira-dashboard.css";

/// A page's title: "`page` - Jira Integrations", or the product's name alone.
pub fn title(page: Option<&str>) -> String {
    match page {
        Some(page) => format!("{page} - {PRODUCT}"),
        None => PRODUCT.to_owned(),
    }
}

/// The `<head>` of every page: character set, viewport, title, the
/// product's stylesheet, then `children` (the Leptos pages' hydration
/// scripts; the static pages have none).
#[component]
pub fn DocumentHead(
    /// The page's own name, first in its title (see [`title`]).
    #[prop(optional, into)]
    page: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    // One text node: a title holds text only, so no hydration marker may
    // split it.
    let title = title(page.as_deref());
    view! {
        <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>{title}</title>
            <link rel="stylesheet" href=STYLESHEET/>
            {children.map(|children| children())}
        </head>
    }
}

/// A whole page rendered on the server with no WebAssembly and no script:
/// the doctype, `<html lang="en">`, [`DocumentHead`] titled `page` and
/// `body` inside `<body>`. Every text in it is escaped by Leptos.
#[cfg(feature = "ssr")]
pub fn static_document<V: IntoView + 'static>(page: &str, body: impl FnOnce() -> V) -> String {
    let page = page.to_owned();
    Owner::new().with(move || {
        view! {
            <!DOCTYPE html>
            <html lang="en">
                <DocumentHead page/>
                <body>{body()}</body>
            </html>
        }
        .to_html()
    })
}
