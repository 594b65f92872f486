//! `codec/…`: the protocol's hot paths on the client and the server, without sockets:
//! a full snapshot body written and decoded, a one-tick delta of moving ships decoded, and the
//! whole-frame postcard codec.
//!
//! Expected scaling: linear in the entities in the snapshot.

use arena_benches::entities;
use arena_protocol::codec::{decode_server, encode_server_into};
use arena_protocol::delta::{BodyWriter, encode_body};
use arena_protocol::entity::checksum;
use arena_protocol::rules::Arena;
use arena_protocol::{ClientWorld, Physics, ServerMsg, Snapshot, Tick};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let physics = Physics::new(30, Arena::DEFAULT);
    let mut group = c.benchmark_group("codec");
    for n in [25u32, 100, 400] {
        let world = entities(n / 5, n - n / 5);
        let mut writer = BodyWriter::default();
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("write_full_body", n), &world, |b, world| {
            b.iter(|| encode_body(&mut writer, &[], black_box(world), 0, &physics));
        });
        let mut body = Vec::new();
        encode_body(&mut writer, &[], &world, 0, &physics);
        writer.finish(&mut body);
        let full = Snapshot {
            tick: Tick(1),
            baseline_gap: 0,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: checksum(&world),
            body,
        };
        group.bench_with_input(BenchmarkId::new("apply_full", n), &full, |b, full| {
            let mut client = ClientWorld::new(physics);
            b.iter(|| client.apply(black_box(full)));
        });
        let next: Vec<_> = world.iter().map(|e| e.predict(1, &physics)).collect();
        let mut body = Vec::new();
        encode_body(&mut writer, &world, &next, 1, &physics);
        writer.finish(&mut body);
        let delta = Snapshot {
            tick: Tick(2),
            baseline_gap: 1,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: checksum(&next),
            body,
        };
        group.bench_with_input(BenchmarkId::new("apply_predicted_delta", n), &delta, |b, delta| {
            let mut client = ClientWorld::new(physics);
            b.iter(|| {
                let _ = client.apply(&full);
                client.apply(black_box(delta))
            });
        });
        let msg = ServerMsg::Snapshot(full.clone());
        let mut frame = Vec::new();
        encode_server_into(&msg, &mut frame);
        group.bench_with_input(BenchmarkId::new("frame_round_trip", n), &msg, |b, msg| {
            b.iter(|| {
                encode_server_into(black_box(msg), &mut frame);
                decode_server(&frame)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
