//! Turning client GeoJSON geometries into `geo` shapes, and saying exactly what is wrong
//! with the ones that cannot be accepted: wrong type, too few points, unclosed rings,
//! non-finite or out-of-range coordinates, too many positions or rings, self-intersections,
//! holes outside their shell, overlapping parts.
//!
//! The checks run on the raw GeoJSON positions before conversion because `geo` closes
//! rings silently, which would hide an unclosed ring from the client. The topology checks
//! are plane sweeps (see `sweep`), O(n log n) in the number of positions, and look at the
//! work's deadline ([`crate::work::checkpoint`]) as they go, so a shape of any size costs a
//! bounded time; callers bound the size with [`ShapeLimits`] as well.

//!
//! This file reads GeoJSON and checks sizes and positions; `area` checks the rings of
//! polygons and multipolygons, with the sweep in `sweep`.

mod area;
mod sweep;
#[cfg(test)]
mod tests;

use crate::work::{Expired, WorkError};
use area::{check_area, polygon};
use geo::{Coord, LineString, MultiPolygon, Point};
use geojson::{Geometry as GjGeometry, GeometryValue as Value, PointType};
use serde::Serialize;
use std::time::Duration;

/// Why a geometry was refused, and where.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{reason}")]
pub struct ShapeError {
    /// A stable machine-readable cause, e.g. `self_intersection`.
    pub kind: &'static str,
    /// A sentence for people.
    pub reason: String,
    /// The JSON path to the offending coordinate or ring, e.g. `coordinates[0][3]`.
    pub path: String,
    /// The position of the problem as `[lon, lat]`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<[f64; 2]>,
}

impl ShapeError {
    fn new(kind: &'static str, reason: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            path: path.into(),
            at: None,
        }
    }

    fn at(mut self, c: Coord<f64>) -> Self {
        self.at = Some([c.x, c.y]);
        self
    }
}

/// Why an area was not read: its shape, or the work's time ran out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    /// The geometry is not acceptable.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The work's deadline passed, or its request went away.
    #[error(transparent)]
    Expired(#[from] Expired),
}

/// Size caps on one geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Most positions, counted over all rings (closing positions included).
    pub max_vertices: usize,
    /// Most rings, counted over all parts (exteriors and holes).
    pub max_rings: usize,
}

impl ShapeLimits {
    /// No caps (trusted input such as the command-line import).
    pub const NONE: Self = Self {
        max_vertices: usize::MAX,
        max_rings: usize::MAX,
    };
}

/// Positions up to which geometry work runs where it is asked for (a few milliseconds at
/// most) rather than waiting for the work pool.
pub const INLINE_VERTICES: usize = 2_000;

/// Runs geometry work on about `vertices` positions off the async workers: on the work
/// pool with `budget` ([`crate::work::heavy`]), or inline when it is small.
pub async fn off_runtime<T, F>(vertices: usize, budget: Duration, f: F) -> Result<T, WorkError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Expired> + Send + 'static,
{
    if vertices <= INLINE_VERTICES {
        f().map_err(|_| WorkError::Expired {
            budget_s: budget.as_secs_f64(),
        })
    } else {
        crate::work::heavy(budget, f).await
    }
}

/// Positions in a geometry of any type (a GeometryCollection counts its members').
pub fn vertex_count(g: &GjGeometry) -> usize {
    match &g.value {
        Value::Point { .. } => 1,
        Value::MultiPoint { coordinates } | Value::LineString { coordinates } => coordinates.len(),
        Value::MultiLineString { coordinates } | Value::Polygon { coordinates } => {
            coordinates.iter().map(Vec::len).sum()
        }
        Value::MultiPolygon { coordinates } => coordinates
            .iter()
            .flat_map(|p| p.iter().map(Vec::len))
            .sum(),
        Value::GeometryCollection { geometries } => geometries.iter().map(vertex_count).sum(),
    }
}

/// Rings in a Polygon or MultiPolygon (none for other types).
fn ring_count(g: &GjGeometry) -> usize {
    match &g.value {
        Value::Polygon { coordinates } => coordinates.len(),
        Value::MultiPolygon { coordinates } => coordinates.iter().map(Vec::len).sum(),
        _ => 0,
    }
}

/// Refuses a geometry over the caps, before any work on it.
pub fn check_size(g: &GjGeometry, limits: &ShapeLimits) -> Result<(), ShapeError> {
    let caps = [
        (
            "too_many_vertices",
            vertex_count(g),
            limits.max_vertices,
            "positions",
            "; simplify it",
        ),
        (
            "too_many_rings",
            ring_count(g),
            limits.max_rings,
            "rings (exteriors and holes)",
            "",
        ),
    ];
    for (kind, n, max, what, advice) in caps {
        if n > max {
            return Err(ShapeError::new(
                kind,
                format!("a geometry has at most {max} {what}, this one has {n}{advice}"),
                "coordinates",
            ));
        }
    }
    Ok(())
}

/// Reads a Polygon or MultiPolygon as a valid MultiPolygon in WGS 84, with no size caps
/// (for trusted input; requests go through [`read_area`]).
pub fn area_from_geojson(g: &GjGeometry) -> Result<MultiPolygon<f64>, ShapeError> {
    read_area(g, &ShapeLimits::NONE).map_err(|e| match e {
        AreaError::Shape(e) => e,
        AreaError::Expired(_) => ShapeError::new(
            "too_slow",
            "checking the geometry took longer than its time budget",
            "coordinates",
        ),
    })
}

/// Reads a Polygon or MultiPolygon as a valid MultiPolygon in WGS 84 within `limits`;
/// stops with [`AreaError::Expired`] when the work's deadline passes.
pub fn read_area(g: &GjGeometry, limits: &ShapeLimits) -> Result<MultiPolygon<f64>, AreaError> {
    check_size(g, limits)?;
    let mp = match &g.value {
        Value::Polygon { coordinates: rings } => MultiPolygon(vec![polygon(rings, "coordinates")?]),
        Value::MultiPolygon { coordinates: polys } => {
            if polys.is_empty() {
                return Err(ShapeError::new(
                    "empty",
                    "a MultiPolygon needs at least one polygon",
                    "coordinates",
                )
                .into());
            }
            let mut out = Vec::with_capacity(polys.len());
            for (i, rings) in polys.iter().enumerate() {
                out.push(polygon(rings, &format!("coordinates[{i}]"))?);
            }
            MultiPolygon(out)
        }
        other => {
            return Err(ShapeError::new(
                "wrong_type",
                format!(
                    "expected a Polygon or MultiPolygon, got a {}",
                    other.type_name()
                ),
                "type",
            )
            .into())
        }
    };
    check_area(&mp)?;
    Ok(mp)
}

/// Reads a Point in WGS 84.
pub fn point_from_geojson(g: &GjGeometry) -> Result<Point<f64>, ShapeError> {
    match &g.value {
        Value::Point { coordinates: p } => Ok(Point(position(p, "coordinates")?)),
        other => Err(ShapeError::new(
            "wrong_type",
            format!("expected a Point, got a {}", other.type_name()),
            "type",
        )),
    }
}

/// Reads a LineString in WGS 84 with at least two distinct positions.
pub fn line_from_geojson(g: &GjGeometry) -> Result<LineString<f64>, ShapeError> {
    match &g.value {
        Value::LineString { coordinates: ps } => {
            let coords = ps
                .iter()
                .enumerate()
                .map(|(i, p)| position(p, &format!("coordinates[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let mut distinct = coords.clone();
            distinct.dedup();
            if distinct.len() < 2 {
                return Err(ShapeError::new(
                    "too_few_points",
                    "a LineString needs at least two distinct positions",
                    "coordinates",
                ));
            }
            Ok(LineString(coords))
        }
        other => Err(ShapeError::new(
            "wrong_type",
            format!("expected a LineString, got a {}", other.type_name()),
            "type",
        )),
    }
}

/// Checks a lon/lat position: two or three finite numbers within range.
fn position(p: &PointType, path: &str) -> Result<Coord<f64>, ShapeError> {
    if p.len() < 2 || p.len() > 3 {
        return Err(ShapeError::new(
            "bad_position",
            format!("a position has 2 or 3 numbers, this one has {}", p.len()),
            path,
        ));
    }
    let (x, y) = (p[0], p[1]);
    if !x.is_finite() || !y.is_finite() {
        return Err(ShapeError::new(
            "not_finite",
            "coordinates must be finite numbers (no NaN or infinity)",
            path,
        ));
    }
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(ShapeError::new(
            "out_of_range",
            format!("longitude must be within ±180 and latitude within ±90, got ({x}, {y})"),
            path,
        )
        .at(Coord { x, y }));
    }
    Ok(Coord { x, y })
}
