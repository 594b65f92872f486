//! The simulation: Arena's world in a `bevy_ecs` [`World`], advanced one fixed tick at a time.
//!
//! Sans-IO: [`Sim::step`] takes the inputs queued since the last step and advances exactly one
//! tick. It never reads a clock, touches a socket or knows about tokio; the room thread around it
//! decides when to step. Tests and benches drive it directly.

pub mod combat;
pub mod components;
pub mod input_queue;
pub mod life;
pub mod movement;
pub mod net_ids;
pub mod resources;
pub mod spatial;

use crate::sim::components::{Motion, Net, Orb, Pilot, Ship, Trail};
use crate::sim::net_ids::{NetIdPool, NetIds};
use crate::sim::resources::{Clock, Field, Happenings, ShipIndex, ShotStats, SimRng};
use crate::sim::spatial::Grid;
use arena_protocol::rules::{Arena, Buttons, SHIP_MAX_HP, ShipMotion, sanitize_name, step_ship, tick_dt};
use arena_protocol::{EntityKind, GameEvent, InputFrame, NetId, PlayerInfo, Tick};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleLabel;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// Side of a cell of the grids used for hit tests, pickups and views.
pub const GRID_CELL: f32 = 200.0;

/// The phases of one tick, run in this order.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TickSet {
    /// Take each pilot's next input.
    Input,
    /// Move ships with the shared movement step, then index where they are.
    Movement,
    /// Fly projectiles, hit, damage, kill; then fire new ones.
    Combat,
    /// Respawn the dead, hand out orbs.
    Life,
}

#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
struct TickSchedule;

/// Fixed settings of a simulation.
#[derive(Clone, Copy, Debug)]
pub struct SimSettings {
    /// Ticks per second.
    pub tick_hz: u16,
    /// The playing field.
    pub arena: Arena,
    /// Orbs scattered at start.
    pub orbs: u32,
    /// Seed of the room's random numbers.
    pub seed: u64,
    /// Lag compensation rewinds a shot by at most this many ticks (see
    /// [`components::TRAIL_LEN`] for the ceiling).
    pub max_rewind_ticks: f32,
}

/// Arena's world and the schedule that advances it.
pub struct Sim {
    world: World,
    schedule: Schedule,
}

impl Sim {
    /// A fresh world at tick 0 with its orbs scattered.
    #[must_use]
    pub fn new(settings: SimSettings) -> Sim {
        let mut world = World::new();
        world.insert_resource(Clock { tick: Tick(0), tick_hz: settings.tick_hz, dt: tick_dt(settings.tick_hz) });
        let max_rewind_ticks = settings.max_rewind_ticks.clamp(0.0, (components::TRAIL_LEN - 2) as f32);
        world.insert_resource(Field { arena: settings.arena, max_rewind_ticks });
        world.insert_resource(SimRng(Pcg64Mcg::seed_from_u64(settings.seed)));
        world.insert_resource(NetIds::default());
        world.insert_resource(Happenings::default());
        world.insert_resource(ShotStats::default());
        world.insert_resource(ShipIndex {
            grid: Grid::new(settings.arena.width, settings.arena.height, GRID_CELL),
            entities: Vec::new(),
            positions: Vec::new(),
        });

        let mut schedule = Schedule::new(TickSchedule);
        schedule.configure_sets((TickSet::Input, TickSet::Movement, TickSet::Combat, TickSet::Life).chain());
        schedule.add_systems((
            movement::apply_inputs.in_set(TickSet::Input),
            (movement::move_ships, combat::index_ships).chain().in_set(TickSet::Movement),
            (combat::fly_projectiles, combat::fire).chain().in_set(TickSet::Combat),
            (life::respawn, life::pick_up_orbs).chain().in_set(TickSet::Life),
        ));

        let mut sim = Sim { world, schedule };
        for i in 0..settings.orbs {
            let kind = if i.is_multiple_of(3) { EntityKind::HealOrb } else { EntityKind::ScoreOrb };
            let pos = sim.world.resource_scope(|world, mut rng: Mut<SimRng>| {
                life::random_spot(&mut rng, world.resource::<Field>().arena, 20.0)
            });
            // A fresh pool has ids for any number of orbs a room can hold in memory.
            if let Some(id) = sim.world.resource_mut::<NetIds>().allocate() {
                sim.world.spawn((Net(id), Orb { pos, kind }));
            }
        }
        sim
    }

    /// Adds a player's ship at a free spot; returns its entity (for inputs) and net id, or `None`
    /// if the room has no net id left (every id live, held by a client or in quarantine).
    pub fn spawn_ship(&mut self, requested_name: &str) -> Option<(Entity, NetId)> {
        let id = self.world.resource_mut::<NetIds>().allocate()?;
        let spot = self.world.resource_scope(|world, mut rng: Mut<SimRng>| {
            life::free_spot(&mut rng, world.resource::<Field>().arena, world.resource::<ShipIndex>())
        });
        let name = sanitize_name(requested_name);
        let ship = Ship { name: name.clone(), hp: SHIP_MAX_HP, score: 0, aim: 0, cooldown: 0, respawn_at: None };
        let motion = Motion { now: ShipMotion { x: spot.x, y: spot.y, vx: 0.0, vy: 0.0 }, prev: spot };
        let trail = Trail::new(self.tick(), spot);
        let entity = self.world.spawn((Net(id), ship, motion, Pilot::default(), trail)).id();
        self.world.resource_mut::<Happenings>().events.push(GameEvent::Joined(PlayerInfo { id, name }));
        Some((entity, id))
    }

    /// Removes a player's ship (its net id is freed by [`net_ids::free_net_id`]). Its
    /// projectiles fly on.
    pub fn despawn_ship(&mut self, entity: Entity) {
        let id = self.world.get::<Net>(entity).map(|n| n.0);
        if self.world.despawn(entity)
            && let Some(id) = id
        {
            self.world.resource_mut::<Happenings>().events.push(GameEvent::Left { id });
        }
    }

    /// Queues the inputs of one message of the pilot of `entity` (oldest first) that arrived
    /// `age` ticks before the coming tick (see [`input_queue::InputQueue::push`]).
    ///
    /// A late input whose move buttons differ from what the server speculated for its tick is
    /// *replayed*: the ship's movement since that tick is recomputed with the real buttons (a
    /// ship's motion depends on nothing but its own inputs), so the client, which predicted with
    /// the real input, sees no correction; other players see the ship move by the difference.
    /// Only a ship that stayed in play over those ticks is replayed.
    pub fn push_inputs(&mut self, entity: Entity, inputs: impl IntoIterator<Item = InputFrame>, age: f32) {
        let Some(mut pilot) = self.world.get_mut::<Pilot>(entity) else { return };
        pilot.queue.push(inputs, age);
        let wrong: Vec<(u32, Buttons)> = pilot.queue.take_mispredictions().collect();
        if !wrong.is_empty() {
            self.replay(entity, &wrong);
        }
    }

    fn replay(&mut self, entity: Entity, wrong: &[(u32, Buttons)]) {
        let (dt, arena) = (self.world.resource::<Clock>().dt, self.world.resource::<Field>().arena);
        let mut query = self.world.query::<(&mut Pilot, &mut Motion, &mut Trail)>();
        let Ok((mut pilot, mut motion, mut trail)) = query.get_mut(&mut self.world, entity) else { return };
        let pilot = &mut *pilot;
        let mut first = None;
        for &(seq, buttons) in wrong {
            if let Some(i) = pilot.history.iter().position(|s| s.speculated && s.seq == seq) {
                pilot.history[i].buttons = Buttons(buttons.0 & !Buttons::FIRE);
                first = Some(first.map_or(i, |f: usize| f.min(i)));
            }
        }
        let Some(first) = first else { return };
        if !pilot.history.range(first..).all(|s| s.alive) {
            return;
        }
        let mut m = pilot.history[first].start;
        for step in pilot.history.range_mut(first..) {
            step.start = m;
            if let Some(before) = step.before {
                m = step_ship(m, before, dt, arena);
            }
            m = step_ship(m, step.buttons, dt, arena);
        }
        if let Some(last) = pilot.history.back() {
            pilot.current.buttons = Buttons(last.buttons.0 | (pilot.current.buttons.0 & Buttons::FIRE));
            motion.prev = glam::Vec2::new(last.start.x, last.start.y);
        }
        motion.now = m;
        trail.amend_latest(motion.pos());
    }

    /// Queues one input that arrived just in time (a convenience for tests and benches).
    pub fn push_input(&mut self, entity: Entity, input: InputFrame) {
        self.push_inputs(entity, [input], 0.0);
    }

    /// The pilot of `entity` lost its connection: its ship idles (every button released) until
    /// it comes back or is removed.
    pub fn release_pilot(&mut self, entity: Entity) {
        if let Some(mut pilot) = self.world.get_mut::<Pilot>(entity) {
            pilot.queue.release();
        }
    }

    /// The pilot of `entity` is back on a new connection, whose inputs are numbered from 1 again.
    pub fn restart_pilot(&mut self, entity: Entity) {
        if let Some(mut pilot) = self.world.get_mut::<Pilot>(entity) {
            pilot.queue.restart();
            pilot.ack_seq = 0;
        }
    }

    /// What lag compensation did so far.
    #[must_use]
    pub fn shot_stats(&self) -> ShotStats {
        *self.world.resource::<ShotStats>()
    }

    /// The pilot of `entity`: its queue and last applied input.
    #[must_use]
    pub fn pilot(&self, entity: Entity) -> Option<&Pilot> {
        self.world.get::<Pilot>(entity)
    }

    /// Simulates the current tick, then moves the clock (and the net ids' quarantine) to the next.
    pub fn step(&mut self) {
        self.schedule.run(&mut self.world);
        let mut clock = self.world.resource_mut::<Clock>();
        clock.tick = clock.tick.after(1);
        self.world.resource_mut::<NetIds>().advance();
        // Every despawn records one "removed component" message per component of the entity,
        // kept until the world's trackers are cleared (a bevy `App` does this every update; a
        // bare `World` must do it itself). Without this they pile up for good: 80 bytes per ship
        // that leaves, 32 per projectile (found by tests/leaks.rs). Nothing reads them.
        self.world.clear_trackers();
    }

    /// The room's net ids, for replication to say which ids its clients hold.
    pub fn net_ids(&mut self) -> &mut NetIdPool {
        self.world.resource_mut::<NetIds>().into_inner()
    }

    /// The tick the next [`Sim::step`] will simulate (= ticks simulated so far).
    #[must_use]
    pub fn tick(&self) -> Tick {
        self.world.resource::<Clock>().tick
    }

    /// Takes the events of the steps since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, GameEvent> {
        self.world.resource_mut::<Happenings>().into_inner().events.drain(..)
    }

    /// Everyone in the room, by net id.
    #[must_use]
    pub fn players(&mut self) -> Vec<PlayerInfo> {
        let mut players: Vec<PlayerInfo> = self
            .world
            .query::<(&Net, &Ship)>()
            .iter(&self.world)
            .map(|(net, ship)| PlayerInfo { id: net.0, name: ship.name.clone() })
            .collect();
        players.sort_by_key(|p| p.id);
        players
    }

    /// The world, for the replication step to read and for tests to inspect or arrange.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::components::Projectile;
    use arena_protocol::quantize::angle_to_wire;
    use arena_protocol::rules::{Buttons, KILL_SCORE, PROJECTILE_DAMAGE};

    fn sim() -> Sim {
        Sim::new(SimSettings { tick_hz: 30, arena: Arena::DEFAULT, orbs: 0, seed: 7, max_rewind_ticks: 6.0 })
    }

    fn place(sim: &mut Sim, e: Entity, x: f32, y: f32) {
        let mut m = sim.world_mut().get_mut::<Motion>(e).expect("ship exists");
        m.now = ShipMotion { x, y, vx: 0.0, vy: 0.0 };
    }

    fn ship(sim: &mut Sim, e: Entity) -> Ship {
        sim.world_mut().get::<Ship>(e).expect("ship exists").clone()
    }

    #[test]
    fn a_ship_moves_the_way_its_input_steers() {
        let mut sim = sim();
        let (e, _) = sim.spawn_ship("a").expect("a new room has net ids");
        place(&mut sim, e, 1000.0, 1000.0);
        for seq in 1..=10 {
            sim.push_input(e, InputFrame { seq, buttons: Buttons(Buttons::DOWN), ..Default::default() });
            sim.step();
        }
        let m = sim.world_mut().get::<Motion>(e).expect("ship exists").now;
        assert!(m.y > 1000.0 && m.x == 1000.0, "down should move +y only, got {m:?}");
        assert_eq!(sim.world_mut().get::<Pilot>(e).map(|p| p.ack_seq), Some(10));
    }

    #[test]
    fn shots_hit_kill_and_score_then_the_victim_respawns() {
        let mut sim = sim();
        let (shooter, shooter_id) = sim.spawn_ship("shooter").expect("a new room has net ids");
        let (victim, victim_id) = sim.spawn_ship("victim").expect("a new room has net ids");
        place(&mut sim, shooter, 1000.0, 1000.0);
        place(&mut sim, victim, 1300.0, 1000.0);
        let shots_to_kill = 100u32.div_ceil(u32::from(PROJECTILE_DAMAGE));
        let fire = Buttons(Buttons::FIRE);
        let mut killed_at = None;
        for seq in 1..=200 {
            sim.push_input(shooter, InputFrame { seq, buttons: fire, aim: angle_to_wire(0.0), ..Default::default() });
            sim.step();
            if sim.drain_events().any(|e| e == GameEvent::Kill { killer: shooter_id, victim: victim_id }) {
                killed_at = Some(sim.tick());
                break;
            }
        }
        let killed_at = killed_at.expect("the victim should die within 200 ticks of point-blank fire");
        assert!(killed_at.0 >= shots_to_kill, "{shots_to_kill} hits are needed, killed at tick {killed_at:?}");
        assert_eq!(ship(&mut sim, shooter).score, KILL_SCORE, "a kill should score");
        assert!(!ship(&mut sim, victim).alive(), "the victim should be dead");
        for _ in 0..200 {
            sim.step();
        }
        let v = ship(&mut sim, victim);
        assert!(v.alive() && v.hp == SHIP_MAX_HP, "the victim should respawn at full health, got {v:?}");
    }

    #[test]
    fn a_projectile_cannot_tunnel_through_a_ship_at_low_tick_rates() {
        // At 10 Hz a projectile moves 95 units per tick, more than twice a ship's diameter.
        let mut sim =
            Sim::new(SimSettings { tick_hz: 10, arena: Arena::DEFAULT, orbs: 0, seed: 1, max_rewind_ticks: 0.0 });
        let (shooter, _) = sim.spawn_ship("s").expect("a new room has net ids");
        let (victim, _) = sim.spawn_ship("v").expect("a new room has net ids");
        place(&mut sim, shooter, 1000.0, 1000.0);
        place(&mut sim, victim, 1137.0, 1000.0);
        sim.push_input(shooter, InputFrame { seq: 1, buttons: Buttons(Buttons::FIRE), ..Default::default() });
        sim.push_input(shooter, InputFrame { seq: 2, buttons: Buttons(0), ..Default::default() });
        for _ in 0..5 {
            sim.step();
        }
        assert_eq!(ship(&mut sim, victim).hp, SHIP_MAX_HP - PROJECTILE_DAMAGE, "exactly one hit should land");
    }

    #[test]
    fn joins_and_leaves_are_announced() {
        let mut sim = sim();
        let (e, id) = sim.spawn_ship("\u{1b}[31mred").expect("a new room has net ids");
        sim.despawn_ship(e);
        let events: Vec<_> = sim.drain_events().collect();
        assert_eq!(events, vec![GameEvent::Joined(PlayerInfo { id, name: "[31mred".into() }), GameEvent::Left { id }]);
    }

    #[test]
    fn stale_or_duplicate_inputs_are_ignored() {
        let mut sim = sim();
        let (e, _) = sim.spawn_ship("a").expect("a new room has net ids");
        sim.push_input(e, InputFrame { seq: 5, ..Default::default() });
        sim.push_input(e, InputFrame { seq: 5, ..Default::default() });
        sim.push_input(e, InputFrame { seq: 3, ..Default::default() });
        assert_eq!(sim.pilot(e).map(|p| p.queue.depth()), Some(1));
    }

    /// A target crossing the shooter's line of fire: the shooter saw it `lag` ticks in the past
    /// and aimed at that picture. With lag compensation the shot hits; without it, it misses.
    fn crossing_shot(max_rewind_ticks: f32) -> u8 {
        let mut sim = Sim::new(SimSettings { tick_hz: 30, arena: Arena::DEFAULT, orbs: 0, seed: 3, max_rewind_ticks });
        let (shooter, _) = sim.spawn_ship("shooter").expect("a new room has net ids");
        let (target, _) = sim.spawn_ship("target").expect("a new room has net ids");
        place(&mut sim, shooter, 1000.0, 1000.0);
        place(&mut sim, target, 1300.0, 700.0);
        let lag = 6u32;
        // The target flies down at full speed, past the point (1300, 1000) the shooter aims at.
        for seq in 1..=120u32 {
            sim.push_input(target, InputFrame { seq, buttons: Buttons(Buttons::DOWN), ..Default::default() });
            let tick = sim.tick().0;
            // The shooter's screen shows the world `lag` ticks ago: it fires once that picture has
            // the target where the shot will meet it (the projectile needs ~0.3 s for 300 units).
            let shown = (tick + 1).saturating_sub(lag);
            let seen_y = sim.world_mut().get::<Trail>(target).and_then(|t| t.at(f64::from(shown))).map(|p| p.y);
            let fire = seen_y.is_some_and(|y| (860.0..875.0).contains(&y)) && seq < 200;
            let buttons = Buttons(if fire { Buttons::FIRE } else { 0 });
            let view = arena_protocol::ViewTime { tick: arena_protocol::Tick(shown), frac: 0 };
            sim.push_input(shooter, InputFrame { seq, buttons, aim: angle_to_wire(0.0), view });
            sim.step();
        }
        ship(&mut sim, target).hp
    }

    #[test]
    fn lag_compensation_hits_what_the_shooter_saw() {
        assert!(crossing_shot(6.0) < SHIP_MAX_HP, "rewound to what the shooter saw, the shot should hit");
        assert_eq!(crossing_shot(0.0), SHIP_MAX_HP, "without rewinding, a shot at a 6-tick-old picture misses");
    }

    /// A late input that differs from the speculation is replayed: the ship ends where it would
    /// have been had the input come on time, which is where its client predicted it.
    #[test]
    fn a_late_input_is_replayed_so_the_client_needs_no_correction() {
        let inputs = [0u8, Buttons::RIGHT, Buttons::RIGHT, Buttons::RIGHT | Buttons::DOWN, Buttons::RIGHT, 0, 0];
        let frame = |seq: u32| InputFrame { seq, buttons: Buttons(inputs[seq as usize - 1]), ..Default::default() };
        let run = |late: bool| {
            let mut sim = sim();
            let (e, _) = sim.spawn_ship("a").expect("a new room has net ids");
            place(&mut sim, e, 1000.0, 1000.0);
            for seq in 1..=7u32 {
                // Late: inputs 2–4 arrive together after the ticks they were meant for.
                if !late || !(2..=4).contains(&seq) {
                    if late && seq == 5 {
                        sim.push_inputs(e, (2..=5).map(frame), 0.0);
                    } else {
                        sim.push_input(e, frame(seq));
                    }
                }
                sim.step();
            }
            let m = sim.world_mut().get::<Motion>(e).expect("ship exists").now;
            (m, sim.pilot(e).map(|p| p.queue.counts().mispredicted))
        };
        let (on_time, _) = run(false);
        let (replayed, wrong) = run(true);
        assert!(wrong.is_some_and(|w| w > 0), "the late inputs differed from the speculation");
        assert_eq!(replayed, on_time, "after the replay the ship is where the on-time inputs put it");
    }

    /// Nobody holds the projectiles of a room without clients: their ids come back once they
    /// have flown and waited out the quarantine, so ids stay as few as the shots in the air.
    #[test]
    fn projectile_ids_are_recycled_after_they_expire() {
        let mut sim = sim();
        let (e, ship_id) = sim.spawn_ship("gunner").expect("a new room has net ids");
        place(&mut sim, e, 2000.0, 2000.0);
        let mut seen = std::collections::BTreeSet::<NetId>::new();
        for seq in 1..=900 {
            // Aim up and down the middle of the arena: shots expire rather than leave it.
            let aim = angle_to_wire(if seq % 2 == 0 { 1.5 } else { -1.5 });
            sim.push_input(e, InputFrame { seq, buttons: Buttons(Buttons::FIRE), aim, ..Default::default() });
            sim.step();
            let world = sim.world_mut();
            let ids: Vec<NetId> = world.query::<(&Net, &Projectile)>().iter(world).map(|(n, _)| n.0).collect();
            seen.extend(ids);
        }
        let in_air = sim.world_mut().query::<&Projectile>().iter(sim.world_mut()).count() as u32;
        let fired = sim.shot_stats().fired;
        let stats = sim.net_ids().stats();
        assert_eq!(stats.live, 1 + in_air, "the ship and the projectiles in the air are live");
        assert!(!seen.contains(&ship_id), "no projectile has the ship's id");
        assert!(
            fired > 100 && (seen.len() as u64) < fired / 4,
            "{fired} shots should share a few ids, used {}",
            seen.len()
        );
        assert!(
            stats.highest <= 2 + 2 * in_air,
            "ids should stay near the shots in the air ({in_air}), got up to {}",
            stats.highest
        );
    }

    /// A projectile names its owner; a ship that leaves while its shots fly keeps its id until
    /// they are gone, so no new ship is taken for their owner.
    #[test]
    fn a_ship_that_left_keeps_its_id_while_its_shots_fly() {
        let mut sim = sim();
        let (e, id) = sim.spawn_ship("gone").expect("a new room has net ids");
        place(&mut sim, e, 2000.0, 2000.0);
        sim.push_input(e, InputFrame { seq: 1, buttons: Buttons(Buttons::FIRE), ..Default::default() });
        sim.step();
        sim.despawn_ship(e);
        assert_eq!(sim.net_ids().holders(id), 1, "the projectile in flight holds its owner's id");
        let mut fresh = Vec::new();
        for _ in 0..60 {
            sim.step();
            fresh.push(sim.spawn_ship("new").expect("ids to spare").1);
        }
        let ticks_in_flight = 33;
        let back = fresh.iter().position(|&f| f == id).expect("the id comes back once the shot is gone");
        assert!(back >= ticks_in_flight, "the id came back {back} ticks after its ship left, its shot still flying");
    }

    #[test]
    fn a_trail_interpolates_and_forgets_what_is_before_this_life() {
        let mut t = Trail::new(arena_protocol::Tick(10), glam::Vec2::new(0.0, 0.0));
        t.record(arena_protocol::Tick(11), glam::Vec2::new(10.0, 0.0));
        t.record(arena_protocol::Tick(12), glam::Vec2::new(20.0, 4.0));
        assert_eq!(t.at(11.5), Some(glam::Vec2::new(15.0, 2.0)));
        assert_eq!(t.at(9.5), None, "before the ship was there");
        assert_eq!(t.at(12.5), None, "not recorded yet");
        assert_eq!(t.at(12.0), Some(glam::Vec2::new(20.0, 4.0)));
    }
}
