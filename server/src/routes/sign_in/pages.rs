//! The answers of `/login` and `/setup`: their documents come from the `app`
//! crate (`app::pages::sign_in_document` and the others: plain forms with the
//! product's head, no WebAssembly), with the status and no caching.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// A whole page, never cached (it may carry a form's answer).
fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the sign-in page shows besides its form.
pub struct SignInPage<'a> {
    pub status: StatusCode,
    /// The page to go to after signing in (a local path).
    pub next: &'a str,
    /// The email typed last time, kept in the field.
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// A note above the form (signed out, first start).
    pub note: Option<&'a str>,
}

/// `/login`: email, password, "Sign in".
pub fn sign_in(p: SignInPage<'_>) -> Response {
    let html = app::pages::sign_in_document(app::pages::SignInView {
        next: p.next,
        email: p.email,
        error: p.error,
        note: p.note,
    });
    page(p.status, html)
}

/// `/setup?token=...`: the first administrator's email and password.
pub fn setup(status: StatusCode, token: &str, email: &str, error: Option<&str>) -> Response {
    page(status, app::pages::setup_document(token, email, error))
}

/// A setup link that opens nothing.
pub fn setup_link_invalid(sentence: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        app::pages::setup_link_invalid_document(sentence),
    )
}
