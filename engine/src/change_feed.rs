//! Live updates between processes that share a database. A process tells
//! its own open dashboards about a change at once ([`crate::changes`]) and
//! appends it to the database's feed (`integration_changes`), a batch every
//! [`WRITE_EVERY`]; every process follows the feed every [`FOLLOW_EVERY`]
//! and tells its dashboards about the changes the others made, each re-read
//! from the database. A follower that falls more than [`KEEP`] entries
//! behind tells its dashboards to re-read what they show.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use domain::IntegrationId;

use crate::changes::Change;
use crate::Engine;

/// How often a process appends the changes it published.
pub const WRITE_EVERY: Duration = Duration::from_millis(100);
/// How often a process looks for the changes of the others.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// The feed keeps this many newest entries.
pub const KEEP: i64 = 10_000;
/// A follower reads at most this many entries per look.
const READ_LIMIT: i64 = 1_000;

/// The changes published here and not yet appended to the feed.
#[derive(Default)]
pub struct Unwritten(Mutex<Vec<IntegrationId>>);

impl Engine {
    /// Queues integration `id`'s change for the feed.
    pub(crate) fn queue_for_feed(&self, id: IntegrationId) {
        let mut unwritten = self.unwritten.0.lock().unwrap_or_else(|p| p.into_inner());
        // Past this the feed's readers re-read everything anyway.
        if unwritten.len() < KEEP as usize {
            unwritten.push(id);
        }
    }

    /// Appends what this process published since the last time (each
    /// integration once: a follower re-reads it as it stands).
    async fn write_feed(&self) {
        let queued =
            std::mem::take(&mut *self.unwritten.0.lock().unwrap_or_else(|p| p.into_inner()));
        if queued.is_empty() {
            return;
        }
        let mut seen = HashSet::new();
        let ids: Vec<IntegrationId> = queued.into_iter().filter(|id| seen.insert(*id)).collect();
        if let Err(e) = self.db.append_changes(&self.owner, &ids, KEEP).await {
            tracing::error!(error = %e, changes = ids.len(), "could not append changes to the feed; other processes' dashboards will re-read when they reconnect");
        }
    }

    /// Tells this process's dashboards about the changes the others
    /// appended after `cursor`; answers the new cursor.
    async fn follow_feed(&self, cursor: i64) -> i64 {
        let read = match self.db.changes_after(cursor, &self.owner, READ_LIMIT).await {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, "could not read the change feed");
                return cursor;
            }
        };
        let listening = self.changes.has_subscribers();
        if listening && read.lost {
            tracing::warn!("the change feed moved on without this process: its dashboards re-read");
            self.changes.send(Change::Resync);
        }
        if listening {
            for entry in &read.entries {
                self.publish_here(entry.integration_id).await;
            }
        }
        match read.entries.last() {
            // More to read: go on from the last one read.
            Some(last) if read.entries.len() as i64 == READ_LIMIT => last.seq,
            _ => read.newest,
        }
    }
}

/// Appends this process's changes to the feed and follows the others',
/// until aborted.
pub fn spawn(engine: Engine) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Only what is appended from now on: a dashboard that opens reads
        // the current state anyway.
        let mut cursor = loop {
            match engine.db.newest_change().await {
                Ok(newest) => break newest,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the change feed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut write = tokio::time::interval(WRITE_EVERY);
        let mut follow = tokio::time::interval(FOLLOW_EVERY);
        for timer in [&mut write, &mut follow] {
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = write.tick() => engine.write_feed().await,
                _ = follow.tick() => cursor = engine.follow_feed(cursor).await,
            }
        }
    })
}
