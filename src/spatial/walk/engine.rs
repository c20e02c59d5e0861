//! The accessibility engine: a fixed set of buildings on a network with reusable search
//! buffers, answering nearest distances and coverage per station kind on several threads.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::dijkstra::Dijkstra;
use super::report::{Building, BuildingRows, CoverageReport, CoverageTotals, Station};
use super::targets::TargetIndex;
use crate::spatial::network::{Network, Snap};

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
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
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
