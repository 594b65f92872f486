//! The game rules both ends run: ship movement and the constants of combat.
//!
//! [`step_ship`] is the one movement step. The server applies it to every ship each tick; the
//! browser (through the wasm build of this crate) and the bots replay it to predict their own ship.
//! It uses only `+ − × ÷` and `sqrt` on `f32`, which IEEE 754 defines exactly, and ends by snapping
//! to the wire grid, so every platform computes the same bits from the same inputs.

use crate::quantize::{snap_pos, snap_vel};
use serde::{Deserialize, Serialize};

/// Acceleration from the move keys, in units per second².
pub const SHIP_ACCEL: f32 = 1_500.0;
/// Linear drag: each tick the velocity loses `SHIP_DRAG × dt` of itself.
pub const SHIP_DRAG: f32 = 3.0;
/// Speed cap in units per second.
pub const SHIP_MAX_SPEED: f32 = 420.0;
/// Collision radius of a ship.
pub const SHIP_RADIUS: f32 = 20.0;
/// Hit points of a fresh ship.
pub const SHIP_MAX_HP: u8 = 100;
/// Speed of a projectile in units per second.
pub const PROJECTILE_SPEED: f32 = 950.0;
/// Collision radius of a projectile.
pub const PROJECTILE_RADIUS: f32 = 4.0;
/// How long a projectile flies, in seconds.
pub const PROJECTILE_LIFETIME_S: f32 = 1.1;
/// Damage of one hit.
pub const PROJECTILE_DAMAGE: u8 = 20;
/// Minimum time between two shots of one ship, in seconds.
pub const FIRE_COOLDOWN_S: f32 = 0.22;
/// Time from death to respawn, in seconds.
pub const RESPAWN_DELAY_S: f32 = 2.5;
/// Pickup radius of an orb.
pub const ORB_RADIUS: f32 = 10.0;
/// Hit points restored by a heal orb.
pub const ORB_HEAL: u8 = 25;
/// Score for picking up a score orb.
pub const ORB_SCORE: u32 = 1;
/// Score for a kill.
pub const KILL_SCORE: u32 = 10;
/// Longest player name, in characters, after [`sanitize_name`].
pub const MAX_NAME_CHARS: usize = 16;

/// The pressed buttons of one input: a bit set of [`Buttons::UP`], [`Buttons::DOWN`],
/// [`Buttons::LEFT`], [`Buttons::RIGHT`] and [`Buttons::FIRE`]. Unknown bits are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buttons(pub u8);

impl Buttons {
    /// Thrust towards −y (up on screen).
    pub const UP: u8 = 1;
    /// Thrust towards +y.
    pub const DOWN: u8 = 2;
    /// Thrust towards −x.
    pub const LEFT: u8 = 4;
    /// Thrust towards +x.
    pub const RIGHT: u8 = 8;
    /// Fire a projectile along the aim angle (subject to the cooldown).
    pub const FIRE: u8 = 16;

    /// Whether every bit of `mask` is pressed.
    #[must_use]
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// The unit thrust direction of the move keys (opposite keys cancel; diagonals are
    /// normalised), or zero.
    #[must_use]
    pub fn thrust(self) -> (f32, f32) {
        let axis = |neg: u8, pos: u8| -> f32 {
            match (self.has(neg), self.has(pos)) {
                (true, false) => -1.0,
                (false, true) => 1.0,
                _ => 0.0,
            }
        };
        let (x, y) = (axis(Self::LEFT, Self::RIGHT), axis(Self::UP, Self::DOWN));
        if x != 0.0 && y != 0.0 {
            (x * std::f32::consts::FRAC_1_SQRT_2, y * std::f32::consts::FRAC_1_SQRT_2)
        } else {
            (x, y)
        }
    }
}

/// Position and velocity of a ship: what movement reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShipMotion {
    /// Centre, in world units.
    pub x: f32,
    /// Centre, in world units.
    pub y: f32,
    /// Velocity, in units per second.
    pub vx: f32,
    /// Velocity, in units per second.
    pub vy: f32,
}

/// Size of the playing field: `[0, width] × [0, height]` in world units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arena {
    /// Width in world units.
    pub width: f32,
    /// Height in world units.
    pub height: f32,
}

impl Arena {
    /// The default 4000 × 4000 arena.
    pub const DEFAULT: Arena = Arena { width: 4_000.0, height: 4_000.0 };
}

/// Length of one tick in seconds at `tick_hz`, computed the one way every peer computes it.
#[must_use]
pub fn tick_dt(tick_hz: u16) -> f32 {
    1.0 / f32::from(tick_hz.max(1))
}

/// Advances a ship by one tick of `dt` seconds under `buttons`: thrust, drag, speed cap, move,
/// stop at the arena walls, then snap position and velocity to the wire grid.
#[must_use]
pub fn step_ship(m: ShipMotion, buttons: Buttons, dt: f32, arena: Arena) -> ShipMotion {
    let (tx, ty) = buttons.thrust();
    let mut vx = m.vx + tx * SHIP_ACCEL * dt;
    let mut vy = m.vy + ty * SHIP_ACCEL * dt;
    let keep = 1.0 - SHIP_DRAG * dt;
    vx *= keep;
    vy *= keep;
    let speed = (vx * vx + vy * vy).sqrt();
    if speed > SHIP_MAX_SPEED {
        let k = SHIP_MAX_SPEED / speed;
        vx *= k;
        vy *= k;
    }
    let mut x = m.x + vx * dt;
    let mut y = m.y + vy * dt;
    let (lo_x, hi_x) = (SHIP_RADIUS, arena.width - SHIP_RADIUS);
    let (lo_y, hi_y) = (SHIP_RADIUS, arena.height - SHIP_RADIUS);
    // `max`/`min` rather than `clamp`: same result for finite values, but no panic on an arena
    // narrower than a ship, and no float-formatting panic message bloating the wasm build.
    if x < lo_x || x > hi_x {
        x = x.max(lo_x).min(hi_x);
        vx = 0.0;
    }
    if y < lo_y || y > hi_y {
        y = y.max(lo_y).min(hi_y);
        vy = 0.0;
    }
    ShipMotion { x: snap_pos(x), y: snap_pos(y), vx: snap_vel(vx), vy: snap_vel(vy) }
}

/// Advances a projectile by one tick: straight flight, position snapped to the wire grid (its
/// velocity is on the grid from the moment it is fired), so clients can fly it exactly as the
/// server does.
#[must_use]
pub fn step_projectile(x: f32, y: f32, vx: f32, vy: f32, dt: f32) -> (f32, f32) {
    (snap_pos(x + vx * dt), snap_pos(y + vy * dt))
}

/// Distance from a ship's centre at which its shots appear: just clear of its own hull.
pub const MUZZLE_REACH: f32 = SHIP_RADIUS + PROJECTILE_RADIUS + 2.0;

/// A new shot of a ship at `(x, y)` aiming `aim` (a 16-bit fraction of a turn): its position at
/// the ship's nose and its velocity, both on the wire grid, as `(x, y, vx, vy)`. The server fires
/// with it; a client predicting its own shots places them with it too (`sin`/`cos` may differ in
/// the last bit between platforms, which the snapping almost always hides).
#[must_use]
pub fn muzzle(x: f32, y: f32, aim: u16) -> (f32, f32, f32, f32) {
    let (sin, cos) = crate::quantize::angle_from_wire(aim).sin_cos();
    let (nx, ny) = (x + cos * MUZZLE_REACH, y + sin * MUZZLE_REACH);
    (snap_pos(nx), snap_pos(ny), snap_vel(cos * PROJECTILE_SPEED), snap_vel(sin * PROJECTILE_SPEED))
}

/// Cleans a requested player name: control characters dropped, whitespace trimmed, at most
/// [`MAX_NAME_CHARS`] characters; an empty result becomes `"pilot"`.
#[must_use]
pub fn sanitize_name(requested: &str) -> String {
    let cleaned: String =
        requested.chars().filter(|c| !c.is_control()).collect::<String>().trim().chars().take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim_end().to_owned();
    if cleaned.is_empty() { "pilot".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::{pos_to_wire, vel_to_wire};

    const DT: f32 = 1.0 / 30.0;

    fn at_rest(x: f32, y: f32) -> ShipMotion {
        ShipMotion { x, y, vx: 0.0, vy: 0.0 }
    }

    #[test]
    fn thrust_accelerates_towards_the_pressed_key_and_drag_stops_the_ship() {
        let mut m = at_rest(2000.0, 2000.0);
        for _ in 0..30 {
            m = step_ship(m, Buttons(Buttons::RIGHT), DT, Arena::DEFAULT);
        }
        assert!(m.x > 2100.0, "a second of thrust to the right should move far right, got {m:?}");
        assert!(m.vx > 0.0 && m.vy == 0.0, "velocity should point right, got {m:?}");
        for _ in 0..120 {
            m = step_ship(m, Buttons::default(), DT, Arena::DEFAULT);
        }
        assert_eq!(m.vx, 0.0, "four seconds of drag should bring the ship to rest");
    }

    #[test]
    fn speed_never_exceeds_the_cap() {
        let mut m = at_rest(100.0, 100.0);
        for _ in 0..300 {
            m = step_ship(m, Buttons(Buttons::DOWN | Buttons::RIGHT), DT, Arena::DEFAULT);
            let speed = (m.vx * m.vx + m.vy * m.vy).sqrt();
            assert!(speed <= SHIP_MAX_SPEED + 0.1, "speed {speed} passed the cap");
        }
    }

    #[test]
    fn walls_stop_the_ship_inside_the_arena() {
        let mut m = at_rest(30.0, 30.0);
        for _ in 0..60 {
            m = step_ship(m, Buttons(Buttons::UP | Buttons::LEFT), DT, Arena::DEFAULT);
        }
        assert_eq!((m.x, m.y), (SHIP_RADIUS, SHIP_RADIUS), "the ship should rest on the corner");
    }

    #[test]
    fn the_step_output_is_on_the_wire_grid() {
        let mut m = at_rest(1234.567, 987.654);
        for i in 0..50u8 {
            m = step_ship(m, Buttons(i % 16), DT, Arena::DEFAULT);
            assert_eq!(m.x, crate::quantize::pos_from_wire(pos_to_wire(m.x)));
            assert_eq!(m.vy, crate::quantize::vel_from_wire(vel_to_wire(m.vy)));
        }
    }

    #[test]
    fn opposite_keys_cancel() {
        assert_eq!(Buttons(Buttons::LEFT | Buttons::RIGHT).thrust(), (0.0, 0.0));
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("  ace\u{7}  "), "ace");
        assert_eq!(sanitize_name(""), "pilot");
        assert_eq!(sanitize_name("abcdefghijklmnopqrstuvwxyz").chars().count(), MAX_NAME_CHARS);
    }
}
