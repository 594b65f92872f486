//! Replication by grid cell: the work of a tick done once per cell and shared by every client
//! whose copy of that cell is in sync, so that a client's steady-state cost grows with the cells
//! in its view, not with the entities.
//!
//! A client's view splits into **full cells**, lying wholly inside its spawn area (every entity in
//! them is held), and **edge cells**, which the view only partly covers (each entity is tested on
//! its own, with the hysteresis band). The full cells of a view form a rectangle ([`CellRect`]);
//! a client in sync remembers last tick's rectangle and the ids it held outside it (its *edge
//! ids*), which together say exactly what it holds.
//!
//! Per tick, [`Replicator::capture`](super::Replicator::capture) builds for each cell its hash
//! sum, the rectangle of cells its entities came from ([`CellTables`] `sources`), its newborns,
//! the entities that left it, and its *changed* entities (those whose shared update record, encoded
//! once per tick, is not empty). A cell that was full for a client last tick, and all of whose
//! entities came from cells that were full too, is in sync for that client: its changed list is
//! taken whole and its hash sum added to the checksum (a row's run of quiet cells costs two
//! reads). Only the other cells are walked entity by entity ([`Replicator::encode_in_sync`]).
//! The changed entities are sorted and written as one update block.

use super::{NONE, Replicator, VIEW_HYSTERESIS, VIEW_MARGIN};
use crate::sim::spatial::GridItem;
use arena_protocol::NetId;
use arena_protocol::delta::BodyWriter;

/// A cell's coordinates, packed as `row << 16 | col`.
pub type CellId = u32;

/// The cell of an entity outside the arena: in no rectangle, so always looked at on its own.
pub const STRAY: CellId = u32::MAX;

/// Packs a cell's column and row into a [`CellId`].
#[must_use]
pub fn cell_id(col: usize, row: usize) -> CellId {
    ((row as u32) << 16) | col as u32
}

/// An inclusive rectangle of cells, possibly empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellRect {
    c0: u16,
    c1: u16,
    r0: u16,
    r1: u16,
}

impl Default for CellRect {
    fn default() -> CellRect {
        CellRect::EMPTY
    }
}

impl CellRect {
    /// The rectangle of no cells.
    pub const EMPTY: CellRect = CellRect { c0: 1, c1: 0, r0: 1, r1: 0 };

    /// The cells from `(c0, r0)` to `(c1, r1)` inclusive (empty if either range is).
    #[must_use]
    pub fn new(c0: usize, c1: usize, r0: usize, r1: usize) -> CellRect {
        if c0 > c1 || r0 > r1 {
            return CellRect::EMPTY;
        }
        CellRect { c0: c0 as u16, c1: c1 as u16, r0: r0 as u16, r1: r1 as u16 }
    }

    /// Whether it holds no cell.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.c0 > self.c1 || self.r0 > self.r1
    }

    /// Whether `cell` lies in it.
    #[must_use]
    pub fn contains(self, cell: CellId) -> bool {
        let (col, row) = ((cell & 0xffff) as u16, (cell >> 16) as u16);
        (self.c0..=self.c1).contains(&col) && (self.r0..=self.r1).contains(&row)
    }

    /// Whether every cell of `other` lies in it (always, for an empty `other`).
    #[must_use]
    pub fn contains_rect(self, other: CellRect) -> bool {
        other.is_empty() || (self.c0 <= other.c0 && other.c1 <= self.c1 && self.r0 <= other.r0 && other.r1 <= self.r1)
    }

    /// Grows it to take in `cell`.
    pub fn extend(&mut self, cell: CellId) {
        let (col, row) = ((cell & 0xffff) as u16, (cell >> 16) as u16);
        if self.is_empty() {
            *self = CellRect { c0: col, c1: col, r0: row, r1: row };
        } else {
            self.c0 = self.c0.min(col);
            self.c1 = self.c1.max(col);
            self.r0 = self.r0.min(row);
            self.r1 = self.r1.max(row);
        }
    }

    /// Its columns, inclusive (an empty range when it is empty).
    #[must_use]
    pub fn cols(self) -> (usize, usize) {
        (self.c0.into(), self.c1.into())
    }

    /// Its rows.
    pub fn rows(self) -> std::ops::Range<usize> {
        if self.is_empty() { 0..0 } else { usize::from(self.r0)..usize::from(self.r1) + 1 }
    }

    /// Whether it has cells in row `row`.
    #[must_use]
    pub fn has_row(self, row: usize) -> bool {
        !self.is_empty() && (usize::from(self.r0)..=usize::from(self.r1)).contains(&row)
    }
}

/// What each cell's entities share this tick, indexed by grid cell (`row · cols + col`).
#[derive(Debug, Default)]
pub(super) struct CellTables {
    /// Wrapping sum of the hashes of the cell's entities.
    pub(super) sum: Vec<u32>,
    /// The cell's changed entities (those whose shared update record is not empty), a range
    /// of `changed`, ascending.
    pub(super) block: Vec<(u32, u32)>,
    pub(super) changed: Vec<u32>,
    /// The cells its entities (those that existed last tick) were in last tick.
    pub(super) sources: Vec<CellRect>,
    /// How many of its entities are new this tick.
    pub(super) newborns: Vec<u32>,
    /// Per cell of last tick, its range in `emigrants`.
    pub(super) emigrant_starts: Vec<u32>,
    /// Indices (into last tick's states) of the entities that left their cell or the world,
    /// grouped by the cell they were in.
    pub(super) emigrants: Vec<u32>,
    /// Per row, the wrapping sums of the first `k` cells' sums, `k` in `0..=cols`: the sum of
    /// any run of a row's cells in two reads.
    pub(super) prefix: Vec<u32>,
    /// The *busy* cells, ascending: those with a block, a newborn, an immigrant or an
    /// emigrant. A cell that is none of these needs nothing but its sum from a client in sync.
    pub(super) busy: Vec<u32>,
    /// Per row, its range in `busy`.
    pub(super) busy_starts: Vec<u32>,
}

impl CellTables {
    /// The busy cells of row `row` with columns in `cols`, as grid indices.
    fn busy_in(&self, row: usize, grid_cols: usize, cols: (usize, usize)) -> &[u32] {
        let busy = &self.busy[self.busy_starts[row] as usize..self.busy_starts[row + 1] as usize];
        let (lo, hi) = ((row * grid_cols + cols.0) as u32, (row * grid_cols + cols.1) as u32);
        let a = busy.partition_point(|&g| g < lo);
        let b = busy.partition_point(|&g| g <= hi);
        &busy[a..b]
    }

    /// The sum of the cells of row `row` with columns in `cols`.
    fn run_sum(&self, row: usize, grid_cols: usize, cols: (usize, usize)) -> u32 {
        let base = row * (grid_cols + 1);
        self.prefix[base + cols.1 + 1].wrapping_sub(self.prefix[base + cols.0])
    }
}

/// The columns of `a` also in `b`, if any.
fn overlap(a: (usize, usize), b: (usize, usize)) -> Option<(usize, usize)> {
    let (lo, hi) = (a.0.max(b.0), a.1.min(b.1));
    (lo <= hi).then_some((lo, hi))
}

/// The columns of `a` not in `b`: up to two runs.
fn outside(a: (usize, usize), b: Option<(usize, usize)>) -> [Option<(usize, usize)>; 2] {
    match b {
        None => [Some(a), None],
        Some(b) => [(a.0 < b.0).then(|| (a.0, b.0 - 1)), (b.1 < a.1).then(|| (b.1 + 1, a.1))],
    }
}

impl Replicator {
    /// Builds [`CellTables`] from this tick's grid, records and hashes and last tick's cells.
    pub(super) fn build_cells(&mut self) {
        let cells = self.grid.cols() * self.grid.rows();
        let t = &mut self.cell_tables;
        t.sum.clear();
        t.sum.resize(cells, 0);
        t.block.clear();
        t.changed.clear();
        t.sources.clear();
        t.sources.resize(cells, CellRect::EMPTY);
        t.newborns.clear();
        t.newborns.resize(cells, 0);
        for g in 0..cells {
            let mut sum = 0u32;
            let start = t.changed.len() as u32;
            for it in self.grid.cell_items(g) {
                let i = it.item as usize;
                if self.cells[i] == STRAY {
                    continue;
                }
                sum = sum.wrapping_add(self.hashes[i]);
                match self.prev_index[i] {
                    NONE => t.newborns[g] += 1,
                    pi => {
                        t.sources[g].extend(self.prev_cells[pi as usize]);
                        let (a, b) = self.spans[i];
                        if a < b {
                            t.changed.push(i as u32);
                        }
                    }
                }
            }
            t.sum[g] = sum;
            t.block.push((start, t.changed.len() as u32));
        }
        // Emigrants, by the cell they left: a counting sort.
        let cols = self.grid.cols();
        let index = |cell: CellId| (cell >> 16) as usize * cols + (cell & 0xffff) as usize;
        t.emigrant_starts.clear();
        t.emigrant_starts.resize(cells + 1, 0);
        let left = |j: usize| {
            let i = self.next_index[j];
            self.prev_cells[j] != STRAY && (i == NONE || self.cells[i as usize] != self.prev_cells[j])
        };
        for j in 0..self.prev.len() {
            if left(j) {
                t.emigrant_starts[index(self.prev_cells[j]) + 1] += 1;
            }
        }
        for g in 0..cells {
            t.emigrant_starts[g + 1] += t.emigrant_starts[g];
        }
        t.emigrants.clear();
        t.emigrants.resize(t.emigrant_starts[cells] as usize, 0);
        let mut at = std::mem::take(&mut self.scratch_starts);
        at.clear();
        at.extend_from_slice(&t.emigrant_starts[..cells]);
        for j in 0..self.prev.len() {
            if left(j) {
                let slot = &mut at[index(self.prev_cells[j])];
                t.emigrants[*slot as usize] = j as u32;
                *slot += 1;
            }
        }
        self.scratch_starts = at;
        // Row prefix sums and busy cells.
        let rows = self.grid.rows();
        t.prefix.clear();
        t.busy.clear();
        t.busy_starts.clear();
        t.busy_starts.push(0);
        for row in 0..rows {
            let mut acc = 0u32;
            t.prefix.push(0);
            for col in 0..cols {
                let g = row * cols + col;
                acc = acc.wrapping_add(t.sum[g]);
                t.prefix.push(acc);
                let (a, b) = t.block[g];
                let own = CellRect::new(col, col, row, row);
                if a < b
                    || t.newborns[g] > 0
                    || !own.contains_rect(t.sources[g])
                    || t.emigrant_starts[g] < t.emigrant_starts[g + 1]
                {
                    t.busy.push(g as u32);
                }
            }
            t.busy_starts.push(t.busy.len() as u32);
        }
    }

    /// The full cells of a view around `center`: those lying wholly inside the spawn area
    /// `inner` (half-extents), with a unit to spare so float rounding never puts an entity of a
    /// full cell outside it. Positions are clamped into the arena, so the border cells end there.
    pub(super) fn full_cells(&self, center: (f32, f32), inner: (f32, f32)) -> CellRect {
        let size = self.grid.cell_size();
        let axis = |c: f32, half: f32, n: usize, extent: f32| {
            let (lo, hi) = (c - half + 1.0, c + half - 1.0);
            let first = (lo / size).ceil().max(0.0) as usize;
            let mut last = None;
            for k in first..n {
                if (k as f32 * size) < lo || ((k + 1) as f32 * size).min(extent) > hi {
                    break;
                }
                last = Some(k);
            }
            (first, last)
        };
        let arena = self.physics.arena;
        match (
            axis(center.0, inner.0, self.grid.cols(), arena.width),
            axis(center.1, inner.1, self.grid.rows(), arena.height),
        ) {
            ((c0, Some(c1)), (r0, Some(r1))) => CellRect::new(c0, c1, r0, r1),
            _ => CellRect::EMPTY,
        }
    }

    /// Writes the snapshot body for a client in sync with last tick (it applied last tick's
    /// snapshot and has no byte budget), holding the entities of last tick's full cells `before`
    /// and those at `edge` (ascending indices into last tick's states): the changed lists of the
    /// cells in sync, records and spawns entity by entity for the others, despawns for what it no
    /// longer sees. Fills `out` with what it
    /// holds after it, and returns its checksum and its full cells.
    pub(super) fn encode_in_sync(
        &self,
        view: (f32, f32),
        own: Option<usize>,
        before: CellRect,
        edge: &[u32],
        out: &mut CellScratch,
        w: &mut BodyWriter,
    ) -> (u32, CellRect) {
        let inner = (self.view.half_width + VIEW_MARGIN, self.view.half_height + VIEW_MARGIN);
        let outer = (inner.0 + VIEW_HYSTERESIS, inner.1 + VIEW_HYSTERESIS);
        let full = self.full_cells(view, inner);
        let cols = self.grid.cols();
        let t = &self.cell_tables;
        let CellScratch { kept, was_edge, spawns, despawns, edge: edge_now, updates } = out;
        updates.clear();
        kept.clear();
        kept.resize(self.curr.len().div_ceil(64), 0);
        was_edge.clear();
        was_edge.resize(self.prev.len().div_ceil(64), 0);
        for &j in edge {
            was_edge[j as usize / 64] |= 1 << (j % 64);
        }
        spawns.clear();
        despawns.clear();
        edge_now.clear();
        let was_edge = &*was_edge;
        let held_before = |pi: u32| {
            before.contains(self.prev_cells[pi as usize]) || was_edge[pi as usize / 64] & (1 << (pi % 64)) != 0
        };
        let mut sum = 0u32;
        // A full cell walked entity by entity: updates for what was held, spawns for the rest.
        let walk = |g: usize, updates: &mut Vec<u32>, spawns: &mut Vec<u32>| {
            for it in self.grid.cell_items(g) {
                let i = it.item as usize;
                if self.cells[i] == STRAY {
                    continue;
                }
                let pi = self.prev_index[i];
                if pi != NONE && held_before(pi) {
                    let (a, b) = self.spans[i];
                    if a < b {
                        updates.push(it.item);
                    }
                } else {
                    spawns.push(it.item);
                }
            }
        };
        let (full_cols, before_cols) = (full.cols(), before.cols());
        for row in full.rows() {
            // Cells full now and last tick: the sum of the run, then only the busy ones.
            let kept_cols = if before.has_row(row) { overlap(full_cols, before_cols) } else { None };
            if let Some(run) = kept_cols {
                sum = sum.wrapping_add(t.run_sum(row, cols, run));
                for &g in t.busy_in(row, cols, run) {
                    let g = g as usize;
                    if !before.contains_rect(t.sources[g]) {
                        walk(g, updates, spawns);
                        continue;
                    }
                    let (a, b) = t.block[g];
                    updates.extend_from_slice(&t.changed[a as usize..b as usize]);
                    if t.newborns[g] > 0 {
                        let born = self.grid.cell_items(g).iter().filter(|it| {
                            let i = it.item as usize;
                            self.prev_index[i] == NONE && self.cells[i] != STRAY
                        });
                        spawns.extend(born.map(|it| it.item));
                    }
                }
            }
            // Cells newly full: entity by entity.
            for run in outside(full_cols, kept_cols).into_iter().flatten() {
                sum = sum.wrapping_add(t.run_sum(row, cols, run));
                for col in run.0..=run.1 {
                    walk(row * cols + col, updates, spawns);
                }
            }
        }
        // Edge cells and strays: each entity on its own, against the spawn and keep areas.
        let mut consider = |it: &GridItem| {
            let i = it.item as usize;
            let (dx, dy) = ((it.x - view.0).abs(), (it.y - view.1).abs());
            let mine = own == Some(i);
            if !(mine || (dx <= outer.0 && dy <= outer.1)) {
                return;
            }
            let pi = self.prev_index[i];
            if pi != NONE && held_before(pi) {
                let (a, b) = self.spans[i];
                if a < b {
                    updates.push(it.item);
                }
            } else if mine || (dx <= inner.0 && dy <= inner.1) {
                spawns.push(it.item);
            } else {
                return;
            }
            edge_now.push(it.item);
            kept[i / 64] |= 1 << (i % 64);
            sum = sum.wrapping_add(self.hashes[i]);
        };
        let (col0, col1) = (self.grid.col_of(view.0 - outer.0), self.grid.col_of(view.0 + outer.0));
        let (row0, row1) = (self.grid.row_of(view.1 - outer.1), self.grid.row_of(view.1 + outer.1));
        for row in row0..=row1 {
            for col in col0..=col1 {
                let cell = cell_id(col, row);
                if full.contains(cell) {
                    continue;
                }
                for it in self.grid.cell_items(row * cols + col) {
                    if self.cells[it.item as usize] == cell {
                        consider(it);
                    }
                }
            }
        }
        for &i in &self.strays {
            let (x, y) = self.curr[i as usize].position();
            consider(&GridItem { item: i, x, y });
        }
        // One block of every update, in id order (indices ascend as ids do): the records were
        // encoded once per tick; copying a cell's block whole would save the sort but cost each
        // cell's count and first id on the wire (BENCHMARKS.md, issue 11).
        updates.sort_unstable();
        for &i in updates.iter() {
            let (a, b) = self.spans[i as usize];
            w.update_record(self.ids[i as usize], &self.records[a as usize..b as usize]);
        }
        edge_now.sort_unstable();
        // Despawns: what was held and is neither in a full cell nor kept at the edge.
        let held_now = |i: u32| full.contains(self.cells[i as usize]) || kept[i as usize / 64] & (1 << (i % 64)) != 0;
        let mut gone = |j: u32| {
            let i = self.next_index[j as usize];
            if i == NONE || !held_now(i) {
                despawns.push(self.prev[j as usize].id);
            }
        };
        edge.iter().for_each(|&j| gone(j));
        for row in before.rows() {
            // Cells still full: only their emigrants may be gone.
            let kept_cols = if full.has_row(row) { overlap(before_cols, full_cols) } else { None };
            if let Some(run) = kept_cols {
                for &g in t.busy_in(row, cols, run) {
                    let (a, b) = (t.emigrant_starts[g as usize] as usize, t.emigrant_starts[g as usize + 1] as usize);
                    t.emigrants[a..b].iter().for_each(|&j| gone(j));
                }
            }
            // Cells no longer full: everything they held.
            for run in outside(before_cols, kept_cols).into_iter().flatten() {
                for col in run.0..=run.1 {
                    let cell = cell_id(col, row);
                    let inside = self.prev_grid.cell_items(row * cols + col).iter();
                    inside.filter(|it| self.prev_cells[it.item as usize] == cell).for_each(|it| gone(it.item));
                }
            }
        }
        despawns.sort_unstable();
        despawns.iter().for_each(|&id| w.despawn(id));
        // Indices ascend as ids do.
        spawns.sort_unstable();
        spawns.iter().for_each(|&i| w.spawn(&self.curr[i as usize]));
        (sum, full)
    }
}

/// Per-client scratch space of [`Replicator::encode_in_sync`], and its results.
#[derive(Debug, Default)]
pub struct CellScratch {
    /// Per index into this tick's states: held at the edge after this snapshot.
    kept: Vec<u64>,
    /// Per index into last tick's states: held at the edge before it.
    was_edge: Vec<u64>,
    /// Indices into this tick's states of the entities updated.
    updates: Vec<u32>,
    /// Indices into this tick's states of the entities spawned, ascending.
    pub(super) spawns: Vec<u32>,
    /// Ids despawned, ascending.
    pub(super) despawns: Vec<NetId>,
    /// Indices into this tick's states of the entities held outside the full cells after this
    /// snapshot, ascending.
    pub(super) edge: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rects_contain_cells_and_rects() {
        let r = CellRect::new(2, 4, 1, 3);
        assert!(r.contains(cell_id(2, 1)) && r.contains(cell_id(4, 3)));
        assert!(!r.contains(cell_id(5, 3)) && !r.contains(cell_id(3, 0)));
        assert!(r.contains_rect(CellRect::new(3, 4, 1, 1)));
        assert!(!r.contains_rect(CellRect::new(1, 4, 1, 1)));
        assert!(r.contains_rect(CellRect::EMPTY), "every rect holds the empty one");
        assert!(!CellRect::EMPTY.contains(cell_id(0, 0)));
        assert_eq!(CellRect::EMPTY.rows().count(), 0);
        assert_eq!(CellRect::new(1, 2, 0, 1).rows(), 0..2);
        let mut grown = CellRect::EMPTY;
        grown.extend(cell_id(3, 5));
        grown.extend(cell_id(1, 6));
        assert_eq!(grown, CellRect::new(1, 3, 5, 6));
    }
}
