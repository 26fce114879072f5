//! `GET /oauth/start` and `GET /oauth/callback`: the browser's side of the
//! connect flow. The logic lives in `engine::connect`; this file speaks HTTP:
//! cookies, redirects, flash parameters and error pages.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use engine::connect::{CallbackParams, ConnectError, Connected, STATE_LIFETIME_SECS};
use engine::db::NewEvent;
use engine::Engine;
use serde::Deserialize;

/// The cookie that binds a state to the browser that started the flow.
pub const BINDING_COOKIE: &str = "jira_oauth_binding";

#[derive(Debug, Deserialize)]
pub struct StartParams {
    integration: Option<String>,
}

/// `GET /oauth/start[?integration=N]`.
pub async fn start(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(params): Query<StartParams>,
) -> Response {
    let redirect_uri = &engine.atlassian.settings().redirect_uri;
    // The binding cookie is set for this host; the callback arrives on the
    // redirect URI's host. Move the browser there first so the cookie survives.
    let expected_host = host_and_port(redirect_uri);
    let actual_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let (Some(expected), Some(actual)) = (&expected_host, actual_host) {
        if !actual.eq_ignore_ascii_case(expected) {
            let mut target = redirect_uri.clone();
            target.set_path("/oauth/start");
            target.set_query(None);
            if let Some(id) = &params.integration {
                target.query_pairs_mut().append_pair("integration", id);
            }
            return Redirect::to(target.as_str()).into_response();
        }
    }
    let reauth_of = match params.integration.as_deref() {
        None | Some("") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The integration to re-authenticate must be given by its number, e.g. /oauth/start?integration=3.",
                )
            }
        },
    };
    match engine.start_connect(reauth_of).await {
        Ok(flow) => {
            let cookie = Cookie::build((BINDING_COOKIE, flow.browser_cookie))
                .http_only(true)
                // Lax, not Strict: the callback is a top-level redirect from the
                // provider's site, and a Strict cookie would not be sent on it.
                .same_site(SameSite::Lax)
                .secure(redirect_uri.scheme() == "https")
                .path("/oauth")
                .max_age(cookie::time::Duration::seconds(STATE_LIFETIME_SECS))
                .build();
            let mut response = Redirect::to(flow.authorize_url.as_str()).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e @ ConnectError::UnknownIntegration(_)) => {
            error_page(StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /oauth/callback?code=..&state=..` (or `?error=..`).
pub async fn callback(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let cookie = binding_cookie(&headers);
    let result = engine.finish_connect(&params, cookie.as_deref()).await;
    let mut response = match result {
        Ok(connected) => {
            let (flash, id) = match connected {
                Connected::New(id) => ("connected", id),
                Connected::Reconnected(id) => ("reconnected", id),
                Connected::Reauthenticated(id) => ("reauthenticated", id),
            };
            Redirect::to(&format!("/dashboard?flash={flash}&integration={id}")).into_response()
        }
        Err(e) if e.is_state_problem() => {
            tracing::warn!(reason = %e, "OAuth callback rejected");
            error_page(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Err(ConnectError::Declined) => Redirect::to("/dashboard?flash=declined").into_response(),
        Err(e) => {
            tracing::warn!(reason = %e, "OAuth callback failed");
            let (status, code) = match &e {
                ConnectError::Exchange(p)
                | ConnectError::Resources(p)
                | ConnectError::Account(p) => (p.status(), p.code().map(str::to_owned)),
                _ => (None, None),
            };
            let message = e.to_string();
            let _ = engine
                .db
                .record_event(
                    &NewEvent {
                        integration_id: None,
                        kind: "connect",
                        outcome: "failed",
                        http_status: status,
                        error_code: code.as_deref(),
                        message: &message,
                    },
                    engine.clock.now(),
                )
                .await;
            Redirect::to(&format!(
                "/dashboard?flash=failed&reason={}",
                failure_code(&e)
            ))
            .into_response()
        }
    };
    // The state is spent either way: drop the binding cookie.
    let expired = Cookie::build((BINDING_COOKIE, ""))
        .path("/oauth")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    if let Ok(value) = HeaderValue::from_str(&expired.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The short code the dashboard turns back into a sentence (see `app::flash`).
fn failure_code(e: &ConnectError) -> &'static str {
    match e {
        ConnectError::ProviderRefused(_) => "provider",
        ConnectError::MissingCode => "no_code",
        ConnectError::Exchange(_) => "exchange",
        ConnectError::Resources(_) => "resources",
        ConnectError::NoSites => "no_sites",
        ConnectError::Account(_) => "account",
        ConnectError::UnknownIntegration(_) => "unknown_integration",
        ConnectError::AccountBelongsToAnother { .. } => "other_account",
        _ => "storage",
    }
}

fn binding_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == BINDING_COOKIE && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

fn host_and_port(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A small self-contained page for errors that happen outside the app's UI.
pub fn error_page(status: StatusCode, sentence: &str) -> Response {
    let escaped = sentence
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Connection problem - Jira Integrations</title>\
         <link rel=\"stylesheet\" href=\"/pkg/jira-dashboard.css\"></head>\
         <body><main class=\"content\"><h1>Connection problem</h1>\
         <p class=\"error\" role=\"alert\">{escaped}</p>\
         <p><a class=\"button primary\" href=\"/dashboard\">Back to the dashboard</a></p></main></body></html>"
    );
    (status, Html(html)).into_response()
}
