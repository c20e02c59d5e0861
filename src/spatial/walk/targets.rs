//! Snapped targets (buildings) indexed by edge and by node, to turn a search's node
//! distances into exact target distances touching only the reached part of the network.

use super::dijkstra::{Dijkstra, PREFETCH_AHEAD};
use crate::spatial::network::{prefetch, EdgeIx, Network, Snap};

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
