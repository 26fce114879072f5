//! A webhook receiver for the tests: a real axum server on port 0 that
//! records every request and answers from a script (200 when it runs out),
//! or never answers at all (to kill a sender mid-attempt).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub json: serde_json::Value,
}

impl Received {
    pub fn event_type(&self) -> String {
        self.json["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    answers: VecDeque<u16>,
    /// When set, every answer (after the script) is this status.
    failing: Option<u16>,
    hang: bool,
}

#[derive(Clone)]
pub struct Receiver {
    state: Arc<Mutex<Script>>,
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
    }

    /// On a listener bound by the caller (to keep one port across restarts).
    pub async fn start_on(listener: tokio::net::TcpListener) -> Self {
        let state = Arc::new(Mutex::new(Script::default()));
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state, url }
    }

    /// The next answers, in order (then 200 again).
    pub fn answer_next(&self, codes: &[u16]) {
        self.state.lock().expect("lock").answers.extend(codes);
    }

    /// Answer `status` to everything from now on (`fail_with(200)` heals).
    pub fn fail_with(&self, status: u16) {
        self.state.lock().expect("lock").failing = Some(status);
    }

    /// Never answer (true) or answer again (false).
    pub fn hang(&self, hang: bool) {
        self.state.lock().expect("lock").hang = hang;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("lock").received.clone()
    }

    /// The event types received, in order.
    pub fn types(&self) -> Vec<String> {
        self.received().iter().map(Received::event_type).collect()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.state.lock().expect("lock").received.clear();
    }

    /// Waits (real time) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn hook(
    State(state): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let (hang, answer) = {
        let mut script = state.lock().expect("lock");
        script.received.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            json: serde_json::from_str(&text).unwrap_or_default(),
            body: text,
        });
        let fallback = script.failing.unwrap_or(200);
        (script.hang, script.answers.pop_front().unwrap_or(fallback))
    };
    if hang {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(answer).unwrap_or(StatusCode::OK)
}

/// The Standard Webhooks signature of a message, computed here by hand
/// (HMAC-SHA256 under the base64-decoded key after `whsec_`), independently
/// of the crate the server signs with.
pub fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}
