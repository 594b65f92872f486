//! `interest/…`: one client's visibility query (grid rows, exact view test, bitset marking, read
//! back in id order), swept over how crowded the world is around it (same arena, more entities).
//!
//! Expected scaling: linear in the candidates in the view's cells (≈ the visible entities), plus
//! the entity count / 64 for clearing and reading the bitsets.

use arena_protocol::rules::Arena;
use arena_protocol::{EntityKind, EntityState, NetId, Tick};
use arena_server::replication::{Replicator, View, VisibleScratch};
use bevy_ecs::world::World;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn interest(c: &mut Criterion) {
    let mut group = c.benchmark_group("interest");
    // Entities spread evenly over a 8000² arena; the view (2000 × 1250 plus margins) covers ~6 %.
    for entities in [1_000u32, 4_000, 16_000] {
        let arena = Arena { width: 8000.0, height: 8000.0 };
        let states: Vec<EntityState> = (0..entities)
            .map(|i| EntityState {
                id: NetId(i + 1),
                kind: EntityKind::ScoreOrb,
                x: ((i.wrapping_mul(7919) % 8000) * 16) as i32,
                y: ((i.wrapping_mul(104_729) % 8000) * 16) as i32,
                ..Default::default()
            })
            .collect();
        let mut world = World::new();
        let mut rep = Replicator::new(&mut world, 30, arena, View { half_width: 1000.0, half_height: 625.0 });
        rep.capture_states(&states, Tick(1));
        let mut scratch = VisibleScratch::default();
        rep.visible((4000.0, 4000.0), None, &mut scratch);
        let visible = scratch.picks().len();
        group.bench_function(BenchmarkId::new("view_query", format!("{entities}_entities_{visible}_visible")), |b| {
            b.iter(|| rep.visible(std::hint::black_box((4000.0, 4000.0)), None, &mut scratch));
        });
    }
    group.finish();
}

criterion_group!(benches, interest);
criterion_main!(benches);
