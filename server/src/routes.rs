//! Plain HTTP routes beside the Leptos pages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use engine::Engine;

use crate::application::AppState;

/// `/`, `/healthz` and the OAuth routes.
pub fn plain_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/healthz", get(healthz))
        .route("/oauth/start", get(crate::oauth_routes::start))
        .route("/oauth/callback", get(crate::oauth_routes::callback))
}

/// `200 ok` when the database answers, `503` otherwise.
async fn healthz(State(engine): State<Engine>) -> impl IntoResponse {
    if engine.is_healthy().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}
