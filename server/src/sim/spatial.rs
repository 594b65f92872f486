//! A uniform grid over the arena for "what is near here" queries: hit tests, pickups, free
//! respawn spots and each client's view. Rebuilt every tick: [`Grid::clear`], [`Grid::insert`]
//! each item, [`Grid::build`], then query.
//!
//! Stored compressed (CSR): one array of items ordered by cell plus each cell's start, so the
//! cells of one row of a query rectangle are one contiguous slice — a view of 13 × 9 cells reads 9
//! slices, not 117 separate vectors. Items carry their position, so queries filter without
//! touching the caller's tables. Allocations are kept across ticks.

/// One filed item: the caller's index and its position.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GridItem {
    /// Index into the caller's table.
    pub item: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
}

/// Buckets of `u32` items (indices into a caller's table) by position.
#[derive(Clone, Debug)]
pub struct Grid {
    cell: f32,
    cols: usize,
    rows: usize,
    staged: Vec<(u32, GridItem)>,
    starts: Vec<u32>,
    items: Vec<GridItem>,
    built: bool,
}

impl Grid {
    /// A grid covering `[0, width] × [0, height]` with square cells of side `cell`. Positions
    /// outside are clamped into the border cells.
    #[must_use]
    pub fn new(width: f32, height: f32, cell: f32) -> Grid {
        let cols = ((width / cell).ceil() as usize).max(1);
        let rows = ((height / cell).ceil() as usize).max(1);
        Grid { cell, cols, rows, staged: Vec::new(), starts: vec![0; cols * rows + 1], items: Vec::new(), built: true }
    }

    /// Empties the grid, keeping its allocations.
    pub fn clear(&mut self) {
        self.staged.clear();
        self.items.clear();
        self.starts.fill(0);
        self.built = false;
    }

    fn col(&self, x: f32) -> usize {
        ((x / self.cell).max(0.0) as usize).min(self.cols - 1)
    }

    fn row(&self, y: f32) -> usize {
        ((y / self.cell).max(0.0) as usize).min(self.rows - 1)
    }

    /// Columns of cells.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows of cells.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Side of a cell.
    #[must_use]
    pub fn cell_size(&self) -> f32 {
        self.cell
    }

    /// The column `x` falls in (clamped into the grid).
    #[must_use]
    pub fn col_of(&self, x: f32) -> usize {
        self.col(x)
    }

    /// The row `y` falls in (clamped into the grid).
    #[must_use]
    pub fn row_of(&self, y: f32) -> usize {
        self.row(y)
    }

    /// The index (`row · cols + col`) of the cell `(x, y)` is filed in.
    #[must_use]
    pub fn cell_of(&self, x: f32, y: f32) -> u32 {
        (self.row(y) * self.cols + self.col(x)) as u32
    }

    /// The items filed in cell `cell` (an index from [`Grid::cell_of`]), in the order they were
    /// inserted.
    #[must_use]
    pub fn cell_items(&self, cell: usize) -> &[GridItem] {
        debug_assert!(self.built, "Grid::build must run after inserts and before queries");
        &self.items[self.starts[cell] as usize..self.starts[cell + 1] as usize]
    }

    /// Files `item` at `(x, y)` (visible to queries after [`Grid::build`]).
    pub fn insert(&mut self, x: f32, y: f32, item: u32) {
        let cell = self.cell_of(x, y);
        self.staged.push((cell, GridItem { item, x, y }));
        self.built = false;
    }

    /// Sorts the filed items into cells (a counting sort, linear in items).
    pub fn build(&mut self) {
        self.starts.fill(0);
        for (cell, _) in &self.staged {
            self.starts[*cell as usize + 1] += 1;
        }
        for i in 1..self.starts.len() {
            self.starts[i] += self.starts[i - 1];
        }
        self.items.clear();
        self.items.resize(self.staged.len(), GridItem::default());
        let mut next = self.starts.clone();
        for (cell, item) in &self.staged {
            let at = &mut next[*cell as usize];
            self.items[*at as usize] = *item;
            *at += 1;
        }
        self.built = true;
    }

    /// Calls `f` with every item filed in a cell that overlaps the rectangle. Items in those
    /// cells may lie outside the rectangle: callers check exact distances themselves.
    pub fn for_each_in(&self, min: (f32, f32), max: (f32, f32), mut f: impl FnMut(u32)) {
        self.for_each_item_in(min, max, |it| f(it.item));
    }

    /// Like [`Grid::for_each_in`], with each item's position.
    pub fn for_each_item_in(&self, min: (f32, f32), max: (f32, f32), mut f: impl FnMut(&GridItem)) {
        debug_assert!(self.built, "Grid::build must run after inserts and before queries");
        let (c0, c1) = (self.col(min.0), self.col(max.0));
        let (r0, r1) = (self.row(min.1), self.row(max.1));
        for r in r0..=r1 {
            let (a, b) = (self.starts[r * self.cols + c0] as usize, self.starts[r * self.cols + c1 + 1] as usize);
            self.items[a..b].iter().for_each(&mut f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_find_items_in_overlapping_cells_only() {
        let mut g = Grid::new(1000.0, 1000.0, 100.0);
        g.insert(50.0, 50.0, 1);
        g.insert(950.0, 950.0, 2);
        g.insert(-20.0, 2000.0, 3); // clamped into the bottom-left cell
        g.build();
        let mut found = Vec::new();
        g.for_each_in((0.0, 0.0), (120.0, 120.0), |i| found.push(i));
        assert_eq!(found, vec![1]);
        found.clear();
        g.for_each_in((0.0, 900.0), (1000.0, 1000.0), |i| found.push(i));
        found.sort_unstable();
        assert_eq!(found, vec![2, 3]);
        g.clear();
        g.build();
        found.clear();
        g.for_each_in((0.0, 0.0), (1000.0, 1000.0), |i| found.push(i));
        assert!(found.is_empty(), "a cleared grid should hold nothing");
    }

    #[test]
    fn every_item_is_found_by_a_query_covering_everything() {
        let mut g = Grid::new(1000.0, 700.0, 64.0);
        for i in 0..500u32 {
            g.insert((i * 37 % 1000) as f32, (i * 91 % 700) as f32, i);
        }
        g.build();
        let mut found = Vec::new();
        g.for_each_item_in((0.0, 0.0), (1000.0, 700.0), |it| found.push(it.item));
        found.sort_unstable();
        assert_eq!(found, (0..500).collect::<Vec<_>>());
    }
}
