//! The arithmetic of the boundary-change preview on plain facts: members' counts after
//! buildings change cell, first-level cells summed from their children as a batch leaves
//! them, the cells whose counts change, the rules that start, stop or change failing, and
//! the flows of members from cell to cell. Which cells a batch touches, and who may see
//! what, are for the callers.

use super::facts::CellFacts;
use super::findings::{diff, Change, Finding};
use super::rules::cell_findings;
use crate::domain::GridLevel;
use std::collections::{BTreeMap, HashMap};

/// Members (all, full) per second-level grid id.
pub type Counts = HashMap<i64, (i64, i64)>;

/// A building changing cell, with the members living in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildingMove {
    /// The building's id.
    pub building: i64,
    /// Its second-level grid before.
    pub from: i64,
    /// Its second-level grid after.
    pub to: i64,
    /// Members living in it.
    pub members: i64,
    /// Full members among them.
    pub full: i64,
}

/// The counts once the members of every moving building have followed it.
pub fn counts_after(before: &Counts, moves: &[BuildingMove]) -> Counts {
    let mut after = before.clone();
    for m in moves {
        let from = after.entry(m.from).or_default();
        from.0 -= m.members;
        from.1 -= m.full;
        let to = after.entry(m.to).or_default();
        to.0 += m.members;
        to.1 += m.full;
    }
    after
}

/// Gives every first-level cell the sum of its children's counts, the children being the
/// `(parent, child)` pairs of second-level grids as the batch leaves them; a first-level
/// cell without any child counts zero.
pub fn sum_children(
    cells: &mut [CellFacts],
    children: impl IntoIterator<Item = (i64, i64)>,
    counts: &Counts,
) {
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for (parent, child) in children {
        let (m, f) = counts.get(&child).copied().unwrap_or_default();
        let e = sums.entry(parent).or_default();
        e.0 += m;
        e.1 += f;
    }
    for c in cells.iter_mut().filter(|c| c.level == GridLevel::First) {
        let (m, f) = sums.get(&c.grid_id).copied().unwrap_or_default();
        c.members = m;
        c.full = f;
    }
}

/// Cells of grids a batch creates have no organisation, chief or staff yet.
pub fn forget_new(cells: &mut [CellFacts], is_new: impl Fn(i64) -> bool) {
    for c in cells.iter_mut().filter(|c| is_new(c.grid_id)) {
        c.org = None;
        c.chief = None;
        c.staff_members = 0;
    }
}

/// The cells' findings that start, stop or change between `before` and `after`.
pub fn rule_changes(before: &[CellFacts], after: &[CellFacts]) -> Vec<(Change, Finding)> {
    let old = cell_findings(before);
    let new = cell_findings(after);
    diff(&old, &new)
        .into_iter()
        .map(|(change, f)| (change, f.clone()))
        .collect()
}

/// A cell whose counts a batch changes, as it was and as it will be.
#[derive(Debug, Clone, Copy)]
pub struct CellChange<'a> {
    /// The grid's id (a new grid's is the one the preview gave it).
    pub grid_id: i64,
    /// The cell before, unless the batch creates it.
    pub before: Option<&'a CellFacts>,
    /// The cell after, unless the batch deletes it.
    pub after: Option<&'a CellFacts>,
}

impl CellChange<'_> {
    /// `created`, `deleted` or `changed`.
    pub fn status(&self) -> &'static str {
        match (self.before, self.after) {
            (None, _) => "created",
            (_, None) => "deleted",
            _ => "changed",
        }
    }
}

/// The cells of `ids` (in that order) that a batch creates, deletes, or whose members or
/// full members it changes.
pub fn changed_cells<'a>(
    ids: impl IntoIterator<Item = i64>,
    before: &'a [CellFacts],
    after: &'a [CellFacts],
) -> Vec<CellChange<'a>> {
    let before: HashMap<i64, &CellFacts> = before.iter().map(|c| (c.grid_id, c)).collect();
    let after: HashMap<i64, &CellFacts> = after.iter().map(|c| (c.grid_id, c)).collect();
    ids.into_iter()
        .map(|id| CellChange {
            grid_id: id,
            before: before.get(&id).copied(),
            after: after.get(&id).copied(),
        })
        .filter(|c| match (c.before, c.after) {
            (Some(b), Some(a)) => b.members != a.members || b.full != a.full,
            _ => true,
        })
        .collect()
}

/// Members moving from one cell to another with their buildings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Buildings moving.
    pub buildings: usize,
    /// Members living in them.
    pub members: i64,
    /// Full members among them.
    pub full: i64,
}

/// The moves summed by (cell before, cell after), in that order.
pub fn flows(moves: &[BuildingMove]) -> BTreeMap<(i64, i64), Flow> {
    let mut flows: BTreeMap<(i64, i64), Flow> = BTreeMap::new();
    for m in moves {
        let e = flows.entry((m.from, m.to)).or_default();
        e.buildings += 1;
        e.members += m.members;
        e.full += m.full;
    }
    flows
}
