//! Fixtures shared by Arena's criterion benches: worlds and rooms built in memory, with no
//! sockets and no clock, so a bench times only the call it is about.

use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::{InputFrame, NetId, OrbKind, OrbState, ShipState, Snapshot, Tick};
use arena_server::mailbox::{Batch, Mailbox};
use arena_server::metrics::ServerStats;
use arena_server::replication::View;
use arena_server::room::{ClientId, Room, RoomCommand, RoomSettings};
use arena_server::sim::SimSettings;
use std::sync::Arc;

/// A snapshot with `ships` ships and `orbs` orbs spread over the default arena, ids ascending.
#[must_use]
pub fn snapshot(ships: u32, orbs: u32) -> Snapshot {
    let ship = |i: u32| ShipState {
        id: NetId(i + 1),
        x: ((i * 7919) % 64_000) as i32,
        y: ((i * 104_729) % 64_000) as i32,
        vx: (i % 200) as i32 - 100,
        vy: (i % 150) as i32 - 75,
        aim: (i * 331) as u16,
        hp: 100,
        flags: ShipState::ALIVE,
        score: i % 40,
    };
    let orb = |i: u32| OrbState {
        id: NetId(ships + i + 1),
        x: ((i * 6007) % 64_000) as i32,
        y: ((i * 3001) % 64_000) as i32,
        kind: if i.is_multiple_of(3) {
            OrbKind::Heal
        } else {
            OrbKind::Score
        },
    };
    Snapshot {
        tick: Tick(1234),
        ack_seq: 77,
        ships: (0..ships).map(ship).collect(),
        projectiles: vec![],
        orbs: (0..orbs).map(orb).collect(),
    }
}

/// A room in memory with `clients` members that wander, and their mailboxes.
pub struct BenchRoom {
    /// The room.
    pub room: Room,
    /// Each member's mailbox, drained after every tick as a fast writer would.
    pub mailboxes: Vec<Arc<Mailbox>>,
    batch: Batch,
    seq: u32,
}

impl BenchRoom {
    /// A room of the default settings (30 Hz, 4000 × 4000, 300 orbs) with `clients` members.
    #[must_use]
    pub fn new(clients: u32, arena_size: f32) -> BenchRoom {
        let settings = RoomSettings {
            sim: SimSettings {
                tick_hz: 30,
                arena: Arena {
                    width: arena_size,
                    height: arena_size,
                },
                orbs: 300,
                seed: 5,
            },
            view: View {
                half_width: 1000.0,
                half_height: 625.0,
            },
            max_clients: u32::MAX,
            slow_client_ticks: u32::MAX,
        };
        let mut room = Room::new(settings, Arc::new(ServerStats::default()));
        let mailboxes: Vec<Arc<Mailbox>> =
            (0..clients).map(|_| Arc::new(Mailbox::default())).collect();
        for (i, mailbox) in mailboxes.iter().enumerate() {
            room.handle(RoomCommand::Join {
                client: ClientId(i as u64),
                name: format!("b{i}"),
                mailbox: mailbox.clone(),
            });
        }
        let mut bench = BenchRoom {
            room,
            mailboxes,
            batch: Batch::default(),
            seq: 0,
        };
        for _ in 0..30 {
            bench.tick();
        }
        bench
    }

    /// Feeds every member one input (steering in a pattern, firing now and then), runs one full
    /// tick (commands, simulate, replicate) and drains the mailboxes. Returns the bytes handed
    /// to writers.
    pub fn tick(&mut self) -> usize {
        self.seq += 1;
        for i in 0..self.mailboxes.len() {
            let pattern = [Buttons::UP, Buttons::RIGHT, Buttons::DOWN, Buttons::LEFT]
                [(i + self.seq as usize / 30) % 4];
            let fire = if (i as u32 + self.seq).is_multiple_of(10) {
                Buttons::FIRE
            } else {
                0
            };
            let input = InputFrame {
                seq: self.seq,
                buttons: Buttons(pattern | fire),
                aim: (i as u16).wrapping_mul(997),
            };
            self.room.handle(RoomCommand::Input {
                client: ClientId(i as u64),
                input,
            });
        }
        self.room.simulate();
        self.room.replicate();
        self.drain()
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
