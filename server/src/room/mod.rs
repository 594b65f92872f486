//! A room: one simulation and its members. This is the one narrow place where the network side
//! (commands in, frames out) meets the simulation.
//!
//! [`Room`] is sans-IO: it takes commands ([`Room::handle`]) and is ticked ([`Room::simulate`],
//! [`Room::replicate`]) by whoever drives it, and returns what it sends as an [`Output`] of
//! frames per member, never touching a socket or a mailbox. The thread in [`runner`] drives it
//! on its clock and delivers through a [`post::Post`]; tests and benches drive it directly.

pub mod load;
pub mod output;
pub mod post;
pub mod runner;
pub mod schedule;

pub use output::Output;

use crate::metrics::ServerStats;
use crate::replication::{ClientReplica, InputAck, Replicator, View};
use crate::sim::input_queue::QueueCounts;
use crate::sim::{Sim, SimSettings};
use arena_protocol::codec::encode_server_into;
use arena_protocol::{
    Bye, ByeReason, GameEvent, InputBatch, NetId, ResumeToken, ScoreEntry, Scoreboard, ServerMsg, Tick, Welcome,
};
use bevy_ecs::entity::Entity;
use rayon::iter::{IntoParallelRefMutIterator, ParallelExtend, ParallelIterator};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Bytes;

/// Identifies one connection for as long as it lives; assigned by the network side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// What the network side tells a room.
pub enum RoomCommand {
    /// A client finished its handshake and wants a ship.
    Join {
        /// The connection.
        client: ClientId,
        /// Requested display name (the room sanitizes it).
        name: String,
        /// The token of an earlier `Welcome`: give that player back if it is still kept.
        resume: Option<ResumeToken>,
        /// Only a resume may let this client in (the server needs join tokens and the `Hello`
        /// had a resume token instead of one): if the ship is gone, refuse with `JoinRefused`.
        require_resume: bool,
    },
    /// One input message of a client (its newest input and the unacknowledged ones before it).
    Input {
        /// The connection.
        client: ClientId,
        /// The inputs, validated.
        batch: InputBatch,
        /// When the message arrived (after the link conditioner, if any).
        received: Instant,
    },
    /// The connection ended.
    Leave {
        /// The connection.
        client: ClientId,
        /// The connection was lost (no goodbye from the client): keep the ship for the resume
        /// grace. `false`: the player left and the ship goes at once.
        lost: bool,
    },
    /// The client's world no longer matches the server's: send it a full snapshot.
    RequestFull {
        /// The connection.
        client: ClientId,
    },
}

/// Fixed settings of a room.
#[derive(Clone, Copy, Debug)]
pub struct RoomSettings {
    /// The simulation's settings.
    pub sim: SimSettings,
    /// What each client sees around its ship.
    pub view: View,
    /// Most members at once.
    pub max_clients: u32,
    /// Consecutive snapshots a client may leave untaken before it is closed as too slow.
    pub slow_client_ticks: u32,
    /// Most snapshot body bytes per client per tick (from `--max-kbps`), if budgeted.
    pub snapshot_budget: Option<usize>,
    /// How long the ship of a player whose connection was lost is kept for it to resume.
    pub resume_grace: Duration,
    /// Threads that encode members' snapshots at once (a worker pool the room owns); 1 encodes
    /// on the room thread alone.
    pub replication_threads: usize,
}

impl RoomSettings {
    fn resume_grace_ticks(&self) -> u32 {
        (self.resume_grace.as_secs_f64() * f64::from(self.sim.tick_hz)).ceil() as u32
    }
}

struct Member {
    entity: Entity,
    id: NetId,
    replica: ClientReplica,
    /// Its last snapshot was not taken by its writer (told by [`Room::snapshot_dropped`]).
    dropped: bool,
    untaken_in_row: u32,
    token: ResumeToken,
    /// The pilot's input counts already added to the room's metrics.
    counted: QueueCounts,
    /// What this tick's snapshot tells the client about its inputs.
    ack: InputAck,
    /// Encode a snapshot for this member this tick (false: it is being closed as too slow).
    due: bool,
}

/// The ship of a player whose connection was lost, kept (idle, and in play) until `until`.
struct Suspended {
    entity: Entity,
    token: ResumeToken,
    until: Tick,
}

/// A pool of `threads` workers for encoding snapshots, or none for one thread (or if the
/// system refuses threads: then rooms encode on their own threads, and say so). One pool serves
/// every room of a process.
#[must_use]
pub fn replication_pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    if threads <= 1 {
        return None;
    }
    let built = rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("replicate-{i}")).build();
    built
        .map_err(|e| tracing::warn!(error = %e, "no replication threads; encoding on the room thread"))
        .ok()
        .map(Arc::new)
}

/// One room's simulation, members and replication.
pub struct Room {
    name: Arc<str>,
    settings: RoomSettings,
    sim: Sim,
    replicator: Replicator,
    /// By client id, so that every pass over the members runs in the same order on every run
    /// (the id pool's reuse order follows it: the room is deterministic for a seed and script).
    members: BTreeMap<ClientId, Member>,
    stats: Arc<ServerStats>,
    buf: Vec<u8>,
    scoreboard: Scoreboard,
    leaving: Vec<(ClientId, ByeReason, &'static str)>,
    out: Output,
    suspended: Vec<Suspended>,
    tick_start: Option<Instant>,
    shots_counted: crate::sim::resources::ShotStats,
    /// Encodes members' snapshots in parallel (shared with the process's other rooms).
    pool: Option<Arc<rayon::ThreadPool>>,
    /// What this room has added to the process-wide gauges (players, ships kept, entities).
    reported: [i64; 3],
}

impl Drop for Room {
    /// A closed room takes its share out of the process-wide gauges.
    fn drop(&mut self) {
        let gauges = [&self.stats.clients, &self.stats.suspended, &self.stats.entities];
        for (gauge, reported) in gauges.into_iter().zip(self.reported) {
            gauge.dec_by(reported);
        }
    }
}

impl Room {
    /// A room named `main` at tick 0 with no members, with a worker pool of its own if
    /// `settings.replication_threads` > 1.
    #[must_use]
    pub fn new(settings: RoomSettings, stats: Arc<ServerStats>) -> Room {
        Room::named("main".into(), settings, stats, replication_pool(settings.replication_threads))
    }

    /// A room called `name` at tick 0 with no members, encoding on `pool` if given (else on the
    /// thread that drives it).
    #[must_use]
    pub fn named(
        name: Arc<str>,
        settings: RoomSettings,
        stats: Arc<ServerStats>,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> Room {
        let mut sim = Sim::new(settings.sim);
        let replicator = Replicator::new(sim.world_mut(), settings.sim.tick_hz, settings.sim.arena, settings.view);
        Room {
            name,
            settings,
            sim,
            replicator,
            members: BTreeMap::new(),
            stats,
            buf: Vec::new(),
            scoreboard: Scoreboard::default(),
            leaving: Vec::new(),
            out: Output::default(),
            suspended: Vec::new(),
            tick_start: None,
            shots_counted: Default::default(),
            pool,
            reported: [0; 3],
        }
    }

    /// Tells the room that a tick starts at `now`: inputs handled until the next call arrived
    /// this long before it (the input timing feedback measures that). Without it, every input
    /// counts as arriving just in time.
    pub fn begin_tick(&mut self, now: Instant) {
        self.tick_start = Some(now);
    }

    /// Brings this room's share of the process-wide gauges (players, ships kept, entities) up
    /// to date: other rooms add theirs.
    fn report_gauges(&mut self) {
        let now = [self.members.len() as i64, self.suspended.len() as i64, self.replicator.states().len() as i64];
        let gauges = [&self.stats.clients, &self.stats.suspended, &self.stats.entities];
        for ((gauge, reported), now) in gauges.into_iter().zip(&mut self.reported).zip(now) {
            if now != *reported {
                gauge.inc_by(now - *reported);
                *reported = now;
            }
        }
    }

    /// Ships kept for players whose connection was lost.
    #[must_use]
    pub fn suspended(&self) -> usize {
        self.suspended.len()
    }

    /// The tick the next [`Room::simulate`] simulates (= the tick of the last snapshots sent).
    #[must_use]
    pub fn tick(&self) -> arena_protocol::Tick {
        self.sim.tick()
    }

    /// Members now.
    #[must_use]
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// The room's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    fn frame(&mut self, msg: &ServerMsg) -> Bytes {
        encode_server_into(msg, &mut self.buf);
        Bytes::copy_from_slice(&self.buf)
    }

    /// Applies one command from the network side.
    pub fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join { client, name, resume, require_resume } => {
                self.join(client, &name, resume, require_resume);
            }
            RoomCommand::Input { client, batch, received } => {
                if let Some(m) = self.members.get(&client) {
                    let dt = 1.0 / f64::from(self.settings.sim.tick_hz);
                    let age = self.tick_start.map_or(0.0, |t| t.saturating_duration_since(received).as_secs_f64() / dt);
                    self.sim.push_inputs(m.entity, batch.frames(), age as f32);
                }
            }
            RoomCommand::Leave { client, lost } => {
                if let Some(m) = self.remove_member(client) {
                    if lost && !self.settings.resume_grace.is_zero() {
                        self.sim.release_pilot(m.entity);
                        let until = self.sim.tick().after(self.settings.resume_grace_ticks());
                        self.suspended.push(Suspended { entity: m.entity, token: m.token, until });
                        self.report_gauges();
                    } else {
                        self.sim.despawn_ship(m.entity);
                    }
                }
            }
            RoomCommand::RequestFull { client } => {
                if let Some(m) = self.members.get_mut(&client) {
                    self.stats.desyncs_reported.inc_by(1);
                    m.replica.request_full();
                }
            }
        }
        self.report_gauges();
    }

    /// Swaps what the room produced since the last call into `out` (whose lists should be
    /// empty; the room keeps their capacity for its next output).
    pub fn take_output(&mut self, out: &mut Output) {
        std::mem::swap(&mut self.out, out);
    }

    /// Ends `client`'s membership with a goodbye (its ship goes): the deliverer found it cannot
    /// keep up. The goodbye is in the next [`Output`].
    pub fn expel(&mut self, client: ClientId, reason: ByeReason, why: &'static str) {
        self.leaving.push((client, reason, why));
        self.close_leaving();
    }

    /// Tells the room that `client`'s last snapshot was never taken by its writer (and never
    /// will be): the next one must not assume the client has it.
    pub fn snapshot_dropped(&mut self, client: ClientId) {
        if let Some(m) = self.members.get_mut(&client) {
            m.dropped = true;
        }
    }

    fn goodbye(&mut self, client: ClientId, reason: ByeReason, message: String) {
        self.out.closes.push((client, Bye { reason, message, retry_after_ms: 0 }));
        self.stats.count_close(reason.label());
    }

    fn join(&mut self, client: ClientId, name: &str, resume: Option<ResumeToken>, require_resume: bool) {
        let back = resume.and_then(|token| self.take_player(token));
        let (entity, id, resumed) = match back {
            Some((entity, id)) => {
                self.sim.restart_pilot(entity);
                self.stats.resumes.inc();
                (entity, id, true)
            }
            None if require_resume => {
                let message = "that player is gone (resume grace over); get a new join token".to_owned();
                self.goodbye(client, ByeReason::JoinRefused, message);
                return;
            }
            None => {
                if self.members.len() + self.suspended.len() >= self.settings.max_clients as usize {
                    if self.suspended.is_empty() || self.members.len() >= self.settings.max_clients as usize {
                        let message = format!("the room is full ({} players)", self.settings.max_clients);
                        self.goodbye(client, ByeReason::ServerFull, message);
                        return;
                    }
                    // A player who is here beats a ship waiting for one who may not come back.
                    let oldest = self.suspended.remove(0);
                    self.sim.despawn_ship(oldest.entity);
                    self.report_gauges();
                }
                let Some((entity, id)) = self.sim.spawn_ship(name) else {
                    self.goodbye(client, ByeReason::ServerFull, "the room has no net ids left".to_owned());
                    return;
                };
                (entity, id, false)
            }
        };
        let token = ResumeToken(rand::random());
        let view = self.settings.view;
        let welcome = ServerMsg::Welcome(Welcome {
            your_id: id,
            tick_hz: self.settings.sim.tick_hz,
            tick: self.sim.tick(),
            arena_width: self.settings.sim.arena.width as u32,
            arena_height: self.settings.sim.arena.height as u32,
            view_half_width: view.half_width as u32,
            view_half_height: view.half_height as u32,
            players: self.sim.players(),
            resume_token: token,
            resumed,
            resume_grace_ms: u32::try_from(self.settings.resume_grace.as_millis()).unwrap_or(u32::MAX),
            room: self.name.to_string(),
        });
        let frame = self.frame(&welcome);
        self.out.direct.push((client, frame));
        let replica = ClientReplica::new(id, self.settings.snapshot_budget);
        let counted = self.sim.pilot(entity).map(|p| p.queue.counts()).unwrap_or_default();
        let member = Member {
            entity,
            id,
            replica,
            dropped: false,
            untaken_in_row: 0,
            token,
            counted,
            ack: InputAck::default(),
            due: false,
        };
        self.members.insert(client, member);
    }

    /// The ship a resume token belongs to, taken away from whoever holds it: a suspended player
    /// (connection lost), or a connected member (the player reconnected before the server noticed
    /// the old connection was dead; that connection is closed as `Replaced`). A token works once:
    /// the ship's next `Welcome` carries a new one.
    fn take_player(&mut self, token: ResumeToken) -> Option<(Entity, NetId)> {
        if let Some(at) = self.suspended.iter().position(|s| s.token == token) {
            let s = self.suspended.swap_remove(at);
            self.report_gauges();
            let id = self.replicator_id(s.entity)?;
            return Some((s.entity, id));
        }
        let client = self.members.iter().find(|(_, m)| m.token == token).map(|(c, _)| *c)?;
        let m = self.remove_member(client)?;
        self.goodbye(client, ByeReason::Replaced, "this player resumed on another connection".to_owned());
        Some((m.entity, m.id))
    }

    /// Takes a member out of the room; the ids its client held may be reused once free.
    fn remove_member(&mut self, client: ClientId) -> Option<Member> {
        let mut m = self.members.remove(&client)?;
        m.replica.forget(self.sim.net_ids());
        Some(m)
    }

    fn replicator_id(&mut self, entity: Entity) -> Option<NetId> {
        self.sim.world_mut().get::<crate::sim::components::Net>(entity).map(|n| n.0)
    }

    /// Removes the ships whose players did not come back in time.
    fn expire_suspended(&mut self) {
        let now = self.sim.tick();
        let before = self.suspended.len();
        let sim = &mut self.sim;
        self.suspended.retain(|s| {
            let keep = now < s.until;
            if !keep {
                sim.despawn_ship(s.entity);
            }
            keep
        });
        if self.suspended.len() != before {
            self.report_gauges();
        }
    }

    /// Simulates one tick and sends its events (joins, leaves, kills) to every member.
    pub fn simulate(&mut self) {
        self.expire_suspended();
        self.sim.step();
        let shots = self.sim.shot_stats();
        self.stats.shots_fired.inc_by(shots.fired - self.shots_counted.fired);
        self.stats.shots_rewind_capped.inc_by(shots.capped - self.shots_counted.capped);
        self.stats.shots_rewind_wanted_ticks.inc_by(shots.wanted_ticks - self.shots_counted.wanted_ticks);
        self.shots_counted = shots;
        self.stats.ticks.inc_by(1);
        let events: Vec<GameEvent> = self.sim.drain_events().collect();
        for event in events {
            let frame = self.frame(&ServerMsg::Event(event));
            self.out.broadcast.push(frame);
        }
    }

    fn close_leaving(&mut self) {
        for (client, reason, why) in std::mem::take(&mut self.leaving) {
            if let Some(m) = self.remove_member(client) {
                self.goodbye(client, reason, why.to_owned());
                self.sim.despawn_ship(m.entity);
            }
        }
        self.report_gauges();
    }

    /// Captures the world once and encodes every member's snapshot into the [`Output`], a delta
    /// against what that member holds (a snapshot told [`Room::snapshot_dropped`] is assumed
    /// lost: the new one is encoded against what the client really has); members that keep
    /// leaving snapshots untaken are closed as too slow. Once a second the scoreboard, if it
    /// changed, is broadcast before the snapshots.
    pub fn replicate(&mut self) {
        if self.members.is_empty() {
            // Nobody to send to, and nobody holds a baseline a capture would serve: an empty
            // room skips the capture (most of an empty room's tick). The first member after it
            // gets a full snapshot, encoded from a fresh capture.
            self.close_leaving();
            return;
        }
        let tick = self.sim.tick();
        self.replicator.capture(self.sim.world_mut(), tick);
        self.report_gauges();
        let mut dropped = 0;
        // First, in turn: settle last tick's snapshots, find the slow, read each pilot's acks.
        for (client, m) in &mut self.members {
            let was_dropped = std::mem::take(&mut m.dropped);
            m.replica.settle(was_dropped, self.sim.net_ids());
            m.due = true;
            if was_dropped {
                dropped += 1;
                m.untaken_in_row += 1;
                if m.untaken_in_row > self.settings.slow_client_ticks {
                    self.leaving.push((*client, ByeReason::TooSlow, "snapshots were not read in time"));
                    m.due = false;
                    continue;
                }
            } else {
                m.untaken_in_row = 0;
            }
            let pilot = self.sim.pilot(m.entity);
            m.ack = pilot.map_or(InputAck::default(), |p| InputAck {
                seq: p.ack_seq,
                speculated: p.queue.unconfirmed().min(255) as u8,
                queue: p.queue.depth().min(255) as u8,
                offset: p.queue.offset(),
            });
            if let Some(c) = pilot.map(|p| p.queue.counts()) {
                let stats = &self.stats;
                stats.inputs_speculated.inc_by(c.speculated.saturating_sub(m.counted.speculated));
                stats.inputs_mispredicted.inc_by(c.mispredicted.saturating_sub(m.counted.mispredicted));
                stats.inputs_drained.inc_by(c.drained.saturating_sub(m.counted.drained));
                m.counted = c;
            }
        }
        // Then every snapshot at once: each reads the shared capture and writes its own replica.
        let Room { members, replicator, out, pool, .. } = self;
        let rep = &*replicator;
        let encode = |(client, m): (&ClientId, &mut Member)| {
            m.due.then(|| {
                m.replica.encode_frame(rep, m.ack);
                (*client, m.replica.frame_bytes())
            })
        };
        let before = out.snapshots.len();
        match pool {
            Some(pool) => pool.install(|| out.snapshots.par_extend(members.par_iter_mut().filter_map(encode))),
            None => out.snapshots.extend(members.iter_mut().filter_map(encode)),
        }
        let sent = (out.snapshots.len() - before) as u64;
        // Last, in turn: the ids the snapshots spawn are held from now on.
        for m in self.members.values_mut() {
            m.replica.account_ids(self.sim.net_ids());
        }
        self.stats.snapshots_dropped.inc_by(dropped);
        self.stats.snapshots_sent.inc_by(sent);
        if self.sim.tick().0.is_multiple_of(u32::from(self.settings.sim.tick_hz)) {
            self.send_scoreboard();
        }
        self.close_leaving();
    }

    fn send_scoreboard(&mut self) {
        let mut top: Vec<ScoreEntry> = self
            .members
            .values()
            .filter_map(|m| self.replicator.state(m.id))
            .map(|s| ScoreEntry { id: s.id, score: s.score })
            .collect();
        top.sort_unstable_by(|a, b| b.score.cmp(&a.score).then(a.id.cmp(&b.id)));
        top.truncate(10);
        let board = Scoreboard { players_online: self.members.len() as u32, top };
        if board != self.scoreboard {
            let frame = self.frame(&ServerMsg::Scoreboard(board.clone()));
            self.scoreboard = board;
            self.out.broadcast.push(frame);
        }
    }

    /// The ship and pilot of a member, for tests: its entity, if `client` is a member.
    #[must_use]
    pub fn member_entity(&self, client: ClientId) -> Option<Entity> {
        self.members.get(&client).map(|m| m.entity)
    }

    /// Says goodbye to every member (the server is shutting down): the goodbyes are in the
    /// next [`Output`].
    pub fn close_all(&mut self, reason: ByeReason, message: &str) {
        for client in std::mem::take(&mut self.members).into_keys() {
            self.goodbye(client, reason, message.to_owned());
        }
        self.report_gauges();
    }
}

#[cfg(test)]
mod tests;
