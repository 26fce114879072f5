//! Plain HTTP routes beside the Leptos pages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use engine::Engine;

use crate::application::AppState;

/// `/`, `/healthz` and the OAuth routes. The OAuth routes are what a browser
/// visits, so their every error is the product's error page (axum's own
/// rejections included); `/healthz` answers probes in plain text.
pub fn plain_routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/start", get(crate::oauth_routes::start))
        .route("/oauth/callback", get(crate::oauth_routes::callback))
        .route_layer(axum::middleware::from_fn(
            crate::oauth_routes::plain_errors_as_pages,
        ))
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/events", get(crate::live_events::events))
}

/// `200 ok` when the database answers, `503` otherwise (for probes, not people).
/// `200 ready` when the database answers and carries every migration this
/// build knows (a load balancer sends traffic only then), `503` otherwise.
async fn readyz(State(engine): State<Engine>) -> impl IntoResponse {
    if engine.is_ready().await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database is unavailable or not migrated",
        )
    }
}

async fn healthz(State(engine): State<Engine>) -> impl IntoResponse {
    if engine.is_healthy().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}
