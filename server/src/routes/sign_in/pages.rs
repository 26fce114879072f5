//! The HTML of `/login` and `/setup`: plain forms with the product's
//! stylesheet, no WebAssembly (they work before it loads, and without it).
//! Every text from a request is escaped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// A whole page around `body`, never cached (it may carry a form's answer).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - Jira Integrations</title>\
         <link rel=\"stylesheet\" href=\"/pkg/jira-dashboard.css\"></head>\
         <body><main class=\"content sign-in\"><h1>Jira Integrations</h1>{body}</main></body></html>",
        title = text(title),
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn alert(sentence: Option<&str>) -> String {
    sentence
        .map(|s| format!("<p class=\"error\" role=\"alert\">{}</p>", text(s)))
        .unwrap_or_default()
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
    let note = p
        .note
        .map(|n| format!("<p class=\"notice\" role=\"status\">{}</p>", text(n)))
        .unwrap_or_default();
    let body = format!(
        "<h2>Sign in</h2>{note}{error}\
         <form class=\"stacked-form\" method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{email}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button class=\"button primary\" type=\"submit\">Sign in</button></form>",
        error = alert(p.error),
        next = attr(p.next),
        email = attr(p.email),
    );
    page(p.status, "Sign in", &body)
}

/// `/setup?token=...`: the first administrator's email and password.
pub fn setup(status: StatusCode, token: &str, email: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<h2>Create the first administrator</h2>\
         <p>No account exists yet. The account you create here is the dashboard's first \
         administrator: it can add the other users in Settings.</p>{error}\
         <form class=\"stacked-form\" method=\"post\" action=\"/setup\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{email}\">\
         <label for=\"password\">Password (at least {min} characters)</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\">\
         <label for=\"confirm\">Password again</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required minlength=\"{min}\">\
         <button class=\"button primary\" type=\"submit\">Create administrator</button></form>",
        error = alert(error),
        token = attr(token),
        email = attr(email),
        min = engine::accounts::rules::MIN_PASSWORD_CHARS,
    );
    page(status, "Set up", &body)
}

/// A setup link that opens nothing.
pub fn setup_link_invalid(sentence: &str) -> Response {
    let body = format!(
        "<h2>Set up</h2>{}<p><a class=\"button primary\" href=\"/login\">Go to sign in</a></p>",
        alert(Some(sentence))
    );
    page(StatusCode::NOT_FOUND, "Set up", &body)
}
