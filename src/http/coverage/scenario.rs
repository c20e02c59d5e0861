//! Unsaved what-if scenarios: stations added, moved or removed in a copy of the model,
//! answered with the coverage they would give, and saving a scenario as real changes.

use super::read::setting_json;
use super::sums::{grouped_json, roll_up, totals_json, RowFigures, ScenarioBase};
use super::{ask, heavy, model, parse_kind, CoverageQuery, MAX_LISTED};
use crate::coverage::CoverageModel;
use crate::coverage::Scenario;
use crate::coverage::SnappedStation;
use crate::domain::access::Area;
use crate::domain::access::Caller;
use crate::domain::access::Visibility;
use crate::http::accounts::actor;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::{Ctx, Json};
use crate::spatial::index::Snapshot;
use crate::spatial::network::Snap;
use crate::spatial::walk::CoverageTotals;
use crate::spatial::walk::KindSelection;
use crate::store::people::StationChange;
use crate::store::people::StationInput;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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
        (Some(x), Some(y)) => {
            crate::http::params::lon_lat(x, y).map_err(|e| e.with("index", json!(i)))
        }
        _ => Err(ApiError::invalid(
            &format!("changes[{i}].lon"),
            "this change needs lon and lat",
        )
        .with("index", json!(i))),
    }
}

/// What-if changes applied so far to a copy of the model's stations, and the same changes
/// as the store would write them.
struct Edits<'a> {
    m: &'a CoverageModel,
    snap: &'a Snapshot,
    caller: &'a Caller,
    stations: Vec<SnappedStation>,
    store_changes: Vec<StationChange>,
}

impl Edits<'_> {
    /// The code of the community at `p` (change `i`), if the caller may change there or at
    /// least see it.
    fn reach(&self, p: geo::Point<f64>, i: usize) -> ApiResult<Option<String>> {
        let c = self.snap.communities.locate(p.0).ok_or_else(|| {
            ApiError::invalid(
                &format!("changes[{i}]"),
                "the point is outside every community",
            )
            .with("index", json!(i))
        })?;
        let place = self.snap.place_of_community(c);
        if !self.caller.may_change(Area::Coverage, &place)
            && self.caller.visibility(&place) == Visibility::Hidden
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this change is outside your region",
            )
            .with("index", json!(i)));
        }
        Ok(Some(c.code.clone()))
    }

    /// Where change `i` puts a station: its point, its community and its snap.
    fn placed(
        &self,
        c: &ScenarioChange,
        i: usize,
    ) -> ApiResult<(geo::Point<f64>, Option<String>, Snap)> {
        let p = point(c, i)?;
        let community = self.reach(p, i)?;
        let snapped = self.m.snap(p.0).ok_or_else(|| {
            ApiError::invalid(&format!("changes[{i}]"), "no street to reach from there")
                .with("index", json!(i))
        })?;
        Ok((p, community, snapped))
    }

    /// The code change `i` names (`what` says which change needs one).
    fn code(c: &ScenarioChange, i: usize, what: &str) -> ApiResult<String> {
        c.code.clone().ok_or_else(|| {
            ApiError::invalid(
                &format!("changes[{i}].code"),
                format!("{what} needs the station's code"),
            )
        })
    }

    /// The position of station `code` that change `i` names, if it is where the caller may
    /// reach.
    fn existing(&self, code: &str, i: usize) -> ApiResult<usize> {
        let k = self
            .stations
            .iter()
            .position(|s| s.code == code)
            .ok_or_else(|| {
                ApiError::invalid(&format!("changes[{i}].code"), format!("no station {code}"))
                    .with("index", json!(i))
            })?;
        self.reach(geo::Point(self.stations[k].point), i)?;
        Ok(k)
    }

    /// Change `i` adds a station.
    fn add(&mut self, c: &ScenarioChange, i: usize) -> ApiResult<()> {
        let kind =
            parse_kind(c.kind.as_deref().unwrap_or("")).map_err(|e| e.with("index", json!(i)))?;
        let (p, community, snapped) = self.placed(c, i)?;
        let code = c
            .code
            .clone()
            .unwrap_or_else(|| format!("WI-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
        if self.stations.iter().any(|s| s.code == code) {
            return Err(ApiError::invalid(
                &format!("changes[{i}].code"),
                format!("station {code} already exists"),
            )
            .with("index", json!(i)));
        }
        self.stations.push(SnappedStation {
            id: 0,
            code: code.clone(),
            kind,
            point: p.0,
            snap: snapped,
        });
        self.store_changes.push(StationChange::Put(StationInput {
            code,
            name: c.name.clone().unwrap_or_else(|| kind.name_zh().to_string()),
            kind,
            community_code: community,
            programmes: None,
            address: None,
            point: p,
        }));
        Ok(())
    }

    /// Change `i` moves a station (from and to places the caller may reach).
    fn move_station(&mut self, c: &ScenarioChange, i: usize) -> ApiResult<()> {
        let code = Self::code(c, i, "a move")?;
        let (p, community, snapped) = self.placed(c, i)?;
        let k = self.existing(&code, i)?;
        let s = &mut self.stations[k];
        s.point = p.0;
        s.snap = snapped;
        let old = self.snap.stations.items.iter().find(|x| x.code == code);
        self.store_changes.push(StationChange::Put(StationInput {
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
        Ok(())
    }

    /// Change `i` removes a station.
    fn remove(&mut self, c: &ScenarioChange, i: usize) -> ApiResult<()> {
        let code = Self::code(c, i, "a removal")?;
        let pos = self.existing(&code, i)?;
        self.stations.remove(pos);
        self.store_changes.push(StationChange::Delete(code));
        Ok(())
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
    let mut edits = Edits {
        m,
        snap,
        caller,
        stations: m.stations.clone(),
        store_changes: vec![],
    };
    for (i, c) in changes.iter().enumerate() {
        match c.op.as_str() {
            "add" => edits.add(c, i)?,
            "move" => edits.move_station(c, i)?,
            "remove" => edits.remove(c, i)?,
            other => {
                return Err(ApiError::invalid(
                    &format!("changes[{i}].op"),
                    format!("op must be add, move or remove, not {other:?}"),
                )
                .with("index", json!(i)))
            }
        }
    }
    Ok((edits.stations, edits.store_changes))
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
        lang: None,
    }
}

/// `POST /api/coverage/scenario`: coverage after adding, moving or removing stations,
/// without saving anything, and the change against today.
pub async fn scenario(
    Ctx { st, caller }: Ctx,
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
    Ctx { st, caller }: Ctx,
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
