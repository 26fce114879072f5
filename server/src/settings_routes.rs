//! The forms of `/settings`: add a user, change a role, remove a user (admins),
//! and change one's own password (everyone). Each answers with a redirect back
//! to `/settings?notice=<code>` (a [`SettingsNotice`]), so they work without
//! WebAssembly and a reload never sends a form twice. The guard has already
//! checked the role; the engine writes the account log naming who did it.

use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use domain::{Role, SettingsNotice};
use engine::accounts::{AccountError, User};
use engine::Engine;
use serde::Deserialize;

use crate::application::AppState;
use crate::sign_in::{AuthSession, SessionUser};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/users", post(add_user))
        .route("/settings/users/{id}/role", post(change_role))
        .route("/settings/users/{id}/remove", post(remove_user))
        .route("/settings/password", post(change_password))
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
            // This session carries on with the new password; the others end.
            if let Err(e) = auth.login(&SessionUser(updated)).await {
                tracing::error!(error = %e, "could not renew the session after a password change");
            }
            back(SettingsNotice::PasswordChanged)
        }
        Err(e) => back(notice_of(&e)),
    }
}
