//! Bodies of the fuzz targets over the server's side of the connection, before any game message:
//! the HTTP upgrade checks ([`http_upgrade`]), the WebSocket frame-header meter ([`frame_meter`])
//! and join tokens ([`join_token`]). The protocol's targets live in
//! [`arena_protocol::fuzzing`], where ordinary tests reach them too.
//!
//! Each function turns the fuzzer's bytes into what an attacker controls (request headers, the
//! raw byte stream of a socket, a `Hello`'s name and token), calls the server's own functions
//! (and the token checks it shares with the bots, in `arena_protocol::join_token`),
//! and checks properties that must hold for any input. It panics only when one is broken: a bug.
//! `tests/corpus.rs` runs them over the committed corpus (`cargo test --manifest-path
//! fuzz/Cargo.toml`).

use arena_protocol::join_token::{self, MAX_TTL, TokenError, Verified};
use arena_server::net::admission::{ConnectionLimits, Refusal, client_ip, origin_allowed, websocket_accept};
use arena_server::net::frame_meter::{FrameBudget, FrameHeader, FrameMeter, Verdict};
use arena_server::net::join_token::JoinTokens;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// The upgrade request's checks: `data` is a control byte, the peer's address, then lines. A
/// line `allow ORIGIN` adds an allowed origin, `trust IP` a trusted proxy, and any other line
/// `name: value` a request header (lines that are not valid headers are left out, as hyper
/// would refuse them). The control byte picks the peer (bits 0–1: IPv4 from the next 4 bytes,
/// IPv6 from the next 16, IPv4-mapped IPv6 from the next 4, loopback), whether the peer is a
/// trusted proxy (bit 2) and the connection limits (bits 3–7).
///
/// Checks: an accepted upgrade has a version-13 header and a 24-character key, and a 28-character
/// accept value; no list of origins, or no `Origin`, always passes; the client's address is the
/// peer's unless the peer is trusted, is never a mapped IPv4 address, and otherwise comes from
/// `X-Forwarded-For`; connection limits hold and are all given back.
pub fn http_upgrade(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let (peer, rest) = match ctl & 0b11 {
        0 => take::<4>(rest).map_or((None, rest), |(b, r)| (Some(IpAddr::V4(Ipv4Addr::from(b))), r)),
        1 => take::<16>(rest).map_or((None, rest), |(b, r)| (Some(IpAddr::V6(Ipv6Addr::from(b))), r)),
        2 => take::<4>(rest).map_or((None, rest), |(b, r)| (Some(IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())), r)),
        _ => (Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), rest),
    };
    let Some(peer) = peer else { return };
    let peer = SocketAddr::new(peer, 40_000);

    let mut headers = HeaderMap::new();
    let mut allowed = Vec::new();
    let mut trusted = Vec::new();
    if ctl & 0b100 != 0 {
        trusted.push(canonical(peer.ip()));
    }
    for line in rest.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(origin) = line.strip_prefix(b"allow ") {
            allowed.push(String::from_utf8_lossy(origin).into_owned());
        } else if let Some(ip) = line.strip_prefix(b"trust ") {
            if let Some(ip) = std::str::from_utf8(ip).ok().and_then(|s| s.trim().parse::<IpAddr>().ok()) {
                trusted.push(ip);
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                headers.append(name, value);
            }
        }
    }

    match websocket_accept(&headers) {
        Ok(accept) => {
            assert_eq!(accept.len(), 28, "an accept value is 20 bytes in base64: {accept:?}");
            assert!(headers.get("sec-websocket-version").is_some_and(|v| v == "13"), "accepted without version 13");
            assert!(headers.get("sec-websocket-key").is_some_and(|k| k.len() == 24), "accepted a bad key");
        }
        Err(Refusal::NotWebSocket(why)) => assert!(why.ends_with('\n'), "HTTP bodies end with a newline"),
        Err(other) => panic!("the handshake check refused with {other:?}, which is not its to say"),
    }

    let origin_ok = origin_allowed(&headers, &allowed);
    if allowed.is_empty() || headers.get("origin").is_none() {
        assert!(origin_ok, "with no allowed list, or no Origin header, any request passes");
    }
    if let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) {
        let exact = allowed.iter().any(|a| a == origin);
        assert!(!exact || origin_ok, "an origin listed verbatim is allowed: {origin:?} in {allowed:?}");
    }

    let ip = client_ip(peer, &headers, &trusted);
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
        .collect();
    assert_eq!(ip, canonical(ip), "client addresses are canonical (no IPv4-mapped IPv6)");
    if trusted.contains(&canonical(peer.ip())) {
        assert!(ip == canonical(peer.ip()) || hops.contains(&ip), "{ip} is neither the peer nor a forwarded hop");
        assert!(ip == canonical(peer.ip()) || !trusted.contains(&ip), "a trusted proxy is not a client");
    } else {
        assert_eq!(ip, canonical(peer.ip()), "an untrusted peer's X-Forwarded-For is ignored");
    }

    let (max_total, max_per_ip) = (u32::from(ctl >> 5) + 1, u32::from((ctl >> 3) & 0b11));
    let limits = ConnectionLimits::new(max_total, max_per_ip);
    let mut permits = Vec::new();
    for candidate in std::iter::once(ip).chain(hops.iter().copied()).chain(std::iter::once(ip)) {
        match limits.try_acquire(candidate) {
            Ok(p) => permits.push(p),
            Err(Refusal::Total) => assert_eq!(limits.total(), max_total, "Total only at the limit"),
            Err(Refusal::PerIp) => {
                // Known server bug, found by this target (fuzz/corpus/http_upgrade/
                // regression-ipv6-loopback-per-ip): `try_acquire` exempts loopback from the per-IP
                // limit by its key, and the key of ::1 is its /64, `::`, which is not loopback.
                // Remove this exception once the server checks the address itself.
                let known_bug = candidate == IpAddr::V6(Ipv6Addr::LOCALHOST);
                assert!(max_per_ip > 0 && (!candidate.is_loopback() || known_bug), "PerIp for {candidate}");
            }
            Err(other) => panic!("connection limits refused with {other:?}"),
        }
        assert_eq!(limits.total() as usize, permits.len(), "every permit counts once");
        assert!(limits.total() <= max_total, "the total limit holds");
    }
    drop(permits);
    assert_eq!((limits.total(), limits.addresses()), (0, 0), "dropped permits give their places back");
}

fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    bytes.split_first_chunk::<N>().map(|(head, rest)| (*head, rest))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The frame meter over a client's raw byte stream: `data[0]` seeds the sizes of the pieces the
/// stream arrives in (1–17 bytes, so headers are cut everywhere), the rest is the stream. The
/// headers found must be the same whichever way the stream is cut, and the same as a plain
/// reading of RFC 6455 §5.2 finds; every header is charged to a [`FrameBudget`] (frames a few
/// milliseconds apart, also from the seed), whose verdicts must be consistent and, once
/// `Close`, stay `Close`.
pub fn frame_meter(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else { return };
    let expected = reference_headers(stream);

    let mut whole = Vec::new();
    FrameMeter::default().feed(stream, |h| whole.push(h));
    assert_eq!(whole, expected, "one feed finds the headers RFC 6455 lays out");

    let mut pieces = Vec::new();
    let mut meter = FrameMeter::default();
    let mut rng = u32::from(seed) | 0x100;
    let mut rest = stream;
    while !rest.is_empty() {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let (piece, after) = rest.split_at((1 + rng as usize % 17).min(rest.len()));
        meter.feed(piece, |h| pieces.push(h));
        rest = after;
    }
    assert_eq!(pieces, expected, "headers do not depend on how the stream is cut");

    let t0 = Instant::now();
    let budget = FrameBudget::new(70.0, 70.0, t0);
    let mut at = t0;
    let mut closed = false;
    for (i, h) in expected.iter().enumerate() {
        at += Duration::from_millis(u64::from(seed >> 4) * (h.len % 4));
        let verdict = budget.charge(at);
        assert!(!closed || verdict == Verdict::Close, "once closed, a connection stays closed");
        closed = verdict == Verdict::Close;
        assert_eq!(budget.exhausted(), closed, "exhausted() says what the verdict said");
        if verdict != Verdict::Close {
            assert_eq!(budget.over(), verdict == Verdict::Drop, "over() says whether the frame was dropped");
        }
        assert_eq!(budget.frames(), i as u64 + 1, "every frame is counted");
        assert_eq!(budget.last_frame(), at);
    }
}

/// RFC 6455 §5.2 read plainly: header after header, each payload skipped.
fn reference_headers(stream: &[u8]) -> Vec<FrameHeader> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(&[b0, b1]) = stream.get(at..).and_then(<[u8]>::first_chunk::<2>) {
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
        let Some(header) = stream.get(at..).and_then(|s| s.get(..2 + ext + mask)) else { break };
        let len = match ext {
            2 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            8 => header[2..10].iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)),
            _ => u64::from(b1 & 0x7f),
        };
        out.push(FrameHeader { opcode: b0 & 0x0f, fin: b0 & 0x80 != 0, len });
        at = (at + header.len()).saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
    }
    out
}

/// The secret the [`join_token`] target's server holds.
pub const FUZZ_SECRET: &[u8] = b"fuzzing secret";
/// The server's clock in the [`join_token`] target, in Unix seconds.
pub const FUZZ_NOW: u64 = 2_000_000_000;

/// A `Hello`'s join token checked by the server: `data` is a control byte, the player's name (up
/// to a zero byte), then either the token's text (control bit 0 clear) or the parts of a token
/// made here by the recipe of docs/PROTOCOL.md §12 with the server's secret (bit 0 set): the
/// expiry as an `i64` offset in seconds from the server's clock (8 bytes, big-endian), a 12-byte
/// nonce, then `(position, xor)` byte pairs that garble its text when bit 1 is set.
///
/// Checks: tokens longer than the limit are malformed; a token the server accepts is exactly the
/// one the recipe makes from its name, expiry and nonce (nothing else verifies); a well-made
/// token is accepted when it expires within [`MAX_TTL`] and refused as expired or malformed
/// otherwise; [`JoinTokens::accept`] agrees with [`join_token::check`], and refuses a token the
/// second time.
pub fn join_token(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let (name, rest) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let name = String::from_utf8_lossy(name);
    let now = UNIX_EPOCH + Duration::from_secs(FUZZ_NOW);

    let mut made = None;
    let token = if ctl & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let Some((offset, rest)) = take::<8>(rest) else { return };
        let Some((nonce, rest)) = take::<12>(rest) else { return };
        let expiry = FUZZ_NOW.wrapping_add_signed(i64::from_be_bytes(offset));
        let token = recipe(FUZZ_SECRET, &name, expiry, nonce);
        if ctl & 2 == 0 {
            made = Some(Verified { expiry, nonce });
            token
        } else {
            let mut bytes = token.into_bytes();
            for pair in rest.chunks_exact(2) {
                let at = usize::from(pair[0]) % bytes.len();
                bytes[at] ^= pair[1];
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };

    let checked = join_token::check(FUZZ_SECRET, &token, &name, now);
    if token.len() > arena_protocol::MAX_JOIN_TOKEN_CHARS {
        assert_eq!(checked, Err(TokenError::Malformed), "an overlong token is malformed");
    }
    if let Ok(v) = checked {
        assert_eq!(token, recipe(FUZZ_SECRET, &name, v.expiry, v.nonce), "only the recipe's own tokens verify");
        assert!(v.expiry > FUZZ_NOW && v.expiry - FUZZ_NOW <= MAX_TTL.as_secs(), "accepted {v:?}");
    }
    if let Some(v) = made {
        let expected = if v.expiry <= FUZZ_NOW {
            Err(TokenError::Expired)
        } else if v.expiry - FUZZ_NOW > MAX_TTL.as_secs() {
            Err(TokenError::Malformed)
        } else {
            Ok(v)
        };
        assert_eq!(checked, expected, "a token made by the recipe, expiring at {}", v.expiry);
    }

    let tokens = JoinTokens::new(FUZZ_SECRET);
    assert_eq!(tokens.accept(None, &name, now), Err(TokenError::Missing));
    let first = tokens.accept(Some(&token), &name, now);
    assert_eq!(first, checked.map(|_| ()), "accept agrees with check");
    let second = tokens.accept(Some(&token), &name, now);
    if first.is_ok() {
        assert_eq!(second, Err(TokenError::Reused), "a token is accepted once");
    } else {
        assert_eq!(second, first, "a refused token is not remembered");
    }
    assert_eq!(tokens.remembered(), usize::from(first.is_ok()));
}

/// The token docs/PROTOCOL.md §12 makes: `base64url_nopad(1 || expiry || nonce || mac)`.
#[must_use]
pub fn recipe(secret: &[u8], name: &str, expiry: u64, nonce: [u8; 12]) -> String {
    let mut head = vec![1u8];
    head.extend_from_slice(&expiry.to_be_bytes());
    head.extend_from_slice(&nonce);
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(b"arena-join-v1\x00");
    mac.update(name.as_bytes());
    mac.update(b"\x00");
    mac.update(&head);
    head.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(head)
}
