//! How a bot plays: from its mirror of the world to the buttons and aim of its next input.
//! Pure functions of the mirror and the bot's own random numbers, so they are tested without
//! sockets.

use crate::mirror::WorldMirror;
use arena_protocol::quantize::angle_to_wire;
use arena_protocol::rules::Buttons;
use rand::RngExt;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// A bot's way of playing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Roam between random points; shoot at ships that come close.
    Wander,
    /// Hunt the nearest ship, keep at firing range, shoot.
    Chase,
    /// Keep the nearest ship at a distance (back off when close, close in when far), circle it
    /// and shoot.
    Kite,
    /// Send empty inputs: connected, never moving.
    Idle,
    /// Each bot picks wander, chase or idle at random (60/30/10).
    Mixed,
    /// Fly straight along x at full thrust from wall to wall, turning back near each wall; never
    /// fire; aim along the motion. A predictable moving target for tests.
    Patrol,
    /// Random walk: a new direction (one of the eight, or standing still) every second, never
    /// firing. Needs no world, so light bots (`--decoding`) play it; a crowd of drifters is the
    /// replication benchmark's scenario.
    Drift,
}

/// Misbehaviours for hardening the server: each one is a client the server must survive, and
/// close with the right reason, without anyone else noticing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Chaos {
    /// Joins, then stops reading (the server should drop it as too slow).
    SlowReader,
    /// Connects and never says Hello (the server should time it out).
    Silent,
    /// Joins, then sends bytes that are not a message.
    Malformed,
    /// Joins, then sends a frame far larger than any message.
    Oversize,
    /// Joins, then sends inputs as fast as it can.
    Flood,
    /// Connects, joins and leaves over and over until the run ends.
    ReconnectStorm,
}

/// Buttons pressed on every input, for tests that steer a ship a known way.
pub type FixedButtons = u8;

/// Per-bot decision state.
#[derive(Clone, Debug)]
pub struct Brain {
    style: Style,
    rng: Pcg64Mcg,
    target: Option<(f32, f32)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Wander,
    Chase,
    Kite,
    Idle,
    Fixed(u8),
    /// Flying towards +x (`Some(true)`), −x, or not yet decided (towards the farther wall).
    Patrol(Option<bool>),
    /// Pressing `buttons` for `left` more inputs.
    Drift {
        buttons: u8,
        left: u32,
    },
}

/// The directions a drifting bot picks from: none, and the eight of the move keys.
const DRIFT_DIRECTIONS: [u8; 9] = [
    0,
    Buttons::UP,
    Buttons::DOWN,
    Buttons::LEFT,
    Buttons::RIGHT,
    Buttons::UP | Buttons::LEFT,
    Buttons::UP | Buttons::RIGHT,
    Buttons::DOWN | Buttons::LEFT,
    Buttons::DOWN | Buttons::RIGHT,
];

/// Distance within which bots open fire.
const FIRE_RANGE: f32 = 650.0;
/// Distance a kiting bot tries to hold.
const KITE_RANGE: f32 = 450.0;
/// Distance a chasing bot tries to keep from its prey.
const CHASE_KEEP: f32 = 250.0;
/// Distance from a wall at which a patrolling bot turns back (it needs about 60 units to stop
/// from full speed, plus what it flies before it sees where it is).
const PATROL_TURN: f32 = 150.0;
/// Aim along −x: half a turn.
const AIM_LEFT: u16 = 0x8000;

impl Brain {
    /// A brain playing `behaviour` (a mixed one picks its style now) with its own random numbers.
    #[must_use]
    pub fn new(behaviour: Behaviour, mut rng: Pcg64Mcg) -> Brain {
        let style = match behaviour {
            Behaviour::Wander => Style::Wander,
            Behaviour::Chase => Style::Chase,
            Behaviour::Kite => Style::Kite,
            Behaviour::Idle => Style::Idle,
            Behaviour::Patrol => Style::Patrol(None),
            Behaviour::Drift => Style::Drift { buttons: 0, left: 0 },
            Behaviour::Mixed => match rng.random_range(0..10) {
                0..6 => Style::Wander,
                6..9 => Style::Chase,
                _ => Style::Idle,
            },
        };
        Brain { style, rng, target: None }
    }

    /// A brain that always presses `buttons` and aims along +x.
    #[must_use]
    pub fn fixed(buttons: FixedButtons) -> Brain {
        Brain { style: Style::Fixed(buttons), rng: Pcg64Mcg::new(0), target: None }
    }

    /// The next input of a drifting bot, one input per tick at `tick_hz`: the same direction
    /// for a second, then a new one at random; aim along it; never fire. Needs no world.
    pub fn drift(&mut self, tick_hz: u16) -> (Buttons, u16) {
        let (mut buttons, mut left) = match self.style {
            Style::Drift { buttons, left } => (buttons, left),
            _ => (0, 0),
        };
        if left == 0 {
            buttons = DRIFT_DIRECTIONS[self.rng.random_range(0..DRIFT_DIRECTIONS.len())];
            left = u32::from(tick_hz.max(1));
        }
        self.style = Style::Drift { buttons, left: left - 1 };
        let b = Buttons(buttons);
        let dx = f32::from(i8::from(b.has(Buttons::RIGHT)) - i8::from(b.has(Buttons::LEFT)));
        let dy = f32::from(i8::from(b.has(Buttons::DOWN)) - i8::from(b.has(Buttons::UP)));
        (b, angle_to_wire(dy.atan2(dx)))
    }

    /// The buttons and aim for the next input.
    pub fn decide(&mut self, world: &WorldMirror) -> (Buttons, u16) {
        if let Style::Drift { .. } = self.style {
            return self.drift(world.tick_hz);
        }
        let Some(me) = world.me() else {
            return (Buttons(0), 0);
        };
        let here = me.position();
        let nearest = world
            .others()
            .filter(|s| s.alive())
            .map(|s| {
                let p = s.position();
                (p, (p.0 - here.0).hypot(p.1 - here.1))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match self.style {
            Style::Idle | Style::Drift { .. } => (Buttons(0), 0),
            Style::Fixed(b) => (Buttons(b), 0),
            Style::Patrol(heading) => {
                let width = world.arena.0;
                let right = match heading {
                    None => here.0 < width / 2.0,
                    Some(true) => here.0 < width - PATROL_TURN,
                    Some(false) => here.0 <= PATROL_TURN,
                };
                self.style = Style::Patrol(Some(right));
                if right { (Buttons(Buttons::RIGHT), 0) } else { (Buttons(Buttons::LEFT), AIM_LEFT) }
            }
            Style::Chase => match nearest {
                Some((prey, dist)) => {
                    let aim = aim_at(here, prey);
                    let mut buttons = if dist > CHASE_KEEP { steer_towards(here, prey) } else { 0 };
                    if dist < FIRE_RANGE {
                        buttons |= Buttons::FIRE;
                    }
                    (Buttons(buttons), aim)
                }
                None => self.roam(world, here),
            },
            Style::Kite => match nearest {
                Some((prey, dist)) => {
                    let aim = aim_at(here, prey);
                    // Circle: steer along the tangent, plus in or out to hold the range.
                    let (dx, dy) = (prey.0 - here.0, prey.1 - here.1);
                    let radial = if dist < KITE_RANGE * 0.8 {
                        -1.0
                    } else if dist > KITE_RANGE * 1.2 {
                        1.0
                    } else {
                        0.0
                    };
                    let goal = (here.0 - dy + dx * radial, here.1 + dx + dy * radial);
                    let mut buttons = steer_towards(here, goal);
                    if dist < FIRE_RANGE {
                        buttons |= Buttons::FIRE;
                    }
                    (Buttons(buttons), aim)
                }
                None => self.roam(world, here),
            },
            Style::Wander => {
                let (Buttons(mut buttons), mut aim) = self.roam(world, here);
                if let Some((other, dist)) = nearest
                    && dist < FIRE_RANGE * 0.7
                {
                    aim = aim_at(here, other);
                    buttons |= Buttons::FIRE;
                }
                (Buttons(buttons), aim)
            }
        }
    }

    fn roam(&mut self, world: &WorldMirror, here: (f32, f32)) -> (Buttons, u16) {
        let reached = self.target.is_none_or(|t| (t.0 - here.0).hypot(t.1 - here.1) < 60.0);
        if reached || self.rng.random_range(0..300) == 0 {
            let (w, h) = world.arena;
            self.target = Some((
                self.rng.random_range(50.0..w.max(51.0) - 50.0),
                self.rng.random_range(50.0..h.max(51.0) - 50.0),
            ));
        }
        let target = self.target.unwrap_or(here);
        (Buttons(steer_towards(here, target)), aim_at(here, target))
    }
}

fn aim_at(from: (f32, f32), to: (f32, f32)) -> u16 {
    angle_to_wire((to.1 - from.1).atan2(to.0 - from.0))
}

/// The move keys that push a ship from `from` towards `to` (axes within 20 units are left alone).
fn steer_towards(from: (f32, f32), to: (f32, f32)) -> u8 {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let mut b = 0;
    if dx > 20.0 {
        b |= Buttons::RIGHT;
    } else if dx < -20.0 {
        b |= Buttons::LEFT;
    }
    if dy > 20.0 {
        b |= Buttons::DOWN;
    } else if dy < -20.0 {
        b |= Buttons::UP;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::delta::{BodyWriter, encode_body};
    use arena_protocol::entity::checksum;
    use arena_protocol::quantize::pos_to_wire;
    use arena_protocol::{EntityKind, EntityState, NetId, PlayerInfo, ResumeToken, Snapshot, Tick, Welcome};

    fn ship(id: u32, x: f32, y: f32) -> EntityState {
        EntityState {
            id: NetId(id),
            kind: EntityKind::Ship,
            x: pos_to_wire(x),
            y: pos_to_wire(y),
            hp: 100,
            flags: EntityState::ALIVE,
            ..Default::default()
        }
    }

    fn world(ships: Vec<EntityState>) -> WorldMirror {
        let welcome = Welcome {
            your_id: NetId(1),
            tick_hz: 30,
            tick: Tick(0),
            arena_width: 4000,
            arena_height: 4000,
            view_half_width: 1000,
            view_half_height: 600,
            players: vec![PlayerInfo { id: NetId(1), name: "me".into() }],
            resume_token: ResumeToken::default(),
            resumed: false,
            resume_grace_ms: 15_000,
            room: "main".into(),
        };
        let mut w = WorldMirror::new(&welcome);
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &[], &ships, 0, w.world_physics());
        let mut body = Vec::new();
        writer.finish(&mut body);
        let s = Snapshot {
            tick: Tick(1),
            baseline_gap: 0,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: checksum(&ships),
            body,
        };
        w.apply_snapshot(&s).expect("a full snapshot applies");
        w
    }
    #[test]
    fn a_chaser_closes_in_and_fires_at_the_nearest_ship() {
        let mut brain = Brain::new(Behaviour::Chase, Pcg64Mcg::new(1));
        let w = world(vec![ship(1, 1000.0, 1000.0), ship(2, 1500.0, 1000.0), ship(3, 3000.0, 3000.0)]);
        let (buttons, aim) = brain.decide(&w);
        assert!(
            buttons.has(Buttons::RIGHT) && buttons.has(Buttons::FIRE),
            "should move right and fire, got {buttons:?}"
        );
        assert_eq!(aim, 0, "ship 2 lies along +x");
    }

    #[test]
    fn a_chaser_holds_its_distance_when_close() {
        let mut brain = Brain::new(Behaviour::Chase, Pcg64Mcg::new(1));
        let w = world(vec![ship(1, 1000.0, 1000.0), ship(2, 1000.0, 1100.0)]);
        let (buttons, aim) = brain.decide(&w);
        assert_eq!(buttons, Buttons(Buttons::FIRE), "close enough: fire without moving");
        assert_eq!(aim, 16384, "ship 2 lies along +y, a quarter turn");
    }

    #[test]
    fn a_wanderer_heads_for_its_target_and_ignores_far_ships() {
        let mut brain = Brain::new(Behaviour::Wander, Pcg64Mcg::new(9));
        let w = world(vec![ship(1, 2000.0, 2000.0), ship(2, 3900.0, 3900.0)]);
        let (buttons, _) = brain.decide(&w);
        assert!(!buttons.has(Buttons::FIRE), "nobody in range: no fire");
        assert_ne!(buttons.0, 0, "a wanderer should be moving somewhere");
    }

    #[test]
    fn a_kiter_backs_off_when_too_close_and_fires() {
        let mut brain = Brain::new(Behaviour::Kite, Pcg64Mcg::new(1));
        let w = world(vec![ship(1, 1000.0, 1000.0), ship(2, 1100.0, 1000.0)]);
        let (buttons, aim) = brain.decide(&w);
        assert!(buttons.has(Buttons::LEFT), "a ship 100 units to the right is too close: move away, got {buttons:?}");
        assert!(buttons.has(Buttons::FIRE) && aim == 0, "and shoot at it");
    }

    #[test]
    fn idle_and_fixed_do_what_they_say() {
        let w = world(vec![ship(1, 10.0, 10.0), ship(2, 20.0, 20.0)]);
        assert_eq!(Brain::new(Behaviour::Idle, Pcg64Mcg::new(1)).decide(&w), (Buttons(0), 0));
        assert_eq!(Brain::fixed(Buttons::LEFT).decide(&w), (Buttons(Buttons::LEFT), 0));
    }

    #[test]
    fn a_patroller_flies_along_x_towards_the_farther_wall_and_never_fires() {
        let mut brain = Brain::new(Behaviour::Patrol, Pcg64Mcg::new(1));
        let w = world(vec![ship(1, 1000.0, 2000.0), ship(2, 1100.0, 2000.0)]);
        assert_eq!(
            brain.decide(&w),
            (Buttons(Buttons::RIGHT), 0),
            "the far wall is at +x: full thrust right, aim right, no fire even with a ship in front"
        );
        let mut brain = Brain::new(Behaviour::Patrol, Pcg64Mcg::new(1));
        let w = world(vec![ship(1, 3000.0, 2000.0)]);
        assert_eq!(brain.decide(&w), (Buttons(Buttons::LEFT), AIM_LEFT), "the far wall is at −x: left, aim left");
    }

    #[test]
    fn a_patroller_turns_back_near_a_wall_and_keeps_its_heading_in_between() {
        let mut brain = Brain::new(Behaviour::Patrol, Pcg64Mcg::new(1));
        let at = |x: f32| world(vec![ship(1, x, 500.0)]);
        let steps = [
            (1000.0, Buttons::RIGHT),
            (3000.0, Buttons::RIGHT),
            (3860.0, Buttons::LEFT),
            (3900.0, Buttons::LEFT),
            (2000.0, Buttons::LEFT),
            (3000.0, Buttons::LEFT),
            (140.0, Buttons::RIGHT),
            (100.0, Buttons::RIGHT),
            (2000.0, Buttons::RIGHT),
        ];
        for (x, want) in steps {
            let (buttons, aim) = brain.decide(&at(x));
            assert_eq!(buttons, Buttons(want), "at x = {x} the patroller should press {want}");
            let along = if want == Buttons::RIGHT { 0 } else { AIM_LEFT };
            assert_eq!(aim, along, "at x = {x} it should aim along its motion");
        }
    }

    #[test]
    fn without_an_own_ship_a_bot_does_nothing() {
        let mut brain = Brain::new(Behaviour::Chase, Pcg64Mcg::new(1));
        assert_eq!(brain.decide(&world(vec![ship(2, 0.0, 0.0)])), (Buttons(0), 0));
    }

    #[test]
    fn a_drifter_holds_a_direction_for_a_second_changes_at_random_and_never_fires() {
        let mut brain = Brain::new(Behaviour::Drift, Pcg64Mcg::new(7));
        let inputs: Vec<(Buttons, u16)> = (0..30 * 20).map(|_| brain.drift(30)).collect();
        for second in inputs.chunks(30) {
            assert!(second.iter().all(|i| *i == second[0]), "one direction per second: {second:?}");
            assert!(!second[0].0.has(Buttons::FIRE), "never fires");
            assert!(DRIFT_DIRECTIONS.contains(&second[0].0.0));
        }
        let distinct: std::collections::HashSet<u8> = inputs.iter().map(|i| i.0.0).collect();
        assert!(distinct.len() >= 5, "20 seconds visit most directions: {distinct:?}");
        // Aim follows the motion: right is 0, down a quarter turn.
        let mut again = Brain::new(Behaviour::Drift, Pcg64Mcg::new(7));
        let replay: Vec<(Buttons, u16)> = (0..30 * 20).map(|_| again.drift(30)).collect();
        assert_eq!(inputs, replay, "the same seed drifts the same way");
        let right = inputs.iter().find(|i| i.0.0 == Buttons::RIGHT).map(|i| i.1);
        assert!(right.is_none_or(|a| a == 0), "aim right is 0: {right:?}");
    }

    #[test]
    fn a_drifting_brain_decides_without_looking_at_the_world() {
        let mut brain = Brain::new(Behaviour::Drift, Pcg64Mcg::new(7));
        let mut alone = Brain::new(Behaviour::Drift, Pcg64Mcg::new(7));
        let w = world(vec![ship(2, 0.0, 0.0)]);
        for _ in 0..90 {
            assert_eq!(brain.decide(&w), alone.drift(w.tick_hz));
        }
    }
}
