//! Spatial assignment of party members to grid cells from the index: a member's cell is the
//! second-level grid covering the anchor of their home building (its party group) and that
//! grid's first-level parent (its party branch). Also the boundary-change preview: the same
//! assignment over the index with a proposed batch of grid changes laid over it, and the
//! checks the grid store would make on that batch, so that a preview says what a commit
//! would do without writing anything.
//!
//! Must agree with PostGIS and the grid store: a point is in a grid when the grid covers it
//! (boundary included) and a tie goes to the lowest grid id; grids created by a batch get
//! ids above every existing one, in batch order, as the database's sequence gives them.
//! Must not: read the database, or decide who may see what.

use super::index::{BBox, Snapshot};
use super::topology::{check_partition, Fault};
use crate::domain::access::Place;
use crate::domain::hierarchy::{check_grid_code, check_name};
use crate::domain::registry::{orphaned_grids_message, Building, Grid, GridChange, NewGrid};
use crate::domain::{FieldError, GridLevel};
use crate::work::{checkpoint_every, Expired};
use chrono::Utc;
use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Rect};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The cell of a building (and so of its residents who are party members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    /// The second-level grid: the party group.
    pub group: i64,
    /// Its first-level parent: the party branch.
    pub branch: Option<i64>,
}

/// Something that finds the second-level grid covering a point.
pub trait Locate2 {
    /// The second-level grid covering `p` (lowest id on a shared boundary).
    fn locate2(&self, p: Coord<f64>) -> Option<&Grid>;
}

impl Locate2 for Snapshot {
    fn locate2(&self, p: Coord<f64>) -> Option<&Grid> {
        self.grids.locate(GridLevel::Second, p)
    }
}

/// The cell of a point: its second-level grid and that grid's parent.
pub fn cell_at(grids: &impl Locate2, p: Coord<f64>) -> Option<Cell> {
    grids.locate2(p).map(|g| Cell {
        group: g.id,
        branch: g.parent_id,
    })
}

/// Threads used by [`assign_members`]: every core, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZero::get)
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Assigns every member `(person id, home building id)` to the cell of their building,
/// computed from the building's anchor in the index (not from its stored grid). Members
/// whose building is unknown or lies outside every second-level grid get `None`. The
/// answer is in the order of `members`.
pub fn assign_members(snap: &Snapshot, members: &[(i64, i64)]) -> Vec<Option<Cell>> {
    assign_members_on(snap, members, threads())
}

/// [`assign_members`] on `threads` threads.
pub fn assign_members_on(
    snap: &Snapshot,
    members: &[(i64, i64)],
    threads: usize,
) -> Vec<Option<Cell>> {
    // Each distinct building is located once.
    let mut buildings: Vec<i64> = members.iter().map(|m| m.1).collect();
    buildings.sort_unstable();
    buildings.dedup();
    let cells = locate_buildings_on(snap, &buildings, threads);
    members
        .iter()
        .map(|(_, b)| buildings.binary_search(b).ok().and_then(|i| cells[i]))
        .collect()
}

/// The cells of buildings (by id), located from their anchors, on `threads` threads.
pub fn locate_buildings_on(snap: &Snapshot, ids: &[i64], threads: usize) -> Vec<Option<Cell>> {
    let locate = |chunk: &[i64]| -> Vec<Option<Cell>> {
        chunk
            .iter()
            .map(|id| {
                snap.buildings
                    .get(*id)
                    .and_then(|b| cell_at(snap, b.anchor.0))
            })
            .collect()
    };
    let n = threads.max(1);
    if n == 1 || ids.len() < 4096 {
        return locate(ids);
    }
    let size = ids.len().div_ceil(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(size)
            .map(|c| s.spawn(move || locate(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The name the benchmarks give a grid change of a proposed batch: the same type as the
/// grid store's.
pub use crate::domain::registry::GridChange as Proposed;

impl Snapshot {
    /// Where a grid change happens: for a creation, the place of the new grid's parent (its
    /// community, or its first-level grid); otherwise the place of the grid it names.
    /// `None` for a code the index does not know (left to the store to refuse).
    pub fn place_of_change(&self, c: &GridChange) -> Option<Place> {
        match c {
            GridChange::Create(g) => match g.level {
                GridLevel::First => self
                    .communities
                    .by_code(&g.parent_code)
                    .map(|c| self.place_of_community(c)),
                GridLevel::Second => self
                    .grids
                    .by_code(&g.parent_code)
                    .and_then(|p| self.place_of_grid(p)),
            },
            GridChange::Update { code, .. } | GridChange::Delete { code, .. } => {
                self.grids.by_code(code).and_then(|g| self.place_of_grid(g))
            }
        }
    }
}

/// Why a proposed batch would be refused before any geometry is looked at; each variant
/// is the refusal the grid store gives for the same batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// A grid named by the batch does not exist.
    #[error("grid {0} not found")]
    NotFound(String),
    /// The batch is based on an old version of a grid.
    #[error("grid {code} is at version {current}, not {given}")]
    Stale {
        /// Code.
        code: String,
        /// Current version.
        current: i32,
        /// Version given.
        given: i32,
    },
    /// The batch conflicts with the registry (a code in use, a parent deleted alone).
    #[error("{0}")]
    Conflict(String),
    /// Items of the batch are invalid (index, reason).
    #[error("{} item(s) of the batch are invalid", .0.len())]
    Items(Vec<(usize, String)>),
}

/// Ids given to grids a batch creates: above every existing id, in batch order.
pub const NEW_ID_BASE: i64 = i64::MAX / 2;

/// The registry's grids with a batch of changes laid over them.
#[derive(Debug)]
pub struct Overlay<'a> {
    snap: &'a Snapshot,
    /// Ids whose current version no longer applies (re-drawn or deleted).
    replaced: HashSet<i64>,
    /// Ids deleted.
    deleted: BTreeSet<i64>,
    /// New versions of re-drawn or renamed grids, and created grids.
    added: Vec<Grid>,
    added_boxes: Vec<Option<Rect<f64>>>,
    /// Parents whose partition must be checked: `Err(community)` or `Ok(first-level grid)`.
    parents: BTreeSet<Result<i64, i64>>,
    /// Boxes of every old and new boundary of the batch.
    boxes: Vec<Rect<f64>>,
    /// Ids of grids re-drawn or deleted (their buildings are all re-checked).
    changed: Vec<i64>,
}

impl<'a> Overlay<'a> {
    /// Lays `batch` over the snapshot, refusing it as the grid store would.
    pub fn new(snap: &'a Snapshot, batch: &[GridChange]) -> Result<Self, Refusal> {
        GridChange::check_unique(batch).map_err(|item| Refusal::Items(vec![item]))?;
        let mut o = Overlay {
            snap,
            replaced: HashSet::new(),
            deleted: BTreeSet::new(),
            added: Vec::new(),
            added_boxes: Vec::new(),
            parents: BTreeSet::new(),
            boxes: Vec::new(),
            changed: Vec::new(),
        };
        // Codes current at each step, as the store's transaction sees them.
        let mut live: HashMap<String, i64> = snap
            .grids
            .items
            .iter()
            .map(|g| (g.code.clone(), g.id))
            .collect();
        let mut created = 0i64;
        for (i, change) in batch.iter().enumerate() {
            match change {
                GridChange::Create(g) => {
                    let id = NEW_ID_BASE + created;
                    o.create(i, g, id, &live)?;
                    created += 1;
                    live.insert(g.code.clone(), id);
                }
                GridChange::Update {
                    code,
                    version,
                    name,
                    geom,
                } => {
                    let cur = o.current(&live, code, *version)?;
                    if let Some(n) = name {
                        check_name(n, "properties.name").map_err(|e| at_item(i, e))?;
                    }
                    o.update(cur, name.as_ref(), geom.as_ref());
                }
                GridChange::Delete { code, version } => {
                    let cur = o.current(&live, code, *version)?;
                    live.remove(code.as_str());
                    o.parents.insert(parent_key(&cur));
                    o.boxes.extend(cur.geom.bounding_rect());
                    o.changed.push(cur.id);
                    o.remove(cur.id);
                }
            }
        }
        o.check_no_orphans()?;
        Ok(o)
    }

    /// Lays a created grid (change `i`, given `id`) over the index, refusing it as the store
    /// would: a bad name, an unknown parent, a bad code, a code in use.
    fn create(
        &mut self,
        i: usize,
        g: &NewGrid,
        id: i64,
        live: &HashMap<String, i64>,
    ) -> Result<(), Refusal> {
        let parent_code = &g.parent_code;
        check_name(&g.name, "properties.name").map_err(|e| at_item(i, e))?;
        let no_parent = |what: &str| {
            at_item(
                i,
                FieldError::new(
                    "properties.parent_code",
                    format!("no {what} has code {parent_code}"),
                ),
            )
        };
        let (community_id, parent_id) = match g.level {
            GridLevel::First => {
                let c = self
                    .snap
                    .communities
                    .by_code(parent_code)
                    .ok_or_else(|| no_parent("community"))?;
                (c.id, None)
            }
            GridLevel::Second => {
                let p = live
                    .get(parent_code.as_str())
                    .and_then(|id| self.grid(*id))
                    .filter(|p| p.level == GridLevel::First)
                    .ok_or_else(|| no_parent("first-level grid"))?;
                (p.community_id, Some(p.id))
            }
        };
        check_grid_code(&g.code, g.level, parent_code).map_err(|e| at_item(i, e))?;
        if live.contains_key(g.code.as_str()) {
            return Err(Refusal::Conflict(format!(
                "grid code {} is already in use",
                g.code
            )));
        }
        self.parents.insert(match parent_id {
            Some(p) => Ok(p),
            None => Err(community_id),
        });
        self.boxes.extend(g.geom.bounding_rect());
        self.push(Grid {
            id,
            code: g.code.clone(),
            name: g.name.trim().to_string(),
            level: g.level,
            parent_id,
            community_id,
            version: 1,
            valid_from: Utc::now(),
            valid_to: None,
            geom: g.geom.clone(),
        });
        Ok(())
    }

    /// The grid `code` as the batch has left it so far, refused when missing or not at
    /// `version`.
    fn current(
        &self,
        live: &HashMap<String, i64>,
        code: &str,
        version: i32,
    ) -> Result<Grid, Refusal> {
        let cur = live.get(code).and_then(|id| self.grid(*id)).cloned();
        let cur = cur.ok_or_else(|| Refusal::NotFound(code.to_string()))?;
        cur.at_version(version).map_err(|current| Refusal::Stale {
            code: code.to_string(),
            current,
            given: version,
        })
    }

    /// Lays a renamed and/or re-drawn version of `cur` over the index.
    fn update(&mut self, cur: Grid, name: Option<&String>, geom: Option<&MultiPolygon<f64>>) {
        if let Some(g) = geom {
            self.parents.insert(parent_key(&cur));
            if cur.level == GridLevel::First {
                self.parents.insert(Ok(cur.id));
            }
            self.boxes.extend(cur.geom.bounding_rect());
            self.boxes.extend(g.bounding_rect());
            self.changed.push(cur.id);
        }
        let next = Grid {
            name: name.cloned().unwrap_or(cur.name.clone()),
            version: cur.version + 1,
            geom: geom.cloned().unwrap_or(cur.geom.clone()),
            ..cur
        };
        self.replace(next);
    }

    /// Refuses the batch when a grid would outlive its parent.
    fn check_no_orphans(&self) -> Result<(), Refusal> {
        let mut orphans: Vec<&str> = self
            .grids()
            .filter(|g| g.parent_id.is_some_and(|p| self.deleted.contains(&p)))
            .map(|g| g.code.as_str())
            .collect();
        orphans.sort_unstable();
        orphans.truncate(20);
        if orphans.is_empty() {
            return Ok(());
        }
        Err(Refusal::Conflict(orphaned_grids_message(&orphans)))
    }

    fn push(&mut self, g: Grid) {
        self.added_boxes.push(g.geom.bounding_rect());
        self.added.push(g);
    }

    fn replace(&mut self, g: Grid) {
        if let Some(i) = self.added.iter().position(|a| a.id == g.id) {
            self.added_boxes[i] = g.geom.bounding_rect();
            self.added[i] = g;
        } else {
            self.replaced.insert(g.id);
            self.push(g);
        }
    }

    fn remove(&mut self, id: i64) {
        self.replaced.insert(id);
        self.deleted.insert(id);
        if let Some(i) = self.added.iter().position(|a| a.id == id) {
            self.added.remove(i);
            self.added_boxes.remove(i);
        }
    }

    /// A grid as the batch leaves it.
    pub fn grid(&self, id: i64) -> Option<&Grid> {
        if let Some(g) = self.added.iter().find(|g| g.id == id) {
            return Some(g);
        }
        if self.replaced.contains(&id) {
            return None;
        }
        self.snap.grids.get(id)
    }

    /// A grid as the batch leaves it, or else as it is now (a grid the batch deletes).
    pub fn grid_or_current(&self, id: i64) -> Option<&Grid> {
        self.grid(id).or_else(|| self.snap.grids.get(id))
    }

    /// The party cells a batch touches, as (first-level, second-level) grid ids: both ends
    /// of every building move `(from, to)`, every grid the batch changes or creates, their
    /// parents, and every child of those parents before and after (a branch counts all its
    /// groups).
    pub fn touched_cells(
        &self,
        moves: impl IntoIterator<Item = (i64, i64)>,
    ) -> (BTreeSet<i64>, BTreeSet<i64>) {
        let mut t1: BTreeSet<i64> = BTreeSet::new();
        let mut t2: BTreeSet<i64> = BTreeSet::new();
        let mut touch = |g: &Grid| match g.level {
            GridLevel::First => {
                t1.insert(g.id);
            }
            GridLevel::Second => {
                t2.insert(g.id);
                t1.extend(g.parent_id);
            }
        };
        for (from, to) in moves {
            for id in [from, to] {
                if let Some(g) = self.grid_or_current(id) {
                    touch(g);
                }
            }
        }
        for id in &self.changed {
            if let Some(g) = self.snap.grids.get(*id) {
                touch(g);
            }
        }
        for g in self.created() {
            touch(g);
        }
        for p in &t1 {
            t2.extend(self.snap.grids.children(*p).map(|c| c.id));
            t2.extend(
                self.grids()
                    .filter(|g| g.parent_id == Some(*p))
                    .map(|g| g.id),
            );
        }
        (t1, t2)
    }

    /// Every grid as the batch leaves it.
    pub fn grids(&self) -> impl Iterator<Item = &Grid> {
        self.snap
            .grids
            .items
            .iter()
            .filter(|g| !self.replaced.contains(&g.id))
            .chain(self.added.iter())
    }

    /// Grids the batch deletes.
    pub fn deleted(&self) -> impl Iterator<Item = &Grid> {
        self.deleted
            .iter()
            .filter_map(|id| self.snap.grids.get(*id))
    }

    /// Grids the batch creates (with ids from [`NEW_ID_BASE`]).
    pub fn created(&self) -> impl Iterator<Item = &Grid> {
        self.added.iter().filter(|g| g.id >= NEW_ID_BASE)
    }

    /// Ids of grids re-drawn or deleted.
    pub fn changed(&self) -> &[i64] {
        &self.changed
    }

    /// Children of a parent as the batch leaves them, by code.
    fn children(&self, parent: Result<i64, i64>) -> Vec<&Grid> {
        let mut v: Vec<&Grid> = self
            .grids()
            .filter(|g| match parent {
                Ok(p) => g.parent_id == Some(p),
                Err(c) => g.level == GridLevel::First && g.community_id == c,
            })
            .collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// The partition faults of every parent the batch touches, beyond `tolerance_m2`, as
    /// (parent code, child codes, fault); empty when the store would accept the batch.
    /// Stops with [`Expired`] when the work's deadline passes.
    pub fn partition_faults(
        &self,
        tolerance_m2: f64,
    ) -> Result<Vec<(String, Vec<String>, Fault)>, Expired> {
        let mut out = Vec::new();
        for p in &self.parents {
            let (code, geom) = match p {
                Err(c) => match self.snap.communities.get(*c) {
                    Some(c) => (c.code.clone(), &c.geom),
                    None => continue,
                },
                Ok(g) => match self.grid(*g) {
                    Some(g) => (g.code.clone(), &g.geom),
                    // Deleted in this batch: nothing left to partition.
                    None => continue,
                },
            };
            let kids = self.children(*p);
            if kids.is_empty() {
                continue;
            }
            let shapes: Vec<MultiPolygon<f64>> = kids.iter().map(|k| k.geom.clone()).collect();
            let report = check_partition(geom, &shapes)?;
            if !report.is_within(tolerance_m2) {
                let codes: Vec<String> = kids.iter().map(|k| k.code.clone()).collect();
                for f in report.faults {
                    out.push((code.clone(), codes.clone(), f));
                }
            }
        }
        Ok(out)
    }

    /// Buildings whose grid the batch would change, and those it would leave outside every
    /// second-level grid: the buildings the store re-checks are those whose anchor lies in
    /// the box of an old or new boundary of the batch, or whose grid is re-drawn or deleted.
    /// Stops with [`Expired`] when the work's deadline passes.
    pub fn building_moves(&self) -> Result<BuildingMoves<'a>, Expired> {
        let changed: HashSet<i64> = self.changed.iter().copied().collect();
        let mut candidates: BTreeMap<i64, &'a Building> = BTreeMap::new();
        for r in &self.boxes {
            let bbox = BBox {
                min_x: r.min().x,
                min_y: r.min().y,
                max_x: r.max().x,
                max_y: r.max().y,
            };
            for b in self.snap.buildings.in_bbox(&bbox) {
                let a = b.anchor.0;
                if a.x >= r.min().x && a.x <= r.max().x && a.y >= r.min().y && a.y <= r.max().y {
                    candidates.insert(b.id, b);
                }
            }
        }
        if !changed.is_empty() {
            for b in self
                .snap
                .buildings
                .items
                .iter()
                .filter(|b| changed.contains(&b.grid_id))
            {
                candidates.insert(b.id, b);
            }
        }
        let mut out = BuildingMoves::default();
        for (i, b) in candidates.into_values().enumerate() {
            checkpoint_every(i, 64)?;
            match self.locate2(b.anchor.0) {
                None => out.orphans.push(b),
                Some(g) if g.id != b.grid_id => out.moves.push((b, g.id)),
                Some(_) => {}
            }
        }
        Ok(out)
    }
}

/// What a batch does to buildings.
#[derive(Debug, Default)]
pub struct BuildingMoves<'a> {
    /// Buildings that change grid, with their new second-level grid.
    pub moves: Vec<(&'a Building, i64)>,
    /// Buildings left outside every second-level grid (the store refuses such a batch).
    pub orphans: Vec<&'a Building>,
}

/// A field error of item `i` of a batch, as the store reports it.
fn at_item(i: usize, e: FieldError) -> Refusal {
    Refusal::Items(vec![(i, e.to_string())])
}

fn parent_key(g: &Grid) -> Result<i64, i64> {
    match g.parent_id {
        Some(p) => Ok(p),
        None => Err(g.community_id),
    }
}

impl Locate2 for Overlay<'_> {
    fn locate2(&self, p: Coord<f64>) -> Option<&Grid> {
        let at = BBox {
            min_x: p.x,
            min_y: p.y,
            max_x: p.x,
            max_y: p.y,
        };
        let mut best: Option<&Grid> = None;
        for g in self.snap.grids.in_bbox(GridLevel::Second, &at) {
            if !self.replaced.contains(&g.id)
                && best.is_none_or(|b| g.id < b.id)
                && g.geom.intersects(&p)
            {
                best = Some(g);
            }
        }
        for (g, r) in self.added.iter().zip(&self.added_boxes) {
            let Some(r) = r else { continue };
            if g.level == GridLevel::Second
                && p.x >= r.min().x
                && p.x <= r.max().x
                && p.y >= r.min().y
                && p.y <= r.max().y
                && best.is_none_or(|b| g.id < b.id)
                && g.geom.intersects(&p)
            {
                best = Some(g);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::registry::{Community, Grid};
    use crate::spatial::index::{BuildingLayer, CommunityLayer, GridLayer};
    use geo::{polygon, Point};
    use std::sync::Arc;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]
            .into()
    }

    fn grid(
        id: i64,
        code: &str,
        level: GridLevel,
        parent: Option<i64>,
        geom: MultiPolygon<f64>,
    ) -> Grid {
        Grid {
            id,
            code: code.into(),
            name: code.into(),
            level,
            parent_id: parent,
            community_id: 1,
            version: 1,
            valid_from: Utc::now(),
            valid_to: None,
            geom,
        }
    }

    /// The overlay of a valid `batch` that keeps the partition and leaves no building
    /// outside every grid, and the buildings it moves (building id, new grid id).
    fn clean_moves<'a>(
        snap: &'a Snapshot,
        batch: &'a [GridChange],
    ) -> (Overlay<'a>, Vec<(i64, i64)>) {
        let o = Overlay::new(snap, batch).expect("valid batch");
        assert!(o.partition_faults(1.0).expect("no deadline").is_empty());
        let m = o.building_moves().expect("no deadline");
        assert!(m.orphans.is_empty());
        let moves = m.moves.iter().map(|(b, g)| (b.id, *g)).collect();
        (o, moves)
    }

    /// Grid `c` + `suffix` of the snapshot (version 1) re-drawn as `geom`, its name kept.
    fn redrawn(c: &str, suffix: &str, geom: MultiPolygon<f64>) -> GridChange {
        GridChange::Update {
            code: format!("{c}{suffix}"),
            version: 1,
            name: None,
            geom: Some(geom),
        }
    }

    /// The creation of second-level grid `c` + `suffix` in first-level grid 02 of
    /// community `c`.
    fn second_in_02(c: &str, suffix: &str, name: &str, geom: MultiPolygon<f64>) -> GridChange {
        GridChange::Create(NewGrid {
            code: format!("{c}{suffix}"),
            name: name.into(),
            level: GridLevel::Second,
            parent_code: format!("{c}02"),
            geom,
        })
    }

    fn building(id: i64, x: f64, y: f64, grid_id: i64) -> Building {
        Building {
            id,
            code: format!("B{id}"),
            name: None,
            address: None,
            compound_id: None,
            compound: None,
            households: 1,
            residents: 1,
            employees: 0,
            party_members: 1,
            geom: rect(x - 0.0001, y - 0.0001, x + 0.0001, y + 0.0001),
            anchor: Point::new(x, y),
            grid_id,
        }
    }

    /// One community split into two first-level grids (west, east), each split into two
    /// second-level grids (south, north); a building in the middle of each.
    fn snapshot() -> Snapshot {
        let c = "510802102001";
        // Id, code after the community's, parent (second level) and box of each grid.
        let table = [
            (1, "01", None, [0.0, 0.0, 1.0, 1.0]),
            (2, "02", None, [1.0, 0.0, 2.0, 1.0]),
            (3, "0101", Some(1), [0.0, 0.0, 1.0, 0.5]),
            (4, "0102", Some(1), [0.0, 0.5, 1.0, 1.0]),
            (5, "0201", Some(2), [1.0, 0.0, 2.0, 0.5]),
            (6, "0202", Some(2), [1.0, 0.5, 2.0, 1.0]),
        ];
        let grids = table
            .into_iter()
            .map(|(id, suffix, parent, [x0, y0, x1, y1])| {
                let level = match parent {
                    None => GridLevel::First,
                    Some(_) => GridLevel::Second,
                };
                grid(
                    id,
                    &format!("{c}{suffix}"),
                    level,
                    parent,
                    rect(x0, y0, x1, y1),
                )
            })
            .collect();
        let buildings = vec![
            building(10, 0.5, 0.25, 3),
            building(11, 0.5, 0.75, 4),
            building(12, 1.5, 0.25, 5),
            building(13, 1.5, 0.75, 6),
            // On the boundary between 3 and 4: the lower id wins.
            building(14, 0.3, 0.5, 3),
        ];
        Snapshot {
            communities: Arc::new(CommunityLayer::new(vec![Community {
                id: 1,
                code: c.into(),
                name: "陵江社区".into(),
                region_id: 1,
                geom: rect(0.0, 0.0, 2.0, 1.0),
            }])),
            grids: Arc::new(GridLayer::new(grids)),
            buildings: Arc::new(BuildingLayer::new(buildings)),
            ..Snapshot::default()
        }
    }

    #[test]
    fn members_get_the_cell_of_their_building() {
        let snap = snapshot();
        let cells = assign_members(&snap, &[(1, 10), (2, 13), (3, 14), (4, 99)]);
        assert_eq!(
            cells,
            [
                Some(Cell {
                    group: 3,
                    branch: Some(1)
                }),
                Some(Cell {
                    group: 6,
                    branch: Some(2)
                }),
                Some(Cell {
                    group: 3,
                    branch: Some(1)
                }),
                None
            ]
        );
    }

    #[test]
    fn a_redrawn_boundary_moves_buildings_and_keeps_the_partition() {
        let snap = snapshot();
        let c = "510802102001";
        // Move the boundary between 0101 and 0102 north to 0.8: building 11 (at 0.75)
        // moves from 4 to 3.
        let batch = vec![
            redrawn(c, "0101", rect(0.0, 0.0, 1.0, 0.8)),
            redrawn(c, "0102", rect(0.0, 0.8, 1.0, 1.0)),
        ];
        assert_eq!(clean_moves(&snap, &batch).1, [(11, 3)]);
        // Only one side moved: an overlap, and the partition check says so.
        let o = Overlay::new(&snap, &batch[..1]).expect("valid batch");
        let faults = o.partition_faults(1.0).expect("no deadline");
        assert!(faults.iter().any(|f| f.2.kind == "overlap"), "{faults:?}");
    }

    #[test]
    fn creations_deletions_and_refusals() {
        let snap = snapshot();
        let c = "510802102001";
        // Delete 0202 and give its area to a new grid 0203: building 13 moves to the new id.
        let batch = vec![
            GridChange::Delete {
                code: format!("{c}0202"),
                version: 1,
            },
            second_in_02(c, "0203", "新网格", rect(1.0, 0.5, 2.0, 1.0)),
        ];
        let (o, moves) = clean_moves(&snap, &batch);
        assert_eq!(moves, [(13, NEW_ID_BASE)]);
        assert_eq!(o.created().count(), 1);
        assert_eq!(o.deleted().map(|g| g.id).collect::<Vec<_>>(), [6]);
        // Deleting alone leaves building 13 outside every grid.
        let o = Overlay::new(&snap, &batch[..1]).expect("valid");
        assert_eq!(o.building_moves().expect("no deadline").orphans.len(), 1);
        assert!(o
            .partition_faults(1.0)
            .expect("no deadline")
            .iter()
            .any(|f| f.2.kind == "gap"));
        // Refusals mirror the store's.
        let refusal = |batch: &[GridChange]| Overlay::new(&snap, batch).err();
        let delete = |suffix: &str, version| GridChange::Delete {
            code: format!("{c}{suffix}"),
            version,
        };
        let stale = refusal(&[delete("0202", 7)]);
        assert!(matches!(stale, Some(Refusal::Stale { current: 1, .. })));
        let missing = refusal(&[delete("0299", 1)]);
        assert!(matches!(missing, Some(Refusal::NotFound(_))));
        let parent_alone = refusal(&[delete("02", 1)]);
        assert!(matches!(parent_alone, Some(Refusal::Conflict(_))));
        let twice = refusal(&[batch[0].clone(), batch[0].clone()]);
        assert!(matches!(twice, Some(Refusal::Items(_))));
        let taken = refusal(&[second_in_02(c, "0201", "x", rect(1.0, 0.0, 2.0, 0.5))]);
        assert!(matches!(taken, Some(Refusal::Conflict(_))));
        let bad_code = refusal(&[second_in_02(c, "0300", "x", rect(1.0, 0.0, 2.0, 0.5))]);
        assert!(matches!(bad_code, Some(Refusal::Items(_))));
    }
}
