//! Argon2id hashing and checking (`password-auth`), on blocking threads, and
//! never more than [`PERMITS`] at once: each costs about 19 MiB and tens of
//! milliseconds by design, so a flood of sign-ins or setups must queue (and,
//! past [`WAIT`], be told the server is busy) rather than exhaust memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Hashes or checks at once, across the process.
pub(crate) const PERMITS: usize = 4;
/// How long a request waits for its turn before it is told to come back.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Every permit was taken for longer than [`WAIT`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("The server is busy checking passwords; try again in a moment.")]
pub struct Busy;

fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(PERMITS))
}

static STARTED: AtomicU64 = AtomicU64::new(0);

/// How many hashes or checks this process has started (tests count them).
pub fn started() -> u64 {
    STARTED.load(Ordering::Relaxed)
}

/// Runs `work` (CPU-heavy) on a blocking thread once a permit is free.
async fn gated<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    STARTED.fetch_add(1, Ordering::Relaxed);
    let permit = tokio::time::timeout(WAIT, gate().acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    let answer = tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "a password hashing task failed");
        Busy
    });
    drop(permit);
    answer
}

/// The Argon2id PHC string of `password`.
pub(crate) async fn hash(password: &str) -> Result<String, Busy> {
    let password = password.to_owned();
    gated(move || password_auth::generate_hash(password)).await
}

/// Whether `password` matches `hash`; with no hash (an unknown email), it is
/// checked against a decoy so both answers take as long.
pub(crate) async fn verify(password: &str, hash: Option<String>) -> Result<bool, Busy> {
    let password = password.to_owned();
    gated(move || {
        let hash = hash.unwrap_or_else(|| decoy().to_owned());
        password_auth::verify_password(password, &hash).is_ok()
    })
    .await
}

/// A hash of a random password, made once (see [`warm_up`]).
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password_auth::generate_hash(super::random_token()))
}

/// Makes the decoy hash now, so the first unknown email is not slower than
/// the rest.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(decoy).await;
}
