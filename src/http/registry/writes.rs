//! Routes that write grids: create, re-draw, delete and the atomic batch, with the checks
//! of their bodies (sizes, shapes, fields) made before the store is asked.

use super::grids::GridView;
use super::{etag, if_match};
use crate::domain::access::{Area, Caller};
use crate::domain::registry::{GridChange, NewGrid};
use crate::domain::GridLevel;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Json, Path};
use crate::http::AppState;
use crate::spatial::shape::{check_size, off_runtime, read_area, AreaError, ShapeLimits};
use crate::store::grids::Applied;
use crate::work::Expired;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// A grid as a client sends it.
#[derive(Deserialize)]
pub struct GridFeature {
    /// GeoJSON's `type`: `Feature` if given.
    #[serde(rename = "type")]
    kind: Option<String>,
    geometry: Option<geojson::Geometry>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

pub(super) fn prop_str(p: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    p.get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_string())
}

pub(super) fn required(p: &serde_json::Map<String, Value>, key: &str) -> ApiResult<String> {
    prop_str(p, key).filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::invalid(
            &format!("properties.{key}"),
            format!("properties.{key} is required"),
        )
    })
}

/// Why checking a request's geometries stopped: a refusal to answer, or the work's time
/// ran out.
pub(crate) enum Stop {
    /// The request is refused with this answer.
    Refused(ApiError),
    /// The work's deadline passed, or the request went away.
    Expired,
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Refused(e)
    }
}

impl From<Expired> for Stop {
    fn from(_: Expired) -> Self {
        Stop::Expired
    }
}

/// Refuses a request whose geometries exceed the caps, before any work on them: each
/// geometry (with its index in the request, if it has one) against the caps of one
/// geometry, and their sum against the cap of one request. Returns the sum.
pub(crate) fn check_sizes<'a>(
    st: &AppState,
    geometries: impl IntoIterator<Item = (Option<usize>, &'a geojson::Geometry)>,
) -> ApiResult<usize> {
    let caps = &st.config.geometry;
    let limits = caps.limits();
    let mut total = 0usize;
    for (index, g) in geometries {
        check_size(g, &limits).map_err(|e| {
            let limit = match e.kind {
                "too_many_rings" => caps.max_rings,
                _ => caps.max_vertices,
            };
            ApiError::shape(&e, index).with("limit", json!(limit))
        })?;
        total = total.saturating_add(crate::spatial::shape::vertex_count(g));
    }
    if total > caps.max_request_vertices {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_vertices",
            format!(
                "the geometries of one request have at most {} positions in all, these have {total}; send fewer or simpler geometries",
                caps.max_request_vertices
            ),
        )
        .with("limit", json!(caps.max_request_vertices))
        .with("vertices", json!(total)));
    }
    Ok(total)
}

/// Runs a request's geometry work on about `vertices` positions off the async workers,
/// within the geometry budget (503 `too_slow` past it, `busy` when the pool stays full).
pub(crate) async fn geometry_work<T, F>(st: &AppState, vertices: usize, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Stop> + Send + 'static,
{
    off_runtime(vertices, st.config.geometry.budget(), move || match f() {
        Ok(v) => Ok(Ok(v)),
        Err(Stop::Refused(e)) => Ok(Err(e)),
        Err(Stop::Expired) => Err(Expired),
    })
    .await?
}

pub(super) fn read_geom(
    g: &Option<geojson::Geometry>,
    index: Option<usize>,
    limits: &ShapeLimits,
) -> Result<Option<geo::MultiPolygon<f64>>, Stop> {
    match g {
        None => Ok(None),
        Some(g) => match read_area(g, limits) {
            Ok(mp) => Ok(Some(mp)),
            Err(AreaError::Shape(e)) => Err(ApiError::shape(&e, index).into()),
            Err(AreaError::Expired(_)) => Err(Stop::Expired),
        },
    }
}

/// The 422 for a write that says nothing: `field` is where the change was expected.
pub(super) fn nothing_to_change(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_change",
        message,
    )
    .with("field", json!(field))
}

/// Refuses a grid update that is not one Feature (`at` is the JSON path of the feature) or
/// gives neither a geometry nor a name.
pub(super) fn check_update(f: Option<&GridFeature>, at: &str) -> ApiResult<()> {
    let path = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    if let Some(k) = f
        .and_then(|f| f.kind.as_deref())
        .filter(|k| *k != "Feature")
    {
        return Err(ApiError::invalid(
            &path("type"),
            format!("a grid is sent as one GeoJSON Feature, not a {k}"),
        ));
    }
    let says_something = f.is_some_and(|f| {
        f.geometry.is_some() || f.properties.get("name").is_some_and(|n| !n.is_null())
    });
    if says_something {
        Ok(())
    } else {
        Err(nothing_to_change(
            &if f.is_none() {
                at.to_string()
            } else {
                path("geometry")
            },
            "the update changes nothing: give a geometry and/or properties.name",
        ))
    }
}

pub(super) fn new_grid(
    f: &GridFeature,
    index: Option<usize>,
    limits: &ShapeLimits,
) -> Result<NewGrid, Stop> {
    let level = f
        .properties
        .get("level")
        .and_then(serde_json::Value::as_i64)
        .and_then(GridLevel::from_number)
        .ok_or_else(|| ApiError::invalid("properties.level", "properties.level must be 1 or 2"))?;
    let geom = read_geom(&f.geometry, index, limits)?.ok_or_else(|| {
        ApiError::invalid(
            "geometry",
            "a grid needs a Polygon or MultiPolygon geometry",
        )
    })?;
    Ok(NewGrid {
        code: required(&f.properties, "code")?,
        name: required(&f.properties, "name")?,
        level,
        parent_code: required(&f.properties, "parent_code")?,
        geom,
    })
}

/// The answer to a write of one grid: its applied change ([`applied_body`]) with `status`,
/// and the grid's new `version` as its ETag.
fn with_etag(status: StatusCode, body: Value, version: i32) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

pub(super) fn applied_body(st: &AppState, caller: &Caller, a: &Applied) -> Value {
    let snap = st.registry.snapshot();
    let view = GridView {
        snap: &snap,
        caller,
        peers: None,
        figures: None,
    };
    json!({
        "grids": a.grids.iter().map(|g| view.feature(g)).collect::<Vec<_>>(),
        "deleted": a.deleted,
        "buildings_moved": a.moves.len(),
        "moves": a.moves,
        "party": a.party,
        "changed": a.changed(),
        "change": a.changed().then_some(a.seq),
    })
}

/// Refuses changes to grids outside the caller's reach, before anything is written.
pub(super) fn check_reach(st: &AppState, caller: &Caller, batch: &[GridChange]) -> ApiResult<()> {
    let snap = st.registry.snapshot();
    for (i, c) in batch.iter().enumerate() {
        let place = snap.place_of_change(c);
        // Unknown codes are left to the store, which answers 404 or 422.
        if let Some(p) = place {
            if !caller.may_change(Area::Boundaries, &p) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this change touches grids outside your region",
                )
                .with("index", json!(i)));
            }
        }
    }
    Ok(())
}

pub(super) async fn apply(
    st: &AppState,
    caller: &Caller,
    batch: Vec<GridChange>,
) -> ApiResult<Applied> {
    check_reach(st, caller, &batch)?;
    let applied = st
        .store
        .apply_grid_changes_within(
            batch,
            st.config.tolerance_m2,
            &actor(caller),
            st.config.geometry.budget(),
        )
        .await?;
    if applied.changed() {
        st.after_change().await;
    }
    Ok(applied)
}

/// The answer to a write of one grid: the applied batch, with the grid's new version as
/// its ETag (`otherwise` when the batch names none).
fn one_grid(
    st: &AppState,
    caller: &Caller,
    a: &Applied,
    status: StatusCode,
    otherwise: i32,
) -> Response {
    let version = a.grids.first().map(|g| g.version).unwrap_or(otherwise);
    with_etag(status, applied_body(st, caller, a), version)
}

/// `POST /api/grids`: create one grid.
pub async fn create_grid(
    Ctx { st, caller }: Ctx,
    Json(f): Json<GridFeature>,
) -> ApiResult<Response> {
    let vertices = check_sizes(&st, f.geometry.as_ref().map(|g| (None, g)))?;
    let limits = st.config.geometry.limits();
    let g = geometry_work(&st, vertices, move || new_grid(&f, None, &limits)).await?;
    let a = apply(&st, &caller, vec![GridChange::Create(g)]).await?;
    Ok(one_grid(&st, &caller, &a, StatusCode::CREATED, 1))
}

/// `PUT /api/grids/{code}`: re-draw and/or rename a grid; needs `If-Match`.
pub async fn update_grid(
    Ctx { st, caller }: Ctx,
    Path(code): Path<String>,
    headers: HeaderMap,
    Json(f): Json<GridFeature>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    check_update(Some(&f), "")?;
    if let Some(c) = prop_str(&f.properties, "code") {
        if c != code {
            return Err(ApiError::invalid(
                "properties.code",
                "a grid's code cannot be changed",
            ));
        }
    }
    let vertices = check_sizes(&st, f.geometry.as_ref().map(|g| (None, g)))?;
    let limits = st.config.geometry.limits();
    let name = prop_str(&f.properties, "name");
    let geom = geometry_work(&st, vertices, move || read_geom(&f.geometry, None, &limits)).await?;
    let a = apply(
        &st,
        &caller,
        vec![GridChange::Update {
            code,
            version,
            name,
            geom,
        }],
    )
    .await?;
    Ok(one_grid(&st, &caller, &a, StatusCode::OK, version + 1))
}

/// `DELETE /api/grids/{code}`: needs `If-Match`.
pub async fn delete_grid(
    Ctx { st, caller }: Ctx,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let version = if_match(&headers)?;
    let a = apply(&st, &caller, vec![GridChange::Delete { code, version }]).await?;
    Ok(Json(applied_body(&st, &caller, &a)))
}

/// One change of a batch.
#[derive(Deserialize)]
pub struct BatchItem {
    op: String,
    code: Option<String>,
    version: Option<i32>,
    #[serde(default)]
    feature: Option<GridFeature>,
}

/// Body of `POST /api/grids/batch`.
#[derive(Deserialize)]
pub struct Batch {
    changes: Vec<BatchItem>,
}

/// `POST /api/grids/batch`: several creations, re-draws and deletions in one atomic
/// change, as a boundary adjustment between neighbours needs.
pub async fn batch(Ctx { st, caller }: Ctx, Json(b): Json<Batch>) -> ApiResult<Json<Value>> {
    let out = checked_batch(&st, b).await?;
    let a = apply(&st, &caller, out).await?;
    Ok(Json(applied_body(&st, &caller, &a)))
}

/// The changes of a batch body, checked as far as they can be without the database, the
/// geometries within the caps and off the async workers (also used by the party preview,
/// which takes the same body).
pub(crate) async fn checked_batch(st: &AppState, b: Batch) -> ApiResult<Vec<GridChange>> {
    let geometries = b.changes.iter().enumerate().filter_map(|(i, c)| {
        c.feature
            .as_ref()
            .and_then(|f| f.geometry.as_ref())
            .map(|g| (Some(i), g))
    });
    let vertices = check_sizes(st, geometries)?;
    let limits = st.config.geometry.limits();
    geometry_work(st, vertices, move || batch_changes(&b, &limits)).await
}

pub(super) fn batch_changes(b: &Batch, limits: &ShapeLimits) -> Result<Vec<GridChange>, Stop> {
    if b.changes.is_empty() {
        return Err(nothing_to_change(
            "changes",
            "the batch changes nothing: it needs at least one change",
        )
        .into());
    }
    if b.changes.len() > 10_000 {
        return Err(ApiError::invalid("changes", "a batch has at most 10,000 changes").into());
    }
    let mut out = Vec::with_capacity(b.changes.len());
    for (i, item) in b.changes.iter().enumerate() {
        let at = |e: ApiError| e.with("index", json!(i));
        let version = || {
            item.version.ok_or_else(|| {
                at(ApiError::invalid(
                    &format!("changes[{i}].version"),
                    "the version the change is based on is required",
                ))
            })
        };
        let code = || {
            item.code
                .clone()
                .or_else(|| {
                    item.feature
                        .as_ref()
                        .and_then(|f| prop_str(&f.properties, "code"))
                })
                .ok_or_else(|| {
                    at(ApiError::invalid(
                        &format!("changes[{i}].code"),
                        "code is required",
                    ))
                })
        };
        out.push(match item.op.as_str() {
            "create" => {
                let f = item.feature.as_ref().ok_or_else(|| {
                    at(ApiError::invalid(
                        &format!("changes[{i}].feature"),
                        "a create needs a feature",
                    ))
                })?;
                GridChange::Create(new_grid(f, Some(i), limits).map_err(|e| match e {
                    Stop::Refused(e) => Stop::Refused(at(e)),
                    Stop::Expired => Stop::Expired,
                })?)
            }
            "update" => {
                let f = item.feature.as_ref();
                check_update(f, &format!("changes[{i}].feature")).map_err(at)?;
                GridChange::Update {
                    code: code()?,
                    version: version()?,
                    name: f.and_then(|f| prop_str(&f.properties, "name")),
                    geom: match f {
                        Some(f) => read_geom(&f.geometry, Some(i), limits)?,
                        None => None,
                    },
                }
            }
            "delete" => GridChange::Delete {
                code: code()?,
                version: version()?,
            },
            other => {
                return Err(at(ApiError::invalid(
                    &format!("changes[{i}].op"),
                    format!("op must be create, update or delete, not {other:?}"),
                ))
                .into())
            }
        });
    }
    Ok(out)
}
