//! Building the compact network from nodes and edges: input checks, a locality-preserving
//! renumbering, interned tags, the CSR adjacency, components and the segment R-tree.

use std::collections::HashMap;

use geo::Coord;
use rstar::RTree;

use super::snap::SegItem;
use super::LocalProjection;
use super::{
    finite, haversine_length, Arc, EdgeSpec, Network, NetworkError, NodeSpec, REVERSE_BIT,
};

impl Network {
    /// Builds a network from nodes and edges whose `source`/`target` are indices into
    /// `nodes`. Nodes are renumbered along a Hilbert curve and edges sorted by their first
    /// node so that nearby nodes sit nearby in memory (searches touch fewer cache lines);
    /// external ids are kept, so look nodes up by id, not by input position.
    pub fn from_parts(nodes: Vec<NodeSpec>, edges: Vec<EdgeSpec>) -> Result<Self, NetworkError> {
        check_parts(&nodes, &edges)?;
        let (n, m) = (nodes.len(), edges.len());
        let (nodes, edges) = locality_order(nodes, edges);
        let (node_ids, node_coords): (Vec<i64>, Vec<Coord<f64>>) =
            nodes.into_iter().map(|nd| (nd.id, nd.coord)).unzip();
        let cols = EdgeColumns::new(edges, n)?;
        let (adj_off, arcs) = adjacency(n, &cols.ends, &cols.len);
        let (component, component_sizes) = components(n, &adj_off, &arcs);
        let proj = projection_around(&node_coords, &cols.geom);
        let rtree = segment_tree(&proj, &cols.geom, &cols.geom_off, m);
        let bucket_width = bucket_width(&cols.len);
        let total_len = cols.len.iter().sum();
        Ok(Self {
            node_ids,
            node_coords,
            edges: cols,
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
}

/// Rejects input that the compact layout cannot hold or that has bad values: too many
/// nodes or edges, an edge's node index out of range, a geometry of fewer than two points,
/// a coordinate or length that is not finite (or out of range), a node off the globe.
fn check_parts(nodes: &[NodeSpec], edges: &[EdgeSpec]) -> Result<(), NetworkError> {
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
    Ok(())
}

/// The edges as columns: ids, ends, lengths, geometries packed behind offsets, and the
/// `highway` values and names interned (each distinct string stored once).
#[derive(Debug, Clone)]
pub(super) struct EdgeColumns {
    /// External ids.
    pub(super) ids: Vec<i64>,
    /// Source and target node of each edge.
    pub(super) ends: Vec<[u32; 2]>,
    /// Lengths in metres.
    pub(super) len: Vec<f64>,
    /// Where each edge's geometry starts in `geom` (one more entry than edges).
    pub(super) geom_off: Vec<u32>,
    /// Every edge's geometry, one after another.
    pub(super) geom: Vec<Coord<f64>>,
    /// Position of each edge's `highway` value in `highways`.
    pub(super) highway: Vec<u16>,
    /// The distinct `highway` values.
    pub(super) highways: Vec<String>,
    /// Position of each edge's name in `names` (`u32::MAX` for none).
    pub(super) name: Vec<u32>,
    /// The distinct names.
    pub(super) names: Vec<String>,
}

impl EdgeColumns {
    /// Columns of `edges` (in their order) on a network of `n` nodes.
    fn new(edges: Vec<EdgeSpec>, n: usize) -> Result<Self, NetworkError> {
        let m = edges.len();
        let mut cols = Self {
            ids: Vec::with_capacity(m),
            ends: Vec::with_capacity(m),
            len: Vec::with_capacity(m),
            geom_off: Vec::with_capacity(m + 1),
            geom: Vec::new(),
            highway: Vec::with_capacity(m),
            highways: Vec::new(),
            name: Vec::with_capacity(m),
            names: Vec::new(),
        };
        let mut highway_ix: HashMap<String, u16> = HashMap::new();
        let mut name_ix: HashMap<String, u32> = HashMap::new();
        cols.geom_off.push(0u32);
        for e in edges {
            let len = e.length_m.unwrap_or_else(|| haversine_length(&e.geometry));
            cols.ids.push(e.id);
            cols.ends.push([e.source, e.target]);
            cols.len.push(len);
            cols.geom.extend_from_slice(&e.geometry);
            if cols.geom.len() > u32::MAX as usize {
                return Err(NetworkError::TooLarge { nodes: n, edges: m });
            }
            cols.geom_off.push(cols.geom.len() as u32);
            let h = *highway_ix.entry(e.highway).or_insert_with_key(|k| {
                cols.highways.push(k.clone());
                (cols.highways.len() - 1) as u16
            });
            cols.highway.push(h);
            let nm = match e.name {
                None => u32::MAX,
                Some(s) => *name_ix.entry(s).or_insert_with_key(|k| {
                    cols.names.push(k.clone());
                    (cols.names.len() - 1) as u32
                }),
            };
            cols.name.push(nm);
        }
        Ok(cols)
    }
}

/// The CSR adjacency (offsets per node, then arcs): every edge appears once from each end
/// (a self-loop twice at its node).
fn adjacency(n: usize, edge_ends: &[[u32; 2]], edge_len: &[f64]) -> (Vec<u32>, Vec<Arc>) {
    let mut deg = vec![0u32; n + 1];
    for &[s, t] in edge_ends {
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
    (adj_off, arcs)
}

/// A local projection centred on the bounding box of all node and geometry coordinates
/// (on (0, 0) for an empty network).
fn projection_around(node_coords: &[Coord<f64>], geom: &[Coord<f64>]) -> LocalProjection {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for c in node_coords.iter().chain(geom.iter()) {
        x0 = x0.min(c.x);
        x1 = x1.max(c.x);
        y0 = y0.min(c.y);
        y1 = y1.max(c.y);
    }
    if x0 <= x1 {
        super::projection_at((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    } else {
        super::projection_at(0.0, 0.0)
    }
}

/// The R-tree of every edge segment, projected to metres, for snapping.
fn segment_tree(
    proj: &LocalProjection,
    geom: &[Coord<f64>],
    geom_off: &[u32],
    m: usize,
) -> RTree<SegItem> {
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
    RTree::bulk_load(items)
}

/// Bucket width for the search queue: the 5th percentile of positive edge lengths (edges
/// shorter than that are rare, so little is processed twice).
fn bucket_width(edge_len: &[f64]) -> f64 {
    let mut positive: Vec<f64> = edge_len.iter().copied().filter(|&l| l > 0.0).collect();
    if positive.is_empty() {
        1.0
    } else {
        let k = positive.len() / 20;
        *positive.select_nth_unstable_by(k, f64::total_cmp).1
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
    for c in &mut comp {
        *c = relabel[*c as usize];
    }
    let sorted = order.iter().map(|&c| sizes[c as usize]).collect();
    (comp, sorted)
}
