//! The ten-minute service circle over the live registry: the walking network of the
//! current snapshot with every building and station snapped to it, kept in step with the
//! registry by a background keeper. Queries (coverage, what-if scenarios, isochrones,
//! siting) run on a fresh `Accessibility` engine over the model's snaps, so they share
//! nothing mutable and need no lock.
//!
//! Snapping: each building and station attaches to the nearest street edge of **any**
//! connected piece of the network, if one lies within the maximum access distance (a
//! setting, default 300 m). A city has many pieces (every town its own network; islands,
//! gated compounds, a river with its bridge outside the extract): a building whose nearest
//! station of a kind is on another piece is simply not reached, as a resident on an island
//! would not be, and a building with no street within reach is *off the network* and
//! reported as such per grid (it counts as not covered).
//!
//! Building: never on a request's thread. The keeper ([`CoverageService::spawn_keeper`])
//! builds the first model in the background at start and rebuilds after a network import;
//! an edit of buildings or stations updates the model incrementally (only what changed is
//! snapped again). Requests wait a bounded time for a model that matches their snapshot,
//! then get [`CoverageError::WarmingUp`].

use crate::domain::StationKind;
use crate::spatial::index::{BuildingLayer, CommunityLayer, GridLayer, Snapshot, StationLayer};
use crate::spatial::network::{Network, Snap};
use crate::spatial::walk::{
    self, Accessibility, BuildingRows, CoverageReport, Dijkstra, KindSelection, TargetIndex,
    WalkSetting,
};
use geo::Coord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Default largest straight access leg from a building or station to its street, in metres.
pub const DEFAULT_MAX_ACCESS_M: f64 = 300.0;

/// A station as the engine sees it.
#[derive(Debug, Clone)]
pub struct SnappedStation {
    /// Station id (0 for a what-if station that does not exist yet).
    pub id: i64,
    /// Station code.
    pub code: String,
    /// Kind.
    pub kind: StationKind,
    /// Location.
    pub point: Coord<f64>,
    /// Where it joins the network.
    pub snap: Snap,
}

/// Position of "no grid" in [`CoverageModel::row_grid`].
pub const NO_GRID: u32 = u32::MAX;

/// The engine's inputs at one snapshot.
pub struct CoverageModel {
    /// The snapshot sequence number the model was built from.
    pub seq: i64,
    /// The snapshot the model was built from: answers name grids, communities and
    /// buildings from it, so that the rows below and the names always agree.
    pub snap: Arc<Snapshot>,
    /// The grid of each building row, as its position in `snap.grids.items` ([`NO_GRID`]
    /// when unknown): per-grid figures are sums over a dense table, not map lookups.
    pub row_grid: Vec<u32>,
    /// The grid position of each building in `off_network`.
    pub off_grid: Vec<u32>,
    /// The walking network.
    pub net: Arc<Network>,
    /// Buildings on the network in row order, with their snaps.
    pub buildings: Vec<walk::Building>,
    /// Row of each building id on the network.
    pub rows: HashMap<i64, usize>,
    /// Where each row's building was snapped from (to tell what moved).
    anchors: Vec<Coord<f64>>,
    /// Buildings with no street within the maximum access distance.
    pub off_network: Vec<i64>,
    /// Stations with their snaps.
    pub stations: Vec<SnappedStation>,
    /// Stations with no street within the maximum access distance (codes).
    pub stations_off_network: Vec<String>,
    /// The buildings' target index (built once per model, shared by every question).
    targets: Arc<TargetIndex>,
    /// The buildings' per-row arrays, shared by every engine and report of the model.
    shared: BuildingRows,
    /// Rows by cell of their anchors, for what-if scenarios (made by the warm-up).
    cells: OnceLock<Cells>,
    /// Answers derived from this model alone that a caller keeps for its next question
    /// (e.g. the "before" side of a what-if for one view and setting): at most
    /// [`MAX_MEMOS`], the oldest forgotten first; they go with the model.
    memos: Mutex<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// The largest access leg allowed, in metres.
    pub max_access_m: f64,
    /// How long the (re)build took.
    pub build_time: Duration,
    /// Of which snapping the buildings to the network.
    pub snap_time: Duration,
    /// Whether this model was derived from the previous one (incremental) or built anew.
    pub incremental: bool,
    parts: Parts,
    /// Distance columns of the model's own stations by (kind, cutoff bits).
    columns: Mutex<HashMap<(String, u64), Arc<Column>>>,
}

impl std::fmt::Debug for CoverageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CoverageModel(seq {}, {} buildings, {} off the network, {} stations)",
            self.seq,
            self.buildings.len(),
            self.off_network.len(),
            self.stations.len()
        )
    }
}

/// The layers a model was built from; held (not only their addresses) so that a freed
/// layer's address cannot come back as a different layer and be taken for the same one.
#[derive(Clone)]
struct Parts {
    network: Option<Arc<Network>>,
    buildings: Arc<BuildingLayer>,
    stations: Arc<StationLayer>,
    grids: Arc<GridLayer>,
    communities: Arc<CommunityLayer>,
}

impl Parts {
    fn of(s: &Snapshot) -> Self {
        Self {
            network: s.network.clone(),
            buildings: Arc::clone(&s.buildings),
            stations: Arc::clone(&s.stations),
            grids: Arc::clone(&s.grids),
            communities: Arc::clone(&s.communities),
        }
    }

    fn same(&self, s: &Snapshot) -> bool {
        let net = match (&self.network, &s.network) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        net && Arc::ptr_eq(&self.buildings, &s.buildings)
            && Arc::ptr_eq(&self.stations, &s.stations)
            && Arc::ptr_eq(&self.grids, &s.grids)
            && Arc::ptr_eq(&self.communities, &s.communities)
    }
}

/// Snaps `p` to the nearest edge of any component, if within `max_access_m`.
fn snap_within(net: &Network, p: Coord<f64>, max_access_m: f64) -> Option<Snap> {
    net.snap(p).filter(|s| s.access_m <= max_access_m)
}

impl CoverageModel {
    /// Snaps every building and station of a snapshot to its network; `None` without one.
    pub fn build(snap: &Arc<Snapshot>, max_access_m: f64) -> Option<Self> {
        Self::update(snap, max_access_m, None)
    }

    /// The model for `snap`, reusing the snaps of `prev` for every building and station
    /// that did not move when the network is the same one (an edit snaps only what
    /// changed); a full build otherwise.
    pub fn update(snap: &Arc<Snapshot>, max_access_m: f64, prev: Option<&Self>) -> Option<Self> {
        let started = Instant::now();
        let net = Arc::clone(snap.network.as_ref()?);
        let prev = prev.filter(|p| Arc::ptr_eq(&p.net, &net) && p.max_access_m == max_access_m);
        let n = snap.buildings.items.len();
        let mut buildings = Vec::with_capacity(n);
        let mut rows = HashMap::with_capacity(n);
        let mut anchors = Vec::with_capacity(n);
        let mut off_network = vec![];
        let mut row_grid = Vec::with_capacity(n);
        let mut off_grid = vec![];
        let reuse = |id: i64, at: Coord<f64>| -> Option<Option<Snap>> {
            let p = prev?;
            if let Some(&row) = p.rows.get(&id) {
                return (p.anchors[row] == at).then_some(Some(p.buildings[row].snap));
            }
            None
        };
        // Snapping is the build's main cost (a nearest-edge search per building): spread
        // over the cores (threads inherit the builder's lower priority).
        let items = &snap.buildings.items;
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8);
        let part = items.len().div_ceil(threads).max(1);
        let snapped: Vec<Option<Snap>> = std::thread::scope(|sc| {
            let (net, reuse) = (&net, &reuse);
            let handles: Vec<_> = items
                .chunks(part)
                .map(|chunk| {
                    sc.spawn(move || {
                        chunk
                            .iter()
                            .map(|b| {
                                reuse(b.id, b.anchor.0)
                                    .unwrap_or_else(|| snap_within(net, b.anchor.0, max_access_m))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        let snap_time = started.elapsed();
        for (b, s) in items.iter().zip(snapped) {
            let at = b.anchor.0;
            let grid = snap.grids.position(b.grid_id).unwrap_or(NO_GRID);
            match s {
                Some(s) => {
                    rows.insert(b.id, buildings.len());
                    row_grid.push(grid);
                    anchors.push(at);
                    buildings.push(walk::Building {
                        id: b.id,
                        residents: b.residents.max(0) as u32,
                        households: b.households.max(0) as u32,
                        snap: s,
                    });
                }
                None => {
                    off_network.push(b.id);
                    off_grid.push(grid);
                }
            }
        }
        let old_stations: HashMap<i64, &SnappedStation> = prev
            .map(|p| p.stations.iter().map(|s| (s.id, s)).collect())
            .unwrap_or_default();
        let mut stations = Vec::with_capacity(snap.stations.items.len());
        let mut stations_off_network = vec![];
        for s in &snap.stations.items {
            let kept = old_stations
                .get(&s.id)
                .filter(|o| o.point == s.point.0)
                .map(|o| o.snap);
            match kept.or_else(|| snap_within(&net, s.point.0, max_access_m)) {
                Some(sn) => stations.push(SnappedStation {
                    id: s.id,
                    code: s.code.clone(),
                    kind: s.kind,
                    point: s.point.0,
                    snap: sn,
                }),
                None => stations_off_network.push(s.code.clone()),
            }
        }
        let shared = BuildingRows::new(&buildings);
        let targets = Arc::new(TargetIndex::new(&net, &shared.snaps));
        Some(Self {
            shared,
            cells: OnceLock::new(),
            memos: Mutex::new(Vec::new()),
            seq: snap.seq,
            snap: Arc::clone(snap),
            targets,
            row_grid,
            off_grid,
            parts: Parts::of(snap),
            net,
            buildings,
            rows,
            anchors,
            off_network,
            stations,
            stations_off_network,
            max_access_m,
            build_time: started.elapsed(),
            snap_time,
            incremental: prev.is_some(),
            columns: Mutex::new(HashMap::new()),
        })
    }

    /// A fresh engine over the buildings, sharing the model's per-row arrays and target
    /// index (nothing per building is copied).
    pub fn engine(&self) -> Accessibility<'_> {
        Accessibility::with_rows(&self.net, self.shared.clone(), Arc::clone(&self.targets))
    }

    /// The buildings' per-row arrays (ids, residents, households, snaps), shared.
    pub fn rows_shared(&self) -> &BuildingRows {
        &self.shared
    }

    /// Snaps a point to the network as stations are snapped: the nearest edge of any
    /// component within the maximum access distance.
    pub fn snap(&self, p: Coord<f64>) -> Option<Snap> {
        snap_within(&self.net, p, self.max_access_m)
    }

    /// Coverage of the given stations for the kinds of a selection. A kind whose stations
    /// are the model's own (every kind of a plain coverage question; the kinds a what-if
    /// scenario leaves alone) is read from the model's column cache, computed at most once
    /// per model and cutoff; only the other kinds are searched.
    pub fn coverage(
        &self,
        stations: &[SnappedStation],
        sel: &KindSelection,
        cutoff_m: f64,
    ) -> CoverageReport {
        self.coverage_and_changes(stations, sel, cutoff_m).0
    }

    /// A what-if scenario: the coverage of the model's own stations and that of
    /// `stations` for a selection, with the rows whose distance to a kind of the selection
    /// may differ between the two (see [`Scenario::changed_rows`]), so that a caller can
    /// regroup only those rows.
    pub fn scenario(
        &self,
        stations: &[SnappedStation],
        sel: &KindSelection,
        cutoff_m: f64,
    ) -> Scenario {
        let before = self.coverage(&self.stations, sel, cutoff_m);
        let (after, changed_rows) = self.coverage_and_changes(stations, sel, cutoff_m);
        Scenario {
            before,
            after,
            changed_rows,
        }
    }

    /// [`Self::coverage`], and the rows whose distances may differ from those of the
    /// model's own stations: ascending, or `None` when a changed kind was searched over
    /// the whole network.
    fn coverage_and_changes(
        &self,
        stations: &[SnappedStation],
        sel: &KindSelection,
        cutoff_m: f64,
    ) -> (CoverageReport, Option<Vec<u32>>) {
        let kinds: Vec<String> = match sel {
            KindSelection::AnyOf(k) | KindSelection::AllOf(k) => k.clone(),
        };
        let key = |k: &str| (k.to_string(), cutoff_m.to_bits());
        let own: Vec<bool> = kinds
            .iter()
            .map(|k| same_stations(&self.stations, stations, k))
            .collect();
        let mut got: Vec<Option<Arc<Column>>> = kinds
            .iter()
            .zip(&own)
            .map(|(k, &own)| {
                own.then(|| self.columns.lock().ok()?.get(&key(k)).cloned())
                    .flatten()
            })
            .collect();
        let mut changed_rows = Some(Vec::new());
        // A kind a scenario changes at a few places: only the buildings near them are
        // searched again, from the stations near them (see `local_column`).
        for (i, k) in kinds.iter().enumerate() {
            if got[i].is_some() || own[i] {
                continue;
            }
            let changed = changed_points(&self.stations, stations, k);
            if changed.is_empty() || changed.len() > MAX_LOCAL_CHANGES {
                continue;
            }
            let cached = self
                .columns
                .lock()
                .ok()
                .and_then(|c| c.get(&key(k)).cloned());
            let before = match cached {
                Some(c) => c,
                None => {
                    let r = self.coverage(&self.stations, &KindSelection::one(k), cutoff_m);
                    Arc::new(Column {
                        dist: r
                            .kind_column(0)
                            .cloned()
                            .unwrap_or_else(|| Arc::new(vec![f64::INFINITY; self.buildings.len()])),
                        totals: r.per_kind[0],
                    })
                }
            };
            let (col, rows) = self.local_column(stations, k, &changed, &before, cutoff_m);
            if let Some(c) = changed_rows.as_mut() {
                c.extend(rows);
            }
            got[i] = Some(Arc::new(col));
        }
        let missing: Vec<String> = kinds
            .iter()
            .zip(&got)
            .filter(|(_, c)| c.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let sources: Vec<walk::Station> = stations
                .iter()
                .map(|s| walk::Station {
                    id: s.id,
                    kind: s.kind.as_str().to_string(),
                    snap: s.snap,
                })
                .collect();
            let fresh = self
                .engine()
                .coverage_for_kinds(&sources, &missing, cutoff_m);
            for (j, k) in missing.iter().enumerate() {
                let col = Arc::new(Column {
                    dist: fresh
                        .kind_column(j)
                        .cloned()
                        .unwrap_or_else(|| Arc::new(vec![f64::INFINITY; self.buildings.len()])),
                    totals: fresh.per_kind[j],
                });
                for (i, kk) in kinds.iter().enumerate() {
                    if kk == k && got[i].is_none() {
                        got[i] = Some(Arc::clone(&col));
                        if own[i] {
                            self.remember(key(k), Arc::clone(&col));
                        } else {
                            // A changed kind searched anew: any row may differ.
                            changed_rows = None;
                        }
                    }
                }
            }
        }
        if let Some(c) = changed_rows.as_mut() {
            c.sort_unstable();
            c.dedup();
        }
        let cols: Vec<Arc<Column>> = got.into_iter().flatten().collect();
        let report = CoverageReport::from_columns(
            cutoff_m,
            kinds,
            &self.shared,
            cols.iter().map(|c| Arc::clone(&c.dist)).collect(),
            cols.iter().map(|c| c.totals).collect(),
        );
        (report, changed_rows)
    }

    /// The rows by cell of their anchors (made on first use: the warm-up makes it).
    fn cells(&self) -> &Cells {
        self.cells.get_or_init(|| Cells::new(&self.anchors))
    }

    /// The column of kind `kind` for `stations`, which differ from the model's own only at
    /// the points `changed` (old and new places of stations added, moved or removed), from
    /// the column of the model's own stations (`before`); and the rows it searched again
    /// (ascending), the only ones whose distance may differ from `before`.
    ///
    /// Exact, because a walk is never shorter than the straight line between its ends
    /// (access legs included): a building farther than the cutoff (plus a margin) from
    /// every changed point keeps its distance, as no changed station was or becomes
    /// reachable from it; a building nearer than that may reach, within the cutoff, only
    /// stations within twice that distance of a changed point, and one search from those
    /// stations gives its new distance.
    ///
    /// Cost: the buildings near the changed points come from the model's cell index
    /// ([`Cells`]), the search's distances are read only for the reached part of the
    /// network, and the totals are those of `before` shifted by the rows that change; the
    /// only pass over every building is the copy of the column.
    fn local_column(
        &self,
        stations: &[SnappedStation],
        kind: &str,
        changed: &[Coord<f64>],
        before: &Column,
        cutoff_m: f64,
    ) -> (Column, Vec<u32>) {
        let reach = cutoff_m * 1.01 + 10.0;
        // A box in degrees around each changed place first (cheap), the distance only
        // inside it.
        let boxes = |r: f64| -> Vec<(Coord<f64>, f64, f64)> {
            changed
                .iter()
                .map(|c| {
                    let dlat = r / METRES_PER_DEGREE;
                    let cos = (c.y.abs() + dlat).min(89.0).to_radians().cos();
                    (*c, dlat, dlat / cos)
                })
                .collect()
        };
        let (near1, near2) = (boxes(reach), boxes(2.0 * reach));
        let near = |p: Coord<f64>, r: f64| {
            let b = if r > reach { &near2 } else { &near1 };
            b.iter().any(|(c, dlat, dlon)| {
                (p.y - c.y).abs() <= *dlat
                    && (p.x - c.x).abs() <= *dlon
                    && metres_between(*c, p) <= r
            })
        };
        let sources: Vec<Snap> = stations
            .iter()
            .filter(|s| s.kind.as_str() == kind && near(s.point, 2.0 * reach))
            .map(|s| s.snap)
            .collect();
        let cells = self.cells();
        let mut rows: Vec<u32> = Vec::new();
        for (c, dlat, dlon) in &near1 {
            cells.each_in_box(c.x - dlon, c.y - dlat, c.x + dlon, c.y + dlat, |row| {
                if near(self.anchors[row as usize], reach) {
                    rows.push(row);
                }
            });
        }
        rows.sort_unstable();
        rows.dedup();
        let n = self.buildings.len();
        let mut dist: Vec<f64> = before.dist.as_ref().clone();
        dist.resize(n, f64::INFINITY);
        // The rows searched again start unreached; a bit each says which they are.
        let mut again = vec![0u64; n.div_ceil(64)];
        for &r in &rows {
            dist[r as usize] = f64::INFINITY;
            again[r as usize / 64] |= 1 << (r % 64);
        }
        let mut dij = Dijkstra::new(&self.net);
        dij.run_from_snaps(&self.net, &sources, cutoff_m);
        self.targets
            .for_each_within(&self.net, &dij, &sources, |t, d| {
                if again[t as usize / 64] & (1 << (t % 64)) != 0 {
                    let o = &mut dist[t as usize];
                    *o = o.min(d);
                }
            });
        let mut totals = before.totals;
        for &r in &rows {
            let r = r as usize;
            let was = before.dist.get(r).is_some_and(|d| d.is_finite());
            let is = dist[r].is_finite();
            if was != is {
                let b = &self.buildings[r];
                totals.shift(b.residents, b.households, is);
            }
        }
        (
            Column {
                dist: Arc::new(dist),
                totals,
            },
            rows,
        )
    }

    /// Keeps a column of the model's own stations, forgetting all of them first when the
    /// cache is full (so it holds at most [`MAX_CACHED_COLUMNS`] columns).
    fn remember(&self, key: (String, u64), col: Arc<Column>) {
        if let Ok(mut c) = self.columns.lock() {
            if c.len() >= MAX_CACHED_COLUMNS {
                c.clear();
            }
            c.insert(key, col);
        }
    }

    /// Computes and keeps the columns of the everyday questions (every kind, at GB 50180's
    /// five-, ten- and fifteen-minute presets), so that the first planner of the day gets
    /// an answer from the cache.
    pub fn warm(&self) {
        self.cells();
        let kinds: Vec<String> = StationKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        for minutes in [10.0, 15.0, 5.0] {
            let cutoff = walk_setting(Some(minutes), None).cutoff_m();
            self.coverage(&self.stations, &KindSelection::AnyOf(kinds.clone()), cutoff);
        }
    }

    /// The newest memo of type `T` for which `matches` holds (see the field `memos`).
    pub fn memo<T: std::any::Any + Send + Sync>(
        &self,
        matches: impl Fn(&T) -> bool,
    ) -> Option<Arc<T>> {
        let memos = self.memos.lock().ok()?;
        memos.iter().rev().find_map(|m| {
            let t = Arc::clone(m).downcast::<T>().ok()?;
            matches(&t).then_some(t)
        })
    }

    /// Keeps a memo, forgetting the oldest past [`MAX_MEMOS`].
    pub fn keep_memo<T: std::any::Any + Send + Sync>(&self, memo: Arc<T>) {
        if let Ok(mut memos) = self.memos.lock() {
            if memos.len() >= MAX_MEMOS {
                memos.remove(0);
            }
            memos.push(memo);
        }
    }

    /// How many distance columns the model keeps.
    pub fn cached_columns(&self) -> usize {
        self.columns.lock().map_or(0, |c| c.len())
    }
}

/// Most distance columns a model keeps: 64 columns of 8 bytes per building (155 MB at a
/// city's 303,000 buildings); the three presets of the fifteen kinds take 45.
pub const MAX_CACHED_COLUMNS: usize = 64;

/// Most memos a model keeps (a what-if's "before" side for a city takes about 1 MB).
pub const MAX_MEMOS: usize = 8;

/// Every building's distance to the nearest station of one kind, within one cutoff
/// (shared with the reports that read it).
struct Column {
    dist: Arc<Vec<f64>>,
    totals: walk::CoverageTotals,
}

/// The coverage before and after a what-if scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Coverage of the model's own stations.
    pub before: CoverageReport,
    /// Coverage of the scenario's stations.
    pub after: CoverageReport,
    /// The only rows (ascending) whose distance to a kind of the selection may differ
    /// between `before` and `after`; `None` when any row may (a changed kind was searched
    /// over the whole network: more than [`MAX_LOCAL_CHANGES`] changed places).
    pub changed_rows: Option<Vec<u32>>,
}

/// Building rows by square cell of their anchors' longitude and latitude: the rows near a
/// place without a pass over a city's buildings.
struct Cells {
    /// Keys `(x, y)` of the non-empty cells, sorted.
    keys: Vec<(i32, i32)>,
    /// `rows[off[i]..off[i + 1]]` are the rows of cell `keys[i]`.
    off: Vec<u32>,
    rows: Vec<u32>,
}

/// Side of a cell in degrees (about 550 m of latitude): a ten-minute reach spans 3 × 3.
const CELL_DEG: f64 = 0.005;

impl Cells {
    fn key(x: f64, y: f64) -> (i32, i32) {
        // Saturating casts: any coordinate (even a bad one) lands in some cell.
        ((x / CELL_DEG).floor() as i32, (y / CELL_DEG).floor() as i32)
    }

    fn new(anchors: &[Coord<f64>]) -> Self {
        let mut keyed: Vec<((i32, i32), u32)> = anchors
            .iter()
            .enumerate()
            .map(|(row, a)| (Self::key(a.x, a.y), row as u32))
            .collect();
        keyed.sort_unstable();
        let mut keys = Vec::new();
        let mut off = Vec::new();
        for (i, (k, _)) in keyed.iter().enumerate() {
            if keys.last() != Some(k) {
                keys.push(*k);
                off.push(i as u32);
            }
        }
        off.push(keyed.len() as u32);
        Self {
            keys,
            off,
            rows: keyed.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// Calls `f` with every row whose anchor may lie in the box (a superset: the cells
    /// the box touches).
    fn each_in_box(&self, x0: f64, y0: f64, x1: f64, y1: f64, mut f: impl FnMut(u32)) {
        let ((cx0, cy0), (cx1, cy1)) = (Self::key(x0, y0), Self::key(x1, y1));
        for cx in cx0..=cx1 {
            for cy in cy0..=cy1 {
                if let Ok(i) = self.keys.binary_search(&(cx, cy)) {
                    for &r in &self.rows[self.off[i] as usize..self.off[i + 1] as usize] {
                        f(r);
                    }
                }
            }
        }
    }
}

/// Most changed places of one kind answered by a local search; more are searched anew.
const MAX_LOCAL_CHANGES: usize = 32;

/// Metres per degree of latitude (and of longitude at the equator) on the mean sphere.
const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Straight-line metres between two longitude/latitude points (equirectangular, within
/// 0.1% at a city's size: the margins above allow for it).
fn metres_between(a: Coord<f64>, b: Coord<f64>) -> f64 {
    const R: f64 = 6_371_008.8;
    let lat = ((a.y + b.y) / 2.0).to_radians();
    let dx = (b.x - a.x).to_radians() * lat.cos() * R;
    let dy = (b.y - a.y).to_radians() * R;
    dx.hypot(dy)
}

/// The places where the stations of `kind` differ between two lists: where a station was
/// that is gone or moved, and where one is that is new or moved.
fn changed_points(a: &[SnappedStation], b: &[SnappedStation], kind: &str) -> Vec<Coord<f64>> {
    type Key<'s> = (i64, &'s str, u64, u64);
    fn keys<'s>(s: &'s [SnappedStation], kind: &str) -> std::collections::HashSet<Key<'s>> {
        s.iter()
            .filter(|x| x.kind.as_str() == kind)
            .map(|x| {
                (
                    x.id,
                    x.code.as_str(),
                    x.point.x.to_bits(),
                    x.point.y.to_bits(),
                )
            })
            .collect()
    }
    let (ka, kb) = (keys(a, kind), keys(b, kind));
    let point = |k: &Key| Coord {
        x: f64::from_bits(k.2),
        y: f64::from_bits(k.3),
    };
    ka.symmetric_difference(&kb).map(point).collect()
}

/// Whether two station lists hold the same stations of `kind` at the same places (in
/// order: both come from the same model, a scenario only edits its copy).
fn same_stations(a: &[SnappedStation], b: &[SnappedStation], kind: &str) -> bool {
    let of = |s: &[SnappedStation]| {
        s.iter()
            .filter(|x| x.kind.as_str() == kind)
            .map(|x| (x.id, x.point.x.to_bits(), x.point.y.to_bits()))
            .collect::<Vec<_>>()
    };
    of(a) == of(b)
}

/// Why a request got no model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoverageError {
    /// No walking network is stored.
    #[error("no walking network is loaded: import streets (GeoJSON) or an OSM extract first")]
    NoNetwork,
    /// The model for the current data is still being built.
    #[error("the walking-network model is being built (started {building_for_s:.0} s ago); retry shortly")]
    WarmingUp {
        /// Seconds since the build started.
        building_for_s: f64,
        /// Seconds to suggest in `Retry-After`.
        retry_after_s: u64,
    },
}

/// What the keeper is doing, for `/api/health` and tests.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KeeperState {
    /// Snapshot sequence of the current model (none yet: `null`).
    pub model_seq: Option<i64>,
    /// Milliseconds the last (re)build took.
    pub last_build_ms: Option<f64>,
    /// Whether the last build was incremental.
    pub last_incremental: bool,
    /// Builds done since start.
    pub builds: u64,
    /// Set while a build runs: seconds since it started.
    #[serde(skip)]
    pub building_since: Option<Instant>,
}

/// Keeps one model in step with the registry.
pub struct CoverageService {
    /// The latest model (`None` before the first build, or without a network).
    current: watch::Sender<Option<Arc<CoverageModel>>>,
    /// Set when the snapshot has no network (so requests need not wait).
    no_network_seq: Mutex<Option<i64>>,
    wake: Notify,
    state: Mutex<KeeperState>,
    max_access_m: f64,
    /// How long a request waits for the model of its snapshot.
    wait: Duration,
}

impl std::fmt::Debug for CoverageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoverageService")
    }
}

impl Default for CoverageService {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ACCESS_M, Duration::from_secs(5))
    }
}

impl CoverageService {
    /// A service snapping within `max_access_m`, whose requests wait at most `wait` for a
    /// model to be built.
    pub fn new(max_access_m: f64, wait: Duration) -> Self {
        Self {
            current: watch::Sender::new(None),
            no_network_seq: Mutex::new(None),
            wake: Notify::new(),
            state: Mutex::new(KeeperState::default()),
            max_access_m,
            wait,
        }
    }

    /// The largest access leg in metres.
    pub fn max_access_m(&self) -> f64 {
        self.max_access_m
    }

    /// The keeper's state.
    pub fn state(&self) -> KeeperState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The current model if it serves `snap` (same network, buildings and stations, or
    /// built from a later snapshot).
    pub fn ready(&self, snap: &Snapshot) -> Option<Arc<CoverageModel>> {
        self.current
            .borrow()
            .as_ref()
            .filter(|m| m.parts.same(snap) || m.seq > snap.seq)
            .cloned()
    }

    /// The model for a snapshot: at once when ready, else after the keeper has brought it
    /// up to date (waiting at most the service's wait).
    pub async fn model(&self, snap: &Snapshot) -> Result<Arc<CoverageModel>, CoverageError> {
        if snap.network.is_none() {
            return Err(CoverageError::NoNetwork);
        }
        if let Some(m) = self.ready(snap) {
            return Ok(m);
        }
        self.wake.notify_one();
        let seq = snap.seq;
        let mut rx = self.current.subscribe();
        let waited = tokio::time::timeout(
            self.wait,
            rx.wait_for(|m| {
                m.as_ref()
                    .is_some_and(|m| m.parts.same(snap) || m.seq > seq)
            }),
        )
        .await;
        match waited {
            Ok(Ok(m)) => m.as_ref().cloned().ok_or(CoverageError::NoNetwork),
            _ => {
                let since = self.state().building_since;
                Err(CoverageError::WarmingUp {
                    building_for_s: since.map_or(0.0, |t| t.elapsed().as_secs_f64()),
                    retry_after_s: 5,
                })
            }
        }
    }

    /// Brings the model up to date with `snap` once (on a background thread); returns
    /// whether a model was built.
    pub async fn bring_up_to_date(&self, snap: Arc<Snapshot>) -> bool {
        if snap.network.is_none() {
            if let Ok(mut s) = self.no_network_seq.lock() {
                *s = Some(snap.seq);
            }
            if self.current.borrow().is_some() {
                self.current.send_replace(None);
            }
            return false;
        }
        if self.ready(&snap).is_some() {
            return false;
        }
        let prev = self.current.borrow().clone();
        let max = self.max_access_m;
        let started = Instant::now();
        if let Ok(mut s) = self.state.lock() {
            s.building_since = Some(started);
        }
        let built = crate::work::background("coverage-model", move || {
            CoverageModel::update(&snap, max, prev.as_deref())
        })
        .await;
        let model = match built {
            Ok(Ok(Some(m))) => Arc::new(m),
            Ok(Ok(None)) => return false,
            Ok(Err(panic)) => {
                tracing::error!("building the coverage model failed: {panic}");
                return false;
            }
            Err(_) => return false,
        };
        tracing::info!(
            "coverage model for change {}: {} buildings ({} off the network), {} stations, {} in {:.0} ms (snapping buildings {:.0} ms)",
            model.seq,
            model.buildings.len(),
            model.off_network.len(),
            model.stations.len(),
            if model.incremental { "updated" } else { "built" },
            model.build_time.as_secs_f64() * 1e3,
            model.snap_time.as_secs_f64() * 1e3
        );
        if let Ok(mut s) = self.state.lock() {
            s.model_seq = Some(model.seq);
            s.last_build_ms = Some(model.build_time.as_secs_f64() * 1e3);
            s.last_incremental = model.incremental;
            s.builds += 1;
            s.building_since = None;
        }
        // The everyday questions' distances are computed at once, in the background, so
        // that the first planner of the day is answered from the cache.
        let warm = Arc::clone(&model);
        self.current.send_replace(Some(model));
        drop(crate::work::background("coverage-warm", move || {
            let t = Instant::now();
            warm.warm();
            tracing::info!(
                seq = warm.seq,
                columns = warm.cached_columns(),
                secs = t.elapsed().as_secs_f64(),
                "coverage columns warmed"
            );
        }));
        true
    }

    /// Keeps the model in step with `registry`: builds at once, then after every change
    /// (woken by requests that found the model behind, and every `poll` otherwise).
    pub fn spawn_keeper(
        self: &Arc<Self>,
        registry: Arc<crate::cache::Registry>,
        poll: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                me.bring_up_to_date(registry.snapshot()).await;
                tokio::select! {
                    () = me.wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        })
    }
}

/// The walking setting for minutes and an optional speed: GB 50180's presets for 5, 10 and
/// 15 minutes without a speed (300, 500, 1,000 m), else minutes × speed (default 50 m/min).
pub fn walk_setting(minutes: Option<f64>, speed: Option<f64>) -> WalkSetting {
    let minutes = minutes.unwrap_or(10.0);
    match speed {
        Some(s) => WalkSetting {
            minutes,
            speed_m_per_min: s,
        },
        None => {
            let preset = [5.0, 10.0, 15.0]
                .iter()
                .zip([300.0, 500.0, 1000.0])
                .find(|(m, _)| (**m - minutes).abs() < 1e-9)
                .map(|(_, d)| d / minutes);
            WalkSetting {
                minutes,
                speed_m_per_min: preset.unwrap_or(WalkSetting::DEFAULT.speed_m_per_min),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_gb_50180() {
        assert_eq!(walk_setting(Some(5.0), None).cutoff_m(), 300.0);
        assert_eq!(walk_setting(Some(10.0), None).cutoff_m(), 500.0);
        assert_eq!(walk_setting(None, None).cutoff_m(), 500.0);
        assert_eq!(walk_setting(Some(15.0), None).cutoff_m(), 1000.0);
        assert_eq!(walk_setting(Some(12.0), None).cutoff_m(), 600.0);
        assert_eq!(walk_setting(Some(10.0), Some(80.0)).cutoff_m(), 800.0);
    }
}
