//! Patrols and their tracks: idempotent uploads (a whole track at once, or numbered chunks
//! that may arrive in any order and be re-sent), completion once the end and every chunk
//! are in, and the patrols read back (the weekly compliance of grids computed from them is
//! in [`compliance`]).
//!
//! Idempotency: every upload carries a client-made id and the SHA-256 of its parsed body.
//! Inserting under an id that exists does nothing; the stored hash then says whether the
//! upload is a repeat (answered as before) or a different body (a conflict). Every upload
//! is one transaction, so an acknowledged upload is committed and an unacknowledged one
//! is either committed whole (and a retry finds it) or not at all.
//!
//! Must not: decide who may see or write a patrol (callers pass ids they checked), or
//! parse HTTP bodies.

use super::{wkb, DbContext, Store, StoreError};
mod compliance;

pub use compliance::*;

use crate::domain::patrol::{check_points, check_span, ratio, TimeFrame, TrackPoint, CLOCK_SKEW};
use crate::domain::FieldError;
use crate::spatial::track::{self, SpeedFlag};
use chrono::{DateTime, Utc};
use geo::{LineString, MultiPolygon};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::HashSet;
use uuid::Uuid;

/// Whether an upload was stored now or had been stored before with the same body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored by this request.
    Created,
    /// A repeat of an upload already stored: nothing changed.
    Replayed,
}

/// A new patrol, converted to WGS 84 and checked against the registry by the caller.
#[derive(Debug, Clone)]
pub struct NewPatrol {
    /// The client's id.
    pub id: Uuid,
    /// The author.
    pub account_id: i64,
    /// The author's staff record.
    pub staff_id: Option<i64>,
    /// Second-level grids patrolled, with their boundaries now.
    pub grids: Vec<(i64, MultiPolygon<f64>)>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, when the patrol is sent finished.
    pub ended_at: Option<DateTime<Utc>>,
    /// The coordinate system the client used (kept for the record).
    pub crs: &'static str,
    /// Notes.
    pub notes: Option<String>,
    /// Households reached, per building.
    pub visits: Vec<VisitRecord>,
    /// The whole track, or its first chunk, as chunk 0.
    pub track: Option<Vec<TrackPoint>>,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
}

/// A chunk of a track.
#[derive(Debug, Clone)]
pub struct NewChunk {
    /// The patrol.
    pub patrol_id: Uuid,
    /// Its number, from 0.
    pub seq: i32,
    /// The client's id of the chunk.
    pub id: Uuid,
    /// Points, in WGS 84.
    pub points: Vec<TrackPoint>,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
}

/// The end of a patrol sent in parts.
#[derive(Debug, Clone)]
pub struct PatrolEnd {
    /// End.
    pub ended_at: DateTime<Utc>,
    /// How many chunks the track has.
    pub chunks: i32,
    /// Notes (kept when absent).
    pub notes: Option<String>,
    /// Households reached, per building.
    pub visits: Vec<VisitRecord>,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
}

/// Households reached in one building, checked against the registry by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    /// The building.
    pub building_id: i64,
    /// Households reached.
    pub households: i32,
    /// The households reached by label, when the client named them (`None`: a count only).
    pub doors: Option<Vec<String>>,
}

/// How many missing chunk numbers a [`ChunkState`] lists at most; the rest are counted.
pub const MAX_LISTED_MISSING: usize = 1000;

/// Which chunks of a track the server has.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChunkState {
    /// How many chunks the track has, once the client said.
    pub expected: Option<i32>,
    /// Numbers of the chunks stored.
    pub received: Vec<i32>,
    /// Numbers still missing (when the count is known), lowest first: at most
    /// [`MAX_LISTED_MISSING`] of them.
    pub missing: Vec<i32>,
    /// How many are missing in all, present only when `missing` does not list them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_total: Option<i64>,
    /// Whether the patrol is ended and its track whole.
    pub complete: bool,
}

impl ChunkState {
    /// The state of a track of `expected` chunks of which `received` (ascending) are in.
    /// Never builds a list longer than [`MAX_LISTED_MISSING`], whatever `expected` says
    /// (rows stored before chunk counts were bounded may hold any `i32`).
    pub fn new(expected: Option<i32>, received: Vec<i32>, complete: bool) -> Self {
        let mut missing = vec![];
        let mut missing_total = None;
        if let Some(n) = expected {
            let have: HashSet<i32> = received.iter().copied().collect();
            missing = (0..n)
                .filter(|i| !have.contains(i))
                .take(MAX_LISTED_MISSING)
                .collect();
            let inside = have.iter().filter(|i| (0..n).contains(*i)).count() as i64;
            let total = (i64::from(n) - inside).max(0);
            if total > missing.len() as i64 {
                missing_total = Some(total);
            }
        }
        Self {
            expected,
            received,
            missing,
            missing_total,
            complete,
        }
    }
}

/// The author of a patrol.
#[derive(Debug, Clone, Serialize)]
pub struct StaffRef {
    /// Staff code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// A patrol as stored.
#[derive(Debug, Clone, Serialize)]
pub struct PatrolView {
    /// Id.
    pub id: Uuid,
    /// Author's login name.
    pub account: String,
    /// Author's staff record.
    pub staff: Option<StaffRef>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
    /// The coordinate system the client sent.
    pub crs: String,
    /// Notes.
    pub notes: Option<String>,
    /// Grids with the length and share of the walk inside each (once complete).
    pub grids: Value,
    /// Ids of the grids, for access checks.
    #[serde(skip)]
    pub grid_ids: Vec<i64>,
    /// Author's account id, for access checks.
    #[serde(skip)]
    pub account_id: i64,
    /// Households reached per building.
    pub households: Value,
    /// Chunks received and missing.
    pub chunks: ChunkState,
    /// Whether the patrol is ended and its track whole.
    pub complete: bool,
    /// Points in the track (once complete).
    pub points: Option<i32>,
    /// Length of the track in metres.
    pub length_m: Option<f64>,
    /// Length without the segments above the speed limit.
    pub walked_m: Option<f64>,
    /// Highest speed between two fixes, km/h.
    pub max_speed_kmh: Option<f64>,
    /// Segments above the speed limit.
    pub speed_flags: Value,
    /// Incidents reported on the patrol.
    pub incidents: Vec<Uuid>,
    /// When the server first stored it.
    pub received_at: DateTime<Utc>,
    /// When it became complete.
    pub completed_at: Option<DateTime<Utc>>,
    /// The track as GeoJSON, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<Value>,
}

const VIEW: &str = "SELECT p.id, p.account_id, a.username, s.code AS staff_code, s.name AS staff_name, \
     p.started_at, p.ended_at, p.crs, p.notes, p.chunks, p.complete, p.points, p.length_m, p.walked_m, \
     p.max_speed_kmh, p.speed_flags, p.received_at, p.completed_at, \
     ARRAY(SELECT seq FROM patrol_chunks c WHERE c.patrol_id = p.id ORDER BY seq) AS received, \
     ARRAY(SELECT grid_id FROM patrol_grids g WHERE g.patrol_id = p.id ORDER BY grid_id) AS grid_ids, \
     COALESCE((SELECT json_agg(json_build_object('code', gv.code, 'name', gv.name, \
         'length_inside_m', round(pg.length_inside_m::numeric, 1), 'share_inside', round(pg.share_inside::numeric, 4)) ORDER BY gv.code) \
       FROM patrol_grids pg CROSS JOIN LATERAL (SELECT code, name FROM grid_versions \
         WHERE grid_id = pg.grid_id ORDER BY version DESC LIMIT 1) gv WHERE pg.patrol_id = p.id), '[]') AS grids, \
     COALESCE((SELECT json_agg(json_build_object('building', b.code, 'households', v.households) ORDER BY b.code) \
       FROM patrol_visits v JOIN buildings b ON b.id = v.building_id WHERE v.patrol_id = p.id), '[]') AS households, \
     ARRAY(SELECT id FROM incidents i WHERE i.patrol_id = p.id ORDER BY reported_at, id) AS incidents, \
     CASE WHEN $1 THEN ST_AsGeoJSON(p.track, 7)::json END AS track \
     FROM patrols p JOIN accounts a ON a.id = p.account_id LEFT JOIN staff s ON s.id = p.staff_id";

fn view_from_row(r: &PgRow) -> Result<PatrolView, StoreError> {
    const W: &str = "reading a patrol";
    let staff_code: Option<String> = r.try_get("staff_code").ctx(W)?;
    let staff_name: Option<String> = r.try_get("staff_name").ctx(W)?;
    let complete: bool = r.try_get("complete").ctx(W)?;
    Ok(PatrolView {
        id: r.try_get("id").ctx(W)?,
        account_id: r.try_get("account_id").ctx(W)?,
        account: r.try_get("username").ctx(W)?,
        staff: staff_code
            .zip(staff_name)
            .map(|(code, name)| StaffRef { code, name }),
        started_at: r.try_get("started_at").ctx(W)?,
        ended_at: r.try_get("ended_at").ctx(W)?,
        crs: r.try_get("crs").ctx(W)?,
        notes: r.try_get("notes").ctx(W)?,
        grids: r.try_get("grids").ctx(W)?,
        grid_ids: r.try_get("grid_ids").ctx(W)?,
        households: r.try_get("households").ctx(W)?,
        chunks: ChunkState::new(
            r.try_get("chunks").ctx(W)?,
            r.try_get("received").ctx(W)?,
            complete,
        ),
        complete,
        points: r.try_get("points").ctx(W)?,
        length_m: r.try_get("length_m").ctx(W)?,
        walked_m: r.try_get("walked_m").ctx(W)?,
        max_speed_kmh: r.try_get("max_speed_kmh").ctx(W)?,
        speed_flags: r.try_get("speed_flags").ctx(W)?,
        incidents: r.try_get("incidents").ctx(W)?,
        received_at: r.try_get("received_at").ctx(W)?,
        completed_at: r.try_get("completed_at").ctx(W)?,
        track: r.try_get("track").ctx(W)?,
    })
}

/// What a whole track measures, and how much of it lies in each grid.
struct Completion {
    summary: track::TrackSummary,
    line: Vec<u8>,
    grid_ids: Vec<i64>,
    inside_m: Vec<f64>,
    shares: Vec<f64>,
}

fn complete(
    points: &[TrackPoint],
    grids: &[(i64, MultiPolygon<f64>)],
    speed_limit_kmh: f64,
) -> Completion {
    let summary = track::summarise(points, speed_limit_kmh);
    let line = track::positions(points);
    let flagged: Vec<usize> = summary.flags.iter().map(|f| f.segment).collect();
    let walked = track::walked_parts(&line, &flagged);
    let mut c = Completion {
        line: wkb::encode_line(&LineString(line)),
        grid_ids: vec![],
        inside_m: vec![],
        shares: vec![],
        summary,
    };
    for (id, geom) in grids {
        let inside = track::length_inside(&walked, geom);
        let share = ratio(inside, c.summary.walked_m).map_or(0.0, |s| s.min(1.0));
        c.grid_ids.push(*id);
        c.inside_m.push(inside);
        c.shares.push(share);
    }
    c
}

fn flags_json(flags: &[SpeedFlag]) -> Value {
    serde_json::to_value(flags).unwrap_or(Value::Array(vec![]))
}

/// The doors of visits named by both of two sends of the same building (the start and
/// the end of a patrol), each once; whichever names none leaves the other's.
const DOORS_MERGED: &str = "CASE WHEN patrol_visits.doors IS NULL THEN EXCLUDED.doors \
     WHEN EXCLUDED.doors IS NULL THEN patrol_visits.doors \
     ELSE ARRAY(SELECT DISTINCT d FROM unnest(patrol_visits.doors || EXCLUDED.doors) AS d ORDER BY d) END";

async fn insert_visits(
    tx: &mut PgConnection,
    id: Uuid,
    visits: &[VisitRecord],
) -> Result<(), StoreError> {
    if visits.is_empty() {
        return Ok(());
    }
    let buildings: Vec<i64> = visits.iter().map(|v| v.building_id).collect();
    let counts: Vec<i32> = visits.iter().map(|v| v.households).collect();
    // Each visit's doors as a JSON array (or null): arrays of unequal length do not unnest.
    let doors: Vec<Option<Value>> = visits
        .iter()
        .map(|v| v.doors.as_ref().map(|d| Value::from(d.clone())))
        .collect();
    // A building sent twice by one patrol keeps the larger count and every door named.
    sqlx::query(&format!(
        "INSERT INTO patrol_visits (patrol_id, building_id, households, doors) \
         SELECT $1, b, n, CASE WHEN d IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(d)) END \
         FROM unnest($2::bigint[], $3::int[], $4::jsonb[]) AS u(b, n, d) \
         ON CONFLICT (patrol_id, building_id) DO UPDATE \
           SET households = GREATEST(patrol_visits.households, EXCLUDED.households, \
                 cardinality({DOORS_MERGED})), \
               doors = {DOORS_MERGED}"
    ))
    .bind(id)
    .bind(&buildings)
    .bind(&counts)
    .bind(&doors)
    .execute(&mut *tx)
    .await
    .ctx("recording households visited")?;
    Ok(())
}

async fn insert_chunk(
    tx: &mut PgConnection,
    patrol_id: Uuid,
    seq: i32,
    chunk_id: Uuid,
    body_hash: &[u8],
    points: &[TrackPoint],
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Err(
            FieldError::new("points", "the track is empty: send at least one point").into(),
        );
    };
    let lon: Vec<f64> = points.iter().map(|p| p.lon).collect();
    let lat: Vec<f64> = points.iter().map(|p| p.lat).collect();
    let t: Vec<DateTime<Utc>> = points.iter().map(|p| p.t).collect();
    let acc: Vec<Option<f32>> = points
        .iter()
        .map(|p| p.accuracy_m.map(|a| a as f32))
        .collect();
    let r = sqlx::query(
        "INSERT INTO patrol_chunks (patrol_id, seq, id, body_hash, lon, lat, t, accuracy_m, first_t, last_t) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(patrol_id)
    .bind(seq)
    .bind(chunk_id)
    .bind(body_hash)
    .bind(&lon)
    .bind(&lat)
    .bind(&t)
    .bind(&acc)
    .bind(first.t)
    .bind(last.t)
    .execute(&mut *tx)
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
            format!("chunk id {chunk_id} is already used by another chunk; give every chunk an id of its own"),
        )),
        Err(e) => Err(e).ctx("storing a track chunk"),
    }
}

/// Completes a patrol when it is ended and every chunk is in: measures the whole track
/// and its share inside each grid (against the grids' boundaries now).
async fn complete_if_whole(
    tx: &mut PgConnection,
    id: Uuid,
    speed_limit_kmh: f64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT chunks, ended_at IS NOT NULL AS ended, complete, \
           (SELECT count(*) FROM patrol_chunks WHERE patrol_id = $1) AS have \
         FROM patrols WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .ctx("reading a patrol")?;
    let chunks: Option<i32> = row.try_get("chunks").ctx("reading a patrol")?;
    let ended: bool = row.try_get("ended").ctx("reading a patrol")?;
    let done: bool = row.try_get("complete").ctx("reading a patrol")?;
    let have: i64 = row.try_get("have").ctx("reading a patrol")?;
    if done || !ended || chunks.map(i64::from) != Some(have) {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT lon, lat, t, accuracy_m FROM patrol_chunks WHERE patrol_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading a track")?;
    let mut points = vec![];
    for r in &rows {
        let lon: Vec<f64> = r.try_get("lon").ctx("reading a track")?;
        let lat: Vec<f64> = r.try_get("lat").ctx("reading a track")?;
        let t: Vec<DateTime<Utc>> = r.try_get("t").ctx("reading a track")?;
        let acc: Vec<Option<f32>> = r.try_get("accuracy_m").ctx("reading a track")?;
        for i in 0..lon.len().min(lat.len()).min(t.len()).min(acc.len()) {
            points.push(TrackPoint {
                lon: lon[i],
                lat: lat[i],
                t: t[i],
                accuracy_m: acc[i].map(f64::from),
            });
        }
    }
    if points.len() < 2 {
        return Err(
            FieldError::new("points", "a track needs at least two points to be measured").into(),
        );
    }
    let grid_rows = sqlx::query(
        "SELECT pg.grid_id, ST_AsBinary(v.geom) AS wkb FROM patrol_grids pg \
         JOIN grid_versions v ON v.grid_id = pg.grid_id AND v.valid_to IS NULL \
         WHERE pg.patrol_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading a patrol's grids")?;
    let mut grids = vec![];
    for r in &grid_rows {
        let g: i64 = r.try_get("grid_id").ctx("reading a patrol's grids")?;
        let w: Vec<u8> = r.try_get("wkb").ctx("reading a patrol's grids")?;
        grids.push((g, wkb::decode_area(&w).ctx("reading a patrol's grids")?));
    }
    let c = complete(&points, &grids, speed_limit_kmh);
    sqlx::query(
        "UPDATE patrols SET complete = true, completed_at = now(), track = ST_GeomFromWKB($2, 4326), \
           points = $3, length_m = $4, walked_m = $5, max_speed_kmh = $6, speed_flags = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(&c.line)
    .bind(c.summary.points as i32)
    .bind(c.summary.length_m)
    .bind(c.summary.walked_m)
    .bind(c.summary.max_speed_kmh)
    .bind(flags_json(&c.summary.flags))
    .execute(&mut *tx)
    .await
    .ctx("completing a patrol")?;
    sqlx::query(
        "UPDATE patrol_grids SET length_inside_m = u.l, share_inside = u.s \
         FROM unnest($2::bigint[], $3::float8[], $4::float8[]) AS u(g, l, s) \
         WHERE patrol_id = $1 AND grid_id = u.g",
    )
    .bind(id)
    .bind(&c.grid_ids)
    .bind(&c.inside_m)
    .bind(&c.shares)
    .execute(&mut *tx)
    .await
    .ctx("completing a patrol")?;
    Ok(())
}

/// The locked head of a patrol, for adding to it.
struct Head {
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    chunks: Option<i32>,
    end_hash: Option<Vec<u8>>,
}

async fn lock_own(tx: &mut PgConnection, id: Uuid, account_id: i64) -> Result<Head, StoreError> {
    let row = sqlx::query(
        "SELECT account_id, started_at, ended_at, chunks, end_hash FROM patrols WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a patrol")?;
    let not_found = || {
        StoreError::NotFound(format!(
            "patrol {id} among yours (send PUT /api/patrols/{id} first)"
        ))
    };
    let row = row.ok_or_else(not_found)?;
    let owner: i64 = row.try_get("account_id").ctx("reading a patrol")?;
    if owner != account_id {
        return Err(not_found());
    }
    Ok(Head {
        started_at: row.try_get("started_at").ctx("reading a patrol")?,
        ended_at: row.try_get("ended_at").ctx("reading a patrol")?,
        chunks: row.try_get("chunks").ctx("reading a patrol")?,
        end_hash: row.try_get("end_hash").ctx("reading a patrol")?,
    })
}

/// Turns point problems into the per-item error of the store.
pub fn point_problems(problems: Vec<FieldError>) -> StoreError {
    StoreError::Items(
        problems
            .into_iter()
            .map(|p| {
                let index = p
                    .field
                    .split_once('[')
                    .and_then(|(_, rest)| rest.split_once(']'))
                    .and_then(|(n, _)| n.parse().ok())
                    .unwrap_or(0);
                (index, p.to_string())
            })
            .collect(),
    )
}

impl Store {
    /// Stores a new patrol (with its whole track, or its first chunk, or no track yet).
    /// A patrol sent ended with its track is complete at once.
    pub async fn create_patrol(
        &self,
        p: &NewPatrol,
        speed_limit_kmh: f64,
    ) -> Result<Outcome, StoreError> {
        let whole = p.ended_at.is_some() && p.track.is_some();
        let done = match (&p.track, whole) {
            (Some(points), true) => Some(complete(points, &p.grids, speed_limit_kmh)),
            _ => None,
        };
        if done.as_ref().is_some_and(|c| c.summary.points < 2) {
            return Err(FieldError::new(
                "track",
                "a track needs at least two points to be measured",
            )
            .into());
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let inserted = sqlx::query(
            "INSERT INTO patrols (id, account_id, staff_id, started_at, ended_at, chunks, crs, notes, \
               body_hash, complete, track, points, length_m, walked_m, max_speed_kmh, speed_flags, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ST_GeomFromWKB($11, 4326), $12, $13, $14, $15, \
               COALESCE($16, '[]'::jsonb), CASE WHEN $10 THEN now() END) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(p.id)
        .bind(p.account_id)
        .bind(p.staff_id)
        .bind(p.started_at)
        .bind(p.ended_at)
        .bind(whole.then_some(1))
        .bind(p.crs)
        .bind(&p.notes)
        .bind(&p.body_hash)
        .bind(done.is_some())
        .bind(done.as_ref().map(|c| c.line.clone()))
        .bind(done.as_ref().map(|c| c.summary.points as i32))
        .bind(done.as_ref().map(|c| c.summary.length_m))
        .bind(done.as_ref().map(|c| c.summary.walked_m))
        .bind(done.as_ref().and_then(|c| c.summary.max_speed_kmh))
        .bind(done.as_ref().map(|c| flags_json(&c.summary.flags)))
        .execute(&mut *tx)
        .await
        .ctx("storing a patrol")?
        .rows_affected();
        if inserted == 0 {
            let (owner, hash): (i64, Vec<u8>) =
                sqlx::query_as("SELECT account_id, body_hash FROM patrols WHERE id = $1")
                    .bind(p.id)
                    .fetch_one(&mut *tx)
                    .await
                    .ctx("reading a patrol")?;
            return if owner == p.account_id && hash == p.body_hash {
                Ok(Outcome::Replayed)
            } else {
                Err(StoreError::Conflict(format!(
                    "patrol {} was already uploaded with other content; a changed patrol needs a new id",
                    p.id
                )))
            };
        }
        let ids: Vec<i64> = p.grids.iter().map(|(id, _)| *id).collect();
        let (inside, shares): (Vec<Option<f64>>, Vec<Option<f64>>) = match &done {
            Some(c) => (
                c.inside_m.iter().copied().map(Some).collect(),
                c.shares.iter().copied().map(Some).collect(),
            ),
            None => (vec![None; ids.len()], vec![None; ids.len()]),
        };
        sqlx::query(
            "INSERT INTO patrol_grids (patrol_id, grid_id, length_inside_m, share_inside) \
             SELECT $1, g, l, s FROM unnest($2::bigint[], $3::float8[], $4::float8[]) AS u(g, l, s)",
        )
        .bind(p.id)
        .bind(&ids)
        .bind(&inside)
        .bind(&shares)
        .execute(&mut *tx)
        .await
        .ctx("storing a patrol's grids")?;
        if let Some(points) = &p.track {
            insert_chunk(&mut tx, p.id, 0, p.id, &p.body_hash, points).await?;
        }
        insert_visits(&mut tx, p.id, &p.visits).await?;
        tx.commit().await.ctx("committing a patrol")?;
        Ok(Outcome::Created)
    }

    /// Stores one chunk of a track, checking its times against the patrol and the chunks
    /// on either side; completes the patrol when this was the last piece missing.
    /// A track holds at most `max_track_points` points, all chunks together.
    pub async fn put_chunk(
        &self,
        c: &NewChunk,
        account_id: i64,
        speed_limit_kmh: f64,
        max_track_points: usize,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let head = lock_own(&mut tx, c.patrol_id, account_id).await?;
        let existing: Option<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT id, body_hash FROM patrol_chunks WHERE patrol_id = $1 AND seq = $2",
        )
        .bind(c.patrol_id)
        .bind(c.seq)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading a track chunk")?;
        if let Some((id, hash)) = existing {
            return if id == c.id && hash == c.body_hash {
                Ok(Outcome::Replayed)
            } else {
                Err(StoreError::Conflict(format!(
                    "chunk {} of patrol {} was already received with other content",
                    c.seq, c.patrol_id
                )))
            };
        }
        if let Some(n) = head.chunks {
            if c.seq >= n {
                return Err(FieldError::new(
                    "seq",
                    format!("the patrol's track has {n} chunks, numbered 0 to {}", n - 1),
                )
                .into());
            }
        }
        let stored: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(cardinality(lon)), 0)::bigint FROM patrol_chunks WHERE patrol_id = $1",
        )
        .bind(c.patrol_id)
        .fetch_one(&mut *tx)
        .await
        .ctx("counting a track's points")?;
        if stored.saturating_add(c.points.len() as i64) > max_track_points as i64 {
            return Err(FieldError::new(
                "points",
                format!(
                    "a patrol's track has at most {max_track_points} points in all; {stored} are stored already"
                ),
            )
            .into());
        }
        let (before, after): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT (SELECT last_t FROM patrol_chunks WHERE patrol_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1), \
                    (SELECT first_t FROM patrol_chunks WHERE patrol_id = $1 AND seq > $2 ORDER BY seq LIMIT 1)",
        )
        .bind(c.patrol_id)
        .bind(c.seq)
        .fetch_one(&mut *tx)
        .await
        .ctx("reading neighbouring chunks")?;
        let frame = TimeFrame {
            start: head.started_at,
            end: head.ended_at,
            now,
        };
        let problems = check_points(&c.points, "points", &frame, before, after);
        if !problems.is_empty() {
            return Err(point_problems(problems));
        }
        insert_chunk(&mut tx, c.patrol_id, c.seq, c.id, &c.body_hash, &c.points).await?;
        complete_if_whole(&mut tx, c.patrol_id, speed_limit_kmh).await?;
        tx.commit().await.ctx("committing a track chunk")?;
        Ok(Outcome::Created)
    }

    /// Ends a patrol sent in parts: its end time, how many chunks its track has, and the
    /// households reached. Completes it if every chunk is in.
    pub async fn end_patrol(
        &self,
        id: Uuid,
        account_id: i64,
        e: &PatrolEnd,
        speed_limit_kmh: f64,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let head = lock_own(&mut tx, id, account_id).await?;
        match (&head.end_hash, head.ended_at) {
            (Some(h), _) if *h == e.body_hash => return Ok(Outcome::Replayed),
            (Some(_), _) => {
                return Err(StoreError::Conflict(format!(
                    "patrol {id} was already ended with other content"
                )))
            }
            (None, Some(_)) => {
                return Err(StoreError::Conflict(format!(
                    "patrol {id} was uploaded already ended; there is nothing more to end"
                )))
            }
            (None, None) => {}
        }
        check_span(head.started_at, Some(e.ended_at), now)?;
        if e.chunks < 1 {
            return Err(FieldError::new(
                "chunks",
                "the track is empty: a patrol needs at least one chunk of points",
            )
            .into());
        }
        let (max_seq, last_t): (Option<i32>, Option<DateTime<Utc>>) =
            sqlx::query_as("SELECT max(seq), max(last_t) FROM patrol_chunks WHERE patrol_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .ctx("reading track chunks")?;
        if let Some(m) = max_seq.filter(|m| *m >= e.chunks) {
            return Err(FieldError::new(
                "chunks",
                format!(
                    "chunk {m} was received, so the track has at least {} chunks",
                    m + 1
                ),
            )
            .into());
        }
        if let Some(t) = last_t.filter(|t| *t > e.ended_at + CLOCK_SKEW) {
            return Err(FieldError::new(
                "ended_at",
                format!("the track has a point at {t}, after this end"),
            )
            .into());
        }
        sqlx::query(
            "UPDATE patrols SET ended_at = $2, chunks = $3, end_hash = $4, notes = COALESCE($5, notes) \
             WHERE id = $1",
        )
        .bind(id)
        .bind(e.ended_at)
        .bind(e.chunks)
        .bind(&e.body_hash)
        .bind(&e.notes)
        .execute(&mut *tx)
        .await
        .ctx("ending a patrol")?;
        insert_visits(&mut tx, id, &e.visits).await?;
        complete_if_whole(&mut tx, id, speed_limit_kmh).await?;
        tx.commit().await.ctx("committing the end of a patrol")?;
        Ok(Outcome::Created)
    }

    /// One patrol, with its track as GeoJSON if asked.
    pub async fn patrol(&self, id: Uuid, with_track: bool) -> Result<PatrolView, StoreError> {
        let row = sqlx::query(&format!("{VIEW} WHERE p.id = $2"))
            .bind(with_track)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading a patrol")?
            .ok_or_else(|| StoreError::NotFound(format!("patrol {id}")))?;
        view_from_row(&row)
    }

    /// Patrols started in `[from, to)` for any of `grid_ids` (or by `account_id` when
    /// given), oldest first, with their tracks.
    pub async fn patrols(
        &self,
        grid_ids: &[i64],
        account_id: Option<i64>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PatrolView>, StoreError> {
        let rows = sqlx::query(&format!(
            "{VIEW} WHERE p.started_at >= $2 AND p.started_at < $3 \
               AND EXISTS (SELECT 1 FROM patrol_grids x WHERE x.patrol_id = p.id AND x.grid_id = ANY($4)) \
               AND ($5::bigint IS NULL OR p.account_id = $5) \
             ORDER BY p.started_at, p.id LIMIT $6"
        ))
        .bind(true)
        .bind(from)
        .bind(to)
        .bind(grid_ids)
        .bind(account_id)
        .bind(limit.clamp(1, 5000))
        .fetch_all(&self.pool)
        .await
        .ctx("reading patrols")?;
        rows.iter().map(view_from_row).collect()
    }

    /// The street lines near a box, from the walking network when it is loaded
    /// (`network_edges`); `None` when there is no network table.
    pub async fn streets_near(
        &self,
        bbox: geo::Rect<f64>,
    ) -> Result<Option<Vec<LineString<f64>>>, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('network_edges') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .ctx("looking for the street network")?;
        if !exists {
            return Ok(None);
        }
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT ST_AsBinary(geom) FROM network_edges \
             WHERE geom && ST_Expand(ST_MakeEnvelope($1, $2, $3, $4, 4326), 0.001)",
        )
        .bind(bbox.min().x)
        .bind(bbox.min().y)
        .bind(bbox.max().x)
        .bind(bbox.max().y)
        .fetch_all(&self.pool)
        .await
        .ctx("reading streets")?;
        rows.iter()
            .map(|w| wkb::decode_line(w).ctx("reading streets"))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}
