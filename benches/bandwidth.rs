//! Bandwidth of delta snapshots, measured without sockets: a room in memory, bots with fixed
//! behaviours and seeds playing through their own decoded worlds, every frame counted.
//!
//! `cargo bench -p arena-benches --bench bandwidth` prints one row per scenario: payload per
//! client per second, bits per moving visible entity per snapshot, bits spent on unchanged
//! entities, and the ratio against plain postcard full-state snapshots of the same worlds.
//! Fully deterministic: the same build prints the same numbers.

use arena_benches::{MemoryClient, memory_room};
use arena_bots::behaviour::Behaviour;
use arena_protocol::delta::inspect;
use arena_protocol::{ClientWorld, EntityKind, Snapshot};
use std::collections::HashSet;

/// One scenario of the list.
struct Scenario {
    name: &'static str,
    ships: u64,
    arena: f32,
    orbs: u32,
    behaviour: Behaviour,
}

#[derive(Default)]
struct Totals {
    all_bytes: u64,
    snapshot_bytes: u64,
    snapshots: u64,
    moving: u64,
    unchanged: u64,
    unchanged_bytes: u64,
    visible: u64,
    full_state_bytes: u64,
    desyncs: u64,
}

const WARMUP_TICKS: u32 = 90;
const MEASURED_TICKS: u32 = 300;
const TICK_HZ: f64 = 30.0;

fn measure(s: &Scenario) -> Totals {
    let mut room = memory_room(s.arena, s.orbs, 7);
    let mut clients: Vec<MemoryClient> =
        (0..s.ships).map(|i| MemoryClient::join(&mut room, i, s.behaviour, 11)).collect();
    let mut totals = Totals::default();
    for tick in 0..WARMUP_TICKS + MEASURED_TICKS {
        for c in &mut clients {
            c.act(&mut room);
        }
        room.simulate();
        room.replicate();
        let measuring = tick >= WARMUP_TICKS;
        for c in &mut clients {
            let mut stats = (0u64, 0u64, 0u64, 0u64, 0u64);
            let got = c.receive(|before: &ClientWorld, after: &ClientWorld, snap: &Snapshot| {
                if !measuring {
                    return;
                }
                let layout = inspect(&snap.body).expect("the server writes readable bodies");
                let updated: std::collections::HashMap<_, _> = layout.updates.iter().copied().collect();
                let mut unchanged_ids = HashSet::new();
                for e in after.entities() {
                    stats.3 += 1;
                    match before.get(e.id) {
                        Some(old) if old == e => {
                            stats.1 += 1;
                            unchanged_ids.insert(e.id);
                            stats.2 += updated.get(&e.id).copied().unwrap_or(0) as u64;
                        }
                        Some(old) if (old.x, old.y) != (e.x, e.y) => stats.0 += 1,
                        None if matches!(e.kind, EntityKind::Ship | EntityKind::Projectile)
                            && (e.vx, e.vy) != (0, 0) =>
                        {
                            stats.0 += 1;
                        }
                        _ => {}
                    }
                }
                stats.4 +=
                    postcard::to_allocvec(&(snap.tick, snap.ack_seq, after.entities())).map_or(0, |v| v.len() as u64);
            });
            if measuring {
                totals.all_bytes += got.all_bytes;
                totals.snapshot_bytes += got.snapshot_bytes;
                totals.snapshots += got.snapshots;
                totals.desyncs += got.desyncs;
                totals.moving += stats.0;
                totals.unchanged += stats.1;
                totals.unchanged_bytes += stats.2;
                totals.visible += stats.3;
                totals.full_state_bytes += stats.4;
            }
        }
    }
    totals
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent; keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let scenarios = [
        Scenario {
            name: "(a) 100 ships wandering, 4000², 300 orbs",
            ships: 100,
            arena: 4000.0,
            orbs: 300,
            behaviour: Behaviour::Wander,
        },
        Scenario {
            name: "(b) 1000 ships wandering, 4000², 300 orbs",
            ships: 1000,
            arena: 4000.0,
            orbs: 300,
            behaviour: Behaviour::Wander,
        },
        Scenario {
            name: "(c) brawl: 200 ships chasing, 1000², 300 orbs",
            ships: 200,
            arena: 1000.0,
            orbs: 300,
            behaviour: Behaviour::Chase,
        },
        Scenario {
            name: "(d) 50 ships wandering, 4000², 500 orbs",
            ships: 50,
            arena: 4000.0,
            orbs: 500,
            behaviour: Behaviour::Wander,
        },
    ];
    println!(
        "| scenario | B/client/s (all frames) | snapshot B/client/s | bits / moving visible entity / snapshot | bits / unchanged entity | full-state postcard B/client/s | ratio | visible entities / snapshot | desyncs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for s in &scenarios {
        if quick && s.ships > 100 {
            continue;
        }
        let t = measure(s);
        let secs = f64::from(MEASURED_TICKS) / TICK_HZ;
        let per_client = |bytes: u64| bytes as f64 / s.ships as f64 / secs;
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.2} | {:.0} | {:.1}× | {:.0} | {} |",
            s.name,
            per_client(t.all_bytes),
            per_client(t.snapshot_bytes),
            t.snapshot_bytes as f64 * 8.0 / t.moving.max(1) as f64,
            t.unchanged_bytes as f64 * 8.0 / t.unchanged.max(1) as f64,
            per_client(t.full_state_bytes),
            t.full_state_bytes as f64 / t.snapshot_bytes.max(1) as f64,
            t.visible as f64 / t.snapshots.max(1) as f64,
            t.desyncs,
        );
        assert_eq!(t.desyncs, 0, "{}: every client's world should match the server's", s.name);
    }
}
