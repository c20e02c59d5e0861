//! Weekly patrols: uploads from phones (whole, or in numbered chunks that can be resumed),
//! reads for grid chiefs and the street office, and the weekly compliance report with its
//! CSV/XLSX export. Incidents are in `incidents`.
//!
//! # For clients (the phone app and the week view)
//!
//! Every write carries an id the client made (UUID v4) and may be re-sent any number of
//! times: the same body under the same id gets the same answer and stores nothing twice
//! (the repeat answers `200` with `Idempotent-Replayed: true` where the first answered
//! `201`); a different body under an id already used is a `409 conflict`. An upload is
//! answered only after it is committed, so a client keeps an item queued until it gets
//! a `2xx` (or a `4xx` other than `401`/`408`/`429`, which retrying will not fix).
//!
//! Positions are `{ "lon", "lat", "t", "accuracy_m" }`; `t` is an RFC 3339 time or
//! milliseconds since 1970 (as the Geolocation API gives them). Each body may say
//! `"crs": "wgs84" | "gcj02" | "bd09"` (default `wgs84`); the server stores WGS 84.
//!
//! | method and path | what |
//! |---|---|
//! | `PUT /api/patrols/{id}` | start a patrol `{grids: [codes], started_at, crs?, notes?, households?}`; or send it whole with `ended_at` and `track: [points]` |
//! | `PUT /api/patrols/{id}/chunks/{n}` | chunk `n` (from 0) of the track: `{id, crs?, points}`; answers which chunks the server has |
//! | `GET /api/patrols/{id}/chunks` | `{expected, received, missing, complete}`: where to resume (`missing` lists at most 1,000 numbers, then `missing_total` says how many) |
//! | `PUT /api/patrols/{id}/end` | `{ended_at, chunks, households?: [{building, households?, doors?}], notes?}`; the patrol is complete once every chunk is in (`chunks` at most `WANGGE_PATROL_MAX_CHUNKS`) |
//! | `GET /api/patrols/{id}` | one patrol with its track (GeoJSON), grids with the share walked inside, speed flags |
//! | `GET /api/patrols?week=2024-W10&grid=&community=&mine=true` | a week's patrols as a GeoJSON FeatureCollection of tracks |
//! | `GET /api/compliance?week=&community=&grid=` | per second-level grid: patrolled or not, by whom, length inside, street coverage, households, incidents |
//! | `GET /api/compliance/overdue?weeks=8&community=` | grids that missed last week's patrol, with weeks missed in a row |
//! | `GET /api/compliance/summary?from=&to=&by=community\|chief` | totals per community or per chief, per week and over the range |
//! | `GET /api/compliance/export?from=&to=&format=csv\|xlsx` | one row per grid and week |
//!
//! A visit (`households[i]`) counts the households reached in a building, or names them:
//! `doors` lists their labels (门牌, as `GET /api/buildings/{code}` lists them; distinct,
//! at most the building's households and at most 1,000), and `households`, when sent too,
//! must equal their number. A door that is not one of the building's households is
//! refused (`households[i].doors[j]`) and nothing of the upload is stored. A visit with a
//! count only (clients from before doors were named) is still accepted: it counts, but
//! names no household.
//!
//! Errors are `{error, message, ...}`: `invalid` with `field` (`grids[1]`,
//! `households[0].building`, `households[0].doors[2]`), `invalid_items` with `items: [{index, message}]` for track
//! points (`track[17].t: ... is in the future`), `not_assigned` (403) for a grid outside
//! the account's scope. Segments faster than the speed limit are flagged
//! (`speed_flags`), not refused.

mod reports;

pub use reports::*;

use super::error::{ApiError, ApiResult};
use super::extract::{Json, Named, Queried, Write};
use super::AppState;
use crate::domain::access::{Area, Caller};
use crate::domain::patrol::{
    check_points, check_span, check_text, check_visits, Crs, IsoWeek, TimeFrame, TrackPoint, Visit,
};
use crate::domain::registry::Grid;
use crate::domain::{FieldError, GridLevel};
use crate::spatial::coords;
use crate::spatial::index::Snapshot;
use crate::spatial::track::outside_zone;
use crate::store::patrols::{
    point_problems, ComplianceRules, GridRef, NewChunk, NewPatrol, Outcome, PatrolEnd, VisitRecord,
};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use geo::{Coord, MultiPolygon};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The longest range of weeks one report covers.
const MAX_WEEKS: usize = 53;
/// Most grid codes one patrol names.
pub const MAX_PATROL_GRIDS: usize = 100;
/// Most buildings one upload lists as visited.
pub const MAX_VISITS: usize = 5000;
/// Most patrols `GET /api/patrols` answers with (each with its track); the default.
pub const MAX_LIST: i64 = 1000;

/// A time as a phone sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Time {
    /// Milliseconds since 1970 (the Geolocation API's `timestamp`).
    Millis(i64),
    /// The same with a fraction.
    FractionalMillis(f64),
    /// RFC 3339.
    Text(String),
}

impl Time {
    fn parse(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Millis(ms) => Utc.timestamp_millis_opt(*ms).single(),
            Self::FractionalMillis(ms) if ms.is_finite() && ms.abs() < 1e15 => {
                Utc.timestamp_millis_opt(ms.round() as i64).single()
            }
            Self::FractionalMillis(_) => None,
            Self::Text(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// A position as a phone sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointIn {
    /// Longitude in the body's coordinate system.
    pub lon: f64,
    /// Latitude in the body's coordinate system.
    pub lat: f64,
    /// When.
    pub t: Time,
    /// Horizontal accuracy in metres.
    #[serde(default, alias = "accuracy")]
    pub accuracy_m: Option<f64>,
}

/// Body of `PUT /api/patrols/{id}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolBody {
    grids: Vec<String>,
    started_at: DateTime<Utc>,
    #[serde(default)]
    ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    crs: Crs,
    #[serde(default)]
    track: Option<Vec<PointIn>>,
    #[serde(default)]
    households: Vec<Visit>,
    #[serde(default)]
    notes: Option<String>,
}

/// Body of `PUT /api/patrols/{id}/chunks/{n}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkBody {
    id: Uuid,
    #[serde(default)]
    crs: Crs,
    points: Vec<PointIn>,
}

/// Body of `PUT /api/patrols/{id}/end`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    ended_at: DateTime<Utc>,
    chunks: i32,
    #[serde(default)]
    households: Vec<Visit>,
    #[serde(default)]
    notes: Option<String>,
}

/// The `limit` of a list route: `default` when absent, else 1 to `max` (422 otherwise).
pub fn list_limit(limit: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "limit",
            format!("limit must be 1 to {max}, got {n}"),
        )),
    }
}

/// Uploads with more track points than this are checked, converted and hashed on the work
/// pool rather than on an async worker: at the size limit that is hundreds of thousands of
/// points, a CPU-bound second or more that would hold up every other request on the
/// worker. A phone's chunk (a fix every few seconds) stays well under it and is checked
/// where it arrived.
const INLINE_POINTS: usize = 2_000;

/// Time the work pool gives the checks of one upload (they run in one pass; the body limit
/// bounds them).
const CHECK_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs an upload's checks `f` inline for a small track, on the work pool for a large one
/// ([`INLINE_POINTS`]). The body moves into `f`, so a large one is also freed there.
async fn checked<T: Send + 'static>(
    points: usize,
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if points <= INLINE_POINTS {
        return f();
    }
    crate::work::heavy(CHECK_BUDGET, move || Ok(f())).await?
}

/// SHA-256 of a parsed body: what "the same upload" means.
pub fn body_hash<T: Serialize>(body: &T) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(body).unwrap_or_default()).to_vec()
}

/// `201` for a new upload, `200` with `Idempotent-Replayed: true` for a repeat.
pub fn acknowledge<T: Serialize>(outcome: Outcome, body: T) -> Response {
    match outcome {
        Outcome::Created => (StatusCode::CREATED, Json(body)).into_response(),
        Outcome::Replayed => {
            let mut r = (StatusCode::OK, Json(body)).into_response();
            r.headers_mut().insert(
                header::HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
            r
        }
    }
}

/// A broken field rule as a 422.
pub fn invalid(e: FieldError) -> ApiError {
    crate::store::StoreError::Field(e).into()
}

fn not_assigned(field: &str, code: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_assigned",
        format!("you are not assigned to grid {code}, so you cannot log patrols for it"),
    )
    .with("field", json!(field))
}

/// The second-level grids a patrol is for (a first-level grid stands for its children),
/// each of which the caller must be assigned to.
fn patrol_grids(
    snap: &Snapshot,
    caller: &Caller,
    codes: &[String],
) -> ApiResult<Vec<(i64, MultiPolygon<f64>)>> {
    if codes.is_empty() {
        return Err(ApiError::invalid("grids", "name at least one grid"));
    }
    if codes.len() > MAX_PATROL_GRIDS {
        return Err(ApiError::invalid(
            "grids",
            format!("a patrol names at most {MAX_PATROL_GRIDS} grids"),
        ));
    }
    let mut out: Vec<(i64, MultiPolygon<f64>)> = vec![];
    for (i, code) in codes.iter().enumerate() {
        let field = format!("grids[{i}]");
        let g = snap
            .grids
            .by_code(code)
            .ok_or_else(|| ApiError::invalid(&field, format!("there is no grid {code}")))?;
        let place = snap
            .place_of_grid(g)
            .ok_or_else(|| ApiError::invalid(&field, format!("there is no grid {code}")))?;
        if !caller.may_change(Area::Patrols, &place) {
            return Err(not_assigned(&field, code));
        }
        let leaves: Vec<&Grid> = match g.level {
            GridLevel::Second => vec![g],
            GridLevel::First => snap.grids.children(g.id).collect(),
        };
        if leaves.is_empty() {
            return Err(ApiError::invalid(
                &field,
                format!("grid {code} has no second-level grids to patrol"),
            ));
        }
        for l in leaves {
            if !out.iter().any(|(id, _)| *id == l.id) {
                out.push((l.id, l.geom.clone()));
            }
        }
    }
    Ok(out)
}

/// Checks the households visited against the buildings of the patrol's grids (the doors
/// named are checked against the buildings' households by [`check_doors`]).
fn visits(snap: &Snapshot, list: &[Visit], grid_ids: &[i64]) -> ApiResult<Vec<VisitRecord>> {
    if list.len() > MAX_VISITS {
        return Err(ApiError::invalid(
            "households",
            format!("at most {MAX_VISITS} buildings per upload"),
        ));
    }
    check_visits(list).map_err(invalid)?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("households[{i}].building");
            let b = snap.buildings.by_code(&v.building).ok_or_else(|| {
                ApiError::invalid(&field, format!("there is no building {}", v.building))
            })?;
            if !grid_ids.contains(&b.grid_id) {
                return Err(ApiError::invalid(
                    &field,
                    format!("building {} is not in this patrol's grids", v.building),
                ));
            }
            let n = v.count();
            if n > b.households {
                let what = if v.doors.is_some() {
                    "doors"
                } else {
                    "households"
                };
                return Err(ApiError::invalid(
                    &format!("households[{i}].{what}"),
                    format!(
                        "building {} has {} households; {n} cannot have been visited",
                        v.building, b.households
                    ),
                ));
            }
            Ok(VisitRecord {
                building_id: b.id,
                households: n,
                doors: v.doors.clone(),
            })
        })
        .collect()
}

/// Checks that every door a visit names is a household of its building (as residents'
/// records label them), naming the first that is not (`households[i].doors[j]`).
/// `visits` are those [`visits`] made, in the order of the body's list.
async fn check_doors(st: &AppState, visits: &[VisitRecord]) -> ApiResult<()> {
    let named: Vec<i64> = visits
        .iter()
        .filter(|v| v.doors.is_some())
        .map(|v| v.building_id)
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    let known = st.store.building_doors(&named).await?;
    for (i, v) in visits.iter().enumerate() {
        let labels = known.get(&v.building_id);
        for (j, d) in v.doors.iter().flatten().enumerate() {
            if !labels.is_some_and(|l| l.contains(d)) {
                return Err(ApiError::invalid(
                    &format!("households[{i}].doors[{j}]"),
                    format!("{d} is not a household of this building"),
                ));
            }
        }
    }
    Ok(())
}

/// Converts points to WGS 84 and checks their times (within `frame`, when known) and
/// that they lie in the caller's zone: the communities of the account's region.
fn track_points(
    st: &AppState,
    snap: &Snapshot,
    caller: &Caller,
    pts: &[PointIn],
    crs: Crs,
    field: &str,
    frame: Option<&TimeFrame>,
) -> ApiResult<Vec<TrackPoint>> {
    let settings = &st.config.patrols;
    if pts.len() > settings.max_points {
        return Err(ApiError::invalid(
            field,
            format!(
                "at most {} points per upload; send a long track in chunks",
                settings.max_points
            ),
        ));
    }
    let mut problems = vec![];
    let mut out = Vec::with_capacity(pts.len());
    for (i, p) in pts.iter().enumerate() {
        let Some(t) = p.t.parse() else {
            problems.push(FieldError::new(
                format!("{field}[{i}].t"),
                "must be an RFC 3339 time or milliseconds since 1970",
            ));
            continue;
        };
        let c = coords::to_wgs84(crs, Coord { x: p.lon, y: p.lat });
        out.push(TrackPoint {
            lon: c.x,
            lat: c.y,
            t,
            accuracy_m: p.accuracy_m,
        });
    }
    if problems.is_empty() {
        if let Some(frame) = frame {
            problems = check_points(&out, field, frame, None, None);
        }
    }
    if problems.is_empty() {
        let zone: Vec<&MultiPolygon<f64>> = snap
            .communities
            .items
            .iter()
            .filter(|c| caller.regions.contains(&c.region_id))
            .map(|c| &c.geom)
            .collect();
        problems = outside_zone(&out, &zone, settings.zone_margin_m)
            .into_iter()
            .take(crate::domain::patrol::MAX_PROBLEMS)
            .map(|i| {
                FieldError::new(
                    format!("{field}[{i}]"),
                    format!(
                        "({}, {}) is outside the zone: more than {} m from every community of your region; is the crs ({}) right?",
                        pts[i].lon, pts[i].lat, settings.zone_margin_m, crs.as_str()
                    ),
                )
            })
            .collect();
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(point_problems(problems).into())
    }
}

fn check_notes(notes: &Option<String>) -> ApiResult<()> {
    match notes {
        Some(n) => check_text(n, "notes", 4000).map_err(invalid),
        None => Ok(()),
    }
}

/// `PUT /api/patrols/{id}`: starts a patrol, or stores a whole one.
pub async fn put_patrol(Write(st, caller, id, b): Write<PatrolBody, Uuid>) -> ApiResult<Response> {
    let now = Utc::now();
    let snap = st.registry.snapshot();
    let points = b.track.as_ref().map_or(0, Vec::len);
    let (st2, caller2) = (st.clone(), caller.clone());
    let new = checked(points, move || {
        let grids = patrol_grids(&snap, &caller2, &b.grids)?;
        check_span(b.started_at, b.ended_at, now).map_err(invalid)?;
        check_notes(&b.notes)?;
        if b.ended_at.is_some() && b.track.is_none() {
            return Err(ApiError::invalid(
                "track",
                "a patrol sent ended needs its track; or send it without ended_at, then its chunks, then PUT …/end",
            ));
        }
        let ids: Vec<i64> = grids.iter().map(|(id, _)| *id).collect();
        let visits = visits(&snap, &b.households, &ids)?;
        let frame = TimeFrame {
            start: b.started_at,
            end: b.ended_at,
            now,
        };
        let track = match &b.track {
            Some(pts) => Some(track_points(
                &st2,
                &snap,
                &caller2,
                pts,
                b.crs,
                "track",
                Some(&frame),
            )?),
            None => None,
        };
        Ok(NewPatrol {
            id,
            account_id: caller2.account_id,
            staff_id: caller2.staff_id,
            grids,
            started_at: b.started_at,
            ended_at: b.ended_at,
            crs: b.crs.as_str(),
            body_hash: body_hash(&b),
            notes: b.notes,
            visits,
            track,
        })
    })
    .await?;
    check_doors(&st, &new.visits).await?;
    let outcome = st
        .store
        .create_patrol(&new, st.config.patrols.speed_limit_kmh)
        .await?;
    let view = st.store.patrol(id, false).await?;
    Ok(acknowledge(outcome, view))
}

/// Reads a patrol the caller may see: its author, or anyone whose scope covers one of
/// its grids. Others get a 404.
async fn visible_patrol(
    st: &AppState,
    caller: &Caller,
    id: Uuid,
    with_track: bool,
) -> ApiResult<crate::store::patrols::PatrolView> {
    let v = st.store.patrol(id, with_track).await?;
    let snap = st.registry.snapshot();
    let sees = v.account_id == caller.account_id
        || v.grid_ids.iter().any(|g| {
            snap.grids
                .get(*g)
                .and_then(|g| snap.place_of_grid(g))
                .is_some_and(|p| caller.in_scope(&p))
        });
    if sees {
        Ok(v)
    } else {
        Err(ApiError::not_found(format!("patrol {id} not found")))
    }
}

/// `GET /api/patrols/{id}`: one patrol with its track.
pub async fn get_patrol(Named(st, caller, id): Named<Uuid>) -> ApiResult<Response> {
    let v = visible_patrol(&st, &caller, id, true).await?;
    Ok(Json(v).into_response())
}

/// `GET /api/patrols/{id}/chunks`: which chunks the server has, to resume an upload.
pub async fn get_chunks(Named(st, caller, id): Named<Uuid>) -> ApiResult<Json<Value>> {
    let v = visible_patrol(&st, &caller, id, false).await?;
    Ok(Json(json!({ "patrol": id, "chunks": v.chunks })))
}

/// `PUT /api/patrols/{id}/chunks/{n}`: one chunk of a track.
pub async fn put_chunk(
    Write(st, caller, (id, seq), b): Write<ChunkBody, (Uuid, i32)>,
) -> ApiResult<Response> {
    let max_chunks = st.config.patrols.max_chunks;
    if !(0..max_chunks).contains(&seq) {
        return Err(ApiError::invalid(
            "seq",
            format!("chunks are numbered from 0 to {}", max_chunks - 1),
        ));
    }
    let snap = st.registry.snapshot();
    let (st2, caller2) = (st.clone(), caller.clone());
    let chunk = checked(b.points.len(), move || {
        let points = track_points(&st2, &snap, &caller2, &b.points, b.crs, "points", None)?;
        Ok(NewChunk {
            patrol_id: id,
            seq,
            id: b.id,
            points,
            body_hash: body_hash(&b),
        })
    })
    .await?;
    let outcome = st
        .store
        .put_chunk(
            &chunk,
            caller.account_id,
            st.config.patrols.speed_limit_kmh,
            st.config.patrols.max_track_points,
            Utc::now(),
        )
        .await?;
    let v = st.store.patrol(id, false).await?;
    Ok(acknowledge(
        outcome,
        json!({ "patrol": id, "seq": seq, "chunks": v.chunks }),
    ))
}

/// `PUT /api/patrols/{id}/end`: ends a patrol sent in chunks.
pub async fn end_patrol(Write(st, caller, id, b): Write<EndBody, Uuid>) -> ApiResult<Response> {
    let hash = body_hash(&b);
    check_notes(&b.notes)?;
    let max_chunks = st.config.patrols.max_chunks;
    if !(1..=max_chunks).contains(&b.chunks) {
        return Err(ApiError::invalid(
            "chunks",
            format!("a track has 1 to {max_chunks} chunks"),
        ));
    }
    let v = st.store.patrol(id, false).await?;
    if v.account_id != caller.account_id {
        return Err(ApiError::not_found(format!(
            "patrol {id} not found among yours"
        )));
    }
    let snap = st.registry.snapshot();
    let visits = visits(&snap, &b.households, &v.grid_ids)?;
    drop(snap);
    check_doors(&st, &visits).await?;
    let end = PatrolEnd {
        ended_at: b.ended_at,
        chunks: b.chunks,
        notes: b.notes,
        visits,
        body_hash: hash,
    };
    let outcome = st
        .store
        .end_patrol(
            id,
            caller.account_id,
            &end,
            st.config.patrols.speed_limit_kmh,
            Utc::now(),
        )
        .await?;
    let v = st.store.patrol(id, false).await?;
    Ok(acknowledge(outcome, v))
}

/// Query of the patrol list and the reports.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    week: Option<String>,
    from: Option<String>,
    to: Option<String>,
    community: Option<String>,
    grid: Option<String>,
    #[serde(default)]
    mine: bool,
    by: Option<String>,
    format: Option<String>,
    weeks: Option<usize>,
    limit: Option<i64>,
}

fn week(field: &str, s: Option<&str>) -> ApiResult<Option<IsoWeek>> {
    s.map(|s| {
        IsoWeek::parse(s).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{field} must be an ISO week like 2024-W10, got {s:?}"),
            )
        })
    })
    .transpose()
}

impl ReportQuery {
    /// The weeks asked for: `week`, or `from`..`to`, or the current week.
    fn weeks(&self) -> ApiResult<Vec<IsoWeek>> {
        let now = IsoWeek::of(Utc::now());
        if let Some(w) = week("week", self.week.as_deref())? {
            return Ok(vec![w]);
        }
        let from = week("from", self.from.as_deref())?;
        let to = week("to", self.to.as_deref())?;
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (f, t),
            (Some(f), None) => (f, now.max(f)),
            (None, Some(t)) => (t, t),
            (None, None) => (now, now),
        };
        if from > to {
            return Err(ApiError::invalid("from", "from must not be after to"));
        }
        let weeks = from.through(to);
        if weeks.len() > MAX_WEEKS {
            return Err(ApiError::invalid(
                "to",
                format!("a report covers at most {MAX_WEEKS} weeks"),
            ));
        }
        Ok(weeks)
    }
}

/// The id of the community `code` in the caller's region; an unknown community, or one out
/// of the region, is a 404 (the same answer, so that codes elsewhere are not revealed).
pub fn community_in_region(snap: &Snapshot, caller: &Caller, code: &str) -> ApiResult<i64> {
    snap.communities
        .by_code(code)
        .filter(|c| caller.regions.contains(&c.region_id))
        .map(|c| c.id)
        .ok_or_else(|| ApiError::not_found(format!("community {code} not found")))
}

/// The second-level grids of the caller's scope, narrowed to a community or a grid (a
/// first-level grid stands for its children). An unknown community or grid, or one out of
/// reach, is a 404.
pub fn scope_grids<'a>(
    snap: &'a Snapshot,
    caller: &Caller,
    community: Option<&str>,
    grid: Option<&str>,
) -> ApiResult<Vec<&'a Grid>> {
    let community = community
        .map(|code| community_in_region(snap, caller, code))
        .transpose()?;
    let grid = match grid {
        Some(code) => {
            let g = snap
                .grids
                .by_code(code)
                .filter(|g| snap.place_of_grid(g).is_some_and(|p| caller.in_scope(&p)))
                .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?;
            Some((g.id, g.level))
        }
        None => None,
    };
    Ok(snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::Second)
        .filter(|g| community.is_none_or(|c| g.community_id == c))
        .filter(|g| match grid {
            Some((id, GridLevel::Second)) => g.id == id,
            Some((id, GridLevel::First)) => g.parent_id == Some(id),
            None => true,
        })
        .filter(|g| snap.place_of_grid(g).is_some_and(|p| caller.in_scope(&p)))
        .collect())
}

/// [`scope_grids`] with what the compliance report needs of each, by community and code.
fn grid_refs(snap: &Snapshot, caller: &Caller, q: &ReportQuery) -> ApiResult<Vec<GridRef>> {
    let grids = scope_grids(snap, caller, q.community.as_deref(), q.grid.as_deref())?;
    Ok(refs_of(snap, grids))
}

/// What the compliance report needs of each grid, by community and code.
fn refs_of<'a>(snap: &Snapshot, grids: impl IntoIterator<Item = &'a Grid>) -> Vec<GridRef> {
    let mut out: Vec<GridRef> = grids
        .into_iter()
        .filter_map(|g| {
            let c = snap.communities.get(g.community_id)?;
            let chief = snap
                .staff
                .chief(g.id)
                .or_else(|| g.parent_id.and_then(|p| snap.staff.chief(p)))
                .map(|s| s.name.clone());
            Some(GridRef {
                id: g.id,
                code: g.code.clone(),
                name: g.name.clone(),
                community: c.code.clone(),
                community_name: c.name.clone(),
                chief,
                households: snap.figures.grid(g.id).households,
                geom: g.geom.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.community, &a.code).cmp(&(&b.community, &b.code)));
    out
}

fn rules(st: &AppState) -> ComplianceRules {
    ComplianceRules {
        min_share_inside: st.config.patrols.min_share_inside,
        street_buffer_m: st.config.patrols.street_buffer_m,
    }
}

/// `GET /api/patrols`: a week's patrols (or a range's) as GeoJSON tracks.
pub async fn list(Queried(st, caller, q): Queried<ReportQuery>) -> ApiResult<Json<Value>> {
    let patrols = listed(&st, &caller, &q).await?;
    let features: Vec<Value> = patrols
        .into_iter()
        .map(|mut p| {
            let geometry = p.track.take().unwrap_or(Value::Null);
            json!({ "type": "Feature", "id": p.id, "geometry": geometry, "properties": p })
        })
        .collect();
    Ok(Json(
        json!({ "type": "FeatureCollection", "features": features }),
    ))
}

/// The patrols `GET /api/patrols` lists for the caller and `q` (with their tracks), oldest
/// first, at most its limit.
pub async fn listed(
    st: &AppState,
    caller: &Caller,
    q: &ReportQuery,
) -> ApiResult<Vec<crate::store::patrols::PatrolView>> {
    let weeks = q.weeks()?;
    let snap = st.registry.snapshot();
    let ids: Vec<i64> = scope_grids(&snap, caller, q.community.as_deref(), q.grid.as_deref())?
        .iter()
        .map(|g| g.id)
        .collect();
    let (from, to) = match (weeks.first(), weeks.last()) {
        (Some(f), Some(l)) => (f.start(), l.end()),
        _ => return Err(ApiError::invalid("week", "no week asked for")),
    };
    let mine = q.mine.then_some(caller.account_id);
    let limit = list_limit(q.limit, MAX_LIST, MAX_LIST)?;
    Ok(st.store.patrols(&ids, mine, from, to, limit).await?)
}
