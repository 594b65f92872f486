//! Delta-compressed snapshot bodies: how a client's copy of the world is carried from one
//! snapshot to the next, and [`ClientWorld`], the decoder every client (bot, browser) runs.
//!
//! A body moves the client's world from its *baseline* (the last snapshot it applied, `gap` ticks
//! earlier) to the snapshot's tick. Every entity the client holds is first predicted `gap` ticks
//! ahead with [`EntityState::predict`]; the body then lists, in three sections, each with a count
//! and ids ascending as varint gaps from the previous id (the first from 0):
//!
//! 1. **despawns**: ids the client must forget;
//! 2. **spawns**: full states of entities new to the client;
//! 3. **updates**: for entities whose true state differs from the prediction, a mask byte and
//!    only the differing fields, as zig-zag varint deltas against the prediction. This section
//!    is a count of *blocks*, each a count of records with ids ascending as gaps within the
//!    block (the first from 0); blocks come in any order, so that a server may encode a grid
//!    cell's changes once and copy that block to every client holding the cell (Arena's sorts
//!    each snapshot's records into one block: fewer bytes). An id appears in at most one record
//!    of the whole section.
//!
//! An entity whose state is exactly as predicted costs nothing: a ship holding its keys, a
//! projectile in flight and a lying orb are all free. A body with `gap = 0` is a full snapshot:
//! the baseline is the empty world and everything is a spawn.

use crate::entity::{EntityKind, EntityState, Physics, checksum};
use crate::varint::{ReadError, Reader, put_i32, put_u32};
use crate::{NetId, Snapshot, Tick};

/// Update mask bit: x changed.
pub const FIELD_X: u8 = 1 << 0;
/// Update mask bit: y changed.
pub const FIELD_Y: u8 = 1 << 1;
/// Update mask bit: x velocity changed.
pub const FIELD_VX: u8 = 1 << 2;
/// Update mask bit: y velocity changed.
pub const FIELD_VY: u8 = 1 << 3;
/// Update mask bit: aim changed.
pub const FIELD_AIM: u8 = 1 << 4;
/// Update mask bit: hp changed.
pub const FIELD_HP: u8 = 1 << 5;
/// Update mask bit: flags changed (sent raw, and applied *before* predicting).
pub const FIELD_FLAGS: u8 = 1 << 6;
/// Update mask bit: score changed.
pub const FIELD_SCORE: u8 = 1 << 7;

/// Why a snapshot could not be applied. Any of these means the client's world is no longer the
/// server's: it should clear it and ask for a full snapshot ([`crate::ClientMsg::RequestFull`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// The body could not be read.
    #[error("bad snapshot body: {0}")]
    Read(#[from] ReadError),
    /// The snapshot is a delta against a tick the client does not hold.
    #[error("snapshot is against tick {expected:?}, the client holds {held:?}")]
    BaselineMismatch {
        /// The baseline the snapshot needs.
        expected: Tick,
        /// The tick the client holds, if any.
        held: Option<Tick>,
    },
    /// An update or despawn names an entity the client does not hold.
    #[error("snapshot names unknown entity {0:?}")]
    UnknownEntity(NetId),
    /// A spawn names an entity the client already holds.
    #[error("snapshot spawns entity {0:?} twice")]
    DuplicateEntity(NetId),
    /// A spawn has an unknown kind byte.
    #[error("unknown entity kind {0}")]
    BadKind(u8),
    /// A field left its range (hp over 255, ids over `u32::MAX`).
    #[error("a field is out of range")]
    OutOfRange,
    /// Bytes were left after the updates.
    #[error("trailing bytes after the snapshot body")]
    Trailing,
    /// The world after applying the snapshot does not match the server's checksum: a desync.
    #[error("checksum mismatch: server {server:#010x}, client {client:#010x}")]
    Checksum {
        /// The server's checksum.
        server: u32,
        /// The client's.
        client: u32,
    },
    /// A section names an id again (a gap of 0 after its first record): ids ascend strictly.
    #[error("snapshot lists entity {0:?} twice in a section")]
    Unsorted(NetId),
    /// An update block with no records (the server never writes one).
    #[error("an update block has no records")]
    EmptyBlock,
    /// Two update blocks both update one entity.
    #[error("snapshot updates entity {0:?} twice")]
    DuplicateUpdate(NetId),
}

/// Reads the next id of a section: a varint gap from the id before it (`last`; the first record
/// counts from 0). Ids ascend strictly, so only the first record's gap may be 0.
fn read_id(r: &mut Reader<'_>, last: &mut Option<u32>) -> Result<NetId, DeltaError> {
    let gap = r.u32()?;
    let id = match *last {
        None => gap,
        Some(prev) if gap == 0 => return Err(DeltaError::Unsorted(NetId(prev))),
        Some(prev) => prev.checked_add(gap).ok_or(DeltaError::OutOfRange)?,
    };
    *last = Some(id);
    Ok(NetId(id))
}

fn wrap_aim(d: i32) -> i32 {
    ((d + 128) & 0xff) - 128
}

/// Appends the full state of `e` (without its id) as a spawn record.
pub fn write_spawn(out: &mut Vec<u8>, e: &EntityState) {
    out.push(e.kind as u8);
    put_i32(out, e.x);
    put_i32(out, e.y);
    match e.kind {
        EntityKind::Ship => {
            put_i32(out, e.vx);
            put_i32(out, e.vy);
            out.push(e.aim as u8);
            out.push(e.hp);
            out.push(e.flags);
            put_u32(out, e.score);
        }
        EntityKind::Projectile => {
            put_i32(out, e.vx);
            put_i32(out, e.vy);
            put_u32(out, e.owner.0);
        }
        EntityKind::HealOrb | EntityKind::ScoreOrb => {}
    }
}

fn read_spawn(r: &mut Reader<'_>, id: NetId) -> Result<EntityState, DeltaError> {
    let k = r.u8()?;
    let kind = EntityKind::from_u8(k).ok_or(DeltaError::BadKind(k))?;
    let mut e = EntityState { id, kind, x: r.i32()?, y: r.i32()?, ..Default::default() };
    match kind {
        EntityKind::Ship => {
            e.vx = r.i32()?;
            e.vy = r.i32()?;
            e.aim = u16::from(r.u8()?);
            e.hp = r.u8()?;
            e.flags = r.u8()?;
            e.score = r.u32()?;
        }
        EntityKind::Projectile => {
            e.vx = r.i32()?;
            e.vy = r.i32()?;
            e.owner = NetId(r.u32()?);
        }
        EntityKind::HealOrb | EntityKind::ScoreOrb => {}
    }
    Ok(e)
}

/// The state the client will predict for `base` after `n` ticks when the update carries
/// `flags` (flags apply before the prediction, so a changed button is predicted with).
fn predicted(base: &EntityState, flags: u8, n: u32, physics: &Physics) -> EntityState {
    EntityState { flags, ..*base }.predict(n, physics)
}

/// Appends the update record (mask and fields) that turns `base`, predicted `n` ticks ahead,
/// into `curr`. Writes nothing and returns `false` when the prediction is already exact.
pub fn write_update(out: &mut Vec<u8>, base: &EntityState, curr: &EntityState, n: u32, physics: &Physics) -> bool {
    write_update_against(out, base.flags, &predicted(base, curr.flags, n, physics), curr)
}

/// Appends the update record that turns the prediction `p` into `curr`, given the flags the
/// client held (`held_flags`). [`write_update`] calls it with the protocol's prediction; benches
/// call it with other predictors to compare what they would cost.
pub fn write_update_against(out: &mut Vec<u8>, held_flags: u8, p: &EntityState, curr: &EntityState) -> bool {
    let mut mask = 0u8;
    for (bit, differs) in [
        (FIELD_X, p.x != curr.x),
        (FIELD_Y, p.y != curr.y),
        (FIELD_VX, p.vx != curr.vx),
        (FIELD_VY, p.vy != curr.vy),
        (FIELD_AIM, p.aim != curr.aim),
        (FIELD_HP, p.hp != curr.hp),
        (FIELD_FLAGS, held_flags != curr.flags),
        (FIELD_SCORE, p.score != curr.score),
    ] {
        if differs {
            mask |= bit;
        }
    }
    if mask == 0 {
        return false;
    }
    out.push(mask);
    if mask & FIELD_FLAGS != 0 {
        out.push(curr.flags);
    }
    for (bit, now, then) in
        [(FIELD_X, curr.x, p.x), (FIELD_Y, curr.y, p.y), (FIELD_VX, curr.vx, p.vx), (FIELD_VY, curr.vy, p.vy)]
    {
        if mask & bit != 0 {
            put_i32(out, now.wrapping_sub(then));
        }
    }
    if mask & FIELD_AIM != 0 {
        put_i32(out, wrap_aim(i32::from(curr.aim) - i32::from(p.aim)));
    }
    if mask & FIELD_HP != 0 {
        put_i32(out, i32::from(curr.hp) - i32::from(p.hp));
    }
    if mask & FIELD_SCORE != 0 {
        put_i32(out, curr.score.wrapping_sub(p.score) as i32);
    }
    true
}

fn read_update(r: &mut Reader<'_>, base: &EntityState, n: u32, physics: &Physics) -> Result<EntityState, DeltaError> {
    let mask = r.u8()?;
    let flags = if mask & FIELD_FLAGS != 0 { r.u8()? } else { base.flags };
    let mut e = predicted(base, flags, n, physics);
    if mask & FIELD_X != 0 {
        e.x = e.x.wrapping_add(r.i32()?);
    }
    if mask & FIELD_Y != 0 {
        e.y = e.y.wrapping_add(r.i32()?);
    }
    if mask & FIELD_VX != 0 {
        e.vx = e.vx.wrapping_add(r.i32()?);
    }
    if mask & FIELD_VY != 0 {
        e.vy = e.vy.wrapping_add(r.i32()?);
    }
    // A delta is any `i32` the sender chose: the sums must not overflow (a panic in debug builds).
    // Aims wrap (256 divides 2³², so the wrapping sum has the right low byte); hit points may not.
    if mask & FIELD_AIM != 0 {
        e.aim = (i32::from(e.aim).wrapping_add(r.i32()?) & 0xff) as u16;
    }
    if mask & FIELD_HP != 0 {
        let hp = i32::from(e.hp).checked_add(r.i32()?);
        e.hp = hp.and_then(|hp| u8::try_from(hp).ok()).ok_or(DeltaError::OutOfRange)?;
    }
    if mask & FIELD_SCORE != 0 {
        e.score = e.score.wrapping_add(r.i32()? as u32);
    }
    Ok(e)
}

/// Reads past one update record (its mask and fields) without applying it.
fn skip_update(r: &mut Reader<'_>) -> Result<(), DeltaError> {
    let mask = r.u8()?;
    if mask & FIELD_FLAGS != 0 {
        r.u8()?;
    }
    for _ in 0..(mask & !FIELD_FLAGS).count_ones() {
        r.i32()?;
    }
    Ok(())
}

/// The layout of a body, read without a baseline: for measuring where the bytes go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyLayout {
    /// Ids despawned.
    pub despawns: Vec<NetId>,
    /// Ids spawned, with the bytes of each spawn record (id gap included).
    pub spawns: Vec<(NetId, usize)>,
    /// Ids updated, with the bytes of each update record (id gap included), in body order.
    pub updates: Vec<(NetId, usize)>,
    /// Update blocks, and the bytes of their counts (the section's count included).
    pub blocks: usize,
    /// Bytes of the update section's counts: the block count and each block's record count.
    pub block_overhead: usize,
}

/// Reads the layout of a body: which ids it despawns, spawns and updates, and how many bytes
/// each record takes.
pub fn inspect(body: &[u8]) -> Result<BodyLayout, DeltaError> {
    let mut r = Reader::new(body);
    let mut layout = BodyLayout::default();
    let mut last = None;
    for _ in 0..r.u32()? {
        layout.despawns.push(read_id(&mut r, &mut last)?);
    }
    let remaining = |r: &Reader<'_>| r.remaining();
    let mut last = None;
    for _ in 0..r.u32()? {
        let before = remaining(&r);
        let e = read_id(&mut r, &mut last)?;
        read_spawn(&mut r, e)?;
        layout.spawns.push((e, before - remaining(&r)));
    }
    let before = remaining(&r);
    layout.blocks = r.u32()? as usize;
    layout.block_overhead = before - remaining(&r);
    for _ in 0..layout.blocks {
        let before = remaining(&r);
        let records = r.u32()?;
        if records == 0 {
            return Err(DeltaError::EmptyBlock);
        }
        layout.block_overhead += before - remaining(&r);
        let mut last = None;
        for _ in 0..records {
            let before = remaining(&r);
            let e = read_id(&mut r, &mut last)?;
            skip_update(&mut r)?;
            layout.updates.push((e, before - remaining(&r)));
        }
    }
    let mut ids: Vec<NetId> = layout.updates.iter().map(|u| u.0).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(DeltaError::DuplicateUpdate(w[0]));
    }
    if r.is_empty() { Ok(layout) } else { Err(DeltaError::Trailing) }
}

/// Assembles a body from its three sections. Ids must be given in ascending order within each
/// section, and within each update block. Updates go into the open block (opened by the first
/// record after [`BodyWriter::end_block`] or [`BodyWriter::copy_block`]); [`BodyWriter::copy_block`]
/// appends a block encoded elsewhere ([`write_block`]). Reuse one writer (and
/// [`BodyWriter::clear`] it) to avoid allocating per snapshot.
#[derive(Debug, Default, Clone)]
pub struct BodyWriter {
    despawns: Vec<u8>,
    spawns: Vec<u8>,
    /// Finished blocks, each with its record count.
    updates: Vec<u8>,
    /// The open block's records.
    block: Vec<u8>,
    /// Despawns, spawns, finished update blocks.
    counts: [u32; 3],
    /// Last id of despawns, spawns and the open block.
    last: [u32; 3],
    /// Records in the open block.
    block_records: u32,
}

impl BodyWriter {
    /// Empties the writer, keeping its buffers.
    pub fn clear(&mut self) {
        self.despawns.clear();
        self.spawns.clear();
        self.updates.clear();
        self.block.clear();
        self.counts = [0; 3];
        self.last = [0; 3];
        self.block_records = 0;
    }

    fn gap(&mut self, section: usize, id: NetId) -> u32 {
        let gap = id.0.wrapping_sub(self.last[section]);
        self.last[section] = id.0;
        self.counts[section] += 1;
        gap
    }

    /// Lists `id` as despawned.
    pub fn despawn(&mut self, id: NetId) {
        let gap = self.gap(0, id);
        put_u32(&mut self.despawns, gap);
    }

    /// Adds a spawn record for `e`.
    pub fn spawn(&mut self, e: &EntityState) {
        let gap = self.gap(1, e.id);
        put_u32(&mut self.spawns, gap);
        write_spawn(&mut self.spawns, e);
    }

    /// Adds an update record for `curr` against `base` predicted `n` ticks to the open block;
    /// adds nothing if the prediction is exact. Returns whether a record was added.
    pub fn update(&mut self, base: &EntityState, curr: &EntityState, n: u32, physics: &Physics) -> bool {
        let mark = self.block.len();
        put_u32(&mut self.block, curr.id.0.wrapping_sub(self.last[2]));
        if write_update(&mut self.block, base, curr, n, physics) {
            self.last[2] = curr.id.0;
            self.block_records += 1;
            true
        } else {
            self.block.truncate(mark);
            false
        }
    }

    /// Adds an already encoded update record (from [`write_update`]) for `id` to the open block.
    pub fn update_record(&mut self, id: NetId, record: &[u8]) {
        put_u32(&mut self.block, id.0.wrapping_sub(self.last[2]));
        self.last[2] = id.0;
        self.block_records += 1;
        self.block.extend_from_slice(record);
    }

    /// Closes the open block, if it has records; the next update opens a new one (its ids
    /// counting from 0 again).
    pub fn end_block(&mut self) {
        if self.block_records > 0 {
            self.counts[2] += 1;
            put_u32(&mut self.updates, self.block_records);
            self.updates.extend_from_slice(&self.block);
            self.block.clear();
            self.block_records = 0;
            self.last[2] = 0;
        }
    }

    /// Moves the open block out, whole (its record count, then its records), to the end of
    /// `out`, instead of into this body: this is how a block shared by many bodies is encoded
    /// once. Appends nothing if the block has no records.
    pub fn take_block(&mut self, out: &mut Vec<u8>) {
        if self.block_records > 0 {
            put_u32(out, self.block_records);
            out.extend_from_slice(&self.block);
        }
        self.block.clear();
        self.block_records = 0;
        self.last[2] = 0;
    }

    /// Closes the open block and appends `block`, a whole block from [`BodyWriter::take_block`]
    /// (count included). An empty slice adds nothing.
    pub fn copy_block(&mut self, block: &[u8]) {
        self.end_block();
        if !block.is_empty() {
            self.updates.extend_from_slice(block);
            self.counts[2] += 1;
        }
    }

    /// Bytes written so far, counts included (an estimate of the finished body's size).
    #[must_use]
    pub fn len(&self) -> usize {
        self.despawns.len() + self.spawns.len() + self.updates.len() + self.block.len() + 4
    }

    /// Whether nothing was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts == [0; 3] && self.block_records == 0
    }

    /// Closes the open block and appends the finished body to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.end_block();
        for (count, bytes) in self.counts.iter().zip([&self.despawns, &self.spawns, &self.updates]) {
            put_u32(out, *count);
            out.extend_from_slice(bytes);
        }
    }
}

/// Writes the body that moves a client holding `baseline` (sorted by id) to `current` (sorted
/// by id), `n` ticks later. The reference encoder: the server's replication produces the same
/// bodies with shared work.
pub fn encode_body(
    writer: &mut BodyWriter,
    baseline: &[EntityState],
    current: &[EntityState],
    n: u32,
    physics: &Physics,
) {
    writer.clear();
    let (mut i, mut j) = (0, 0);
    while i < baseline.len() || j < current.len() {
        match (baseline.get(i), current.get(j)) {
            (Some(b), Some(c)) if b.id == c.id => {
                writer.update(b, c, n, physics);
                i += 1;
                j += 1;
            }
            (Some(b), Some(c)) if b.id < c.id => {
                writer.despawn(b.id);
                i += 1;
            }
            (Some(b), None) => {
                writer.despawn(b.id);
                i += 1;
            }
            (_, Some(c)) => {
                writer.spawn(c);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// A client's copy of the world, built only from snapshots: the one decoder of Arena's
/// snapshots, used by the bots and (through wasm) the browser.
#[derive(Debug, Clone)]
pub struct ClientWorld {
    physics: Physics,
    tick: Option<Tick>,
    entities: Vec<EntityState>,
    next: Vec<EntityState>,
    spawned: Vec<EntityState>,
    despawned: Vec<NetId>,
    /// The snapshot's update records: id, and where the record starts in the body.
    updates: Vec<(NetId, u32)>,
}

impl ClientWorld {
    /// An empty world for a room with these physics (from the `Welcome`).
    #[must_use]
    pub fn new(physics: Physics) -> ClientWorld {
        ClientWorld {
            physics,
            tick: None,
            entities: Vec::new(),
            next: Vec::new(),
            spawned: Vec::new(),
            despawned: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// The physics this world predicts with.
    #[must_use]
    pub fn physics(&self) -> &Physics {
        &self.physics
    }

    /// The tick of the last snapshot applied, if any (none after an error).
    #[must_use]
    pub fn tick(&self) -> Option<Tick> {
        self.tick
    }

    /// Every entity held, sorted by id.
    #[must_use]
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    /// The entity `id`, if held.
    #[must_use]
    pub fn get(&self, id: NetId) -> Option<&EntityState> {
        self.entities.binary_search_by_key(&id, |e| e.id).ok().map(|i| &self.entities[i])
    }

    /// The checksum of everything held (see [`checksum`]).
    #[must_use]
    pub fn checksum(&self) -> u32 {
        checksum(&self.entities)
    }

    /// Forgets everything; the next snapshot must be a full one.
    pub fn clear(&mut self) {
        self.tick = None;
        self.entities.clear();
    }

    /// Applies one snapshot and checks its checksum. On any error the world is cleared, so the
    /// client must ask for a full snapshot.
    pub fn apply(&mut self, snapshot: &Snapshot) -> Result<(), DeltaError> {
        let result = self.try_apply(snapshot);
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn try_apply(&mut self, s: &Snapshot) -> Result<(), DeltaError> {
        let n = s.baseline_gap;
        if n == 0 {
            self.entities.clear();
        } else {
            let expected = Tick(s.tick.0.wrapping_sub(n));
            if self.tick != Some(expected) {
                return Err(DeltaError::BaselineMismatch { expected, held: self.tick });
            }
        }
        let mut r = Reader::new(&s.body);
        self.despawned.clear();
        let mut last = None;
        for _ in 0..r.u32()? {
            self.despawned.push(read_id(&mut r, &mut last)?);
        }
        self.spawned.clear();
        let mut last = None;
        for _ in 0..r.u32()? {
            let id = read_id(&mut r, &mut last)?;
            self.spawned.push(read_spawn(&mut r, id)?);
        }
        // Update records come in blocks of ascending ids, the blocks in any order: note where
        // each record starts, then take them in id order.
        let updates = &mut self.updates;
        updates.clear();
        for _ in 0..r.u32()? {
            let records = r.u32()?;
            if records == 0 {
                return Err(DeltaError::EmptyBlock);
            }
            let mut last = None;
            for _ in 0..records {
                let id = read_id(&mut r, &mut last)?;
                updates.push((id, (s.body.len() - r.remaining()) as u32));
                skip_update(&mut r)?;
            }
        }
        if !r.is_empty() {
            return Err(DeltaError::Trailing);
        }
        updates.sort_unstable_by_key(|u| u.0);
        if let Some(w) = updates.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(DeltaError::DuplicateUpdate(w[0].0));
        }
        let mut pending = updates.iter();
        let mut next_update = pending.next().copied();

        let next = &mut self.next;
        next.clear();
        let (mut d, mut sp) = (0, 0);
        for base in &self.entities {
            while let Some(spawn) = self.spawned.get(sp).filter(|e| e.id < base.id) {
                next.push(*spawn);
                sp += 1;
            }
            if self.spawned.get(sp).is_some_and(|e| e.id == base.id) {
                return Err(DeltaError::DuplicateEntity(base.id));
            }
            if self.despawned.get(d) == Some(&base.id) {
                d += 1;
                if next_update.is_some_and(|u| u.0 == base.id) {
                    return Err(DeltaError::UnknownEntity(base.id));
                }
                continue;
            }
            match next_update {
                Some((id, at)) if id == base.id => {
                    let mut record = Reader::new(&s.body[at as usize..]);
                    next.push(read_update(&mut record, base, n, &self.physics)?);
                    next_update = pending.next().copied();
                }
                Some((id, _)) if id < base.id => return Err(DeltaError::UnknownEntity(id)),
                _ => next.push(base.predict(n, &self.physics)),
            }
        }
        if let Some((id, _)) = next_update {
            return Err(DeltaError::UnknownEntity(id));
        }
        if let Some(id) = self.despawned.get(d) {
            return Err(DeltaError::UnknownEntity(*id));
        }
        next.extend_from_slice(&self.spawned[sp..]);
        std::mem::swap(&mut self.entities, &mut self.next);
        self.tick = Some(s.tick);
        let client = self.checksum();
        if client != s.checksum {
            return Err(DeltaError::Checksum { server: s.checksum, client });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Arena, Buttons};
    use proptest::prelude::*;

    const PHYSICS: Physics = Physics { dt: 1.0 / 30.0, arena: Arena::DEFAULT };

    fn snapshot(writer: &mut BodyWriter, tick: u32, gap: u32, world: &[EntityState]) -> Snapshot {
        let mut body = Vec::new();
        writer.finish(&mut body);
        Snapshot {
            tick: Tick(tick),
            baseline_gap: gap,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: checksum(world),
            body,
        }
    }

    fn arb_entity() -> impl Strategy<Value = EntityState> {
        (
            0u8..4,
            -64_000i32..64_000,
            -64_000i32..64_000,
            -7000i32..7000,
            -7000i32..7000,
            0u16..256,
            any::<u8>(),
            0u8..16,
            any::<bool>(),
            0u32..1000,
        )
            .prop_map(|(kind, x, y, vx, vy, aim, hp, buttons, alive, score)| {
                let kind = EntityKind::from_u8(kind).unwrap_or_default();
                let mut e = EntityState { kind, x, y, ..Default::default() };
                match kind {
                    EntityKind::Ship => {
                        (e.vx, e.vy, e.aim, e.hp, e.score) = (vx, vy, aim, hp, score);
                        e.flags = EntityState::ship_flags(alive, Buttons(buttons));
                    }
                    EntityKind::Projectile => (e.vx, e.vy, e.owner) = (vx, vy, NetId(score)),
                    _ => {}
                }
                e
            })
    }

    /// A world: entities with ascending ids drawn from `1..400`.
    fn arb_world() -> impl Strategy<Value = Vec<EntityState>> {
        proptest::collection::btree_map(1u32..400, arb_entity(), 0..60)
            .prop_map(|m| m.into_iter().map(|(id, e)| EntityState { id: NetId(id), ..e }).collect())
    }

    /// The next world: each entity kept as predicted, changed at random, or dropped; new ones added.
    fn arb_next(world: Vec<EntityState>, gap: u32) -> impl Strategy<Value = Vec<EntityState>> {
        let n = world.len();
        (proptest::collection::vec((0u8..4, arb_entity()), n), arb_world()).prop_map(move |(fates, fresh)| {
            let mut next: std::collections::BTreeMap<u32, EntityState> = std::collections::BTreeMap::new();
            for (e, (fate, other)) in world.iter().zip(fates) {
                match fate {
                    0 => {}
                    1 => {
                        next.insert(e.id.0, e.predict(gap, &PHYSICS));
                    }
                    2 => {
                        next.insert(e.id.0, EntityState { id: e.id, kind: e.kind, owner: e.owner, ..other });
                    }
                    _ => {
                        next.insert(
                            e.id.0,
                            EntityState { x: e.x + 5, aim: (e.aim + 250) % 256, ..e.predict(gap, &PHYSICS) },
                        );
                    }
                }
            }
            for f in fresh {
                next.entry(f.id.0 + 400).or_insert(EntityState { id: NetId(f.id.0 + 400), ..f });
            }
            next.into_values().collect()
        })
    }

    proptest! {
        #[test]
        fn a_delta_carries_any_world_to_any_next_world(
            (world, next, gap) in (arb_world(), 1u32..12).prop_flat_map(|(w, gap)| (Just(w.clone()), arb_next(w, gap), Just(gap)))
        ) {
            let mut writer = BodyWriter::default();
            let mut client = ClientWorld::new(PHYSICS);
            encode_body(&mut writer, &[], &world, 0, &PHYSICS);
            prop_assert_eq!(client.apply(&snapshot(&mut writer, 100, 0, &world)), Ok(()));
            prop_assert_eq!(client.entities(), &world[..]);
            encode_body(&mut writer, &world, &next, gap, &PHYSICS);
            prop_assert_eq!(client.apply(&snapshot(&mut writer, 100 + gap, gap, &next)), Ok(()));
            prop_assert_eq!(client.entities(), &next[..]);
        }

        #[test]
        fn garbage_bodies_are_errors_not_panics(body in proptest::collection::vec(any::<u8>(), 0..64), gap in 0u32..3) {
            let mut client = ClientWorld::new(PHYSICS);
            client.tick = Some(Tick(9));
            client.entities = vec![EntityState { id: NetId(1), ..Default::default() }, EntityState { id: NetId(5), kind: EntityKind::Projectile, ..Default::default() }];
            let _ = client.apply(&Snapshot { tick: Tick(9 + gap), baseline_gap: gap, ack_seq: 0, ack_speculated: 0, input_queue: 0, input_offset: 0, checksum: 0, body });
        }
    }

    /// Changes `world` → `next` split into update blocks of the given sizes (the last takes the
    /// rest), then written in `order`: any split and any order of blocks must apply the same.
    fn blocked_body(world: &[EntityState], next: &[EntityState], sizes: &[usize], rotate: usize) -> Vec<u8> {
        let mut records: Vec<(NetId, Vec<u8>)> = Vec::new();
        let mut w = BodyWriter::default();
        let mut i = 0;
        for c in next {
            while world.get(i).is_some_and(|b| b.id < c.id) {
                w.despawn(world[i].id);
                i += 1;
            }
            match world.get(i) {
                Some(b) if b.id == c.id => {
                    let mut rec = Vec::new();
                    if write_update(&mut rec, b, c, 1, &PHYSICS) {
                        records.push((c.id, rec));
                    }
                    i += 1;
                }
                _ => w.spawn(c),
            }
        }
        for b in &world[i..] {
            w.despawn(b.id);
        }
        let mut blocks = Vec::new();
        let mut rest = &records[..];
        for &size in sizes.iter().chain(std::iter::once(&usize::MAX)) {
            let (block, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            let mut bytes = Vec::new();
            for (id, rec) in block {
                w.update_record(*id, rec);
            }
            w.take_block(&mut bytes);
            if !bytes.is_empty() {
                blocks.push(bytes);
            }
        }
        let n = blocks.len().max(1);
        blocks.rotate_left(rotate % n);
        for b in &blocks {
            w.copy_block(b);
        }
        let mut body = Vec::new();
        w.finish(&mut body);
        body
    }

    proptest! {
        #[test]
        fn update_blocks_apply_in_any_split_and_any_order(
            (world, next) in arb_world().prop_flat_map(|w| (Just(w.clone()), arb_next(w, 1))),
            sizes in proptest::collection::vec(1usize..8, 0..8),
            rotate in 0usize..8,
        ) {
            let mut writer = BodyWriter::default();
            let mut client = ClientWorld::new(PHYSICS);
            encode_body(&mut writer, &[], &world, 0, &PHYSICS);
            prop_assert_eq!(client.apply(&snapshot(&mut writer, 100, 0, &world)), Ok(()));
            let body = blocked_body(&world, &next, &sizes, rotate);
            let s = Snapshot { tick: Tick(101), baseline_gap: 1, checksum: checksum(&next), body, ..Snapshot::default() };
            prop_assert!(inspect(&s.body).is_ok());
            prop_assert_eq!(client.apply(&s), Ok(()));
            prop_assert_eq!(client.entities(), &next[..]);
        }
    }

    /// The worked example of docs/PROTOCOL.md §6.2, byte for byte.
    #[test]
    fn the_protocol_documents_worked_example_applies() {
        let ship = |id, x| EntityState { id: NetId(id), kind: EntityKind::Ship, x, hp: 100, ..Default::default() };
        let orb = EntityState { id: NetId(40), kind: EntityKind::HealOrb, ..Default::default() };
        let world = [ship(3, 1000), ship(9, 2000), orb];
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &[], &world, 0, &PHYSICS);
        let mut client = ClientWorld::new(PHYSICS);
        assert_eq!(client.apply(&snapshot(&mut writer, 99, 0, &world)), Ok(()));
        let three = EntityState { aim: 1, ..world[0].predict(1, &PHYSICS) };
        let nine = EntityState { x: world[1].predict(1, &PHYSICS).x + 1, ..world[1].predict(1, &PHYSICS) };
        let body = vec![0x01, 0x28, 0x00, 0x02, 0x01, 0x09, 0x01, 0x02, 0x01, 0x03, 0x10, 0x02];
        let checksum = checksum(&[three, nine]);
        let s = Snapshot { tick: Tick(100), baseline_gap: 1, checksum, body, ..Snapshot::default() };
        assert_eq!(client.apply(&s), Ok(()));
        assert_eq!(client.entities(), &[three, nine]);
    }

    #[test]
    fn an_entity_updated_in_two_blocks_or_an_empty_block_is_refused() {
        let ship = EntityState { id: NetId(3), kind: EntityKind::Ship, hp: 100, ..Default::default() };
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &[], &[ship], 0, &PHYSICS);
        let mut client = ClientWorld::new(PHYSICS);
        assert_eq!(client.apply(&snapshot(&mut writer, 1, 0, &[ship])), Ok(()));
        let hurt = EntityState { hp: 90, ..ship };
        // No despawns, no spawns, two blocks of one record each: ship 3, hp −10, twice.
        let body = vec![0, 0, 2, 1, 3, FIELD_HP, 19, 1, 3, FIELD_HP, 19];
        let s = Snapshot { tick: Tick(2), baseline_gap: 1, checksum: hurt.hash32(), body, ..Snapshot::default() };
        assert_eq!(client.apply(&s), Err(DeltaError::DuplicateUpdate(NetId(3))));
        assert_eq!(inspect(&s.body), Err(DeltaError::DuplicateUpdate(NetId(3))));
        assert_eq!(client.apply(&snapshot(&mut writer, 1, 0, &[ship])), Ok(()));
        let body = vec![0, 0, 2, 1, 3, FIELD_HP, 19, 0];
        let s = Snapshot { tick: Tick(2), baseline_gap: 1, checksum: hurt.hash32(), body, ..Snapshot::default() };
        assert_eq!(
            client.apply(&s),
            Err(DeltaError::EmptyBlock),
            "a block of no records is refused (a body of 2³² of them would loop)"
        );
        let one = Snapshot { body: vec![0, 0, 1, 1, 3, FIELD_HP, 19], ..s };
        assert_eq!(client.apply(&snapshot(&mut writer, 1, 0, &[ship])), Ok(()));
        assert_eq!(client.apply(&one), Ok(()));
        assert_eq!(client.entities(), &[hurt]);
    }

    #[test]
    fn an_entity_moving_as_predicted_costs_nothing() {
        let ship = EntityState {
            id: NetId(7),
            kind: EntityKind::Ship,
            x: 16_000,
            y: 16_000,
            vx: 3000,
            hp: 100,
            flags: EntityState::ship_flags(true, Buttons(Buttons::RIGHT | Buttons::UP)),
            ..Default::default()
        };
        let orb = EntityState { id: NetId(9), kind: EntityKind::ScoreOrb, x: 5, y: 6, ..Default::default() };
        let shot = EntityState {
            id: NetId(11),
            kind: EntityKind::Projectile,
            x: 800,
            y: 800,
            vx: 15_200,
            owner: NetId(7),
            ..Default::default()
        };
        let world = [ship, orb, shot];
        let next: Vec<_> = world.iter().map(|e| e.predict(1, &PHYSICS)).collect();
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &world, &next, 1, &PHYSICS);
        let mut body = Vec::new();
        writer.finish(&mut body);
        assert_eq!(body, [0, 0, 0], "three empty sections: nothing changed beyond prediction");
    }

    #[test]
    fn a_wrong_checksum_is_a_desync_and_clears_the_world() {
        let e = EntityState { id: NetId(1), kind: EntityKind::HealOrb, ..Default::default() };
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &[], &[e], 0, &PHYSICS);
        let mut s = snapshot(&mut writer, 3, 0, &[e]);
        s.checksum ^= 1;
        let mut client = ClientWorld::new(PHYSICS);
        assert!(matches!(client.apply(&s), Err(DeltaError::Checksum { .. })));
        assert!(
            client.entities().is_empty() && client.tick().is_none(),
            "after a desync the client waits for a full snapshot"
        );
    }

    /// Found by the `snapshot_delta` fuzz target: a spawn section naming one id twice (a gap of
    /// 0) was applied, leaving two entities with that id in the world.
    #[test]
    fn a_section_naming_an_id_twice_is_refused() {
        let orb = EntityState { id: NetId(7), kind: EntityKind::HealOrb, ..Default::default() };
        let mut client = ClientWorld::new(PHYSICS);
        // No despawns; spawns: orb 7 (gap 7), orb 7 again (gap 0); no updates.
        let body = vec![0, 2, 7, 2, 0, 0, 0, 2, 0, 0, 0];
        let checksum = orb.hash32().wrapping_mul(2);
        let s = Snapshot { tick: Tick(3), baseline_gap: 0, checksum, body, ..Snapshot::default() };
        assert_eq!(client.apply(&s), Err(DeltaError::Unsorted(NetId(7))), "ids within a section ascend strictly");
        assert!(client.entities().is_empty(), "the world is cleared, never left with a duplicate");
        assert_eq!(inspect(&s.body), Err(DeltaError::Unsorted(NetId(7))), "inspect reads ids the same way");
        // An id of 0 as a section's first record is fine.
        let zero = EntityState { id: NetId(0), ..orb };
        let body = vec![0, 1, 0, 2, 0, 0, 0];
        let s = Snapshot { tick: Tick(4), baseline_gap: 0, checksum: zero.hash32(), body, ..Snapshot::default() };
        assert_eq!(client.apply(&s), Ok(()));
        assert_eq!(client.entities(), &[zero]);
    }

    /// Found while writing the `snapshot_delta` fuzz target (the fuzzer had not hit it in 10⁷
    /// runs): an aim or hp delta near `i32::MAX` overflowed the sum, a panic in debug builds.
    #[test]
    fn huge_aim_and_hp_deltas_wrap_or_are_refused_without_overflow() {
        let ship = EntityState { id: NetId(1), kind: EntityKind::Ship, aim: 1, hp: 100, ..Default::default() };
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, &[], &[ship], 0, &PHYSICS);
        let mut client = ClientWorld::new(PHYSICS);
        assert_eq!(client.apply(&snapshot(&mut writer, 1, 0, &[ship])), Ok(()));
        let update = |mask: u8, d: i32| {
            let mut body = vec![0, 0, 1, 1, 1, mask];
            put_i32(&mut body, d);
            body
        };
        let turned = EntityState { aim: 0, ..ship };
        let s = Snapshot { tick: Tick(2), baseline_gap: 1, checksum: turned.hash32(), ..Snapshot::default() };
        let aim = Snapshot { body: update(FIELD_AIM, i32::MAX), ..s.clone() };
        assert_eq!(client.apply(&aim), Ok(()), "aim deltas wrap within a turn: 1 + (2³¹ − 1) ≡ 0 (mod 256)");
        assert_eq!(client.entities(), &[turned]);
        let hp = Snapshot { tick: Tick(3), body: update(FIELD_HP, i32::MAX), ..s };
        assert_eq!(client.apply(&hp), Err(DeltaError::OutOfRange), "hp past 255 is refused, not overflowed");
    }

    #[test]
    fn a_delta_against_a_tick_the_client_does_not_hold_is_refused() {
        let mut client = ClientWorld::new(PHYSICS);
        let s = Snapshot {
            tick: Tick(10),
            baseline_gap: 1,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: 0,
            body: vec![0, 0, 0],
        };
        assert_eq!(client.apply(&s), Err(DeltaError::BaselineMismatch { expected: Tick(9), held: None }));
    }
}
