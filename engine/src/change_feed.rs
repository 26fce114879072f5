//! Live updates between processes that share a database. A process tells
//! its own open dashboards about a change at once ([`crate::changes`]) and
//! appends it to the database's feed (`integration_changes`), a batch every
//! [`WRITE_EVERY`]; every process follows the feed every [`FOLLOW_EVERY`]
//! and tells its dashboards about the changes the others made, each re-read
//! from the database.
//!
//! Nothing is lost silently: when a process cannot append what it published
//! (its queue overflowed, or the append failed), its next append carries a
//! re-read marker (integration id 0) in their place; a follower that falls
//! more than [`KEEP`] entries behind, finds the feed behind it (a restored
//! database) or cannot re-read an integration tells its dashboards to
//! re-read what they show.
//!
//! The order of entries relies on one writer at a time: SQLite's write lock,
//! or on PostgreSQL a lock every append takes on the feed's table. An
//! entry's number is assigned under that lock, so once the newest number is
//! visible, every smaller one is committed. On PostgreSQL an append also
//! notifies (`LISTEN`/`NOTIFY`), so followers look at once instead of at
//! their next tick.
//!
//! Each tick also takes on the provider's pause that another process was
//! asked for ([`Engine::learn_fleet_pause`]).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use domain::IntegrationId;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::changes::Change;
use crate::db::{Backend, CHANGES_CHANNEL};
use crate::Engine;

/// How often a process appends the changes it published.
pub(crate) const WRITE_EVERY: Duration = Duration::from_millis(100);
/// How often a process looks for the changes of the others.
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// The feed keeps this many newest entries.
pub(crate) const KEEP: i64 = 10_000;
/// A follower reads at most this many entries per look.
const READ_LIMIT: i64 = 1_000;
/// The entry that tells followers to re-read everything.
pub(crate) const REREAD_MARKER: IntegrationId = IntegrationId(0);

/// The changes published here and not yet appended to the feed.
#[derive(Default)]
pub(crate) struct Unwritten(Mutex<Queue>);

#[derive(Default)]
struct Queue {
    /// Each integration once, in the order first published.
    ids: Vec<IntegrationId>,
    queued: HashSet<IntegrationId>,
    /// Changes were dropped: the next append tells followers to re-read.
    dropped: bool,
}

impl Engine {
    /// Queues integration `id`'s change for the feed.
    pub(crate) fn queue_for_feed(&self, id: IntegrationId) {
        let mut queue = self.unwritten().0.lock().unwrap_or_else(|p| p.into_inner());
        if queue.queued.contains(&id) {
            return;
        }
        if queue.ids.len() >= KEEP as usize {
            queue.dropped = true;
            return;
        }
        queue.queued.insert(id);
        queue.ids.push(id);
    }

    /// Appends what this process published since the last time (each
    /// integration once: a follower re-reads it as it stands). Also called
    /// once more at shutdown, after the last refreshes stored their answers.
    pub async fn flush_feed(&self) {
        let (mut ids, dropped) = {
            let mut queue = self.unwritten().0.lock().unwrap_or_else(|p| p.into_inner());
            let queue = std::mem::take(&mut *queue);
            (queue.ids, queue.dropped)
        };
        if dropped {
            ids.push(REREAD_MARKER);
        }
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self
            .db()
            .append_changes(self.refreshing().owner(), &ids, KEEP)
            .await
        {
            tracing::error!(error = %e, changes = ids.len(), "could not append changes to the feed; the next append tells other processes to re-read");
            self.unwritten()
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .dropped = true;
        }
    }

    /// Tells this process's dashboards about the changes the others
    /// appended after `cursor`; answers the new cursor.
    async fn follow_feed(&self, cursor: i64) -> i64 {
        let read = match self
            .db()
            .changes_after(cursor, self.refreshing().owner(), READ_LIMIT)
            .await
        {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, "could not read the change feed");
                return cursor;
            }
        };
        let listening = self.changes().has_subscribers();
        if read.lost || read.newest < cursor {
            // Fell behind (or the feed is not the one this process knew):
            // what was missed cannot be told one by one. Start again from
            // the newest entry.
            if listening {
                tracing::warn!("this process fell behind the change feed: its dashboards re-read");
                self.changes().send(Change::Resync);
            }
            return read.newest;
        }
        if listening {
            let mut told = HashSet::new();
            for entry in &read.entries {
                if !told.insert(entry.integration_id) {
                    continue;
                }
                if entry.integration_id == REREAD_MARKER
                    || !self.publish_here(entry.integration_id).await
                {
                    self.changes().send(Change::Resync);
                }
            }
        }
        match read.entries.last() {
            // More to read: go on from the last one read.
            Some(last) if read.entries.len() as i64 == READ_LIMIT => last.seq,
            _ => read.newest,
        }
    }
}

/// Resolves once `stopping` is true (its guard dropped at once, so the
/// task stays `Send`).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// On PostgreSQL, a connection listening for the feed's notifications;
/// `None` on SQLite, or if listening failed (the follower's tick still
/// reads the feed).
async fn listen(engine: &Engine) -> Option<PgListener> {
    let Backend::Postgres(pool) = engine.db().backend() else {
        return None;
    };
    let listening = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for the change feed's notifications; following it every {FOLLOW_EVERY:?}");
            None
        }
    }
}

/// Resolves at the next notification (never without a listener). A lost
/// connection is re-opened by the next call; the tick covers the gap.
async fn notified(listener: &mut Option<PgListener>) {
    match listener {
        Some(listener) => {
            if let Err(e) = listener.recv().await {
                tracing::warn!(error = %e, "the change feed's listener lost its connection");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Appends this process's changes to the feed and follows the others',
/// until `stopping` turns true (between two looks, never in the middle of
/// an append); the caller then flushes what is left ([`Engine::flush_feed`]).
pub fn spawn(engine: Engine, mut stopping: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Only what is appended from now on: a dashboard that opens reads
        // the current state anyway.
        let mut cursor = loop {
            match engine.db().newest_change().await {
                Ok(newest) => break newest,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the change feed");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stopped(&mut stopping) => return,
                    }
                }
            }
        };
        let mut listener = listen(&engine).await;
        let mut write = tokio::time::interval(WRITE_EVERY);
        let mut follow = tokio::time::interval(FOLLOW_EVERY);
        for timer in [&mut write, &mut follow] {
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = write.tick() => engine.flush_feed().await,
                _ = follow.tick() => {
                    cursor = engine.follow_feed(cursor).await;
                    if let Err(e) = engine.learn_fleet_pause().await {
                        // The scheduler's tick says so; not every 250 ms.
                        tracing::debug!(error = %e, "could not read the provider's pause");
                    }
                }
                _ = notified(&mut listener) => cursor = engine.follow_feed(cursor).await,
                _ = stopped(&mut stopping) => return,
            }
        }
    })
}
