//! The weekly reports read back from the patrols: each second-level grid's compliance
//! (`GET /api/compliance`, its summary, the grids overdue and the export), and the street
//! lengths of the grids kept between reports and refreshed in the background.

use super::{grid_refs, refs_of, rules, ReportQuery, MAX_WEEKS};
use crate::domain::access::Caller;
use crate::domain::patrol::{GridWeek, IsoWeek, Totals, WeekStatus};
use crate::domain::GridLevel;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Queried};
use crate::http::kept::Kept;
use crate::http::params;
use crate::http::xlsx::Cell;
use crate::http::AppState;
use crate::store::changes::ChangeLayer;
use crate::store::patrols::{
    compliance_rows, street_lengths as street_lengths_of, GridRef, StreetLengths,
};
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Grid-weeks listed one by one in a compliance answer; past it the rows are left out
/// (`grids_omitted`) and the answer has the figures per community and each grid's shade.
pub const MAX_COMPLIANCE_ROWS: usize = 1_000;
/// Time a compliance report's CPU work may take on the work pool.
const REPORT_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Time measuring the streets of every grid may take on the work pool.
const STREETS_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// Layers of the change log that the street lengths depend on: the network and the grids
/// (a full reload or a community import redraws grids too).
const STREET_LAYERS: [ChangeLayer; 4] = [
    ChangeLayer::All,
    ChangeLayer::Communities,
    ChangeLayer::Grids,
    ChangeLayer::Network,
];

/// The street metres inside every second-level grid, measured once per state of the
/// network and the grids (see [`StreetLengths`]) rather than on every compliance request:
/// at city scale clipping the streets of 5,383 grids takes seconds, and a week's report
/// only needs the walked grids clipped against their tracks. A request reads the change
/// log's latest network or grid change and uses the kept figures of exactly that state;
/// otherwise it (or the keeper, [`spawn_streets_keeper`]) measures them on the work pool,
/// one measurement at a time.
#[derive(Debug, Default)]
pub struct StreetCache {
    /// Kept under the buffer they were measured with (it decides which streets are near).
    kept: Kept<f64, StreetLengths>,
    /// Held while the keeper reports the recent weeks ([`warm_weeks`]): a report waits for
    /// it rather than clipping the same walked grids a second time beside it.
    warming: tokio::sync::Mutex<()>,
}

impl StreetCache {
    /// How many walked grid-weeks' street coverage is kept for the current streets.
    pub fn walked_kept(&self) -> usize {
        self.kept.latest().map_or(0, |k| k.walked.len())
    }
}

/// The number of the latest change the street lengths depend on.
async fn street_seq(st: &AppState) -> ApiResult<i64> {
    Ok(st.store.last_change_of(&STREET_LAYERS).await?)
}

/// The street lengths for the current network and grids, kept or measured now. As for
/// the party findings, the change number is read before the data, and the figures are
/// kept only when the index had caught up with it.
async fn street_lengths(st: &AppState) -> ApiResult<Arc<StreetLengths>> {
    let buffer_m = st.config.patrols.street_buffer_m;
    let seq = street_seq(st).await?;
    if st.registry.snapshot().seq < seq {
        st.after_change().await;
    }
    let measure = |seq| async move {
        let snap = st.registry.snapshot();
        let all: Vec<usize> = (0..snap.grids.items.len())
            .filter(|&i| snap.grids.items[i].level == GridLevel::Second)
            .collect();
        let streets = st
            .store
            .streets_of(all.iter().map(|&i| &snap.grids.items[i].geom))
            .await?;
        let grids = Arc::clone(&snap.grids);
        let lengths = crate::work::heavy(STREETS_BUDGET, move || {
            street_lengths_of(
                streets,
                all.iter()
                    .map(|&i| (grids.items[i].id, &grids.items[i].geom)),
                buffer_m,
            )
        })
        .await?;
        Ok((lengths, snap.seq >= seq))
    };
    st.streets
        .kept
        .get(seq, buffer_m, || street_seq(st), measure)
        .await
}

/// Keeps the street lengths up to date in the background (checked every `every`), so that
/// the first compliance request after start or after a network or grid change rarely
/// waits for them. Each time they are measured anew it also reports this week and the last
/// for the whole zone, so that the walked grid-weeks' street coverage is kept (see
/// [`crate::store::patrols::WalkedCoverage`]) before a chief opens the week view; later
/// patrols are clipped by the first report that meets them, one grid at a time.
pub fn spawn_streets_keeper(st: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut warmed: Option<Arc<StreetLengths>> = None;
        loop {
            // Reports wait while the streets are checked and, when they were measured anew,
            // the recent weeks are reported (see `grid_weeks`).
            let warming = st.streets.warming.lock().await;
            match street_lengths(&st).await {
                Ok(k) if !warmed.as_ref().is_some_and(|w| Arc::ptr_eq(w, &k)) => {
                    if let Err(e) = warm_weeks(&st).await {
                        tracing::warn!("reporting the recent weeks failed: {}", e.message);
                    }
                    warmed = Some(k);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("measuring the streets of the grids failed: {}", e.message);
                }
            }
            drop(warming);
            tokio::time::sleep(every).await;
        }
    });
}

/// This week's and last week's compliance of every second-level grid, computed and dropped
/// (what stays is what the report keeps). The caller holds `warming`.
async fn warm_weeks(st: &AppState) -> ApiResult<()> {
    let snap = st.registry.snapshot();
    let grids = refs_of(
        &snap,
        snap.grids
            .items
            .iter()
            .filter(|g| g.level == GridLevel::Second),
    );
    let this = IsoWeek::of(Utc::now());
    report_weeks(st, grids, vec![this.prev(), this])
        .await
        .map(drop)
}

/// Each grid's weeks, once the keeper's report of the recent weeks (if one is running) is
/// done: then the walked grid-weeks it clipped are kept and this report reuses them.
/// The weeks a report query asks for, and the rows of the grids it asks for in them.
async fn asked_rows(
    st: &AppState,
    caller: &Caller,
    q: &ReportQuery,
) -> ApiResult<(Vec<IsoWeek>, Vec<GridWeek>)> {
    let weeks = q.weeks()?;
    let grids = grid_refs(&st.registry.snapshot(), caller, q)?;
    let rows = grid_weeks(st, grids, weeks.clone()).await?;
    Ok((weeks, rows))
}

async fn grid_weeks(
    st: &AppState,
    grids: Vec<GridRef>,
    weeks: Vec<IsoWeek>,
) -> ApiResult<Vec<GridWeek>> {
    drop(st.streets.warming.lock().await);
    report_weeks(st, grids, weeks).await
}

/// Each grid's weeks: the database's part read here, the figures computed on the work pool.
async fn report_weeks(
    st: &AppState,
    grids: Vec<GridRef>,
    weeks: Vec<IsoWeek>,
) -> ApiResult<Vec<GridWeek>> {
    let rules = rules(st);
    let known = street_lengths(st).await?;
    let buildings = Arc::clone(&st.registry.snapshot().buildings);
    let inputs = st
        .store
        .compliance_inputs(&grids, &weeks, rules, Some(known), &buildings)
        .await?;
    let now = Utc::now();
    Ok(crate::work::heavy(REPORT_BUDGET, move || {
        compliance_rows(&inputs, &grids, &weeks, rules, now)
    })
    .await?)
}

/// How the week view colours a grid's week: patrolled; partly (walked, but too little of
/// the walk inside the grid for it to count); or its status (due, overdue, upcoming).
fn shade(r: &GridWeek) -> &'static str {
    if r.patrolled {
        "patrolled"
    } else if !r.patrols.is_empty() {
        "partly"
    } else {
        match r.status {
            WeekStatus::Patrolled => "patrolled",
            WeekStatus::Due => "due",
            WeekStatus::Overdue => "overdue",
            WeekStatus::Upcoming => "upcoming",
        }
    }
}

/// `GET /api/compliance?week=|from=&to=&community=&grid=`: each second-level grid's week,
/// with the totals and the totals per community. Over [`MAX_COMPLIANCE_ROWS`] grid-weeks
/// the rows are left out (`grids_omitted`: ask per community or grid, or download the
/// export); for one week `shades` gives every grid's colour in the week view by code.
pub async fn compliance(Queried(st, caller, q): Queried<ReportQuery>) -> ApiResult<Json<Value>> {
    let (weeks, rows) = asked_rows(&st, &caller, &q).await?;
    let mut totals = Totals::default();
    let mut communities: BTreeMap<&str, (&str, Totals)> = BTreeMap::new();
    for r in &rows {
        totals.add(r);
        communities
            .entry(r.community.as_str())
            .or_insert_with(|| (r.community_name.as_str(), Totals::default()))
            .1
            .add(r);
    }
    let communities: Vec<Value> = communities
        .into_iter()
        .map(|(code, (name, t))| json!({ "code": code, "name": name, "totals": t }))
        .collect();
    let shades: Option<serde_json::Map<String, Value>> = (weeks.len() == 1).then(|| {
        rows.iter()
            .map(|r| (r.grid.clone(), json!(shade(r))))
            .collect()
    });
    let omitted = rows.len() > MAX_COMPLIANCE_ROWS;
    let mut body = json!({
        "from": weeks.first(), "to": weeks.last(),
        "rules": { "min_share_inside": st.config.patrols.min_share_inside,
                   "street_buffer_m": st.config.patrols.street_buffer_m,
                   "household_full_marks": crate::domain::patrol::FULL_MARKS_SHARE },
        "totals": totals,
        "communities": communities,
        "shades": shades,
        "grid_weeks": rows.len(),
    });
    if omitted {
        body["grids"] = json!([]);
        body["grids_omitted"] = json!(true);
    } else {
        body["grids"] = json!(rows);
    }
    Ok(Json(body))
}

/// `GET /api/compliance/overdue`: grids that missed their weekly patrol.
pub async fn overdue(Queried(st, caller, q): Queried<ReportQuery>) -> ApiResult<Json<Value>> {
    let lookback = q.weeks.unwrap_or(8);
    if !(1..=MAX_WEEKS).contains(&lookback) {
        return Err(ApiError::invalid(
            "weeks",
            format!("look back 1 to {MAX_WEEKS} weeks"),
        ));
    }
    let snap = st.registry.snapshot();
    let grids = grid_refs(&snap, &caller, &q)?;
    let now = Utc::now();
    let rows = st
        .store
        .overdue(&grids, st.config.patrols.min_share_inside, lookback, now)
        .await?;
    Ok(Json(json!({
        "week": IsoWeek::of(now).prev(),
        "lookback_weeks": lookback,
        "grids": rows,
    })))
}

#[derive(Serialize)]
struct Group {
    key: String,
    name: String,
    total: Totals,
    weeks: Vec<WeekTotals>,
}

#[derive(Serialize)]
struct WeekTotals {
    week: IsoWeek,
    #[serde(flatten)]
    totals: Totals,
}

/// `GET /api/compliance/summary`: totals per community or per chief.
pub async fn summary(Queried(st, caller, q): Queried<ReportQuery>) -> ApiResult<Json<Value>> {
    let by = params::one_of(q.by.as_deref(), "by", ("community", "chief"))?;
    let (weeks, rows) = asked_rows(&st, &caller, &q).await?;
    let key = |r: &GridWeek| -> (String, String) {
        if by == "community" {
            (r.community.clone(), r.community_name.clone())
        } else {
            let name = r.chief.clone().unwrap_or_else(|| "—".into());
            (name.clone(), name)
        }
    };
    let mut groups: BTreeMap<String, (String, Totals, BTreeMap<IsoWeek, Totals>)> = BTreeMap::new();
    for r in &rows {
        let (k, name) = key(r);
        let g = groups
            .entry(k)
            .or_insert_with(|| (name, Totals::default(), BTreeMap::new()));
        g.1.add(r);
        g.2.entry(r.week).or_default().add(r);
    }
    let groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, (name, total, weeks))| Group {
            key,
            name,
            total,
            weeks: weeks
                .into_iter()
                .map(|(week, totals)| WeekTotals { week, totals })
                .collect(),
        })
        .collect();
    Ok(Json(json!({
        "from": weeks.first(), "to": weeks.last(), "by": by, "groups": groups,
    })))
}

const COLUMNS: [&str; 19] = [
    "week",
    "community",
    "community_name",
    "grid",
    "grid_name",
    "chief",
    "status",
    "patrolled",
    "patrolled_by",
    "patrols_counted",
    "track_length_inside_m",
    "street_length_m",
    "street_covered_m",
    "street_coverage",
    "households",
    "households_visited",
    "household_coverage",
    "household_full_marks",
    "incidents_found",
];

fn export_row(r: &GridWeek) -> Vec<Cell> {
    use Cell::*;
    let num = |v: Option<f64>| v.map_or(Empty, Number);
    let round = |v: f64, places: i32| {
        let k = 10f64.powi(places);
        (v * k).round() / k
    };
    vec![
        Text(r.week.to_string()),
        Text(r.community.clone()),
        Text(r.community_name.clone()),
        Text(r.grid.clone()),
        Text(r.name.clone()),
        Text(r.chief.clone().unwrap_or_default()),
        Text(
            serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        ),
        Text(if r.patrolled { "yes" } else { "no" }.into()),
        Text(r.patrolled_by.join(", ")),
        Number(r.patrols.iter().filter(|p| p.counts).count() as f64),
        Number(round(r.track_length_inside_m, 1)),
        num(r.street_length_m.map(|v| round(v, 1))),
        num(r.street_covered_m.map(|v| round(v, 1))),
        num(r.street_coverage.map(|v| round(v, 4))),
        Number(r.households as f64),
        Number(r.households_visited as f64),
        num(r.household_coverage.map(|v| round(v, 4))),
        Text(if r.household_full_marks { "yes" } else { "no" }.into()),
        Number(r.incidents_found as f64),
    ]
}

/// `GET /api/compliance/export`: one row per grid and week, as CSV or XLSX.
pub async fn export(Queried(st, caller, q): Queried<ReportQuery>) -> ApiResult<Response> {
    let format = params::one_of(q.format.as_deref(), "format", ("csv", "xlsx"))?;
    let (weeks, rows) = asked_rows(&st, &caller, &q).await?;
    let name = match (weeks.first(), weeks.last()) {
        (Some(f), Some(l)) if f != l => format!("compliance-{f}-{l}"),
        (Some(f), _) => format!("compliance-{f}"),
        _ => "compliance".to_string(),
    };
    if format == "csv" {
        return Ok(crate::http::xlsx::csv_download(
            &name, &COLUMNS, rows, export_row,
        ));
    }
    let cells: Vec<Vec<Cell>> = rows.iter().map(export_row).collect();
    crate::http::xlsx::download(format, &name, "compliance", &COLUMNS, &cells)
}
