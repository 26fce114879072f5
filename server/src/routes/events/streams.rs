//! How many live-update streams (`GET /events`) may be open at once: each
//! holds a task, a broadcast receiver and a connection for as long as the
//! browser keeps it, so one session could otherwise open thousands. A
//! [`StreamPermit`] is taken when a stream opens and given back when it ends
//! (the browser went away or the server stops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Streams one user may hold open at once by default (`LIVE_STREAMS_PER_USER`):
/// a dashboard per open tab, with room for many tabs and a few browsers.
pub const STREAMS_PER_USER: usize = 16;
/// Streams one server process holds open at once by default
/// (`LIVE_STREAMS_MAX`), all users together: about 50 KB each.
pub const STREAMS_PER_PROCESS: usize = 2_000;

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This user holds [`LiveStreams::per_user`] streams already.
    UserFull,
    /// This process holds [`LiveStreams::per_process`] streams already.
    ProcessFull,
}

impl Refused {
    /// A sentence for the one refused.
    pub fn message(self) -> &'static str {
        match self {
            Refused::UserFull => {
                "Too many live pages are open for this account: close some tabs, then reload."
            }
            Refused::ProcessFull => {
                "This server holds as many live pages as it can: reload in a moment."
            }
        }
    }
}

/// The count of open streams, per user and in all.
#[derive(Clone)]
pub struct LiveStreams {
    per_user: usize,
    per_process: usize,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_user: HashMap<i64, usize>,
}

impl Default for LiveStreams {
    fn default() -> Self {
        Self::new(STREAMS_PER_USER, STREAMS_PER_PROCESS)
    }
}

impl LiveStreams {
    pub fn new(per_user: usize, per_process: usize) -> Self {
        Self {
            per_user,
            per_process,
            open: Arc::default(),
        }
    }

    /// A permit for one more stream of `user`, or why not.
    pub fn open(&self, user: i64) -> Result<StreamPermit, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.per_process {
            return Err(Refused::ProcessFull);
        }
        let mine = open.by_user.entry(user).or_default();
        if *mine >= self.per_user {
            return Err(Refused::UserFull);
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamPermit {
            user,
            open: self.open.clone(),
        })
    }

    /// Streams open now.
    pub fn total(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// One open stream; dropping it frees its place.
pub struct StreamPermit {
    user: i64,
    open: Arc<Mutex<Open>>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_user.get_mut(&self.user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_and_the_process_have_a_ceiling_and_closing_frees_a_place() {
        let streams = LiveStreams::new(2, 3);
        let a1 = streams.open(1).expect("first");
        let _a2 = streams.open(1).expect("second");
        assert_eq!(streams.open(1).err(), Some(Refused::UserFull));
        let _b1 = streams.open(2).expect("another user");
        assert_eq!(streams.open(3).err(), Some(Refused::ProcessFull));
        drop(a1);
        assert_eq!(streams.total(), 2);
        let _a3 = streams.open(1).expect("a place was freed");
        assert_eq!(streams.open(1).err(), Some(Refused::ProcessFull));
    }
}
