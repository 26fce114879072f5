//! The client address the sign-in throttle counts: the TCP peer's, or, when
//! the peer is one of `TRUSTED_PROXIES`, the nearest address in
//! `X-Forwarded-For` that is not a trusted proxy (the rightmost hops are
//! the ones our own proxies wrote; anything left of them is the client's to
//! forge).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpAddr>>);

impl TrustedProxies {
    /// The client's address for `request` (or "unknown" without a peer).
    pub fn client_of(&self, request: &Request) -> String {
        let Some(peer) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
        else {
            return "unknown".to_owned();
        };
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.client(peer, &forwarded.join(",")).to_string()
    }

    /// The pure rule: walk `X-Forwarded-For` from the right while the hop is trusted.
    pub fn client(&self, peer: IpAddr, forwarded_for: &str) -> IpAddr {
        let trusted = |ip: &IpAddr| self.0.contains(ip);
        if !trusted(&peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for
            .rsplit(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            match hop.parse::<IpAddr>() {
                Ok(ip) if trusted(&ip) => client = ip,
                Ok(ip) => return ip,
                // An unreadable hop: nothing left of it can be believed.
                Err(_) => return client,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn only_trusted_proxies_are_looked_through() {
        let proxies = TrustedProxies(Arc::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]));
        // No proxy in front: the peer, whatever the header claims.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), "198.51.100.1"),
            ip("203.0.113.9")
        );
        // One proxy: the address it saw.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), "198.51.100.1"),
            ip("198.51.100.1")
        );
        // A client that forges a hop on the left does not choose its address.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), "1.2.3.4, 198.51.100.1"),
            ip("198.51.100.1")
        );
        // Two proxies in a row.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), "198.51.100.1, 10.0.0.2"),
            ip("198.51.100.1")
        );
        // A proxy that forwarded nothing: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), ""), ip("10.0.0.1"));
        assert_eq!(
            proxies.client(ip("10.0.0.1"), "garbage, 10.0.0.2"),
            ip("10.0.0.2")
        );
    }
}
