//! Incidents found on patrol, their lifecycle and their photos. Reports, transitions and
//! photos are idempotent under the client's ids like patrols are; every step is written
//! with who and when to `incident_events` and to the audit log, in the same transaction.
//!
//! Must not: decide who may report or move an incident (callers check reach and the
//! lifecycle rule first; the store re-checks only that the incident has not moved on).

use super::audit::{Actor, Entry};
use super::patrols::{Outcome, StaffRef};
use super::write::Write;
use super::{DbContext, Store, StoreError};
use crate::domain::patrol::{due_at, Category, Status};
use crate::domain::FieldError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// A new incident report, converted to WGS 84 and placed in a grid by the caller.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// The client's id.
    pub id: Uuid,
    /// The patrol it was found on, if any (it may not have reached the server yet).
    pub patrol_id: Option<Uuid>,
    /// The second-level grid it lies in.
    pub grid_id: i64,
    /// The grid's region, for the audit log.
    pub region_id: i64,
    /// Category.
    pub category: Category,
    /// What was found.
    pub description: String,
    /// Where, in WGS 84.
    pub point: geo::Point<f64>,
    /// The coordinate system the client sent.
    pub crs: &'static str,
    /// When it was found.
    pub reported_at: DateTime<Utc>,
    /// The reporter's staff record.
    pub staff_id: Option<i64>,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
}

/// A step in an incident's lifecycle.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The client's id of the step.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// The status the caller saw.
    pub from: Status,
    /// The new status.
    pub to: Status,
    /// The staff member to assign, when the new status is `assigned`.
    pub assignee_staff_id: Option<i64>,
    /// A note.
    pub note: Option<String>,
    /// The incident's region, for the audit log.
    pub region_id: i64,
    /// SHA-256 of the parsed request.
    pub body_hash: Vec<u8>,
}

/// A photo to attach.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    /// The client's id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// `image/jpeg`, `image/png` or `image/webp`, from the bytes themselves.
    pub content_type: &'static str,
    /// The bytes.
    pub data: Vec<u8>,
    /// Their SHA-256.
    pub sha256: Vec<u8>,
    /// The incident's region, for the audit log.
    pub region_id: i64,
}

/// One step of an incident's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Step {
    /// 0 for the report, then 1, 2, ...
    pub step: i32,
    /// Status before (none for the report).
    pub from: Option<String>,
    /// Status after.
    pub to: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (login name).
    pub by: String,
    /// The staff member assigned by this step.
    pub assignee: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// A photo's description.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoMeta {
    /// Id.
    pub id: Uuid,
    /// Media type.
    pub content_type: String,
    /// Size.
    pub bytes: i32,
    /// SHA-256, hex.
    pub sha256: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
}

/// An incident as stored.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// Id.
    pub id: Uuid,
    /// The patrol it was found on.
    pub patrol_id: Option<Uuid>,
    /// Grid code.
    pub grid: String,
    /// Grid id, for access checks.
    #[serde(skip)]
    pub grid_id: i64,
    /// Region id of the grid's community, for the audit log.
    #[serde(skip)]
    pub region_id: i64,
    /// Community code.
    pub community: String,
    /// Category.
    pub category: Category,
    /// Its Chinese label.
    pub category_label: &'static str,
    /// What was found.
    pub description: String,
    /// Longitude (WGS 84).
    pub lon: f64,
    /// Latitude (WGS 84).
    pub lat: f64,
    /// The coordinate system the reporter sent.
    pub crs: String,
    /// When it was found.
    pub reported_at: DateTime<Utc>,
    /// Reporter's login name.
    pub reported_by: String,
    /// Reporter's account id, for access checks.
    #[serde(skip)]
    pub account_id: i64,
    /// Status.
    pub status: Status,
    /// When it entered that status.
    pub status_at: DateTime<Utc>,
    /// The staff member in charge.
    pub assignee: Option<StaffRef>,
    /// Their staff id, for access checks.
    #[serde(skip)]
    pub assignee_staff_id: Option<i64>,
    /// When the current step is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether it is past due.
    pub overdue: bool,
    /// History, when read one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Step>>,
    /// Photos, when read one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photos: Option<Vec<PhotoMeta>>,
    /// The first photo's id, when it has one (a list's thumbnail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<Uuid>,
}

const INCIDENT: &str = "SELECT i.id, i.patrol_id, i.grid_id, gv.code AS grid, c.code AS community, \
     c.region_id, i.category, i.description, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.crs, \
     i.reported_at, i.account_id, a.username, i.status, i.status_at, i.assignee_staff_id, \
     s.code AS assignee_code, s.name AS assignee_name, \
     (SELECT p.id FROM incident_photos p WHERE p.incident_id = i.id ORDER BY p.uploaded_at, p.id LIMIT 1) AS photo \
     FROM incidents i JOIN accounts a ON a.id = i.account_id \
     JOIN grids g ON g.id = i.grid_id JOIN communities c ON c.id = g.community_id \
     CROSS JOIN LATERAL (SELECT code FROM grid_versions WHERE grid_id = i.grid_id ORDER BY version DESC LIMIT 1) gv \
     LEFT JOIN staff s ON s.id = i.assignee_staff_id";

fn incident_from_row(r: &PgRow, now: DateTime<Utc>) -> Result<IncidentView, StoreError> {
    const W: &str = "reading an incident";
    let category: String = r.try_get("category").ctx(W)?;
    let category = Category::parse(&category).unwrap_or(Category::Other);
    let status: String = r.try_get("status").ctx(W)?;
    let status = Status::parse(&status).unwrap_or(Status::Reported);
    let reported_at: DateTime<Utc> = r.try_get("reported_at").ctx(W)?;
    let status_at: DateTime<Utc> = r.try_get("status_at").ctx(W)?;
    let due = due_at(status, category, reported_at, status_at);
    let code: Option<String> = r.try_get("assignee_code").ctx(W)?;
    let name: Option<String> = r.try_get("assignee_name").ctx(W)?;
    Ok(IncidentView {
        id: r.try_get("id").ctx(W)?,
        patrol_id: r.try_get("patrol_id").ctx(W)?,
        grid: r.try_get("grid").ctx(W)?,
        grid_id: r.try_get("grid_id").ctx(W)?,
        region_id: r.try_get("region_id").ctx(W)?,
        community: r.try_get("community").ctx(W)?,
        category,
        category_label: category.label(),
        description: r.try_get("description").ctx(W)?,
        lon: r.try_get("lon").ctx(W)?,
        lat: r.try_get("lat").ctx(W)?,
        crs: r.try_get("crs").ctx(W)?,
        reported_at,
        reported_by: r.try_get("username").ctx(W)?,
        account_id: r.try_get("account_id").ctx(W)?,
        status,
        status_at,
        assignee: code.zip(name).map(|(code, name)| StaffRef { code, name }),
        assignee_staff_id: r.try_get("assignee_staff_id").ctx(W)?,
        due_at: due,
        overdue: due.is_some_and(|d| now > d),
        history: None,
        photos: None,
        photo: r.try_get("photo").ctx(W)?,
    })
}

/// Filter of the incident list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Grids the caller may see (second-level).
    pub grid_ids: Vec<i64>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only incidents still open.
    pub open: bool,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// Only those assigned to this staff member.
    pub assignee_staff_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Ends an incident's write: the audit entry of its step (`action`), the commit. No
/// process keeps incidents in memory, so nothing is announced.
async fn commit_step(
    mut tx: Write<'_>,
    id: Uuid,
    (action, before, after): (&str, Option<serde_json::Value>, serde_json::Value),
    region_id: i64,
    committing: &'static str,
) -> Result<Outcome, StoreError> {
    let key = id.to_string();
    let entry = Entry::named(action, "incident", &key, before, Some(after));
    tx.audit(entry.in_region(Some(region_id))).await?;
    tx.commit_unannounced(committing).await?;
    Ok(Outcome::Created)
}

/// Whether a step with this id was recorded: the same step (a repeat), another body
/// under the id (a conflict), or none.
async fn step_replay(
    conn: &mut PgConnection,
    incident_id: Uuid,
    step_id: Uuid,
    body_hash: &[u8],
) -> Result<Option<Outcome>, StoreError> {
    let seen: Option<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT incident_id, body_hash FROM incident_events WHERE id = $1")
            .bind(step_id)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading an incident's history")?;
    match seen {
        None => Ok(None),
        Some((i, h)) if i == incident_id && h == body_hash => Ok(Some(Outcome::Replayed)),
        Some(_) => Err(StoreError::Conflict(format!(
            "step {step_id} was already recorded with other content; a new step needs a new id"
        ))),
    }
}

impl Store {
    /// Stores an incident report (status `reported`), step 0 of its history.
    pub async fn report_incident(
        &self,
        i: &NewIncident,
        actor: &Actor,
    ) -> Result<Outcome, StoreError> {
        let account_id = actor.account("incidents are reported by accounts")?;
        let mut tx = self.begin_write(actor).await?;
        let inserted = sqlx::query(
            "INSERT INTO incidents (id, patrol_id, grid_id, category, description, geom, crs, reported_at, \
               account_id, staff_id, status, status_at, body_hash) \
             VALUES ($1, $2, $3, $4, $5, ST_SetSRID(ST_MakePoint($6, $7), 4326), $8, $9, $10, $11, 'reported', $9, $12) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(i.id)
        .bind(i.patrol_id)
        .bind(i.grid_id)
        .bind(i.category.as_str())
        .bind(&i.description)
        .bind(i.point.x())
        .bind(i.point.y())
        .bind(i.crs)
        .bind(i.reported_at)
        .bind(account_id)
        .bind(i.staff_id)
        .bind(&i.body_hash)
        .execute(&mut *tx)
        .await
        .ctx("storing an incident")?
        .rows_affected();
        if inserted == 0 {
            let (owner, hash): (i64, Vec<u8>) =
                sqlx::query_as("SELECT account_id, body_hash FROM incidents WHERE id = $1")
                    .bind(i.id)
                    .fetch_one(&mut *tx)
                    .await
                    .ctx("reading an incident")?;
            return if owner == account_id && hash == i.body_hash {
                Ok(Outcome::Replayed)
            } else {
                Err(StoreError::Conflict(format!(
                    "incident {} was already reported with other content; a new report needs a new id",
                    i.id
                )))
            };
        }
        sqlx::query(
            "INSERT INTO incident_events (id, incident_id, step, from_status, to_status, at, account_id, actor, body_hash) \
             VALUES ($1, $2, 0, NULL, 'reported', now(), $3, $4, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(i.id)
        .bind(account_id)
        .bind(&actor.name)
        .bind(&i.body_hash)
        .execute(&mut *tx)
        .await
        .ctx("recording an incident's report")?;
        let after = json!({ "status": "reported", "category": i.category, "grid_id": i.grid_id,
                "description": i.description, "patrol_id": i.patrol_id,
                "lon": i.point.x(), "lat": i.point.y() });
        let step = ("report", None, after);
        commit_step(tx, i.id, step, i.region_id, "committing an incident").await
    }

    /// Moves an incident to a new status, recording who and when.
    pub async fn transition(&self, t: &Transition, actor: &Actor) -> Result<Outcome, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let row: Option<(String, Option<i64>)> = sqlx::query_as(
            "SELECT status, assignee_staff_id FROM incidents WHERE id = $1 FOR UPDATE",
        )
        .bind(t.incident_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading an incident")?;
        let (status, assignee) =
            row.ok_or_else(|| StoreError::NotFound(format!("incident {}", t.incident_id)))?;
        if let Some(o) = step_replay(&mut tx, t.incident_id, t.id, &t.body_hash).await? {
            return Ok(o);
        }
        if status != t.from.as_str() {
            return Err(StoreError::Conflict(format!(
                "incident {} is {status} now, not {}; reload it and try again",
                t.incident_id,
                t.from.as_str()
            )));
        }
        let assignee_after = if t.to == Status::Assigned {
            t.assignee_staff_id
        } else {
            assignee
        };
        sqlx::query(
            "INSERT INTO incident_events (id, incident_id, step, from_status, to_status, at, account_id, actor, \
               assignee_staff_id, note, body_hash) \
             SELECT $1, $2, COALESCE(max(step), 0) + 1, $3, $4, now(), $5, $6, $7, $8, $9 \
             FROM incident_events WHERE incident_id = $2",
        )
        .bind(t.id)
        .bind(t.incident_id)
        .bind(t.from.as_str())
        .bind(t.to.as_str())
        .bind(actor.account_id)
        .bind(&actor.name)
        .bind((t.to == Status::Assigned).then_some(assignee_after).flatten())
        .bind(&t.note)
        .bind(&t.body_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| id_taken(e, "step", t.id))?;
        sqlx::query(
            "UPDATE incidents SET status = $2, status_at = now(), assignee_staff_id = $3 WHERE id = $1",
        )
        .bind(t.incident_id)
        .bind(t.to.as_str())
        .bind(assignee_after)
        .execute(&mut *tx)
        .await
        .ctx("moving an incident")?;
        let before = json!({ "status": status, "assignee_staff_id": assignee });
        let after = json!({ "status": t.to, "assignee_staff_id": assignee_after, "note": t.note, "step_id": t.id });
        let step = (t.to.as_str(), Some(before), after);
        let done = "committing an incident's step";
        commit_step(tx, t.incident_id, step, t.region_id, done).await
    }

    /// Whether a lifecycle step with this id was recorded before: `Some(Replayed)` for
    /// the same step, a conflict for another body under the id, `None` if it is new.
    pub async fn step_seen(
        &self,
        incident_id: Uuid,
        step_id: Uuid,
        body_hash: &[u8],
    ) -> Result<Option<Outcome>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        step_replay(&mut conn, incident_id, step_id, body_hash).await
    }

    /// The id of a staff member by code.
    pub async fn staff_id(&self, code: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM staff WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .ctx("finding a staff member")
    }

    /// One incident with its history and photos.
    pub async fn incident(&self, id: Uuid, now: DateTime<Utc>) -> Result<IncidentView, StoreError> {
        let row = sqlx::query(&format!("{INCIDENT} WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading an incident")?
            .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
        let mut v = incident_from_row(&row, now)?;
        let steps: Vec<Step> = sqlx::query_as(
            "SELECT e.step, e.from_status AS \"from\", e.to_status AS \"to\", e.at, e.actor AS \"by\", \
               s.code AS assignee, e.note \
             FROM incident_events e LEFT JOIN staff s ON s.id = e.assignee_staff_id \
             WHERE e.incident_id = $1 ORDER BY e.step",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading an incident's history")?;
        v.history = Some(steps);
        let photos: Vec<(Uuid, String, i32, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, content_type, bytes, encode(sha256, 'hex'), uploaded_at FROM incident_photos \
             WHERE incident_id = $1 ORDER BY uploaded_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading an incident's photos")?;
        v.photos = Some(
            photos
                .into_iter()
                .map(|(id, content_type, bytes, sha256, uploaded_at)| PhotoMeta {
                    id,
                    content_type,
                    bytes,
                    sha256,
                    uploaded_at,
                })
                .collect(),
        );
        Ok(v)
    }

    /// Incidents of some grids, newest first.
    pub async fn incidents(
        &self,
        f: &IncidentFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<IncidentView>, StoreError> {
        let rows = sqlx::query(&format!(
            "{INCIDENT} WHERE i.grid_id = ANY($1) AND ($2::text IS NULL OR i.status = $2) \
               AND ($3::text IS NULL OR i.category = $3) \
               AND (NOT $4 OR i.status NOT IN ('verified', 'closed')) \
               AND ($5::timestamptz IS NULL OR i.reported_at >= $5) \
               AND ($6::timestamptz IS NULL OR i.reported_at < $6) \
               AND ($8::bigint IS NULL OR i.assignee_staff_id = $8) \
             ORDER BY i.reported_at DESC, i.id LIMIT $7"
        ))
        .bind(&f.grid_ids)
        .bind(f.status.map(Status::as_str))
        .bind(f.category.map(Category::as_str))
        .bind(f.open)
        .bind(f.from)
        .bind(f.to)
        .bind(f.limit.clamp(1, 10_000))
        .bind(f.assignee_staff_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading incidents")?;
        rows.iter().map(|r| incident_from_row(r, now)).collect()
    }

    /// Attaches a photo to an incident (at most `max_per_incident`).
    pub async fn put_photo(
        &self,
        p: &NewPhoto,
        max_per_incident: i64,
        actor: &Actor,
    ) -> Result<Outcome, StoreError> {
        let account_id = actor.account("photos are uploaded by accounts")?;
        let mut tx = self.begin_write(actor).await?;
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM incident_photos WHERE incident_id = i.id) \
             FROM incidents i WHERE i.id = $1 FOR UPDATE",
        )
        .bind(p.incident_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading an incident")?;
        let n = n.ok_or_else(|| StoreError::NotFound(format!("incident {}", p.incident_id)))?;
        let seen: Option<(Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT incident_id, sha256 FROM incident_photos WHERE id = $1")
                .bind(p.id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("reading a photo")?;
        if let Some((incident, sha)) = seen {
            return if incident == p.incident_id && sha == p.sha256 {
                Ok(Outcome::Replayed)
            } else {
                Err(StoreError::Conflict(format!(
                    "photo {} was already uploaded with other content; a new photo needs a new id",
                    p.id
                )))
            };
        }
        if n >= max_per_incident {
            return Err(FieldError::new(
                "photo",
                format!("an incident has at most {max_per_incident} photos"),
            )
            .into());
        }
        sqlx::query(
            "INSERT INTO incident_photos (id, incident_id, content_type, bytes, sha256, data, account_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.id)
        .bind(p.incident_id)
        .bind(p.content_type)
        .bind(p.data.len() as i32)
        .bind(&p.sha256)
        .bind(&p.data)
        .bind(account_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| id_taken(e, "photo", p.id))?;
        let after = json!({ "photo": p.id, "content_type": p.content_type, "bytes": p.data.len(),
                "sha256": hex(&p.sha256) });
        let step = ("photo", None, after);
        commit_step(tx, p.incident_id, step, p.region_id, "committing a photo").await
    }

    /// A photo's media type, SHA-256 and bytes.
    pub async fn photo(
        &self,
        incident_id: Uuid,
        id: Uuid,
    ) -> Result<(String, Vec<u8>, Vec<u8>), StoreError> {
        sqlx::query_as(
            "SELECT content_type, sha256, data FROM incident_photos WHERE id = $1 AND incident_id = $2",
        )
        .bind(id)
        .bind(incident_id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a photo")?
        .ok_or_else(|| StoreError::NotFound(format!("photo {id}")))
    }
}

/// A unique violation on a client's id (another upload took it meanwhile) is a conflict.
fn id_taken(e: sqlx::Error, what: &'static str, id: Uuid) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!(
            "{what} {id} was already uploaded with other content; a new {what} needs a new id"
        )),
        e => StoreError::db("storing an incident's step or photo", e),
    }
}

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
