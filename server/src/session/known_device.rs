//! The known-device cookie: after a sign-in the browser keeps the account's
//! proof (`engine::accounts::known_device`) and sends it with its next
//! sign-ins, so the throttle's per-email slow-down never holds up the
//! owner's own browser. `HttpOnly`, `SameSite=Strict`, 90 days; `__Host-`
//! prefixed and `Secure` when the dashboard is served over https.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use domain::UnixTime;
use engine::accounts::known_device::KNOWN_DEVICE_SECS;
use engine::accounts::User;

/// The cookie's name.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-jira_dashboard_device"
    } else {
        "jira_dashboard_device"
    }
}

/// The proofs the browser sent (a planted cookie of the same name may come
/// first: each is looked at, the first few of them).
pub fn read(headers: &HeaderMap, secure: bool) -> Vec<String> {
    let name = cookie_name(secure);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .take(engine::accounts::MAX_DEVICE_PROOFS)
        .collect()
}

/// `response` with a new proof for `user` (a sign-in, a setup, a password
/// change: the browser that did it is known from now on).
pub fn remembered(mut response: Response, user: &User, now: UnixTime, secure: bool) -> Response {
    remember(&mut response, &user.device_proof(now), secure);
    response
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
