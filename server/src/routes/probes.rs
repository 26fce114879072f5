//! The probes: `/healthz` and `/readyz`, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use engine::Engine;

/// `200 ok` when the database answers, `503` otherwise (for probes, not people).
/// `200 ready` when the database answers and carries every migration this
/// build knows (a load balancer sends traffic only then), `503` otherwise.
pub async fn readyz(State(engine): State<Engine>) -> impl IntoResponse {
    if engine.is_ready().await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database is unavailable or not migrated",
        )
    }
}

pub async fn healthz(State(engine): State<Engine>) -> impl IntoResponse {
    if engine.is_healthy().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}
