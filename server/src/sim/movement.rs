//! Applying inputs and moving ships with the shared movement step.

use crate::sim::components::{HISTORY_LEN, Motion, Pilot, Ship, Step, Trail};
use crate::sim::resources::{Clock, Field};
use arena_protocol::rules::step_ship;
use bevy_ecs::prelude::*;
use glam::Vec2;

/// Takes each pilot's input for this tick from its queue (see [`crate::sim::input_queue`]).
pub fn apply_inputs(mut pilots: Query<(&mut Pilot, &mut Ship, &Motion)>) {
    for (mut pilot, mut ship, motion) in &mut pilots {
        let pilot = &mut *pilot;
        let applied = pilot.queue.consume();
        pilot.current = applied.input;
        pilot.before = applied.before;
        if pilot.history.len() >= HISTORY_LEN {
            pilot.history.pop_front();
        }
        let consumed = applied.input.seq > pilot.ack_seq;
        pilot.history.push_back(Step {
            seq: if consumed { applied.input.seq } else { 0 },
            speculated: applied.speculated,
            before: applied.before.map(|b| b.buttons),
            buttons: applied.input.buttons,
            start: motion.now,
            alive: ship.alive(),
        });
        pilot.ack_seq = pilot.ack_seq.max(applied.input.seq);
        ship.aim = pilot.current.aim;
    }
}

/// Moves every living ship one tick under its current input (two steps while its pilot drains a
/// backlog: each input is one step, as the client predicted it) and records where it is now.
pub fn move_ships(clock: Res<Clock>, field: Res<Field>, mut ships: Query<(&Pilot, &Ship, &mut Motion, &mut Trail)>) {
    let state_tick = clock.tick.after(1);
    for (pilot, ship, mut motion, mut trail) in &mut ships {
        motion.prev = Vec2::new(motion.now.x, motion.now.y);
        if ship.alive() {
            if let Some(before) = pilot.before {
                motion.now = step_ship(motion.now, before.buttons, clock.dt, field.arena);
            }
            motion.now = step_ship(motion.now, pilot.current.buttons, clock.dt, field.arena);
        }
        trail.record(state_tick, motion.pos());
    }
}
