//! `GET /oauth/start` and `GET /oauth/callback`: the browser's side of the
//! connect flow. The logic lives in `engine::connect`; this file speaks HTTP:
//! cookies, redirects, flash parameters and error pages (`crate::errors`).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use cookie::Cookie;
use domain::{ConnectFailure, Flash, IntegrationId};
use engine::connect::links::is_link_state;
use engine::connect::{CallbackParams, ConnectError};
use engine::Engine;
use serde::Deserialize;

use super::flow_cookie::{binding_cookie_for, host_and_port, BINDING_COOKIE};
use crate::errors::error_page;
use crate::guard::cross_site::{HopTickets, HOP_PARAM};
use crate::state::ProductName;

#[derive(Debug, Deserialize)]
pub struct StartParams {
    integration: Option<String>,
}

/// `GET /oauth/start[?integration=N]`.
pub async fn start(
    State(engine): State<Engine>,
    Extension(hop_tickets): Extension<HopTickets>,
    headers: HeaderMap,
    Query(params): Query<StartParams>,
) -> Response {
    let redirect_uri = engine.redirect_uri();
    // The binding cookie is set for this host; the callback arrives on the
    // redirect URI's host. Move the browser there first so the cookie survives.
    // This hop creates no state; the browser labels the redirected request
    // cross-site (two host names, two sites), so it carries a single-use
    // ticket that the cross-site guard accepts once (see `cross_site`).
    let expected_host = host_and_port(redirect_uri);
    let actual_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let (Some(expected), Some(actual)) = (&expected_host, actual_host) {
        if !actual.eq_ignore_ascii_case(expected) {
            let mut target = redirect_uri.clone();
            target.set_path("/oauth/start");
            target.set_query(None);
            let mut pairs = Vec::new();
            if let Some(id) = &params.integration {
                pairs.push(("integration", id.clone()));
            }
            // Only a browser that sends Fetch Metadata labels the hop
            // cross-site; one that sends none sends no `Origin` on a GET
            // navigation either, and the guard lets it through as it is.
            if headers.contains_key("sec-fetch-site") {
                if let Some(ticket) = hop_tickets.issue().await {
                    pairs.push((HOP_PARAM, ticket));
                }
            }
            if !pairs.is_empty() {
                target.query_pairs_mut().extend_pairs(pairs);
            }
            return Redirect::to(target.as_str()).into_response();
        }
    }
    let reauth_of = match params.integration.as_deref() {
        None | Some("") => None,
        Some(raw) => match raw.parse::<IntegrationId>() {
            Ok(id) => Some(id),
            Err(_) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The integration to re-authenticate must be given by its number, e.g. /oauth/start?integration=3.",
                )
            }
        },
    };
    match engine.start_connect(reauth_of).await {
        Ok(flow) => {
            let cookie = binding_cookie_for(&engine, flow.browser_cookie);
            let mut response = Redirect::to(flow.authorize_url.as_str()).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(ConnectError::Failed {
            failure: ConnectFailure::UnknownIntegration,
            ..
        }) => error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "Integration {} does not exist, so it cannot be re-authenticated.",
                reauth_of.map(|id| id.to_string()).unwrap_or_default()
            ),
        ),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /oauth/callback?code=..&state=..` (or `?error=..`): a flow started
/// on the dashboard (its guard let a signed-in operator through), or one a
/// connect link started (no session needed: `crate::guard::access::oauth_callback`).
pub async fn callback(
    State(engine): State<Engine>,
    State(product): State<ProductName>,
    user: Option<Extension<engine::accounts::User>>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let cookie = binding_cookie(&headers);
    let link_flow = params.state.as_deref().is_some_and(is_link_state);
    let mut response = match (link_flow, user) {
        (true, _) => {
            super::connect_links::finish(&engine, &product, &params, cookie.as_deref()).await
        }
        (false, Some(Extension(user))) => dashboard_finish(&engine, &params, cookie, &user).await,
        (false, None) => error_page(
            StatusCode::UNAUTHORIZED,
            "Sign in to the dashboard, then start the connection again.",
        ),
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

/// The end of a dashboard flow: back to the dashboard with its flash.
async fn dashboard_finish(
    engine: &Engine,
    params: &CallbackParams,
    cookie: Option<String>,
    user: &engine::accounts::User,
) -> Response {
    let result = engine
        .finish_connect(params, cookie.as_deref(), &user.actor())
        .await;
    match result {
        Ok(connected) => flash_redirect(connected.flash(), Some(connected.id())),
        Err(ConnectError::State(problem)) => {
            tracing::warn!(reason = %problem, "OAuth callback rejected");
            error_page(StatusCode::BAD_REQUEST, &problem.to_string())
        }
        // The engine logged the failure as an event.
        Err(e) => flash_redirect(
            e.flash().unwrap_or(Flash::Failed(ConnectFailure::Storage)),
            None,
        ),
    }
}

/// `303` to the dashboard with the flash (and the integration it is about).
fn flash_redirect(flash: Flash, id: Option<IntegrationId>) -> Response {
    let mut target = format!("/dashboard?{}", flash.query());
    if let Some(id) = id {
        target.push_str(&format!("&integration={id}"));
    }
    Redirect::to(&target).into_response()
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
