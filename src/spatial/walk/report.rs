//! What coverage is asked about and what it answers: buildings and stations as targets
//! and sources, the kinds that must be in reach, per-building distances by kind and the
//! totals over any subset of buildings, and the per-row arrays the answers share.

use std::sync::Arc;

use crate::spatial::network::Snap;

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
    /// Building ids, in row order (as given to [`Accessibility::new`](super::Accessibility::new)); shared with the
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
