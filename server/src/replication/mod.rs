//! Replication: the world as each client should see it, as snapshot bytes.
//!
//! Once per tick [`Replicator::capture`] quantizes the whole world into id-sorted tables and
//! files every entity in a grid. Then, per client, [`Replicator::encode_for`] picks the entities
//! inside that client's view (plus a margin, and always its own ship) and encodes a full-state
//! [`Snapshot`] into a reused buffer. Sans-IO: bytes out, no sockets, no clock.

use crate::sim::GRID_CELL;
use crate::sim::components::{Motion, Net, Orb, Projectile, Ship};
use crate::sim::spatial::Grid;
use arena_protocol::codec::encode_server_into;
use arena_protocol::quantize::{pos_from_wire, pos_to_wire, vel_to_wire};
use arena_protocol::rules::Arena;
use arena_protocol::{NetId, OrbState, ProjectileState, ServerMsg, ShipState, Snapshot, Tick};
use bevy_ecs::prelude::*;

/// Extra distance beyond the view in which entities are still sent, so that nothing pops in at
/// the screen's edge.
pub const VIEW_MARGIN: f32 = 100.0;

const KIND_SHIFT: u32 = 30;
const SHIP: u32 = 0;
const PROJECTILE: u32 = 1;
const ORB: u32 = 2;
const INDEX_MASK: u32 = (1 << KIND_SHIFT) - 1;

/// Half-extents of the area a client receives around its own ship.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Half the width, in world units.
    pub half_width: f32,
    /// Half the height, in world units.
    pub half_height: f32,
}

/// The quantized world of one tick and the scratch space to cut it into per-client snapshots.
pub struct Replicator {
    view: View,
    tick: Tick,
    ships: Vec<ShipState>,
    projectiles: Vec<ProjectileState>,
    orbs: Vec<OrbState>,
    grid: Grid,
    picks: Vec<u32>,
    scratch: Snapshot,
    buf: Vec<u8>,
    ship_query: QueryState<(&'static Net, &'static Ship, &'static Motion)>,
    projectile_query: QueryState<(&'static Net, &'static Projectile)>,
    orb_query: QueryState<(&'static Net, &'static Orb)>,
}

impl Replicator {
    /// A replicator for `world`, whose clients see `view` around their ship.
    #[must_use]
    pub fn new(world: &mut World, arena: Arena, view: View) -> Replicator {
        Replicator {
            view,
            tick: Tick(0),
            ships: Vec::new(),
            projectiles: Vec::new(),
            orbs: Vec::new(),
            grid: Grid::new(arena.width, arena.height, GRID_CELL),
            picks: Vec::new(),
            scratch: Snapshot::default(),
            buf: Vec::new(),
            ship_query: world.query(),
            projectile_query: world.query(),
            orb_query: world.query(),
        }
    }

    /// Quantizes the world as it is at the end of the tick before `tick`, sorted by net id, and
    /// files every entity in the view grid.
    pub fn capture(&mut self, world: &World, tick: Tick) {
        self.tick = tick;
        self.ships.clear();
        self.ships.extend(
            self.ship_query
                .iter(world)
                .map(|(net, ship, motion)| ShipState {
                    id: net.0,
                    x: pos_to_wire(motion.now.x),
                    y: pos_to_wire(motion.now.y),
                    vx: vel_to_wire(motion.now.vx),
                    vy: vel_to_wire(motion.now.vy),
                    aim: ship.aim,
                    hp: ship.hp,
                    flags: if ship.alive() { ShipState::ALIVE } else { 0 },
                    score: ship.score,
                }),
        );
        self.ships.sort_unstable_by_key(|s| s.id);
        self.projectiles.clear();
        self.projectiles
            .extend(
                self.projectile_query
                    .iter(world)
                    .map(|(net, p)| ProjectileState {
                        id: net.0,
                        x: pos_to_wire(p.pos.x),
                        y: pos_to_wire(p.pos.y),
                        vx: vel_to_wire(p.vel.x),
                        vy: vel_to_wire(p.vel.y),
                        owner: p.owner_id,
                    }),
            );
        self.projectiles.sort_unstable_by_key(|p| p.id);
        self.orbs.clear();
        self.orbs
            .extend(self.orb_query.iter(world).map(|(net, orb)| OrbState {
                id: net.0,
                x: pos_to_wire(orb.pos.x),
                y: pos_to_wire(orb.pos.y),
                kind: orb.kind,
            }));
        self.orbs.sort_unstable_by_key(|o| o.id);

        self.grid.clear();
        let file = |grid: &mut Grid, kind: u32, i: usize, x: i32, y: i32| {
            grid.insert(
                pos_from_wire(x),
                pos_from_wire(y),
                (kind << KIND_SHIFT) | i as u32,
            );
        };
        for (i, s) in self.ships.iter().enumerate() {
            file(&mut self.grid, SHIP, i, s.x, s.y);
        }
        for (i, p) in self.projectiles.iter().enumerate() {
            file(&mut self.grid, PROJECTILE, i, p.x, p.y);
        }
        for (i, o) in self.orbs.iter().enumerate() {
            file(&mut self.grid, ORB, i, o.x, o.y);
        }
    }

    /// The quantized state of the ship `id` this tick, if it exists.
    #[must_use]
    pub fn ship(&self, id: NetId) -> Option<&ShipState> {
        self.ships
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| &self.ships[i])
    }

    /// Encodes the snapshot for the client whose ship is `viewer`: everything within its view
    /// (plus [`VIEW_MARGIN`]) and its own ship, with `ack_seq` its last applied input. The bytes
    /// stay valid until the next call.
    pub fn encode_for(&mut self, viewer: NetId, ack_seq: u32) -> &[u8] {
        let own = self.ships.binary_search_by_key(&viewer, |s| s.id).ok();
        let (cx, cy) = own.map_or((0.0, 0.0), |i| {
            (
                pos_from_wire(self.ships[i].x),
                pos_from_wire(self.ships[i].y),
            )
        });
        let (hw, hh) = (
            self.view.half_width + VIEW_MARGIN,
            self.view.half_height + VIEW_MARGIN,
        );
        let (min, max) = ((cx - hw, cy - hh), (cx + hw, cy + hh));

        self.picks.clear();
        let picks = &mut self.picks;
        let (ships, projectiles, orbs) = (&self.ships, &self.projectiles, &self.orbs);
        self.grid.for_each_in(min, max, |tagged| {
            let i = (tagged & INDEX_MASK) as usize;
            let (x, y) = match tagged >> KIND_SHIFT {
                SHIP => (ships[i].x, ships[i].y),
                PROJECTILE => (projectiles[i].x, projectiles[i].y),
                _ => (orbs[i].x, orbs[i].y),
            };
            let (x, y) = (pos_from_wire(x), pos_from_wire(y));
            if x >= min.0 && x <= max.0 && y >= min.1 && y <= max.1 {
                picks.push(tagged);
            }
        });
        if let Some(i) = own {
            picks.push((SHIP << KIND_SHIFT) | i as u32);
        }
        // Tagged indices sort by kind, then by table index, which is id order.
        picks.sort_unstable();
        picks.dedup();

        let mut snap = std::mem::take(&mut self.scratch);
        snap.tick = self.tick;
        snap.ack_seq = ack_seq;
        snap.ships.clear();
        snap.projectiles.clear();
        snap.orbs.clear();
        for &tagged in picks.iter() {
            let i = (tagged & INDEX_MASK) as usize;
            match tagged >> KIND_SHIFT {
                SHIP => snap.ships.push(ships[i]),
                PROJECTILE => snap.projectiles.push(projectiles[i]),
                _ => snap.orbs.push(orbs[i]),
            }
        }
        let msg = ServerMsg::Snapshot(snap);
        encode_server_into(&msg, &mut self.buf);
        let ServerMsg::Snapshot(snap) = msg else {
            unreachable!("built as a snapshot just above")
        };
        self.scratch = snap;
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Sim, SimSettings};
    use arena_protocol::decode_server;
    use arena_protocol::rules::ShipMotion;

    fn snapshot(bytes: &[u8]) -> Snapshot {
        match decode_server(bytes) {
            Ok(ServerMsg::Snapshot(s)) => s,
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }

    #[test]
    fn a_client_sees_what_is_in_view_and_always_itself() {
        let mut sim = Sim::new(SimSettings {
            tick_hz: 30,
            arena: Arena::DEFAULT,
            orbs: 200,
            seed: 3,
        });
        let (a, a_id) = sim.spawn_ship("a");
        let (b, b_id) = sim.spawn_ship("b");
        let (c, c_id) = sim.spawn_ship("c");
        for (e, x, y) in [(a, 500.0, 500.0), (b, 700.0, 600.0), (c, 3500.0, 3500.0)] {
            sim.world_mut().get_mut::<Motion>(e).expect("ship").now = ShipMotion {
                x,
                y,
                vx: 0.0,
                vy: 0.0,
            };
        }
        let view = View {
            half_width: 400.0,
            half_height: 300.0,
        };
        let mut rep = Replicator::new(sim.world_mut(), Arena::DEFAULT, view);
        rep.capture(sim.world_mut(), Tick(9));
        let snap = snapshot(rep.encode_for(a_id, 4));
        assert_eq!(snap.tick, Tick(9));
        assert_eq!(snap.ack_seq, 4);
        let ids: Vec<_> = snap.ships.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            vec![a_id, b_id],
            "a should see itself and b nearby, not c far away"
        );
        assert!(
            snap.orbs.windows(2).all(|w| w[0].id < w[1].id),
            "orbs should be sorted by id"
        );
        for o in &snap.orbs {
            let (x, y) = (pos_from_wire(o.x), pos_from_wire(o.y));
            assert!(
                (x - 500.0).abs() <= 500.0 && (y - 500.0).abs() <= 400.0,
                "orb {o:?} is outside a's view"
            );
        }
        let all_orbs_near_a = rep.orbs.iter().filter(|o| {
            (pos_from_wire(o.x) - 500.0).abs() <= 500.0
                && (pos_from_wire(o.y) - 500.0).abs() <= 400.0
        });
        assert_eq!(
            snap.orbs.len(),
            all_orbs_near_a.count(),
            "every orb in view should be sent"
        );
        let far = snapshot(rep.encode_for(c_id, 0));
        assert_eq!(
            far.ships.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![c_id]
        );
    }
}
