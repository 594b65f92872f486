//! Replication: each client's snapshot, as a delta against what that client already holds.
//!
//! Once per tick, [`Replicator::capture`] quantizes the world into an id-sorted table of
//! [`EntityState`]s and does every piece of work that does not depend on the client: the hash of
//! each entity (for checksums), the grid of positions (for views), and, for each entity that
//! existed last tick, its *shared update record* — the delta from last tick's state, predicted one
//! tick, to this tick's. A client whose copy of an entity is last tick's true state (nearly always)
//! gets that record copied; only clients that fell behind pay for deltas of their own.
//! Per client, [`ClientReplica`] keeps the baselines and writes the snapshot. Sans-IO throughout.

mod cells;
mod client;

pub use cells::{CellId, CellRect, CellScratch, STRAY, cell_id};
pub use client::{ClientReplica, InputAck};

use crate::sim::components::{Motion, Net, Orb, Pilot, Projectile, Ship};
use crate::sim::spatial::Grid;
use arena_protocol::delta::write_update;
use arena_protocol::entity::aim_from_input;
use arena_protocol::quantize::{pos_to_wire, vel_to_wire};
use arena_protocol::rules::Arena;
use arena_protocol::{EntityKind, EntityState, NetId, Physics, Tick};
use bevy_ecs::prelude::*;
use cells::CellTables;
use std::collections::VecDeque;
use std::sync::Arc;

/// Extra distance beyond the view in which new entities are still sent, so nothing pops in at
/// the screen's edge.
pub const VIEW_MARGIN: f32 = 100.0;
/// Further distance a known entity may drift out before it is despawned, so an entity on the
/// edge does not flicker between spawn and despawn.
pub const VIEW_HYSTERESIS: f32 = 100.0;

/// Side of the cells replication shares work by (see [`cells`]): small enough that the edge of a
/// view (the cells it only partly covers, walked entity by entity) is a thin band, large enough
/// that a cell's block holds several records.
pub const REPLICATION_CELL: f32 = 200.0;

const NONE: u32 = u32::MAX;

/// Half-extents of the area a client receives around its own ship.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Half the width, in world units.
    pub half_width: f32,
    /// Half the height, in world units.
    pub half_height: f32,
}

/// One tick of the world, quantized once, with everything clients share precomputed.
pub struct Replicator {
    physics: Physics,
    view: View,
    tick: Tick,
    /// This tick's states, sorted by id.
    curr: Vec<EntityState>,
    /// Last tick's states, sorted by id.
    prev: Vec<EntityState>,
    /// Per `curr` entry: its id (a compact copy for the per-client merges).
    ids: Vec<NetId>,
    /// Per `curr` entry: its index in `prev`, or `NONE` if it is new this tick.
    prev_index: Vec<u32>,
    /// Per `curr` entry: [`EntityState::hash32`].
    hashes: Vec<u32>,
    /// Per `curr` entry: the range of its shared update record in `records` (empty: as predicted).
    spans: Vec<(u32, u32)>,
    records: Vec<u8>,
    /// The last captures, oldest first, so a client whose baseline is a few ticks old (its
    /// newer snapshots were dropped for backpressure) can be sent a delta against it. Clients
    /// keep only the ids they hold (and which cells they hold whole); the states are read from
    /// here.
    history: VecDeque<Arc<Capture>>,
    /// Most captures kept in `history`.
    history_len: usize,
    /// Per `curr` entry: its cell.
    cells: Vec<CellId>,
    /// Per `prev` entry: its cell last tick.
    prev_cells: Vec<CellId>,
    /// Indices in `curr` of the entities outside the arena, in no cell ([`STRAY`]).
    strays: Vec<u32>,
    /// Per `prev` entry: its index in `curr`, or `NONE` if it is gone.
    next_index: Vec<u32>,
    /// This tick's positions by cell, and last tick's.
    grid: Grid,
    prev_grid: Grid,
    cell_tables: CellTables,
    scratch_starts: Vec<u32>,
    ships: QueryState<(&'static Net, &'static Ship, &'static Motion, &'static Pilot)>,
    projectiles: QueryState<(&'static Net, &'static Projectile)>,
    orbs: QueryState<(&'static Net, &'static Orb)>,
}

impl Replicator {
    /// A replicator for `world`, whose clients see `view` around their ship.
    #[must_use]
    pub fn new(world: &mut World, tick_hz: u16, arena: Arena, view: View) -> Replicator {
        Replicator {
            physics: Physics::new(tick_hz, arena),
            view,
            tick: Tick(0),
            curr: Vec::new(),
            prev: Vec::new(),
            ids: Vec::new(),
            prev_index: Vec::new(),
            hashes: Vec::new(),
            spans: Vec::new(),
            records: Vec::new(),
            history: VecDeque::new(),
            history_len: usize::from(tick_hz.max(16)),
            cells: Vec::new(),
            prev_cells: Vec::new(),
            strays: Vec::new(),
            next_index: Vec::new(),
            grid: Grid::new(arena.width, arena.height, REPLICATION_CELL),
            prev_grid: Grid::new(arena.width, arena.height, REPLICATION_CELL),
            cell_tables: CellTables::default(),
            scratch_starts: Vec::new(),
            ships: world.query(),
            projectiles: world.query(),
            orbs: world.query(),
        }
    }

    /// Quantizes `world` as the state of `tick` and precomputes hashes, the view grid and the
    /// shared update records against the previous capture.
    pub fn capture(&mut self, world: &World, tick: Tick) {
        std::mem::swap(&mut self.curr, &mut self.prev);
        self.tick = tick;
        let curr = &mut self.curr;
        curr.clear();
        curr.extend(self.ships.iter(world).map(|(net, ship, motion, pilot)| EntityState {
            id: net.0,
            kind: EntityKind::Ship,
            x: pos_to_wire(motion.now.x),
            y: pos_to_wire(motion.now.y),
            vx: vel_to_wire(motion.now.vx),
            vy: vel_to_wire(motion.now.vy),
            aim: aim_from_input(ship.aim),
            hp: ship.hp,
            flags: EntityState::ship_flags(ship.alive(), pilot.current.buttons),
            score: ship.score,
            owner: NetId(0),
        }));
        curr.extend(self.projectiles.iter(world).map(|(net, p)| EntityState {
            id: net.0,
            kind: EntityKind::Projectile,
            x: pos_to_wire(p.pos.x),
            y: pos_to_wire(p.pos.y),
            vx: vel_to_wire(p.vel.x),
            vy: vel_to_wire(p.vel.y),
            owner: p.owner_id,
            ..Default::default()
        }));
        curr.extend(self.orbs.iter(world).map(|(net, orb)| EntityState {
            id: net.0,
            kind: orb.kind,
            x: pos_to_wire(orb.pos.x),
            y: pos_to_wire(orb.pos.y),
            ..Default::default()
        }));
        curr.sort_unstable_by_key(|e| e.id);
        self.precompute();
    }

    /// Takes this tick's states from a plain list (any order) instead of a bevy world: for tests
    /// and benches that script worlds directly.
    pub fn capture_states(&mut self, states: &[EntityState], tick: Tick) {
        std::mem::swap(&mut self.curr, &mut self.prev);
        self.tick = tick;
        self.curr.clear();
        self.curr.extend_from_slice(states);
        self.curr.sort_unstable_by_key(|e| e.id);
        self.precompute();
    }

    /// The states of the capture of `tick`, sorted by id, if it is still kept.
    #[must_use]
    pub fn states_at(&self, tick: Tick) -> Option<&[EntityState]> {
        self.capture_at(tick).map(|c| c.states.as_slice())
    }

    /// The capture of `tick`, if it is still kept.
    fn capture_at(&self, tick: Tick) -> Option<&Arc<Capture>> {
        let newest = self.history.back()?.tick;
        let back = newest.0.checked_sub(tick.0)? as usize;
        let at = self.history.len().checked_sub(back + 1)?;
        self.history.get(at).filter(|c| c.tick == tick)
    }

    /// This tick's capture, shared.
    fn newest(&self) -> Option<&Arc<Capture>> {
        self.history.back()
    }

    fn remember(&mut self) {
        let reused = if self.history.len() >= self.history_len { self.history.pop_front() } else { None };
        // A capture a client's baseline still holds stays with it; a new one is made instead.
        let mut capture = reused.and_then(|c| Arc::try_unwrap(c).ok()).unwrap_or_default();
        capture.tick = self.tick;
        capture.states.clear();
        // Every kept capture as large as the largest world seen, so the ring stops growing as
        // soon as the world does (rather than one capture at a time).
        capture.states.reserve(self.curr.capacity());
        capture.states.extend_from_slice(&self.curr);
        capture.cells.clear();
        capture.cells.reserve(self.cells.capacity());
        capture.cells.extend_from_slice(&self.cells);
        // Captures are of consecutive ticks unless the room skipped some: start again then.
        if self.history.back().is_some_and(|c| c.tick.0.wrapping_add(1) != self.tick.0) {
            self.history.clear();
        }
        self.history.push_back(Arc::new(capture));
    }

    fn precompute(&mut self) {
        std::mem::swap(&mut self.grid, &mut self.prev_grid);
        std::mem::swap(&mut self.cells, &mut self.prev_cells);
        self.prev_index.clear();
        self.next_index.clear();
        self.next_index.resize(self.prev.len(), NONE);
        self.ids.clear();
        self.ids.extend(self.curr.iter().map(|e| e.id));
        self.hashes.clear();
        self.spans.clear();
        self.records.clear();
        self.cells.clear();
        self.strays.clear();
        self.grid.clear();
        let arena = self.physics.arena;
        let mut j = 0;
        for (i, e) in self.curr.iter().enumerate() {
            while j < self.prev.len() && self.prev[j].id < e.id {
                j += 1;
            }
            let start = self.records.len() as u32;
            if j < self.prev.len() && self.prev[j].id == e.id {
                self.prev_index.push(j as u32);
                self.next_index[j] = i as u32;
                write_update(&mut self.records, &self.prev[j], e, 1, &self.physics);
            } else {
                self.prev_index.push(NONE);
            }
            self.spans.push((start, self.records.len() as u32));
            self.hashes.push(e.hash32());
            // An entity outside the arena (the game keeps none there) is in no cell: each client
            // looks at it on its own, so a full cell's entities always lie within its bounds.
            let (x, y) = e.position();
            if (0.0..=arena.width).contains(&x) && (0.0..=arena.height).contains(&y) {
                self.cells.push(cell_id(self.grid.col_of(x), self.grid.row_of(y)));
            } else {
                self.cells.push(STRAY);
                self.strays.push(i as u32);
            }
            self.grid.insert(x, y, i as u32);
        }
        self.grid.build();
        self.build_cells();
        self.remember();
    }

    /// The tick of the last capture.
    #[must_use]
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// This tick's states, sorted by id.
    #[must_use]
    pub fn states(&self) -> &[EntityState] {
        &self.curr
    }

    /// This tick's state of entity `id`.
    #[must_use]
    pub fn state(&self, id: NetId) -> Option<&EntityState> {
        self.curr.binary_search_by_key(&id, |e| e.id).ok().map(|i| &self.curr[i])
    }

    /// The physics clients predict with.
    #[must_use]
    pub fn physics(&self) -> &Physics {
        &self.physics
    }

    /// Indices (into [`Replicator::states`]) of the entities in the view around `center`,
    /// ascending, each tagged with [`INNER`] when inside the view plus margin (where new entities
    /// are spawned) rather than only inside the hysteresis band (where known ones are kept).
    /// `always` (the own ship) is included and tagged inner wherever it is.
    ///
    /// Candidates from the grid come in cell order; rather than sorting them, they are marked in
    /// two bitsets over the id-sorted table, whose set bits are then read in order: O(entities/64
    /// + candidates) instead of O(candidates · log candidates).
    pub fn visible(&self, center: (f32, f32), always: Option<usize>, scratch: &mut VisibleScratch) {
        let inner = (self.view.half_width + VIEW_MARGIN, self.view.half_height + VIEW_MARGIN);
        let outer = (inner.0 + VIEW_HYSTERESIS, inner.1 + VIEW_HYSTERESIS);
        let words = self.curr.len().div_ceil(64);
        let VisibleScratch { outer_bits, inner_bits, picks } = scratch;
        outer_bits.clear();
        outer_bits.resize(words, 0);
        inner_bits.clear();
        inner_bits.resize(words, 0);
        let min = (center.0 - outer.0, center.1 - outer.1);
        let max = (center.0 + outer.0, center.1 + outer.1);
        self.grid.for_each_item_in(min, max, |it| {
            let i = it.item;
            let (dx, dy) = ((it.x - center.0).abs(), (it.y - center.1).abs());
            if dx <= outer.0 && dy <= outer.1 {
                let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
                outer_bits[w] |= bit;
                if dx <= inner.0 && dy <= inner.1 {
                    inner_bits[w] |= bit;
                }
            }
        });
        if let Some(i) = always {
            outer_bits[i / 64] |= 1 << (i % 64);
            inner_bits[i / 64] |= 1 << (i % 64);
        }
        picks.clear();
        for (w, (&o, &n)) in outer_bits.iter().zip(inner_bits.iter()).enumerate() {
            let mut bits = o;
            while bits != 0 {
                let t = bits.trailing_zeros();
                let tag = if n & (1 << t) != 0 { INNER } else { 0 };
                picks.push((w as u32 * 64 + t) | tag);
                bits &= bits - 1;
            }
        }
    }
}

/// One tick's quantized world, kept while clients may hold it as their baseline.
#[derive(Debug, Default)]
pub struct Capture {
    /// The tick it is of.
    pub tick: Tick,
    /// The states, sorted by id.
    pub states: Vec<EntityState>,
    /// Per state: its cell.
    pub cells: Vec<CellId>,
}

/// Per-client scratch space of [`Replicator::visible`], and its result.
#[derive(Debug, Default)]
pub struct VisibleScratch {
    outer_bits: Vec<u64>,
    inner_bits: Vec<u64>,
    picks: Vec<u32>,
}

impl VisibleScratch {
    /// The visible indices of the last query, ascending, tagged with [`INNER`].
    #[must_use]
    pub fn picks(&self) -> &[u32] {
        &self.picks
    }
}

/// Tag bit on a visible index: inside the spawn area, not only the keep area.
pub const INNER: u32 = 1 << 31;

#[cfg(test)]
mod tests;
