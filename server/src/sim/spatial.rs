//! A uniform grid over the arena for "what is near here" queries: hit tests, pickups,
//! free respawn spots and each client's view. Rebuilt every tick; clearing keeps its allocations.

/// Buckets of `u32` items (indices into a caller's table) by position.
#[derive(Clone, Debug)]
pub struct Grid {
    cell: f32,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl Grid {
    /// A grid covering `[0, width] × [0, height]` with square cells of side `cell`. Positions
    /// outside are clamped into the border cells.
    #[must_use]
    pub fn new(width: f32, height: f32, cell: f32) -> Grid {
        let cols = ((width / cell).ceil() as usize).max(1);
        let rows = ((height / cell).ceil() as usize).max(1);
        Grid { cell, cols, rows, cells: vec![Vec::new(); cols * rows] }
    }

    /// Empties every cell, keeping their capacity.
    pub fn clear(&mut self) {
        for c in &mut self.cells {
            c.clear();
        }
    }

    fn col(&self, x: f32) -> usize {
        ((x / self.cell).max(0.0) as usize).min(self.cols - 1)
    }

    fn row(&self, y: f32) -> usize {
        ((y / self.cell).max(0.0) as usize).min(self.rows - 1)
    }

    /// Files `item` under the cell containing `(x, y)`.
    pub fn insert(&mut self, x: f32, y: f32, item: u32) {
        let i = self.row(y) * self.cols + self.col(x);
        self.cells[i].push(item);
    }

    /// Calls `f` with every item filed in a cell that overlaps the rectangle. Items in those
    /// cells may lie outside the rectangle: callers check exact distances themselves.
    pub fn for_each_in(&self, min: (f32, f32), max: (f32, f32), mut f: impl FnMut(u32)) {
        let (c0, c1) = (self.col(min.0), self.col(max.0));
        let (r0, r1) = (self.row(min.1), self.row(max.1));
        for r in r0..=r1 {
            for cell in &self.cells[r * self.cols + c0..=r * self.cols + c1] {
                cell.iter().copied().for_each(&mut f);
            }
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
        let mut found = Vec::new();
        g.for_each_in((0.0, 0.0), (120.0, 120.0), |i| found.push(i));
        assert_eq!(found, vec![1]);
        found.clear();
        g.for_each_in((0.0, 900.0), (1000.0, 1000.0), |i| found.push(i));
        found.sort_unstable();
        assert_eq!(found, vec![2, 3]);
        g.clear();
        found.clear();
        g.for_each_in((0.0, 0.0), (1000.0, 1000.0), |i| found.push(i));
        assert!(found.is_empty(), "a cleared grid should hold nothing");
    }
}
