//! The walking network held in memory: an undirected graph in compressed sparse row (CSR)
//! form with haversine edge lengths in metres, each edge's geometry (lon/lat), connected
//! component ids, and an R-tree over edge segments for snapping points onto the network.
//!
//! This module owns graph construction (splitting lines at shared vertices), snapping and
//! the small geometric helpers that the search, isochrone and siting modules need. It does
//! no shortest-path search itself (see `spatial::walk`), reads no files (see
//! `spatial::osm`) and runs no SQL (see `store::network`).
//!
//! This file holds the graph's types and its read accessors; `build` makes the compact
//! layout from nodes and edges, `input` turns lines, GeoJSON and ways into nodes and edges,
//! and `snap` places points on edges.

mod build;
mod input;
mod snap;
#[cfg(test)]
mod tests;

pub use crate::spatial::geodesy::LocalProjection;
use build::EdgeColumns;
pub use input::LineInput;
pub(crate) use input::{build_from_ways, RawWay};
use snap::SegItem;

use geo::{Coord, Distance, Haversine, LineString, Point};
use rstar::RTree;

/// Index of a node in a [`Network`] (0-based, dense).
pub type NodeIx = u32;
/// Index of an edge in a [`Network`] (0-based, dense).
pub type EdgeIx = u32;

/// Mean earth radius in metres used for the local projection (same as geo's haversine).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The network's local projection centred on (`lon0`, `lat0`): metres on the sphere its
/// haversine lengths are measured on.
fn projection_at(lon0: f64, lat0: f64) -> LocalProjection {
    LocalProjection::spherical(lon0, lat0, EARTH_RADIUS_M)
}

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

/// The walking network: an undirected graph with CSR adjacency, haversine edge lengths in
/// metres, edge geometries, connected components and a segment R-tree for snapping.
#[derive(Debug, Clone)]
pub struct Network {
    node_ids: Vec<i64>,
    node_coords: Vec<Coord<f64>>,
    edges: EdgeColumns,
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
#[allow(unsafe_code)] // a prefetch hint, see below
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
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_coords.len()
    }
    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.ends.len()
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
        self.edges.ids[e as usize]
    }
    /// Source and target node of an edge.
    pub fn edge_ends(&self, e: EdgeIx) -> [NodeIx; 2] {
        self.edges.ends[e as usize]
    }
    /// Length of an edge in metres.
    pub fn edge_len(&self, e: EdgeIx) -> f64 {
        self.edges.len[e as usize]
    }
    /// Geometry (lon/lat, source to target) of an edge.
    pub fn edge_geometry(&self, e: EdgeIx) -> &[Coord<f64>] {
        &self.edges.geom
            [self.edges.geom_off[e as usize] as usize..self.edges.geom_off[e as usize + 1] as usize]
    }
    /// Geometry of an edge as a `LineString`.
    pub fn edge_line(&self, e: EdgeIx) -> LineString<f64> {
        LineString::from(self.edge_geometry(e).to_vec())
    }
    /// `highway` tag of an edge (empty when unknown).
    pub fn edge_highway(&self, e: EdgeIx) -> &str {
        self.edges
            .highways
            .get(self.edges.highway[e as usize] as usize)
            .map_or("", String::as_str)
    }
    /// Name of an edge, if any.
    pub fn edge_name(&self, e: EdgeIx) -> Option<&str> {
        self.edges
            .names
            .get(self.edges.name[e as usize] as usize)
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
        self.component[self.edges.ends[e as usize][0] as usize]
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
}
