//! The service API's use cases: the programs that call Jira get fresh access
//! tokens from this product (the one owner of every refresh), or send their
//! calls through its proxy.
//!
//! - [`keys`]: API keys: create (shown once, stored as a SHA-256), list,
//!   revoke, and authenticate a request's key.
//! - [`handout`]: a fresh access token for a key, refreshed first when it
//!   expires too soon (joining any refresh in flight).
//! - [`usage`]: what each key did (hand-outs, proxied calls, last use and the
//!   hand-out events), written in batches off the request's path.

pub mod handout;
mod keys;
pub(crate) mod usage;

pub use handout::{AccessToken, HandoutError};
pub use keys::{ApiKey, ApiKeyError};
