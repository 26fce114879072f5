//! An integration's status from its timestamps: the rule lives in the shared
//! `domain` crate, so the server render, the browser's ticking clock and the
//! engine's status filter agree.

pub use domain::{status_at, StatusInputs, StatusRule};
