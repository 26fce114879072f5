//! The cookie that binds an OAuth flow's state to the browser that started
//! it, shared by the dashboard's flow (`oauth.rs`) and a connect link's
//! (`connect_links.rs`), and the host a flow must run on.

use cookie::{Cookie, SameSite};
use engine::connect::STATE_LIFETIME_SECS;
use engine::Engine;

/// The cookie that binds a state to the browser that started the flow.
pub const BINDING_COOKIE: &str = "jira_oauth_binding";

/// The `Set-Cookie` value that binds a flow's state to this browser.
pub fn binding_cookie_for(engine: &Engine, value: String) -> String {
    Cookie::build((BINDING_COOKIE, value))
        .http_only(true)
        // Lax, not Strict: the callback is a top-level redirect from the
        // provider's site, and a Strict cookie would not be sent on it.
        .same_site(SameSite::Lax)
        .secure(engine.redirect_uri().scheme() == "https")
        .path("/oauth")
        .max_age(cookie::time::Duration::seconds(STATE_LIFETIME_SECS))
        .build()
        .to_string()
}

pub fn host_and_port(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}
