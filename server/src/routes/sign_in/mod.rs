//! `GET`/`POST /login`, `POST /logout`, `GET`/`POST /setup`.
//!
//! Signing in renews the session id (no session fixation); a wrong email and a
//! wrong password get the same sentence; the engine's throttle answers `429`
//! with `Retry-After`. The client address the throttle counts is the TCP
//! peer's, or behind `TRUSTED_PROXIES` the one they forwarded (see
//! `client_address`).

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use engine::accounts::{AccountError, SignInError, User};
use engine::Engine;
use serde::Deserialize;

use crate::guard::access::{login_url, request_host, PublicOrigin};
use crate::session::client_address::TrustedProxies;
use crate::session::known_device;
use crate::session::{AuthSession, SessionUser};

pub mod pages;

use pages::SignInPage;

/// Where to go after signing in: a local path, or the dashboard.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2_000
                && !n.chars().any(|c| c.is_control() || c == '\\')
                && !n.starts_with("/login")
                // Signing in never goes on to start or finish a flow by itself.
                && !n.starts_with("/oauth/") =>
        {
            n.to_owned()
        }
        _ => "/dashboard".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn sign_in_page(
    State(engine): State<Engine>,
    State(public): State<PublicOrigin>,
    auth: AuthSession,
    Query(params): Query<NextParam>,
    request: Request,
) -> Response {
    let next = safe_next(params.next.as_deref());
    if auth.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    // Sign in on the public host: that is where the session cookie must live.
    if request_host(&request).is_some_and(|h| h != public.host) {
        return Redirect::to(&login_url(&request, &public, &next)).into_response();
    }
    let first_start = !engine.has_accounts().await.unwrap_or(true);
    pages::sign_in(SignInPage {
        status: StatusCode::OK,
        next: &next,
        email: "",
        error: None,
        note: first_start.then_some(
            "No account exists yet: open the setup link the server printed when it started.",
        ),
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn sign_in(
    State(proxies): State<TrustedProxies>,
    State(engine): State<Engine>,
    State(public): State<PublicOrigin>,
    mut auth: AuthSession,
    request: Request,
) -> Response {
    let client = proxies.client_of(&request);
    let secure = public.origin.starts_with("https://");
    let devices = known_device::read(request.headers(), secure);
    let form = match Form::<SignInForm>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(rejection) => return rejection.into_response(),
    };
    let next = safe_next(form.next.as_deref());
    let refused = |status, error: &str| {
        pages::sign_in(SignInPage {
            status,
            next: &next,
            email: &form.email,
            error: Some(error),
            note: None,
        })
    };
    // The engine directly, not the auth backend's `authenticate`: a refusal
    // is an answer here, not an error to log.
    let signed_in = engine
        .sign_in(&form.email, &form.password, &client, &devices)
        .await;
    let user = match signed_in {
        Ok(user) => SessionUser(user),
        Err(SignInError::Invalid) => {
            return refused(StatusCode::UNAUTHORIZED, &SignInError::Invalid.to_string())
        }
        Err(e @ SignInError::Throttled { retry_after_secs }) => {
            let mut response = refused(StatusCode::TOO_MANY_REQUESTS, &e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Err(e @ SignInError::Busy(_)) => {
            let mut response = refused(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            return response;
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is not possible right now; the server logged why. Try again in a moment.",
            );
        }
    };
    match start_session(&mut auth, &user).await {
        // This browser is now known to the account: strangers guessing at
        // its email elsewhere never slow it down.
        Ok(()) => known_device::remembered(
            Redirect::to(&next).into_response(),
            &user.0,
            engine.now(),
            secure,
        ),
        Err(response) => response,
    }
}

/// Signs `user` in with a new session id (whatever id the browser came with).
pub async fn start_session(auth: &mut AuthSession, user: &SessionUser) -> Result<(), Response> {
    let renewed = auth.session.cycle_id().await;
    let signed_in = match renewed {
        Ok(()) => auth.login(user).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    signed_in.map_err(|e| {
        tracing::error!(error = %e, "could not store the session");
        crate::errors::error_page_titled(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in failed",
            "The session could not be stored; the server logged why. Try again in a moment.",
        )
    })
}

pub async fn sign_out(mut auth: AuthSession) -> Response {
    if let Err(e) = auth.logout().await {
        tracing::error!(error = %e, "could not end the session");
    }
    Redirect::to("/login").into_response()
}

#[derive(Deserialize)]
pub struct TokenParam {
    token: Option<String>,
}

pub async fn setup_page(
    State(engine): State<Engine>,
    Query(params): Query<TokenParam>,
) -> Response {
    let token = params.token.unwrap_or_default();
    match engine.setup_token_is_live(&token).await {
        Ok(true) => pages::setup(StatusCode::OK, &token, "", None),
        Ok(false) => pages::setup_link_invalid(&AccountError::SetupLinkInvalid.to_string()),
        Err(e) => pages::setup_link_invalid(&e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    email: String,
    password: String,
    confirm: String,
}

pub async fn set_up(
    State(engine): State<Engine>,
    State(public): State<PublicOrigin>,
    mut auth: AuthSession,
    Form(form): Form<SetupForm>,
) -> Response {
    if form.password != form.confirm {
        return pages::setup(
            StatusCode::BAD_REQUEST,
            &form.token,
            &form.email,
            Some("The two passwords differ: type the same one twice."),
        );
    }
    let user: User = match engine
        .set_up_first_admin(&form.token, &form.email, &form.password)
        .await
    {
        Ok(user) => user,
        Err(e @ (AccountError::InvalidEmail(_) | AccountError::InvalidPassword(_))) => {
            return pages::setup(
                StatusCode::BAD_REQUEST,
                &form.token,
                &form.email,
                Some(&e.to_string()),
            )
        }
        Err(e) => return pages::setup_link_invalid(&e.to_string()),
    };
    let secure = public.origin.starts_with("https://");
    let proof_for = user.clone();
    match start_session(&mut auth, &SessionUser(user)).await {
        Ok(()) => known_device::remembered(
            Redirect::to("/dashboard").into_response(),
            &proof_for,
            engine.now(),
            secure,
        ),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/dashboard", "/integrations/3?x=1", "/settings"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "/ok\\..",
            "javascript:alert(1)",
            "/login?next=/x",
            "/oauth/start?integration=3",
            "/oauth/callback?code=x&state=y",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/dashboard", "{bad}");
        }
        assert_eq!(safe_next(None), "/dashboard");
    }
}
