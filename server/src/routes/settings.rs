//! `/settings` (rendered on the server, see `app::pages::settings_document`)
//! and its forms: add a user, change a role, remove a user, create and revoke
//! API keys, manage webhook endpoints (admins), and change one's own password
//! (everyone). Creating a key
//! or an endpoint answers with the page itself, showing the key or the
//! endpoint's secret once (`no-store`), or why the endpoint was refused; every
//! other form answers with a redirect back
//! to `/settings?notice=<code>` (a [`SettingsNotice`]), so they work without
//! WebAssembly and a reload never sends a form twice. The guard has already
//! checked the role; the engine writes the account log naming who did it.

use axum::extract::Query;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Html;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use domain::{Role, SettingsNotice};
use engine::accounts::{AccountError, User};
use engine::service_api::ApiKeyError;
use engine::Engine;
use serde::Deserialize;

use crate::session::{AuthSession, SessionUser};

#[derive(Deserialize)]
pub struct NoticeParam {
    notice: Option<String>,
}

/// `GET /settings`: everyone sees their account; admins also the users and
/// the account log.
pub async fn settings_page(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Query(params): Query<NoticeParam>,
) -> Response {
    let notice = params.notice.as_deref().and_then(SettingsNotice::parse);
    render(&engine, &me, notice, Extra::default()).await
}

/// What a form's answer shows besides the stored state: a key or an
/// endpoint secret just made (once), or why an endpoint was refused.
#[derive(Default)]
struct Extra {
    new_key: Option<domain::views::NewKeyView>,
    new_webhook: Option<domain::views::NewWebhookView>,
    webhook_error: Option<String>,
}

/// The settings page for `me`, with `notice`, and a key just created.
async fn render(
    engine: &Engine,
    me: &User,
    notice: Option<SettingsNotice>,
    extra: Extra,
) -> Response {
    use domain::views::{
        AccountEventView, ApiKeyView, AppInfo, SettingsView, UserView, ViewerView,
    };
    let admin = me.role.may(domain::Permission::Administer);
    let (users, events, keys) = if admin {
        match (
            engine.users().await,
            engine.account_events(50).await,
            engine.api_keys().await,
        ) {
            (Ok(users), Ok(events), Ok(keys)) => (users, events, keys),
            (Err(e), _, _) | (_, Err(e), _) => return unavailable(&e.to_string()),
            (_, _, Err(e)) => return unavailable(&e.to_string()),
        }
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let (hooks, hook_settings) = if admin {
        match (
            engine.webhook_endpoints().await,
            engine.webhook_settings().await,
        ) {
            (Ok(hooks), Ok(settings)) => (hooks, settings),
            (Err(e), _) | (_, Err(e)) => return unavailable(&e.to_string()),
        }
    } else {
        (
            Vec::new(),
            engine::webhooks::WebhookSettings {
                allow_private_addresses: false,
            },
        )
    };
    let label = |stored: String| {
        domain::Actor::parse(&stored)
            .map(|a| a.label())
            .unwrap_or(stored)
    };
    let viewer = ViewerView {
        email: me.email.clone(),
        role: me.role,
    };
    let at = |t: domain::UnixTime| domain::time::rfc3339(t);
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
                actor: label(e.actor),
                message: e.message,
            })
            .collect(),
        api_keys: keys
            .into_iter()
            .map(|k| {
                let share = engine::jira_limits::Share::of(&k);
                (k, share)
            })
            .map(|(k, share)| ApiKeyView {
                jira_weight: share.weight,
                jira_points_per_hour: share.points_per_hour,
                tags: k.confined_to().written(),
                scopes: k
                    .scope_list()
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                id: k.id,
                name: k.name,
                prefix: k.prefix,
                created_at: at(k.created_at),
                created_by: label(k.created_by),
                last_used_at: k.last_used_at.map(at),
                revoked_at: k.revoked_at.map(at),
                token_handouts: k.token_handouts,
                proxied_calls: k.proxied_calls,
            })
            .collect(),
        new_key: extra.new_key,
        webhooks: hooks.into_iter().map(|h| webhook_view(h, &label)).collect(),
        allow_private_webhooks: hook_settings.allow_private_addresses,
        new_webhook: extra.new_webhook,
        webhook_error: extra.webhook_error.clone(),
        // What the header shows, as every page's `app_info` builds it; the
        // signed-in person comes from this handler's extractor.
        info: AppInfo {
            viewer: Some(viewer),
            ..app::api::app_info(engine)
        },
    };
    let status = if extra.webhook_error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut response = (
        status,
        Html(app::pages::settings_document(settings, notice)),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unavailable(why: &str) -> Response {
    crate::errors::error_page_titled(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "Settings unavailable",
        why,
    )
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

pub async fn add_user(
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

pub async fn change_role(
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

pub async fn remove_user(
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

pub async fn change_password(
    State(engine): State<Engine>,
    State(public): State<crate::guard::access::PublicOrigin>,
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
            // The new password forgot every known device: this one is
            // known again.
            let proof_for = updated.clone();
            match crate::routes::sign_in::start_session(&mut auth, &SessionUser(updated)).await {
                Ok(()) => crate::session::known_device::remembered(
                    back(SettingsNotice::PasswordChanged),
                    &proof_for,
                    engine.now(),
                    public.origin.starts_with("https://"),
                ),
                Err(response) => response,
            }
        }
        Err(e) => back(notice_of(&e)),
    }
}

/// `POST /settings/api-keys`, form `name`, one checkbox per scope (named
/// by the scope, e.g. `tokens:read=on`) and optional `tags` (`tenant=acme,
/// region=eu`: the key is confined to them): the page, with the new key shown once.
pub async fn create_api_key(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let scopes: Vec<domain::ApiScope> = domain::ApiScope::ALL
        .iter()
        .copied()
        .filter(|s| form.get(s.as_str()).is_some_and(|v| v == "on"))
        .collect();
    let tags =
        match domain::Tags::parse_list(form.get("tags").map(String::as_str).unwrap_or_default()) {
            Ok(tags) => tags,
            Err(_) => return back(SettingsNotice::KeyBadTags),
        };
    match engine
        .create_confined_api_key(name, &scopes, &tags, &me.actor())
        .await
    {
        Ok(created) => {
            let shown = domain::views::NewKeyView {
                name: created.row.name.clone(),
                key: created.key,
            };
            render(
                &engine,
                &me,
                None,
                Extra {
                    new_key: Some(shown),
                    ..Extra::default()
                },
            )
            .await
        }
        Err(ApiKeyError::BadName) => back(SettingsNotice::KeyNeedsName),
        Err(ApiKeyError::NoScope) => back(SettingsNotice::KeyNeedsScope),
        Err(ApiKeyError::BadTags(_)) => back(SettingsNotice::KeyBadTags),
        Err(ApiKeyError::ConfinedMetrics) => back(SettingsNotice::KeyConfinedMetrics),
        Err(ApiKeyError::BadShare) => back(SettingsNotice::KeyBadShare),
        Err(ApiKeyError::NotFound(_)) => back(SettingsNotice::NoSuchKey),
        Err(ApiKeyError::Engine(_)) => back(SettingsNotice::Failed),
    }
}

/// `POST /settings/api-keys/{id}/revoke`: the key's next request is refused.
pub async fn revoke_api_key(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path(id): Path<i64>,
) -> Response {
    match engine.revoke_api_key(id, &me.actor()).await {
        Ok(_) => back(SettingsNotice::KeyRevoked),
        Err(ApiKeyError::NotFound(_)) => back(SettingsNotice::NoSuchKey),
        Err(_) => back(SettingsNotice::Failed),
    }
}

#[derive(Deserialize)]
pub struct JiraShareForm {
    weight: String,
    #[serde(default)]
    points_per_hour: String,
}

/// `POST /settings/api-keys/{id}/jira-share`, form `weight` (1 to 100) and
/// `points_per_hour` (empty: no budget): the key's share of Jira's quota.
pub async fn set_jira_share(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path(id): Path<i64>,
    Form(form): Form<JiraShareForm>,
) -> Response {
    let weight = form.weight.trim().parse::<u32>();
    let budget = match form.points_per_hour.trim() {
        "" => Ok(None),
        points => points.parse::<u64>().map(Some),
    };
    let (Ok(weight), Ok(budget)) = (weight, budget) else {
        return back(SettingsNotice::KeyBadShare);
    };
    match engine
        .set_api_key_jira_share(id, weight, budget, &me.actor())
        .await
    {
        Ok(_) => back(SettingsNotice::KeyShareSet),
        Err(ApiKeyError::BadShare) => back(SettingsNotice::KeyBadShare),
        Err(ApiKeyError::NotFound(_)) => back(SettingsNotice::NoSuchKey),
        Err(_) => back(SettingsNotice::Failed),
    }
}

/// An endpoint as the page shows it.
fn webhook_view(
    summary: engine::webhooks::EndpointSummary,
    label: &impl Fn(String) -> String,
) -> domain::views::WebhookEndpointView {
    use domain::time::rfc3339 as at;
    use domain::views::{WebhookAttemptView, WebhookDeliveryView, WebhookEndpointView};
    let e = summary.endpoint;
    WebhookEndpointView {
        id: e.id,
        url: e.url,
        events: summary
            .events
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        enabled: e.enabled,
        from_environment: e.from_environment,
        disabled_reason: e.disabled_reason,
        failing_since: e.failing_since.map(at),
        created_at: at(e.created_at),
        created_by: e.created_by.map(label).unwrap_or_default(),
        pending: e.pending,
        delivered: e.delivered,
        failed: e.failed,
        deliveries: summary
            .deliveries
            .into_iter()
            .map(|r| WebhookDeliveryView {
                next_attempt_at: (r.delivery.state == "pending")
                    .then(|| at(r.delivery.next_attempt_at)),
                id: r.delivery.id,
                message_id: r.delivery.message_id,
                event_type: r.delivery.event_type,
                state: r.delivery.state,
                created_at: at(r.delivery.created_at),
                attempts: r
                    .attempts
                    .into_iter()
                    .map(|a| WebhookAttemptView {
                        at: at(a.at),
                        status: a.status,
                        duration_ms: a.duration_ms,
                        error: a.error,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `POST /settings/webhooks`, form `url` and one checkbox per event type
/// (named by the type): the page with the secret shown once, or with the
/// reason the endpoint was refused (400).
pub async fn add_webhook(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let url = form.get("url").map(String::as_str).unwrap_or_default();
    let events: Vec<domain::WebhookEvent> = domain::WebhookEvent::SUBSCRIBABLE
        .iter()
        .copied()
        .filter(|e| form.get(e.as_str()).is_some_and(|v| v == "on"))
        .collect();
    let extra = match engine.add_webhook_endpoint(url, &events, &me.actor()).await {
        Ok(created) => Extra {
            new_webhook: Some(domain::views::NewWebhookView {
                url: url.trim().to_owned(),
                secret: created.secret.expose().to_owned(),
            }),
            ..Extra::default()
        },
        Err(e) => Extra {
            webhook_error: Some(e.to_string()),
            ..Extra::default()
        },
    };
    render(&engine, &me, None, extra).await
}

/// `POST /settings/webhooks/{id}/{test|enable|disable|delete|redeliver}`
/// (`redeliver`: everything the endpoint did not receive); the account log
/// names `me`.
pub async fn webhook_action(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    use engine::webhooks::WebhookError;
    let by = me.actor();
    let (result, done) = match action.as_str() {
        "test" => (
            engine.send_test_webhook(id, &by).await.map(|_| ()),
            SettingsNotice::WebhookTestQueued,
        ),
        "enable" => (
            engine.set_webhook_endpoint_enabled(id, true, &by).await,
            SettingsNotice::WebhookEnabled,
        ),
        "disable" => (
            engine.set_webhook_endpoint_enabled(id, false, &by).await,
            SettingsNotice::WebhookDisabled,
        ),
        "delete" => (
            engine.delete_webhook_endpoint(id, &by).await,
            SettingsNotice::WebhookDeleted,
        ),
        "redeliver" => (
            engine.redeliver_undelivered(id, &by).await.map(|_| ()),
            SettingsNotice::WebhookUndeliveredQueued,
        ),
        _ => return crate::errors::error_page_titled(
            axum::http::StatusCode::NOT_FOUND,
            "No such action",
            "A webhook endpoint can be tested, enabled, disabled, deleted or sent what it missed.",
        ),
    };
    back(match result {
        Ok(()) => done,
        Err(WebhookError::NotFound) => SettingsNotice::NoSuchWebhook,
        Err(WebhookError::CannotRedeliver) => SettingsNotice::WebhookCannotSend,
        Err(WebhookError::AlreadyPending) => SettingsNotice::WebhookPending,
        Err(WebhookError::FromEnvironment) => SettingsNotice::WebhookFromEnvironment,
        Err(_) => SettingsNotice::Failed,
    })
}

/// `POST /settings/webhooks/deliveries/{id}/redeliver`; the account log
/// names `me`.
pub async fn redeliver_webhook(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Path(id): Path<i64>,
) -> Response {
    back(match engine.redeliver_webhook(id, &me.actor()).await {
        Ok(()) => SettingsNotice::WebhookRedelivered,
        Err(engine::webhooks::WebhookError::CannotRedeliver) => SettingsNotice::WebhookCannotSend,
        Err(engine::webhooks::WebhookError::AlreadyPending) => SettingsNotice::WebhookPending,
        Err(_) => SettingsNotice::Failed,
    })
}

#[derive(Deserialize)]
pub struct WebhookSettingsForm {
    allow_private: Option<String>,
}

/// `POST /settings/webhooks/settings`: whether endpoints may be private
/// (the engine logs a change naming `me`).
pub async fn webhook_settings(
    State(engine): State<Engine>,
    Extension(me): Extension<User>,
    Form(form): Form<WebhookSettingsForm>,
) -> Response {
    let allow = form.allow_private.as_deref() == Some("on");
    let settings = engine::webhooks::WebhookSettings {
        allow_private_addresses: allow,
    };
    match engine.set_webhook_settings(settings, &me.actor()).await {
        Ok(()) => back(SettingsNotice::WebhookSettingsSaved),
        Err(_) => back(SettingsNotice::Failed),
    }
}
