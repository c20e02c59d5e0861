//! The ten-minute service circle over HTTP: who can reach which kind of station within N
//! minutes on foot along the walking network, per community and grid; per-building minutes;
//! isochrones; unsaved what-if scenarios (and saving them); siting; CSV and XLSX reports.
//!
//! Kinds: `kind=K` for one kind, or `kinds=K1,K2&mode=any|all` (covered when any one, or
//! every one, of the kinds is within reach). Without either, the nine kinds of the "1+8"
//! system with `mode=all`. Time: `minutes` (default 10) and `speed` in metres per minute;
//! without a speed, 5, 10 and 15 minutes are GB 50180's 300, 500 and 1,000 m, other minutes
//! use 50 m/min. Only buildings the caller may see are counted; `scope` (a community, first-
//! or second-level grid code) narrows the count to that place (`community` is the older
//! name for a community scope).

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Query};
use super::xlsx::{download, Cell};
use super::AppState;
use crate::coverage::{walk_setting, CoverageError, CoverageModel, Scenario, SnappedStation};
use crate::domain::access::{Area, Caller, Visibility};
use crate::domain::{GridLevel, StationKind};
use crate::spatial::access::{
    CoverageReport, CoverageTotals, Dijkstra, KindSelection, WalkSetting,
};
use crate::spatial::index::Snapshot;
use crate::spatial::isochrone::{isochrone, DEFAULT_WIDTH_M};
use crate::spatial::network::Snap;
use crate::spatial::siting::{node_candidates, site};
use crate::store::people::{StationChange, StationInput};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Longest walk asked about, in minutes.
const MAX_MINUTES: f64 = 60.0;
/// Time a coverage computation may take (a whole city's nine kinds take well under 1 s).
const BUDGET: std::time::Duration = std::time::Duration::from_secs(30);
/// Candidate sites considered by one siting question (each costs a walk search).
const MAX_CANDIDATES: usize = 5_000;
/// Uncovered buildings listed in one answer (`uncovered_total` says how many there are;
/// the report lists them all).
const MAX_LISTED: usize = 2_000;
/// Grids of one level listed with their figures in one answer; past this (a city seen
/// whole) the level is left out and the client asks per community with `scope`.
const MAX_GRIDS_LISTED: usize = 1_000;

/// The shared query of the coverage routes.
#[derive(Deserialize, Default, Clone)]
pub struct CoverageQuery {
    kind: Option<String>,
    kinds: Option<String>,
    mode: Option<String>,
    minutes: Option<f64>,
    speed: Option<f64>,
    community: Option<String>,
    /// A community, first-level or second-level grid code: only its buildings count.
    scope: Option<String>,
    format: Option<String>,
}

struct Ask {
    kinds: Vec<StationKind>,
    sel: KindSelection,
    walk: WalkSetting,
    /// The community of the scope (or of the `community` filter).
    community: Option<i64>,
    /// The grid of the scope, when it is a grid: its buildings (and its children's) count.
    grid: Option<i64>,
}

fn parse_kind(s: &str) -> ApiResult<StationKind> {
    StationKind::parse(s.trim()).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            format!(
                "unknown station kind {s:?}; kinds: {}",
                StationKind::ALL.map(|k| k.as_str()).join(", ")
            ),
        )
    })
}

fn ask(q: &CoverageQuery, snap: &Snapshot) -> ApiResult<Ask> {
    let kinds: Vec<StationKind> = match (&q.kind, &q.kinds) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("kinds", "give kind or kinds, not both"))
        }
        (Some(k), None) => vec![parse_kind(k)?],
        (None, Some(ks)) => ks
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_kind)
            .collect::<ApiResult<_>>()?,
        (None, None) => StationKind::ONE_PLUS_EIGHT.to_vec(),
    };
    if kinds.is_empty() {
        return Err(ApiError::invalid("kinds", "name at least one kind"));
    }
    let names: Vec<String> = kinds.iter().map(|k| k.as_str().to_string()).collect();
    let default_mode = if q.kind.is_none() && q.kinds.is_none() {
        "all"
    } else {
        "any"
    };
    let sel = match q.mode.as_deref().unwrap_or(default_mode) {
        "any" => KindSelection::AnyOf(names),
        "all" => KindSelection::AllOf(names),
        other => {
            return Err(ApiError::invalid(
                "mode",
                format!("mode must be any or all, not {other:?}"),
            ))
        }
    };
    let minutes = q.minutes.unwrap_or(10.0);
    if !minutes.is_finite() || minutes <= 0.0 || minutes > MAX_MINUTES {
        return Err(ApiError::invalid(
            "minutes",
            format!("minutes must be more than 0 and at most {MAX_MINUTES}"),
        ));
    }
    if let Some(s) = q.speed {
        if !s.is_finite() || !(10.0..=200.0).contains(&s) {
            return Err(ApiError::invalid(
                "speed",
                "speed is metres per minute, from 10 to 200",
            ));
        }
    }
    let (community, grid) = match (&q.scope, &q.community) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "scope",
                "give scope or community, not both",
            ))
        }
        (None, None) => (None, None),
        (Some(code), None) | (None, Some(code)) => {
            if let Some(c) = snap.communities.by_code(code) {
                (Some(c.id), None)
            } else if let Some(g) = snap.grids.by_code(code).filter(|_| q.scope.is_some()) {
                (Some(g.community_id), Some(g.id))
            } else {
                let field = if q.scope.is_some() {
                    "scope"
                } else {
                    "community"
                };
                return Err(ApiError::not_found(format!(
                    "{field} {code}: no community{} has this code",
                    if q.scope.is_some() { " or grid" } else { "" }
                )));
            }
        }
    };
    Ok(Ask {
        kinds,
        sel,
        walk: walk_setting(Some(minutes), q.speed),
        community,
        grid,
    })
}

async fn model(st: &AppState, snap: &Snapshot) -> ApiResult<Arc<CoverageModel>> {
    st.coverage.model(snap).await.map_err(|e| match e {
        CoverageError::NoNetwork => {
            ApiError::new(StatusCode::CONFLICT, "no_network", e.to_string())
        }
        CoverageError::WarmingUp { retry_after_s, .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "warming_up", e.to_string())
                .with("retry_after_s", json!(retry_after_s))
        }
    })
}

/// Runs a coverage computation on the heavy-work pool (never on the async workers) within
/// [`BUDGET`]; the engine's searches stop early when the budget passes or the request goes
/// away, and their partial answer is thrown away here.
async fn heavy<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    Ok(crate::work::heavy(BUDGET, move || {
        let v = f();
        crate::work::checkpoint()?;
        Ok(v)
    })
    .await?)
}

/// Which grids (by position in the model's grid layer) count for this caller and scope;
/// a building counts when its grid does.
fn grid_filter(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<bool> {
    let snap = &m.snap;
    snap.grids
        .items
        .iter()
        .map(|g| {
            a.community.is_none_or(|c| g.community_id == c)
                && a.grid
                    .is_none_or(|id| g.id == id || g.parent_id == Some(id))
                && snap
                    .place_of_grid(g)
                    .is_some_and(|p| caller.visibility(&p) != Visibility::Hidden)
        })
        .collect()
}

/// Which building rows count for this caller (and scope).
fn counted(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<bool> {
    let ok = grid_filter(m, caller, a);
    m.row_grid
        .iter()
        .map(|&g| ok.get(g as usize).copied().unwrap_or(false))
        .collect()
}

/// The buildings off the network that count for this caller (and scope), with their grid
/// positions.
fn counted_off_network(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<(i64, u32)> {
    let ok = grid_filter(m, caller, a);
    m.off_network
        .iter()
        .zip(&m.off_grid)
        .filter(|(_, &g)| ok.get(g as usize).copied().unwrap_or(false))
        .map(|(&id, &g)| (id, g))
        .collect()
}

fn totals_json(t: &CoverageTotals) -> Value {
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
struct Grouped {
    all: CoverageTotals,
    communities: BTreeMap<i64, CoverageTotals>,
    grids: BTreeMap<i64, CoverageTotals>,
}

/// The per-row figures that grouping reads, by building row.
struct RowFigures<'a> {
    residents: &'a [u32],
    households: &'a [u32],
    /// Grid position of each row ([`crate::coverage::NO_GRID`] when unknown).
    row_grid: &'a [u32],
}

impl<'a> RowFigures<'a> {
    fn of(m: &'a CoverageModel) -> Self {
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
struct GridSums {
    all: CoverageTotals,
    per_grid: Vec<CoverageTotals>,
    /// Whether a grid has any counted building (only those are listed).
    touched: Vec<bool>,
}

impl GridSums {
    /// The sums of the rows for which `keep` holds, covered as `covered` says, and of the
    /// buildings off the network (`off`: residents, households, grid position; counted,
    /// never covered).
    fn new(
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
    fn shift(&mut self, rows: &RowFigures, row: usize, covered: bool) {
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
fn roll_up(snap: &Snapshot, s: &GridSums) -> Grouped {
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
struct ScenarioBase {
    /// The grids counted (the key, with the selection and the cutoff).
    grids_ok: Vec<bool>,
    sel: KindSelection,
    cutoff_bits: u64,
    /// The building rows counted.
    keep: Vec<bool>,
    /// Whether each row is covered by the model's own stations.
    was: Vec<bool>,
    sums: GridSums,
    grouped: Grouped,
}

impl ScenarioBase {
    fn of(m: &CoverageModel, caller: &Caller, a: &Ask) -> Arc<Self> {
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

fn group(
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

fn grouped_json(snap: &Snapshot, g: &Grouped) -> Value {
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

fn setting_json(a: &Ask) -> Value {
    let (mode, kinds) = match &a.sel {
        KindSelection::AnyOf(k) => ("any", k),
        KindSelection::AllOf(k) => ("all", k),
    };
    json!({
        "kinds": kinds, "mode": mode, "minutes": a.walk.minutes,
        "speed_m_per_min": a.walk.speed_m_per_min, "cutoff_m": a.walk.cutoff_m(),
    })
}

/// Minutes to the nearest station of each asked kind, for one building row.
fn minutes_to(report: &CoverageReport, walk: &WalkSetting, row: usize) -> Value {
    let mut m = serde_json::Map::new();
    for (k, kind) in report.kinds.iter().enumerate() {
        let v = report
            .nearest_m(k, row)
            .map(|d| json!((walk.minutes_for(d) * 10.0).round() / 10.0))
            .unwrap_or(Value::Null);
        m.insert(kind.clone(), v);
    }
    Value::Object(m)
}

fn building_feature(snap: &Snapshot, id: i64, props: Value) -> Option<Value> {
    let b = snap.buildings.get(id)?;
    let mut p = json!({
        "id": b.id, "code": b.code, "households": b.households, "residents": b.residents,
        "grid_code": snap.grids.get(b.grid_id).map(|g| &g.code),
    });
    if let (Some(o), Value::Object(extra)) = (p.as_object_mut(), props) {
        o.extend(extra);
    }
    Some(json!({
        "type": "Feature", "id": b.id,
        "geometry": geojson::Geometry::from(&b.geom),
        "properties": p,
    }))
}

/// `GET /api/coverage`: residents and households covered per community and grid, and the
/// uncovered buildings as GeoJSON with their minutes to the nearest station of each kind.
pub async fn coverage(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CoverageQuery>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let a = ask(&q, &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let started = Instant::now();
    let out = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let off = counted_off_network(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let g = group(&m, &report, &a.sel, &keep, &off);
        let mut body = grouped_json(&snap, &g);
        let mut uncovered = vec![];
        let covered = report.covered_rows(&a.sel);
        for (row, b) in m.buildings.iter().enumerate() {
            if keep[row] && !covered[row] && uncovered.len() < MAX_LISTED {
                uncovered.extend(building_feature(
                    &snap,
                    b.id,
                    json!({ "minutes_to": minutes_to(&report, &a.walk, row) }),
                ));
            }
        }
        let uncovered_total = g.all.buildings - g.all.buildings_covered;
        for &(id, _) in &off {
            if uncovered.len() >= MAX_LISTED {
                break;
            }
            uncovered.extend(building_feature(
                &snap,
                id,
                json!({ "off_network": true, "minutes_to": {} }),
            ));
        }
        body["uncovered_total"] = json!(uncovered_total);
        body["uncovered_listed"] = json!(uncovered.len());
        body["uncovered"] = json!({ "type": "FeatureCollection", "features": uncovered });
        body["setting"] = setting_json(&a);
        body["setting"]["max_access_m"] = json!(m.max_access_m);
        body
    })
    .await?;
    let mut out = out;
    out["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

/// `GET /api/coverage/buildings`: every visible building with its minutes to the nearest
/// station of each of the fifteen kinds (null beyond an hour's walk or the asked horizon).
pub async fn buildings(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CoverageQuery>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let mut a = ask(
        &CoverageQuery {
            kind: None,
            kinds: None,
            mode: Some("any".into()),
            ..q.clone()
        },
        &snap,
    )?;
    a.sel = KindSelection::AnyOf(
        StationKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
    );
    // A horizon of three times the asked walk (at least 30 minutes) so "minutes to" means
    // something beyond the circle too.
    let horizon = WalkSetting {
        minutes: (a.walk.minutes * 3.0).clamp(30.0, MAX_MINUTES),
        speed_m_per_min: a.walk.speed_m_per_min,
    };
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let body = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, horizon.cutoff_m());
        let features: Vec<Value> = m
            .buildings
            .iter()
            .enumerate()
            .filter(|(row, _)| keep[*row])
            .filter_map(|(row, b)| {
                let mut f = building_feature(
                    &snap,
                    b.id,
                    json!({ "minutes_to": minutes_to(&report, &horizon, row) }),
                )?;
                // Points are enough for a per-building table: the anchor.
                if let Some(bb) = snap.buildings.get(b.id) {
                    f["geometry"] =
                        json!({ "type": "Point", "coordinates": [bb.anchor.x(), bb.anchor.y()] });
                }
                Some(f)
            })
            .collect();
        json!({
            "type": "FeatureCollection", "features": features,
            "horizon_minutes": horizon.minutes, "speed_m_per_min": horizon.speed_m_per_min,
        })
    })
    .await?;
    Ok(Json(body))
}

/// Query of `GET /api/coverage/isochrone`.
#[derive(Deserialize)]
pub struct IsoQuery {
    station: String,
    minutes: Option<f64>,
    speed: Option<f64>,
}

/// `GET /api/coverage/isochrone?station=CODE&minutes=`: the area reachable on foot within
/// the time, built from the reachable parts of the network (each walked street piece
/// widened by 40 m), not a circle.
pub async fn isochrone_route(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<IsoQuery>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let a = ask(
        &CoverageQuery {
            minutes: q.minutes,
            speed: q.speed,
            ..CoverageQuery::default()
        },
        &snap,
    )?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let s = m
        .stations
        .iter()
        .find(|s| s.code == q.station)
        .filter(|s| {
            snap.stations
                .items
                .iter()
                .find(|x| x.id == s.id)
                .and_then(|x| snap.place_of_station(x))
                .is_some_and(|p| caller.regions.contains(&p.region_id))
        })
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("station {} not found", q.station)))?;
    let cutoff = a.walk.cutoff_m();
    let poly = heavy(move || {
        let mut dij = Dijkstra::new(&m.net);
        isochrone(&m.net, &mut dij, &[s.snap], cutoff, DEFAULT_WIDTH_M)
    })
    .await?;
    Ok(Json(json!({
        "type": "Feature",
        "geometry": geojson::Geometry::from(&poly),
        "properties": { "station": q.station, "minutes": a.walk.minutes, "cutoff_m": cutoff, "band_m": DEFAULT_WIDTH_M },
    })))
}

/// One what-if change.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScenarioChange {
    op: String,
    code: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
}

/// Body of the scenario routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioBody {
    #[serde(default)]
    changes: Vec<ScenarioChange>,
    kind: Option<String>,
    kinds: Option<String>,
    mode: Option<String>,
    minutes: Option<f64>,
    speed: Option<f64>,
    community: Option<String>,
    scope: Option<String>,
}

fn point(c: &ScenarioChange, i: usize) -> ApiResult<geo::Point<f64>> {
    match (c.lon, c.lat) {
        (Some(x), Some(y)) => super::params::lon_lat(x, y).map_err(|e| e.with("index", json!(i))),
        _ => Err(ApiError::invalid(
            &format!("changes[{i}].lon"),
            "this change needs lon and lat",
        )
        .with("index", json!(i))),
    }
}

/// Applies what-if changes to the model's stations, checking each against the caller's reach.
fn apply_changes(
    m: &CoverageModel,
    snap: &Snapshot,
    caller: &Caller,
    changes: &[ScenarioChange],
) -> ApiResult<(Vec<SnappedStation>, Vec<StationChange>)> {
    if changes.len() > 200 {
        return Err(ApiError::invalid(
            "changes",
            "at most 200 changes per scenario",
        ));
    }
    let mut stations = m.stations.clone();
    let mut store_changes = vec![];
    let reach = |p: geo::Point<f64>, i: usize| -> ApiResult<Option<String>> {
        let c = snap.communities.locate(p.0).ok_or_else(|| {
            ApiError::invalid(
                &format!("changes[{i}]"),
                "the point is outside every community",
            )
            .with("index", json!(i))
        })?;
        if !caller.may_change(Area::Coverage, &snap.place_of_community(c))
            && caller.visibility(&snap.place_of_community(c)) == Visibility::Hidden
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this change is outside your region",
            )
            .with("index", json!(i)));
        }
        Ok(Some(c.code.clone()))
    };
    for (i, c) in changes.iter().enumerate() {
        match c.op.as_str() {
            "add" => {
                let kind = parse_kind(c.kind.as_deref().unwrap_or(""))
                    .map_err(|e| e.with("index", json!(i)))?;
                let p = point(c, i)?;
                let community = reach(p, i)?;
                let snapped = m.snap(p.0).ok_or_else(|| {
                    ApiError::invalid(&format!("changes[{i}]"), "no street to reach from there")
                        .with("index", json!(i))
                })?;
                let code = c.code.clone().unwrap_or_else(|| {
                    format!("WI-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
                });
                if stations.iter().any(|s| s.code == code) {
                    return Err(ApiError::invalid(
                        &format!("changes[{i}].code"),
                        format!("station {code} already exists"),
                    )
                    .with("index", json!(i)));
                }
                stations.push(SnappedStation {
                    id: 0,
                    code: code.clone(),
                    kind,
                    point: p.0,
                    snap: snapped,
                });
                store_changes.push(StationChange::Put(StationInput {
                    code,
                    name: c.name.clone().unwrap_or_else(|| kind.name_zh().to_string()),
                    kind,
                    community_code: community,
                    programmes: None,
                    address: None,
                    point: p,
                }));
            }
            "move" => {
                let code = c.code.clone().ok_or_else(|| {
                    ApiError::invalid(
                        &format!("changes[{i}].code"),
                        "a move needs the station's code",
                    )
                })?;
                let p = point(c, i)?;
                let community = reach(p, i)?;
                let snapped = m.snap(p.0).ok_or_else(|| {
                    ApiError::invalid(&format!("changes[{i}]"), "no street to reach from there")
                        .with("index", json!(i))
                })?;
                let s = stations
                    .iter_mut()
                    .find(|s| s.code == code)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            &format!("changes[{i}].code"),
                            format!("no station {code}"),
                        )
                        .with("index", json!(i))
                    })?;
                reach(geo::Point(s.point), i)?;
                s.point = p.0;
                s.snap = snapped;
                let old = snap.stations.items.iter().find(|x| x.code == code);
                store_changes.push(StationChange::Put(StationInput {
                    code: code.clone(),
                    name: old
                        .map(|o| o.name.clone())
                        .unwrap_or_else(|| s.kind.name_zh().to_string()),
                    kind: s.kind,
                    community_code: community,
                    programmes: old.and_then(|o| o.programmes),
                    address: None,
                    point: p,
                }));
            }
            "remove" => {
                let code = c.code.clone().ok_or_else(|| {
                    ApiError::invalid(
                        &format!("changes[{i}].code"),
                        "a removal needs the station's code",
                    )
                })?;
                let pos = stations
                    .iter()
                    .position(|s| s.code == code)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            &format!("changes[{i}].code"),
                            format!("no station {code}"),
                        )
                        .with("index", json!(i))
                    })?;
                reach(geo::Point(stations[pos].point), i)?;
                stations.remove(pos);
                store_changes.push(StationChange::Delete(code));
            }
            other => {
                return Err(ApiError::invalid(
                    &format!("changes[{i}].op"),
                    format!("op must be add, move or remove, not {other:?}"),
                )
                .with("index", json!(i)))
            }
        }
    }
    Ok((stations, store_changes))
}

/// The counted rows (`keep`) whose coverage under `sel` differs between a scenario's
/// before (`was`, by row) and after, ascending, each with its coverage after: only the
/// rows the scenario may change are looked at, or every row when any may.
fn flipped_rows(
    sc: &Scenario,
    sel: &KindSelection,
    keep: &[bool],
    was: &[bool],
) -> Vec<(usize, bool)> {
    let differs = |row: usize, is: bool| keep[row] && was[row] != is;
    match &sc.changed_rows {
        Some(rows) => {
            let rows: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
            let is = sc.after.covered_rows_at(sel, &rows);
            rows.into_iter()
                .zip(is)
                .filter(|&(row, is)| differs(row, is))
                .collect()
        }
        None => sc
            .after
            .covered_rows(sel)
            .into_iter()
            .enumerate()
            .filter(|&(row, is)| differs(row, is))
            .collect(),
    }
}

fn scenario_query(b: &ScenarioBody) -> CoverageQuery {
    CoverageQuery {
        kind: b.kind.clone(),
        kinds: b.kinds.clone(),
        mode: b.mode.clone(),
        minutes: b.minutes,
        speed: b.speed,
        community: b.community.clone(),
        scope: b.scope.clone(),
        format: None,
    }
}

/// `POST /api/coverage/scenario`: coverage after adding, moving or removing stations,
/// without saving anything, and the change against today.
pub async fn scenario(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<ScenarioBody>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let a = ask(&scenario_query(&b), &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let (stations, _) = apply_changes(&m, &snap, &caller, &b.changes)?;
    let body = heavy(move || {
        let started = Instant::now();
        let base = ScenarioBase::of(&m, &caller, &a);
        let sc = m.scenario(&stations, &a.sel, a.walk.cutoff_m());
        let elapsed = started.elapsed().as_secs_f64() * 1e3;
        // "Before" is kept with the model for this view and setting; "after" is "before"
        // with only the rows whose coverage changed moved (the scenario says which rows may
        // change: those near the changed stations), not a second pass over the city.
        let figures = RowFigures::of(&m);
        let flipped = flipped_rows(&sc, &a.sel, &base.keep, &base.was);
        let mut sums_after = base.sums.clone();
        for &(row, is) in &flipped {
            sums_after.shift(&figures, row, is);
        }
        let (gb, ga) = (&base.grouped, roll_up(&snap, &sums_after));
        // The buildings that change, by code: at most MAX_LISTED of each, with the counts.
        let (mut newly_covered, mut newly_uncovered) = (vec![], vec![]);
        let (mut n_covered, mut n_uncovered) = (0usize, 0usize);
        for &(row, is) in &flipped {
            let (list, n) = if is {
                (&mut newly_covered, &mut n_covered)
            } else {
                (&mut newly_uncovered, &mut n_uncovered)
            };
            *n += 1;
            if list.len() < MAX_LISTED {
                list.extend(snap.buildings.get(m.buildings[row].id).map(|x| x.code.clone()));
            }
        }
        let diff = |x: &BTreeMap<i64, CoverageTotals>, y: &BTreeMap<i64, CoverageTotals>| -> Vec<Value> {
            y.iter()
                .filter_map(|(id, t)| {
                    let b0 = x.get(id).copied().unwrap_or_default();
                    (b0.residents_covered != t.residents_covered).then(|| {
                        let code = snap.grids.get(*id).map(|g| g.code.clone()).or_else(|| snap.communities.get(*id).map(|c| c.code.clone()));
                        json!({ "code": code, "residents_covered_before": b0.residents_covered, "residents_covered_after": t.residents_covered,
                                "residents": t.residents })
                    })
                })
                .collect()
        };
        json!({
            "setting": setting_json(&a),
            "before": totals_json(&gb.all),
            "after": totals_json(&ga.all),
            "change": {
                "residents_covered": ga.all.residents_covered as i64 - gb.all.residents_covered as i64,
                "households_covered": ga.all.households_covered as i64 - gb.all.households_covered as i64,
            },
            "grids": diff(&gb.grids, &ga.grids),
            "communities": diff(&gb.communities, &ga.communities),
            "newly_covered": newly_covered,
            "newly_covered_total": n_covered,
            "newly_uncovered": newly_uncovered,
            "newly_uncovered_total": n_uncovered,
            "after_detail": grouped_json(&snap, &ga),
            "compute_ms": elapsed,
        })
    })
    .await?;
    Ok(Json(body))
}

/// `POST /api/coverage/scenario/save`: turns a scenario's changes into real stations, all
/// or nothing (audited like any station change).
pub async fn save_scenario(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<ScenarioBody>,
) -> ApiResult<Json<Value>> {
    if b.changes.is_empty() {
        return Err(ApiError::invalid(
            "changes",
            "a scenario to save needs at least one change",
        ));
    }
    let snap = st.registry.snapshot();
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let (_, changes) = apply_changes(&m, &snap, &caller, &b.changes)?;
    for (i, c) in changes.iter().enumerate() {
        let p = match c {
            StationChange::Put(s) => snap
                .communities
                .locate(s.point.0)
                .map(|c| snap.place_of_community(c)),
            StationChange::Delete(code) => snap
                .stations
                .items
                .iter()
                .find(|s| &s.code == code)
                .and_then(|s| snap.place_of_station(s)),
        };
        if !p.is_some_and(|p| caller.may_change(Area::Stations, &p)) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this change is outside your region",
            )
            .with("index", json!(i)));
        }
    }
    let ids = st
        .store
        .apply_station_changes(&changes, &actor(&caller))
        .await?;
    st.after_change().await;
    let snap = st.registry.snapshot();
    let codes: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            snap.stations
                .items
                .iter()
                .find(|s| s.id == *id)
                .map(|s| s.code.clone())
        })
        .collect();
    Ok(Json(json!({ "saved": changes.len(), "stations": codes })))
}

/// Body of `POST /api/coverage/siting`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitingBody {
    kind: String,
    k: usize,
    minutes: Option<f64>,
    speed: Option<f64>,
    community: Option<String>,
    scope: Option<String>,
    /// `"nodes"` (every street junction), or a list of `[lon, lat]` candidate sites.
    candidates: Option<Value>,
}

/// `POST /api/coverage/siting`: the K sites that cover the most uncovered residents
/// (greedy maximal covering, each pick with its marginal gain), keeping existing stations.
pub async fn siting(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<SitingBody>,
) -> ApiResult<Json<Value>> {
    if b.k == 0 || b.k > 50 {
        return Err(ApiError::invalid("k", "k must be from 1 to 50"));
    }
    let snap = st.registry.snapshot();
    let a = ask(
        &CoverageQuery {
            kind: Some(b.kind.clone()),
            minutes: b.minutes,
            speed: b.speed,
            community: b.community.clone(),
            scope: b.scope.clone(),
            ..CoverageQuery::default()
        },
        &snap,
    )?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let given = match &b.candidates {
        None => None,
        Some(Value::String(s)) if s == "nodes" => None,
        Some(Value::Array(items)) => {
            if items.len() > MAX_CANDIDATES {
                return Err(ApiError::invalid(
                    "candidates",
                    format!("at most {MAX_CANDIDATES} candidate sites"),
                ));
            }
            let mut out = vec![];
            for (i, it) in items.iter().enumerate() {
                let xy = it
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
                let (x, y) = xy.ok_or_else(|| {
                    ApiError::invalid(&format!("candidates[{i}]"), "a candidate is [lon, lat]")
                })?;
                out.push(super::params::lon_lat(x, y)?.0);
            }
            Some(out)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "candidates",
                "candidates is \"nodes\" or a list of [lon, lat]",
            ))
        }
    };
    // Candidates: the given points, or the street junctions inside the caller's area (and
    // the scope's community), found on the pool: a city has a million junctions.
    let (m2, snap2, caller2, community) = (
        Arc::clone(&m),
        Arc::clone(&snap),
        caller.clone(),
        a.community,
    );
    let candidates = heavy(move || -> ApiResult<Vec<(geo::Coord<f64>, Snap)>> {
        let keep_point = |p: geo::Coord<f64>| {
            snap2.communities.locate(p).is_some_and(|c| {
                community.is_none_or(|id| id == c.id)
                    && caller2.visibility(&snap2.place_of_community(c)) != Visibility::Hidden
                    || caller2
                        .grids
                        .iter()
                        .any(|g| snap2.grids.get(*g).is_some_and(|g| g.community_id == c.id))
            })
        };
        let out: Vec<(geo::Coord<f64>, Snap)> = match given {
            None => node_candidates(&m2.net)
                .into_iter()
                .map(|s| (s.on_edge, s))
                .filter(|(p, _)| keep_point(*p))
                .collect(),
            Some(points) => points
                .into_iter()
                .filter_map(|p| m2.snap(p).map(|s| (p, s)))
                .collect(),
        };
        if out.len() > MAX_CANDIDATES {
            return Err(ApiError::invalid(
                "scope",
                format!(
                    "{} candidate junctions in your area, more than {MAX_CANDIDATES}: choose a community or grid as scope",
                    out.len()
                ),
            ));
        }
        Ok(out)
    })
    .await??;
    if candidates.is_empty() {
        return Err(ApiError::invalid(
            "candidates",
            "no candidate site inside your area",
        ));
    }
    let kind = a.kinds[0];
    let started = Instant::now();
    let body = heavy(move || {
        let existing: Vec<_> = m.stations.iter().filter(|s| s.kind == kind).map(|s| s.snap).collect();
        let snaps: Vec<_> = candidates.iter().map(|(_, s)| *s).collect();
        let mut engine = m.engine();
        let r = site(&mut engine, &existing, &snaps, b.k, a.walk.cutoff_m());
        let picks: Vec<Value> = r
            .picks
            .iter()
            .map(|p| {
                let (pt, _) = candidates[p.candidate];
                json!({
                    "lon": pt.x, "lat": pt.y, "candidate": p.candidate,
                    "gain_residents": p.gain_residents, "gain_households": p.gain_households,
                    "gain_buildings": p.gain_buildings,
                })
            })
            .collect();
        json!({
            "kind": kind.as_str(), "k": b.k, "cutoff_m": a.walk.cutoff_m(), "candidates": candidates.len(),
            "picks": picks,
            "residents_covered_before": r.residents_covered_before,
            "residents_covered_after": r.residents_covered_after,
            "residents_total": r.residents_total,
        })
    })
    .await?;
    let mut body = body;
    body["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(body))
}

/// `GET /api/coverage/report?format=csv|xlsx`: one row per second-level grid, with the
/// share of residents and households covered for the selection and for each kind.
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CoverageQuery>,
) -> ApiResult<Response> {
    let format = q.format.clone().unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "xlsx" {
        return Err(ApiError::invalid("format", "format must be csv or xlsx"));
    }
    let snap = st.registry.snapshot();
    let a = ask(&q, &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let (header, rows) = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let off = counted_off_network(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let g = group(&m, &report, &a.sel, &keep, &off);
        let per_kind: Vec<Grouped> = a
            .kinds
            .iter()
            .map(|k| group(&m, &report, &KindSelection::one(k.as_str()), &keep, &off))
            .collect();
        let mut header: Vec<String> = [
            "community_code",
            "community",
            "grid1_code",
            "grid2_code",
            "grid2",
            "buildings",
            "residents",
            "residents_covered",
            "residents_pct",
            "households",
            "households_covered",
            "households_pct",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for k in &a.kinds {
            header.push(format!("{}_residents_pct", k.as_str()));
        }
        let pct = |c: u64, t: u64| {
            if t == 0 {
                Cell::Empty
            } else {
                Cell::Number((1000.0 * c as f64 / t as f64).round() / 10.0)
            }
        };
        let mut rows = vec![];
        for (id, t) in &g.grids {
            let Some(gr) = snap.grids.get(*id).filter(|x| x.level == GridLevel::Second) else {
                continue;
            };
            let c = snap.communities.get(gr.community_id);
            let parent = gr.parent_id.and_then(|p| snap.grids.get(p));
            let mut row = vec![
                Cell::Text(c.map(|c| c.code.clone()).unwrap_or_default()),
                Cell::Text(c.map(|c| c.name.clone()).unwrap_or_default()),
                Cell::Text(parent.map(|p| p.code.clone()).unwrap_or_default()),
                Cell::Text(gr.code.clone()),
                Cell::Text(gr.name.clone()),
                Cell::Number(t.buildings as f64),
                Cell::Number(t.residents as f64),
                Cell::Number(t.residents_covered as f64),
                pct(t.residents_covered, t.residents),
                Cell::Number(t.households as f64),
                Cell::Number(t.households_covered as f64),
                pct(t.households_covered, t.households),
            ];
            for pk in &per_kind {
                let kt = pk.grids.get(id).copied().unwrap_or_default();
                row.push(pct(kt.residents_covered, kt.residents));
            }
            rows.push(row);
        }
        (header, rows)
    })
    .await?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    download(&format, "coverage", "coverage", &header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Moving only the rows that changed gives the sums of a full regroup, after each of
    /// several scenarios applied one after another (rows flipping back and forth, rows
    /// not counted, rows without a grid, buildings off the network).
    #[test]
    fn shifted_sums_equal_a_full_regroup() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let (n, grids) = (5_000usize, 40usize);
        let residents: Vec<u32> = (0..n).map(|_| rng.gen_range(0..300)).collect();
        let households: Vec<u32> = (0..n).map(|_| rng.gen_range(0..120)).collect();
        let row_grid: Vec<u32> = (0..n)
            .map(|_| {
                if rng.gen_bool(0.02) {
                    crate::coverage::NO_GRID
                } else {
                    rng.gen_range(0..grids as u32)
                }
            })
            .collect();
        let rows = RowFigures {
            residents: &residents,
            households: &households,
            row_grid: &row_grid,
        };
        let keep: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.8)).collect();
        let off: Vec<(u32, u32, u32)> = (0..30)
            .map(|_| {
                (
                    rng.gen_range(0..50),
                    rng.gen_range(0..20),
                    rng.gen_range(0..grids as u32),
                )
            })
            .collect();
        let mut covered: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.6)).collect();
        let mut sums = GridSums::new(&rows, grids, &keep, &covered, &off);
        let mut shifted = 0;
        for _ in 0..8 {
            // A scenario changes the rows of a few places: some flip, most stay.
            let mut next = covered.clone();
            for _ in 0..rng.gen_range(1..400) {
                let r = rng.gen_range(0..n);
                next[r] = rng.gen_bool(0.5);
            }
            for row in 0..n {
                if keep[row] && next[row] != covered[row] {
                    sums.shift(&rows, row, next[row]);
                    shifted += 1;
                }
            }
            covered = next;
            assert_eq!(sums, GridSums::new(&rows, grids, &keep, &covered, &off));
        }
        assert!(shifted > 100, "the scenarios move rows ({shifted})");
    }
}
