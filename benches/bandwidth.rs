//! Bandwidth of delta snapshots, measured without sockets: a room in memory, bots with fixed
//! behaviours and seeds playing through their own decoded worlds, every frame counted.
//!
//! `cargo bench -p arena-benches --bench bandwidth` prints one row per scenario: payload per
//! client per second, bits per moving visible entity per snapshot, bits spent on unchanged
//! entities, and the ratio against plain postcard full-state snapshots of the same worlds.
//! Fully deterministic: the same build prints the same numbers.

use arena_benches::{MemoryClient, memory_room};
use arena_bots::behaviour::Behaviour;
use arena_protocol::delta::{inspect, write_update_against};
use arena_protocol::rules::Arena;
use arena_protocol::{ClientWorld, EntityKind, EntityState, Physics, Snapshot};
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
    /// Update-section bytes under three predictors: none, velocity extrapolation, the model.
    updates_by_predictor: [u64; 3],
    /// How often each field differed from the model's prediction: x, y, vx, vy, aim, hp, flags, score.
    field_changes: [u64; 8],
    /// Bytes of spawn records, and of the despawn section.
    spawn_bytes: u64,
    spawns: u64,
    despawns: u64,
}

/// Bytes of the update records (one id-gap byte each, roughly) that move `before` to `after`
/// `n` ticks later under three predictors: the held state as is, the held state extrapolated by
/// its velocity, and the protocol's model step.
fn update_bytes(
    before: &ClientWorld,
    after: &ClientWorld,
    n: u32,
    physics: &Physics,
    buf: &mut Vec<u8>,
    fields: &mut [u64; 8],
) -> [u64; 3] {
    let mut out = [0u64; 3];
    for e in after.entities() {
        let Some(held) = before.get(e.id) else { continue };
        let flagged = EntityState { flags: e.flags, ..*held };
        let steps = n as f32 * physics.dt;
        let velocity = EntityState {
            x: held.x + (held.vx as f32 * steps).round() as i32,
            y: held.y + (held.vy as f32 * steps).round() as i32,
            ..flagged
        };
        let model = flagged.predict(n, physics);
        for (slot, p) in out.iter_mut().zip([flagged, velocity, model]) {
            buf.clear();
            if write_update_against(buf, held.flags, &p, e) {
                *slot += buf.len() as u64 + 1;
            }
        }
        let differs = [
            model.x != e.x,
            model.y != e.y,
            model.vx != e.vx,
            model.vy != e.vy,
            model.aim != e.aim,
            model.hp != e.hp,
            held.flags != e.flags,
            model.score != e.score,
        ];
        for (f, d) in fields.iter_mut().zip(differs) {
            *f += u64::from(d);
        }
    }
    out
}

const WARMUP_TICKS: u32 = 90;
const MEASURED_TICKS: u32 = 300;
const TICK_HZ: f64 = 30.0;

fn measure(s: &Scenario) -> Totals {
    let mut room = memory_room(s.arena, s.orbs, 7);
    let mut clients: Vec<MemoryClient> =
        (0..s.ships).map(|i| MemoryClient::join(&mut room, i, s.behaviour, 11)).collect();
    let mut totals = Totals::default();
    let physics = Physics::new(30, Arena { width: s.arena, height: s.arena });
    let mut scratch: Vec<u8> = Vec::new();
    for tick in 0..WARMUP_TICKS + MEASURED_TICKS {
        for c in &mut clients {
            c.act(&mut room.room);
        }
        room.simulate();
        room.replicate();
        let measuring = tick >= WARMUP_TICKS;
        for c in &mut clients {
            let mut stats = (0u64, 0u64, 0u64, 0u64, 0u64);
            let mut by_predictor = [0u64; 3];
            let mut fields = [0u64; 8];
            let mut spawn_stats = (0u64, 0u64, 0u64);
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
                if snap.baseline_gap > 0 {
                    let b = update_bytes(before, after, snap.baseline_gap, &physics, &mut scratch, &mut fields);
                    spawn_stats.0 += layout.spawns.iter().map(|(_, n)| *n as u64).sum::<u64>();
                    spawn_stats.1 += layout.spawns.len() as u64;
                    spawn_stats.2 += layout.despawns.len() as u64;
                    for (t, x) in by_predictor.iter_mut().zip(b) {
                        *t += x;
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
                for (t, x) in totals.updates_by_predictor.iter_mut().zip(by_predictor) {
                    *t += x;
                }
                for (t, x) in totals.field_changes.iter_mut().zip(fields) {
                    *t += x;
                }
                totals.spawn_bytes += spawn_stats.0;
                totals.spawns += spawn_stats.1;
                totals.despawns += spawn_stats.2;
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
    let mut predictor_rows: Vec<String> = Vec::new();
    let mut detail_rows: Vec<String> = Vec::new();
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
        let [none, velocity, model] = t.updates_by_predictor.map(|b| b as f64 / s.ships as f64 / secs);
        predictor_rows.push(format!("| {} | {none:.0} | {velocity:.0} | {model:.0} |", s.name));
        let per = |n: u64| n as f64 / s.ships as f64 / secs;
        let f = t.field_changes.map(per);
        detail_rows.push(format!(
            "| {} | {:.0} ({:.0} B) | {:.0} | {:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0} |",
            s.name,
            per(t.spawns),
            per(t.spawn_bytes),
            per(t.despawns),
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7]
        ));
    }
    println!("\nUpdate-section bytes per client per second under each predictor:\n");
    println!("| scenario | no prediction | velocity extrapolation | model step (used) |");
    println!("|---|---|---|---|");
    for row in predictor_rows {
        println!("{row}");
    }
    println!("\nWhere the bytes go, per client per second:\n");
    println!(
        "| scenario | spawns (bytes) | despawns | fields off the prediction: x / y / vx / vy / aim / hp / flags / score |"
    );
    println!("|---|---|---|---|");
    for row in detail_rows {
        println!("{row}");
    }
}
