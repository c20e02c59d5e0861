//! Coverage figures grouped by place: totals overall, per community and per first- and
//! second-level grid, kept up to date row by row for what-if scenarios, and their JSON.

use super::{grid_filter, Ask, MAX_GRIDS_LISTED};
use crate::coverage::CoverageModel;
use crate::domain::access::Caller;
use crate::domain::GridLevel;
use crate::spatial::index::Snapshot;
use crate::spatial::walk::CoverageReport;
use crate::spatial::walk::CoverageTotals;
use crate::spatial::walk::KindSelection;
use serde_json::json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn totals_json(t: &CoverageTotals) -> Value {
    let pct = |a: u64, b: u64| {
        if b == 0 {
            Value::Null
        } else {
            json!((1000.0 * a as f64 / b as f64).round() / 10.0)
        }
    };
    json!({
        "buildings": t.buildings, "buildings_covered": t.buildings_covered,
        "buildings_off_network": t.buildings_off_network,
        "residents_off_network": t.residents_off_network,
        "residents": t.residents, "residents_covered": t.residents_covered,
        "residents_pct": pct(t.residents_covered, t.residents),
        "households": t.households, "households_covered": t.households_covered,
        "households_pct": pct(t.households_covered, t.households),
    })
}

/// Totals overall and per community, first- and second-level grid.
pub(super) struct Grouped {
    pub(super) all: CoverageTotals,
    pub(super) communities: BTreeMap<i64, CoverageTotals>,
    pub(super) grids: BTreeMap<i64, CoverageTotals>,
}

/// The per-row figures that grouping reads, by building row.
pub(super) struct RowFigures<'a> {
    pub(super) residents: &'a [u32],
    pub(super) households: &'a [u32],
    /// Grid position of each row ([`crate::coverage::NO_GRID`] when unknown).
    pub(super) row_grid: &'a [u32],
}

impl<'a> RowFigures<'a> {
    pub(super) fn of(m: &'a CoverageModel) -> Self {
        let rows = m.rows_shared();
        Self {
            residents: &rows.residents,
            households: &rows.households,
            row_grid: &m.row_grid,
        }
    }
}

/// Sums per grid (by position in the grid layer, a dense table) and overall, before they
/// are rolled up to first-level grids and communities ([`roll_up`]).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct GridSums {
    all: CoverageTotals,
    per_grid: Vec<CoverageTotals>,
    /// Whether a grid has any counted building (only those are listed).
    touched: Vec<bool>,
}

impl GridSums {
    /// The sums of the rows for which `keep` holds, covered as `covered` says, and of the
    /// buildings off the network (`off`: residents, households, grid position; counted,
    /// never covered).
    pub(super) fn new(
        rows: &RowFigures,
        grids: usize,
        keep: &[bool],
        covered: &[bool],
        off: &[(u32, u32, u32)],
    ) -> Self {
        let mut per_grid = vec![CoverageTotals::default(); grids];
        let mut touched = vec![false; grids];
        let mut all = CoverageTotals::default();
        for (row, &g) in rows.row_grid.iter().enumerate() {
            if !keep[row] {
                continue;
            }
            let (r, h, c) = (rows.residents[row], rows.households[row], covered[row]);
            all.add(r, h, c);
            if let Some(t) = per_grid.get_mut(g as usize) {
                t.add(r, h, c);
                touched[g as usize] = true;
            }
        }
        for &(r, h, g) in off {
            all.add_off_network(r, h);
            if let Some(t) = per_grid.get_mut(g as usize) {
                t.add_off_network(r, h);
                touched[g as usize] = true;
            }
        }
        Self {
            all,
            per_grid,
            touched,
        }
    }

    /// Moves counted row `row` from not covered to covered (`covered`) or back: the sums
    /// then equal those of [`GridSums::new`] with the row's coverage changed.
    pub(super) fn shift(&mut self, rows: &RowFigures, row: usize, covered: bool) {
        let (r, h) = (rows.residents[row], rows.households[row]);
        self.all.shift(r, h, covered);
        if let Some(t) = self.per_grid.get_mut(rows.row_grid[row] as usize) {
            t.shift(r, h, covered);
        }
    }
}

/// Residents, households and grid position of the buildings off the network that count.
fn off_figures(m: &CoverageModel, off_network: &[(i64, u32)]) -> Vec<(u32, u32, u32)> {
    off_network
        .iter()
        .filter_map(|&(id, g)| {
            let bb = m.snap.buildings.get(id)?;
            Some((bb.residents.max(0) as u32, bb.households.max(0) as u32, g))
        })
        .collect()
}

/// Rolls the sums per grid up to second- and first-level grids and communities: sums per
/// grid position first (a grid's own and its children's), then the maps made from sorted
/// entries at once rather than by one insertion per grid.
pub(super) fn roll_up(snap: &Snapshot, s: &GridSums) -> Grouped {
    let items = &snap.grids.items;
    let mut per_pos = vec![CoverageTotals::default(); items.len()];
    let mut listed = vec![false; items.len()];
    // Parents that are not in the layer (none in a consistent snapshot) are still listed.
    let mut strays: BTreeMap<i64, CoverageTotals> = BTreeMap::new();
    let mut communities: BTreeMap<i64, CoverageTotals> = BTreeMap::new();
    for (pos, grid) in items.iter().enumerate() {
        if !s.touched.get(pos).copied().unwrap_or(false) {
            continue;
        }
        let t = s.per_grid[pos];
        per_pos[pos].merge(&t);
        listed[pos] = true;
        if let Some(p) = grid.parent_id {
            match snap.grids.position(p) {
                Some(pp) => {
                    per_pos[pp as usize].merge(&t);
                    listed[pp as usize] = true;
                }
                None => strays.entry(p).or_default().merge(&t),
            }
        }
        communities.entry(grid.community_id).or_default().merge(&t);
    }
    let mut grids: Vec<(i64, CoverageTotals)> = items
        .iter()
        .zip(per_pos)
        .zip(&listed)
        .filter(|(_, &l)| l)
        .map(|((g, t), _)| (g.id, t))
        .collect();
    for (id, t) in strays {
        match grids.iter_mut().find(|(g, _)| *g == id) {
            Some((_, have)) => have.merge(&t),
            None => grids.push((id, t)),
        }
    }
    grids.sort_unstable_by_key(|(id, _)| *id);
    Grouped {
        all: s.all,
        communities,
        grids: grids.into_iter().collect(),
    }
}

/// The "before" side of a what-if for one view (the grids the caller counts in the scope)
/// and setting: the same for every scenario asked of one model, so kept with the model
/// ([`CoverageModel::memo`]) and not summed over the city again.
pub(super) struct ScenarioBase {
    /// The grids counted (the key, with the selection and the cutoff).
    pub(super) grids_ok: Vec<bool>,
    pub(super) sel: KindSelection,
    pub(super) cutoff_bits: u64,
    /// The building rows counted.
    pub(super) keep: Vec<bool>,
    /// Whether each row is covered by the model's own stations.
    pub(super) was: Vec<bool>,
    pub(super) sums: GridSums,
    pub(super) grouped: Grouped,
}

impl ScenarioBase {
    pub(super) fn of(m: &CoverageModel, caller: &Caller, a: &Ask) -> Arc<Self> {
        let grids_ok = grid_filter(m, caller, a);
        let cutoff_bits = a.walk.cutoff_m().to_bits();
        if let Some(b) = m.memo(|b: &ScenarioBase| {
            b.cutoff_bits == cutoff_bits && b.sel == a.sel && b.grids_ok == grids_ok
        }) {
            return b;
        }
        let keep: Vec<bool> = m
            .row_grid
            .iter()
            .map(|&g| grids_ok.get(g as usize).copied().unwrap_or(false))
            .collect();
        let off: Vec<(i64, u32)> = m
            .off_network
            .iter()
            .zip(&m.off_grid)
            .filter(|(_, &g)| grids_ok.get(g as usize).copied().unwrap_or(false))
            .map(|(&id, &g)| (id, g))
            .collect();
        let before = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let was = before.covered_rows(&a.sel);
        let sums = GridSums::new(
            &RowFigures::of(m),
            m.snap.grids.items.len(),
            &keep,
            &was,
            &off_figures(m, &off),
        );
        let grouped = roll_up(&m.snap, &sums);
        let b = Arc::new(Self {
            grids_ok,
            sel: a.sel.clone(),
            cutoff_bits,
            keep,
            was,
            sums,
            grouped,
        });
        m.keep_memo(Arc::clone(&b));
        b
    }
}

pub(super) fn group(
    m: &CoverageModel,
    report: &CoverageReport,
    sel: &KindSelection,
    keep: &[bool],
    off_network: &[(i64, u32)],
) -> Grouped {
    let covered = report.covered_rows(sel);
    let sums = GridSums::new(
        &RowFigures::of(m),
        m.snap.grids.items.len(),
        keep,
        &covered,
        &off_figures(m, off_network),
    );
    roll_up(&m.snap, &sums)
}

pub(super) fn grouped_json(snap: &Snapshot, g: &Grouped) -> Value {
    let communities: Vec<Value> = g
        .communities
        .iter()
        .filter_map(|(id, t)| {
            let c = snap.communities.get(*id)?;
            let mut v = totals_json(t);
            v["code"] = json!(c.code);
            v["name"] = json!(c.name);
            Some(v)
        })
        .collect();
    // A city's grids would make the answer megabytes: past a bound a level is left out
    // (with its count) and asked for per community (`scope`); it is counted, not built.
    let of_level = |level: GridLevel| {
        g.grids.iter().filter_map(move |(id, t)| {
            let gr = snap.grids.get(*id).filter(|gr| gr.level == level)?;
            Some((gr, t))
        })
    };
    let grids = |level: GridLevel| -> (usize, bool, Vec<Value>) {
        let n = of_level(level).count();
        if n > MAX_GRIDS_LISTED {
            return (n, true, vec![]);
        }
        let list = of_level(level)
            .map(|(gr, t)| {
                let mut v = totals_json(t);
                v["code"] = json!(gr.code);
                v["name"] = json!(gr.name);
                v
            })
            .collect();
        (n, false, list)
    };
    let ((n1, omit1, grids1), (n2, omit2, grids2)) =
        (grids(GridLevel::First), grids(GridLevel::Second));
    json!({
        "totals": totals_json(&g.all),
        "communities": communities,
        "grids1_count": n1,
        "grids1_omitted": omit1,
        "grids1": grids1,
        "grids2_count": n2,
        "grids2_omitted": omit2,
        "grids2": grids2,
    })
}
