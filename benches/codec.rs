//! `codec/…`: encoding and decoding whole snapshot frames with postcard.
//!
//! Expected scaling: linear in the entities in the snapshot (each is a fixed handful of varints).

use arena_benches::snapshot;
use arena_protocol::ServerMsg;
use arena_protocol::codec::{decode_server, encode_server_into};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    for entities in [25u32, 100, 400] {
        let msg = ServerMsg::Snapshot(snapshot(entities / 5, entities - entities / 5));
        let mut buf = Vec::new();
        encode_server_into(&msg, &mut buf);
        group.throughput(Throughput::Elements(u64::from(entities)));
        group.bench_with_input(
            BenchmarkId::new("encode_snapshot", entities),
            &msg,
            |b, msg| {
                b.iter(|| encode_server_into(black_box(msg), &mut buf));
            },
        );
        let frame = buf.clone();
        group.bench_with_input(
            BenchmarkId::new("decode_snapshot", entities),
            &frame,
            |b, frame| {
                b.iter(|| decode_server(black_box(frame)));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
