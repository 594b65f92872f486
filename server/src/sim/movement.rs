//! Applying inputs and moving ships with the shared movement step.

use crate::sim::components::{Motion, Pilot, Ship};
use crate::sim::resources::{Clock, Field};
use arena_protocol::rules::step_ship;
use bevy_ecs::prelude::*;
use glam::Vec2;

/// Most inputs a client may have waiting; past this the oldest are dropped so its input delay
/// stays bounded (the client reconciles from the acknowledged sequence number).
pub const MAX_QUEUED_INPUTS: usize = 16;

/// Takes the next queued input of every pilot (or repeats the last one when none arrived).
pub fn apply_inputs(mut pilots: Query<(&mut Pilot, &mut Ship)>) {
    for (mut pilot, mut ship) in &mut pilots {
        while pilot.queue.len() > MAX_QUEUED_INPUTS {
            pilot.queue.pop_front();
        }
        if let Some(input) = pilot.queue.pop_front() {
            pilot.ack_seq = input.seq;
            pilot.current = input;
        }
        ship.aim = pilot.current.aim;
    }
}

/// Moves every living ship one tick under its current input.
pub fn move_ships(clock: Res<Clock>, field: Res<Field>, mut ships: Query<(&Pilot, &Ship, &mut Motion)>) {
    for (pilot, ship, mut motion) in &mut ships {
        motion.prev = Vec2::new(motion.now.x, motion.now.y);
        if ship.alive() {
            motion.now = step_ship(motion.now, pilot.current.buttons, clock.dt, field.arena);
        }
    }
}
