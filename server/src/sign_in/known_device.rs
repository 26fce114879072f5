//! The known-device cookie: after a sign-in the browser keeps the account's
//! proof (`engine::accounts::known_device`) and sends it with its next
//! sign-ins, so the throttle's per-email slow-down never holds up the
//! owner's own browser. `HttpOnly`, `SameSite=Strict`, 90 days; `__Host-`
//! prefixed and `Secure` when the dashboard is served over https.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use engine::accounts::known_device::KNOWN_DEVICE_SECS;

/// The cookie's name.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-jira_dashboard_device"
    } else {
        "jira_dashboard_device"
    }
}

/// The proof the browser sent, if any.
pub fn read(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Sets the cookie holding `proof` on `response`.
pub fn remember(response: &mut Response, proof: &str, secure: bool) {
    let cookie = Cookie::build((cookie_name(secure), proof.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(KNOWN_DEVICE_SECS))
        .build();
    match HeaderValue::from_str(&cookie.to_string()) {
        Ok(value) => {
            response.headers_mut().append(SET_COOKIE, value);
        }
        Err(e) => tracing::warn!(error = %e, "could not set the known-device cookie"),
    }
}
