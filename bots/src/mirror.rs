//! A bot's copy of the world: the latest snapshot, the roster and what it has seen.

use arena_protocol::quantize::{pos_from_wire, vel_from_wire};
use arena_protocol::{GameEvent, NetId, ShipState, Snapshot, Tick, Welcome};
use std::collections::HashMap;

/// What one client knows of the room, built only from what the server sent it.
#[derive(Clone, Debug, Default)]
pub struct WorldMirror {
    /// The own ship's id (from `Welcome`).
    pub my_id: NetId,
    /// Ticks per second of the room.
    pub tick_hz: u16,
    /// Arena size in world units.
    pub arena: (f32, f32),
    /// Tick of the latest snapshot.
    pub tick: Tick,
    /// Last input `seq` the server acknowledged.
    pub ack_seq: u32,
    /// The latest snapshot.
    pub snapshot: Snapshot,
    /// Display names by id.
    pub names: HashMap<NetId, String>,
}

impl WorldMirror {
    /// A mirror for the room described by `welcome`.
    #[must_use]
    pub fn new(welcome: &Welcome) -> WorldMirror {
        WorldMirror {
            my_id: welcome.your_id,
            tick_hz: welcome.tick_hz,
            arena: (welcome.arena_width as f32, welcome.arena_height as f32),
            tick: welcome.tick,
            ack_seq: 0,
            snapshot: Snapshot::default(),
            names: welcome
                .players
                .iter()
                .map(|p| (p.id, p.name.clone()))
                .collect(),
        }
    }

    /// Replaces the world with a newer full snapshot.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        self.tick = snapshot.tick;
        self.ack_seq = snapshot.ack_seq;
        self.snapshot = snapshot;
    }

    /// Keeps the roster up to date.
    pub fn apply_event(&mut self, event: &GameEvent) {
        match event {
            GameEvent::Joined(p) => {
                self.names.insert(p.id, p.name.clone());
            }
            GameEvent::Left { id } => {
                self.names.remove(id);
            }
            GameEvent::Kill { .. } => {}
        }
    }

    /// The own ship in the latest snapshot.
    #[must_use]
    pub fn me(&self) -> Option<&ShipState> {
        self.snapshot.ships.iter().find(|s| s.id == self.my_id)
    }

    /// Other ships in the latest snapshot.
    pub fn others(&self) -> impl Iterator<Item = &ShipState> {
        let me = self.my_id;
        self.snapshot.ships.iter().filter(move |s| s.id != me)
    }
}

/// A ship's position in world units.
#[must_use]
pub fn position(s: &ShipState) -> (f32, f32) {
    (pos_from_wire(s.x), pos_from_wire(s.y))
}

/// A ship's velocity in world units per second.
#[must_use]
pub fn velocity(s: &ShipState) -> (f32, f32) {
    (vel_from_wire(s.vx), vel_from_wire(s.vy))
}
