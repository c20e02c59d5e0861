//! Patrols and their tracks: idempotent uploads (a whole track at once, or numbered chunks
//! that may arrive in any order and be re-sent), completion once the end and every chunk
//! are in, and the weekly compliance of grids read back from them.
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
use crate::domain::patrol::{
    check_points, check_span, ratio, week_status, GridWeek, IsoWeek, PatrolShare, TimeFrame,
    TrackPoint, CLOCK_SKEW, FULL_MARKS_SHARE,
};
use crate::domain::FieldError;
use crate::spatial::track::{self, SpeedFlag};
use chrono::{DateTime, NaiveDate, Utc};
use geo::{BoundingRect, LineString, MultiLineString, MultiPolygon};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
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
    /// Households reached: building id and count.
    pub visits: Vec<(i64, i32)>,
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
    /// Households reached: building id and count.
    pub visits: Vec<(i64, i32)>,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
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

fn unzip_visits(v: &[(i64, i32)]) -> (Vec<i64>, Vec<i32>) {
    v.iter().copied().unzip()
}

async fn insert_visits(
    tx: &mut PgConnection,
    id: Uuid,
    visits: &[(i64, i32)],
) -> Result<(), StoreError> {
    if visits.is_empty() {
        return Ok(());
    }
    let (buildings, counts) = unzip_visits(visits);
    sqlx::query(
        "INSERT INTO patrol_visits (patrol_id, building_id, households) \
         SELECT $1, b, n FROM unnest($2::bigint[], $3::int[]) AS u(b, n) \
         ON CONFLICT (patrol_id, building_id) DO UPDATE \
           SET households = GREATEST(patrol_visits.households, EXCLUDED.households)",
    )
    .bind(id)
    .bind(&buildings)
    .bind(&counts)
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

/// The database's part of a compliance report (see [`Store::compliance_inputs`]).
#[derive(Default)]
pub struct ComplianceInputs {
    by_grid_week: HashMap<(i64, IsoWeek), Vec<PatrolRow>>,
    tracks: HashMap<Uuid, MultiLineString<f64>>,
    /// Per grid of the building: (patrol, building, households visited, building's households).
    visits_by_grid: HashMap<i64, Vec<(Uuid, i64, i32, i32)>>,
    incidents: HashMap<(i64, IsoWeek), i64>,
    streets: Option<Arc<track::Streets>>,
    /// Street metres inside each grid, when they were computed before (see
    /// [`StreetLengths`]); a grid not in it is measured now.
    street_m: Option<Arc<HashMap<i64, f64>>>,
    /// The street coverage of walked grid-weeks kept from earlier reports, for exactly the
    /// patrols that count in them now (see [`WalkedCoverage`]).
    kept: HashMap<(i64, IsoWeek), track::Coverage>,
    /// Where the grid-weeks measured now are kept for the next report.
    keep_in: Option<Arc<StreetLengths>>,
}

/// The streets of the zone and the metres of street inside each second-level grid: they
/// depend only on the walking network and the grids' boundaries, so the server keeps them
/// between requests (keyed by the change log) and a compliance report clips streets only
/// for the grids walked in its weeks. Each grid's figure is the one
/// [`track::Streets::coverage`] gives without tracks, over the same streets, so the
/// report's numbers are those of a fresh computation.
#[derive(Default)]
pub struct StreetLengths {
    /// Every street near the zone's grids, indexed; `None` without a network table.
    pub streets: Option<Arc<track::Streets>>,
    /// Street metres inside each grid (by id).
    pub by_grid: Arc<HashMap<i64, f64>>,
    /// The street coverage of walked grid-weeks measured over these streets.
    pub walked: WalkedCoverage,
}

/// The most grid-weeks [`WalkedCoverage`] keeps: a year and a quarter of a city of 5,400
/// second-level grids all walked every week, about 40 MB. Past it the oldest weeks go.
pub const MAX_KEPT_WALKS: usize = 360_000;

/// The street coverage of walked grid-weeks, kept between compliance reports. A
/// grid-week's coverage depends only on the grid's streets (the state of
/// [`StreetLengths`] that holds this), the buffer (likewise) and the tracks of the patrols
/// that count in it; a complete patrol's track never changes, so the figure is reused
/// while the same patrols count. A new patrol counting in the week, or a patrol no longer
/// counting, misses the kept figure and the grid is clipped again. Without it, a week in
/// which every grid of a city was walked clips 5,400 grids' streets against their tracks
/// on every request (about a second of CPU).
#[derive(Default)]
pub struct WalkedCoverage {
    weeks: std::sync::Mutex<WalkedWeeks>,
}

#[derive(Default)]
struct WalkedWeeks {
    /// Per week, per grid: the counted patrols (sorted) and their coverage.
    by_week: std::collections::BTreeMap<IsoWeek, HashMap<i64, (Box<[Uuid]>, track::Coverage)>>,
    len: usize,
}

impl WalkedCoverage {
    fn lock(&self) -> std::sync::MutexGuard<'_, WalkedWeeks> {
        self.weeks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept coverage of the grid-week when exactly `counted` (sorted) count in it.
    fn get(&self, grid: i64, week: IsoWeek, counted: &[Uuid]) -> Option<track::Coverage> {
        let w = self.lock();
        let (ids, c) = w.by_week.get(&week)?.get(&grid)?;
        (**ids == *counted).then_some(*c)
    }

    /// Keeps freshly measured grid-weeks, dropping the oldest weeks past [`MAX_KEPT_WALKS`].
    fn keep(&self, fresh: Vec<(i64, IsoWeek, Box<[Uuid]>, track::Coverage)>) {
        if fresh.is_empty() {
            return;
        }
        let mut w = self.lock();
        for (grid, week, ids, c) in fresh {
            if w.by_week
                .entry(week)
                .or_default()
                .insert(grid, (ids, c))
                .is_none()
            {
                w.len += 1;
            }
        }
        while w.len > MAX_KEPT_WALKS {
            let Some((_, oldest)) = w.by_week.pop_first() else {
                break;
            };
            w.len -= oldest.len();
        }
    }

    /// How many grid-weeks are kept.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The box around `geoms`, or `None` when there is none.
pub fn bbox_of<'a>(
    geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>,
) -> Option<geo::Rect<f64>> {
    geoms
        .into_iter()
        .filter_map(|g| g.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
}

impl std::fmt::Debug for StreetLengths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreetLengths({} grids)", self.by_grid.len())
    }
}

/// Measures the street metres inside each grid (CPU work: run it on the work pool; it
/// stops at the pool's deadline).
pub fn street_lengths<'a>(
    streets: Option<Arc<track::Streets>>,
    grids: impl IntoIterator<Item = (i64, &'a MultiPolygon<f64>)>,
    buffer_m: f64,
) -> Result<StreetLengths, crate::work::Expired> {
    let mut by_grid = HashMap::new();
    if let Some(st) = &streets {
        for (i, (id, geom)) in grids.into_iter().enumerate() {
            crate::work::checkpoint_every(i, 16)?;
            by_grid.insert(id, st.coverage(geom, &[], buffer_m).street_m);
        }
    }
    Ok(StreetLengths {
        streets,
        by_grid: Arc::new(by_grid),
        walked: WalkedCoverage::default(),
    })
}

/// Each grid's week from the inputs, grid by grid (CPU work: run it on the work pool; it
/// stops at the pool's deadline).
pub fn compliance_rows(
    inputs: &ComplianceInputs,
    grids: &[GridRef],
    weeks: &[IsoWeek],
    rules: ComplianceRules,
    now: DateTime<Utc>,
) -> Result<Vec<GridWeek>, crate::work::Expired> {
    let mut out = Vec::with_capacity(grids.len() * weeks.len());
    let mut fresh = vec![];
    let none: Vec<PatrolRow> = Vec::new();
    let no_visits: Vec<(Uuid, i64, i32, i32)> = Vec::new();
    for &week in weeks {
        for (i, g) in grids.iter().enumerate() {
            crate::work::checkpoint_every(i, 64)?;
            let patrols = inputs.by_grid_week.get(&(g.id, week)).unwrap_or(&none);
            let shares: Vec<PatrolShare> = patrols
                .iter()
                .map(|r| PatrolShare {
                    id: r.patrol_id,
                    by: r.by.clone(),
                    staff_code: r.staff_code.clone(),
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    length_inside_m: r.length_inside_m,
                    share_inside: r.share_inside,
                    counts: r.share_inside >= rules.min_share_inside,
                })
                .collect();
            let counted: Vec<&PatrolShare> = shares.iter().filter(|s| s.counts).collect();
            let counted_ids: HashSet<Uuid> = counted.iter().map(|s| s.id).collect();
            let mut patrolled_by: Vec<String> = vec![];
            for s in &counted {
                if !patrolled_by.contains(&s.by) {
                    patrolled_by.push(s.by.clone());
                }
            }
            let walks: Vec<&MultiLineString<f64>> = counted
                .iter()
                .filter_map(|s| inputs.tracks.get(&s.id))
                .collect();
            // Streets are clipped only for walked grids; the others' length is known.
            let known = inputs.street_m.as_ref().and_then(|m| m.get(&g.id)).copied();
            let kept = inputs.kept.get(&(g.id, week)).copied();
            let coverage = inputs.streets.as_ref().map(|st| match (kept, known) {
                (Some(c), _) => c,
                (None, Some(street_m)) if walks.is_empty() => track::Coverage {
                    street_m,
                    covered_m: 0.0,
                },
                _ => {
                    let c = st.coverage(&g.geom, &walks, rules.street_buffer_m);
                    if inputs.keep_in.is_some() {
                        let mut ids: Vec<Uuid> = counted_ids.iter().copied().collect();
                        ids.sort_unstable();
                        fresh.push((g.id, week, ids.into_boxed_slice(), c));
                    }
                    c
                }
            });
            let mut per_building: HashMap<i64, (i64, i64)> = HashMap::new();
            for (pid, building, n, total) in inputs.visits_by_grid.get(&g.id).unwrap_or(&no_visits)
            {
                if counted_ids.contains(pid) {
                    let e = per_building
                        .entry(*building)
                        .or_insert((0, i64::from(*total)));
                    e.0 += i64::from(*n);
                }
            }
            let visited: i64 = per_building.values().map(|(n, t)| (*n).min(*t)).sum();
            let household_coverage = ratio(visited as f64, g.households as f64);
            let patrolled = !counted.is_empty();
            out.push(GridWeek {
                week,
                grid: g.code.clone(),
                name: g.name.clone(),
                community: g.community.clone(),
                community_name: g.community_name.clone(),
                chief: g.chief.clone(),
                status: week_status(week, patrolled, now),
                patrolled,
                patrolled_by,
                track_length_inside_m: counted.iter().map(|s| s.length_inside_m).sum(),
                street_length_m: coverage.map(|c| c.street_m),
                street_covered_m: coverage.map(|c| c.covered_m),
                street_coverage: coverage.and_then(|c| ratio(c.covered_m, c.street_m)),
                households: g.households,
                households_visited: visited,
                household_coverage,
                household_full_marks: household_coverage.is_some_and(|c| c >= FULL_MARKS_SHARE),
                incidents_found: inputs.incidents.get(&(g.id, week)).copied().unwrap_or(0),
                patrols: shares,
            });
        }
    }
    if let Some(k) = &inputs.keep_in {
        k.walked.keep(fresh);
    }
    Ok(out)
}

/// A second-level grid for the compliance report, with what the index knows of it.
#[derive(Debug, Clone)]
pub struct GridRef {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community code.
    pub community: String,
    /// Community name.
    pub community_name: String,
    /// Grid chief's name.
    pub chief: Option<String>,
    /// Households in the grid.
    pub households: i64,
    /// Boundary now.
    pub geom: MultiPolygon<f64>,
}

/// Settings of the compliance report.
#[derive(Debug, Clone, Copy)]
pub struct ComplianceRules {
    /// Share of a walk that must be inside a grid for the patrol to count there.
    pub min_share_inside: f64,
    /// Streets within this distance of a track are covered.
    pub street_buffer_m: f64,
}

struct PatrolRow {
    patrol_id: Uuid,
    grid_id: i64,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    length_inside_m: f64,
    share_inside: f64,
    by: String,
    staff_code: Option<String>,
}

/// A grid that missed its weekly patrol.
#[derive(Debug, Clone, Serialize)]
pub struct Overdue {
    /// Grid code.
    pub grid: String,
    /// Grid name.
    pub name: String,
    /// Community code.
    pub community: String,
    /// Grid chief.
    pub chief: Option<String>,
    /// Start of the last patrol that counted for the grid, if any.
    pub last_patrolled_at: Option<DateTime<Utc>>,
    /// Completed weeks in a row, up to this one, without a patrol that counts (at most
    /// the look-back asked for).
    pub weeks_missed: usize,
    /// Whether a patrol already counts for the current week.
    pub this_week_patrolled: bool,
}

impl Store {
    async fn patrol_rows(
        &self,
        grid_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PatrolRow>, StoreError> {
        const W: &str = "reading patrols for compliance";
        let rows = sqlx::query(
            "SELECT pg.patrol_id, pg.grid_id, p.started_at, p.ended_at, \
               COALESCE(pg.length_inside_m, 0) AS inside, COALESCE(pg.share_inside, 0) AS share, \
               COALESCE(s.name, a.display_name) AS by, s.code AS staff_code \
             FROM patrol_grids pg JOIN patrols p ON p.id = pg.patrol_id \
             JOIN accounts a ON a.id = p.account_id LEFT JOIN staff s ON s.id = p.staff_id \
             WHERE p.complete AND pg.grid_id = ANY($1) AND p.started_at >= $2 AND p.started_at < $3 \
             ORDER BY p.started_at, pg.patrol_id",
        )
        .bind(grid_ids)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .ctx(W)?;
        rows.iter()
            .map(|r| {
                Ok(PatrolRow {
                    patrol_id: r.try_get("patrol_id").ctx(W)?,
                    grid_id: r.try_get("grid_id").ctx(W)?,
                    started_at: r.try_get("started_at").ctx(W)?,
                    ended_at: r.try_get("ended_at").ctx(W)?,
                    length_inside_m: r.try_get("inside").ctx(W)?,
                    share_inside: r.try_get("share").ctx(W)?,
                    by: r.try_get("by").ctx(W)?,
                    staff_code: r.try_get("staff_code").ctx(W)?,
                })
            })
            .collect()
    }

    /// The walked parts of complete patrols' tracks.
    async fn walked_tracks(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, MultiLineString<f64>>, StoreError> {
        const W: &str = "reading tracks";
        let rows = sqlx::query(
            "SELECT id, ST_AsBinary(track) AS wkb, speed_flags FROM patrols WHERE id = ANY($1) AND complete",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .ctx(W)?;
        let mut out = HashMap::new();
        for r in &rows {
            let id: Uuid = r.try_get("id").ctx(W)?;
            let w: Vec<u8> = r.try_get("wkb").ctx(W)?;
            let flags: Value = r.try_get("speed_flags").ctx(W)?;
            let line = wkb::decode_line(&w).ctx(W)?;
            let flagged: Vec<usize> = flags
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["segment"].as_u64().map(|s| s as usize))
                .collect();
            out.insert(id, track::walked_parts(&line.0, &flagged));
        }
        Ok(out)
    }

    /// The weekly compliance of second-level grids over consecutive weeks.
    pub async fn compliance(
        &self,
        grids: &[GridRef],
        weeks: &[IsoWeek],
        rules: ComplianceRules,
        now: DateTime<Utc>,
    ) -> Result<Vec<GridWeek>, StoreError> {
        let inputs = self.compliance_inputs(grids, weeks, rules, None).await?;
        Ok(compliance_rows(&inputs, grids, weeks, rules, now).unwrap_or_default())
    }

    /// What [`compliance_rows`] needs from the database: the patrols of the grids in the
    /// weeks, their walked tracks, households visited, incidents counted and the streets
    /// (`known`: the streets and street lengths kept from before, else read now).
    pub async fn compliance_inputs(
        &self,
        grids: &[GridRef],
        weeks: &[IsoWeek],
        rules: ComplianceRules,
        known: Option<Arc<StreetLengths>>,
    ) -> Result<ComplianceInputs, StoreError> {
        let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
            return Ok(ComplianceInputs::default());
        };
        let (from, to) = (first.start(), last.end());
        let ids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        let rows = self.patrol_rows(&ids, from, to).await?;
        let counting: Vec<Uuid> = rows
            .iter()
            .filter(|r| r.share_inside >= rules.min_share_inside)
            .map(|r| r.patrol_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // The grid-weeks whose coverage is kept for the patrols counting in them now need
        // no tracks; the others need those of their counting patrols.
        let mut counted_in: HashMap<(i64, IsoWeek), Vec<Uuid>> = HashMap::new();
        for r in rows
            .iter()
            .filter(|r| r.share_inside >= rules.min_share_inside)
        {
            counted_in
                .entry((r.grid_id, IsoWeek::of(r.started_at)))
                .or_default()
                .push(r.patrol_id);
        }
        let mut kept = HashMap::new();
        let mut need: HashSet<Uuid> = HashSet::new();
        for (key, mut ids) in counted_in {
            ids.sort_unstable();
            ids.dedup();
            match known
                .as_ref()
                .and_then(|k| k.walked.get(key.0, key.1, &ids))
            {
                Some(c) => {
                    kept.insert(key, c);
                }
                None => need.extend(ids),
            }
        }
        let need: Vec<Uuid> = need.into_iter().collect();
        let tracks = self.walked_tracks(&need).await?;
        // Households reached: (patrol, building) → (grid of the building, count, building's households).
        let visits: Vec<(Uuid, i64, i64, i32, i32)> = sqlx::query_as(
            "SELECT v.patrol_id, b.grid_id, b.id, v.households, b.households FROM patrol_visits v \
             JOIN buildings b ON b.id = v.building_id WHERE v.patrol_id = ANY($1)",
        )
        .bind(&counting)
        .fetch_all(&self.pool)
        .await
        .ctx("reading households visited")?;
        let incidents: Vec<(i64, NaiveDate, i64)> = sqlx::query_as(
            "SELECT grid_id, (date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai'))::date, count(*) \
             FROM incidents WHERE grid_id = ANY($1) AND reported_at >= $2 AND reported_at < $3 GROUP BY 1, 2",
        )
        .bind(&ids)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .ctx("counting incidents")?;
        let incidents: HashMap<(i64, IsoWeek), i64> = incidents
            .into_iter()
            .map(|(g, d, n)| ((g, IsoWeek::containing(d)), n))
            .collect();
        let (streets, street_m) = match &known {
            Some(k) => (k.streets.clone(), Some(Arc::clone(&k.by_grid))),
            None => (self.streets_of(grids.iter().map(|g| &g.geom)).await?, None),
        };
        let mut by_grid_week: HashMap<(i64, IsoWeek), Vec<PatrolRow>> = HashMap::new();
        for r in rows {
            by_grid_week
                .entry((r.grid_id, IsoWeek::of(r.started_at)))
                .or_default()
                .push(r);
        }
        let mut visits_by_grid: HashMap<i64, Vec<(Uuid, i64, i32, i32)>> = HashMap::new();
        for (pid, grid, building, n, total) in visits {
            visits_by_grid
                .entry(grid)
                .or_default()
                .push((pid, building, n, total));
        }
        Ok(ComplianceInputs {
            by_grid_week,
            tracks,
            visits_by_grid,
            incidents,
            streets,
            street_m,
            kept,
            keep_in: known,
        })
    }

    /// The streets near the grids (see [`Store::streets_near`]), indexed.
    pub async fn streets_of<'a>(
        &self,
        geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>,
    ) -> Result<Option<Arc<track::Streets>>, StoreError> {
        Ok(match bbox_of(geoms) {
            Some(b) => self
                .streets_near(b)
                .await?
                .map(|l| Arc::new(track::Streets::new(l))),
            None => None,
        })
    }

    /// Grids that missed their patrol in the last completed week, with how many weeks in
    /// a row (looking back at most `lookback` weeks) and when they were last patrolled.
    pub async fn overdue(
        &self,
        grids: &[GridRef],
        min_share_inside: f64,
        lookback: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Overdue>, StoreError> {
        let ids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        let this_week = IsoWeek::of(now);
        let mut oldest = this_week;
        for _ in 0..lookback {
            oldest = oldest.prev();
        }
        let rows: Vec<(i64, DateTime<Utc>, Vec<NaiveDate>)> = sqlx::query_as(
            "SELECT pg.grid_id, max(p.started_at), \
               COALESCE(array_agg(DISTINCT (date_trunc('week', p.started_at AT TIME ZONE 'Asia/Shanghai'))::date) \
                 FILTER (WHERE p.started_at >= $3), '{}') \
             FROM patrol_grids pg JOIN patrols p ON p.id = pg.patrol_id \
             WHERE p.complete AND pg.grid_id = ANY($1) AND pg.share_inside >= $2 GROUP BY pg.grid_id",
        )
        .bind(&ids)
        .bind(min_share_inside)
        .bind(oldest.start())
        .fetch_all(&self.pool)
        .await
        .ctx("reading the last patrols")?;
        let by_grid: HashMap<i64, (DateTime<Utc>, HashSet<IsoWeek>)> = rows
            .into_iter()
            .map(|(g, last, weeks)| {
                (
                    g,
                    (last, weeks.into_iter().map(IsoWeek::containing).collect()),
                )
            })
            .collect();
        let mut out = vec![];
        for g in grids {
            let (last, weeks) = match by_grid.get(&g.id) {
                Some((l, w)) => (Some(*l), Some(w)),
                None => (None, None),
            };
            let patrolled = |w: &IsoWeek| weeks.is_some_and(|s| s.contains(w));
            let mut missed = 0;
            let mut w = this_week.prev();
            while missed < lookback && !patrolled(&w) {
                missed += 1;
                w = w.prev();
            }
            if missed > 0 {
                out.push(Overdue {
                    grid: g.code.clone(),
                    name: g.name.clone(),
                    community: g.community.clone(),
                    chief: g.chief.clone(),
                    last_patrolled_at: last,
                    weeks_missed: missed,
                    this_week_patrolled: patrolled(&this_week),
                });
            }
        }
        out.sort_by(|a, b| {
            b.weeks_missed
                .cmp(&a.weeks_missed)
                .then(a.grid.cmp(&b.grid))
        });
        Ok(out)
    }
}
