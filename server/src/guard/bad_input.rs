//! Server functions answer every error with `500`; a request whose form body
//! cannot be read as the function's arguments is the caller's mistake, so this
//! middleware turns those answers into `400` (the body, which names the bad
//! argument in server_fn's `Args|...` encoding, is kept for the browser to decode).

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Server-function error bodies are short; anything longer is not one.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn bad_arguments_are_400(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not answer.",
        )
            .into_response();
    };
    if [&b"Args|"[..], b"MissingArg|", b"Deserialization|"]
        .iter()
        .any(|prefix| bytes.starts_with(prefix))
    {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}
