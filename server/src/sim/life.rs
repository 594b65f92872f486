//! Respawning dead ships at a free spot, and orb pickups.

use crate::sim::components::{Motion, Orb, Ship, Trail};
use crate::sim::resources::{Clock, Field, ShipIndex, SimRng};
use arena_protocol::EntityKind;
use arena_protocol::quantize::snap_pos;
use arena_protocol::rules::{Arena, ORB_HEAL, ORB_RADIUS, ORB_SCORE, SHIP_MAX_HP, SHIP_RADIUS, ShipMotion};
use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;

/// How far from any living ship a respawn spot should be.
const SPAWN_CLEARANCE: f32 = 300.0;
/// Random spots tried before settling for the last one.
const SPAWN_TRIES: usize = 16;

/// A random point inside the arena, at least `margin` from the walls, on the wire grid.
pub fn random_spot(rng: &mut SimRng, arena: Arena, margin: f32) -> Vec2 {
    let x = rng.0.random_range(margin..(arena.width - margin).max(margin + 1.0));
    let y = rng.0.random_range(margin..(arena.height - margin).max(margin + 1.0));
    Vec2::new(snap_pos(x), snap_pos(y))
}

/// A random spot with no living ship within [`SPAWN_CLEARANCE`], if one turns up in a few tries.
pub fn free_spot(rng: &mut SimRng, arena: Arena, index: &ShipIndex) -> Vec2 {
    let mut spot = random_spot(rng, arena, SHIP_RADIUS * 2.0);
    for _ in 0..SPAWN_TRIES {
        let mut crowded = false;
        let reach = Vec2::splat(SPAWN_CLEARANCE);
        index.grid.for_each_in((spot - reach).into(), (spot + reach).into(), |i| {
            crowded |= index.positions[i as usize].distance(spot) < SPAWN_CLEARANCE;
        });
        if !crowded {
            break;
        }
        spot = random_spot(rng, arena, SHIP_RADIUS * 2.0);
    }
    spot
}

/// Brings back every dead ship whose respawn tick has come, at full health in a free spot.
pub fn respawn(
    clock: Res<Clock>,
    field: Res<Field>,
    index: Res<ShipIndex>,
    mut rng: ResMut<SimRng>,
    mut ships: Query<(&mut Ship, &mut Motion, &mut Trail)>,
) {
    for (mut ship, mut motion, mut trail) in &mut ships {
        if ship.respawn_at.is_some_and(|t| clock.tick >= t) {
            let spot = free_spot(&mut rng, field.arena, &index);
            *motion = Motion { now: ShipMotion { x: spot.x, y: spot.y, vx: 0.0, vy: 0.0 }, prev: spot };
            // A new life: shots rewound to before it cannot hit this ship.
            *trail = Trail::new(clock.tick.after(1), spot);
            ship.hp = SHIP_MAX_HP;
            ship.respawn_at = None;
            ship.cooldown = 0;
        }
    }
}

/// Gives each orb touched by a living ship to that ship and moves the orb to a new spot. A heal
/// orb is only taken by a ship that is hurt.
pub fn pick_up_orbs(
    field: Res<Field>,
    index: Res<ShipIndex>,
    mut rng: ResMut<SimRng>,
    mut orbs: Query<&mut Orb>,
    mut ships: Query<&mut Ship>,
) {
    let reach = SHIP_RADIUS + ORB_RADIUS;
    for mut orb in &mut orbs {
        let mut taker = None;
        let pos = orb.pos;
        index.grid.for_each_in((pos - reach).into(), (pos + reach).into(), |i| {
            if taker.is_none() && index.positions[i as usize].distance(pos) <= reach {
                taker = Some(index.entities[i as usize]);
            }
        });
        let Some(Ok(mut ship)) = taker.map(|e| ships.get_mut(e)) else {
            continue;
        };
        if !ship.alive() {
            continue;
        }
        match orb.kind {
            EntityKind::HealOrb if ship.hp < SHIP_MAX_HP => {
                ship.hp = ship.hp.saturating_add(ORB_HEAL).min(SHIP_MAX_HP);
            }
            EntityKind::ScoreOrb => ship.score += ORB_SCORE,
            _ => continue,
        }
        orb.pos = random_spot(&mut rng, field.arena, ORB_RADIUS * 2.0);
    }
}
