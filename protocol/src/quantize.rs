//! Fixed-point quantization of the values that go on the wire.
//!
//! The server snaps its own authoritative ship state to these grids after every movement step,
//! so the values a client receives are exactly the server's, and a client replaying its inputs
//! from them with [`crate::rules::step_ship`] computes exactly what the server will compute.

use std::f32::consts::TAU;

/// Positions travel in units of 1/16 world unit.
pub const POS_SCALE: f32 = 16.0;
/// Velocities travel in units of 1/16 world unit per second.
pub const VEL_SCALE: f32 = 16.0;
/// Angles travel as `u16`: 65,536 steps per full turn (about 0.0055°).
pub const ANGLE_STEPS: f32 = 65_536.0;

/// A world coordinate to its fixed-point wire value (nearest 1/16 unit).
#[must_use]
pub fn pos_to_wire(v: f32) -> i32 {
    (v * POS_SCALE).round() as i32
}

/// A fixed-point wire position back to world units.
#[must_use]
pub fn pos_from_wire(q: i32) -> f32 {
    q as f32 / POS_SCALE
}

/// A velocity component to its fixed-point wire value (nearest 1/16 unit per second).
#[must_use]
pub fn vel_to_wire(v: f32) -> i32 {
    (v * VEL_SCALE).round() as i32
}

/// A fixed-point wire velocity back to units per second.
#[must_use]
pub fn vel_from_wire(q: i32) -> f32 {
    q as f32 / VEL_SCALE
}

/// Snaps a position to the wire grid: `pos_from_wire(pos_to_wire(v))`.
#[must_use]
pub fn snap_pos(v: f32) -> f32 {
    pos_from_wire(pos_to_wire(v))
}

/// Snaps a velocity to the wire grid, rounding towards zero so that drag always brings a ship
/// fully to rest (rounding to nearest would leave it creeping at 1/16 unit per second forever).
#[must_use]
pub fn snap_vel(v: f32) -> f32 {
    (v * VEL_SCALE).trunc() / VEL_SCALE
}

/// An angle in radians (any range) to a `u16` fraction of a full turn.
#[must_use]
pub fn angle_to_wire(radians: f32) -> u16 {
    let turns = (radians / TAU).rem_euclid(1.0);
    ((turns * ANGLE_STEPS).round() as u32 & 0xFFFF) as u16
}

/// A `u16` fraction of a turn back to radians in `[0, 2π)`.
#[must_use]
pub fn angle_from_wire(q: u16) -> f32 {
    f32::from(q) / ANGLE_STEPS * TAU
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn position_round_trip_is_within_half_a_step(v in -100_000.0f32..100_000.0) {
            let back = pos_from_wire(pos_to_wire(v));
            prop_assert!((back - v).abs() <= 0.5 / POS_SCALE + 1e-3, "{v} came back as {back}");
        }

        #[test]
        fn snapped_positions_are_fixed_points(q in -1_600_000i32..1_600_000) {
            prop_assert_eq!(pos_to_wire(pos_from_wire(q)), q);
            prop_assert_eq!(vel_to_wire(vel_from_wire(q)), q);
        }

        #[test]
        fn angles_round_trip_within_one_step(a in -20.0f32..20.0) {
            let back = angle_from_wire(angle_to_wire(a));
            let diff = (back - a).rem_euclid(TAU);
            let err = diff.min(TAU - diff);
            prop_assert!(err <= TAU / ANGLE_STEPS, "{a} came back as {back}");
        }

        #[test]
        fn wire_angles_are_fixed_points(q in any::<u16>()) {
            prop_assert_eq!(angle_to_wire(angle_from_wire(q)), q);
        }
    }

    #[test]
    fn a_full_turn_wraps_to_zero() {
        assert_eq!(angle_to_wire(TAU), 0);
        assert_eq!(angle_to_wire(-TAU / 4.0), angle_to_wire(3.0 * TAU / 4.0));
    }
}
