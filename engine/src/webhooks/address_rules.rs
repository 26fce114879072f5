//! Which addresses a webhook endpoint added in the UI may reach. An
//! administrator types a URL; without this rule that URL could point the
//! server at its own network (`http://127.0.0.1:5432`, a cloud metadata
//! service at `169.254.169.254`): server-side request forgery. So, unless an
//! administrator allows private addresses:
//!
//! - an IP literal must be a public address;
//! - a name must resolve to public addresses only, when it is added, and
//!   again at every attempt: the guarded client's resolver drops every
//!   non-public address, so a name re-pointed at `127.0.0.1` later (DNS
//!   rebinding) reaches nothing;
//! - no redirect is followed and no proxy from the environment is used.
//!
//! The endpoint from `WEBHOOK_URL` is the operator's own choice and may be anywhere.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{host} is a loopback, private or otherwise internal address ({ip}); an administrator can allow private addresses on this page")]
    Internal { host: String, ip: IpAddr },
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

/// Whether `ip` is on the public internet (not loopback, private, link-local,
/// shared, documentation, benchmarking, multicast, reserved or unspecified).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // Forms that tunnel or translate to IPv4 (6to4 2002::/16, Teredo
            // 2001::/32, IPv4-translated ::ffff:0:a.b.c.d, local-use NAT64
            // 64:ff9b:1::/48): refused outright rather than decoded.
            if s[0] == 0x2002
                || (s[0] == 0x2001 && s[1] == 0)
                || s[..6] == [0, 0, 0, 0, 0xffff, 0]
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
            {
                return false;
            }
            // NAT64 (64:ff9b::/96) embeds an IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
        || ip == Ipv4Addr::new(168, 63, 129, 16)) // Azure's host services (public, yet internal)
}

/// Checks an endpoint URL's host against the rule (resolving a name).
pub(crate) async fn check_url(url: &Url, allow_private: bool) -> Result<(), AddressError> {
    if allow_private {
        return Ok(());
    }
    let Some(host) = url.host() else {
        return Err(AddressError::Unresolvable(String::new()));
    };
    let ips: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        Host::Domain(name) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let lookup = tokio::net::lookup_host((name, port));
            match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            }
        }
    };
    let shown = url.host_str().unwrap_or_default().to_owned();
    if ips.is_empty() {
        return Err(AddressError::Unresolvable(shown));
    }
    match ips.into_iter().find(|ip| !is_public(*ip)) {
        Some(ip) => Err(AddressError::Internal { host: shown, ip }),
        None => Ok(()),
    }
}

/// The address of an IP-literal host that is not public. (The guarded
/// client's resolver filters names; a literal never reaches a resolver, so
/// every attempt checks it here.)
pub(crate) fn internal_literal(url: &Url) -> Option<IpAddr> {
    let ip = match url.host()? {
        Host::Ipv4(ip) => IpAddr::V4(ip),
        Host::Ipv6(ip) => IpAddr::V6(ip),
        Host::Domain(_) => return None,
    };
    Some(ip).filter(|ip| !is_public(*ip))
}

/// The HTTP client for webhook attempts: no redirects, no proxy, the
/// attempt's timeout; `guarded` connects to public addresses only.
pub(crate) fn client(guarded: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(super::ATTEMPT_TIMEOUT_SECS))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!(
            "jira-dashboard-webhooks/",
            env!("CARGO_PKG_VERSION")
        ));
    let builder = if guarded {
        builder.dns_resolver(std::sync::Arc::new(PublicOnly))
    } else {
        builder
    };
    // Building fails only when the TLS backend cannot start, which no input changes.
    // A client without the guards must never stand in for this one.
    builder
        .build()
        .expect("the HTTP client's TLS backend starts")
}

/// A resolver that answers only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("ip"))
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "::127.0.0.1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "::ffff:0:7f00:1",
            "64:ff9b:1::a00:1",
            "168.63.129.16",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "104.192.136.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(public(ip), "{ip} must be public");
        }
    }

    #[tokio::test]
    async fn a_url_on_loopback_or_localhost_is_refused_unless_allowed() {
        for text in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://localhost:8080/hook",
            "http://0x7f000001/hook",
            "http://2130706433/hook",
        ] {
            let url = Url::parse(text).expect("url");
            let err = check_url(&url, false).await.expect_err(text);
            assert!(
                matches!(err, AddressError::Internal { .. }),
                "{text}: {err}"
            );
            check_url(&url, true).await.expect("allowed");
        }
        let url = Url::parse("http://no-such-host.invalid/hook").expect("url");
        assert!(matches!(
            check_url(&url, false).await,
            Err(AddressError::Unresolvable(_))
        ));
    }

    #[tokio::test]
    async fn the_guarded_client_reaches_no_loopback_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let err = client(true)
            .post(format!("http://localhost:{port}/hook"))
            .send()
            .await
            .expect_err("must not connect");
        assert!(
            err.is_connect() || err.to_string().contains("error sending request"),
            "{err}"
        );
        // The open client does reach it (the listener accepts the connection).
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let _ = client(false)
            .post(format!("http://localhost:{port}/hook"))
            .timeout(Duration::from_millis(300))
            .send()
            .await;
        assert!(accepted.await.expect("join"));
    }
}
