//! Walking accessibility on a [`Network`]: multi-source Dijkstra with a cutoff, distances
//! from snapped sources to snapped targets (buildings), and coverage per station kind.
//!
//! Owns the distance rules: a source or target reaches the network by its straight access
//! leg to its snapped point, then walks along edges; a target on the same edge as a source
//! may also walk directly along that edge. Owns no geometry construction (see
//! [`crate::spatial::isochrone`]) and no storage. Grid aggregation is the caller's: a
//! [`CoverageReport`] gives per-building answers and totals over any subset.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::spatial::network::{prefetch, EdgeIx, Network, NodeIx, Snap};

/// Walking distances (metres) for GB 50180-2018's life circles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeCircle {
    /// Five-minute circle: 300 m.
    FiveMinute,
    /// Ten-minute circle: 500 m.
    TenMinute,
    /// Fifteen-minute circle: 1,000 m (the standard's upper bound of 800-1,000 m).
    FifteenMinute,
}

impl LifeCircle {
    /// Walking minutes of the circle.
    pub fn minutes(self) -> f64 {
        match self {
            Self::FiveMinute => 5.0,
            Self::TenMinute => 10.0,
            Self::FifteenMinute => 15.0,
        }
    }
    /// Walking distance of the circle in metres.
    pub fn distance_m(self) -> f64 {
        match self {
            Self::FiveMinute => 300.0,
            Self::TenMinute => 500.0,
            Self::FifteenMinute => 1000.0,
        }
    }
}

/// Walking time setting: minutes at a walking speed; gives the cutoff in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalkSetting {
    /// Minutes on foot.
    pub minutes: f64,
    /// Walking speed in metres per minute (published practice: about 50-80).
    pub speed_m_per_min: f64,
}

impl WalkSetting {
    /// The default: ten minutes at GB 50180's 500 m (50 m/min).
    pub const DEFAULT: WalkSetting = WalkSetting {
        minutes: 10.0,
        speed_m_per_min: 50.0,
    };

    /// A GB 50180 preset: 5/10/15 minutes ↔ 300/500/1,000 m.
    pub fn preset(circle: LifeCircle) -> Self {
        Self {
            minutes: circle.minutes(),
            speed_m_per_min: circle.distance_m() / circle.minutes(),
        }
    }
    /// Cutoff in metres (minutes × speed, rounded to the micrometre so that presets give
    /// exactly 300/500/1,000 m).
    pub fn cutoff_m(&self) -> f64 {
        (self.minutes * self.speed_m_per_min * 1e6).round() / 1e6
    }
    /// Minutes needed to walk `metres` at this speed.
    pub fn minutes_for(&self, metres: f64) -> f64 {
        metres / self.speed_m_per_min
    }
}

/// Most buckets a [`BucketQueue`] uses; wider buckets beyond that (still exact).
const MAX_BUCKETS: usize = 1 << 14;

/// Bucket queue for Dijkstra with a cutoff (Dial / Δ-stepping, sequential): labels go to
/// bucket `floor(d / width)`; buckets are processed in order. With `width` no larger than
/// the shortest edge every node is final when its bucket is reached; shorter ("light")
/// edges only make a node be processed again within the same bucket, so the result stays
/// exact for any width. Buffers keep their capacity across runs.
#[derive(Debug, Clone)]
pub(crate) struct BucketQueue {
    inv_width: f64,
    buckets: Vec<Vec<(NodeIx, f64)>>,
    used: usize,
    len: usize,
}

impl BucketQueue {
    pub(crate) fn new() -> Self {
        Self {
            inv_width: 1.0,
            buckets: Vec::new(),
            used: 0,
            len: 0,
        }
    }

    /// Empties the queue and sizes it for labels up to `limit` (finite) on `net`.
    pub(crate) fn reset(&mut self, net: &Network, limit: f64) {
        for b in &mut self.buckets[..self.used] {
            b.clear();
        }
        self.len = 0;
        let limit = if limit.is_finite() && limit > 0.0 {
            limit
        } else {
            1.0
        };
        let width = net
            .bucket_width_hint()
            .max(limit / (MAX_BUCKETS - 1) as f64);
        self.inv_width = 1.0 / width;
        let n = ((limit * self.inv_width) as usize + 1).min(MAX_BUCKETS);
        if self.buckets.len() < n {
            self.buckets.resize_with(n, Vec::new);
        }
        self.used = n;
    }

    #[inline]
    pub(crate) fn push(&mut self, d: f64, v: NodeIx) {
        let b = ((d * self.inv_width) as usize).min(self.used - 1);
        self.buckets[b].push((v, d));
        self.len += 1;
    }
}

/// A search start: a node with an initial distance and the source it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seed {
    /// Start node.
    pub node: NodeIx,
    /// Initial distance in metres.
    pub dist: f64,
    /// Index of the source this start belongs to (tracked by what-if scenarios).
    pub owner: u32,
}

/// The two starts of a snapped source: its edge's ends, each at access leg + along-edge offset.
pub fn snap_seeds(net: &Network, s: &Snap, owner: u32) -> [Seed; 2] {
    let [a, b] = net.edge_ends(s.edge);
    let len = net.edge_len(s.edge);
    [
        Seed {
            node: a,
            dist: s.access_m + s.offset_m,
            owner,
        },
        Seed {
            node: b,
            dist: s.access_m + (len - s.offset_m).max(0.0),
            owner,
        },
    ]
}

/// How many queue entries ahead the search prefetches.
const PREFETCH_AHEAD: usize = 8;
/// Networks with fewer nodes than this are searched without prefetching (their arrays stay
/// in the caches: a district's few thousand junctions take well under a megabyte).
const PREFETCH_MIN_NODES: usize = 50_000;

/// Runs Dijkstra from whatever is in `queue` over `dist` (and `owner` when `OWNER`),
/// relaxing only to labels `<= cutoff`; calls `changed(v, old)` each time a label improves.
#[inline]
pub(crate) fn search<const OWNER: bool>(
    net: &Network,
    dist: &mut [f64],
    owner: &mut [u32],
    queue: &mut BucketQueue,
    cutoff: f64,
    mut changed: impl FnMut(NodeIx, f64),
) {
    // A network that fits in the caches gains nothing from prefetching, only its cost.
    let fetch_ahead = net.node_count() >= PREFETCH_MIN_NODES;
    let mut i = 0;
    while queue.len > 0 && i < queue.used {
        // A request's time is up or it went away: stop; the caller throws the answer away.
        if crate::work::checkpoint_every(i, 64).is_err() {
            return;
        }
        // Index loop: relaxing light edges may append to this very bucket.
        let mut k = 0;
        while k < queue.buckets[i].len() {
            let bucket = &queue.buckets[i];
            if fetch_ahead {
                // Two-stage prefetch: a large search is bound by cache misses on the adjacency.
                if let Some(&(w, _)) = bucket.get(k + 2 * PREFETCH_AHEAD) {
                    net.prefetch_offset(w);
                    prefetch(dist.as_ptr().wrapping_add(w as usize));
                }
                if let Some(&(w, _)) = bucket.get(k + PREFETCH_AHEAD) {
                    net.prefetch_arcs(w);
                }
                if let Some(&(w, _)) = bucket.get(k + PREFETCH_AHEAD / 2) {
                    for a in net.arcs(w) {
                        prefetch(dist.as_ptr().wrapping_add(a.to as usize));
                    }
                }
            }
            let (u, du) = bucket[k];
            k += 1;
            queue.len -= 1;
            if du > dist[u as usize] {
                continue; // stale: improved since it was queued
            }
            let ou = if OWNER { owner[u as usize] } else { 0 };
            for a in net.arcs(u) {
                let nd = du + a.len;
                let v = a.to as usize;
                if nd <= cutoff && nd < dist[v] {
                    changed(a.to, dist[v]);
                    dist[v] = nd;
                    if OWNER {
                        owner[v] = ou;
                    }
                    queue.push(nd, a.to);
                }
            }
        }
        queue.buckets[i].clear();
        i += 1;
    }
}

/// Bucket range used for an unbounded search beyond the network's total length (labels
/// above the last bucket still come out exact, just with more re-processing).
const MAX_SEED_M: f64 = 10_000.0;

/// Multi-source Dijkstra with a cutoff and reusable buffers: after the first run on a
/// network, further runs allocate nothing and reset only what the last run touched.
#[derive(Debug, Clone)]
pub struct Dijkstra {
    dist: Vec<f64>,
    queue: BucketQueue,
    reached: Vec<NodeIx>,
    cutoff: f64,
}

impl Dijkstra {
    /// Buffers sized for `net`.
    pub fn new(net: &Network) -> Self {
        Self {
            dist: vec![f64::INFINITY; net.node_count()],
            queue: BucketQueue::new(),
            reached: Vec::new(),
            cutoff: 0.0,
        }
    }

    /// No buffers at all: a placeholder that sizes itself on its first run.
    fn empty() -> Self {
        Self {
            dist: Vec::new(),
            queue: BucketQueue::new(),
            reached: Vec::new(),
            cutoff: 0.0,
        }
    }

    fn reset(&mut self, net: &Network) {
        if self.dist.len() != net.node_count() {
            *self = Self::new(net);
            return;
        }
        for &v in &self.reached {
            self.dist[v as usize] = f64::INFINITY;
        }
        self.reached.clear();
    }

    /// Runs from explicit seeds; nodes farther than `cutoff_m` stay unreached.
    pub fn run(&mut self, net: &Network, seeds: impl IntoIterator<Item = Seed>, cutoff_m: f64) {
        self.reset(net);
        self.cutoff = cutoff_m;
        self.queue
            .reset(net, cutoff_m.min(net.total_length_m() + MAX_SEED_M));
        for s in seeds {
            let v = s.node as usize;
            if v < self.dist.len() && s.dist >= 0.0 && s.dist <= cutoff_m && s.dist < self.dist[v] {
                if self.dist[v].is_infinite() {
                    self.reached.push(s.node);
                }
                self.dist[v] = s.dist;
                self.queue.push(s.dist, s.node);
            }
        }
        let reached = &mut self.reached;
        search::<false>(
            net,
            &mut self.dist,
            &mut [],
            &mut self.queue,
            cutoff_m,
            |v, old| {
                if old.is_infinite() {
                    reached.push(v);
                }
            },
        );
    }

    /// Runs from snapped sources (each contributes its access leg).
    pub fn run_from_snaps(&mut self, net: &Network, sources: &[Snap], cutoff_m: f64) {
        let seeds = sources
            .iter()
            .enumerate()
            .flat_map(|(i, s)| snap_seeds(net, s, i as u32));
        self.run(net, seeds, cutoff_m);
    }

    /// Runs from sources sitting exactly at nodes (zero access leg).
    pub fn run_from_nodes(&mut self, net: &Network, nodes: &[NodeIx], cutoff_m: f64) {
        let seeds = nodes.iter().enumerate().map(|(i, &n)| Seed {
            node: n,
            dist: 0.0,
            owner: i as u32,
        });
        self.run(net, seeds, cutoff_m);
    }

    /// Distance of a node from the nearest source, if within the cutoff.
    pub fn distance(&self, n: NodeIx) -> Option<f64> {
        self.dist.get(n as usize).copied().filter(|d| d.is_finite())
    }
    /// Node distances by index (`f64::INFINITY` where unreached).
    pub fn distances(&self) -> &[f64] {
        &self.dist
    }
    /// Nodes reached within the cutoff in the last run (in discovery order).
    pub fn reached(&self) -> &[NodeIx] {
        &self.reached
    }
    /// Cutoff of the last run.
    pub fn cutoff_m(&self) -> f64 {
        self.cutoff
    }
}

/// A target stored on its edge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnEdge {
    pub target: u32,
    pub offset: f64,
    pub access: f64,
}

/// Snapped targets (e.g. buildings) grouped by edge, to turn node distances into target
/// distances touching only the reached part of the network.
#[derive(Debug, Clone)]
pub struct TargetIndex {
    count: usize,
    edge_off: Vec<u32>,
    items: Vec<OnEdge>,
    /// Per node: (target, metres from this node to the target including its access leg),
    /// one entry per end of the target's edge.
    node_off: Vec<u32>,
    node_items: Vec<(u32, f64)>,
}

impl TargetIndex {
    /// Indexes targets by their snap edge; target `i` is `snaps[i]`.
    pub fn new(net: &Network, snaps: &[Snap]) -> Self {
        let m = net.edge_count();
        let mut edge_off = vec![0u32; m + 1];
        for s in snaps {
            edge_off[s.edge as usize + 1] += 1;
        }
        for e in 0..m {
            edge_off[e + 1] += edge_off[e];
        }
        let mut fill = edge_off.clone();
        let mut items = vec![
            OnEdge {
                target: 0,
                offset: 0.0,
                access: 0.0
            };
            snaps.len()
        ];
        for (i, s) in snaps.iter().enumerate() {
            let k = &mut fill[s.edge as usize];
            items[*k as usize] = OnEdge {
                target: i as u32,
                offset: s.offset_m,
                access: s.access_m,
            };
            *k += 1;
        }
        let n = net.node_count();
        let mut node_off = vec![0u32; n + 1];
        for s in snaps {
            for v in net.edge_ends(s.edge) {
                node_off[v as usize + 1] += 1;
            }
        }
        for v in 0..n {
            node_off[v + 1] += node_off[v];
        }
        let mut fill = node_off.clone();
        let mut node_items = vec![(0u32, 0.0f64); 2 * snaps.len()];
        for (i, s) in snaps.iter().enumerate() {
            let [a, b] = net.edge_ends(s.edge);
            let len = net.edge_len(s.edge);
            for (v, along) in [(a, s.offset_m), (b, (len - s.offset_m).max(0.0))] {
                let k = &mut fill[v as usize];
                node_items[*k as usize] = (i as u32, along + s.access_m);
                *k += 1;
            }
        }
        Self {
            count: snaps.len(),
            edge_off,
            items,
            node_off,
            node_items,
        }
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True when there are no targets.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Targets on an edge.
    #[inline]
    pub(crate) fn on_edge(&self, e: EdgeIx) -> &[OnEdge] {
        match (
            self.edge_off.get(e as usize),
            self.edge_off.get(e as usize + 1),
        ) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Calls `f(target, d)` for every candidate distance from the last run of `dij` (whose
    /// sources were `sources`), within its cutoff or not: through each reached end of the
    /// target's edge, and along the edge from a source on it. The least candidate of a
    /// target is its exact distance.
    #[inline]
    fn for_each_candidate(
        &self,
        net: &Network,
        dij: &Dijkstra,
        sources: &[Snap],
        mut f: impl FnMut(u32, f64),
    ) {
        debug_assert_eq!(
            self.node_off.len(),
            net.node_count() + 1,
            "target index built for another network"
        );
        let reached = dij.reached();
        for (k, &u) in reached.iter().enumerate() {
            if let Some(&w) = reached.get(k + 2 * PREFETCH_AHEAD) {
                prefetch(self.node_off.as_ptr().wrapping_add(w as usize));
            }
            if let Some(&w) = reached.get(k + PREFETCH_AHEAD) {
                if let Some(&o) = self.node_off.get(w as usize) {
                    prefetch(self.node_items.as_ptr().wrapping_add(o as usize));
                }
            }
            let du = dij.dist[u as usize];
            let (a, b) = (
                self.node_off[u as usize] as usize,
                self.node_off[u as usize + 1] as usize,
            );
            for &(t, w) in &self.node_items[a..b] {
                f(t, du + w);
            }
        }
        for s in sources {
            for t in self.on_edge(s.edge) {
                f(
                    t.target,
                    s.access_m + (s.offset_m - t.offset).abs() + t.access,
                );
            }
        }
    }

    /// Calls `f(target, d)` with candidate distances `d <= cutoff` from the last run of
    /// `dij` (whose sources were `sources`); the minimum reported for a target is its exact
    /// distance, and every target within the cutoff is reported at least once.
    pub fn for_each_within(
        &self,
        net: &Network,
        dij: &Dijkstra,
        sources: &[Snap],
        mut f: impl FnMut(u32, f64),
    ) {
        let cutoff = dij.cutoff;
        self.for_each_candidate(net, dij, sources, |t, d| {
            if d <= cutoff {
                f(t, d);
            }
        });
    }

    /// Exact distance of every target to its nearest source, `f64::INFINITY` beyond the
    /// cutoff of the last run of `dij` (whose sources were `sources`).
    pub fn distances(&self, net: &Network, dij: &Dijkstra, sources: &[Snap], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.count, f64::INFINITY);
        self.min_into(net, dij, sources, out);
    }

    /// Lowers `col[t]` to target `t`'s distance from the last run of `dij` (whose sources
    /// were `sources`) where that is within the cutoff: [`Self::for_each_within`] with a
    /// minimum, but with a select instead of a branch on the cutoff and on the minimum
    /// (which candidate wins is unpredictable, and a mispredicted branch per candidate
    /// costs more than the select).
    pub(crate) fn min_into(
        &self,
        net: &Network,
        dij: &Dijkstra,
        sources: &[Snap],
        col: &mut [f64],
    ) {
        let cutoff = dij.cutoff;
        self.for_each_candidate(net, dij, sources, |t, d| {
            let o = &mut col[t as usize];
            *o = o.min(if d <= cutoff { d } else { f64::INFINITY });
        });
    }

    /// Exact distance of one target given full node distances `dist` and the sources.
    pub(crate) fn distance_of(
        net: &Network,
        dist: &[f64],
        target: &Snap,
        sources: &[Option<Snap>],
        cutoff: f64,
    ) -> f64 {
        let [a, b] = net.edge_ends(target.edge);
        let len = net.edge_len(target.edge);
        let mut d = (dist[a as usize] + target.offset_m)
            .min(dist[b as usize] + (len - target.offset_m).max(0.0))
            + target.access_m;
        for s in sources.iter().flatten() {
            if s.edge == target.edge {
                d = d.min(s.access_m + (s.offset_m - target.offset_m).abs() + target.access_m);
            }
        }
        if d <= cutoff {
            d
        } else {
            f64::INFINITY
        }
    }
}

/// A building as a coverage target.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    /// Building id (the caller's).
    pub id: i64,
    /// Residents living there.
    pub residents: u32,
    /// Households living there.
    pub households: u32,
    /// Where its anchor point snaps to the network.
    pub snap: Snap,
}

/// A service station as a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// Station id (the caller's).
    pub id: i64,
    /// Station kind code (e.g. `elderly_care`); any string, compared exactly.
    pub kind: String,
    /// Where the station snaps to the network.
    pub snap: Snap,
}

/// Which kinds must be within reach for a building to count as covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindSelection {
    /// Covered when at least one of these kinds is within reach.
    AnyOf(Vec<String>),
    /// Covered when every one of these kinds is within reach ("all of the 1+8").
    AllOf(Vec<String>),
}

impl KindSelection {
    /// One kind.
    pub fn one(kind: &str) -> Self {
        Self::AnyOf(vec![kind.to_string()])
    }
}

/// Counts of covered and total buildings, residents and households.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoverageTotals {
    /// Buildings counted.
    pub buildings: u64,
    /// Of which covered.
    pub buildings_covered: u64,
    /// Residents counted.
    pub residents: u64,
    /// Of which covered.
    pub residents_covered: u64,
    /// Households counted.
    pub households: u64,
    /// Of which covered.
    pub households_covered: u64,
    /// Buildings counted that have no street within the largest access distance (never
    /// covered).
    pub buildings_off_network: u64,
    /// Residents of those buildings.
    pub residents_off_network: u64,
}

impl CoverageTotals {
    /// Adds one building.
    #[inline]
    pub fn add(&mut self, residents: u32, households: u32, covered: bool) {
        // Multiplied rather than branched on: whether a building is covered is as good as
        // random from one building to the next.
        let c = u64::from(covered);
        self.buildings += 1;
        self.residents += u64::from(residents);
        self.households += u64::from(households);
        self.buildings_covered += c;
        self.residents_covered += c * u64::from(residents);
        self.households_covered += c * u64::from(households);
    }
    /// Moves one counted building from not covered to covered (`covered`) or back.
    #[inline]
    pub fn shift(&mut self, residents: u32, households: u32, covered: bool) {
        let (r, h) = (u64::from(residents), u64::from(households));
        if covered {
            self.buildings_covered += 1;
            self.residents_covered += r;
            self.households_covered += h;
        } else {
            self.buildings_covered -= 1;
            self.residents_covered -= r;
            self.households_covered -= h;
        }
    }
    /// Adds one building that has no street within reach: counted, never covered.
    pub fn add_off_network(&mut self, residents: u32, households: u32) {
        self.add(residents, households, false);
        self.buildings_off_network += 1;
        self.residents_off_network += u64::from(residents);
    }
    /// Adds another set of totals.
    pub fn merge(&mut self, o: &Self) {
        self.buildings += o.buildings;
        self.buildings_covered += o.buildings_covered;
        self.residents += o.residents;
        self.residents_covered += o.residents_covered;
        self.households += o.households;
        self.households_covered += o.households_covered;
        self.buildings_off_network += o.buildings_off_network;
        self.residents_off_network += o.residents_off_network;
    }
    /// Percentage of residents covered (100 when there are none).
    pub fn residents_pct(&self) -> f64 {
        if self.residents == 0 {
            100.0
        } else {
            100.0 * self.residents_covered as f64 / self.residents as f64
        }
    }
    /// Percentage of households covered (100 when there are none).
    pub fn households_pct(&self) -> f64 {
        if self.households == 0 {
            100.0
        } else {
            100.0 * self.households_covered as f64 / self.households as f64
        }
    }
}

/// Per-building distance to the nearest station of each kind, within a cutoff.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageReport {
    /// Cutoff in metres: a building is covered by a kind when its distance is within it.
    pub cutoff_m: f64,
    /// Kinds, in column order.
    pub kinds: Vec<String>,
    /// Building ids, in row order (as given to [`Accessibility::new`]); shared with the
    /// engine that made the report.
    pub building_ids: Arc<[i64]>,
    residents: Arc<[u32]>,
    households: Arc<[u32]>,
    /// One column per kind, `columns[k][b]`: shared, not copied, with the cache of a
    /// model that keeps them (a report of cached columns costs no copy of a city's rows).
    columns: Vec<Arc<Vec<f64>>>,
    /// Totals per kind, in `kinds` order.
    pub per_kind: Vec<CoverageTotals>,
}

impl CoverageReport {
    /// A report assembled from per-kind columns computed earlier (a cache of the current
    /// stations' distances): `columns[k]` holds every building's distance to kind `k`
    /// (`f64::INFINITY` beyond the cutoff), in the row order of `rows`. The columns and
    /// the rows' arrays are shared, not copied.
    pub fn from_columns(
        cutoff_m: f64,
        kinds: Vec<String>,
        rows: &BuildingRows,
        columns: Vec<Arc<Vec<f64>>>,
        per_kind: Vec<CoverageTotals>,
    ) -> Self {
        let n = rows.ids.len();
        let columns = columns
            .into_iter()
            .map(|c| {
                if c.len() == n {
                    c
                } else {
                    // A column of the wrong length: pad or cut, so every row has a value.
                    let mut v = c.to_vec();
                    v.resize(n, f64::INFINITY);
                    Arc::new(v)
                }
            })
            .collect();
        Self {
            cutoff_m,
            kinds,
            building_ids: Arc::clone(&rows.ids),
            residents: Arc::clone(&rows.residents),
            households: Arc::clone(&rows.households),
            columns,
            per_kind,
        }
    }

    /// The shared column of kind column `k` (for a cache to keep).
    pub fn kind_column(&self, k: usize) -> Option<&Arc<Vec<f64>>> {
        self.columns.get(k)
    }

    /// Number of buildings.
    pub fn building_count(&self) -> usize {
        self.building_ids.len()
    }
    /// Column of a kind.
    pub fn kind_index(&self, kind: &str) -> Option<usize> {
        self.kinds.iter().position(|k| k == kind)
    }
    /// Metres from building row `b` to the nearest station of kind column `k`, if within
    /// the cutoff.
    pub fn nearest_m(&self, k: usize, b: usize) -> Option<f64> {
        self.columns
            .get(k)?
            .get(b)
            .copied()
            .filter(|d| d.is_finite())
    }
    /// All distances of kind column `k` by building row (`f64::INFINITY` beyond cutoff).
    pub fn kind_distances(&self, k: usize) -> &[f64] {
        self.columns.get(k).map_or(&[], |c| c.as_slice())
    }
    /// Whether building row `b` is covered under `sel`; kinds absent from the report
    /// count as out of reach.
    pub fn is_covered(&self, b: usize, sel: &KindSelection) -> bool {
        self.covered_by(b, &self.resolve(sel))
    }

    /// Kind columns of a selection (`None` for kinds absent from the report) and its mode.
    fn resolve(&self, sel: &KindSelection) -> (bool, Vec<Option<usize>>) {
        match sel {
            KindSelection::AnyOf(ks) => (true, ks.iter().map(|k| self.kind_index(k)).collect()),
            KindSelection::AllOf(ks) => (false, ks.iter().map(|k| self.kind_index(k)).collect()),
        }
    }

    fn covered_by(&self, b: usize, (any, cols): &(bool, Vec<Option<usize>>)) -> bool {
        let within = |k: &Option<usize>| k.and_then(|k| self.nearest_m(k, b)).is_some();
        if *any {
            cols.iter().any(within)
        } else {
            cols.iter().all(within)
        }
    }

    /// Totals under `sel` over the building rows for which `include` is true (e.g. the
    /// buildings of one grid).
    pub fn totals(
        &self,
        sel: &KindSelection,
        mut include: impl FnMut(usize) -> bool,
    ) -> CoverageTotals {
        let r = self.resolve(sel);
        let mut t = CoverageTotals::default();
        for b in 0..self.building_ids.len() {
            if include(b) {
                t.add(
                    self.residents[b],
                    self.households[b],
                    self.covered_by(b, &r),
                );
            }
        }
        t
    }

    /// Whether each building row is covered under `sel` (the selection resolved once).
    pub fn covered_rows(&self, sel: &KindSelection) -> Vec<bool> {
        let (any, cols) = self.resolve(sel);
        let n = self.building_ids.len();
        let mut out = vec![!any; n];
        for c in &cols {
            let d = c.map(|k| self.kind_distances(k)).unwrap_or(&[]);
            for (b, o) in out.iter_mut().enumerate() {
                let within = d.get(b).is_some_and(|x| x.is_finite());
                *o = if any { *o || within } else { *o && within };
            }
        }
        out
    }

    /// Whether each of `rows` is covered under `sel` (the selection resolved once), in
    /// the order of `rows`; a row beyond the report is not covered.
    pub fn covered_rows_at(&self, sel: &KindSelection, rows: &[usize]) -> Vec<bool> {
        let r = self.resolve(sel);
        rows.iter().map(|&b| self.covered_by(b, &r)).collect()
    }

    /// Rows of the buildings not covered under `sel`.
    pub fn uncovered(&self, sel: &KindSelection) -> Vec<usize> {
        let r = self.resolve(sel);
        (0..self.building_ids.len())
            .filter(|&b| !self.covered_by(b, &r))
            .collect()
    }
}

/// The per-row arrays of a set of buildings, behind `Arc`s: a model makes them once and
/// every engine and report over its buildings shares them (cloning is four reference
/// counts, not a copy of a city's rows).
#[derive(Debug, Clone)]
pub struct BuildingRows {
    /// Building ids by row.
    pub ids: Arc<[i64]>,
    /// Residents by row.
    pub residents: Arc<[u32]>,
    /// Households by row.
    pub households: Arc<[u32]>,
    /// Snaps by row.
    pub snaps: Arc<[Snap]>,
}

impl BuildingRows {
    /// The arrays of `buildings`, in their order.
    pub fn new(buildings: &[Building]) -> Self {
        Self {
            ids: buildings.iter().map(|b| b.id).collect(),
            residents: buildings.iter().map(|b| b.residents).collect(),
            households: buildings.iter().map(|b| b.households).collect(),
            snaps: buildings.iter().map(|b| b.snap).collect(),
        }
    }
}

/// Accessibility engine for a fixed set of buildings on a network: reusable search buffers
/// and the buildings' edge index.
#[derive(Debug, Clone)]
pub struct Accessibility<'n> {
    net: &'n Network,
    rows: BuildingRows,
    targets: Arc<TargetIndex>,
    dijkstra: Dijkstra,
    threads: usize,
    /// Search states of the extra threads of [`Self::coverage_for_kinds`].
    pool: Vec<Dijkstra>,
}

impl<'n> Accessibility<'n> {
    /// Prepares the engine for these buildings (row order is kept in reports).
    pub fn new(net: &'n Network, buildings: &[Building]) -> Self {
        let snaps: Vec<Snap> = buildings.iter().map(|b| b.snap).collect();
        let targets = Arc::new(TargetIndex::new(net, &snaps));
        Self::with_targets(net, buildings, targets)
    }

    /// Like [`Self::new`] with the buildings' target index already built (it must have
    /// been built from these buildings' snaps, in this order, on `net`): a model that
    /// answers many questions builds it once.
    pub fn with_targets(
        net: &'n Network,
        buildings: &[Building],
        targets: Arc<TargetIndex>,
    ) -> Self {
        Self::with_rows(net, BuildingRows::new(buildings), targets)
    }

    /// Like [`Self::with_targets`] with the buildings' arrays already made: an engine
    /// shares them (and its reports do) instead of copying a city's rows for each question.
    pub fn with_rows(net: &'n Network, rows: BuildingRows, targets: Arc<TargetIndex>) -> Self {
        Self {
            net,
            rows,
            targets,
            dijkstra: Dijkstra::empty(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pool: Vec::new(),
        }
    }

    /// The network.
    pub fn network(&self) -> &'n Network {
        self.net
    }
    /// The buildings' target index.
    pub fn targets(&self) -> &TargetIndex {
        &self.targets
    }
    /// The buildings' snaps by row.
    pub fn building_snaps(&self) -> &[Snap] {
        &self.rows.snaps
    }
    /// Residents by building row.
    pub fn residents(&self) -> &[u32] {
        &self.rows.residents
    }
    /// Households by building row.
    pub fn households(&self) -> &[u32] {
        &self.rows.households
    }
    /// The search state of the last run (of the first thread, for [`Self::coverage`]).
    pub fn dijkstra(&self) -> &Dijkstra {
        &self.dijkstra
    }
    /// Threads that [`Self::coverage_for_kinds`] may use (default: the machine's cores).
    pub fn threads(&self) -> usize {
        self.threads
    }
    /// Limits [`Self::coverage_for_kinds`] to `n` threads (at least one).
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n.max(1);
    }

    /// Metres from each building to the nearest of `sources` (`INFINITY` beyond cutoff),
    /// written into `out` by building row.
    pub fn nearest_m(&mut self, sources: &[Snap], cutoff_m: f64, out: &mut Vec<f64>) {
        self.dijkstra.run_from_snaps(self.net, sources, cutoff_m);
        self.targets
            .distances(self.net, &self.dijkstra, sources, out);
    }

    /// Coverage for the kinds present among `stations` (sorted by name).
    pub fn coverage(&mut self, stations: &[Station], cutoff_m: f64) -> CoverageReport {
        let kinds: BTreeSet<&str> = stations.iter().map(|s| s.kind.as_str()).collect();
        let kinds: Vec<String> = kinds.into_iter().map(str::to_string).collect();
        self.coverage_for_kinds(stations, &kinds, cutoff_m)
    }

    /// Coverage for the given kinds (a kind without stations covers nothing). Kinds are
    /// independent searches, so they run on up to [`Accessibility::threads`] threads, each
    /// with its own search buffers and its own column of the report.
    pub fn coverage_for_kinds(
        &mut self,
        stations: &[Station],
        kinds: &[String],
        cutoff_m: f64,
    ) -> CoverageReport {
        let nb = self.rows.ids.len();
        let mut nearest: Vec<Vec<f64>> = kinds.iter().map(|_| vec![f64::INFINITY; nb]).collect();
        let threads = self.threads.clamp(1, kinds.len().max(1));
        let mut columns: Vec<(&String, &mut [f64])> = kinds
            .iter()
            .zip(nearest.iter_mut().map(Vec::as_mut_slice))
            .collect();
        let per_thread = columns.len().div_ceil(threads).max(1);
        let mut groups: Vec<Vec<(&String, &mut [f64])>> = Vec::new();
        while !columns.is_empty() {
            let rest = columns.split_off(per_thread.min(columns.len()));
            groups.push(std::mem::replace(&mut columns, rest));
        }
        let (net, targets) = (self.net, &*self.targets);
        let (residents, households) = (&*self.rows.residents, &*self.rows.households);
        // One search state per group: the engine's own for the first, pooled ones for the
        // others (kept for the next call).
        let mut states = vec![std::mem::replace(&mut self.dijkstra, Dijkstra::empty())];
        states.append(&mut self.pool);
        states.resize_with(groups.len().max(1), || Dijkstra::new(net));
        let results: Vec<(Dijkstra, Vec<CoverageTotals>)> = std::thread::scope(|scope| {
            let mut work = groups.into_iter().zip(states);
            let first = work.next();
            let others: Vec<_> = work
                .map(|(g, mut dij)| {
                    scope.spawn(move || {
                        let t = kind_columns(
                            net, targets, residents, households, stations, g, &mut dij, cutoff_m,
                        );
                        (dij, t)
                    })
                })
                .collect();
            let mut results = Vec::with_capacity(others.len() + 1);
            if let Some((g, mut dij)) = first {
                let t = kind_columns(
                    net, targets, residents, households, stations, g, &mut dij, cutoff_m,
                );
                results.push((dij, t));
            }
            for h in others {
                match h.join() {
                    Ok(r) => results.push(r),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            results
        });
        let mut per_kind = Vec::with_capacity(kinds.len());
        for (i, (dij, t)) in results.into_iter().enumerate() {
            if i == 0 {
                self.dijkstra = dij;
            } else {
                self.pool.push(dij);
            }
            per_kind.extend(t);
        }
        CoverageReport::from_columns(
            cutoff_m,
            kinds.to_vec(),
            &self.rows,
            nearest.into_iter().map(Arc::new).collect(),
            per_kind,
        )
    }
}

/// Fills the columns of `group` (one kind each, in order) with every building's distance
/// to the nearest station of that kind and returns the kinds' totals.
#[allow(clippy::too_many_arguments)]
fn kind_columns(
    net: &Network,
    targets: &TargetIndex,
    residents: &[u32],
    households: &[u32],
    stations: &[Station],
    group: Vec<(&String, &mut [f64])>,
    dij: &mut Dijkstra,
    cutoff_m: f64,
) -> Vec<CoverageTotals> {
    let mut sources = Vec::new();
    group
        .into_iter()
        .map(|(kind, col)| {
            sources.clear();
            sources.extend(stations.iter().filter(|s| &s.kind == kind).map(|s| s.snap));
            dij.run_from_snaps(net, &sources, cutoff_m);
            targets.min_into(net, dij, &sources, col);
            let mut t = CoverageTotals::default();
            for (b, d) in col.iter().enumerate() {
                t.add(residents[b], households[b], d.is_finite());
            }
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::network::{LineInput, Network};
    use geo::{Coord, LineString};
    use rand::{Rng, SeedableRng};

    #[test]
    fn exact_with_light_and_zero_length_edges() {
        // A path whose edges range from 0 m to 400 m: many are lighter than the bucket width.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut lon = 105.8;
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for i in 0..300 {
            nodes.push(crate::spatial::network::NodeSpec {
                id: i,
                coord: Coord { x: lon, y: 32.4 },
            });
            if i > 0 {
                let len = if i % 7 == 0 {
                    0.0
                } else {
                    rng.gen_range(0.0..400.0)
                };
                edges.push(crate::spatial::network::EdgeSpec {
                    id: i,
                    source: i as u32 - 1,
                    target: i as u32,
                    geometry: vec![
                        Coord {
                            x: lon - 0.001,
                            y: 32.4,
                        },
                        Coord { x: lon, y: 32.4 },
                    ],
                    length_m: Some(len),
                    highway: String::new(),
                    name: None,
                });
                // A shortcut every 10 nodes makes ties and re-relaxations likely.
                if i >= 10 && i % 10 == 0 {
                    edges.push(crate::spatial::network::EdgeSpec {
                        id: 10_000 + i,
                        source: i as u32 - 10,
                        target: i as u32,
                        geometry: vec![
                            Coord {
                                x: lon - 0.01,
                                y: 32.4,
                            },
                            Coord { x: lon, y: 32.4 },
                        ],
                        length_m: Some(rng.gen_range(0.0..900.0)),
                        highway: String::new(),
                        name: None,
                    });
                }
            }
            lon += 0.001;
        }
        let net = Network::from_parts(nodes, edges).expect("valid");
        let mut dij = Dijkstra::new(&net);
        for cutoff in [50.0, 3000.0, 1e6, f64::INFINITY] {
            let starts = [0u32, 150, 299];
            dij.run_from_nodes(&net, &starts, cutoff);
            let want = reference(&net, &starts.map(|s| (s, 0.0)));
            for (n, (&got, &want)) in dij.distances().iter().zip(&want).enumerate() {
                if want <= cutoff {
                    assert_eq!(got, want, "node {n} cutoff {cutoff}");
                } else {
                    assert!(got.is_infinite(), "node {n} cutoff {cutoff}");
                }
            }
        }
    }

    fn random_net(seed: u64) -> Network {
        Network::synthetic_lattice(12, 9, 60.0, 0.3, 105.84, 32.43, seed).expect("lattice")
    }

    /// Plain O(n^2) Dijkstra from one seed set for reference.
    fn reference(net: &Network, seeds: &[(u32, f64)]) -> Vec<f64> {
        let n = net.node_count();
        let mut d = vec![f64::INFINITY; n];
        let mut done = vec![false; n];
        for &(s, x) in seeds {
            d[s as usize] = d[s as usize].min(x);
        }
        loop {
            let u = (0..n)
                .filter(|&i| !done[i] && d[i].is_finite())
                .min_by(|&a, &b| d[a].total_cmp(&d[b]));
            let Some(u) = u else { break };
            done[u] = true;
            for a in net.arcs(u as u32) {
                let nd = d[u] + a.len;
                if nd < d[a.to as usize] {
                    d[a.to as usize] = nd;
                }
            }
        }
        d
    }

    #[test]
    fn multi_source_matches_reference_and_targets_match_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for seed in 0..20 {
            let net = random_net(seed);
            let bbox = net
                .node_coords()
                .iter()
                .fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |b, c| {
                    (b.0.min(c.x), b.1.max(c.x), b.2.min(c.y), b.3.max(c.y))
                });
            let pt = |rng: &mut rand_chacha::ChaCha8Rng| Coord {
                x: rng.gen_range(bbox.0..bbox.1),
                y: rng.gen_range(bbox.2..bbox.3),
            };
            let sources: Vec<Snap> = (0..rng.gen_range(1..5))
                .map(|_| net.snap(pt(&mut rng)).expect("snap"))
                .collect();
            let targets: Vec<Snap> = (0..60)
                .map(|_| net.snap(pt(&mut rng)).expect("snap"))
                .collect();
            let cutoff = rng.gen_range(100.0..700.0);
            let mut dij = Dijkstra::new(&net);
            dij.run_from_snaps(&net, &sources, cutoff);
            let seeds: Vec<(u32, f64)> = sources
                .iter()
                .flat_map(|s| snap_seeds(&net, s, 0))
                .map(|s| (s.node, s.dist))
                .collect();
            let full = reference(&net, &seeds);
            for n in 0..net.node_count() as u32 {
                match dij.distance(n) {
                    Some(d) => assert!((d - full[n as usize]).abs() < 1e-9),
                    None => assert!(full[n as usize] > cutoff),
                }
            }
            let index = TargetIndex::new(&net, &targets);
            let mut got = Vec::new();
            index.distances(&net, &dij, &sources, &mut got);
            for (t, ts) in targets.iter().enumerate() {
                // Brute force: over every source, the best of the 2x2 end combinations and
                // the direct walk when on the same edge.
                let mut best = f64::INFINITY;
                for s in &sources {
                    let one = reference(&net, &snap_seeds(&net, s, 0).map(|x| (x.node, x.dist)));
                    let [a, b] = net.edge_ends(ts.edge);
                    let len = net.edge_len(ts.edge);
                    let via =
                        (one[a as usize] + ts.offset_m).min(one[b as usize] + len - ts.offset_m);
                    best = best.min(via + ts.access_m);
                    if s.edge == ts.edge {
                        best =
                            best.min(s.access_m + (s.offset_m - ts.offset_m).abs() + ts.access_m);
                    }
                }
                if best <= cutoff {
                    assert!(
                        (got[t] - best).abs() < 1e-9,
                        "target {t}: {} vs {best}",
                        got[t]
                    );
                } else {
                    assert!(got[t].is_infinite());
                }
            }
        }
    }

    #[test]
    fn coverage_counts_and_modes() {
        let c = |x: f64, y: f64| Coord { x, y };
        // A straight street about 1,113 m long (0.01 degrees of longitude at the equator).
        let net = Network::from_lines(&[LineInput {
            geometry: LineString::from(vec![c(0.0, 0.0), c(0.005, 0.0), c(0.01, 0.0)]),
            highway: "residential".into(),
            name: None,
        }])
        .expect("line");
        let snap = |x: f64| net.snap(c(x, 0.0001)).expect("snap");
        let buildings: Vec<Building> = [0.0, 0.002, 0.006, 0.01]
            .iter()
            .enumerate()
            .map(|(i, &x)| Building {
                id: i as i64 + 1,
                residents: 100 * (i as u32 + 1),
                households: 40,
                snap: snap(x),
            })
            .collect();
        let stations = vec![
            Station {
                id: 1,
                kind: "clinic".into(),
                snap: snap(0.001),
            },
            Station {
                id: 2,
                kind: "elderly".into(),
                snap: snap(0.0095),
            },
        ];
        let mut acc = Accessibility::new(&net, &buildings);
        let rep = acc.coverage(
            &stations,
            WalkSetting::preset(LifeCircle::FiveMinute).cutoff_m(),
        );
        assert_eq!(rep.kinds, vec!["clinic".to_string(), "elderly".to_string()]);
        let clinic = rep.kind_index("clinic").expect("kind");
        // 0.001 deg ≈ 111.2 m; access legs 11.1 m each way.
        let d0 = rep.nearest_m(clinic, 0).expect("covered");
        assert!((d0 - (111.19 + 2.0 * 11.12)).abs() < 0.5, "{d0}");
        assert!(rep.nearest_m(clinic, 2).is_none());
        assert_eq!(rep.per_kind[clinic].buildings_covered, 2);
        assert_eq!(rep.per_kind[clinic].residents_covered, 300);
        let any = KindSelection::AnyOf(rep.kinds.clone());
        let all = KindSelection::AllOf(rep.kinds.clone());
        let t_any = rep.totals(&any, |_| true);
        let t_all = rep.totals(&all, |_| true);
        assert_eq!(t_any.buildings_covered, 3);
        assert_eq!(t_all.buildings_covered, 0);
        assert_eq!(rep.uncovered(&any), vec![2]);
        assert!(!rep.is_covered(0, &KindSelection::one("police")));
        assert!((t_any.residents_pct() - 70.0).abs() < 1e-9);
    }

    #[test]
    fn kinds_on_several_threads_equal_one_thread() {
        let net = Network::synthetic_lattice(40, 30, 60.0, 0.3, 105.84, 32.43, 5).expect("lattice");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let n = net.node_count() as u32;
        let buildings: Vec<Building> = (0..500)
            .filter_map(|i| {
                let c = net.node_coord(rng.gen_range(0..n));
                let p = Coord {
                    x: c.x + 0.0002,
                    y: c.y - 0.0001,
                };
                net.snap(p).map(|snap| Building {
                    id: i,
                    residents: 10 + i as u32,
                    households: 3,
                    snap,
                })
            })
            .collect();
        let stations: Vec<Station> = (0..35)
            .filter_map(|i| {
                net.snap_at_node(rng.gen_range(0..n)).map(|snap| Station {
                    id: i,
                    kind: format!("k{}", i % 7),
                    snap,
                })
            })
            .collect();
        let mut acc = Accessibility::new(&net, &buildings);
        acc.set_threads(1);
        let one = acc.coverage(&stations, 400.0);
        for threads in [2, 3, 16] {
            acc.set_threads(threads);
            // Twice: the second call reuses the pooled search states.
            for _ in 0..2 {
                assert_eq!(acc.coverage(&stations, 400.0), one, "{threads} threads");
            }
        }
        assert_eq!(one.kinds.len(), 7);
        assert!(one
            .per_kind
            .iter()
            .all(|t| t.buildings_covered > 0 && t.buildings_covered < t.buildings));
    }

    #[test]
    fn walk_settings() {
        assert_eq!(WalkSetting::preset(LifeCircle::TenMinute).cutoff_m(), 500.0);
        assert_eq!(
            WalkSetting::preset(LifeCircle::FifteenMinute).cutoff_m(),
            1000.0
        );
        let w = WalkSetting {
            minutes: 10.0,
            speed_m_per_min: 80.0,
        };
        assert_eq!(w.cutoff_m(), 800.0);
        assert_eq!(w.minutes_for(400.0), 5.0);
    }
}
