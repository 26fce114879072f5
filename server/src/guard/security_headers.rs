//! The headers every answer carries: a Content-Security-Policy (no framing by
//! anyone, scripts only from this origin), `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy`, `X-Frame-Options` for browsers older than CSP's
//! `frame-ancestors`, and over https `Strict-Transport-Security`.
//!
//! Pages rendered by Leptos carry inline hydration scripts: each such page
//! sets its own policy with the render's nonce ([`page_policy`], set through
//! Leptos' response options), which the layer here leaves in place; every
//! other answer (the sign-in pages, errors, the sandbox) gets
//! [`STATIC_POLICY`], which allows no inline script at all.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of answers without inline scripts. Inline styles are allowed
/// (the sandbox's consent page has a `<style>` block; the lifetime bar sets a width).
pub const STATIC_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of a Leptos page whose inline scripts carry `nonce`.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the headers to every answer of `router` (a policy already set
/// stays); over `https`, also `Strict-Transport-Security`.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    https: bool,
) -> Router<S> {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let router = match https {
        true => router.layer(fixed(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000")),
        false => router,
    };
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STATIC_POLICY),
        ))
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(fixed(header::REFERRER_POLICY, "same-origin"))
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
}
