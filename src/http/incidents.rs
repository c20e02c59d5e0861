//! Incidents found on patrol: reports, their lifecycle and their photos, read by the grid
//! chiefs and administrators who follow them up.
//!
//! | method and path | what |
//! |---|---|
//! | `PUT /api/incidents/{id}` | report `{category, description, lon, lat, crs?, reported_at, patrol_id?}`; the grid is found from the position |
//! | `GET /api/incidents?grid=&community=&status=&category=&open=true&overdue=true&mine=true&from=&to=` | a GeoJSON FeatureCollection of points (`mine`: only those assigned to the caller's staff record, none for an account without one) |
//! | `GET /api/incidents/counts?...` | counts per grid and category (total, open, overdue) |
//! | `GET /api/incidents/{id}` | one incident with its history (who, when, each step) and photos |
//! | `GET /api/incidents/{id}/next` | the steps the caller may take now (`next`: statuses), and when one is `assigned`, the staff it may go to (`assignees`: code, name, role, grid) |
//! | `POST /api/incidents/{id}/transitions` | `{id, to, from?, assignee?, note?}`: reported → assigned → in_progress → resolved → verified → closed |
//! | `PUT /api/incidents/{id}/photos/{photo}` | the photo's bytes (JPEG, PNG or WebP, at most 5 MB by default, decoded whole before it is stored: 422 `invalid_image` otherwise); `x-content-sha256` (hex) is checked if sent |
//! | `GET /api/incidents/{id}/photos/{photo}` | the photo, to those who may see the incident |
//!
//! Categories: `dispute` (矛盾纠纷), `safety_hazard`, `environment`, `facility_damage`,
//! `residents_request` (社情民意), `other`. Grid chiefs and administrators assign, verify
//! and close; the assigned staff member starts and resolves. Writes are idempotent under
//! the client's ids as in `patrols`. `from` (the status the client saw) makes a queued
//! step fail with `409` rather than apply to an incident that has moved on meanwhile.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query, Write};
use super::params;
use super::patrols::{acknowledge, body_hash, invalid, list_limit, scope_grids};
use super::AppState;
use crate::domain::access::{Area, Caller, Place, Role};
use crate::domain::patrol::{
    allowed_next, check_text, check_transition, Category, Crs, Handler, Status, CLOCK_SKEW,
};
use crate::spatial::coords;
use crate::store::incidents::{
    hex, IncidentFilter, IncidentView, NewIncident, NewPhoto, Transition,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use geo::Coord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most incidents one list answers with (and the most the counts look at).
pub const MAX_LIST: i64 = 10_000;

/// Body of `PUT /api/incidents/{id}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentBody {
    category: String,
    description: String,
    lon: f64,
    lat: f64,
    #[serde(default)]
    crs: Crs,
    reported_at: DateTime<Utc>,
    #[serde(default)]
    patrol_id: Option<Uuid>,
}

/// Body of `POST /api/incidents/{id}/transitions`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    id: Uuid,
    to: Status,
    #[serde(default)]
    from: Option<Status>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn category(s: &str) -> ApiResult<Category> {
    Category::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        ApiError::invalid(
            "category",
            format!("category must be one of {}", all.join(", ")),
        )
    })
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The place of an incident's grid.
fn place_of(st: &AppState, v: &IncidentView) -> Option<Place> {
    let snap = st.registry.snapshot();
    snap.grids
        .get(v.grid_id)
        .and_then(|g| snap.place_of_grid(g))
}

/// Reads an incident the caller may see (its reporter, or anyone whose scope covers its
/// grid); others get a 404.
async fn visible(st: &AppState, caller: &Caller, id: Uuid) -> ApiResult<(IncidentView, Place)> {
    let not_found = || ApiError::not_found(format!("incident {id} not found"));
    let v = match st.store.incident(id, Utc::now()).await {
        Ok(v) => v,
        Err(crate::store::StoreError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let place = place_of(st, &v).ok_or_else(not_found)?;
    if v.account_id == caller.account_id || caller.in_scope(&place) {
        Ok((v, place))
    } else {
        Err(not_found())
    }
}

/// Who the caller is to an incident's lifecycle: a grid chief or administrator with reach
/// over its grid supervises it; the staff member it is assigned to works on it.
fn handler_of(caller: &Caller, place: &Place, v: &IncidentView) -> Handler {
    let supervisor = matches!(caller.role, Role::Admin | Role::GridChief)
        && caller.may_change(Area::Incidents, place);
    if supervisor {
        Handler::Supervisor
    } else if caller.staff_id.is_some() && caller.staff_id == v.assignee_staff_id {
        Handler::Assignee
    } else {
        Handler::Other
    }
}

/// A staff member an incident may be assigned to.
#[derive(Debug, Serialize)]
struct Assignee<'a> {
    code: &'a str,
    name: &'a str,
    /// `chief` or `member`.
    role: &'a str,
    /// The grid they serve: the incident's own, or its first-level grid.
    grid: &'a str,
}

/// `GET /api/incidents/{id}/next`: the steps the caller may take now, and the staff an
/// assignment may name (the incident's grid's, then its first-level grid's; no phones).
pub async fn next_steps(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    let (v, place) = visible(&st, &caller, id).await?;
    let next = allowed_next(v.status, handler_of(&caller, &place, &v));
    let snap = st.registry.snapshot();
    let mut assignees: Vec<Assignee> = Vec::new();
    if next.contains(&Status::Assigned) {
        let grid = snap.grids.get(v.grid_id);
        let parent = grid
            .and_then(|g| g.parent_id)
            .and_then(|p| snap.grids.get(p));
        for g in grid.into_iter().chain(parent) {
            for s in snap.staff.of_grid(g.id) {
                if assignees.iter().all(|a| a.code != s.code) {
                    assignees.push(Assignee {
                        code: &s.code,
                        name: &s.name,
                        role: &s.role,
                        grid: &g.code,
                    });
                }
            }
        }
    }
    Ok(Json(json!({
        "id": v.id, "status": v.status, "next": next, "assignees": assignees,
    })))
}

/// `PUT /api/incidents/{id}`: reports an incident.
pub async fn put_incident(
    Write(st, caller, id, b): Write<IncidentBody, Uuid>,
) -> ApiResult<Response> {
    let hash = body_hash(&b);
    let category = category(&b.category)?;
    let description = b.description.trim().to_string();
    if description.is_empty() {
        return Err(ApiError::invalid(
            "description",
            "say what was found (description is empty)",
        ));
    }
    check_text(&description, "description", 2000).map_err(invalid)?;
    params::lon_lat(b.lon, b.lat)?;
    if b.reported_at > Utc::now() + CLOCK_SKEW {
        return Err(ApiError::invalid(
            "reported_at",
            format!("{} is in the future", b.reported_at),
        ));
    }
    let c = coords::to_wgs84(b.crs, Coord { x: b.lon, y: b.lat });
    let snap = st.registry.snapshot();
    let grid = snap
        .grids
        .locate(crate::domain::GridLevel::Second, c)
        .ok_or_else(|| {
            ApiError::invalid(
                "lon",
                format!(
                    "({}, {}) in {} lies in no grid; is the crs right?",
                    b.lon,
                    b.lat,
                    b.crs.as_str()
                ),
            )
        })?;
    let place = snap
        .place_of_grid(grid)
        .ok_or_else(|| ApiError::invalid("lon", "the position lies in no community"))?;
    if !caller.may_change(Area::Incidents, &place) {
        return Err(forbidden(format!(
            "grid {} is outside your scope; report incidents in your own grids",
            grid.code
        )));
    }
    let new = NewIncident {
        id,
        patrol_id: b.patrol_id,
        grid_id: grid.id,
        region_id: place.region_id,
        category,
        description,
        point: geo::Point(c),
        crs: b.crs.as_str(),
        reported_at: b.reported_at,
        staff_id: caller.staff_id,
        body_hash: hash,
    };
    let outcome = st.store.report_incident(&new, &actor(&caller)).await?;
    let v = st.store.incident(id, Utc::now()).await?;
    Ok(acknowledge(outcome, v))
}

/// `GET /api/incidents/{id}`: one incident with history and photos.
pub async fn get_incident(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<IncidentView>> {
    Ok(Json(visible(&st, &caller, id).await?.0))
}

/// `POST /api/incidents/{id}/transitions`: the next step of the lifecycle.
pub async fn transition(
    Write(st, caller, id, b): Write<TransitionBody, Uuid>,
) -> ApiResult<Response> {
    let hash = body_hash(&b);
    let (v, place) = visible(&st, &caller, id).await?;
    // A repeat is answered before any check: the incident has moved on because of it.
    if let Some(outcome) = st.store.step_seen(id, b.id, &hash).await? {
        return Ok(acknowledge(
            outcome,
            st.store.incident(id, Utc::now()).await?,
        ));
    }
    if let Some(n) = &b.note {
        check_text(n, "note", 2000).map_err(invalid)?;
    }
    let from = b.from.unwrap_or(v.status);
    if let Err(m) = check_transition(from, b.to, handler_of(&caller, &place, &v)) {
        return Err(if from.next().contains(&b.to) {
            forbidden(m)
        } else {
            ApiError::new(StatusCode::CONFLICT, "lifecycle", m)
        });
    }
    let assignee = if b.to == Status::Assigned {
        let code = b.assignee.as_deref().ok_or_else(|| {
            ApiError::invalid("assignee", "name the staff member (code) to assign")
        })?;
        let snap = st.registry.snapshot();
        let grid = snap.grids.get(v.grid_id);
        let on_grid = |g: i64| snap.staff.of_grid(g).iter().any(|s| s.code == code);
        let serves = grid.is_some_and(|g| on_grid(g.id) || g.parent_id.is_some_and(on_grid));
        if !serves {
            return Err(ApiError::invalid(
                "assignee",
                format!(
                    "{code} is not a staff member of grid {} or its first-level grid",
                    v.grid
                ),
            ));
        }
        Some(st.store.staff_id(code).await?.ok_or_else(|| {
            ApiError::invalid("assignee", format!("there is no staff member {code}"))
        })?)
    } else {
        None
    };
    let t = Transition {
        id: b.id,
        incident_id: id,
        from,
        to: b.to,
        assignee_staff_id: assignee,
        note: b.note,
        region_id: place.region_id,
        body_hash: hash,
    };
    let outcome = st.store.transition(&t, &actor(&caller)).await?;
    Ok(acknowledge(
        outcome,
        st.store.incident(id, Utc::now()).await?,
    ))
}

/// Query of the incident list and counts.
#[derive(Debug, Default, Deserialize)]
pub struct IncidentQuery {
    community: Option<String>,
    grid: Option<String>,
    status: Option<String>,
    category: Option<String>,
    #[serde(default)]
    open: bool,
    #[serde(default)]
    overdue: bool,
    /// Only the incidents assigned to the caller (the phone's "my incidents").
    #[serde(default)]
    mine: bool,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
}

impl IncidentQuery {
    /// The most incidents one list holds, of every status and category (the OGC
    /// collection's whole content).
    pub(crate) fn all() -> Self {
        Self {
            limit: Some(MAX_LIST),
            ..Self::default()
        }
    }
}

/// The incidents of the caller's scope that `q` asks for, as the list route gives them.
pub(crate) async fn list_for(
    st: &AppState,
    caller: &Caller,
    q: &IncidentQuery,
) -> ApiResult<Vec<IncidentView>> {
    let snap = st.registry.snapshot();
    let grid_ids: Vec<i64> = scope_grids(&snap, caller, q.community.as_deref(), q.grid.as_deref())?
        .iter()
        .map(|g| g.id)
        .collect();
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| ApiError::invalid("status", format!("no status {s:?}")))
        })
        .transpose()?;
    let category = q.category.as_deref().map(category).transpose()?;
    let filter = IncidentFilter {
        grid_ids,
        status,
        category,
        open: q.open,
        from: q.from.as_deref().map(params::at).transpose()?,
        to: q.to.as_deref().map(params::at).transpose()?,
        assignee_staff_id: if q.mine { caller.staff_id } else { None },
        limit: list_limit(q.limit, 1000, MAX_LIST)?,
    };
    // Mine: assigned to the caller's staff record; an account without one has none.
    if q.mine && caller.staff_id.is_none() {
        return Ok(Vec::new());
    }
    let mut rows = st.store.incidents(&filter, Utc::now()).await?;
    if q.overdue {
        rows.retain(|r| r.overdue);
    }
    Ok(rows)
}

/// `GET /api/incidents`: incidents as GeoJSON points.
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<Value>> {
    let rows = list_for(&st, &caller, &q).await?;
    let features: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "type": "Feature", "id": r.id,
                    "geometry": { "type": "Point", "coordinates": [r.lon, r.lat] },
                    "properties": r })
        })
        .collect();
    Ok(Json(
        json!({ "type": "FeatureCollection", "features": features }),
    ))
}

#[derive(Default, Serialize, Clone, Copy)]
struct Count {
    total: i64,
    open: i64,
    overdue: i64,
}

impl Count {
    fn add(&mut self, r: &IncidentView) {
        self.total += 1;
        self.open += i64::from(r.status.is_open());
        self.overdue += i64::from(r.overdue);
    }
}

/// `GET /api/incidents/counts`: counts per grid and category.
pub async fn counts(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<Value>> {
    let rows = list_for(
        &st,
        &caller,
        &IncidentQuery {
            limit: Some(MAX_LIST),
            ..q
        },
    )
    .await?;
    let mut cells: BTreeMap<(String, Category), Count> = BTreeMap::new();
    let mut grids: BTreeMap<String, Count> = BTreeMap::new();
    let mut categories: BTreeMap<Category, Count> = BTreeMap::new();
    let mut total = Count::default();
    for r in &rows {
        cells
            .entry((r.grid.clone(), r.category))
            .or_default()
            .add(r);
        grids.entry(r.grid.clone()).or_default().add(r);
        categories.entry(r.category).or_default().add(r);
        total.add(r);
    }
    let cells: Vec<Value> = cells
        .into_iter()
        .map(|((grid, c), n)| json!({ "grid": grid, "category": c, "label": c.label(), "total": n.total, "open": n.open, "overdue": n.overdue }))
        .collect();
    let grids: Vec<Value> = grids
        .into_iter()
        .map(|(grid, n)| json!({ "grid": grid, "total": n.total, "open": n.open, "overdue": n.overdue }))
        .collect();
    let categories: Vec<Value> = categories
        .into_iter()
        .map(|(c, n)| json!({ "category": c, "label": c.label(), "total": n.total, "open": n.open, "overdue": n.overdue }))
        .collect();
    Ok(Json(json!({
        "total": total, "by_grid": grids, "by_category": categories, "by_grid_and_category": cells,
    })))
}

/// The media type of an image, from its first bytes.
pub fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Largest width and height of a photo, in pixels.
pub const MAX_PHOTO_SIDE: u32 = 10_000;
/// Most memory the decoder of one photo may take.
const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
/// Time one photo may take to decode.
const DECODE_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Decodes a photo whole, within [`MAX_PHOTO_SIDE`] and [`MAX_DECODE_BYTES`]: a file that
/// only starts like an image, or that would need more memory, is refused with the reason.
pub fn decode_photo(bytes: &[u8]) -> Result<(u32, u32), String> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PHOTO_SIDE);
    limits.max_image_height = Some(MAX_PHOTO_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    Ok((img.width(), img.height()))
}

/// `PUT /api/incidents/{id}/photos/{photo}`: attaches a photo (the raw bytes).
pub async fn put_photo(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, photo)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (_, place) = visible(&st, &caller, id).await?;
    if !caller.may_change(Area::Incidents, &place) {
        return Err(forbidden("photos of this incident are outside your reach"));
    }
    let max = st.config.patrols.photo_max_bytes;
    let data = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a photo is at most {max} bytes; send it smaller"),
        )
        .with("max_bytes", json!(max))
    })?;
    if data.is_empty() {
        return Err(ApiError::invalid("body", "the photo is empty"));
    }
    let content_type = sniff_image(&data).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a photo must be a JPEG, PNG or WebP image",
        )
    })?;
    let pixels = data.clone();
    crate::work::heavy(DECODE_BUDGET, move || Ok(decode_photo(&pixels)))
        .await?
        .map_err(|reason| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_image",
                format!("the photo cannot be read as a {content_type} image: {reason}"),
            )
        })?;
    let sha = Sha256::digest(&data).to_vec();
    if let Some(sent) = headers.get("x-content-sha256") {
        let sent = sent
            .to_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if sent != hex(&sha) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "checksum_mismatch",
                format!("the photo arrived with SHA-256 {}, not {sent}: it was damaged on the way; send it again", hex(&sha)),
            ));
        }
    }
    let new = NewPhoto {
        id: photo,
        incident_id: id,
        content_type,
        data: data.to_vec(),
        sha256: sha.clone(),
        region_id: place.region_id,
    };
    let outcome = st
        .store
        .put_photo(&new, st.config.patrols.photos_per_incident, &actor(&caller))
        .await?;
    Ok(acknowledge(
        outcome,
        json!({ "id": photo, "incident": id, "content_type": content_type,
                "bytes": data.len(), "sha256": hex(&sha) }),
    ))
}

/// `GET /api/incidents/{id}/photos/{photo}`: the photo's bytes.
pub async fn get_photo(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, photo)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    visible(&st, &caller, id).await?;
    let (content_type, sha, data) = st.store.photo(id, photo).await?;
    let mut r = data.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", hex(&sha))) {
        h.insert(header::ETAG, v);
    }
    // A photo may show people and places: kept by no cache (the phone app keeps its own).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
