//! Fixtures shared by Arena's criterion benches: worlds and rooms built in memory, with no
//! sockets and no clock, so a bench times only the call it is about.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_bots::mirror::WorldMirror;
use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::{ClientWorld, ServerMsg, Snapshot, decode_server};
use arena_protocol::{EntityKind, EntityState, InputBatch, InputFrame, NetId, ViewTime};
use arena_server::mailbox::{Batch, Mailbox};
use arena_server::metrics::ServerStats;
use arena_server::replication::View;
use arena_server::room::post::Post;
use arena_server::room::{ClientId, Room, RoomCommand, RoomSettings};
use arena_server::sim::SimSettings;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `ships` ships and `orbs` orbs spread over the default arena, ids ascending, quantized.
#[must_use]
pub fn entities(ships: u32, orbs: u32) -> Vec<EntityState> {
    let ship = |i: u32| EntityState {
        id: NetId(i + 1),
        kind: EntityKind::Ship,
        x: ((i * 7919) % 64_000) as i32,
        y: ((i * 104_729) % 64_000) as i32,
        vx: (i % 200) as i32 - 100,
        vy: (i % 150) as i32 - 75,
        aim: ((i * 331) % 256) as u16,
        hp: 100,
        flags: EntityState::ship_flags(true, Buttons((i % 16) as u8)),
        score: i % 40,
        owner: NetId(0),
    };
    let orb = |i: u32| EntityState {
        id: NetId(ships + i + 1),
        kind: if i.is_multiple_of(3) { EntityKind::HealOrb } else { EntityKind::ScoreOrb },
        x: ((i * 6007) % 64_000) as i32,
        y: ((i * 3001) % 64_000) as i32,
        ..Default::default()
    };
    (0..ships).map(ship).chain((0..orbs).map(orb)).collect()
}

/// A room and the [`Post`] that delivers its frames into its members' mailboxes, driven as the
/// room thread drives it.
pub struct PostedRoom {
    /// The room.
    pub room: Room,
    /// Its members' mailboxes.
    pub post: Post,
}

impl PostedRoom {
    /// `room`, with no mailbox open yet.
    #[must_use]
    pub fn new(room: Room) -> PostedRoom {
        PostedRoom { room, post: Post::default() }
    }

    /// Joins `client` named `name`; returns the mailbox its frames go to.
    pub fn join(&mut self, client: ClientId, name: String) -> Arc<Mailbox> {
        let mailbox = Arc::new(Mailbox::default());
        self.post.open(client, mailbox.clone());
        self.room.handle(RoomCommand::Join { client, name, resume: None, require_resume: false });
        mailbox
    }

    /// Simulates one tick (the inputs must be in already).
    pub fn simulate(&mut self) {
        self.room.simulate();
    }

    /// Replicates and delivers: what the room thread does after simulating.
    pub fn replicate(&mut self) {
        self.post.settle(&mut self.room);
        self.room.replicate();
        self.post.deliver(&mut self.room);
    }
}

/// A room in memory with `clients` members that wander, and their mailboxes.
pub struct BenchRoom {
    /// The room and its post.
    pub room: PostedRoom,
    /// Each member's mailbox, drained after every tick as a fast writer would.
    pub mailboxes: Vec<Arc<Mailbox>>,
    inputs: BenchInputs,
    batch: Batch,
    seq: u32,
}

/// How the members of a [`BenchRoom`] play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchInputs {
    /// Steer in a square pattern (a new side every second), firing every tenth tick: the game.
    Pattern,
    /// Random walk: a new direction (one of eight, or none) every second, never firing — the
    /// crowd scenario of `arena-bots --behaviour drift`.
    Drift,
}

/// The direction member `i` drifts in during second `second`: one of the eight button pairs or
/// none, from a hash (the same run after run, different per member and second).
#[must_use]
pub fn drift_buttons(i: u64, second: u64) -> Buttons {
    const DIRS: [u8; 9] = [
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
    let mut h = (i << 32 | second).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 29;
    Buttons(DIRS[(h % 9) as usize])
}

impl BenchRoom {
    /// A room at 30 Hz with the default view, an `arena_size`² arena, `orbs` orbs and `clients`
    /// members.
    #[must_use]
    pub fn new(clients: u32, arena_size: f32, orbs: u32) -> BenchRoom {
        BenchRoom::with(
            clients,
            arena_size,
            orbs,
            View { half_width: 1000.0, half_height: 625.0 },
            BenchInputs::Pattern,
            1,
        )
    }

    /// The full-visibility crowd: `clients` members drifting in an `arena_size`² arena with no
    /// orbs, each seeing the whole arena; snapshots encoded on `threads` threads.
    #[must_use]
    pub fn crowd(clients: u32, arena_size: f32, threads: usize) -> BenchRoom {
        let view = View { half_width: arena_size, half_height: arena_size };
        BenchRoom::with(clients, arena_size, 0, view, BenchInputs::Drift, threads)
    }

    /// The game at the density of 100 players in 4000² (arena and orbs grow with the players),
    /// snapshots encoded on `threads` threads.
    #[must_use]
    pub fn scaled(clients: u32, threads: usize) -> BenchRoom {
        let scale = f64::from(clients) / 100.0;
        let view = View { half_width: 1000.0, half_height: 625.0 };
        let (size, orbs) = ((4000.0 * scale.sqrt()) as f32, (300.0 * scale) as u32);
        BenchRoom::with(clients, size, orbs, view, BenchInputs::Pattern, threads)
    }

    /// A room at 30 Hz with `clients` members seeing `view`, playing `inputs`, encoding on
    /// `threads` threads, warmed up by 30 ticks.
    #[must_use]
    pub fn with(
        clients: u32,
        arena_size: f32,
        orbs: u32,
        view: View,
        inputs: BenchInputs,
        threads: usize,
    ) -> BenchRoom {
        let settings = RoomSettings {
            sim: SimSettings {
                tick_hz: 30,
                arena: Arena { width: arena_size, height: arena_size },
                orbs,
                seed: 5,
                max_rewind_ticks: 6.0,
            },
            view,
            max_clients: u32::MAX,
            slow_client_ticks: u32::MAX,
            snapshot_budget: None,
            resume_grace: Duration::from_secs(15),
            replication_threads: threads,
        };
        let mut room = PostedRoom::new(Room::new(settings, Arc::new(ServerStats::default())));
        let mailboxes: Vec<Arc<Mailbox>> =
            (0..clients).map(|i| room.join(ClientId(i as u64), format!("b{i}"))).collect();
        let mut bench = BenchRoom { room, mailboxes, inputs, batch: Batch::default(), seq: 0 };
        for _ in 0..30 {
            bench.tick();
        }
        bench
    }

    /// Feeds every member one input (steering in a pattern, firing now and then), runs one full
    /// tick (commands, simulate, replicate) and drains the mailboxes. Returns the bytes handed
    /// to writers.
    pub fn tick(&mut self) -> usize {
        self.feed_inputs();
        self.room.simulate();
        self.room.replicate();
        self.drain()
    }

    /// Hands every member one input for the next tick (as [`BenchRoom::tick`] does first).
    pub fn feed_inputs(&mut self) {
        self.seq += 1;
        for i in 0..self.mailboxes.len() {
            let buttons = match self.inputs {
                BenchInputs::Pattern => {
                    let pattern =
                        [Buttons::UP, Buttons::RIGHT, Buttons::DOWN, Buttons::LEFT][(i + self.seq as usize / 30) % 4];
                    let fire = if (i as u32 + self.seq).is_multiple_of(10) { Buttons::FIRE } else { 0 };
                    Buttons(pattern | fire)
                }
                BenchInputs::Drift => drift_buttons(i as u64, u64::from(self.seq / 30)),
            };
            // The clients see the newest snapshot (no interpolation delay), as bots do.
            let input = InputFrame {
                seq: self.seq,
                buttons,
                aim: (i as u16).wrapping_mul(997),
                view: ViewTime { tick: self.room.room.tick(), frac: 0 },
            };
            let batch = InputBatch::one(input);
            self.room.room.handle(RoomCommand::Input { client: ClientId(i as u64), batch, received: Instant::now() });
        }
    }

    /// Empties every mailbox; returns the bytes taken.
    pub fn drain(&mut self) -> usize {
        let mut bytes = 0;
        for m in &self.mailboxes {
            m.take(&mut self.batch);
            bytes += self.batch.frames.iter().map(|f| f.len()).sum::<usize>();
            self.batch.frames.clear();
        }
        bytes
    }
}

/// A headless client played in memory: its mailbox, its decoded world and a bot's brain.
/// Everything it knows comes from the frames the room put in its mailbox, decoded by the
/// protocol's decoder, exactly as over a socket.
pub struct MemoryClient {
    /// The connection's id in the room.
    pub client: ClientId,
    /// Where the room puts this client's frames.
    pub mailbox: Arc<Mailbox>,
    /// The client's world, once welcomed.
    pub mirror: Option<WorldMirror>,
    brain: Brain,
    seq: u32,
    batch: Batch,
}

/// What a [`MemoryClient`] received in one drain of its mailbox.
#[derive(Debug, Default, Clone, Copy)]
pub struct Received {
    /// Snapshot frames.
    pub snapshots: u64,
    /// Bytes of snapshot frames.
    pub snapshot_bytes: u64,
    /// Bytes of all frames (snapshots, events, scoreboard, welcome).
    pub all_bytes: u64,
    /// Snapshots that failed to apply or to match their checksum.
    pub desyncs: u64,
}

impl MemoryClient {
    /// Joins `room` as client `i` playing `behaviour` with a seed of its own.
    pub fn join(room: &mut PostedRoom, i: u64, behaviour: Behaviour, seed: u64) -> MemoryClient {
        let mailbox = room.join(ClientId(i), format!("m{i}"));
        let brain = Brain::new(behaviour, Pcg64Mcg::seed_from_u64(seed.wrapping_add(i)));
        MemoryClient { client: ClientId(i), mailbox, mirror: None, brain, seq: 0, batch: Batch::default() }
    }

    /// Takes every frame waiting in the mailbox (as a fast writer would) and applies it; calls
    /// `on_snapshot` with the world before and after each snapshot and the snapshot itself.
    pub fn receive(&mut self, mut on_snapshot: impl FnMut(&ClientWorld, &ClientWorld, &Snapshot)) -> Received {
        self.mailbox.take(&mut self.batch);
        let mut got = Received::default();
        for frame in self.batch.frames.drain(..) {
            got.all_bytes += frame.len() as u64;
            match decode_server(&frame) {
                Ok(ServerMsg::Welcome(w)) => self.mirror = Some(WorldMirror::new(&w)),
                Ok(ServerMsg::Snapshot(s)) => {
                    got.snapshots += 1;
                    got.snapshot_bytes += frame.len() as u64;
                    if let Some(m) = &mut self.mirror {
                        let before = m.world.clone();
                        if m.apply_snapshot(&s).is_err() {
                            got.desyncs += 1;
                        }
                        on_snapshot(&before, &m.world, &s);
                    }
                }
                Ok(ServerMsg::Event(e)) => {
                    if let Some(m) = &mut self.mirror {
                        m.apply_event(&e);
                    }
                }
                _ => {}
            }
        }
        got
    }

    /// Decides and sends this tick's input, as a bot would.
    pub fn act(&mut self, room: &mut Room) {
        let Some(mirror) = &self.mirror else { return };
        let (buttons, aim) = self.brain.decide(mirror);
        self.seq += 1;
        let batch = InputBatch::one(InputFrame { seq: self.seq, buttons, aim, view: mirror.view() });
        room.handle(RoomCommand::Input { client: self.client, batch, received: Instant::now() });
    }
}

/// A room of the given size with `orbs` orbs, 30 Hz, the default view, for in-memory play.
#[must_use]
pub fn memory_room(arena_size: f32, orbs: u32, seed: u64) -> PostedRoom {
    let settings = RoomSettings {
        sim: SimSettings {
            tick_hz: 30,
            arena: Arena { width: arena_size, height: arena_size },
            orbs,
            seed,
            max_rewind_ticks: 6.0,
        },
        view: View { half_width: 1000.0, half_height: 625.0 },
        max_clients: u32::MAX,
        slow_client_ticks: u32::MAX,
        snapshot_budget: None,
        resume_grace: Duration::from_secs(15),
        replication_threads: 1,
    };
    PostedRoom::new(Room::new(settings, Arc::new(ServerStats::default())))
}
