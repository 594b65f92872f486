//! One client's side of replication: what it holds, and the snapshot that moves it to this tick.
//!
//! Baselines follow the mailbox (see [`crate::mailbox`]): over TCP a snapshot the writer took
//! will arrive, so the client's baseline is the last snapshot *taken*. While a snapshot waits
//! untaken, the next one retracts it and is encoded against the last taken one instead, so a
//! slow reader gets fewer snapshots, each correct against what it really received.

use super::{INNER, NONE, Replicator};
use arena_protocol::codec::encode_server_into;
use arena_protocol::delta::BodyWriter;
use arena_protocol::{EntityState, NetId, ServerMsg, Snapshot, Tick};

/// What a client holds after some snapshot: its tick and entities (sorted by id).
#[derive(Debug, Default)]
struct Baseline {
    tick: Option<Tick>,
    entities: Vec<EntityState>,
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
    scratch: Baseline,
    full_requested: bool,
    writer: BodyWriter,
    picks: Vec<u32>,
    body: Vec<u8>,
    frame: Vec<u8>,
}

impl ClientReplica {
    /// Replication for the client whose ship is `viewer`; its first snapshot will be full.
    #[must_use]
    pub fn new(viewer: NetId) -> ClientReplica {
        ClientReplica {
            viewer,
            committed: Baseline::default(),
            pending: Baseline::default(),
            has_pending: false,
            scratch: Baseline::default(),
            full_requested: true,
            writer: BodyWriter::default(),
            picks: Vec::new(),
            body: Vec::new(),
            frame: Vec::new(),
        }
    }

    /// Makes the next snapshot a full one (the client lost its world).
    pub fn request_full(&mut self) {
        self.full_requested = true;
    }

    /// Records the fate of the pending snapshot: `dropped` if it was retracted before a writer
    /// took it, otherwise it is (or will be) delivered and becomes the committed baseline.
    pub fn settle(&mut self, dropped: bool) {
        if self.has_pending && !dropped {
            std::mem::swap(&mut self.committed, &mut self.pending);
        }
        self.has_pending = false;
    }

    /// The number of entities the client holds once its pending snapshot arrives.
    #[must_use]
    pub fn held(&self) -> usize {
        if self.has_pending { self.pending.entities.len() } else { self.committed.entities.len() }
    }

    /// Writes the snapshot of `rep`'s tick for this client against its committed baseline (or a
    /// full one if it has none or asked for one), remembers it as pending, and returns its frame.
    pub fn encode(&mut self, rep: &Replicator, ack_seq: u32) -> &[u8] {
        let tick = rep.tick;
        let gap = match self.committed.tick {
            Some(t) if !self.full_requested && tick.0 > t.0 => tick.0 - t.0,
            _ => 0,
        };
        let baseline: &[EntityState] = if gap == 0 { &[] } else { &self.committed.entities };

        let own = rep.curr.binary_search_by_key(&self.viewer, |e| e.id).ok();
        let center = own.map_or((0.0, 0.0), |i| rep.curr[i].position());
        rep.visible(center, &mut self.picks);
        if let Some(i) = own {
            let i = i as u32;
            match self.picks.binary_search_by_key(&i, |p| p & !INNER) {
                Ok(at) => self.picks[at] |= INNER,
                Err(at) => self.picks.insert(at, i | INNER),
            }
        }

        let writer = &mut self.writer;
        writer.clear();
        let next = &mut self.scratch.entities;
        next.clear();
        let mut sum = 0u32;
        let (mut b, mut p) = (0, 0);
        loop {
            let held = baseline.get(b);
            let pick = self.picks.get(p).map(|&t| ((t & !INNER) as usize, t & INNER != 0));
            match (held, pick) {
                (None, None) => break,
                (Some(h), Some((i, _))) if h.id == rep.curr[i].id => {
                    let c = &rep.curr[i];
                    let pi = rep.prev_index[i];
                    if gap == 1 && pi != NONE && rep.prev[pi as usize] == *h {
                        let (s, e) = rep.spans[i];
                        if s < e {
                            writer.update_record(c.id, &rep.records[s as usize..e as usize]);
                        }
                    } else {
                        writer.update(h, c, gap, &rep.physics);
                    }
                    next.push(*c);
                    sum = sum.wrapping_add(rep.hashes[i]);
                    b += 1;
                    p += 1;
                }
                (Some(h), Some((i, _))) if h.id < rep.curr[i].id => {
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
                        sum = sum.wrapping_add(rep.hashes[i]);
                    }
                    p += 1;
                }
            }
        }

        self.body.clear();
        writer.finish(&mut self.body);
        let snapshot =
            Snapshot { tick, baseline_gap: gap, ack_seq, checksum: sum, body: std::mem::take(&mut self.body) };
        let msg = ServerMsg::Snapshot(snapshot);
        encode_server_into(&msg, &mut self.frame);
        if let ServerMsg::Snapshot(s) = msg {
            self.body = s.body;
        }

        self.scratch.tick = Some(tick);
        std::mem::swap(&mut self.pending, &mut self.scratch);
        self.has_pending = true;
        self.full_requested = false;
        &self.frame
    }
}
