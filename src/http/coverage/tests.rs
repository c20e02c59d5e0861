//! Tests of the grid sums that scenarios keep up to date row by row.

use super::sums::{GridSums, RowFigures};
use rand::{Rng, SeedableRng};

/// Moving only the rows that changed gives the sums of a full regroup, after each of
/// several scenarios applied one after another (rows flipping back and forth, rows
/// not counted, rows without a grid, buildings off the network).
#[test]
fn shifted_sums_equal_a_full_regroup() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let (n, grids) = (5_000usize, 40usize);
    let residents: Vec<u32> = (0..n).map(|_| rng.gen_range(0..300)).collect();
    let households: Vec<u32> = (0..n).map(|_| rng.gen_range(0..120)).collect();
    let row_grid: Vec<u32> = (0..n)
        .map(|_| {
            if rng.gen_bool(0.02) {
                crate::coverage::NO_GRID
            } else {
                rng.gen_range(0..grids as u32)
            }
        })
        .collect();
    let rows = RowFigures {
        residents: &residents,
        households: &households,
        row_grid: &row_grid,
    };
    let keep: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.8)).collect();
    let off: Vec<(u32, u32, u32)> = (0..30)
        .map(|_| {
            (
                rng.gen_range(0..50),
                rng.gen_range(0..20),
                rng.gen_range(0..grids as u32),
            )
        })
        .collect();
    let mut covered: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.6)).collect();
    let mut sums = GridSums::new(&rows, grids, &keep, &covered, &off);
    let mut shifted = 0;
    for _ in 0..8 {
        // A scenario changes the rows of a few places: some flip, most stay.
        let mut next = covered.clone();
        for _ in 0..rng.gen_range(1..400) {
            let r = rng.gen_range(0..n);
            next[r] = rng.gen_bool(0.5);
        }
        for row in 0..n {
            if keep[row] && next[row] != covered[row] {
                sums.shift(&rows, row, next[row]);
                shifted += 1;
            }
        }
        covered = next;
        assert_eq!(sums, GridSums::new(&rows, grids, &keep, &covered, &off));
    }
    assert!(shifted > 100, "the scenarios move rows ({shifted})");
}
