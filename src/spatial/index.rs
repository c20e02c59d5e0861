//! The in-process R-tree index of the registry as it is now: communities, grids, buildings
//! and stations, with per-grid figures. A `Snapshot` is immutable; a change builds a new one
//! (sharing the layers it did not touch) and the owner swaps it in atomically.
//!
//! Must agree with PostGIS: a point is in a grid when the grid covers it (boundary
//! included, as `ST_Covers`), and a point on a shared boundary goes to the lowest grid id,
//! as the store's SQL does.

use crate::domain::access::Place;
use crate::domain::access::StaffDetail;
use crate::domain::registry::{
    Building, Community, Figures, Grid, StaffAssignment, StaffShown, Station,
};
use crate::domain::{GridLevel, StationKind};
use crate::spatial::search::TextIndex;
use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::collections::HashMap;
use std::sync::Arc;

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;
type PointEntry = GeomWithData<[f64; 2], u32>;

fn box_of(mp: &MultiPolygon<f64>) -> Option<Rectangle<[f64; 2]>> {
    mp.bounding_rect()
        .map(|r| Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]))
}

/// The R-tree of the bounding boxes of those of `items` that `keep`, by row number.
fn box_tree<T>(
    items: &[T],
    geom: impl Fn(&T) -> &MultiPolygon<f64>,
    keep: impl Fn(&T) -> bool,
) -> RTree<BoxEntry> {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .filter(|(_, x)| keep(x))
            .filter_map(|(i, x)| box_of(geom(x)).map(|b| GeomWithData::new(b, i as u32)))
            .collect(),
    )
}

/// The row numbers of `items` by their ids and by their codes.
#[allow(clippy::type_complexity)]
fn rows_by<T>(
    items: &[T],
    id: impl Fn(&T) -> i64,
    code: impl Fn(&T) -> &str,
) -> (HashMap<i64, u32>, HashMap<String, u32>) {
    let by_id = items
        .iter()
        .enumerate()
        .map(|(i, x)| (id(x), i as u32))
        .collect();
    let by_code = items
        .iter()
        .enumerate()
        .map(|(i, x)| (code(x).to_string(), i as u32))
        .collect();
    (by_id, by_code)
}

/// An axis-aligned lon/lat box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// West.
    pub min_x: f64,
    /// South.
    pub min_y: f64,
    /// East.
    pub max_x: f64,
    /// North.
    pub max_y: f64,
}

impl BBox {
    fn aabb(&self) -> AABB<[f64; 2]> {
        AABB::from_corners([self.min_x, self.min_y], [self.max_x, self.max_y])
    }
}

/// Communities and their R-tree.
#[derive(Debug, Default)]
pub struct CommunityLayer {
    /// The communities, by position.
    pub items: Vec<Community>,
    tree: RTree<BoxEntry>,
    by_id: HashMap<i64, u32>,
    by_code: HashMap<String, u32>,
    /// Codes and names for the search box.
    pub text: TextIndex,
    /// Each community's interior point (by position), where the party layers draw its
    /// counts: computed once with the layer rather than for each of a city's 600
    /// communities on every findings or report request.
    interior: Vec<Option<Point<f64>>>,
}

impl CommunityLayer {
    /// Builds the layer.
    pub fn new(items: Vec<Community>) -> Self {
        let tree = box_tree(&items, |c| &c.geom, |_| true);
        let (by_id, by_code) = rows_by(&items, |c| c.id, |c| &c.code);
        let text = TextIndex::new(
            items
                .iter()
                .map(|c| (c.code.as_str(), [Some(c.name.as_str())])),
        );
        let interior = items
            .iter()
            .map(|c| geo::InteriorPoint::interior_point(&c.geom))
            .collect();
        Self {
            items,
            tree,
            by_id,
            by_code,
            text,
            interior,
        }
    }

    /// The interior point of the community with this id (`geo`'s `interior_point` of its
    /// boundary), if it has one.
    pub fn interior_point(&self, id: i64) -> Option<Point<f64>> {
        self.by_id
            .get(&id)
            .and_then(|&i| self.interior.get(i as usize).copied().flatten())
    }

    /// The community with this id.
    pub fn get(&self, id: i64) -> Option<&Community> {
        self.by_id.get(&id).map(|&i| &self.items[i as usize])
    }

    /// The community with this code.
    pub fn by_code(&self, code: &str) -> Option<&Community> {
        self.by_code.get(code).map(|&i| &self.items[i as usize])
    }

    /// The community covering a point (lowest id on a shared boundary).
    pub fn locate(&self, p: Coord<f64>) -> Option<&Community> {
        self.tree
            .locate_all_at_point(&[p.x, p.y])
            .map(|e| &self.items[e.data as usize])
            .filter(|c| c.geom.intersects(&p))
            .min_by_key(|c| c.id)
    }
}

/// Grids of both levels and their R-trees.
#[derive(Debug, Default)]
pub struct GridLayer {
    /// The grids, by position.
    pub items: Vec<Grid>,
    level1: RTree<BoxEntry>,
    level2: RTree<BoxEntry>,
    by_id: HashMap<i64, u32>,
    by_code: HashMap<String, u32>,
    children: HashMap<i64, Vec<u32>>,
    /// Codes and names for the search box.
    pub text: TextIndex,
}

impl GridLayer {
    /// Builds the layer.
    pub fn new(items: Vec<Grid>) -> Self {
        let level1 = box_tree(&items, |g| &g.geom, |g| g.level == GridLevel::First);
        let level2 = box_tree(&items, |g| &g.geom, |g| g.level == GridLevel::Second);
        let (by_id, by_code) = rows_by(&items, |g| g.id, |g| &g.code);
        let mut children: HashMap<i64, Vec<u32>> = HashMap::new();
        for (i, g) in items.iter().enumerate() {
            if let Some(p) = g.parent_id {
                children.entry(p).or_default().push(i as u32);
            }
        }
        let text = TextIndex::new(
            items
                .iter()
                .map(|g| (g.code.as_str(), [Some(g.name.as_str())])),
        );
        Self {
            items,
            level1,
            level2,
            by_id,
            by_code,
            children,
            text,
        }
    }

    /// The grid with this id.
    pub fn get(&self, id: i64) -> Option<&Grid> {
        self.by_id.get(&id).map(|&i| &self.items[i as usize])
    }

    /// Where the grid with this id sits in `items` (a dense index for per-grid tables).
    pub fn position(&self, id: i64) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// The grid with this code.
    pub fn by_code(&self, code: &str) -> Option<&Grid> {
        self.by_code.get(code).map(|&i| &self.items[i as usize])
    }

    /// The second-level grids of a first-level grid.
    pub fn children(&self, id: i64) -> impl Iterator<Item = &Grid> {
        self.children
            .get(&id)
            .into_iter()
            .flatten()
            .map(|&i| &self.items[i as usize])
    }

    /// The grid of a level covering a point (lowest id on a shared boundary).
    pub fn locate(&self, level: GridLevel, p: Coord<f64>) -> Option<&Grid> {
        let tree = match level {
            GridLevel::First => &self.level1,
            GridLevel::Second => &self.level2,
        };
        let mut best: Option<&Grid> = None;
        for e in tree.locate_all_at_point(&[p.x, p.y]) {
            let g = &self.items[e.data as usize];
            if best.is_none_or(|b| g.id < b.id) && g.geom.intersects(&p) {
                best = Some(g);
            }
        }
        best
    }

    /// Grids of a level whose bounding box meets `bbox`.
    pub fn in_bbox(&self, level: GridLevel, bbox: &BBox) -> impl Iterator<Item = &Grid> {
        let tree = match level {
            GridLevel::First => &self.level1,
            GridLevel::Second => &self.level2,
        };
        tree.locate_in_envelope_intersecting(&bbox.aabb())
            .map(|e| &self.items[e.data as usize])
    }
}

/// Buildings, an R-tree of their footprints' boxes, and of their anchors.
#[derive(Debug, Default)]
pub struct BuildingLayer {
    /// The buildings, by position.
    pub items: Vec<Building>,
    boxes: RTree<BoxEntry>,
    by_id: HashMap<i64, u32>,
    by_code: HashMap<String, u32>,
    /// Codes, names and addresses for the search box.
    pub text: TextIndex,
}

impl BuildingLayer {
    /// Builds the layer.
    pub fn new(items: Vec<Building>) -> Self {
        let boxes = box_tree(&items, |b| &b.geom, |_| true);
        let (by_id, by_code) = rows_by(&items, |b| b.id, |b| &b.code);
        let text = TextIndex::new(
            items
                .iter()
                .map(|b| (b.code.as_str(), [b.name.as_deref(), b.address.as_deref()])),
        );
        Self {
            items,
            boxes,
            by_id,
            by_code,
            text,
        }
    }

    /// A copy with the grid of some buildings changed.
    pub fn with_grids(&self, moves: &HashMap<i64, i64>) -> Self {
        let items = self
            .items
            .iter()
            .map(|b| match moves.get(&b.id) {
                Some(&g) => Building {
                    grid_id: g,
                    ..b.clone()
                },
                None => b.clone(),
            })
            .collect();
        Self::new(items)
    }

    /// The building with this id.
    pub fn get(&self, id: i64) -> Option<&Building> {
        self.by_id.get(&id).map(|&i| &self.items[i as usize])
    }

    /// The building with this code.
    pub fn by_code(&self, code: &str) -> Option<&Building> {
        self.by_code.get(code).map(|&i| &self.items[i as usize])
    }

    /// Buildings whose footprint box meets `bbox`.
    pub fn in_bbox(&self, bbox: &BBox) -> impl Iterator<Item = &Building> {
        self.boxes
            .locate_in_envelope_intersecting(&bbox.aabb())
            .map(|e| &self.items[e.data as usize])
    }
}

/// Stations and an R-tree of their points.
#[derive(Debug, Default)]
pub struct StationLayer {
    /// The stations, by position.
    pub items: Vec<Station>,
    tree: RTree<PointEntry>,
}

impl StationLayer {
    /// Builds the layer.
    pub fn new(items: Vec<Station>) -> Self {
        let tree = RTree::bulk_load(
            items
                .iter()
                .enumerate()
                .map(|(i, s)| GeomWithData::new([s.point.x(), s.point.y()], i as u32))
                .collect(),
        );
        Self { items, tree }
    }

    /// Stations of a kind (or all kinds) inside `bbox` (or everywhere).
    pub fn query<'a>(
        &'a self,
        kind: Option<StationKind>,
        bbox: Option<&BBox>,
    ) -> Box<dyn Iterator<Item = &'a Station> + 'a> {
        let it: Box<dyn Iterator<Item = &Station>> = match bbox {
            Some(b) => Box::new(
                self.tree
                    .locate_in_envelope(&b.aabb())
                    .map(|e| &self.items[e.data as usize]),
            ),
            None => Box::new(self.items.iter()),
        };
        Box::new(it.filter(move |s| kind.is_none_or(|k| s.kind == k)))
    }
}

/// Who looks after each grid.
#[derive(Debug, Default)]
pub struct StaffLayer {
    by_grid: HashMap<i64, Vec<StaffAssignment>>,
}

impl StaffLayer {
    /// Builds the layer.
    pub fn new(items: Vec<StaffAssignment>) -> Self {
        let mut by_grid: HashMap<i64, Vec<StaffAssignment>> = HashMap::new();
        for a in items {
            by_grid.entry(a.grid_id).or_default().push(a);
        }
        Self { by_grid }
    }

    /// Chief and members of a grid, chief first.
    pub fn of_grid(&self, grid_id: i64) -> &[StaffAssignment] {
        self.by_grid.get(&grid_id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The grid chief.
    pub fn chief(&self, grid_id: i64) -> Option<&StaffAssignment> {
        self.of_grid(grid_id).iter().find(|a| a.role == "chief")
    }

    /// Chief and members of a grid as a caller with this [`StaffDetail`] of the grid sees
    /// them (nobody when the grid is hidden).
    pub fn shown(&self, grid_id: i64, detail: StaffDetail) -> Vec<StaffShown<'_>> {
        self.of_grid(grid_id)
            .iter()
            .filter_map(|a| a.shown(detail))
            .collect()
    }
}

/// The figures of every grid and community, derived from buildings and grids.
#[derive(Debug, Default)]
pub struct FigureLayer {
    by_grid: HashMap<i64, Figures>,
    by_community: HashMap<i64, Figures>,
}

impl FigureLayer {
    /// Sums buildings into their second-level grids, those into first-level grids and
    /// communities.
    pub fn new(grids: &GridLayer, buildings: &BuildingLayer) -> Self {
        let mut by_grid: HashMap<i64, Figures> = HashMap::new();
        for b in &buildings.items {
            by_grid.entry(b.grid_id).or_default().add_building(b);
        }
        let mut by_community: HashMap<i64, Figures> = HashMap::new();
        let mut level1: HashMap<i64, Figures> = HashMap::new();
        for g in grids.items.iter().filter(|g| g.level == GridLevel::Second) {
            let f = by_grid.get(&g.id).copied().unwrap_or_default();
            if let Some(p) = g.parent_id {
                level1.entry(p).or_default().add(&f);
            }
            by_community.entry(g.community_id).or_default().add(&f);
        }
        for (id, f) in level1 {
            by_grid.insert(id, f);
        }
        Self {
            by_grid,
            by_community,
        }
    }

    /// Figures of a grid.
    pub fn grid(&self, id: i64) -> Figures {
        self.by_grid.get(&id).copied().unwrap_or_default()
    }

    /// Figures of a community.
    pub fn community(&self, id: i64) -> Figures {
        self.by_community.get(&id).copied().unwrap_or_default()
    }
}

/// One consistent picture of the registry.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The change-log sequence number this snapshot reflects.
    pub seq: i64,
    /// Communities.
    pub communities: Arc<CommunityLayer>,
    /// Grids.
    pub grids: Arc<GridLayer>,
    /// Buildings.
    pub buildings: Arc<BuildingLayer>,
    /// Stations.
    pub stations: Arc<StationLayer>,
    /// Staff.
    pub staff: Arc<StaffLayer>,
    /// Derived figures.
    pub figures: Arc<FigureLayer>,
    /// The walking network, when one is stored.
    pub network: Option<Arc<crate::spatial::network::Network>>,
    /// Whether the network came from OpenStreetMap (so maps must credit it).
    pub network_osm: bool,
}

/// Where a point is: community, first-level and second-level grid.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// The community.
    pub community: Option<&'a Community>,
    /// The first-level grid.
    pub grid1: Option<&'a Grid>,
    /// The second-level grid.
    pub grid2: Option<&'a Grid>,
}

impl Snapshot {
    /// Finds the community and grids covering a point. The second-level grid decides;
    /// its parent and community follow from the hierarchy.
    pub fn locate(&self, p: Point<f64>) -> Location<'_> {
        let c = p.0;
        if let Some(g2) = self.grids.locate(GridLevel::Second, c) {
            return Location {
                community: self.communities.get(g2.community_id),
                grid1: g2.parent_id.and_then(|id| self.grids.get(id)),
                grid2: Some(g2),
            };
        }
        if let Some(g1) = self.grids.locate(GridLevel::First, c) {
            return Location {
                community: self.communities.get(g1.community_id),
                grid1: Some(g1),
                grid2: None,
            };
        }
        Location {
            community: self.communities.locate(c),
            grid1: None,
            grid2: None,
        }
    }

    /// The id of the second-level grid covering a point, the hot path of every spatial
    /// assignment.
    pub fn locate_grid2(&self, p: Coord<f64>) -> Option<i64> {
        self.grids.locate(GridLevel::Second, p).map(|g| g.id)
    }
}

impl Snapshot {
    /// Where a community sits, for access decisions.
    pub fn place_of_community(&self, c: &Community) -> Place {
        Place {
            region_id: c.region_id,
            community_id: c.id,
            grid_id: None,
            parent_grid_id: None,
        }
    }

    /// Where a grid (of any point in time) sits, for access decisions.
    pub fn place_of_grid(&self, g: &Grid) -> Option<Place> {
        let c = self.communities.get(g.community_id)?;
        Some(Place {
            region_id: c.region_id,
            community_id: c.id,
            grid_id: Some(g.id),
            parent_grid_id: g.parent_id,
        })
    }

    /// Where a building sits: its second-level grid's place.
    pub fn place_of_building(&self, b: &Building) -> Option<Place> {
        self.grids
            .get(b.grid_id)
            .and_then(|g| self.place_of_grid(g))
    }

    /// Where a station sits: its community, or the community covering its point.
    pub fn place_of_station(&self, s: &Station) -> Option<Place> {
        let c = match s.community_id.and_then(|id| self.communities.get(id)) {
            Some(c) => c,
            None => self.communities.locate(s.point.0)?,
        };
        Some(self.place_of_community(c))
    }
}
