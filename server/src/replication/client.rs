//! One client's side of replication: what it holds, and the snapshot that moves it to this tick.
//!
//! Baselines follow the mailbox (see [`crate::mailbox`]): over TCP a snapshot the writer took
//! will arrive, so the client's baseline is the last snapshot *taken*. While a snapshot waits
//! untaken, the next one retracts it and is encoded against the last taken one instead, so a
//! slow reader gets fewer snapshots, each correct against what it really received.
//!
//! **Held ids.** The client may hold every entity of its committed baseline and, while a
//! snapshot is pending, every entity that snapshot spawns. The replica tells the room's
//! [`NetIdPool`] each time an id enters that set ([`NetIdPool::hold`], when a spawn is encoded)
//! and each time one leaves it ([`NetIdPool::release`]: the snapshot carrying its despawn was
//! taken, a snapshot spawning it was dropped, or the replica is [forgotten](ClientReplica::forget)),
//! so an id is never reused while a client may still hold the old entity, however long its
//! despawn waits behind a slow reader.

use super::{Capture, CellRect, CellScratch, INNER, NONE, Replicator, VisibleScratch};
use crate::sim::net_ids::NetIdPool;
use arena_protocol::codec::encode_server_into;
use arena_protocol::delta::{BodyWriter, write_update};
use arena_protocol::{EntityKind, EntityState, NetId, ServerMsg, Snapshot, Tick};
use std::sync::Arc;

/// What a client holds after some snapshot: its tick and the ids it holds (sorted). Without a
/// byte budget the client holds every entity exactly as it was at that tick, so the states are
/// read from the replicator's capture of that tick ([`Replicator::states_at`]) rather than kept
/// per client: 4 bytes per held entity instead of 40. Under a budget a deferred change leaves
/// the client's copy at its prediction, so the states are kept, with the priority each entity's
/// unsent changes have accumulated.
///
/// A client in sync holds every entity of some cells (all those of `rect` in the capture of
/// `tick`) and `ids` besides; others (after a full snapshot, a gap or under a budget) hold just
/// `ids`, with `rect` empty.
#[derive(Debug, Default)]
struct Baseline {
    tick: Option<Tick>,
    /// Cells held whole.
    rect: CellRect,
    /// The capture of `tick`, which says what is in those cells.
    capture: Option<Arc<Capture>>,
    /// Ids held outside `rect`, sorted.
    ids: Vec<NetId>,
    /// With a `rect`: the indices of `ids` in the capture.
    edge: Vec<u32>,
    /// Budgeted clients only: the held states, parallel to `ids`.
    states: Vec<EntityState>,
    /// Budgeted clients only: the priorities, parallel to `ids`.
    priority: Vec<f32>,
}

impl Baseline {
    /// Every id held, sorted, into `out`.
    fn all_ids(&self, out: &mut Vec<NetId>) {
        out.clear();
        let Some(capture) = self.capture.as_ref().filter(|_| !self.rect.is_empty()) else {
            out.extend_from_slice(&self.ids);
            return;
        };
        let mut edge = self.ids.iter().copied().peekable();
        for (e, &cell) in capture.states.iter().zip(&capture.cells) {
            if self.rect.contains(cell) {
                while let Some(id) = edge.next_if(|id| *id < e.id) {
                    out.push(id);
                }
                out.push(e.id);
            }
        }
        out.extend(edge);
    }

    fn clear(&mut self) {
        self.tick = None;
        self.rect = CellRect::EMPTY;
        self.capture = None;
        self.ids.clear();
        self.edge.clear();
        self.states.clear();
        self.priority.clear();
    }
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
    /// Ids the pending snapshot adds to the committed baseline (spawns), and takes out of it
    /// (despawns), sorted: what the client starts, and stops, holding once it is taken.
    added: Vec<NetId>,
    removed: Vec<NetId>,
    /// The same for the snapshot being encoded.
    next_added: Vec<NetId>,
    next_removed: Vec<NetId>,
    scratch: Baseline,
    /// The last `encode_frame` replaced a pending snapshot whose spawns (now in `next_added`)
    /// `account_ids` must release.
    release_replaced: bool,
    /// `encode_frame` ran and `account_ids` has not yet.
    unaccounted: bool,
    full_requested: bool,
    /// Most body bytes per snapshot, if the client has a bandwidth budget.
    budget: Option<usize>,
    writer: BodyWriter,
    visible: VisibleScratch,
    cells: CellScratch,
    /// Every id the committed baseline holds, when a slow path needs them listed.
    held: Vec<NetId>,
    own_records: Vec<u8>,
    candidates: Vec<Candidate>,
    order: Vec<u32>,
    body: Vec<u8>,
    frame: Vec<u8>,
    /// Where handed-off frames are cut from: its memory comes back once the writer has sent
    /// every frame cut from it, so a client costs no allocation per tick.
    out: bytes::BytesMut,
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
            added: Vec::new(),
            removed: Vec::new(),
            next_added: Vec::new(),
            next_removed: Vec::new(),
            scratch: Baseline::default(),
            release_replaced: false,
            unaccounted: false,
            full_requested: true,
            budget,
            writer: BodyWriter::default(),
            visible: VisibleScratch::default(),
            cells: CellScratch::default(),
            held: Vec::new(),
            own_records: Vec::new(),
            candidates: Vec::new(),
            order: Vec::new(),
            body: Vec::new(),
            frame: Vec::new(),
            out: bytes::BytesMut::new(),
        }
    }

    /// Makes the next snapshot a full one (the client lost its world).
    pub fn request_full(&mut self) {
        self.full_requested = true;
    }

    /// Records the fate of the pending snapshot: `dropped` if it was retracted before a writer
    /// took it, otherwise it is (or will be) delivered and becomes the committed baseline. A full
    /// snapshot stays owed until one is taken: a dropped full snapshot makes the next one full too.
    /// `ids` hears which ids the client no longer holds: those the snapshot despawned if it was
    /// taken, those it spawned if it was dropped.
    pub fn settle(&mut self, dropped: bool, ids: &mut NetIdPool) {
        self.account_ids(ids);
        if self.has_pending {
            if dropped {
                self.full_requested |= self.pending_full;
                self.added.iter().for_each(|&id| ids.release(id));
            } else {
                std::mem::swap(&mut self.committed, &mut self.pending);
                self.removed.iter().for_each(|&id| ids.release(id));
            }
            self.added.clear();
            self.removed.clear();
        }
        self.has_pending = false;
    }

    /// The replica is going away (its client left or was closed): `ids` hears that the client
    /// holds nothing any more. A replica dropped without this keeps its ids from ever being
    /// reused (safe, but a leak).
    pub fn forget(&mut self, ids: &mut NetIdPool) {
        self.account_ids(ids);
        self.committed.all_ids(&mut self.held);
        self.held.iter().for_each(|&id| ids.release(id));
        self.committed.clear();
        self.pending.clear();
        if self.has_pending {
            self.added.iter().for_each(|&id| ids.release(id));
        }
        self.added.clear();
        self.removed.clear();
        self.has_pending = false;
        self.full_requested = true;
    }

    /// Writes the snapshot of `rep`'s tick for this client against its committed baseline (or a
    /// full one if it has none or asked for one), remembers it as pending, and returns its frame.
    /// `ids` hears of every id the snapshot spawns (the client may hold it from now on). A pending
    /// snapshot not settled first is replaced as if dropped.
    pub fn encode(&mut self, rep: &Replicator, ack: InputAck, ids: &mut NetIdPool) -> &[u8] {
        self.encode_frame(rep, ack);
        self.account_ids(ids);
        &self.frame
    }

    /// [`ClientReplica::encode`] without touching the id pool, so that many replicas can encode
    /// at once on worker threads (`rep` is only read). [`ClientReplica::account_ids`] must follow
    /// before this replica is settled or encoded again.
    pub fn encode_frame(&mut self, rep: &Replicator, ack: InputAck) -> &[u8] {
        debug_assert!(!self.unaccounted, "account_ids was not called after the last encode_frame");
        let tick = rep.tick;
        let budgeted = self.budget.is_some();
        let mut gap = match self.committed.tick {
            Some(t) if !self.full_requested && tick.0 > t.0 => tick.0 - t.0,
            _ => 0,
        };
        // The states the client holds: its own copies under a budget, else the capture of its
        // baseline's tick; a baseline older than the kept captures gets a full snapshot.
        let held_states: &[EntityState] = match (gap, budgeted) {
            (0, _) => &[],
            (_, true) => &self.committed.states,
            (_, false) => match self.committed.tick.and_then(|t| rep.states_at(t)) {
                Some(states) => states,
                None => {
                    gap = 0;
                    &[]
                }
            },
        };
        let own = rep.curr.binary_search_by_key(&self.viewer, |e| e.id).ok();
        let center = own.map_or((0.0, 0.0), |i| rep.curr[i].position());
        if gap == 1 && !budgeted {
            return self.encode_in_sync(rep, ack, own, center);
        }
        self.committed.all_ids(&mut self.held);
        let baseline: &[NetId] = if gap == 0 { &[] } else { &self.held };
        // Under no budget, `held_states` is a whole capture: `q` walks it alongside `b`.
        let mut q = 0;

        rep.visible(center, own, &mut self.visible);

        let writer = &mut self.writer;
        writer.clear();
        self.own_records.clear();
        self.candidates.clear();
        // Filled here for deltas; for a full snapshot, by a merge after the loop.
        let (added, removed) = (&mut self.next_added, &mut self.next_removed);
        added.clear();
        removed.clear();
        let held_priority: &[f32] = if gap == 0 { &[] } else { &self.committed.priority };
        let next = &mut self.scratch.ids;
        let next_states = &mut self.scratch.states;
        let next_priority = &mut self.scratch.priority;
        next.clear();
        next_states.clear();
        next_priority.clear();
        let mut sum = 0u32;
        let (mut b, mut p) = (0, 0);
        loop {
            let held = baseline.get(b).copied();
            let pick = self.visible.picks.get(p).map(|&t| ((t & !INNER) as usize, t & INNER != 0));
            match (held, pick) {
                (None, None) => break,
                (Some(h), Some((i, _))) if h == rep.ids[i] => {
                    let c = &rep.curr[i];
                    let pi = rep.prev_index[i];
                    // The client's copy is last tick's true state unless a budget deferred it
                    // (deferred copies carry a priority above zero).
                    let synced = held_priority.get(b).is_none_or(|p| *p == 0.0);
                    let (shared, start, end) = if gap == 1 && pi != NONE && synced {
                        debug_assert!(!budgeted || rep.prev[pi as usize] == held_states[b]);
                        let (s, e) = rep.spans[i];
                        (true, s, e)
                    } else {
                        let h = if budgeted {
                            held_states.get(b)
                        } else {
                            while held_states.get(q).is_some_and(|s| s.id < h) {
                                q += 1;
                            }
                            held_states.get(q).filter(|s| s.id == h)
                        };
                        let s = self.own_records.len() as u32;
                        match h {
                            Some(h) => {
                                write_update(&mut self.own_records, h, c, gap, &rep.physics);
                            }
                            // Cannot happen (what a client holds was in the capture of its
                            // baseline's tick); if it did, the checksum would tell the client,
                            // which would ask for a full snapshot.
                            None => debug_assert!(false, "held id {h:?} is not in its baseline's capture"),
                        }
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
                    next.push(c.id);
                    if budgeted {
                        next_states.push(*c);
                        next_priority.push(0.0);
                    }
                    sum = sum.wrapping_add(rep.hashes[i]);
                    b += 1;
                    p += 1;
                }
                (Some(h), Some((i, _))) if h < rep.ids[i] => {
                    writer.despawn(h);
                    removed.push(h);
                    b += 1;
                }
                (Some(h), None) => {
                    writer.despawn(h);
                    removed.push(h);
                    b += 1;
                }
                (_, Some((i, inner))) => {
                    if inner {
                        let c = &rep.curr[i];
                        writer.spawn(c);
                        if gap > 0 {
                            added.push(c.id);
                        }
                        next.push(c.id);
                        if budgeted {
                            next_states.push(*c);
                            next_priority.push(0.0);
                        }
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
                    let believed = held_states[c.held as usize].predict(gap, &rep.physics);
                    sum = sum.wrapping_sub(rep.hashes[c.state as usize]).wrapping_add(believed.hash32());
                    next_states[c.at as usize] = believed;
                    next_priority[c.at as usize] = c.priority;
                }
            }
        }

        self.write_frame(tick, gap, ack, sum);
        if gap == 0 {
            // A full snapshot replaces the client's world: compare it with what it holds.
            diff_ids(&self.held, &self.scratch.ids, &mut self.next_added, &mut self.next_removed);
        }
        // Everything held is at the "edge" (no cells held whole): the next snapshot, if in sync,
        // starts from the indices of all of it.
        self.scratch.rect = CellRect::EMPTY;
        self.scratch.edge.clear();
        if !budgeted {
            let mut k = 0;
            for id in &self.scratch.ids {
                k += rep.ids[k..].partition_point(|x| x < id);
                self.scratch.edge.push(k as u32);
            }
        }
        self.commit_pending(rep, gap);
        &self.frame
    }

    /// The fast path of [`ClientReplica::encode_frame`], for a client that holds last tick
    /// exactly: see [`super::cells`].
    fn encode_in_sync(&mut self, rep: &Replicator, ack: InputAck, own: Option<usize>, center: (f32, f32)) -> &[u8] {
        self.writer.clear();
        let (sum, full) = rep.encode_in_sync(
            center,
            own,
            self.committed.rect,
            &self.committed.edge,
            &mut self.cells,
            &mut self.writer,
        );
        self.write_frame(rep.tick, 1, ack, sum);
        let CellScratch { spawns, despawns, edge, .. } = &mut self.cells;
        self.next_added.clear();
        self.next_added.extend(spawns.iter().map(|&i| rep.ids[i as usize]));
        std::mem::swap(&mut self.next_removed, despawns);
        self.scratch.ids.clear();
        self.scratch.ids.extend(edge.iter().map(|&i| rep.ids[i as usize]));
        std::mem::swap(&mut self.scratch.edge, edge);
        self.scratch.states.clear();
        self.scratch.priority.clear();
        self.scratch.rect = full;
        self.commit_pending(rep, 1);
        &self.frame
    }

    /// Finishes the body in the writer into this tick's snapshot frame.
    fn write_frame(&mut self, tick: Tick, gap: u32, ack: InputAck, checksum: u32) {
        self.body.clear();
        self.writer.finish(&mut self.body);
        let snapshot = Snapshot {
            tick,
            baseline_gap: gap,
            ack_seq: ack.seq,
            ack_speculated: ack.speculated,
            input_queue: ack.queue,
            input_offset: ack.offset,
            checksum,
            body: std::mem::take(&mut self.body),
        };
        let msg = ServerMsg::Snapshot(snapshot);
        encode_server_into(&msg, &mut self.frame);
        if let ServerMsg::Snapshot(s) = msg {
            self.body = s.body;
        }
    }

    /// Makes the snapshot just encoded (its baseline in `scratch`, its spawns and despawns in
    /// `next_added` and `next_removed`) the pending one.
    fn commit_pending(&mut self, rep: &Replicator, gap: u32) {
        // The spawns of the replaced pending snapshot (if any) move to `next_added`, to be
        // released by `account_ids` after the new spawns are held.
        self.release_replaced = self.has_pending;
        self.unaccounted = true;
        std::mem::swap(&mut self.added, &mut self.next_added);
        std::mem::swap(&mut self.removed, &mut self.next_removed);

        self.scratch.tick = Some(rep.tick);
        self.scratch.capture = if self.scratch.rect.is_empty() { None } else { rep.newest().cloned() };
        std::mem::swap(&mut self.pending, &mut self.scratch);
        self.has_pending = true;
        self.pending_full = gap == 0;
        self.full_requested = false;
    }

    /// The last encoded frame as shared bytes for the writer, cut from a buffer this replica
    /// reuses (allocating only when frames it handed off are all still unsent).
    pub fn frame_bytes(&mut self) -> bytes::Bytes {
        /// The least room reserved at a time: many frames are cut from one allocation.
        const CHUNK: usize = 4 * 1024;
        if self.out.capacity() < self.frame.len() {
            // The rest of the region is too small: take the region back if every frame cut from
            // it has been sent (dropped), else start a new one.
            self.out.reserve(self.frame.len().max(CHUNK));
        }
        self.out.extend_from_slice(&self.frame);
        self.out.split().freeze()
    }

    /// Tells `ids` what the last [`ClientReplica::encode_frame`] changed: the ids its snapshot
    /// spawns are held from now on; those spawned by the pending snapshot it replaced are not.
    pub fn account_ids(&mut self, ids: &mut NetIdPool) {
        if !self.unaccounted {
            return;
        }
        // Hold the new before letting go of the old, so that no count touches zero in between.
        self.added.iter().for_each(|&id| ids.hold(id));
        if self.release_replaced {
            self.next_added.iter().for_each(|&id| ids.release(id));
        }
        self.release_replaced = false;
        self.unaccounted = false;
    }
}

/// The ids in `new` but not in `old` (into `added`) and in `old` but not in `new` (into
/// `removed`); both lists are sorted by id.
fn diff_ids(old: &[NetId], new: &[NetId], added: &mut Vec<NetId>, removed: &mut Vec<NetId>) {
    added.clear();
    removed.clear();
    let (mut o, mut n) = (0, 0);
    loop {
        match (old.get(o), new.get(n)) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => {
                o += 1;
                n += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed.push(*a);
                o += 1;
            }
            (Some(a), None) => {
                removed.push(*a);
                o += 1;
            }
            (_, Some(b)) => {
                added.push(*b);
                n += 1;
            }
        }
    }
}
