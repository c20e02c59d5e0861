//! The walking network held in memory: an undirected graph in compressed sparse row (CSR)
//! form with haversine edge lengths in metres, each edge's geometry (lon/lat), connected
//! component ids, and an R-tree over edge segments for snapping points onto the network.
//!
//! This module owns graph construction (splitting lines at shared vertices), snapping and
//! the small geometric helpers that the search, isochrone and siting modules need. It does
//! no shortest-path search itself (see [`crate::spatial::access`]), reads no files (see
//! [`crate::spatial::osm`]) and runs no SQL (see `crate::store::network`).

use std::collections::HashMap;
use std::hash::Hash;

use geo::{Coord, Distance, Haversine, LineString, Point};
use rand::{Rng, SeedableRng};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

/// Index of a node in a [`Network`] (0-based, dense).
pub type NodeIx = u32;
/// Index of an edge in a [`Network`] (0-based, dense).
pub type EdgeIx = u32;

/// Mean earth radius in metres used for the local projection (same as geo's haversine).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Bit set on [`Arc::edge_dir`] when the arc runs from an edge's target to its source.
const REVERSE_BIT: u32 = 1 << 31;

/// Errors raised while building a [`Network`].
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// An edge refers to a node index that does not exist.
    #[error("edge {edge} refers to node {node}, but the network has only {nodes} nodes")]
    BadNodeIndex {
        /// Position of the offending edge in the input.
        edge: usize,
        /// The node index it used.
        node: u32,
        /// Number of nodes supplied.
        nodes: usize,
    },
    /// An edge geometry has fewer than two points.
    #[error("edge {edge} has a geometry with {points} point(s); at least 2 are needed")]
    ShortGeometry {
        /// Position of the offending edge in the input.
        edge: usize,
        /// Number of points it had.
        points: usize,
    },
    /// A coordinate or a length is NaN, infinite or out of range.
    #[error("edge {edge} has an invalid coordinate or length ({what})")]
    BadValue {
        /// Position of the offending edge in the input.
        edge: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// A node has a NaN, infinite or out-of-range coordinate.
    #[error("node {node} has an invalid coordinate")]
    BadNode {
        /// Position of the offending node in the input.
        node: usize,
    },
    /// The network would exceed the 2^31 edges or 2^32 nodes that the compact layout holds.
    #[error("network too large: {nodes} nodes, {edges} edges")]
    TooLarge {
        /// Number of nodes.
        nodes: usize,
        /// Number of edges.
        edges: usize,
    },
    /// A GeoJSON input could not be used.
    #[error("GeoJSON feature {feature}: {reason}")]
    GeoJson {
        /// Position of the feature in the collection.
        feature: usize,
        /// What was wrong with it.
        reason: String,
    },
}

/// A node given to [`Network::from_parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// External id (OSM node id, or the id stored in `network_nodes`).
    pub id: i64,
    /// Position, longitude/latitude (EPSG:4326).
    pub coord: Coord<f64>,
}

/// An edge given to [`Network::from_parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSpec {
    /// External id (the id stored in `network_edges`).
    pub id: i64,
    /// Index (not id) of the node at the start of `geometry`.
    pub source: NodeIx,
    /// Index (not id) of the node at the end of `geometry`.
    pub target: NodeIx,
    /// Geometry, longitude/latitude, from source to target.
    pub geometry: Vec<Coord<f64>>,
    /// Length in metres; `None` computes the haversine length of `geometry`.
    pub length_m: Option<f64>,
    /// OSM `highway` value (or the GeoJSON `highway` property); empty when unknown.
    pub highway: String,
    /// Street name, if any.
    pub name: Option<String>,
}

/// One direction of an edge in the CSR adjacency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arc {
    /// Node at the far end of the arc.
    pub to: NodeIx,
    /// Edge index, with bit 31 set when the arc runs from the edge's target to its source.
    pub edge_dir: u32,
    /// Length of the edge in metres.
    pub len: f64,
}

impl Arc {
    /// The edge this arc traverses.
    #[inline]
    pub fn edge(&self) -> EdgeIx {
        self.edge_dir & !REVERSE_BIT
    }
    /// True when the arc starts at the edge's source (it runs along the geometry).
    #[inline]
    pub fn forward(&self) -> bool {
        self.edge_dir & REVERSE_BIT == 0
    }
}

/// Where a point lies on the network: the nearest point on the nearest edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    /// The edge the point snapped to.
    pub edge: EdgeIx,
    /// Distance in metres along the edge from its source node to the snapped point.
    pub offset_m: f64,
    /// Length in metres of the straight access leg from the point to the snapped point.
    pub access_m: f64,
    /// The snapped point on the edge (lon/lat).
    pub on_edge: Coord<f64>,
}

/// A local equirectangular projection (metres) centred on the network, used for nearest
/// searches and buffering; exact lengths are haversine on lon/lat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalProjection {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl LocalProjection {
    /// A projection centred on (`lon0`, `lat0`).
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let ky = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        Self {
            lon0,
            lat0,
            kx: ky * lat0.to_radians().cos(),
            ky,
        }
    }
    /// Lon/lat to local metres (x east, y north).
    #[inline]
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        }
    }
    /// Local metres back to lon/lat.
    #[inline]
    pub fn unproject(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: c.x / self.kx + self.lon0,
            y: c.y / self.ky + self.lat0,
        }
    }
}

/// One segment of an edge in projected metres, as stored in the R-tree.
#[derive(Debug, Clone, Copy)]
struct SegItem {
    a: [f64; 2],
    b: [f64; 2],
    edge: EdgeIx,
    seg: u32,
}

impl SegItem {
    /// Parameter t in [0, 1] of the point on the segment nearest to `p`.
    #[inline]
    fn param(&self, p: &[f64; 2]) -> f64 {
        let dx = self.b[0] - self.a[0];
        let dy = self.b[1] - self.a[1];
        let l2 = dx * dx + dy * dy;
        if l2 <= 0.0 {
            return 0.0;
        }
        (((p[0] - self.a[0]) * dx + (p[1] - self.a[1]) * dy) / l2).clamp(0.0, 1.0)
    }
}

impl RTreeObject for SegItem {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.a, self.b)
    }
}

impl PointDistance for SegItem {
    fn distance_2(&self, p: &[f64; 2]) -> f64 {
        let t = self.param(p);
        let x = self.a[0] + t * (self.b[0] - self.a[0]) - p[0];
        let y = self.a[1] + t * (self.b[1] - self.a[1]) - p[1];
        x * x + y * y
    }
}

/// The walking network: an undirected graph with CSR adjacency, haversine edge lengths in
/// metres, edge geometries, connected components and a segment R-tree for snapping.
#[derive(Debug, Clone)]
pub struct Network {
    node_ids: Vec<i64>,
    node_coords: Vec<Coord<f64>>,
    edge_ids: Vec<i64>,
    edge_ends: Vec<[NodeIx; 2]>,
    edge_len: Vec<f64>,
    geom_off: Vec<u32>,
    geom: Vec<Coord<f64>>,
    edge_highway: Vec<u16>,
    highways: Vec<String>,
    edge_name: Vec<u32>,
    names: Vec<String>,
    adj_off: Vec<u32>,
    arcs: Vec<Arc>,
    component: Vec<u32>,
    component_sizes: Vec<u32>,
    proj: LocalProjection,
    rtree: RTree<SegItem>,
    bucket_width: f64,
    total_len: f64,
}

/// Software prefetch of the cache line holding `p` (no effect on other architectures). A
/// prefetch never faults, so any address is fine.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is only a hint: it
        // never dereferences or faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Haversine length in metres of a polyline given as lon/lat coordinates.
pub fn haversine_length(coords: &[Coord<f64>]) -> f64 {
    coords
        .windows(2)
        .map(|w| Haversine.distance(Point(w[0]), Point(w[1])))
        .sum()
}

/// Haversine distance in metres between two lon/lat coordinates.
#[inline]
pub fn haversine(a: Coord<f64>, b: Coord<f64>) -> f64 {
    Haversine.distance(Point(a), Point(b))
}

fn finite(c: &Coord<f64>) -> bool {
    c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0
}

impl Network {
    /// Builds a network from nodes and edges whose `source`/`target` are indices into
    /// `nodes`. Nodes are renumbered along a Hilbert curve and edges sorted by their first
    /// node so that nearby nodes sit nearby in memory (searches touch fewer cache lines);
    /// external ids are kept, so look nodes up by id, not by input position.
    pub fn from_parts(nodes: Vec<NodeSpec>, edges: Vec<EdgeSpec>) -> Result<Self, NetworkError> {
        let n = nodes.len();
        let m = edges.len();
        if n > u32::MAX as usize - 1 || m >= REVERSE_BIT as usize {
            return Err(NetworkError::TooLarge { nodes: n, edges: m });
        }
        for (i, e) in edges.iter().enumerate() {
            for node in [e.source, e.target] {
                if node as usize >= n {
                    return Err(NetworkError::BadNodeIndex {
                        edge: i,
                        node,
                        nodes: n,
                    });
                }
            }
            if e.geometry.len() < 2 {
                return Err(NetworkError::ShortGeometry {
                    edge: i,
                    points: e.geometry.len(),
                });
            }
            if !e.geometry.iter().all(finite) {
                return Err(NetworkError::BadValue {
                    edge: i,
                    what: "coordinate",
                });
            }
            if e.length_m.is_some_and(|l| !l.is_finite() || l < 0.0) {
                return Err(NetworkError::BadValue {
                    edge: i,
                    what: "length",
                });
            }
        }
        if let Some(node) = nodes.iter().position(|nd| !finite(&nd.coord)) {
            return Err(NetworkError::BadNode { node });
        }
        let (nodes, edges) = locality_order(nodes, edges);
        let mut node_ids = Vec::with_capacity(n);
        let mut node_coords = Vec::with_capacity(n);
        for nd in nodes {
            node_ids.push(nd.id);
            node_coords.push(nd.coord);
        }
        let mut edge_ids = Vec::with_capacity(m);
        let mut edge_ends = Vec::with_capacity(m);
        let mut edge_len = Vec::with_capacity(m);
        let mut geom_off = Vec::with_capacity(m + 1);
        let mut geom = Vec::new();
        let mut edge_highway = Vec::with_capacity(m);
        let mut highways: Vec<String> = Vec::new();
        let mut highway_ix: HashMap<String, u16> = HashMap::new();
        let mut edge_name = Vec::with_capacity(m);
        let mut names: Vec<String> = Vec::new();
        let mut name_ix: HashMap<String, u32> = HashMap::new();
        geom_off.push(0u32);
        for e in edges {
            let len = e.length_m.unwrap_or_else(|| haversine_length(&e.geometry));
            edge_ids.push(e.id);
            edge_ends.push([e.source, e.target]);
            edge_len.push(len);
            geom.extend_from_slice(&e.geometry);
            if geom.len() > u32::MAX as usize {
                return Err(NetworkError::TooLarge { nodes: n, edges: m });
            }
            geom_off.push(geom.len() as u32);
            let h = match highway_ix.get(&e.highway) {
                Some(&h) => h,
                None => {
                    let h = highways.len() as u16;
                    highways.push(e.highway.clone());
                    highway_ix.insert(e.highway, h);
                    h
                }
            };
            edge_highway.push(h);
            let nm = match e.name {
                None => u32::MAX,
                Some(s) => match name_ix.get(&s) {
                    Some(&k) => k,
                    None => {
                        let k = names.len() as u32;
                        names.push(s.clone());
                        name_ix.insert(s, k);
                        k
                    }
                },
            };
            edge_name.push(nm);
        }
        // CSR adjacency: every edge appears once from each end (a self-loop twice at its node).
        let mut deg = vec![0u32; n + 1];
        for &[s, t] in &edge_ends {
            deg[s as usize] += 1;
            deg[t as usize] += 1;
        }
        let mut adj_off = Vec::with_capacity(n + 1);
        let mut acc = 0u32;
        for d in deg.iter().take(n) {
            adj_off.push(acc);
            acc += d;
        }
        adj_off.push(acc);
        let mut fill: Vec<u32> = adj_off[..n].to_vec();
        let mut arcs = vec![
            Arc {
                to: 0,
                edge_dir: 0,
                len: 0.0
            };
            acc as usize
        ];
        for (e, &[s, t]) in edge_ends.iter().enumerate() {
            let len = edge_len[e];
            arcs[fill[s as usize] as usize] = Arc {
                to: t,
                edge_dir: e as u32,
                len,
            };
            fill[s as usize] += 1;
            arcs[fill[t as usize] as usize] = Arc {
                to: s,
                edge_dir: e as u32 | REVERSE_BIT,
                len,
            };
            fill[t as usize] += 1;
        }
        let (component, component_sizes) = components(n, &adj_off, &arcs);
        let proj = {
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for c in node_coords.iter().chain(geom.iter()) {
                x0 = x0.min(c.x);
                x1 = x1.max(c.x);
                y0 = y0.min(c.y);
                y1 = y1.max(c.y);
            }
            if x0 <= x1 {
                LocalProjection::new((x0 + x1) / 2.0, (y0 + y1) / 2.0)
            } else {
                LocalProjection::new(0.0, 0.0)
            }
        };
        let mut items = Vec::with_capacity(geom.len().saturating_sub(m));
        for e in 0..m {
            let g = &geom[geom_off[e] as usize..geom_off[e + 1] as usize];
            for (k, w) in g.windows(2).enumerate() {
                let a = proj.project(w[0]);
                let b = proj.project(w[1]);
                items.push(SegItem {
                    a: [a.x, a.y],
                    b: [b.x, b.y],
                    edge: e as u32,
                    seg: k as u32,
                });
            }
        }
        let rtree = RTree::bulk_load(items);
        // Bucket width for the search queue: the 5th percentile of positive edge lengths
        // (edges shorter than that are rare, so little is processed twice).
        let mut positive: Vec<f64> = edge_len.iter().copied().filter(|&l| l > 0.0).collect();
        let bucket_width = if positive.is_empty() {
            1.0
        } else {
            let k = positive.len() / 20;
            *positive.select_nth_unstable_by(k, f64::total_cmp).1
        };
        let total_len = edge_len.iter().sum();
        Ok(Self {
            node_ids,
            node_coords,
            edge_ids,
            edge_ends,
            edge_len,
            geom_off,
            geom,
            edge_highway,
            highways,
            edge_name,
            names,
            adj_off,
            arcs,
            component,
            component_sizes,
            proj,
            rtree,
            bucket_width,
            total_len,
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_coords.len()
    }
    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_ends.len()
    }
    /// External id of a node.
    pub fn node_id(&self, n: NodeIx) -> i64 {
        self.node_ids[n as usize]
    }
    /// All node external ids, by index.
    pub fn node_ids(&self) -> &[i64] {
        &self.node_ids
    }
    /// Position (lon/lat) of a node.
    pub fn node_coord(&self, n: NodeIx) -> Coord<f64> {
        self.node_coords[n as usize]
    }
    /// All node positions (lon/lat), by index.
    pub fn node_coords(&self) -> &[Coord<f64>] {
        &self.node_coords
    }
    /// External id of an edge.
    pub fn edge_id(&self, e: EdgeIx) -> i64 {
        self.edge_ids[e as usize]
    }
    /// Source and target node of an edge.
    pub fn edge_ends(&self, e: EdgeIx) -> [NodeIx; 2] {
        self.edge_ends[e as usize]
    }
    /// Length of an edge in metres.
    pub fn edge_len(&self, e: EdgeIx) -> f64 {
        self.edge_len[e as usize]
    }
    /// Geometry (lon/lat, source to target) of an edge.
    pub fn edge_geometry(&self, e: EdgeIx) -> &[Coord<f64>] {
        &self.geom[self.geom_off[e as usize] as usize..self.geom_off[e as usize + 1] as usize]
    }
    /// Geometry of an edge as a `LineString`.
    pub fn edge_line(&self, e: EdgeIx) -> LineString<f64> {
        LineString::from(self.edge_geometry(e).to_vec())
    }
    /// `highway` tag of an edge (empty when unknown).
    pub fn edge_highway(&self, e: EdgeIx) -> &str {
        self.highways
            .get(self.edge_highway[e as usize] as usize)
            .map_or("", String::as_str)
    }
    /// Name of an edge, if any.
    pub fn edge_name(&self, e: EdgeIx) -> Option<&str> {
        self.names
            .get(self.edge_name[e as usize] as usize)
            .map(String::as_str)
    }
    /// Arcs leaving a node (each incident edge once per end at this node).
    #[inline]
    pub fn arcs(&self, n: NodeIx) -> &[Arc] {
        &self.arcs[self.adj_off[n as usize] as usize..self.adj_off[n as usize + 1] as usize]
    }
    /// Hints the CPU to fetch a node's adjacency offset (first stage of a prefetch).
    #[inline(always)]
    pub(crate) fn prefetch_offset(&self, n: NodeIx) {
        prefetch(self.adj_off.as_ptr().wrapping_add(n as usize));
    }
    /// Hints the CPU to fetch a node's arcs (second stage, once the offset is cached).
    #[inline(always)]
    pub(crate) fn prefetch_arcs(&self, n: NodeIx) {
        if let Some(&o) = self.adj_off.get(n as usize) {
            prefetch(self.arcs.as_ptr().wrapping_add(o as usize));
        }
    }
    /// Connected component of a node; component 0 is the largest, then by decreasing size.
    pub fn component(&self, n: NodeIx) -> u32 {
        self.component[n as usize]
    }
    /// Component id of every node, by index.
    pub fn components(&self) -> &[u32] {
        &self.component
    }
    /// Node count of each component, largest first.
    pub fn component_sizes(&self) -> &[u32] {
        &self.component_sizes
    }
    /// Component of an edge (that of its source node).
    pub fn edge_component(&self, e: EdgeIx) -> u32 {
        self.component[self.edge_ends[e as usize][0] as usize]
    }
    /// Total length of all edges in metres.
    pub fn total_length_m(&self) -> f64 {
        self.total_len
    }
    /// Suggested bucket width in metres for search queues (a low percentile of edge lengths).
    pub fn bucket_width_hint(&self) -> f64 {
        self.bucket_width
    }
    /// The local projection used for snapping and buffering.
    pub fn projection(&self) -> &LocalProjection {
        &self.proj
    }
    /// Exports the network as nodes and edges that [`Network::from_parts`] accepts.
    pub fn to_parts(&self) -> (Vec<NodeSpec>, Vec<EdgeSpec>) {
        let nodes = (0..self.node_count())
            .map(|i| NodeSpec {
                id: self.node_ids[i],
                coord: self.node_coords[i],
            })
            .collect();
        let edges = (0..self.edge_count() as u32)
            .map(|e| EdgeSpec {
                id: self.edge_id(e),
                source: self.edge_ends(e)[0],
                target: self.edge_ends(e)[1],
                geometry: self.edge_geometry(e).to_vec(),
                length_m: Some(self.edge_len(e)),
                highway: self.edge_highway(e).to_string(),
                name: self.edge_name(e).map(str::to_string),
            })
            .collect();
        (nodes, edges)
    }

    /// Snaps a lon/lat point to the nearest point on the nearest edge; `None` only for an
    /// empty network.
    pub fn snap(&self, p: Coord<f64>) -> Option<Snap> {
        self.snap_where(p, |_| true)
    }

    /// Snaps to the nearest point on the nearest edge that `accept` allows (e.g. only the
    /// largest component: `|e| net.edge_component(e) == 0`).
    pub fn snap_where(
        &self,
        p: Coord<f64>,
        mut accept: impl FnMut(EdgeIx) -> bool,
    ) -> Option<Snap> {
        let q = self.proj.project(p);
        let q = [q.x, q.y];
        let item = self
            .rtree
            .nearest_neighbor_iter(&q)
            .find(|it| accept(it.edge))?;
        Some(self.snap_on_segment(p, item, &q))
    }

    fn snap_on_segment(&self, p: Coord<f64>, item: &SegItem, q: &[f64; 2]) -> Snap {
        let t = item.param(q);
        let g = self.edge_geometry(item.edge);
        let k = item.seg as usize;
        let a = g[k];
        let b = g[k + 1];
        let on_edge = Coord {
            x: a.x + t * (b.x - a.x),
            y: a.y + t * (b.y - a.y),
        };
        let before = haversine_length(&g[..=k]);
        let offset = (before + haversine(a, on_edge)).min(self.edge_len(item.edge));
        Snap {
            edge: item.edge,
            offset_m: offset.max(0.0),
            access_m: haversine(p, on_edge),
            on_edge,
        }
    }

    /// A snap exactly at a node (zero access leg), on its first incident edge; `None` for an
    /// isolated node or a bad index.
    pub fn snap_at_node(&self, n: NodeIx) -> Option<Snap> {
        let arc = self.arcs.get(
            *self.adj_off.get(n as usize)? as usize..*self.adj_off.get(n as usize + 1)? as usize,
        )?;
        let arc = arc.first()?;
        let e = arc.edge();
        let offset_m = if arc.forward() { 0.0 } else { self.edge_len(e) };
        Some(Snap {
            edge: e,
            offset_m,
            access_m: 0.0,
            on_edge: self.node_coord(n),
        })
    }

    /// The part of an edge between `from_m` and `to_m` metres from its source, as lon/lat
    /// coordinates (positions interpolated linearly within a segment).
    pub fn edge_piece(&self, e: EdgeIx, from_m: f64, to_m: f64) -> Vec<Coord<f64>> {
        let g = self.edge_geometry(e);
        let len = self.edge_len(e);
        let (from_m, to_m) = (from_m.clamp(0.0, len), to_m.clamp(0.0, len));
        if from_m <= 0.0 && to_m >= len {
            return g.to_vec();
        }
        // Stored lengths may differ from the geometry's haversine length by rounding (or by
        // design when loaded from storage): scale positions to the geometry.
        let glen = haversine_length(g);
        let scale = if len > 0.0 { glen / len } else { 0.0 };
        let (f, t) = (from_m * scale, to_m * scale);
        let mut out = Vec::new();
        let mut pos = 0.0;
        for w in g.windows(2) {
            let sl = haversine(w[0], w[1]);
            let end = pos + sl;
            let lerp = |d: f64| {
                let u = if sl > 0.0 {
                    ((d - pos) / sl).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                Coord {
                    x: w[0].x + u * (w[1].x - w[0].x),
                    y: w[0].y + u * (w[1].y - w[0].y),
                }
            };
            if end >= f && pos <= t {
                if out.is_empty() {
                    out.push(lerp(f.max(pos)));
                }
                if end <= t {
                    out.push(w[1]);
                } else {
                    out.push(lerp(t));
                    break;
                }
            }
            pos = end;
        }
        if out.len() == 1 {
            out.push(out[0]);
        }
        out
    }
}

/// Index of (x, y) on a Hilbert curve filling a 2^16 × 2^16 grid.
fn hilbert_index(mut x: u32, mut y: u32) -> u64 {
    const N: u32 = 1 << 16;
    let mut d = 0u64;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Renumbers nodes along a Hilbert curve over their bounding box and sorts edges by their
/// lower new endpoint (indices must already be valid).
fn locality_order(
    nodes: Vec<NodeSpec>,
    mut edges: Vec<EdgeSpec>,
) -> (Vec<NodeSpec>, Vec<EdgeSpec>) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for nd in &nodes {
        if finite(&nd.coord) {
            x0 = x0.min(nd.coord.x);
            x1 = x1.max(nd.coord.x);
            y0 = y0.min(nd.coord.y);
            y1 = y1.max(nd.coord.y);
        }
    }
    let cell = |v: f64, lo: f64, hi: f64| -> u32 {
        if hi > lo && v.is_finite() {
            (((v - lo) / (hi - lo)) * 65535.0).clamp(0.0, 65535.0) as u32
        } else {
            0
        }
    };
    let mut order: Vec<(u64, u32)> = nodes
        .iter()
        .enumerate()
        .map(|(i, nd)| {
            (
                hilbert_index(cell(nd.coord.x, x0, x1), cell(nd.coord.y, y0, y1)),
                i as u32,
            )
        })
        .collect();
    order.sort_unstable();
    let mut new_of = vec![0u32; nodes.len()];
    for (new, &(_, old)) in order.iter().enumerate() {
        new_of[old as usize] = new as u32;
    }
    let mut slots: Vec<Option<NodeSpec>> = nodes.into_iter().map(Some).collect();
    let nodes: Vec<NodeSpec> = order
        .iter()
        .filter_map(|&(_, old)| slots[old as usize].take())
        .collect();
    for e in &mut edges {
        e.source = new_of[e.source as usize];
        e.target = new_of[e.target as usize];
    }
    edges.sort_by_key(|e| (e.source.min(e.target), e.source.max(e.target)));
    (nodes, edges)
}

/// Labels connected components by BFS; relabels so that 0 is the largest component.
fn components(n: usize, adj_off: &[u32], arcs: &[Arc]) -> (Vec<u32>, Vec<u32>) {
    let mut comp = vec![u32::MAX; n];
    let mut sizes: Vec<u32> = Vec::new();
    let mut stack = Vec::new();
    for s in 0..n {
        if comp[s] != u32::MAX {
            continue;
        }
        let c = sizes.len() as u32;
        comp[s] = c;
        stack.push(s as u32);
        let mut size = 0u32;
        while let Some(u) = stack.pop() {
            size += 1;
            for a in &arcs[adj_off[u as usize] as usize..adj_off[u as usize + 1] as usize] {
                if comp[a.to as usize] == u32::MAX {
                    comp[a.to as usize] = c;
                    stack.push(a.to);
                }
            }
        }
        sizes.push(size);
    }
    let mut order: Vec<u32> = (0..sizes.len() as u32).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(sizes[c as usize]), c));
    let mut relabel = vec![0u32; sizes.len()];
    for (new, &old) in order.iter().enumerate() {
        relabel[old as usize] = new as u32;
    }
    for c in comp.iter_mut() {
        *c = relabel[*c as usize];
    }
    let sorted = order.iter().map(|&c| sizes[c as usize]).collect();
    (comp, sorted)
}

/// A line to be split into edges: its vertices keyed by node identity, and its tags.
#[derive(Debug, Clone)]
pub(crate) struct RawWay<K> {
    /// Vertices in order: identity key and lon/lat position.
    pub nodes: Vec<(K, Coord<f64>)>,
    /// `highway` value.
    pub highway: String,
    /// Name, if any.
    pub name: Option<String>,
}

/// Splits ways into edges at vertices shared by two or more way occurrences and at way
/// ends, then builds the network; `node_id` gives a node's external id from its key.
pub(crate) fn build_from_ways<K: Hash + Eq + Copy>(
    ways: Vec<RawWay<K>>,
    mut node_id: impl FnMut(K, usize) -> i64,
) -> Result<Network, NetworkError> {
    let mut uses: HashMap<K, u32> = HashMap::new();
    let mut ways = ways;
    for w in &mut ways {
        w.nodes.dedup_by(|a, b| a.0 == b.0);
        if w.nodes.len() < 2 {
            continue;
        }
        for (k, _) in &w.nodes {
            *uses.entry(*k).or_insert(0) += 1;
        }
    }
    let mut node_ix: HashMap<K, NodeIx> = HashMap::new();
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let mut edges: Vec<EdgeSpec> = Vec::new();
    let mut node_of = |k: K, c: Coord<f64>, nodes: &mut Vec<NodeSpec>| -> NodeIx {
        *node_ix.entry(k).or_insert_with(|| {
            let ix = nodes.len();
            nodes.push(NodeSpec {
                id: node_id(k, ix),
                coord: c,
            });
            ix as NodeIx
        })
    };
    for w in ways {
        if w.nodes.len() < 2 {
            continue;
        }
        let last = w.nodes.len() - 1;
        let mut start = 0usize;
        for i in 1..=last {
            let k = w.nodes[i].0;
            if i == last || uses.get(&k).copied().unwrap_or(0) >= 2 {
                let s = node_of(w.nodes[start].0, w.nodes[start].1, &mut nodes);
                let t = node_of(k, w.nodes[i].1, &mut nodes);
                edges.push(EdgeSpec {
                    id: edges.len() as i64,
                    source: s,
                    target: t,
                    geometry: w.nodes[start..=i].iter().map(|(_, c)| *c).collect(),
                    length_m: None,
                    highway: w.highway.clone(),
                    name: w.name.clone(),
                });
                start = i;
            }
        }
    }
    Network::from_parts(nodes, edges)
}

/// A line for [`Network::from_lines`]: geometry plus its `highway` and `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineInput {
    /// Geometry, lon/lat.
    pub geometry: LineString<f64>,
    /// `highway` value (may be empty).
    pub highway: String,
    /// Street name, if any.
    pub name: Option<String>,
}

fn coord_key(c: &Coord<f64>) -> (u64, u64) {
    // +0.0 so that -0.0 and 0.0 coincide.
    ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
}

impl Network {
    /// Builds a network from lines, split where a vertex of one line coincides exactly with
    /// a vertex of another (or of itself) and at line ends; node ids are 0, 1, 2, ...
    pub fn from_lines(lines: &[LineInput]) -> Result<Self, NetworkError> {
        let mut ways = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            if !l.geometry.0.iter().all(finite) {
                return Err(NetworkError::BadValue {
                    edge: i,
                    what: "coordinate",
                });
            }
            ways.push(RawWay {
                nodes: l.geometry.0.iter().map(|c| (coord_key(c), *c)).collect(),
                highway: l.highway.clone(),
                name: l.name.clone(),
            });
        }
        build_from_ways(ways, |_, ix| ix as i64)
    }

    /// Builds a network from a GeoJSON FeatureCollection of `LineString`/`MultiLineString`
    /// features with optional `highway` and `name` string properties; other geometry types
    /// are an error.
    pub fn from_geojson(fc: &geojson::FeatureCollection) -> Result<Self, NetworkError> {
        let mut lines = Vec::new();
        for (i, f) in fc.features.iter().enumerate() {
            let prop = |k: &str| {
                f.properties
                    .as_ref()
                    .and_then(|p| p.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let highway = prop("highway").unwrap_or_default();
            let name = prop("name");
            let Some(g) = &f.geometry else {
                return Err(NetworkError::GeoJson {
                    feature: i,
                    reason: "no geometry".into(),
                });
            };
            let to_ls = |pts: &Vec<geojson::Position>| -> Result<LineString<f64>, NetworkError> {
                pts.iter()
                    .map(|p| match p.as_slice() {
                        [x, y, ..] => Ok(Coord { x: *x, y: *y }),
                        _ => Err(NetworkError::GeoJson {
                            feature: i,
                            reason: "position with fewer than 2 numbers".into(),
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(LineString::from)
            };
            match &g.value {
                geojson::GeometryValue::LineString { coordinates: pts } => lines.push(LineInput {
                    geometry: to_ls(pts)?,
                    highway,
                    name,
                }),
                geojson::GeometryValue::MultiLineString { coordinates: parts } => {
                    for pts in parts {
                        lines.push(LineInput {
                            geometry: to_ls(pts)?,
                            highway: highway.clone(),
                            name: name.clone(),
                        });
                    }
                }
                _ => {
                    return Err(NetworkError::GeoJson {
                        feature: i,
                        reason: "geometry is not a LineString or MultiLineString".into(),
                    })
                }
            }
        }
        Self::from_lines(&lines)
    }

    /// A perturbed `cols` × `rows` lattice of straight edges around (`lon0`, `lat0`) with
    /// mean spacing `spacing_m` and node jitter up to `jitter` × spacing; deterministic for
    /// a seed. Used by benchmarks and tests as a large synthetic network.
    pub fn synthetic_lattice(
        cols: usize,
        rows: usize,
        spacing_m: f64,
        jitter: f64,
        lon0: f64,
        lat0: f64,
        seed: u64,
    ) -> Result<Self, NetworkError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let proj = LocalProjection::new(lon0, lat0);
        let mut nodes = Vec::with_capacity(cols * rows);
        for r in 0..rows {
            for c in 0..cols {
                let dx = rng.gen_range(-jitter..=jitter) * spacing_m;
                let dy = rng.gen_range(-jitter..=jitter) * spacing_m;
                let x = (c as f64 - cols as f64 / 2.0) * spacing_m + dx;
                let y = (r as f64 - rows as f64 / 2.0) * spacing_m + dy;
                nodes.push(NodeSpec {
                    id: (r * cols + c) as i64,
                    coord: proj.unproject(Coord { x, y }),
                });
            }
        }
        let mut edges = Vec::with_capacity(2 * cols * rows);
        let add = |s: usize, t: usize, edges: &mut Vec<EdgeSpec>| {
            edges.push(EdgeSpec {
                id: edges.len() as i64,
                source: s as NodeIx,
                target: t as NodeIx,
                geometry: vec![nodes[s].coord, nodes[t].coord],
                length_m: None,
                highway: "residential".into(),
                name: None,
            });
        };
        for r in 0..rows {
            for c in 0..cols {
                let i = r * cols + c;
                if c + 1 < cols {
                    add(i, i + 1, &mut edges);
                }
                if r + 1 < rows {
                    add(i, i + cols, &mut edges);
                }
            }
        }
        Self::from_parts(nodes, edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    #[test]
    fn lines_split_at_shared_vertices() {
        // A cross: two lines sharing their middle vertex, plus a dangling line touching an end.
        let lines = vec![
            LineInput {
                geometry: LineString::from(vec![c(0.0, 0.0), c(0.001, 0.0), c(0.002, 0.0)]),
                highway: "footway".into(),
                name: Some("A".into()),
            },
            LineInput {
                geometry: LineString::from(vec![c(0.001, -0.001), c(0.001, 0.0), c(0.001, 0.001)]),
                highway: "residential".into(),
                name: None,
            },
            LineInput {
                geometry: LineString::from(vec![c(0.002, 0.0), c(0.003, 0.0)]),
                highway: "path".into(),
                name: None,
            },
            LineInput {
                geometry: LineString::from(vec![c(1.0, 1.0), c(1.001, 1.0)]),
                highway: "path".into(),
                name: None,
            },
        ];
        let net = Network::from_lines(&lines).expect("valid lines");
        assert_eq!(net.edge_count(), 6);
        assert_eq!(net.node_count(), 8);
        assert_eq!(net.component_sizes(), &[6, 2]);
        let centre = (0..net.node_count() as u32)
            .find(|&n| net.node_coord(n) == c(0.001, 0.0))
            .expect("centre node");
        assert_eq!(net.arcs(centre).len(), 4);
        let total: f64 = net.total_length_m();
        let expect = haversine_length(&[c(0.0, 0.0), c(0.003, 0.0)])
            + haversine_length(&[c(0.001, -0.001), c(0.001, 0.001)])
            + haversine_length(&[c(1.0, 1.0), c(1.001, 1.0)]);
        assert!((total - expect).abs() < 1e-6);
        let named: Vec<u32> = (0..6).filter(|&e| net.edge_name(e) == Some("A")).collect();
        assert_eq!(named.len(), 2);
        assert!(named.iter().all(|&e| net.edge_highway(e) == "footway"));
    }

    #[test]
    fn snap_finds_nearest_point_and_offset() {
        let lines = vec![LineInput {
            geometry: LineString::from(vec![c(0.0, 0.0), c(0.01, 0.0)]),
            highway: "footway".into(),
            name: None,
        }];
        let net = Network::from_lines(&lines).expect("valid");
        let s = net.snap(c(0.004, 0.0001)).expect("snap");
        assert!((s.on_edge.x - 0.004).abs() < 1e-9);
        let want_off = haversine(c(0.0, 0.0), c(0.004, 0.0));
        assert!((s.offset_m - want_off).abs() < 1e-6);
        assert!((s.access_m - haversine(c(0.004, 0.0001), c(0.004, 0.0))).abs() < 1e-6);
        let piece = net.edge_piece(0, want_off, net.edge_len(0));
        assert!((haversine_length(&piece) - (net.edge_len(0) - want_off)).abs() < 1e-6);
    }

    #[test]
    fn geojson_lines_are_imported() {
        let fc: geojson::FeatureCollection = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"highway":"footway","name":"陵江路"},
             "geometry":{"type":"LineString","coordinates":[[105.8,32.4],[105.801,32.4],[105.802,32.4]]}},
            {"type":"Feature","properties":{"highway":"steps"},
             "geometry":{"type":"MultiLineString","coordinates":[[[105.801,32.399],[105.801,32.4]],[[105.802,32.4],[105.802,32.401]]]}}
        ]}"#
        .parse()
        .expect("valid GeoJSON");
        let net = Network::from_geojson(&fc).expect("lines");
        // The footway splits at 105.801 (shared vertex); its end at 105.802 meets the steps.
        assert_eq!(net.edge_count(), 4);
        assert_eq!(net.node_count(), 5);
        assert_eq!(net.component_sizes(), &[5]);
        assert_eq!(
            (0..4)
                .filter(|&e| net.edge_name(e) == Some("陵江路"))
                .count(),
            2
        );
        let bad: geojson::FeatureCollection = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#
            .parse()
            .expect("valid GeoJSON");
        assert!(matches!(
            Network::from_geojson(&bad),
            Err(NetworkError::GeoJson { feature: 0, .. })
        ));
    }

    #[test]
    fn bad_input_is_rejected() {
        let nodes = vec![NodeSpec {
            id: 1,
            coord: c(0.0, 0.0),
        }];
        let edges = vec![EdgeSpec {
            id: 1,
            source: 0,
            target: 3,
            geometry: vec![c(0.0, 0.0), c(0.0, 1.0)],
            length_m: None,
            highway: String::new(),
            name: None,
        }];
        assert!(matches!(
            Network::from_parts(nodes, edges),
            Err(NetworkError::BadNodeIndex { .. })
        ));
    }
}
