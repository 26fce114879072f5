//! Server-side helpers of the server functions: reaching the engine through
//! context, mapping stored integrations into views, and turning internal
//! errors into a sentence (the cause goes to the log, never to the browser).

use chrono::{DateTime, SecondsFormat};
use leptos::prelude::*;

use engine::db::TokenEvent;
use engine::{Engine, Integration};

use crate::model::{AppInfo, EventView, IntegrationView, Mode, SiteView};
use crate::status::{status_at, StatusInputs};

/// Refresh tokens die after 90 days without use.
const REFRESH_TOKEN_IDLE_SECS: i64 = 90 * 86_400;
/// Refresh token families die 365 days after consent.
const CONSENT_LIFETIME_SECS: i64 = 365 * 86_400;

/// The engine the server put in context.
pub fn engine() -> Result<Engine, ServerFnError> {
    use_context::<Engine>().ok_or_else(|| {
        tracing::error!("server function called without the engine in context");
        ServerFnError::new("The server is not ready; try again in a moment.")
    })
}

/// Logs `err` and answers the browser with a sentence about what failed.
pub fn internal<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ServerFnError {
    move |err| {
        tracing::error!(error = %err, "could not {what}");
        ServerFnError::new(format!("Could not {what}; the server logged the cause."))
    }
}

/// A 4xx answer with a sentence for the user.
pub fn client_error(status: http::StatusCode, sentence: String) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(sentence)
}

pub fn app_info(engine: &Engine) -> AppInfo {
    AppInfo {
        mode: if engine.sandbox_mode {
            Mode::Sandbox
        } else {
            Mode::Atlassian
        },
        refresh_margin_secs: engine.refresh_margin_secs,
        server_now: engine.clock.now(),
    }
}

/// RFC 3339 (UTC, seconds) for a UNIX time.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn integration_view(i: Integration, now: i64, margin_secs: i64) -> IntegrationView {
    let status = status_at(
        StatusInputs {
            is_active: i.is_active,
            has_refresh_token: i.has_refresh_token,
            expires_at: i.expires_at,
            margin_secs,
        },
        now,
    );
    IntegrationView {
        id: i.id,
        status,
        is_active: i.is_active,
        has_refresh_token: i.has_refresh_token,
        expires_at: rfc3339(i.expires_at),
        access_token_lifetime_secs: i.access_token_lifetime,
        refresh_failures: i.refresh_failures,
        last_refresh_at: i.last_refresh_at.map(rfc3339),
        last_error: i.last_error,
        account_id: i.account_id,
        account_name: i.account_name,
        account_email: i.account_email,
        sites: i
            .sites
            .into_iter()
            .map(|s| SiteView {
                cloud_id: s.cloud_id,
                name: s.name,
                url: s.url,
            })
            .collect(),
        scopes: i.scopes,
        created_at: rfc3339(i.created_at),
        refresh_token_idle_expires_at: i
            .refresh_token_issued_at
            .filter(|_| i.has_refresh_token)
            .map(|t| rfc3339(t + REFRESH_TOKEN_IDLE_SECS)),
        consent_expires_at: Some(i.consented_at)
            .filter(|_| i.has_refresh_token)
            .map(|t| rfc3339(t + CONSENT_LIFETIME_SECS)),
    }
}

pub fn event_view(e: TokenEvent) -> EventView {
    EventView {
        id: e.id,
        at: rfc3339(e.at),
        kind: e.kind,
        outcome: e.outcome,
        http_status: e.http_status,
        error_code: e.error_code,
        message: e.message,
    }
}
