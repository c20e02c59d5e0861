//! The one place where failures become HTTP statuses. Every error body is JSON
//! `{ "error": CODE, "message": TEXT, ... }`; a 500 logs its cause and tells the client
//! only an id to quote.

use crate::spatial::shape::ShapeError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Seconds suggested in `Retry-After` when the database cannot be reached.
pub const DATABASE_RETRY_AFTER_S: u64 = 5;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// More fields for the body.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// What the database refused that is the client's doing: logged (as `logged`, with the
    /// cause) at info level, and answered as `status` and `code` with `says` and what wangge
    /// was doing, without the SQL.
    fn refused(
        (status, code): (StatusCode, &'static str),
        (logged, says): (&str, &str),
        what: &str,
        source: &dyn std::fmt::Display,
    ) -> Self {
        tracing::info!("{logged} while {what}: {source}");
        Self::new(status, code, format!("{says} (while {what})"))
    }

    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 for one bad field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with("field", json!(field))
    }

    /// 422 for a bad geometry, saying where.
    pub fn shape(e: &ShapeError, index: Option<usize>) -> Self {
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_geometry",
            format!("geometry: {}", e.reason),
        )
        .with("reason", json!(e.kind))
        .with(
            "where",
            json!({ "path": format!("geometry.{}", e.path), "at": e.at }),
        );
        if let Some(i) = index {
            err = err.with("index", json!(i));
        }
        err
    }

    /// 503 `database_unavailable` with `Retry-After`: the database cannot be reached (or
    /// gave no connection in time).
    pub fn database_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached just now; try again shortly",
        )
        .with("retry_after_s", json!(DATABASE_RETRY_AFTER_S))
    }

    /// 500: logs the cause, tells the client an id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(error_id = %id, "internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error; quote {id} to the operator"),
        )
        .with("error_id", json!(id))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self
            .extra
            .get("retry_after_s")
            .and_then(Value::as_u64)
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok());
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        body.extend(self.extra);
        let mut resp = (self.status, axum::Json(Value::Object(body))).into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<crate::work::WorkError> for ApiError {
    fn from(e: crate::work::WorkError) -> Self {
        use crate::work::WorkError;
        match e {
            WorkError::Busy { retry_after_s } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
                    .with("retry_after_s", json!(retry_after_s))
            }
            WorkError::Expired { budget_s } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_slow",
                format!("{e}; ask for less (a smaller area, fewer kinds or vertices)"),
            )
            .with("budget_s", json!(budget_s)),
            WorkError::Panicked(_) => Self::internal(&e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::StaleVersion { code, current, given } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                format!("grid {code} was changed by someone else: it is at version {current}, your change was based on version {given}; reload and try again"),
            )
            .with("code", json!(code))
            .with("current_version", json!(current)),
            StoreError::Field(f) => Self::invalid(&f.field, f.to_string()),
            StoreError::Shape { index, error } => Self::shape(&error, Some(index)),
            StoreError::Work(w) => Self::from(w),
            StoreError::Partition { tolerance_m2, faults } => {
                let features: Vec<Value> = faults
                    .iter()
                    .map(|pf| {
                        let grids: Vec<&String> =
                            pf.fault.children.iter().filter_map(|&i| pf.child_codes.get(i)).collect();
                        // A point on the fault itself (for a sliver shaped like an L the
                        // centre of its box lies elsewhere): where a map marks it.
                        let at = geo::InteriorPoint::interior_point(&pf.fault.geometry)
                            .map(|p| [round7(p.x()), round7(p.y())]);
                        json!({
                            "type": "Feature",
                            "geometry": geojson::Geometry::from(&pf.fault.geometry),
                            "properties": {
                                "kind": pf.fault.kind,
                                "parent_code": pf.parent_code,
                                "grids": grids,
                                "area_m2": (pf.fault.area_m2 * 100.0).round() / 100.0,
                                "at": at,
                            }
                        })
                    })
                    .collect();
                let summary: Vec<String> = faults
                    .iter()
                    .take(5)
                    .map(|pf| format!("{} of {:.1} m² in {}", pf.fault.kind, pf.fault.area_m2, pf.parent_code))
                    .collect();
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "partition_violation",
                    format!(
                        "grids must partition their parent with gaps and overlaps of at most {tolerance_m2} m² each: {}",
                        summary.join("; ")
                    ),
                )
                .with("tolerance_m2", json!(tolerance_m2))
                .with("faults", json!({ "type": "FeatureCollection", "features": features }))
            }
            StoreError::Orphans { codes } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "buildings_outside_grids",
                format!(
                    "every building must lie in a second-level grid; this change would leave {} outside: {}",
                    codes.len(),
                    codes.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .with("buildings", json!(codes)),
            StoreError::Items(items) => {
                let first = items
                    .first()
                    .map(|(i, m)| format!("item {i}: {m}"))
                    .unwrap_or_default();
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_items",
                    format!("{} item(s) are invalid; {first}", items.len()),
                )
                .with(
                    "items",
                    json!(items
                        .iter()
                        .map(|(i, m)| json!({ "index": i, "message": m }))
                        .collect::<Vec<_>>()),
                )
            }
            // Values PostgreSQL refuses and constraints it enforces are the client's doing:
            // say so without the SQL.
            StoreError::RefusedValue { what, source } => Self::refused(
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
                ("refused value", "a value in the request cannot be stored"),
                what,
                &source,
            ),
            StoreError::Constraint { what, source } => Self::refused(
                (StatusCode::CONFLICT, "conflict"),
                ("constraint", "the change conflicts with stored data"),
                what,
                &source,
            ),
            e @ StoreError::Unavailable { .. } => {
                tracing::warn!("database unavailable: {e}");
                Self::database_unavailable()
            }
            e @ (StoreError::Db { .. } | StoreError::Wkb { .. }) => Self::internal(&e),
        }
    }
}

/// A coordinate to seven decimals (about 1 cm).
fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
