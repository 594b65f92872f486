//! The replicated state of one entity as both ends hold it: quantized, kind-tagged, hashable,
//! and predictable one or more ticks ahead with the shared rules.

use crate::NetId;
use crate::quantize::{pos_from_wire, pos_to_wire, vel_from_wire, vel_to_wire};
use crate::rules::{Arena, Buttons, ShipMotion, step_projectile, step_ship, tick_dt};
use serde::{Deserialize, Serialize};

/// Ticks a delta may extrapolate across. A client further behind than this gets deltas
/// against its baseline as it is (no prediction), which keeps the encoder's work bounded.
pub const MAX_PREDICT_TICKS: u32 = 8;

/// Ships' aim travels in 1/256 of a turn (1.4°): plenty to draw a ship by, and coarse enough that
/// a slowly turning ship changes it only every few ticks. The simulation keeps the input's full
/// 16-bit aim for firing.
pub const AIM_STEPS: u16 = 256;

/// What an entity is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum EntityKind {
    /// A player's ship.
    #[default]
    Ship = 0,
    /// A projectile in flight.
    Projectile = 1,
    /// An orb that heals.
    HealOrb = 2,
    /// An orb that scores.
    ScoreOrb = 3,
}

impl EntityKind {
    /// The kind with this wire number.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<EntityKind> {
        Some(match v {
            0 => EntityKind::Ship,
            1 => EntityKind::Projectile,
            2 => EntityKind::HealOrb,
            3 => EntityKind::ScoreOrb,
            _ => return None,
        })
    }
}

/// One entity, quantized: positions in 1/16 unit, velocities in 1/16 unit/s, aim in 1/256 turn.
/// Fields that do not apply to a kind stay zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityState {
    /// Network id.
    pub id: NetId,
    /// What it is.
    pub kind: EntityKind,
    /// Fixed-point x.
    pub x: i32,
    /// Fixed-point y.
    pub y: i32,
    /// Fixed-point x velocity (ships, projectiles).
    pub vx: i32,
    /// Fixed-point y velocity (ships, projectiles).
    pub vy: i32,
    /// Aim in 1/256 of a turn (ships).
    pub aim: u16,
    /// Hit points (ships).
    pub hp: u8,
    /// [`EntityState::ALIVE`] and, in the high nibble, the move buttons applied this tick (ships).
    pub flags: u8,
    /// Score (ships).
    pub score: u32,
    /// The ship that fired it (projectiles).
    pub owner: NetId,
}

/// Constants a prediction needs: tick length and arena.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Physics {
    /// Seconds per tick.
    pub dt: f32,
    /// The playing field.
    pub arena: Arena,
}

impl Physics {
    /// The physics of a room with this tick rate and arena.
    #[must_use]
    pub fn new(tick_hz: u16, arena: Arena) -> Physics {
        Physics { dt: tick_dt(tick_hz), arena }
    }
}

impl EntityState {
    /// Flag: the ship is in play.
    pub const ALIVE: u8 = 1;

    /// Whether a ship is in play.
    #[must_use]
    pub fn alive(&self) -> bool {
        self.flags & Self::ALIVE != 0
    }

    /// The move buttons a ship applied in its last tick.
    #[must_use]
    pub fn buttons(&self) -> Buttons {
        Buttons(self.flags >> 4)
    }

    /// Ship flags from liveness and the applied buttons (only the four move bits are kept).
    #[must_use]
    pub fn ship_flags(alive: bool, buttons: Buttons) -> u8 {
        u8::from(alive) | ((buttons.0 & 0x0f) << 4)
    }

    /// Position in world units.
    #[must_use]
    pub fn position(&self) -> (f32, f32) {
        (pos_from_wire(self.x), pos_from_wire(self.y))
    }

    /// Velocity in world units per second.
    #[must_use]
    pub fn velocity(&self) -> (f32, f32) {
        (vel_from_wire(self.vx), vel_from_wire(self.vy))
    }

    /// Where this entity will be `n` ticks later if nothing but the rules act on it: a living
    /// ship keeps its buttons and steps with [`step_ship`], a projectile flies on, an orb stays.
    /// Both ends compute this identically; deltas on the wire are taken against it.
    #[must_use]
    pub fn predict(&self, n: u32, physics: &Physics) -> EntityState {
        if n == 0 || n > MAX_PREDICT_TICKS {
            return *self;
        }
        let mut out = *self;
        match self.kind {
            EntityKind::Ship if self.alive() => {
                let (x, y) = self.position();
                let (vx, vy) = self.velocity();
                let mut m = ShipMotion { x, y, vx, vy };
                for _ in 0..n {
                    m = step_ship(m, self.buttons(), physics.dt, physics.arena);
                }
                (out.x, out.y, out.vx, out.vy) =
                    (pos_to_wire(m.x), pos_to_wire(m.y), vel_to_wire(m.vx), vel_to_wire(m.vy));
            }
            EntityKind::Projectile => {
                let (mut x, mut y) = self.position();
                let (vx, vy) = self.velocity();
                for _ in 0..n {
                    (x, y) = step_projectile(x, y, vx, vy, physics.dt);
                }
                (out.x, out.y) = (pos_to_wire(x), pos_to_wire(y));
            }
            _ => {}
        }
        out
    }

    /// A 32-bit FNV-1a hash of every field; snapshot checksums add these up.
    #[must_use]
    pub fn hash32(&self) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
        };
        eat(&self.id.0.to_le_bytes());
        eat(&[self.kind as u8, self.hp, self.flags]);
        for v in [self.x, self.y, self.vx, self.vy] {
            eat(&v.to_le_bytes());
        }
        eat(&self.aim.to_le_bytes());
        eat(&self.score.to_le_bytes());
        eat(&self.owner.0.to_le_bytes());
        h
    }
}

/// The checksum of a set of entities: the wrapping sum of their hashes (order does not matter).
#[must_use]
pub fn checksum<'a>(entities: impl IntoIterator<Item = &'a EntityState>) -> u32 {
    entities.into_iter().fold(0u32, |sum, e| sum.wrapping_add(e.hash32()))
}

/// An input's 16-bit aim (1/65536 turn) to a ship's replicated aim (1/256 turn), rounded.
#[must_use]
pub fn aim_from_input(aim: u16) -> u16 {
    (((u32::from(aim) + 128) >> 8) & 0xff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::angle_to_wire;

    #[test]
    fn predicting_a_ship_is_stepping_it() {
        let physics = Physics::new(30, Arena::DEFAULT);
        let ship = EntityState {
            id: NetId(1),
            kind: EntityKind::Ship,
            x: pos_to_wire(500.0),
            y: pos_to_wire(500.0),
            vx: vel_to_wire(100.0),
            flags: EntityState::ship_flags(true, Buttons(Buttons::RIGHT)),
            ..Default::default()
        };
        let two = ship.predict(2, &physics);
        let one_one = ship.predict(1, &physics).predict(1, &physics);
        assert_eq!(two, one_one, "two steps at once should equal one step twice");
        assert!(two.x > ship.x && two.vx > ship.vx, "thrust right should speed the ship up to the right");
        let dead = EntityState { flags: 0, ..ship };
        assert_eq!(dead.predict(3, &physics), dead, "a dead ship does not move");
        assert_eq!(ship.predict(MAX_PREDICT_TICKS + 1, &physics), ship, "beyond the horizon nothing is predicted");
    }

    #[test]
    fn hashes_differ_when_any_field_differs() {
        let a = EntityState { id: NetId(3), kind: EntityKind::Ship, x: 10, ..Default::default() };
        for b in [
            EntityState { x: 11, ..a },
            EntityState { hp: 1, ..a },
            EntityState { flags: 1, ..a },
            EntityState { score: 1, ..a },
            EntityState { aim: 1, ..a },
            EntityState { kind: EntityKind::Projectile, ..a },
        ] {
            assert_ne!(a.hash32(), b.hash32(), "{b:?} should hash differently from {a:?}");
        }
        assert_eq!(checksum([&a, &EntityState::default()]), checksum([&EntityState::default(), &a]));
    }

    #[test]
    fn input_aims_round_to_eight_bits() {
        assert_eq!(aim_from_input(0), 0);
        assert_eq!(aim_from_input(0xff80), 0, "just below a full turn rounds to zero");
        assert_eq!(aim_from_input(angle_to_wire(std::f32::consts::PI)), 128);
    }
}
