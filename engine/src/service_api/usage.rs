//! What each key did: token hand-outs, proxied calls, and when it was last
//! used. A hand-out is an event naming the key the first time the key gets a
//! given access token (a program that asks before every Jira call would
//! otherwise push everything else off the integration's log); every hand-out
//! is counted on the key. A request only queues its usage; one task
//! writes whatever has queued in a single transaction, so a thousand hand-outs
//! a second cost a few commits, not a thousand, and no request waits for one.
//! The price: usage queued in the last moments before a crash is lost (never a
//! token, never a refresh: only these counters and log lines). A stopping
//! server flushes first ([`Engine::flush_usage`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use domain::{IntegrationId, UnixTime};

use super::ApiKey;
use crate::db::KeyUsage;
use crate::Engine;

/// How many queued entries one transaction takes at most.
const BATCH: usize = 1_000;
/// How many entries may wait before requests wait for the writer.
const QUEUE: usize = 10_000;
/// How many (key, integration) pairs the writer remembers the last token of.
const LOGGED_TOKENS: usize = 100_000;

enum Entry {
    Handout {
        key: ApiKey,
        integration: IntegrationId,
        /// Tells tokens apart in memory (never stored, never logged).
        token: u64,
        at: UnixTime,
    },
    Proxied {
        key_id: i64,
        at: UnixTime,
    },
    Flush(oneshot::Sender<()>),
}

/// The queue to the writer task, started on first use.
#[derive(Default)]
pub(crate) struct UsageLog(OnceLock<mpsc::Sender<Entry>>);

impl Engine {
    /// Counts a hand-out of integration `integration`'s token to `key`, and
    /// logs it (the event names the key, never the token).
    pub(crate) async fn record_handout(
        &self,
        key: &ApiKey,
        integration: IntegrationId,
        token: &super::AccessToken,
    ) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        token.token.expose().hash(&mut hasher);
        metrics::counter!("jira_dashboard_token_handouts_total").increment(1);
        let at = self.now();
        self.queue_usage(Entry::Handout {
            key: key.clone(),
            integration,
            token: hasher.finish(),
            at,
        })
        .await;
    }

    /// Counts one Jira call proxied for `key`.
    pub async fn record_proxied_call(&self, key: &ApiKey) {
        metrics::counter!("jira_dashboard_proxied_calls_total").increment(1);
        let at = self.now();
        self.queue_usage(Entry::Proxied { key_id: key.id, at })
            .await;
    }

    /// Waits until everything queued so far is written.
    pub async fn flush_usage(&self) {
        let (done, written) = oneshot::channel();
        self.queue_usage(Entry::Flush(done)).await;
        // The writer answers once the batch holding the flush is written.
        let _ = written.await;
    }

    async fn queue_usage(&self, entry: Entry) {
        let sender = self.usage().0.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_usage(self.clone(), receiver));
            sender
        });
        if sender.send(entry).await.is_err() {
            tracing::warn!("the usage writer has stopped: a key's usage was not recorded");
        }
    }
}

/// The writer: takes what has queued (up to [`BATCH`]) and writes it at once.
async fn write_usage(engine: Engine, mut queue: mpsc::Receiver<Entry>) {
    let mut entries = Vec::with_capacity(BATCH);
    // The token each key last got for each integration (to log it once).
    let mut logged: HashMap<(i64, IntegrationId), u64> = HashMap::new();
    while queue.recv_many(&mut entries, BATCH).await > 0 {
        let mut by_key: HashMap<i64, KeyUsage> = HashMap::new();
        let mut flushes = Vec::new();
        for entry in entries.drain(..) {
            match entry {
                Entry::Handout {
                    key,
                    integration,
                    token,
                    at,
                } => {
                    let used = by_key.entry(key.id).or_default();
                    used.token_handouts += 1;
                    used.last_used_at = used.last_used_at.max(at);
                    if logged.len() >= LOGGED_TOKENS {
                        // Bounded memory; at worst a token is logged twice.
                        logged.clear();
                    }
                    if logged.insert((key.id, integration), token) == Some(token) {
                        continue;
                    }
                    used.events.push((
                        integration,
                        format!("Access token handed out to API key \"{}\"", key.name),
                        key.actor().stored(),
                    ));
                }
                Entry::Proxied { key_id, at } => {
                    let used = by_key.entry(key_id).or_default();
                    used.proxied_calls += 1;
                    used.last_used_at = used.last_used_at.max(at);
                }
                Entry::Flush(done) => flushes.push(done),
            }
        }
        if !by_key.is_empty() {
            let batch: Vec<(i64, KeyUsage)> = by_key.into_iter().collect();
            if let Err(e) = engine.db().record_key_usage(&batch).await {
                tracing::error!(error = %e, keys = batch.len(), "could not record the API keys' usage");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
