//! Every route the server answers, grouped by who may call it. Each group
//! declares its permission once, beside its routes (`route_layer` with a
//! [`Needs`]); the server functions need what `app::api::PERMISSIONS` says.
//! No other file declares a path.
//!
//! - open: the probes, the sign-in and setup pages, a connect link's pages,
//!   the files, the sandbox (its controls excepted);
//! - viewer (`Read`): the pages, `/logout`, `/events`, one's own password;
//! - operator (`Operate`): the OAuth connect flow (the callback of a flow a
//!   connect link started excepted: its visitor has no account);
//! - administrator (`Administer`): the settings forms, the sandbox's controls,
//!   and any address or method not declared here;
//! - service API: `/v1` and `/metrics` authenticate by API key, not session,
//!   each route with the scope its key must hold ([`NeedsScope`]).

use app::shell;
use axum::handler::Handler;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{any, get, post};
use axum::Router;
use domain::ApiScope::{Connect, IntegrationsRead, MetricsRead, Proxy, TokensRead};
use domain::Permission::{Administer, Operate, Read};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes};

use crate::errors::plain_errors_as_pages;
use crate::guard::access::{self, Needs};
use crate::routes::v1::caller::NeedsScope;
use crate::routes::{connect_links, events, metrics, oauth, probes, settings, sign_in, v1};
use crate::state::AppState;

/// The whole router: every group below, the Leptos pages and server
/// functions, the built-in sandbox (in sandbox mode) and the files.
pub fn router(state: AppState, sandbox: Option<Router>) -> Router {
    let public = state.public.clone();
    let mut router = Router::new()
        .merge(open())
        .merge(viewer(&public))
        .merge(operator(&public))
        .merge(administrator(&public))
        .merge(service_api(&state))
        .merge(pages_and_server_functions(&state))
        // Files, or the app's own 404 page (rendered with the same context,
        // so its inline scripts carry a nonce its policy names): the files
        // are open, the 404 page is a page.
        .fallback(
            leptos_axum::file_and_error_handler_with_context::<AppState, _>(
                page_context(&state),
                shell,
            )
            .layer(from_fn_with_state(
                Needs::files_and_not_found(&public),
                access::guard,
            )),
        )
        .with_state(state);
    if let Some(sandbox) = sandbox {
        // The emulator lives in this process, under /sandbox, on the same
        // clock, behind the same layers as everything else; its controls are
        // an administrator's.
        router = router.merge(Router::new().nest_service("/sandbox", sandbox).route_layer(
            from_fn_with_state(Needs::sandbox_controls(&public), access::guard),
        ));
    }
    router
}

/// Anyone: the probes and the sign-in and setup pages.
fn open() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/login", get(sign_in::sign_in_page).post(sign_in::sign_in))
        .route("/setup", get(sign_in::setup_page).post(sign_in::set_up))
        .route(
            "/connect/{token}",
            get(connect_links::page)
                .post(connect_links::start)
                .route_layer(from_fn(plain_errors_as_pages)),
        )
}

/// A signed-in viewer (every role): the front door, signing out, the live
/// events, one's own password, and the settings page (its forms below are
/// an administrator's).
fn viewer(public: &crate::guard::access::PublicOrigin) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/settings", get(settings::settings_page))
        .route_layer(from_fn_with_state(Needs::page(public), access::guard));
    Router::new()
        .route("/logout", post(sign_in::sign_out))
        .route("/events", get(events::events))
        .route("/settings/password", post(settings::change_password))
        .route_layer(from_fn_with_state(Needs::to(public, Read), access::guard))
        .merge(pages)
}

/// An operator: connecting and re-authenticating integrations. A browser
/// visits these, so their every error is the product's error page (axum's
/// own rejections included).
fn operator(public: &crate::guard::access::PublicOrigin) -> Router<AppState> {
    let callback = Router::new()
        .route("/oauth/callback", get(oauth::callback))
        .route_layer(from_fn(plain_errors_as_pages))
        .route_layer(from_fn_with_state(
            Needs::oauth_callback(public),
            access::guard,
        ));
    Router::new()
        .route("/oauth/start", get(oauth::start))
        .route_layer(from_fn(plain_errors_as_pages))
        .route_layer(from_fn_with_state(
            Needs::to(public, Operate),
            access::guard,
        ))
        .merge(callback)
}

/// An administrator: the settings forms (users, API keys, webhooks).
fn administrator(public: &crate::guard::access::PublicOrigin) -> Router<AppState> {
    Router::new()
        .route("/settings/users", post(settings::add_user))
        .route("/settings/users/{id}/role", post(settings::change_role))
        .route("/settings/users/{id}/remove", post(settings::remove_user))
        .route("/settings/api-keys", post(settings::create_api_key))
        .route(
            "/settings/api-keys/{id}/revoke",
            post(settings::revoke_api_key),
        )
        .route(
            "/settings/api-keys/{id}/jira-share",
            post(settings::set_jira_share),
        )
        .route("/settings/webhooks", post(settings::add_webhook))
        .route(
            "/settings/webhooks/settings",
            post(settings::webhook_settings),
        )
        .route(
            "/settings/webhooks/{id}/{action}",
            post(settings::webhook_action),
        )
        .route(
            "/settings/webhooks/deliveries/{id}/redeliver",
            post(settings::redeliver_webhook),
        )
        .route_layer(from_fn_with_state(
            Needs::to(public, Administer),
            access::guard,
        ))
}

/// The programs: an API key, not a session, holding the scope each route
/// names (`routes::v1::caller`): its views, fresh access tokens, the proxy,
/// `/metrics`. The scope guards each method router, so a method a path does
/// not serve is `405` before any key is looked up. The OpenAPI document and
/// unknown `/v1` paths are open.
fn service_api(state: &AppState) -> Router<AppState> {
    let scope = |scope| {
        from_fn_with_state(
            NeedsScope {
                engine: state.engine.clone(),
                scope,
            },
            v1::caller::require,
        )
    };
    Router::new()
        .route(
            "/v1/integrations",
            get(v1::integrations::list).route_layer(scope(IntegrationsRead)),
        )
        .route(
            "/v1/integrations/{id}",
            get(v1::integrations::one).route_layer(scope(IntegrationsRead)),
        )
        .route(
            "/v1/integrations/{id}/access-token",
            post(v1::access_token::hand_out).route_layer(scope(TokensRead)),
        )
        .route(
            "/v1/integrations/{id}/proxy/{*path}",
            // `any` serves every method (no 405 to keep): `layer`, not `route_layer`.
            any(v1::proxy::forward).layer(scope(Proxy)),
        )
        .route(
            "/v1/connect-sessions",
            post(v1::connect_sessions::create).route_layer(scope(Connect)),
        )
        .route(
            "/v1/rate-limits",
            get(v1::rate_limits::show).route_layer(scope(MetricsRead)),
        )
        .route(
            "/metrics",
            get(metrics::scrape).route_layer(scope(MetricsRead)),
        )
        .route("/v1/openapi.json", get(v1::openapi::document))
        .route("/v1/{*rest}", any(v1::unknown))
}

/// The pages Leptos renders, each whole before it is sent (the app has no
/// client-side router: see `app::address`), and the server functions Leptos
/// registers beside them: a page is a viewer's, a server function needs what
/// `app::api::PERMISSIONS` says.
fn pages_and_server_functions(state: &AppState) -> Router<AppState> {
    let options = state.leptos_options.clone();
    Router::new()
        .leptos_routes_with_context(state, page_routes(), page_context(state), move || {
            shell(options.clone())
        })
        .route_layer(from_fn_with_state(
            Needs::server_functions_and_pages(&state.public),
            access::guard,
        ))
}

/// What a page's render (and a server function) finds in its context.
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let engine = state.engine.clone();
    move || {
        provide_context(engine.clone());
        page_policy_with_nonce();
    }
}

fn page_routes() -> Vec<AxumRouteListing> {
    ["/dashboard", "/integrations/{id}"]
        .into_iter()
        .map(|path| {
            AxumRouteListing::new(
                path.to_owned(),
                leptos_router::SsrMode::Async,
                [leptos_router::Method::Get],
                Vec::new(),
            )
        })
        .collect()
}

/// A page Leptos renders carries inline scripts with the render's nonce: its
/// Content-Security-Policy names that nonce. (Server-function calls have none.)
fn page_policy_with_nonce() {
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) =
            axum::http::HeaderValue::from_str(&crate::guard::security_headers::page_policy(&nonce))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use leptos::server_fn::axum::server_fn_paths;

    /// Every server function Leptos registers has its permission in
    /// `app::api::PERMISSIONS` (one missing would be an administrator's alone,
    /// silently), and the table names no function that is not registered.
    #[test]
    fn every_server_function_has_its_permission() {
        let registered: Vec<&str> = server_fn_paths().map(|(path, _)| path).collect();
        assert!(
            registered.len() >= app::api::PERMISSIONS.len(),
            "registered: {registered:?}"
        );
        for path in &registered {
            assert!(
                app::api::permission_of(path).is_some(),
                "the server function {path} has no entry in app::api::PERMISSIONS"
            );
        }
        for (path, _) in app::api::PERMISSIONS {
            assert!(
                registered.contains(path),
                "app::api::PERMISSIONS names {path}, which no server function serves"
            );
            assert!(path.starts_with("/api/"), "{path}");
        }
    }
}
