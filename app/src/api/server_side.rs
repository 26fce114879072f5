//! Server-side helpers of the server functions: reaching the engine through
//! context, mapping the engine's types into views, and turning engine errors
//! into an HTTP status and a sentence (causes go to the log, never to the browser).

use leptos::prelude::*;

use domain::{status_at, IntegrationId, StatusInputs, StatusRule, UnixTime};
use engine::db::TokenEvent;
use engine::{Engine, EngineError, Integration};

use crate::model::{AppInfo, EventView, IntegrationView, Mode, SiteView};

/// The signed-in user the server's guard let through, if their role holds
/// `permission` (the guard checked it already; this is the second lock, and
/// the server function's way to learn who acts).
pub fn signed_in(permission: domain::Permission) -> Result<engine::accounts::User, ServerFnError> {
    let user = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<engine::accounts::User>().cloned());
    match user {
        None => Err(client_error(
            http::StatusCode::UNAUTHORIZED,
            "Sign in first: this needs a session.".to_owned(),
        )),
        Some(user) if !user.role.may(permission) => Err(client_error(
            http::StatusCode::FORBIDDEN,
            permission.refusal(user.role),
        )),
        Some(user) => Ok(user),
    }
}

/// The signed-in person as the header shows them.
pub fn viewer() -> Option<crate::model::ViewerView> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<engine::accounts::User>().cloned())
        .map(|user| crate::model::ViewerView {
            email: user.email,
            role: user.role,
        })
}

/// The engine the server put in context.
pub fn engine() -> Result<Engine, ServerFnError> {
    use_context::<Engine>().ok_or_else(|| {
        tracing::error!("server function called without the engine in context");
        ServerFnError::new("The server is not ready; try again in a moment.")
    })
}

/// An engine error as the browser sees it: 404 for an unknown integration,
/// 500 with a sentence for a storage failure (the engine logged the cause).
pub fn engine_error(err: EngineError) -> ServerFnError {
    let status = match err {
        EngineError::NotFound(_) => http::StatusCode::NOT_FOUND,
        EngineError::Storage(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
    };
    client_error(status, err.to_string())
}

/// An answer with a status and a sentence for the user.
pub fn client_error(status: http::StatusCode, sentence: String) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(sentence)
}

/// The fleet listing's paging headers on the server function's answer:
/// `X-Total-Count` and, when another page follows, `X-Next-After` (its `after`).
pub fn page_headers(total: i64, next_after: Option<IntegrationId>) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let headers = [
        ("x-total-count", Some(total)),
        ("x-next-after", next_after.map(IntegrationId::get)),
    ];
    for (name, value) in headers {
        if let Some(value) = value {
            response.insert_header(
                http::HeaderName::from_static(name),
                http::HeaderValue::from(value),
            );
        }
    }
}

/// A form's `id`, as an integration id (positive), or a 400.
pub fn integration_id(id: i64) -> Result<IntegrationId, ServerFnError> {
    id.to_string().parse().map_err(|e| {
        client_error(
            http::StatusCode::BAD_REQUEST,
            format!("The integration id {id} is not valid: {e}."),
        )
    })
}

pub fn app_info(engine: &Engine) -> AppInfo {
    let settings = engine.settings();
    AppInfo {
        mode: if settings.sandbox_mode {
            Mode::Sandbox
        } else {
            Mode::Atlassian
        },
        status_rule: settings.status_rule(),
        server_now: engine.now().secs(),
        viewer: viewer(),
    }
}

/// RFC 3339 (UTC, seconds) for an instant: the engine's, so pages, views
/// and webhook messages write times alike.
pub use engine::clock::rfc3339;

/// The view of `i` at `engine`'s clock.
pub fn integration_view(engine: &Engine, i: Integration) -> IntegrationView {
    integration_view_at(i, engine.now(), engine.settings().status_rule())
}

/// The view of `i` at `now`, its status judged by `rule` (the webhook
/// messages render integrations with it).
pub fn integration_view_at(i: Integration, now: UnixTime, rule: StatusRule) -> IntegrationView {
    let status = status_at(
        StatusInputs {
            is_active: i.is_active,
            has_refresh_token: i.has_refresh_token,
            expires_at: i.expires_at.secs(),
            margin_secs: rule.margin_secs,
            policy: rule.policy,
        },
        now.secs(),
    );
    IntegrationView {
        id: i.id.get(),
        status,
        is_active: i.is_active,
        has_refresh_token: i.has_refresh_token,
        expires_at: rfc3339(i.expires_at),
        access_token_lifetime_secs: i.access_token_lifetime,
        refresh_failures: i.refresh_failures,
        last_refresh_at: i.last_refresh_at.map(rfc3339),
        refresh_token_idle_expires_at: i.refresh_token_idle_expires_at().map(rfc3339),
        consent_expires_at: i.consent_expires_at().map(rfc3339),
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
        actor: e
            .actor
            .as_deref()
            .and_then(domain::Actor::parse)
            .map(|a| a.label().to_owned()),
    }
}

/// The fleet's counts by status, as the dashboard shows them.
pub fn fleet_summary_view(s: engine::db::FleetSummary) -> crate::model::FleetSummaryView {
    crate::model::FleetSummaryView {
        active: s.active,
        expiring: s.expiring,
        expired: s.expired,
        idle: s.idle,
        needs_reauth: s.needs_reauth,
    }
}
