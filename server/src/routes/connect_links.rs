//! `/connect/{token}`: a connect link's pages, for a visitor with no account
//! here. `GET` shows who asks for which Jira access (reading it spends
//! nothing); the page's button `POST`s back, which spends the link, sets the
//! cookie that binds the flow to this browser, and sends it to Atlassian. The
//! callback (`crate::routes::oauth::callback`) ends it: [`finish`] renders
//! the result page or sends the browser to the link's `returnUrl`. The logic
//! lives in `engine::connect::links`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engine::connect::links::{LinkFinish, LinkOutcome, LinkProblem};
use engine::connect::CallbackParams;
use engine::Engine;

use super::flow_cookie::{binding_cookie_for, host_and_port};
use crate::guard::security_headers::STATIC_POLICY;
use crate::state::ProductName;

/// `GET /connect/{token}`: the invitation, or why the link cannot be used.
pub async fn page(
    State(engine): State<Engine>,
    State(product): State<ProductName>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    // The binding cookie must live on the public host, where the callback
    // lands: a link opened under another name for this server moves there
    // first (nothing is spent by a GET).
    if let Some(hop) = elsewhere(&engine, &headers, &token) {
        return hop;
    }
    match engine.connect_link(&token).await {
        Ok(invitation) => {
            let action = format!("/connect/{token}");
            let mut response = no_store(Html(app::pages::connect_link_document(
                app::pages::LinkPageView {
                    product: &product.0,
                    display_name: invitation.display_name.as_deref(),
                    reauthenticates: invitation.reauthenticates,
                    scopes: &invitation.scopes,
                    action: &action,
                },
            )));
            // The button's form is answered by a redirect to the consent
            // page, which `form-action` must allow (browsers apply it to
            // the redirect too).
            let policy = STATIC_POLICY.replace(
                "form-action 'self'",
                &format!("form-action 'self' {}", engine.consent_origin()),
            );
            if let Ok(value) = HeaderValue::from_str(&policy) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, value);
            }
            response
        }
        Err(problem) => problem_page(&product, problem),
    }
}

/// `POST /connect/{token}` (the page's button): spends the link and starts
/// the flow in this browser.
pub async fn start(
    State(engine): State<Engine>,
    State(product): State<ProductName>,
    Path(token): Path<String>,
) -> Response {
    match engine.start_connect_link(&token).await {
        Ok(flow) => {
            let mut response = Redirect::to(flow.authorize_url.as_str()).into_response();
            let cookie = binding_cookie_for(&engine, flow.browser_cookie);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(problem) => problem_page(&product, problem),
    }
}

/// The callback of a link's flow: the result page, or `303` to the link's
/// `returnUrl` with `integrationId` and `result`.
pub async fn finish(
    engine: &Engine,
    product: &ProductName,
    params: &CallbackParams,
    cookie: Option<&str>,
) -> Response {
    let LinkFinish {
        session_id,
        result,
        outcome,
        return_url,
    } = match engine.finish_link_connect(params, cookie).await {
        Ok(finish) => finish,
        Err(problem) => {
            tracing::warn!(reason = %problem, "connect link callback rejected");
            return outcome_page(
                product,
                StatusCode::BAD_REQUEST,
                "This connection could not be completed",
                &link_state_sentence(problem),
                false,
            );
        }
    };
    if let Some(mut url) = return_url {
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("connectSessionId", &session_id.to_string());
            if let Ok(connected) = &result {
                pairs.append_pair("integrationId", &connected.id().to_string());
            }
            pairs.append_pair("result", outcome.as_str());
        }
        return Redirect::to(url.as_str()).into_response();
    }
    match (&result, outcome) {
        (Ok(_), LinkOutcome::Reauthenticated) => outcome_page(
            product,
            StatusCode::OK,
            "Jira is reconnected",
            &format!("{} can use your Jira again.", product.0),
            true,
        ),
        (Ok(_), _) => outcome_page(
            product,
            StatusCode::OK,
            "Jira is connected",
            &format!("{} can now use your Jira.", product.0),
            true,
        ),
        (Err(e), _) => outcome_page(
            product,
            StatusCode::OK,
            "Nothing was connected",
            &e.flash()
                .map(|f| f.sentence().to_owned())
                .unwrap_or_else(|| e.to_string()),
            false,
        ),
    }
}

/// The link's state could not be trusted: the page's sentence (no mention
/// of the dashboard, which the visitor cannot reach).
fn link_state_sentence(problem: engine::connect::StateProblem) -> String {
    use engine::connect::StateProblem::*;
    match problem {
        Expired => "This attempt took too long (10 minutes at most). Ask whoever sent the link for a new one.",
        MissingCookie | CookieMismatch => "This attempt was started in another browser. Open the link again in this one, or ask for a new link.",
        Missing | Unknown | Replayed => "This attempt is unknown or was already used. Ask whoever sent the link for a new one.",
    }
    .to_owned()
}

/// The page of a link that cannot be used.
fn problem_page(product: &ProductName, problem: LinkProblem) -> Response {
    let heading = match problem {
        LinkProblem::Unavailable => "Please try again",
        _ => "This link cannot be used",
    };
    outcome_page(
        product,
        StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST),
        heading,
        &problem.to_string(),
        false,
    )
}

fn outcome_page(
    product: &ProductName,
    status: StatusCode,
    heading: &str,
    sentence: &str,
    success: bool,
) -> Response {
    let page = app::pages::link_outcome_document(&product.0, heading, sentence, success);
    (status, no_store(Html(page))).into_response()
}

/// Never cached: the address holds the link. (No referrer leaves for
/// another origin: `Referrer-Policy: same-origin`, `crate::guard::security_headers`.)
fn no_store(page: Html<String>) -> Response {
    let mut response = page.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `303` to the same link on the public host, when this request came under
/// another name.
fn elsewhere(engine: &Engine, headers: &HeaderMap, token: &str) -> Option<Response> {
    let public = &engine.link_settings().public_url;
    let expected = host_and_port(public)?;
    let actual = headers.get(header::HOST).and_then(|h| h.to_str().ok())?;
    if actual.eq_ignore_ascii_case(&expected) {
        return None;
    }
    let mut target = public.clone();
    target.set_path(&format!("/connect/{token}"));
    target.set_query(None);
    Some(Redirect::to(target.as_str()).into_response())
}
