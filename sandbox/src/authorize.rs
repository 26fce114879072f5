//! `GET /authorize` (the consent page) and `POST /authorize` (the person's
//! decision). An unknown client or redirect URI is an error page and never a
//! redirect (RFC 6749 section 4.1.2.1); other errors go back with `error=`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use html_escape::{encode_double_quoted_attribute, encode_text};
use url::Url;

use crate::rules::CodeGrant;
use crate::settings::{self, ACCOUNTS, SITES};
use crate::Sandbox;

/// The authorize request's parameters, once checked.
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: String,
    code_challenge: Option<String>,
}

/// Why an authorize request cannot proceed.
enum Rejection {
    /// Shown as a page: the redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the (trusted) redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Page(why) => (StatusCode::BAD_REQUEST, Html(page("Authorization error", &format!(
                "<h1>Something is wrong with this request</h1><p class=\"error\">{}</p>\
                 <p>The application that sent you here is misconfigured; you were not redirected back to it.</p>",
                encode_text(&why)
            ))))
                .into_response(),
            Rejection::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut params = vec![("error", error.to_owned()), ("error_description", description)];
                if let Some(state) = state {
                    params.push(("state", state));
                }
                redirect_with(&redirect_uri, &params)
            }
        }
    }
}

fn redirect_with(redirect_uri: &str, params: &[(&str, String)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => Rejection::Page("redirect_uri is not a valid URL".into()).into_response(),
    }
}

fn check(
    sandbox: &Sandbox,
    params: &HashMap<String, String>,
) -> Result<AuthorizeRequest, Rejection> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id =
        get("client_id").ok_or_else(|| Rejection::Page("client_id is missing".into()))?;
    let client = sandbox.client(client_id).ok_or_else(|| {
        Rejection::Page(format!(
            "No app is registered with client_id \"{client_id}\"."
        ))
    })?;
    let redirect_uri =
        get("redirect_uri").ok_or_else(|| Rejection::Page("redirect_uri is missing".into()))?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(Rejection::Page(format!(
            "redirect_uri \"{redirect_uri}\" does not match a callback URL registered for this app."
        )));
    }
    let state = get("state").map(str::to_owned);
    let back = |error: &'static str, description: &str| Rejection::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    if get("response_type") != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    if get("audience") != Some("api.atlassian.com") {
        return Err(back(
            "invalid_request",
            "audience must be api.atlassian.com",
        ));
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(back("invalid_scope", "scope must name at least one scope"));
    }
    let Some(state) = state.clone() else {
        return Err(back("invalid_request", "state is required"));
    };
    let code_challenge = get("code_challenge").map(str::to_owned);
    if code_challenge.is_some() && get("code_challenge_method").unwrap_or("plain") != "S256" {
        return Err(back(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        code_challenge,
    })
}

fn parse(query: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(query).into_owned().collect()
}

/// `GET /authorize`: checks the request and shows the consent page.
pub async fn consent_page(State(sandbox): State<Sandbox>, RawQuery(query): RawQuery) -> Response {
    let params = parse(query.unwrap_or_default().as_bytes());
    match check(&sandbox, &params) {
        Ok(req) => consent_response(StatusCode::OK, consent_html(&req, &params, None)),
        Err(rejection) => rejection.into_response(),
    }
}

/// What the consent page's form may lead to. Its answer redirects to the
/// app's callback, and the app's answer may redirect further (a connect
/// link's return URL on the app's own origin): Atlassian's consent page does
/// not hold those back, so neither does this one (browsers apply
/// `form-action` to every redirect a form's submission follows).
const CONSENT_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self' http: https:; frame-ancestors 'none'";

fn consent_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(CONSENT_POLICY),
    );
    response
}

/// `POST /authorize`: Accept redirects with a code, Cancel with `access_denied`.
pub async fn decision(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let params: HashMap<String, String> = pairs.iter().cloned().collect();
    let req = match check(&sandbox, &params) {
        Ok(req) => req,
        Err(rejection) => return rejection.into_response(),
    };
    if params.get("decision").map(String::as_str) != Some("accept") {
        return redirect_with(
            &req.redirect_uri,
            &[
                ("error", "access_denied".into()),
                (
                    "error_description",
                    "The user declined the consent request.".into(),
                ),
                ("state", req.state.clone()),
            ],
        );
    }
    let account = params.get("account").and_then(|a| settings::account(a));
    let cloud_ids: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "site" && settings::site(v).is_some())
        .map(|(_, v)| v.clone())
        .collect();
    let Some(account) = account else {
        return consent_response(
            StatusCode::BAD_REQUEST,
            consent_html(&req, &params, Some("Choose an account.")),
        );
    };
    if cloud_ids.is_empty() {
        return consent_response(
            StatusCode::BAD_REQUEST,
            consent_html(&req, &params, Some("Choose at least one site.")),
        );
    }
    let now = sandbox.now();
    let code = sandbox.store().issue_code(
        CodeGrant {
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.clone(),
            account_id: account.account_id.to_owned(),
            cloud_ids,
            code_challenge: req.code_challenge.clone(),
        },
        now,
    );
    redirect_with(&req.redirect_uri, &[("code", code), ("state", req.state)])
}

fn scope_description(scope: &str) -> &'static str {
    match scope {
        "read:jira-work" => "Read Jira project and issue data",
        "read:jira-user" => "View user information in Jira",
        "read:me" => "View your Atlassian profile",
        "offline_access" => "Keep access when you are not using the app (refresh tokens)",
        "write:jira-work" => "Create and edit Jira issues",
        "manage:jira-webhook" => "Manage Jira webhooks",
        _ => "",
    }
}

fn consent_html(
    req: &AuthorizeRequest,
    params: &HashMap<String, String>,
    error: Option<&str>,
) -> String {
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "response_type",
        "audience",
        "prompt",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .filter_map(|k| params.get(*k).map(|v| (k, v)))
    .map(|(k, v)| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            encode_double_quoted_attribute(v)
        )
    })
    .collect();
    let scopes: String = req
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code> <span>{}</span></li>",
                encode_text(s),
                scope_description(s)
            )
        })
        .collect();
    let accounts: String = ACCOUNTS
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "<label class=\"choice\"><input type=\"radio\" name=\"account\" value=\"{}\"{}> {} <small>{}</small></label>",
                encode_double_quoted_attribute(a.account_id),
                if i == 0 { " checked" } else { "" },
                encode_text(a.name),
                encode_text(a.email)
            )
        })
        .collect();
    let sites: String = SITES
        .iter()
        .map(|s| {
            format!(
                "<label class=\"choice\"><input type=\"checkbox\" name=\"site\" value=\"{}\" checked> {} <small>{}</small></label>",
                encode_double_quoted_attribute(s.cloud_id),
                encode_text(s.name),
                encode_text(s.url)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", encode_text(e)))
        .unwrap_or_default();
    page(
        "Authorize access",
        &format!(
            "<p class=\"sandbox-tag\">Atlassian sandbox</p>\
             <h1>An app wants to access your Atlassian account</h1>\
             <p>App <code>{client}</code> is requesting:</p><ul class=\"scopes\">{scopes}</ul>\
             {error}\
             <form method=\"post\" action=\"authorize\">{hidden}\
             <fieldset><legend>Account</legend>{accounts}</fieldset>\
             <fieldset><legend>Use app on</legend>{sites}</fieldset>\
             <div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"cancel\" class=\"secondary\">Cancel</button>\
             <button type=\"submit\" name=\"decision\" value=\"accept\" class=\"primary\">Accept</button></div>\
             </form>",
            client = encode_text(&req.client_id),
        ),
    )
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - Atlassian sandbox</title><style>{CSS}</style></head>\
         <body><main>{body}</main></body></html>"
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#172b4d;margin:0}\
main{max-width:34rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}\
h1{font-size:1.3rem}.sandbox-tag{display:inline-block;background:#fff0b3;padding:.15rem .5rem;border-radius:4px;font-size:.8rem}\
.scopes li{margin:.3rem 0}.scopes span{color:#5e6c84}fieldset{border:1px solid #dfe1e6;border-radius:6px;margin:1rem 0}\
.choice{display:block;padding:.3rem 0}.choice small{color:#5e6c84}.error{color:#bf2600}\
.actions{display:flex;gap:.5rem;justify-content:flex-end}button{font:inherit;padding:.5rem 1rem;border-radius:4px;border:0;cursor:pointer}\
.primary{background:#0052cc;color:#fff}.secondary{background:#ebecf0;color:#172b4d}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_page_escapes_markup_and_quotes() {
        let hostile = r#"x"><script>alert('&')</script>"#;
        let req = AuthorizeRequest {
            client_id: hostile.into(),
            redirect_uri: "http://localhost/callback".into(),
            scopes: vec![hostile.into()],
            state: hostile.into(),
            code_challenge: None,
        };
        let params: HashMap<String, String> = [("state".to_owned(), hostile.to_owned())].into();
        let html = consent_html(&req, &params, Some(hostile));
        assert!(!html.contains("<script>"), "{html}");
        // In an attribute, the quote cannot close the value.
        assert!(
            html.contains(
                r#"<input type="hidden" name="state" value="x&quot;&gt;&lt;script&gt;alert('&amp;')&lt;/script&gt;">"#
            ),
            "{html}"
        );
        // In text (the client id, the scope, the error), markup stays text.
        assert!(
            html.contains(r#"<code>x"&gt;&lt;script&gt;alert('&amp;')&lt;/script&gt;</code>"#),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<p class="error" role="alert">x"&gt;&lt;script&gt;alert('&amp;')&lt;/script&gt;</p>"#
            ),
            "{html}"
        );
    }
}
