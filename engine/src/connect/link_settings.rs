//! [`LinkSettings`]: where connect links point and where their flows may
//! return (the engine holds them; `links.rs` uses them).

use url::Url;

/// Where links point and where their flows may return.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// `PUBLIC_URL`: links are `{public_url}/connect/{token}`.
    pub public_url: Url,
    /// `CONNECT_RETURN_ORIGINS`: the origins a `returnUrl` may be on
    /// (`scheme://host[:port]`, as `Url::origin` writes them).
    pub return_origins: Vec<String>,
}
