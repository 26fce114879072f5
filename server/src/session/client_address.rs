//! The client address the sign-in throttle counts: the TCP peer's, or, when
//! the peer is one of `TRUSTED_PROXIES`, the nearest address in
//! `X-Forwarded-For` that is not a trusted proxy (the rightmost hops are
//! the ones our own proxies wrote; anything left of them is the client's to
//! forge). The throttle counts networks, not addresses: an IPv4 address
//! as it is, an IPv6 address by its /64 (one subscriber's network, where
//! every address is theirs to use).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpAddr>>);

impl TrustedProxies {
    /// The client's network for `request`, as the throttle counts it (see
    /// [`throttled_network`]), or "unknown" without a peer.
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
        throttled_network(self.client(peer, &forwarded.join(",")))
    }

    /// The pure rule: walk `X-Forwarded-For` from the right while the hop is
    /// trusted. Addresses compare in their canonical form: a dual-stack
    /// listener sees an IPv4 proxy as `::ffff:a.b.c.d`, and a hop may be
    /// written with its port (`a.b.c.d:p`, `[v6]:p`) or in brackets.
    pub fn client(&self, peer: IpAddr, forwarded_for: &str) -> IpAddr {
        let trusted = |ip: &IpAddr| self.0.iter().any(|t| t.to_canonical() == ip.to_canonical());
        let peer = peer.to_canonical();
        if !trusted(&peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for
            .rsplit(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            match hop_address(hop) {
                Some(ip) if trusted(&ip) => client = ip,
                Some(ip) => return ip,
                // An unreadable hop: nothing left of it can be believed.
                None => return client,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` hop's address: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

/// What the sign-in throttle counts for a client address: an IPv4 address
/// itself (also when written as IPv4-mapped IPv6), an IPv6 address's /64.
pub fn throttled_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    /// Each `(peer, X-Forwarded-For, client)` as `proxies` sees it.
    fn assert_clients(proxies: &TrustedProxies, cases: &[(&str, &str, &str)]) {
        for (peer, forwarded_for, client) in cases {
            assert_eq!(
                proxies.client(ip(peer), forwarded_for),
                ip(client),
                "peer {peer}, X-Forwarded-For {forwarded_for:?}"
            );
        }
    }

    #[test]
    fn a_dual_stack_listener_still_knows_its_proxy_and_ports_are_dropped() {
        let proxies = TrustedProxies(Arc::new(vec![ip("127.0.0.1")]));
        assert_clients(
            &proxies,
            &[
                // The peer as a dual-stack socket reports it.
                ("::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"),
                ("127.0.0.1", "198.51.100.1:5123", "198.51.100.1"),
                ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
                ("127.0.0.1", "[2001:db8::2]", "2001:db8::2"),
                ("127.0.0.1", "::ffff:198.51.100.7", "198.51.100.7"),
            ],
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(
            throttled_network(ip("2001:db8:1:2:aaaa::1")),
            throttled_network(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(
            throttled_network(ip("2001:db8:1:2::9")),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            throttled_network(ip("2001:db8:1:2::1")),
            throttled_network(ip("2001:db8:1:3::1"))
        );
        assert_eq!(throttled_network(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(throttled_network(ip("::ffff:203.0.113.9")), "203.0.113.9");
    }

    #[test]
    fn only_trusted_proxies_are_looked_through() {
        let proxies = TrustedProxies(Arc::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]));
        assert_clients(
            &proxies,
            &[
                // No proxy in front: the peer, whatever the header claims.
                ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
                // One proxy: the address it saw.
                ("10.0.0.1", "198.51.100.1", "198.51.100.1"),
                // A client that forges a hop on the left does not choose its address.
                ("10.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
                // Two proxies in a row.
                ("10.0.0.1", "198.51.100.1, 10.0.0.2", "198.51.100.1"),
                // A proxy that forwarded nothing: the proxy itself.
                ("10.0.0.1", "", "10.0.0.1"),
                ("10.0.0.1", "garbage, 10.0.0.2", "10.0.0.2"),
            ],
        );
    }
}
