//! Who may open a game WebSocket, decided on the upgrade request before a connection exists:
//! a real WebSocket handshake, an allowed web origin, and room under the per-IP and total
//! connection limits. Pure functions over headers and addresses, so they are unit-tested and
//! fuzzed without a socket.

use axum::http::{HeaderMap, header};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Why an upgrade request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a WebSocket version 13 upgrade (HTTP 400).
    NotWebSocket(&'static str),
    /// The page that opened the socket is from an origin not in `--allowed-origins` (HTTP 403).
    Origin,
    /// This address already has `--max-connections-per-ip` connections (HTTP 429).
    PerIp,
    /// The server already has `--max-connections` connections (HTTP 503).
    Total,
    /// The server is shutting down (HTTP 503).
    Draining,
}

impl Refusal {
    /// The label in `arena_connections_refused_total{reason}`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotWebSocket(_) => "not_websocket",
            Refusal::Origin => "origin",
            Refusal::PerIp => "per_ip_limit",
            Refusal::Total => "connection_limit",
            Refusal::Draining => "draining",
        }
    }
}

/// The `Sec-WebSocket-Accept` value for a valid WebSocket 13 upgrade request.
pub fn websocket_accept(headers: &HeaderMap) -> Result<String, Refusal> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(Refusal::NotWebSocket("expected a WebSocket upgrade request\n"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err(Refusal::NotWebSocket("only WebSocket version 13 is supported\n"));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Refusal::NotWebSocket("missing Sec-WebSocket-Key\n"))?;
    // RFC 6455 §4.2.1: the key is 16 random bytes in base64, 24 characters.
    if key.len() != 24 {
        return Err(Refusal::NotWebSocket("Sec-WebSocket-Key must be 16 bytes in base64\n"));
    }
    Ok(derive_accept_key(key.as_bytes()))
}

/// Whether a request from a page at its `Origin` may open a game socket. With no allowed list,
/// any; without an `Origin` header (not a browser), yes; otherwise the origin must be listed or
/// be the server's own (`http(s)://` + the request's `Host`).
#[must_use]
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().trim_end_matches('/');
    if allowed.iter().any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let own = |scheme: &str| {
        origin.len() == scheme.len() + host.len()
            && origin.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && origin.get(scheme.len()..).is_some_and(|h| h.eq_ignore_ascii_case(host))
    };
    !host.is_empty() && (own("http://") || own("https://"))
}

/// The client's address: the socket's peer, or, when the peer is one of `trusted` proxies, the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy.
#[must_use]
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer.ip());
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
        .collect::<Vec<_>>();
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

/// An IPv4-mapped IPv6 address as IPv4; others unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The unit the per-IP limit counts: an IPv4 address, or an IPv6 /64 (one subscriber usually
/// holds a whole /64, so counting single v6 addresses would limit nothing).
fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

/// Live WebSocket connections, in total and per client address, with their limits.
#[derive(Debug)]
pub struct ConnectionLimits {
    counts: Arc<Mutex<Counts>>,
    max_total: u32,
    max_per_ip: u32,
}

/// A connection's place within the limits, given back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    counts: Arc<Mutex<Counts>>,
    key: IpAddr,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections and `max_per_ip` per address (`0`: no per-IP limit).
    #[must_use]
    pub fn new(max_total: u32, max_per_ip: u32) -> ConnectionLimits {
        ConnectionLimits { counts: Arc::default(), max_total, max_per_ip }
    }

    /// Takes a place for a connection from `ip`, or says which limit is reached. Loopback
    /// addresses count, but only towards the total.
    pub fn try_acquire(&self, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let key = limit_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let here = counts.per_ip.entry(key).or_insert(0);
        if self.max_per_ip > 0 && *here >= self.max_per_ip && !key.is_loopback() {
            return Err(Refusal::PerIp);
        }
        *here += 1;
        counts.total += 1;
        Ok(ConnectionPermit { counts: self.counts.clone(), key })
    }

    /// Connections holding a place now.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).total
    }

    /// Addresses holding at least one place now (the map never keeps an address with none).
    #[must_use]
    pub fn addresses(&self) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).per_ip.len()
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_websocket_upgrade_is_recognised() {
        let ok = headers(&[
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(websocket_accept(&ok).as_deref(), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(websocket_accept(&headers(&[("upgrade", "websocket")])).is_err());
        let mut short = ok.clone();
        short.insert("sec-websocket-key", HeaderValue::from_static("abc"));
        assert!(websocket_accept(&short).is_err());
    }

    #[test]
    fn origins_are_checked_only_when_a_list_is_set() {
        let evil = headers(&[("origin", "https://evil.example"), ("host", "play.example.com")]);
        assert!(origin_allowed(&evil, &[]), "no list: any origin");
        let allowed = vec!["https://play.example.com/".to_owned(), "https://portal.example.com".to_owned()];
        assert!(!origin_allowed(&evil, &allowed));
        assert!(origin_allowed(&headers(&[("origin", "https://PORTAL.example.com")]), &allowed));
        assert!(origin_allowed(&headers(&[("host", "x")]), &allowed), "no Origin: not a browser");
        let own = headers(&[("origin", "http://10.0.0.5:8080"), ("host", "10.0.0.5:8080")]);
        assert!(origin_allowed(&own, &allowed), "the server's own page");
        let tricky = headers(&[("origin", "http://10.0.0.5:8080.evil"), ("host", "10.0.0.5:8080")]);
        assert!(!origin_allowed(&tricky, &allowed));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(client_ip(proxy, &h, &[]), "10.0.0.1".parse::<IpAddr>().expect("ip"));
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().expect("ip")];
        assert_eq!(client_ip(proxy, &h, &trusted), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        let garbage = headers(&[("x-forwarded-for", "not an ip")]);
        assert_eq!(client_ip(proxy, &garbage, &trusted), "10.0.0.1".parse::<IpAddr>().expect("ip"));
        let mapped: SocketAddr = "[::ffff:1.2.3.4]:80".parse().expect("addr");
        assert_eq!(client_ip(mapped, &h, &[]), "1.2.3.4".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn limits_count_per_address_and_in_total_and_release_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "1.1.1.1".parse().expect("ip");
        let b: IpAddr = "2.2.2.2".parse().expect("ip");
        let p1 = limits.try_acquire(a).expect("first");
        let _p2 = limits.try_acquire(a).expect("second");
        assert_eq!(limits.try_acquire(a).err(), Some(Refusal::PerIp));
        let _p3 = limits.try_acquire(b).expect("another address");
        assert_eq!(limits.try_acquire(b).err(), Some(Refusal::Total));
        drop(p1);
        assert!(limits.try_acquire(a).is_ok(), "a dropped permit frees its place");
        assert_eq!(limits.total(), 2, "the temporary permit above was dropped again");
        let v6a: IpAddr = "2001:db8::1".parse().expect("ip");
        let v6b: IpAddr = "2001:db8::2".parse().expect("ip");
        assert_eq!(limit_key(v6a), limit_key(v6b), "one /64 counts as one address");
        let local = ConnectionLimits::new(10, 1);
        let lo: IpAddr = "127.0.0.2".parse().expect("ip");
        let permits: Vec<_> = (0..5).map(|_| local.try_acquire(lo)).collect();
        assert!(permits.iter().all(Result::is_ok), "loopback is not limited per address");
    }
}
