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
use crate::domain::hierarchy::{check_grid_code, check_name};
use crate::domain::registry::{Building, Grid};
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
        .map(|n| n.get())
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

/// A grid change as proposed: the shape of one item of `POST /api/grids/batch`.
#[derive(Debug, Clone)]
pub enum Proposed {
    /// Create a grid.
    Create {
        /// Code.
        code: String,
        /// Name.
        name: String,
        /// Level.
        level: GridLevel,
        /// Community code (level 1) or first-level grid code (level 2).
        parent_code: String,
        /// Boundary.
        geom: MultiPolygon<f64>,
    },
    /// Re-draw and/or rename a grid.
    Update {
        /// Code.
        code: String,
        /// The version the change is based on.
        version: i32,
        /// New name.
        name: Option<String>,
        /// New boundary.
        geom: Option<MultiPolygon<f64>>,
    },
    /// Delete a grid.
    Delete {
        /// Code.
        code: String,
        /// The version the change is based on.
        version: i32,
    },
}

impl Proposed {
    fn code(&self) -> &str {
        match self {
            Self::Create { code, .. } | Self::Update { code, .. } | Self::Delete { code, .. } => {
                code
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
    pub fn new(snap: &'a Snapshot, batch: &[Proposed]) -> Result<Self, Refusal> {
        let mut seen = HashSet::new();
        for (i, c) in batch.iter().enumerate() {
            if !seen.insert(c.code()) {
                return Err(Refusal::Items(vec![(
                    i,
                    format!("grid {} appears more than once in the batch", c.code()),
                )]));
            }
        }
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
        let at_item = |i: usize, e: FieldError| Refusal::Items(vec![(i, e.to_string())]);
        for (i, change) in batch.iter().enumerate() {
            match change {
                Proposed::Create {
                    code,
                    name,
                    level,
                    parent_code,
                    geom,
                } => {
                    check_name(name, "properties.name").map_err(|e| at_item(i, e))?;
                    let (community_id, parent_id) = match level {
                        GridLevel::First => {
                            let c = snap.communities.by_code(parent_code).ok_or_else(|| {
                                at_item(
                                    i,
                                    FieldError::new(
                                        "properties.parent_code",
                                        format!("no community has code {parent_code}"),
                                    ),
                                )
                            })?;
                            (c.id, None)
                        }
                        GridLevel::Second => {
                            let p = live
                                .get(parent_code.as_str())
                                .and_then(|id| o.grid(*id))
                                .filter(|p| p.level == GridLevel::First)
                                .ok_or_else(|| {
                                    at_item(
                                        i,
                                        FieldError::new(
                                            "properties.parent_code",
                                            format!("no first-level grid has code {parent_code}"),
                                        ),
                                    )
                                })?;
                            (p.community_id, Some(p.id))
                        }
                    };
                    check_grid_code(code, *level, parent_code).map_err(|e| at_item(i, e))?;
                    if live.contains_key(code.as_str()) {
                        return Err(Refusal::Conflict(format!(
                            "grid code {code} is already in use"
                        )));
                    }
                    let id = NEW_ID_BASE + created;
                    created += 1;
                    live.insert(code.clone(), id);
                    o.parents.insert(match parent_id {
                        Some(p) => Ok(p),
                        None => Err(community_id),
                    });
                    o.boxes.extend(geom.bounding_rect());
                    o.push(Grid {
                        id,
                        code: code.clone(),
                        name: name.trim().to_string(),
                        level: *level,
                        parent_id,
                        community_id,
                        version: 1,
                        valid_from: Utc::now(),
                        valid_to: None,
                        geom: geom.clone(),
                    });
                }
                Proposed::Update {
                    code,
                    version,
                    name,
                    geom,
                } => {
                    let cur = live
                        .get(code.as_str())
                        .and_then(|id| o.grid(*id))
                        .cloned()
                        .ok_or_else(|| Refusal::NotFound(code.clone()))?;
                    if cur.version != *version {
                        return Err(Refusal::Stale {
                            code: code.clone(),
                            current: cur.version,
                            given: *version,
                        });
                    }
                    if let Some(n) = name {
                        check_name(n, "properties.name").map_err(|e| at_item(i, e))?;
                    }
                    if let Some(g) = geom {
                        o.parents.insert(parent_key(&cur));
                        if cur.level == GridLevel::First {
                            o.parents.insert(Ok(cur.id));
                        }
                        o.boxes.extend(cur.geom.bounding_rect());
                        o.boxes.extend(g.bounding_rect());
                        o.changed.push(cur.id);
                    }
                    let next = Grid {
                        name: name.clone().unwrap_or(cur.name.clone()),
                        version: cur.version + 1,
                        geom: geom.clone().unwrap_or(cur.geom.clone()),
                        ..cur
                    };
                    o.replace(next);
                }
                Proposed::Delete { code, version } => {
                    let cur = live
                        .get(code.as_str())
                        .and_then(|id| o.grid(*id))
                        .cloned()
                        .ok_or_else(|| Refusal::NotFound(code.clone()))?;
                    if cur.version != *version {
                        return Err(Refusal::Stale {
                            code: code.clone(),
                            current: cur.version,
                            given: *version,
                        });
                    }
                    live.remove(code.as_str());
                    o.parents.insert(parent_key(&cur));
                    o.boxes.extend(cur.geom.bounding_rect());
                    o.changed.push(cur.id);
                    o.remove(cur.id);
                }
            }
        }
        // No grid may outlive its parent.
        let mut orphans: Vec<&str> = o
            .grids()
            .filter(|g| g.parent_id.is_some_and(|p| o.deleted.contains(&p)))
            .map(|g| g.code.as_str())
            .collect();
        orphans.sort_unstable();
        orphans.truncate(20);
        if !orphans.is_empty() {
            return Err(Refusal::Conflict(format!(
                "deleting a first-level grid needs its second-level grids deleted in the same batch: {} would be left without a parent",
                orphans.join(", ")
            )));
        }
        Ok(o)
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
        let grids = vec![
            grid(
                1,
                &format!("{c}01"),
                GridLevel::First,
                None,
                rect(0.0, 0.0, 1.0, 1.0),
            ),
            grid(
                2,
                &format!("{c}02"),
                GridLevel::First,
                None,
                rect(1.0, 0.0, 2.0, 1.0),
            ),
            grid(
                3,
                &format!("{c}0101"),
                GridLevel::Second,
                Some(1),
                rect(0.0, 0.0, 1.0, 0.5),
            ),
            grid(
                4,
                &format!("{c}0102"),
                GridLevel::Second,
                Some(1),
                rect(0.0, 0.5, 1.0, 1.0),
            ),
            grid(
                5,
                &format!("{c}0201"),
                GridLevel::Second,
                Some(2),
                rect(1.0, 0.0, 2.0, 0.5),
            ),
            grid(
                6,
                &format!("{c}0202"),
                GridLevel::Second,
                Some(2),
                rect(1.0, 0.5, 2.0, 1.0),
            ),
        ];
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
            Proposed::Update {
                code: format!("{c}0101"),
                version: 1,
                name: None,
                geom: Some(rect(0.0, 0.0, 1.0, 0.8)),
            },
            Proposed::Update {
                code: format!("{c}0102"),
                version: 1,
                name: None,
                geom: Some(rect(0.0, 0.8, 1.0, 1.0)),
            },
        ];
        let o = Overlay::new(&snap, &batch).expect("valid batch");
        assert!(o.partition_faults(1.0).expect("no deadline").is_empty());
        let m = o.building_moves().expect("no deadline");
        assert_eq!(
            m.moves.iter().map(|(b, g)| (b.id, *g)).collect::<Vec<_>>(),
            [(11, 3)]
        );
        assert!(m.orphans.is_empty());
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
            Proposed::Delete {
                code: format!("{c}0202"),
                version: 1,
            },
            Proposed::Create {
                code: format!("{c}0203"),
                name: "新网格".into(),
                level: GridLevel::Second,
                parent_code: format!("{c}02"),
                geom: rect(1.0, 0.5, 2.0, 1.0),
            },
        ];
        let o = Overlay::new(&snap, &batch).expect("valid");
        assert!(o.partition_faults(1.0).expect("no deadline").is_empty());
        let m = o.building_moves().expect("no deadline");
        assert_eq!(
            m.moves.iter().map(|(b, g)| (b.id, *g)).collect::<Vec<_>>(),
            [(13, NEW_ID_BASE)]
        );
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
        let stale = [Proposed::Delete {
            code: format!("{c}0202"),
            version: 7,
        }];
        assert!(matches!(
            Overlay::new(&snap, &stale),
            Err(Refusal::Stale { current: 1, .. })
        ));
        let missing = [Proposed::Delete {
            code: format!("{c}0299"),
            version: 1,
        }];
        assert!(matches!(
            Overlay::new(&snap, &missing),
            Err(Refusal::NotFound(_))
        ));
        let parent_alone = [Proposed::Delete {
            code: format!("{c}02"),
            version: 1,
        }];
        assert!(matches!(
            Overlay::new(&snap, &parent_alone),
            Err(Refusal::Conflict(_))
        ));
        let twice = [batch[0].clone(), batch[0].clone()];
        assert!(matches!(
            Overlay::new(&snap, &twice),
            Err(Refusal::Items(_))
        ));
        let taken = [Proposed::Create {
            code: format!("{c}0201"),
            name: "x".into(),
            level: GridLevel::Second,
            parent_code: format!("{c}02"),
            geom: rect(1.0, 0.0, 2.0, 0.5),
        }];
        assert!(matches!(
            Overlay::new(&snap, &taken),
            Err(Refusal::Conflict(_))
        ));
        let bad_code = [Proposed::Create {
            code: format!("{c}0300"),
            name: "x".into(),
            level: GridLevel::Second,
            parent_code: format!("{c}02"),
            geom: rect(1.0, 0.0, 2.0, 0.5),
        }];
        assert!(matches!(
            Overlay::new(&snap, &bad_code),
            Err(Refusal::Items(_))
        ));
    }
}
