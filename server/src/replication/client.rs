//! One client's side of replication: what it holds, and the snapshot that moves it to this tick.
//!
//! Baselines follow the mailbox (see [`crate::mailbox`]): over TCP a snapshot the writer took
//! will arrive, so the client's baseline is the last snapshot *taken*. While a snapshot waits
//! untaken, the next one retracts it and is encoded against the last taken one instead, so a
//! slow reader gets fewer snapshots, each correct against what it really received.

use super::{INNER, NONE, Replicator, VisibleScratch};
use arena_protocol::codec::encode_server_into;
use arena_protocol::delta::{BodyWriter, write_update};
use arena_protocol::{EntityKind, EntityState, NetId, ServerMsg, Snapshot, Tick};

/// What a client holds after some snapshot: its tick and entities (sorted by id), and for each
/// entity the priority its unsent changes have accumulated (only used under a byte budget).
#[derive(Debug, Default)]
struct Baseline {
    tick: Option<Tick>,
    entities: Vec<EntityState>,
    priority: Vec<f32>,
}

/// An update that competes for a place in a budgeted snapshot.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// Index of the entity in the new baseline.
    at: u32,
    /// Index of the entity in the old baseline.
    held: u32,
    /// Index of the entity in the replicator's states.
    state: u32,
    /// The record: in the replicator's shared records, or in this client's own.
    shared: bool,
    start: u32,
    end: u32,
    priority: f32,
    chosen: bool,
}

/// How much an entity's pending change matters per tick to a client looking from `center`:
/// ships over projectiles over orbs, near over far.
fn weight(e: &EntityState, center: (f32, f32)) -> f32 {
    let kind = match e.kind {
        EntityKind::Ship => 4.0,
        EntityKind::Projectile => 2.0,
        EntityKind::HealOrb | EntityKind::ScoreOrb => 1.0,
    };
    let (x, y) = e.position();
    kind / (1.0 + (x - center.0).hypot(y - center.1) / 500.0)
}

/// What a snapshot tells the client about its inputs (see [`arena_protocol::Snapshot`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputAck {
    /// The last input applied.
    pub seq: u32,
    /// How many applied inputs were speculated and are still unconfirmed.
    pub speculated: u8,
    /// Inputs waiting after this tick's.
    pub queue: u8,
    /// How much earlier than wanted its inputs arrive, in 1/16 tick.
    pub offset: i16,
}

/// Per-client replication state: baselines, reusable buffers, and the last snapshot's figures.
#[derive(Debug)]
pub struct ClientReplica {
    viewer: NetId,
    /// What the client holds for certain (its last taken snapshot).
    committed: Baseline,
    /// What it will hold once the pending (offered, not yet taken) snapshot goes out.
    pending: Baseline,
    has_pending: bool,
    /// Whether the pending snapshot is a full one.
    pending_full: bool,
    scratch: Baseline,
    full_requested: bool,
    /// Most body bytes per snapshot, if the client has a bandwidth budget.
    budget: Option<usize>,
    writer: BodyWriter,
    visible: VisibleScratch,
    own_records: Vec<u8>,
    candidates: Vec<Candidate>,
    order: Vec<u32>,
    body: Vec<u8>,
    frame: Vec<u8>,
}

impl ClientReplica {
    /// Replication for the client whose ship is `viewer`; its first snapshot will be full. With
    /// a `budget`, snapshot bodies stay within that many bytes where they can: the own ship,
    /// spawns and despawns always go, other updates by accumulated priority until it is spent
    /// (the rest wait, the client predicting them meanwhile).
    #[must_use]
    pub fn new(viewer: NetId, budget: Option<usize>) -> ClientReplica {
        ClientReplica {
            viewer,
            committed: Baseline::default(),
            pending: Baseline::default(),
            has_pending: false,
            pending_full: false,
            scratch: Baseline::default(),
            full_requested: true,
            budget,
            writer: BodyWriter::default(),
            visible: VisibleScratch::default(),
            own_records: Vec::new(),
            candidates: Vec::new(),
            order: Vec::new(),
            body: Vec::new(),
            frame: Vec::new(),
        }
    }

    /// Makes the next snapshot a full one (the client lost its world).
    pub fn request_full(&mut self) {
        self.full_requested = true;
    }

    /// Records the fate of the pending snapshot: `dropped` if it was retracted before a writer
    /// took it, otherwise it is (or will be) delivered and becomes the committed baseline. A full
    /// snapshot stays owed until one is taken: a dropped full snapshot makes the next one full too.
    pub fn settle(&mut self, dropped: bool) {
        if self.has_pending {
            if dropped {
                self.full_requested |= self.pending_full;
            } else {
                std::mem::swap(&mut self.committed, &mut self.pending);
            }
        }
        self.has_pending = false;
    }

    /// Writes the snapshot of `rep`'s tick for this client against its committed baseline (or a
    /// full one if it has none or asked for one), remembers it as pending, and returns its frame.
    pub fn encode(&mut self, rep: &Replicator, ack: InputAck) -> &[u8] {
        let tick = rep.tick;
        let gap = match self.committed.tick {
            Some(t) if !self.full_requested && tick.0 > t.0 => tick.0 - t.0,
            _ => 0,
        };
        let baseline: &[EntityState] = if gap == 0 { &[] } else { &self.committed.entities };

        let own = rep.curr.binary_search_by_key(&self.viewer, |e| e.id).ok();
        let center = own.map_or((0.0, 0.0), |i| rep.curr[i].position());
        rep.visible(center, own, &mut self.visible);

        let writer = &mut self.writer;
        writer.clear();
        self.own_records.clear();
        self.candidates.clear();
        let held_priority: &[f32] = if gap == 0 { &[] } else { &self.committed.priority };
        let next = &mut self.scratch.entities;
        let next_priority = &mut self.scratch.priority;
        next.clear();
        next_priority.clear();
        let mut sum = 0u32;
        let (mut b, mut p) = (0, 0);
        loop {
            let held = baseline.get(b);
            let pick = self.visible.picks.get(p).map(|&t| ((t & !INNER) as usize, t & INNER != 0));
            match (held, pick) {
                (None, None) => break,
                (Some(h), Some((i, _))) if h.id == rep.ids[i] => {
                    let c = &rep.curr[i];
                    let pi = rep.prev_index[i];
                    // The client's copy is last tick's true state unless a budget deferred it
                    // (deferred copies carry a priority above zero).
                    let synced = held_priority.get(b).is_none_or(|p| *p == 0.0);
                    debug_assert!(!(gap == 1 && pi != NONE && synced) || rep.prev[pi as usize] == *h);
                    let (shared, start, end) = if gap == 1 && pi != NONE && synced {
                        let (s, e) = rep.spans[i];
                        (true, s, e)
                    } else {
                        let s = self.own_records.len() as u32;
                        write_update(&mut self.own_records, h, c, gap, &rep.physics);
                        (false, s, self.own_records.len() as u32)
                    };
                    if start < end {
                        if self.budget.is_some() {
                            let priority = if c.id == self.viewer {
                                f32::INFINITY
                            } else {
                                held_priority.get(b).copied().unwrap_or(0.0) + weight(c, center)
                            };
                            let at = next.len() as u32;
                            self.candidates.push(Candidate {
                                at,
                                held: b as u32,
                                state: i as u32,
                                shared,
                                start,
                                end,
                                priority,
                                chosen: false,
                            });
                        } else {
                            let records = if shared { &rep.records } else { &self.own_records };
                            writer.update_record(c.id, &records[start as usize..end as usize]);
                        }
                    }
                    next.push(*c);
                    next_priority.push(0.0);
                    sum = sum.wrapping_add(rep.hashes[i]);
                    b += 1;
                    p += 1;
                }
                (Some(h), Some((i, _))) if h.id < rep.ids[i] => {
                    writer.despawn(h.id);
                    b += 1;
                }
                (Some(h), None) => {
                    writer.despawn(h.id);
                    b += 1;
                }
                (_, Some((i, inner))) => {
                    if inner {
                        let c = &rep.curr[i];
                        writer.spawn(c);
                        next.push(*c);
                        next_priority.push(0.0);
                        sum = sum.wrapping_add(rep.hashes[i]);
                    }
                    p += 1;
                }
            }
        }

        if let Some(budget) = self.budget {
            // Highest priority first, as long as the body stays within the budget (the own ship
            // goes regardless); then write the chosen in id order and let the rest wait.
            self.order.clear();
            self.order.extend(0..self.candidates.len() as u32);
            let cands = &mut self.candidates;
            self.order.sort_unstable_by(|&a, &b| cands[b as usize].priority.total_cmp(&cands[a as usize].priority));
            let mut size = writer.len();
            for &k in &self.order {
                let c = &mut cands[k as usize];
                let cost = (c.end - c.start) as usize + 2;
                if c.priority.is_infinite() || size + cost <= budget {
                    c.chosen = true;
                    size += cost;
                }
            }
            for c in cands.iter() {
                let state = &rep.curr[c.state as usize];
                if c.chosen {
                    let records = if c.shared { &rep.records } else { &self.own_records };
                    writer.update_record(state.id, &records[c.start as usize..c.end as usize]);
                } else {
                    // The client predicts what it holds; that prediction is now its copy.
                    let believed = baseline[c.held as usize].predict(gap, &rep.physics);
                    sum = sum.wrapping_sub(rep.hashes[c.state as usize]).wrapping_add(believed.hash32());
                    next[c.at as usize] = believed;
                    next_priority[c.at as usize] = c.priority;
                }
            }
        }

        self.body.clear();
        writer.finish(&mut self.body);
        let snapshot = Snapshot {
            tick,
            baseline_gap: gap,
            ack_seq: ack.seq,
            ack_speculated: ack.speculated,
            input_queue: ack.queue,
            input_offset: ack.offset,
            checksum: sum,
            body: std::mem::take(&mut self.body),
        };
        let msg = ServerMsg::Snapshot(snapshot);
        encode_server_into(&msg, &mut self.frame);
        if let ServerMsg::Snapshot(s) = msg {
            self.body = s.body;
        }

        self.scratch.tick = Some(tick);
        std::mem::swap(&mut self.pending, &mut self.scratch);
        self.has_pending = true;
        self.pending_full = gap == 0;
        self.full_requested = false;
        &self.frame
    }
}
