//! The components of Arena's world. Ships, projectiles and orbs each carry a [`Net`] id; the
//! replication step reads these, never the other way round.

use crate::sim::input_queue::{InputQueue, MAX_SPECULATED};
use arena_protocol::rules::{Buttons, ShipMotion};
use arena_protocol::{EntityKind, InputFrame, NetId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;
use std::collections::VecDeque;

/// The network identity of a replicated entity, from [`crate::sim::net_ids::NetIds`].
/// Immutable, and freed by a hook when the entity is despawned: an id cannot be changed or
/// dropped behind the pool's back.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[component(immutable, on_discard = crate::sim::net_ids::free_net_id)]
pub struct Net(pub NetId);

/// A player's ship: everything but its motion.
#[derive(Component, Clone, Debug)]
pub struct Ship {
    /// Sanitized display name.
    pub name: String,
    /// Hit points; 0 while dead.
    pub hp: u8,
    /// Points from kills and score orbs.
    pub score: u32,
    /// Aim as the last applied input gave it (1/65536 of a turn); replicated coarser.
    pub aim: u16,
    /// Ticks until the ship may fire again.
    pub cooldown: u32,
    /// `Some(t)` while dead: the tick at which the ship comes back.
    pub respawn_at: Option<Tick>,
}

impl Ship {
    /// Whether the ship is in play.
    #[must_use]
    pub fn alive(&self) -> bool {
        self.respawn_at.is_none()
    }
}

/// A ship's position and velocity now, and its position at the start of the tick (for swept
/// hit tests).
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Motion {
    /// State after this tick's movement.
    pub now: ShipMotion,
    /// Position before this tick's movement.
    pub prev: Vec2,
}

impl Motion {
    /// The current position as a vector.
    #[must_use]
    pub fn pos(&self) -> Vec2 {
        Vec2::new(self.now.x, self.now.y)
    }
}

/// The inputs of the client that steers a ship.
#[derive(Component, Clone, Debug, Default)]
pub struct Pilot {
    /// Received inputs not yet applied, and their timing.
    pub queue: InputQueue,
    /// The input applied this tick (speculated when none arrived in time).
    pub current: InputFrame,
    /// An earlier input also applied this tick, before `current` (draining a backlog).
    pub before: Option<InputFrame>,
    /// `seq` of the last input applied; 0 before the first.
    pub ack_seq: u32,
    /// The ship's last ticks, newest last, so that a late input that differs from what was
    /// speculated for it can be replayed.
    pub history: VecDeque<Step>,
}

/// Ticks of [`Pilot::history`] kept: as many as an input can be speculated for, and one more.
pub const HISTORY_LEN: usize = MAX_SPECULATED as usize + 1;

/// One tick of a ship's movement: where it started and which buttons moved it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The `seq` of the input applied (0: the ship held its input without one).
    pub seq: u32,
    /// Whether that input was speculated.
    pub speculated: bool,
    /// Buttons of an earlier input applied in the same tick (draining a backlog).
    pub before: Option<Buttons>,
    /// The buttons that moved the ship.
    pub buttons: Buttons,
    /// Position and velocity before the tick.
    pub start: ShipMotion,
    /// Whether the ship was in play (only a living ship moves).
    pub alive: bool,
}

/// Length of a ship's [`Trail`], in ticks: bounds how far lag compensation can rewind.
pub const TRAIL_LEN: usize = 64;

/// Where a ship was over the last [`TRAIL_LEN`] ticks of its current life, by snapshot tick (the
/// state a snapshot of that tick shows): lag compensation tests shots against it.
#[derive(Component, Clone, Debug)]
pub struct Trail {
    positions: [Vec2; TRAIL_LEN],
    /// The first tick of the current life (spawn or respawn).
    since: Tick,
    /// The newest tick recorded.
    latest: Tick,
}

impl Trail {
    /// A trail that starts at `tick` at `pos`.
    #[must_use]
    pub fn new(tick: Tick, pos: Vec2) -> Trail {
        let mut trail = Trail { positions: [pos; TRAIL_LEN], since: tick, latest: tick };
        trail.positions[tick.0 as usize % TRAIL_LEN] = pos;
        trail
    }

    /// Records the position of snapshot tick `tick` (the next after the newest).
    pub fn record(&mut self, tick: Tick, pos: Vec2) {
        self.positions[tick.0 as usize % TRAIL_LEN] = pos;
        self.latest = tick;
    }

    /// Replaces the newest position (the ship's present was replayed).
    pub fn amend_latest(&mut self, pos: Vec2) {
        self.positions[self.latest.0 as usize % TRAIL_LEN] = pos;
    }

    /// The position at a fractional snapshot tick, interpolated between the two recorded ticks
    /// around it; `None` if the ship was not there then in this life, or it is too long ago.
    #[must_use]
    pub fn at(&self, tick: f64) -> Option<Vec2> {
        let latest = f64::from(self.latest.0);
        if tick > latest + 1e-3 || tick < f64::from(self.since.0) || latest - tick >= (TRAIL_LEN - 1) as f64 {
            return None;
        }
        let tick = tick.min(latest);
        let i = tick.floor() as u32;
        let f = (tick - f64::from(i)) as f32;
        let a = self.positions[i as usize % TRAIL_LEN];
        if f == 0.0 {
            return Some(a);
        }
        let b = self.positions[(i as usize + 1) % TRAIL_LEN];
        Some(a + (b - a) * f)
    }
}

/// A projectile in flight: where it is, where it goes, who fired it, when it dies. Position and
/// velocity stay on the wire grid ([`arena_protocol::rules::step_projectile`]) so clients fly it
/// exactly as the server does.
///
/// A projectile holds its owner's net id in the [`crate::sim::net_ids::NetIds`] pool while it
/// exists (hooks), so a ship that left is not given to a new ship while its shots fly and name
/// it as their owner (on the wire and in kill events). `owner_id` must not change in place.
#[derive(Component, Clone, Copy, Debug)]
#[component(on_insert = crate::sim::net_ids::hold_owner_id, on_discard = crate::sim::net_ids::release_owner_id)]
pub struct Projectile {
    /// Current position.
    pub pos: Vec2,
    /// Velocity in units per second.
    pub vel: Vec2,
    /// The ship that fired it (it cannot hit its owner).
    pub owner: Entity,
    /// The owner's net id, for the wire and the kill feed.
    pub owner_id: NetId,
    /// The tick at which it disappears.
    pub expires: Tick,
    /// Lag compensation: how many ticks in the past the shooter saw the ships this projectile is
    /// tested against (0 to `--max-rewind`).
    pub rewind: f32,
}

/// A pickup lying in the arena.
#[derive(Component, Clone, Copy, Debug)]
pub struct Orb {
    /// Where it lies.
    pub pos: Vec2,
    /// What it gives: [`EntityKind::HealOrb`] or [`EntityKind::ScoreOrb`].
    pub kind: EntityKind,
}
