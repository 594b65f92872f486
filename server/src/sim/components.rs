//! The components of Arena's world. Ships, projectiles and orbs each carry a [`Net`] id; the
//! replication step reads these, never the other way round.

use arena_protocol::rules::ShipMotion;
use arena_protocol::{EntityKind, InputFrame, NetId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;
use std::collections::VecDeque;

/// The network identity of a replicated entity.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Received inputs not yet applied, in arrival (= `seq`) order.
    pub queue: VecDeque<InputFrame>,
    /// The input applied this tick (repeated when none arrived in time).
    pub current: InputFrame,
    /// `seq` of the last input applied; 0 before the first.
    pub ack_seq: u32,
}

/// A projectile in flight: where it is, where it goes, who fired it, when it dies. Position and
/// velocity stay on the wire grid ([`arena_protocol::rules::step_projectile`]) so clients fly it
/// exactly as the server does.
#[derive(Component, Clone, Copy, Debug)]
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
}

/// A pickup lying in the arena.
#[derive(Component, Clone, Copy, Debug)]
pub struct Orb {
    /// Where it lies.
    pub pos: Vec2,
    /// What it gives: [`EntityKind::HealOrb`] or [`EntityKind::ScoreOrb`].
    pub kind: EntityKind,
}
