//! The product's error page: [`error_page`] is the one page every
//! browser-facing error of the plain routes answers with: the cross-site
//! refusal, a role that may not act, unreadable query strings and panics
//! included ([`panic_page`]).

use std::any::Any;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// A small self-contained page for errors of the connect flow.
pub fn error_page(status: StatusCode, sentence: &str) -> Response {
    error_page_titled(status, "Connection problem", sentence)
}

/// The product's error page: its stylesheet, `heading`, the sentence and a
/// link back to the dashboard. Both texts are escaped.
pub fn error_page_titled(status: StatusCode, heading: &str, sentence: &str) -> Response {
    let html = app::pages::error_document(heading, sentence);
    let mut response = (status, Html(html)).into_response();
    // An error is about this request only: never cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Error answers of the plain routes that are plain text (or empty), such as
/// axum's own rejection of an unreadable query string, become the error page.
pub async fn plain_errors_as_pages(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain {
        return response;
    }
    let text = to_bytes(response.into_body(), 16 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let sentence = match (status.is_client_error(), text.is_empty()) {
        (_, true) => status
            .canonical_reason()
            .unwrap_or("The request failed")
            .to_owned(),
        (true, false) => format!("This address could not be read. {text}"),
        (false, false) => text,
    };
    error_page(status, &sentence)
}

/// The answer to a request whose handler panicked: the panic goes to the log,
/// the browser gets a generic page (a panic's text may name anything).
pub fn panic_page(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %message, "a request handler panicked");
    error_page_titled(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not answer this request. Try again from the dashboard; \
         if it keeps happening, the server's log says why.",
    )
}
