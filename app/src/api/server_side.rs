//! Server-side helpers of the server functions: reaching the engine through
//! context, the header's facts, and turning engine errors
//! into an HTTP status and a sentence (causes go to the log, never to the browser).

use leptos::prelude::*;

use domain::IntegrationId;
use engine::{Engine, EngineError};

use crate::model::{AppInfo, Mode};

/// The signed-in user the server's guard let through, if their role holds
/// the permission [`super::PERMISSIONS`] gives the server function at
/// `function` (its `ServerFn::PATH`; the guard checked it already, from the
/// same table, when it was called over HTTP; this is the second lock, for a
/// page's render too, and the server function's way to learn who acts). A
/// function the table does not name is an administrator's.
pub fn signed_in(function: &str) -> Result<engine::accounts::User, ServerFnError> {
    let permission = super::permission_of(function).unwrap_or(domain::Permission::Administer);
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
