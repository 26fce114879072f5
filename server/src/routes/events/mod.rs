//! `GET /events`: the server-sent event stream of a signed-in browser. It
//! carries every change the engine publishes, in the order committed:
//!
//! - `event: ready`: the stream is open (a page that reconnects re-reads
//!   what it shows, to catch up on what it missed); it sets the browser's
//!   reconnection delay to [`RECONNECT_AFTER`];
//! - `event: integration`, data: the integration's view (JSON, never a token);
//! - `event: removed`, data: `{"id": N}` (disconnected);
//! - `event: resync`: this stream fell behind and skipped changes (or this
//!   process fell behind the feed of changes made by others): re-read.
//!
//! A comment line (`: heartbeat`) every `LIVE_HEARTBEAT_SECS` keeps proxies
//! from closing an idle stream. The stream ends when the server stops.
//!
//! Each user holds at most [`streams::STREAMS_PER_USER`] streams
//! and a process [`streams::STREAMS_PER_PROCESS`]; one more gets
//! `429` JSON `{"error":"too_many_streams","message"}` with `Retry-After`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::accounts::User;
use engine::changes::Change;
use engine::Engine;

pub mod streams;

use futures_util::stream::{self, Stream};
use streams::{LiveStreams, StreamPermit};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

/// How long a browser waits before it reconnects a dropped stream.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What the stream needs besides the engine.
#[derive(Clone)]
pub struct LiveSettings {
    /// Becomes `true` when the server is stopping: every stream ends.
    pub stopping: watch::Receiver<bool>,
    pub heartbeat: Duration,
    /// The open streams, counted against their ceilings.
    pub streams: LiveStreams,
}

/// The handler.
pub async fn events(
    State(engine): State<Engine>,
    State(live): State<LiveSettings>,
    Extension(user): Extension<User>,
) -> Response {
    match live.streams.open(user.id) {
        Ok(permit) => stream(engine, live, permit).into_response(),
        Err(refused) => {
            tracing::warn!(user = user.id, ?refused, "a live stream was refused");
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(serde_json::json!({
                    "error": "too_many_streams",
                    "message": refused.message(),
                })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            response
        }
    }
}

/// The stream itself; `permit` is held until it ends.
fn stream(
    engine: Engine,
    live: LiveSettings,
    permit: StreamPermit,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = engine.subscribe();
    let first = Event::default()
        .event("ready")
        .retry(RECONNECT_AFTER)
        .data("{}");
    let state = (engine, changes, live.stopping, Some(first), permit);
    let stream = stream::unfold(
        state,
        |(engine, mut changes, mut stopping, first, permit)| async move {
            if let Some(first) = first {
                return Some((Ok(first), (engine, changes, stopping, None, permit)));
            }
            let event = next_event(&engine, &mut changes, &mut stopping).await?;
            Some((Ok(event), (engine, changes, stopping, None, permit)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(live.heartbeat).text("heartbeat"))
}

/// The next event to send, or `None` when the stream must end.
async fn next_event(
    engine: &Engine,
    changes: &mut broadcast::Receiver<Change>,
    stopping: &mut watch::Receiver<bool>,
) -> Option<Event> {
    if *stopping.borrow() {
        return None;
    }
    let received = tokio::select! {
        received = changes.recv() => received,
        _ = stopping.wait_for(|stop| *stop) => return None,
    };
    match received {
        Ok(Change::Updated(integration)) => {
            let view = engine.integration_view((*integration).clone());
            let event = Event::default().event("integration").json_data(view);
            Some(event.unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not serialise an integration view");
                Event::default().event("resync").data("{}")
            }))
        }
        Ok(Change::Removed(id)) => Some(
            Event::default()
                .event("removed")
                .data(format!("{{\"id\":{}}}", id.get())),
        ),
        Ok(Change::Resync) => Some(Event::default().event("resync").data("{}")),
        Err(RecvError::Lagged(skipped)) => {
            tracing::warn!(skipped, "a live stream fell behind; it is told to re-read");
            Some(Event::default().event("resync").data("{}"))
        }
        Err(RecvError::Closed) => None,
    }
}
