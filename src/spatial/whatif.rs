//! What-if scenarios for one station kind: add, move or remove stations and get exact
//! building distances again without a full recomputation.
//!
//! Owns incremental maintenance of a multi-source shortest-path forest with a cutoff:
//! adding a station runs a search pruned to the nodes it improves; removing one resets only
//! the nodes whose nearest station it was and re-grows them from their neighbours and the
//! remaining stations. Nothing here is saved; storage is the caller's.

use std::collections::HashMap;

use crate::spatial::network::{EdgeIx, Network, NodeIx, Snap};
use crate::spatial::walk::{search, snap_seeds, BucketQueue, Seed, TargetIndex};

/// Errors from scenario edits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WhatIfError {
    /// The station slot does not exist or was already removed.
    #[error("no station in slot {0}")]
    NoSuchStation(usize),
}

/// Building-level change caused by one edit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// Buildings (rows) whose distance changed: (row, before, after), `INFINITY` = beyond cutoff.
    pub changed: Vec<(u32, f64, f64)>,
}

/// One kind's stations and the exact distances they give, kept up to date under edits.
#[derive(Debug, Clone)]
pub struct KindScenario<'a> {
    net: &'a Network,
    targets: &'a TargetIndex,
    target_snaps: &'a [Snap],
    cutoff: f64,
    stations: Vec<Option<Snap>>,
    dist: Vec<f64>,
    owner: Vec<u32>,
    target_dist: Vec<f64>,
    heap: BucketQueue,
    scratch: Vec<NodeIx>,
    by_edge: HashMap<EdgeIx, Vec<u32>>,
}

impl<'a> KindScenario<'a> {
    /// Starts from `stations` (slots 0..n) with a full computation.
    pub fn new(
        net: &'a Network,
        targets: &'a TargetIndex,
        target_snaps: &'a [Snap],
        stations: &[Snap],
        cutoff_m: f64,
    ) -> Self {
        let mut s = Self {
            net,
            targets,
            target_snaps,
            cutoff: cutoff_m,
            stations: Vec::new(),
            dist: vec![f64::INFINITY; net.node_count()],
            owner: vec![u32::MAX; net.node_count()],
            target_dist: vec![f64::INFINITY; target_snaps.len()],
            heap: BucketQueue::new(),
            scratch: Vec::new(),
            by_edge: HashMap::new(),
        };
        for st in stations {
            // Each add is exact, so the result equals a full multi-source run.
            s.add(*st);
        }
        s
    }

    /// Exact metres from each building row to its nearest station (`INFINITY` beyond cutoff).
    pub fn target_distances(&self) -> &[f64] {
        &self.target_dist
    }
    /// Node distances by index (`INFINITY` beyond cutoff).
    pub fn node_distances(&self) -> &[f64] {
        &self.dist
    }
    /// Current stations by slot (`None` where removed).
    pub fn stations(&self) -> &[Option<Snap>] {
        &self.stations
    }
    /// The cutoff in metres.
    pub fn cutoff_m(&self) -> f64 {
        self.cutoff
    }

    /// Adds a station; returns its slot and the building changes.
    pub fn add(&mut self, snap: Snap) -> (usize, Change) {
        let slot = self.stations.len();
        self.stations.push(Some(snap));
        self.by_edge.entry(snap.edge).or_default().push(slot as u32);
        let change = self.grow_from(slot, snap);
        (slot, change)
    }

    /// Removes the station in `slot`; returns the building changes.
    pub fn remove(&mut self, slot: usize) -> Result<Change, WhatIfError> {
        let snap = self
            .stations
            .get_mut(slot)
            .and_then(Option::take)
            .ok_or(WhatIfError::NoSuchStation(slot))?;
        if let Some(v) = self.by_edge.get_mut(&snap.edge) {
            v.retain(|&s| s as usize != slot);
        }
        let net = self.net;
        let owner_id = slot as u32;
        // Region that relied on the removed station.
        let mut region = std::mem::take(&mut self.scratch);
        region.clear();
        for (v, o) in self.owner.iter().enumerate() {
            if *o == owner_id {
                region.push(v as NodeIx);
            }
        }
        for &v in &region {
            self.dist[v as usize] = f64::INFINITY;
            self.owner[v as usize] = u32::MAX;
        }
        self.heap
            .reset(net, self.cutoff.min(net.total_length_m() + 10_000.0));
        // Re-seed from the region's settled neighbours...
        for &v in &region {
            for a in net.arcs(v) {
                let du = self.dist[a.to as usize];
                let nd = du + a.len;
                if du.is_finite() && nd <= self.cutoff && nd < self.dist[v as usize] {
                    self.dist[v as usize] = nd;
                    self.owner[v as usize] = self.owner[a.to as usize];
                    self.heap.push(nd, v);
                }
            }
        }
        // ...and from remaining stations whose own starts fall inside it.
        let seeds: Vec<Seed> = self
            .stations
            .iter()
            .enumerate()
            .filter_map(|(i, st)| st.as_ref().map(|st| snap_seeds(net, st, i as u32)))
            .flatten()
            .collect();
        for sd in seeds {
            self.seed(sd);
        }
        self.settle(|_, _| {});
        // Buildings on edges touching the region, and on the removed station's edge.
        let mut change = Change::default();
        let mut edges: Vec<EdgeIx> = region
            .iter()
            .flat_map(|&v| net.arcs(v).iter().map(super::network::Arc::edge))
            .collect();
        edges.push(snap.edge);
        edges.sort_unstable();
        edges.dedup();
        for e in edges {
            for t in self.targets.on_edge(e) {
                self.refresh_target(t.target, &mut change);
            }
        }
        self.scratch = region;
        Ok(change)
    }

    /// Moves the station in `slot` to `snap`; returns the net building changes.
    pub fn move_to(&mut self, slot: usize, snap: Snap) -> Result<Change, WhatIfError> {
        let before = self.remove(slot)?;
        self.stations[slot] = Some(snap);
        self.by_edge.entry(snap.edge).or_default().push(slot as u32);
        let after = self.grow_from(slot, snap);
        // Merge: first "before" per row, last "after" per row; drop rows that ended equal.
        let mut merged: HashMap<u32, (f64, f64)> = HashMap::new();
        for (t, b, a) in before.changed.into_iter().chain(after.changed) {
            merged.entry(t).and_modify(|e| e.1 = a).or_insert((b, a));
        }
        let mut changed: Vec<(u32, f64, f64)> = merged
            .into_iter()
            .filter(|(_, (b, a))| b != a)
            .map(|(t, (b, a))| (t, b, a))
            .collect();
        changed.sort_unstable_by_key(|c| c.0);
        Ok(Change { changed })
    }

    /// Queues start `sd` if it improves its node's label (within the cutoff); says whether
    /// it did.
    fn seed(&mut self, sd: Seed) -> bool {
        let v = sd.node as usize;
        let better = sd.dist <= self.cutoff && sd.dist < self.dist[v];
        if better {
            self.dist[v] = sd.dist;
            self.owner[v] = sd.owner;
            self.heap.push(sd.dist, sd.node);
        }
        better
    }

    /// Runs the owner-tracking search from what is queued; `changed(v, old)` is called for
    /// each label that improves.
    fn settle(&mut self, changed: impl FnMut(NodeIx, f64)) {
        search::<true>(
            self.net,
            &mut self.dist,
            &mut self.owner,
            &mut self.heap,
            self.cutoff,
            changed,
        );
    }

    /// Pruned search from a new station: only nodes it brings closer are touched.
    fn grow_from(&mut self, slot: usize, snap: Snap) -> Change {
        let net = self.net;
        self.heap
            .reset(net, self.cutoff.min(net.total_length_m() + 10_000.0));
        let mut touched = std::mem::take(&mut self.scratch);
        touched.clear();
        for sd in snap_seeds(net, &snap, slot as u32) {
            if self.seed(sd) {
                touched.push(sd.node);
            }
        }
        self.settle(|v, _| touched.push(v));
        let mut change = Change::default();
        for &v in &touched {
            for a in net.arcs(v) {
                for t in self.targets.on_edge(a.edge()) {
                    let old = self.target_dist[t.target as usize];
                    let along = if a.forward() {
                        t.offset
                    } else {
                        a.len - t.offset
                    };
                    let d = self.dist[v as usize] + along.max(0.0) + t.access;
                    if d <= self.cutoff && d < old {
                        self.target_dist[t.target as usize] = d;
                        change.changed.push((t.target, old, d));
                    }
                }
            }
        }
        for t in self.targets.on_edge(snap.edge) {
            let old = self.target_dist[t.target as usize];
            let d = snap.access_m + (snap.offset_m - t.offset).abs() + t.access;
            if d <= self.cutoff && d < old {
                self.target_dist[t.target as usize] = d;
                change.changed.push((t.target, old, d));
            }
        }
        self.scratch = touched;
        compress(&mut change);
        change
    }

    fn refresh_target(&mut self, t: u32, change: &mut Change) {
        let Some(ts) = self.target_snaps.get(t as usize) else {
            return;
        };
        let old = self.target_dist[t as usize];
        let same_edge: Vec<Option<Snap>> = self
            .by_edge
            .get(&ts.edge)
            .map(|v| v.iter().map(|&s| self.stations[s as usize]).collect())
            .unwrap_or_default();
        let d = TargetIndex::distance_of(self.net, &self.dist, ts, &same_edge, self.cutoff);
        if d != old {
            self.target_dist[t as usize] = d;
            change.changed.push((t, old, d));
        }
    }
}

/// Keeps one entry per row: the first "before" and the last "after".
fn compress(change: &mut Change) {
    if change.changed.len() < 2 {
        return;
    }
    let mut merged: HashMap<u32, (f64, f64)> = HashMap::new();
    for &(t, b, a) in &change.changed {
        merged.entry(t).and_modify(|e| e.1 = a).or_insert((b, a));
    }
    let mut v: Vec<(u32, f64, f64)> = merged.into_iter().map(|(t, (b, a))| (t, b, a)).collect();
    v.sort_unstable_by_key(|c| c.0);
    change.changed = v;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::walk::{Dijkstra, TargetIndex};
    use geo::Coord;
    use rand::{Rng, SeedableRng};

    #[test]
    fn edits_match_full_recomputation() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let net = Network::synthetic_lattice(30, 20, 70.0, 0.3, 105.84, 32.43, 3).expect("lattice");
        let bb = net
            .node_coords()
            .iter()
            .fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |b, c| {
                (b.0.min(c.x), b.1.max(c.x), b.2.min(c.y), b.3.max(c.y))
            });
        let mut pt = || {
            net.snap(Coord {
                x: rng.gen_range(bb.0..bb.1),
                y: rng.gen_range(bb.2..bb.3),
            })
            .expect("snap")
        };
        let targets: Vec<Snap> = (0..400).map(|_| pt()).collect();
        let stations: Vec<Snap> = (0..6).map(|_| pt()).collect();
        let moves: Vec<Snap> = (0..30).map(|_| pt()).collect();
        let index = TargetIndex::new(&net, &targets);
        let cutoff = 500.0;
        let mut sc = KindScenario::new(&net, &index, &targets, &stations, cutoff);
        let mut dij = Dijkstra::new(&net);
        let mut want = Vec::new();
        let check = |sc: &KindScenario, dij: &mut Dijkstra, want: &mut Vec<f64>| {
            let live: Vec<Snap> = sc.stations().iter().flatten().copied().collect();
            dij.run_from_snaps(&net, &live, cutoff);
            for (a, b) in dij.distances().iter().zip(sc.node_distances()) {
                assert!(a == b || (a - b).abs() < 1e-9, "node {a} vs {b}");
            }
            index.distances(&net, dij, &live, want);
            for (a, b) in want.iter().zip(sc.target_distances()) {
                assert!(a == b || (a - b).abs() < 1e-9, "target {a} vs {b}");
            }
        };
        check(&sc, &mut dij, &mut want);
        for (i, m) in moves.iter().enumerate() {
            match i % 3 {
                0 => {
                    let slot = i % sc.stations().len();
                    if sc.stations()[slot].is_some() {
                        sc.move_to(slot, *m).expect("live slot");
                    }
                }
                1 => {
                    sc.add(*m);
                }
                _ => {
                    let slot = (i * 7) % sc.stations().len();
                    if sc.stations()[slot].is_some() {
                        let ch = sc.remove(slot).expect("live slot");
                        for (_, b, a) in ch.changed {
                            assert!(a >= b);
                        }
                        assert_eq!(sc.remove(slot), Err(WhatIfError::NoSuchStation(slot)));
                    }
                }
            }
            check(&sc, &mut dij, &mut want);
        }
    }
}
