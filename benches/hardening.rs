//! `hardening/…`: what the defences cost per frame and per connection, without sockets: finding
//! frame headers in a client's byte stream, charging the frame budget, checking a join token, and
//! the upgrade request's header checks.
//!
//! Expected: tens of nanoseconds per frame (next to the ~1–5 µs of a socket read), a few
//! microseconds per join (one HMAC-SHA256), and about a microsecond per upgrade request.

use arena_protocol::codec::encode_client;
use arena_protocol::rules::Buttons;
use arena_protocol::{ClientMsg, InputBatch, InputCmd, Tick, ViewTime};
use arena_server::net::admission::{client_ip, origin_allowed, websocket_accept};
use arena_server::net::frame_meter::{FrameBudget, FrameMeter};
use arena_server::net::join_token::{self, JoinTokens};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

/// A masked client frame carrying `payload`, as a browser sends it.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x82, 0x80 | payload.len() as u8, 1, 2, 3, 4];
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
    out
}

fn hardening(c: &mut Criterion) {
    let mut group = c.benchmark_group("hardening");
    // A second of one client's traffic: 30 input batches of 4 commands and a ping, in 4 KiB reads.
    let cmds = vec![InputCmd { buttons: Buttons(0x19), aim: 0x4000 }; 4];
    let input = encode_client(&ClientMsg::Input(InputBatch::new(300, ViewTime { tick: Tick(298), frac: 9 }, cmds)));
    let mut stream = Vec::new();
    for _ in 0..30 {
        stream.extend(client_frame(&input));
    }
    stream.extend(client_frame(&encode_client(&ClientMsg::Ping { t: 1 })));
    group.throughput(Throughput::Elements(31));
    group.bench_function("frame_meter/one_second_of_a_client", |b| {
        let mut meter = FrameMeter::default();
        b.iter(|| {
            let mut frames = 0u32;
            for chunk in stream.chunks(4096) {
                meter.feed(black_box(chunk), |_| frames += 1);
            }
            frames
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("frame_budget/charge", |b| {
        let budget = FrameBudget::new(70.0, 70.0, Instant::now());
        let mut t = Instant::now();
        b.iter(|| {
            t += Duration::from_millis(20);
            budget.charge(black_box(t))
        });
    });

    let secret = b"a-secret-of-the-operator's-matchmaker";
    let now = SystemTime::now();
    let token = join_token::mint(secret, "ace", Duration::from_secs(60), now);
    group.bench_function("join_token/check", |b| {
        b.iter(|| join_token::check(secret, black_box(&token), "ace", now));
    });
    group.bench_function("join_token/accept_fresh", |b| {
        let tokens = JoinTokens::new(secret);
        let fresh: Vec<String> =
            (0..10_000).map(|_| join_token::mint(secret, "ace", Duration::from_secs(60), now)).collect();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fresh.len();
            // After the first pass every token is a reuse: the check is as costly either way.
            tokens.accept(Some(&fresh[i]), "ace", now)
        });
    });

    let mut headers = axum::http::HeaderMap::new();
    for (k, v) in [
        ("host", "play.example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("origin", "https://play.example.com"),
        ("x-forwarded-for", "203.0.113.9"),
    ] {
        headers.insert(k, axum::http::HeaderValue::from_static(v));
    }
    let allowed = vec!["https://portal.example.com".to_owned()];
    let trusted = vec!["10.0.0.1".parse().expect("ip")];
    let peer = "10.0.0.1:4000".parse().expect("addr");
    group.bench_function("admission/upgrade_checks", |b| {
        b.iter(|| {
            let accept = websocket_accept(black_box(&headers));
            let ok = origin_allowed(&headers, &allowed);
            (accept.is_ok(), ok, client_ip(peer, &headers, &trusted))
        });
    });
    group.finish();
}

criterion_group!(benches, hardening);
criterion_main!(benches);
