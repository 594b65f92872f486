//! The world's resources: the clock, the room's fixed settings, its random numbers, the per-tick
//! ship index and the events the tick produced. (Net ids have their own module, [`super::net_ids`].)

use crate::sim::spatial::Grid;
use arena_protocol::rules::Arena;
use arena_protocol::{GameEvent, Tick};
use bevy_ecs::prelude::*;
use rand_pcg::Pcg64Mcg;

/// The tick being simulated and its length. The only notion of time inside the simulation.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Clock {
    /// The tick the current `step` simulates.
    pub tick: Tick,
    /// Ticks per second.
    pub tick_hz: u16,
    /// Seconds per tick, as [`arena_protocol::rules::tick_dt`] computes it.
    pub dt: f32,
}

impl Clock {
    /// A duration in seconds as a whole number of ticks (at least one).
    #[must_use]
    pub fn ticks(&self, seconds: f32) -> u32 {
        ((seconds * f32::from(self.tick_hz)).ceil() as u32).max(1)
    }
}

/// Fixed settings of the room.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Field {
    /// The playing field.
    pub arena: Arena,
    /// Lag compensation rewinds a shot by at most this many ticks.
    pub max_rewind_ticks: f32,
}

/// The room's random numbers: a named, seedable generator, so a seed replays a room.
#[derive(Resource, Debug)]
pub struct SimRng(pub Pcg64Mcg);

/// Where the ships are after this tick's movement: a grid of indices into `entities`.
#[derive(Resource, Debug)]
pub struct ShipIndex {
    /// Buckets of indices into `entities`.
    pub grid: Grid,
    /// Alive ships, indexed by the grid.
    pub entities: Vec<Entity>,
    /// Their positions, in the same order.
    pub positions: Vec<glam::Vec2>,
}

/// What happened this tick that clients must hear about. The room drains it after each step.
#[derive(Resource, Debug, Default)]
pub struct Happenings {
    /// Events in the order they happened.
    pub events: Vec<GameEvent>,
}

/// What lag compensation did: shots fired, how far back they were tested, and how many wanted to
/// go further back than the cap allows (their shooters must lead their targets by the rest).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct ShotStats {
    /// Projectiles fired.
    pub fired: u64,
    /// Shots whose shooter saw the targets further back than `--max-rewind`.
    pub capped: u64,
    /// Sum of the rewinds the shooters asked for, in ticks (before the cap).
    pub wanted_ticks: f64,
}
