//! The walking search: a bucket queue and a multi-source Dijkstra with a cutoff and
//! reusable buffers, started from nodes or from snapped points (each with its access leg).

use crate::spatial::network::{prefetch, Network, NodeIx, Snap};

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
pub(super) const PREFETCH_AHEAD: usize = 8;
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
    pub(super) dist: Vec<f64>,
    queue: BucketQueue,
    reached: Vec<NodeIx>,
    pub(super) cutoff: f64,
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
    pub(super) fn empty() -> Self {
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
