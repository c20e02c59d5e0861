//! Placing points on the network: the R-tree items of edge segments (in the network's local
//! projection to metres), snapping a point to the nearest edge, and cutting a piece out of an edge.

use geo::Coord;
use rstar::{PointDistance, RTreeObject, AABB};

use super::{haversine, haversine_length, EdgeIx, Network, NodeIx, Snap};

/// One segment of an edge in projected metres, as stored in the R-tree.
#[derive(Debug, Clone, Copy)]
pub(super) struct SegItem {
    pub(super) a: [f64; 2],
    pub(super) b: [f64; 2],
    pub(super) edge: EdgeIx,
    pub(super) seg: u32,
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

impl Network {
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
