//! `/settings` (rendered on the server, see `app::pages::settings_document`)
//! and its forms: add a user, change a role, remove a user (admins),
//! and change one's own password (everyone). Each answers with a redirect back
//! to `/settings?notice=<code>` (a [`SettingsNotice`]), so they work without
//! WebAssembly and a reload never sends a form twice. The guard has already
//! checked the role; the engine writes the account log naming who did it.

use axum::extract::Query;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Html;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::{Role, SettingsNotice};
use engine::accounts::{AccountError, User};
use engine::Engine;
use serde::Deserialize;

use crate::application::AppState;
use crate::sign_in::{AuthSession, SessionUser};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(settings_page))
        .route("/settings/users", post(add_user))
        .route("/settings/users/{id}/role", post(change_role))
        .route("/settings/users/{id}/remove", post(remove_user))
        .route("/settings/password", post(change_password))
}

#[derive(Deserialize)]
pub struct NoticeParam {
    notice: Option<String>,
}

/// `GET /settings`: everyone sees their account; admins also the users and
/// the account log.
async fn settings_page(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Query(params): Query<NoticeParam>,
) -> Response {
    use app::model::{AccountEventView, AppInfo, SettingsView, UserView, ViewerView};
    let admin = me.role.may(domain::Permission::Administer);
    let (users, events) = if admin {
        match (engine.users().await, engine.account_events(50).await) {
            (Ok(users), Ok(events)) => (users, events),
            (Err(e), _) | (_, Err(e)) => {
                return crate::oauth_routes::error_page_titled(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "Settings unavailable",
                    &e.to_string(),
                )
            }
        }
    } else {
        (Vec::new(), Vec::new())
    };
    let viewer = ViewerView {
        email: me.email.clone(),
        role: me.role,
    };
    let at = |t: domain::UnixTime| app::api::rfc3339(t);
    let settings = SettingsView {
        me: viewer.clone(),
        users: users
            .into_iter()
            .map(|u| UserView {
                id: u.id,
                email: u.email,
                role: u.role,
                created_at: at(u.created_at),
            })
            .collect(),
        account_events: events
            .into_iter()
            .map(|e| AccountEventView {
                id: e.id,
                at: at(e.at),
                actor: domain::Actor::parse(&e.actor)
                    .map(|a| a.label().to_owned())
                    .unwrap_or(e.actor),
                message: e.message,
            })
            .collect(),
        // What the header shows, as every page's `app_info` builds it; the
        // signed-in person comes from this handler's extractor.
        info: AppInfo {
            viewer: Some(viewer),
            ..app::api::app_info(&engine)
        },
    };
    let notice = params.notice.as_deref().and_then(SettingsNotice::parse);
    let mut response = Html(app::pages::settings_document(settings, notice)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn back(notice: SettingsNotice) -> Response {
    Redirect::to(&format!("/settings?notice={}", notice.as_str())).into_response()
}

/// An engine refusal as the page's notice.
fn notice_of(error: &AccountError) -> SettingsNotice {
    match error {
        AccountError::InvalidEmail(_) => SettingsNotice::BadEmail,
        AccountError::InvalidPassword(_) => SettingsNotice::BadPassword,
        AccountError::NotFound => SettingsNotice::NoSuchUser,
        AccountError::EmailTaken => SettingsNotice::EmailTaken,
        AccountError::LastAdmin => SettingsNotice::LastAdmin,
        AccountError::WrongPassword => SettingsNotice::WrongPassword,
        AccountError::Throttled { .. } => SettingsNotice::TooManyAttempts,
        AccountError::Busy(_) => SettingsNotice::Busy,
        AccountError::SetupLinkInvalid | AccountError::Storage(_) => SettingsNotice::Failed,
    }
}

fn answer(result: Result<(), AccountError>, done: SettingsNotice) -> Response {
    back(match result {
        Ok(()) => done,
        Err(e) => notice_of(&e),
    })
}

#[derive(Deserialize)]
pub struct AddUserForm {
    email: String,
    password: String,
    role: String,
}

async fn add_user(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Form(form): Form<AddUserForm>,
) -> Response {
    let Some(role) = Role::parse(&form.role) else {
        return back(SettingsNotice::Failed);
    };
    let added = engine
        .add_user(&me, &form.email, &form.password, role)
        .await;
    answer(added.map(|_| ()), SettingsNotice::UserAdded)
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

async fn change_role(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Some(role) = Role::parse(&form.role) else {
        return back(SettingsNotice::Failed);
    };
    answer(
        engine.change_role(&me, id, role).await,
        SettingsNotice::RoleChanged,
    )
}

async fn remove_user(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path(id): Path<i64>,
) -> Response {
    answer(
        engine.remove_user(&me, id).await,
        SettingsNotice::UserRemoved,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    mut auth: AuthSession,
    Form(form): Form<PasswordForm>,
) -> Response {
    if form.new != form.confirm {
        return back(SettingsNotice::PasswordMismatch);
    }
    match engine.change_password(&me, &form.current, &form.new).await {
        Ok(updated) => {
            // This browser carries on, under a new session id, with the new
            // password; every other session (a stolen cookie included) ends.
            match crate::sign_in::routes::start_session(&mut auth, &SessionUser(updated)).await {
                Ok(()) => back(SettingsNotice::PasswordChanged),
                Err(response) => response,
            }
        }
        Err(e) => back(notice_of(&e)),
    }
}
