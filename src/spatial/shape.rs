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

mod sweep;

use crate::work::{Expired, WorkError};
use geo::algorithm::validation::{GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use geojson::{Geometry as GjGeometry, GeometryValue as Value, PointType, PolygonType};
use serde::Serialize;
use std::time::Duration;
use sweep::{Meeting, Sweep};

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
    let n = vertex_count(g);
    if n > limits.max_vertices {
        return Err(ShapeError::new(
            "too_many_vertices",
            format!(
                "a geometry has at most {} positions, this one has {n}; simplify it",
                limits.max_vertices
            ),
            "coordinates",
        ));
    }
    let rings = ring_count(g);
    if rings > limits.max_rings {
        return Err(ShapeError::new(
            "too_many_rings",
            format!(
                "a geometry has at most {} rings (exteriors and holes), this one has {rings}",
                limits.max_rings
            ),
            "coordinates",
        ));
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

fn polygon(rings: &PolygonType, path: &str) -> Result<Polygon<f64>, AreaError> {
    if rings.is_empty() {
        return Err(ShapeError::new("empty", "a polygon needs an exterior ring", path).into());
    }
    let mut out = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let rpath = format!("{path}[{r}]");
        let coords = ring
            .iter()
            .enumerate()
            .map(|(i, p)| position(p, &format!("{rpath}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if coords.len() < 4 {
            return Err(ShapeError::new(
                "too_few_points",
                format!(
                    "a ring needs at least 4 positions (3 corners and the closing one), this one has {}",
                    coords.len()
                ),
                rpath,
            )
            .into());
        }
        if coords.first() != coords.last() {
            let last = coords.len() - 1;
            return Err(ShapeError::new(
                "unclosed_ring",
                "a ring must end where it starts (RFC 7946 §3.1.6)",
                format!("{rpath}[{last}]"),
            )
            .at(coords[last])
            .into());
        }
        // Positions of the ring without repeats, with where each stood in the input.
        let kept: Vec<usize> = (0..coords.len())
            .filter(|&i| i == 0 || coords[i] != coords[i - 1])
            .collect();
        if kept.len() < 4 {
            return Err(ShapeError::new(
                "too_few_points",
                "a ring needs at least 3 distinct corners",
                rpath,
            )
            .into());
        }
        let distinct: Vec<Coord<f64>> = kept.iter().map(|&i| coords[i]).collect();
        if let Some(c) = Sweep::new(&[&distinct]).self_contact()? {
            return Err(ShapeError::new(
                "self_intersection",
                format!("ring {r} crosses itself near position {}", kept[c.index]),
                format!("{rpath}[{}]", kept[c.index]),
            )
            .at(c.at)
            .into());
        }
        out.push(LineString(coords));
    }
    let exterior = out.remove(0);
    Ok(Polygon::new(exterior, out))
}

/// A fault between rings, in the terms (and the order of report) of `geo`'s validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Polygon `part`'s hole `hole` is not inside its exterior.
    NotContained { part: usize, hole: usize },
    /// Polygon `part`'s exterior and hole `hole` share a stretch of boundary.
    ExteriorLine { part: usize, hole: usize },
    /// Two holes of one polygon overlap.
    HolesArea { part: usize, h1: usize, h2: usize },
    /// Two holes of one polygon share a stretch of boundary.
    HolesLine { part: usize, h1: usize, h2: usize },
    /// Two polygons overlap.
    Overlap { i: usize, j: usize },
    /// Two polygons share a stretch of boundary.
    TouchLine { i: usize, j: usize },
    /// A ring the sweep could not keep in order (it must cross another).
    Broken { part: usize, role: usize },
}

impl Fault {
    /// The order in which `geo`'s validation would report faults: polygon by polygon,
    /// each polygon's own faults (hole by hole) before its overlaps with later polygons.
    fn rank(&self) -> (usize, u8, usize, usize, u8) {
        match *self {
            Fault::Broken { part, .. } => (part, 0, 0, 0, 0),
            Fault::NotContained { part, hole } => (part, 0, hole, 0, 0),
            Fault::ExteriorLine { part, hole } => (part, 0, hole, 0, 1),
            Fault::HolesArea { part, h1, h2 } => (part, 0, h1, h2 + 1, 0),
            Fault::HolesLine { part, h1, h2 } => (part, 0, h1, h2 + 1, 1),
            Fault::Overlap { i, j } => (i, 1, j, 0, 0),
            Fault::TouchLine { i, j } => (i, 1, j, 0, 1),
        }
    }

    fn error(&self) -> InvalidMultiPolygon {
        let hole = |k: usize| RingRole::Interior(k);
        let poly =
            |i: usize, e: InvalidPolygon| InvalidMultiPolygon::InvalidPolygon(GeometryIndex(i), e);
        match *self {
            Fault::Broken { part, role } => poly(
                part,
                InvalidPolygon::SelfIntersection(match role {
                    0 => RingRole::Exterior,
                    k => hole(k - 1),
                }),
            ),
            Fault::NotContained { part, hole: k } => poly(
                part,
                InvalidPolygon::InteriorRingNotContainedInExteriorRing(hole(k)),
            ),
            Fault::ExteriorLine { part, hole: k } => poly(
                part,
                InvalidPolygon::IntersectingRingsOnALine(RingRole::Exterior, hole(k)),
            ),
            Fault::HolesArea { part, h1, h2 } => poly(
                part,
                InvalidPolygon::IntersectingRingsOnAnArea(hole(h1), hole(h2)),
            ),
            Fault::HolesLine { part, h1, h2 } => poly(
                part,
                InvalidPolygon::IntersectingRingsOnALine(hole(h1), hole(h2)),
            ),
            Fault::Overlap { i, j } => {
                InvalidMultiPolygon::ElementsOverlaps(GeometryIndex(i), GeometryIndex(j))
            }
            Fault::TouchLine { i, j } => {
                InvalidMultiPolygon::ElementsTouchOnALine(GeometryIndex(i), GeometryIndex(j))
            }
        }
    }
}

/// Checks what only whole shapes can show: holes outside their shell or inside each other,
/// rings crossing or touching along a line, parts of a MultiPolygon overlapping. Each ring
/// is already simple. One sweep over every ring finds the contacts between rings and,
/// when no two cross, which ring directly encloses which; the faults follow from those.
fn check_area(mp: &MultiPolygon<f64>) -> Result<(), AreaError> {
    // Every ring without repeated positions, with its polygon and role (0: exterior,
    // k + 1: hole k).
    let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut owner: Vec<(usize, usize)> = Vec::new();
    for (i, p) in mp.0.iter().enumerate() {
        for (role, ring) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            let mut pts = ring.0.clone();
            pts.dedup();
            rings.push(pts);
            owner.push((i, role));
        }
    }
    if rings.len() < 2 {
        return Ok(());
    }
    let refs: Vec<&[Coord<f64>]> = rings.iter().map(Vec::as_slice).collect();
    let arr = Sweep::new(&refs).arrangement()?;

    let mut faults: Vec<(Fault, Option<Coord<f64>>)> = Vec::new();
    for c in &arr.contacts {
        let ((pa, ra), (pb, rb)) = (owner[c.a], owner[c.b]);
        let fault = if pa == pb {
            // Rings are numbered exterior first, so `ra < rb`.
            let cross = match c.meeting {
                Meeting::Cross => true,
                // The interiors of two rings of one polygon on the same side of a shared
                // stretch overlap there, for a hole with its exterior the other way round.
                Meeting::Line { a_left, b_left } => (a_left == b_left) == (ra > 0),
            };
            match (ra, cross) {
                (0, true) => Fault::NotContained {
                    part: pa,
                    hole: rb - 1,
                },
                (0, false) => Fault::ExteriorLine {
                    part: pa,
                    hole: rb - 1,
                },
                (_, true) => Fault::HolesArea {
                    part: pa,
                    h1: ra - 1,
                    h2: rb - 1,
                },
                (_, false) => Fault::HolesLine {
                    part: pa,
                    h1: ra - 1,
                    h2: rb - 1,
                },
            }
        } else {
            let overlap = match c.meeting {
                Meeting::Cross => true,
                // Polygon interiors: a ring's interior for an exterior, its outside for a hole.
                Meeting::Line { a_left, b_left } => (a_left != (ra > 0)) == (b_left != (rb > 0)),
            };
            if overlap {
                Fault::Overlap { i: pa, j: pb }
            } else {
                Fault::TouchLine { i: pa, j: pb }
            }
        };
        faults.push((fault, Some(c.at)));
    }
    if let Some((r, at)) = arr.broken {
        let (part, role) = owner[r];
        faults.push((Fault::Broken { part, role }, Some(at)));
    }
    if !arr.crossed && arr.broken.is_none() {
        nesting_faults(&arr.parent, &owner, &mut faults)?;
    }
    let Some((fault, at)) = faults.into_iter().min_by_key(|(f, _)| f.rank()) else {
        return Ok(());
    };
    let e = fault.error();
    let path = match &e {
        InvalidMultiPolygon::InvalidPolygon(idx, _) => format!("coordinates[{}]", idx.0),
        _ => "coordinates".to_string(),
    };
    let err = ShapeError::new("invalid", e.to_string(), path);
    Err(match at {
        Some(at) => err.at(at),
        None => err,
    }
    .into())
}

/// Faults of nesting among rings that do not cross: a hole must lie in its own exterior
/// and in no other hole of its polygon; an exterior must not lie in another polygon
/// (unless in one of its holes).
fn nesting_faults(
    parent: &[Option<usize>],
    owner: &[(usize, usize)],
    faults: &mut Vec<(Fault, Option<Coord<f64>>)>,
) -> Result<(), Expired> {
    let mut seen_parts: Vec<usize> = Vec::new();
    for (r, &(part, role)) in owner.iter().enumerate() {
        crate::work::checkpoint_every(r, 64)?;
        let mut up = parent[r];
        let mut contained = false;
        seen_parts.clear();
        // The chain has at most one ring per ring, so this ends.
        for _ in 0..owner.len() {
            let Some(a) = up else { break };
            let (pa, ra) = owner[a];
            if role > 0 && pa == part {
                if ra == 0 {
                    contained = true;
                } else {
                    let (h1, h2) = ((ra - 1).min(role - 1), (ra - 1).max(role - 1));
                    faults.push((Fault::HolesArea { part, h1, h2 }, None));
                }
            }
            if role == 0 && pa != part && !seen_parts.contains(&pa) {
                seen_parts.push(pa);
                if ra == 0 {
                    let (i, j) = (pa.min(part), pa.max(part));
                    faults.push((Fault::Overlap { i, j }, None));
                }
            }
            up = parent[a];
        }
        if role > 0 && !contained {
            faults.push((
                Fault::NotContained {
                    part,
                    hole: role - 1,
                },
                None,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gj(s: &str) -> GjGeometry {
        s.parse::<GjGeometry>().expect("test geometry parses")
    }

    #[test]
    fn accepts_a_square() {
        let g = gj(
            r#"{"type":"Polygon","coordinates":[[[105,32],[105.01,32],[105.01,32.01],[105,32.01],[105,32]]]}"#,
        );
        assert_eq!(area_from_geojson(&g).map(|m| m.0.len()), Ok(1));
    }

    #[test]
    fn refuses_a_bow_tie_and_says_where() {
        let g = gj(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#);
        let e = area_from_geojson(&g).unwrap_err();
        assert_eq!(e.kind, "self_intersection");
        assert_eq!(e.at, Some([0.5, 0.5]));
    }

    #[test]
    fn refuses_an_unclosed_ring() {
        let g = gj(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#);
        let e = area_from_geojson(&g).unwrap_err();
        assert_eq!(e.kind, "unclosed_ring");
        assert_eq!(e.path, "coordinates[0][3]");
    }

    #[test]
    fn refuses_out_of_range_and_wrong_type() {
        let g = gj(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,95],[0,0]]]}"#);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "out_of_range");
        let g = gj(r#"{"type":"Point","coordinates":[0,0]}"#);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "wrong_type");
    }

    #[test]
    fn refuses_a_spike_that_folds_back() {
        let g = gj(r#"{"type":"Polygon","coordinates":[[[0,0],[2,0],[1,0],[1,1],[0,0]]]}"#);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "self_intersection");
    }

    #[test]
    fn refuses_overlapping_parts() {
        let g = gj(r#"{"type":"MultiPolygon","coordinates":[
            [[[0,0],[2,0],[2,2],[0,2],[0,0]]],
            [[[1,1],[3,1],[3,3],[1,3],[1,1]]]]}"#);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "invalid");
    }

    #[test]
    fn refuses_a_hole_outside_its_shell() {
        let g = gj(r#"{"type":"Polygon","coordinates":[
            [[0,0],[2,0],[2,2],[0,2],[0,0]],
            [[5,5],[6,5],[6,6],[5,5]]]}"#);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "invalid");
    }

    fn poly(rings: &[&[(f64, f64)]]) -> String {
        let rings: Vec<String> = rings
            .iter()
            .map(|r| {
                let pts: Vec<String> = r.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
                format!("[{}]", pts.join(","))
            })
            .collect();
        format!("[{}]", rings.join(","))
    }

    fn polygon_of(rings: &[&[(f64, f64)]]) -> GjGeometry {
        gj(&format!(
            r#"{{"type":"Polygon","coordinates":{}}}"#,
            poly(rings)
        ))
    }

    fn multi_of(parts: &[&[&[(f64, f64)]]]) -> GjGeometry {
        let parts: Vec<String> = parts.iter().map(|p| poly(p)).collect();
        gj(&format!(
            r#"{{"type":"MultiPolygon","coordinates":[{}]}}"#,
            parts.join(",")
        ))
    }

    const SQUARE: &[(f64, f64)] = &[(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)];

    #[test]
    fn a_ring_touching_itself_at_a_vertex_is_refused_where_it_touches() {
        // A figure eight whose loops meet at the vertex (2, 2), visited twice.
        let g = polygon_of(&[&[
            (0., 0.),
            (2., 2.),
            (4., 0.),
            (4., 4.),
            (2., 2.),
            (0., 4.),
            (0., 0.),
        ]]);
        let e = area_from_geojson(&g).unwrap_err();
        assert_eq!(e.kind, "self_intersection");
        assert_eq!(e.at, Some([2.0, 2.0]));
        // Segments 0 and 3 are the first pair to meet there (3 is the later one).
        assert_eq!(e.path, "coordinates[0][3]");
        // A vertex lying on another segment of the same ring.
        let g = polygon_of(&[&[(0., 0.), (4., 0.), (4., 4.), (2., 0.), (0., 4.), (0., 0.)]]);
        let e = area_from_geojson(&g).unwrap_err();
        assert_eq!((e.kind, e.at), ("self_intersection", Some([2.0, 0.0])));
    }

    #[test]
    fn collinear_overlaps_are_refused() {
        // A ring running back along itself: (0,0)-(4,0) then (4,0)-(1,0).
        let g = polygon_of(&[&[(0., 0.), (4., 0.), (1., 0.), (1., 3.), (0., 0.)]]);
        assert_eq!(area_from_geojson(&g).unwrap_err().kind, "self_intersection");
        // Two parts sharing a stretch of boundary.
        let right: &[(f64, f64)] = &[(4., 1.), (6., 1.), (6., 3.), (4., 3.), (4., 1.)];
        let e = area_from_geojson(&multi_of(&[&[SQUARE], &[right]])).unwrap_err();
        assert_eq!(e.kind, "invalid");
        assert_eq!(e.reason, "polygons at indices 0 and 1 touch on a line");
        assert_eq!(e.path, "coordinates");
        assert_eq!(e.at, Some([4.0, 1.0]));
        // A hole running along its exterior.
        let hole: &[(f64, f64)] = &[(0., 1.), (2., 1.), (2., 3.), (0., 3.), (0., 1.)];
        let e = area_from_geojson(&polygon_of(&[SQUARE, hole])).unwrap_err();
        assert_eq!(
            e.reason,
            "polygon at index 0 is invalid: exterior ring and interior ring at index 0 intersect on a line"
        );
        assert_eq!(e.path, "coordinates[0]");
    }

    #[test]
    fn many_collinear_vertices_and_vertical_edges_are_fine() {
        let mut ring: Vec<(f64, f64)> = Vec::new();
        for i in 0..10 {
            ring.push((f64::from(i), 0.));
        }
        for i in 0..10 {
            ring.push((10., f64::from(i)));
        }
        for i in 0..10 {
            ring.push((f64::from(10 - i), 10.));
        }
        for i in 0..10 {
            ring.push((0., f64::from(10 - i)));
        }
        ring.push((0., 0.));
        let hole: &[(f64, f64)] = &[(5., 2.), (5., 5.), (5., 8.), (3., 5.), (5., 2.)];
        assert!(area_from_geojson(&polygon_of(&[&ring, hole])).is_ok());
    }

    #[test]
    fn a_hole_may_touch_its_exterior_at_one_point() {
        // At a vertex of the hole lying inside an edge of the exterior.
        let hole: &[(f64, f64)] = &[(2., 0.), (3., 2.), (1., 2.), (2., 0.)];
        assert!(area_from_geojson(&polygon_of(&[SQUARE, hole])).is_ok());
        // At a vertex of both.
        let hole: &[(f64, f64)] = &[(0., 0.), (2., 1.), (1., 2.), (0., 0.)];
        assert!(area_from_geojson(&polygon_of(&[SQUARE, hole])).is_ok());
        // Two holes touching each other at a point.
        let a: &[(f64, f64)] = &[(1., 1.), (2., 2.), (1., 3.), (1., 1.)];
        let b: &[(f64, f64)] = &[(2., 2.), (3., 1.), (3., 3.), (2., 2.)];
        assert!(area_from_geojson(&polygon_of(&[SQUARE, a, b])).is_ok());
    }

    #[test]
    fn a_hole_crossing_or_outside_its_exterior_is_refused() {
        let crossing: &[(f64, f64)] = &[(2., 2.), (6., 2.), (6., 3.), (2., 3.), (2., 2.)];
        let e = area_from_geojson(&polygon_of(&[SQUARE, crossing])).unwrap_err();
        assert_eq!(e.kind, "invalid");
        assert_eq!(
            e.reason,
            "polygon at index 0 is invalid: interior ring at index 0 is not contained within the polygon's exterior"
        );
        assert_eq!(e.path, "coordinates[0]");
        assert_eq!(e.at, Some([4.0, 2.0]));
        // Touching the exterior from outside at a point is outside.
        let outside: &[(f64, f64)] = &[(4., 2.), (6., 1.), (6., 3.), (4., 2.)];
        let e = area_from_geojson(&polygon_of(&[SQUARE, outside])).unwrap_err();
        assert!(e.reason.contains("not contained"), "{e:?}");
        // A hole inside another hole.
        let big: &[(f64, f64)] = &[(1., 1.), (3., 1.), (3., 3.), (1., 3.), (1., 1.)];
        let small: &[(f64, f64)] = &[(1.5, 1.5), (2.5, 1.5), (2., 2.5), (1.5, 1.5)];
        let e = area_from_geojson(&polygon_of(&[SQUARE, big, small])).unwrap_err();
        assert_eq!(
            e.reason,
            "polygon at index 0 is invalid: interior ring at index 0 and interior ring at index 1 intersect on an area"
        );
    }

    #[test]
    fn parts_may_touch_at_a_point_but_not_overlap() {
        let corner: &[(f64, f64)] = &[(4., 4.), (6., 4.), (6., 6.), (4., 4.)];
        assert!(area_from_geojson(&multi_of(&[&[SQUARE], &[corner]])).is_ok());
        let on_edge: &[(f64, f64)] = &[(4., 2.), (6., 1.), (6., 3.), (4., 2.)];
        assert!(area_from_geojson(&multi_of(&[&[SQUARE], &[on_edge]])).is_ok());
        // A part wholly inside another, no contact.
        let inner: &[(f64, f64)] = &[(1., 1.), (2., 1.), (2., 2.), (1., 1.)];
        let e = area_from_geojson(&multi_of(&[&[SQUARE], &[inner]])).unwrap_err();
        assert_eq!(e.reason, "polygons at indices 0 and 1 overlap");
        assert_eq!(e.path, "coordinates");
        // ... unless it is an island in a hole of the other.
        let lake: &[(f64, f64)] = &[(0.5, 0.5), (3., 0.5), (3., 3.), (0.5, 3.), (0.5, 0.5)];
        assert!(area_from_geojson(&multi_of(&[&[SQUARE, lake], &[inner]])).is_ok());
        // Crossing parts.
        let across: &[(f64, f64)] = &[(3., 3.), (5., 3.), (5., 5.), (3., 5.), (3., 3.)];
        let e = area_from_geojson(&multi_of(&[&[SQUARE], &[across]])).unwrap_err();
        assert_eq!(e.reason, "polygons at indices 0 and 1 overlap");
    }

    #[test]
    fn too_many_vertices_or_rings_are_refused_before_any_work() {
        let g = polygon_of(&[SQUARE]);
        let small = ShapeLimits {
            max_vertices: 4,
            max_rings: 10,
        };
        let e = read_area(&g, &small).unwrap_err();
        let AreaError::Shape(e) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (e.kind, e.path.as_str()),
            ("too_many_vertices", "coordinates")
        );
        assert!(e.reason.contains("at most 4 positions"), "{}", e.reason);
        let one_ring = ShapeLimits {
            max_vertices: 100,
            max_rings: 1,
        };
        let holed = polygon_of(&[SQUARE, &[(1., 1.), (2., 1.), (2., 2.), (1., 1.)]]);
        let e = read_area(&holed, &one_ring).unwrap_err();
        assert!(matches!(
            e,
            AreaError::Shape(ShapeError {
                kind: "too_many_rings",
                ..
            })
        ));
        assert_eq!(vertex_count(&holed), 9);
    }

    /// A ring of `n` positions around (105.7, 32.4): a circle, or a star whose every other
    /// point is pulled in.
    pub(crate) fn big_ring(n: usize, spiky: bool) -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = if spiky && i % 2 == 1 { 0.004 } else { 0.01 };
                (105.7 + r * t.cos(), 32.4 + r * t.sin())
            })
            .collect();
        v.push(v[0]);
        v
    }

    #[test]
    fn a_large_ring_is_checked_and_its_one_crossing_found() {
        assert!(area_from_geojson(&polygon_of(&[&big_ring(20_000, true)])).is_ok());
        // Swapping two neighbouring positions of a circle makes the chords from 12000 and
        // from 12002 cross.
        let mut bad = big_ring(20_000, false);
        bad.swap(12_001, 12_002);
        let e = area_from_geojson(&polygon_of(&[&bad])).unwrap_err();
        assert_eq!(e.kind, "self_intersection");
        assert_eq!(e.path, "coordinates[0][12002]");
        let at = e.at.expect("a crossing point");
        assert!((at[0] - bad[12_001].0).abs() < 1e-5 && (at[1] - bad[12_001].1).abs() < 1e-5);
    }

    #[test]
    fn positions_repeated_in_the_input_keep_their_index() {
        // The bow tie of `refuses_a_bow_tie_and_says_where`, with the first corner twice.
        let g = gj(r#"{"type":"Polygon","coordinates":[[[0,0],[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#);
        let e = area_from_geojson(&g).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.at),
            ("coordinates[0][3]", Some([0.5, 0.5]))
        );
    }

    /// The checks this module made before the sweep (an R-tree of segments, then `geo`'s
    /// validation), as the reference the sweep must agree with.
    mod reference {
        use geo::algorithm::Validation;
        use geo::{Coord, LineString, MultiPolygon, Polygon};
        use rstar::{RTree, RTreeObject, AABB};

        #[derive(Clone, Copy)]
        struct Seg {
            i: usize,
            a: Coord<f64>,
            b: Coord<f64>,
        }

        impl RTreeObject for Seg {
            type Envelope = AABB<[f64; 2]>;
            fn envelope(&self) -> Self::Envelope {
                AABB::from_corners([self.a.x, self.a.y], [self.b.x, self.b.y])
            }
        }

        pub fn self_crossing(ring: &[Coord<f64>]) -> Option<(usize, Coord<f64>)> {
            let mut pts: Vec<Coord<f64>> = ring.to_vec();
            pts.dedup();
            let n = pts.len() - 1;
            let segs: Vec<Seg> = (0..n)
                .map(|i| Seg {
                    i,
                    a: pts[i],
                    b: pts[i + 1],
                })
                .collect();
            let tree = RTree::bulk_load(segs.clone());
            let mut found: Option<(usize, Coord<f64>)> = None;
            for s in &segs {
                for t in tree.locate_in_envelope_intersecting(&s.envelope()) {
                    if t.i <= s.i {
                        continue;
                    }
                    let adjacent = t.i == s.i + 1 || (s.i == 0 && t.i == n - 1);
                    if let Some(p) = segment_touch(s, t, adjacent) {
                        let cand = (t.i.max(s.i), p);
                        if found.is_none_or(|f| cand.0 < f.0) {
                            found = Some(cand);
                        }
                    }
                }
            }
            found
        }

        fn segment_touch(s: &Seg, t: &Seg, adjacent: bool) -> Option<Coord<f64>> {
            let o1 = orient(s.a, s.b, t.a);
            let o2 = orient(s.a, s.b, t.b);
            let o3 = orient(t.a, t.b, s.a);
            let o4 = orient(t.a, t.b, s.b);
            if adjacent {
                let shared = if s.b == t.a { s.b } else { s.a };
                let (p, q) = if s.b == t.a { (s.a, t.b) } else { (s.b, t.a) };
                if orient(p, shared, q) == 0.0 {
                    let d1 = (p.x - shared.x, p.y - shared.y);
                    let d2 = (q.x - shared.x, q.y - shared.y);
                    if d1.0 * d2.0 + d1.1 * d2.1 > 0.0 {
                        return Some(shared);
                    }
                }
                return None;
            }
            if o1 * o2 < 0.0 && o3 * o4 < 0.0 {
                return Some(s.a);
            }
            for (o, p, seg) in [(o1, t.a, s), (o2, t.b, s), (o3, s.a, t), (o4, s.b, t)] {
                if o == 0.0 && on_segment(seg.a, seg.b, p) {
                    return Some(p);
                }
            }
            None
        }

        fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
            let v = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
            if v == 0.0 {
                0.0
            } else {
                v.signum()
            }
        }

        fn on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> bool {
            p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
        }

        /// The old verdict on rings that each passed the old ring checks.
        pub fn area_is_valid(parts: &[Vec<Vec<Coord<f64>>>]) -> bool {
            let mp = MultiPolygon(
                parts
                    .iter()
                    .map(|rings| {
                        let mut rs: Vec<LineString<f64>> =
                            rings.iter().map(|r| LineString(r.clone())).collect();
                        let ext = rs.remove(0);
                        Polygon::new(ext, rs)
                    })
                    .collect(),
            );
            mp.check_validation().is_ok()
        }
    }

    /// Small random rings on a 5 × 5 lattice: shared vertices, collinear edges and
    /// touching rings are the rule rather than the exception.
    struct Lattice(u64);

    impl Lattice {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn ring(&mut self) -> Vec<Coord<f64>> {
            let k = 3 + self.next(4) as usize;
            let mut r: Vec<Coord<f64>> = (0..k)
                .map(|_| Coord {
                    x: self.next(5) as f64,
                    y: self.next(5) as f64,
                })
                .collect();
            r.push(r[0]);
            r
        }
        /// A ring that the ring checks accept.
        fn simple_ring(&mut self) -> Vec<Coord<f64>> {
            loop {
                let r = self.ring();
                let mut d = r.clone();
                d.dedup();
                if d.len() >= 4 && reference::self_crossing(&r).is_none() {
                    return r;
                }
            }
        }
    }

    fn rings_json(rings: &[Vec<Coord<f64>>]) -> String {
        let rs: Vec<String> = rings
            .iter()
            .map(|r| {
                let pts: Vec<String> = r.iter().map(|c| format!("[{},{}]", c.x, c.y)).collect();
                format!("[{}]", pts.join(","))
            })
            .collect();
        format!("[{}]", rs.join(","))
    }

    #[test]
    fn the_sweep_agrees_with_the_old_checks_on_random_rings() {
        let mut rng = Lattice(0x9e37_79b9_7f4a_7c15);
        let mut refused = 0;
        for _ in 0..10_000 {
            let r = rng.ring();
            let mut d = r.clone();
            d.dedup();
            if d.len() < 4 {
                continue;
            }
            let old = reference::self_crossing(&r).is_some();
            let new = Sweep::new(&[&d])
                .self_contact()
                .expect("no deadline")
                .is_some();
            assert_eq!(old, new, "ring {r:?}");
            refused += usize::from(new);
        }
        assert!(refused > 500, "the sample must hold many faulty rings");
    }

    #[test]
    fn the_sweep_agrees_with_the_old_checks_on_random_shapes() {
        let mut rng = Lattice(0x2545_f491_4f6c_dd1d);
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..5_000 {
            // A polygon with a hole or two, or two or three parts (some with a hole).
            let parts: Vec<Vec<Vec<Coord<f64>>>> = if case % 2 == 0 {
                let holes = 1 + rng.next(2) as usize;
                vec![(0..=holes).map(|_| rng.simple_ring()).collect()]
            } else {
                (0..2 + rng.next(2))
                    .map(|_| {
                        let holes = usize::from(rng.next(4) == 0);
                        (0..=holes).map(|_| rng.simple_ring()).collect()
                    })
                    .collect()
            };
            let old = reference::area_is_valid(&parts);
            let json: Vec<String> = parts.iter().map(|p| rings_json(p)).collect();
            let g = gj(&format!(
                r#"{{"type":"MultiPolygon","coordinates":[{}]}}"#,
                json.join(",")
            ));
            let new = area_from_geojson(&g);
            assert_eq!(old, new.is_ok(), "{}: {new:?}", json.join(", "));
            if old {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid > 100 && invalid > 1_000,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// Times the sweep against the old checks on large rings:
    /// `cargo test --release --lib shape::tests::timing -- --ignored --nocapture`
    /// (`WANGGE_TIMING_OLD_MAX=60000` times the old checks up to that size; they are
    /// quadratic, so the default stops at 20,000).
    #[test]
    #[ignore]
    fn timing() {
        use geo::algorithm::Validation;
        use std::time::Instant;
        let old_max: usize = std::env::var("WANGGE_TIMING_OLD_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        for spiky in [false, true] {
            for n in [10_000, 20_000, 40_000, 60_000, 80_000, 200_000] {
                let ring = big_ring(n, spiky);
                let g = polygon_of(&[&ring]);
                let t = Instant::now();
                assert!(area_from_geojson(&g).is_ok());
                let new = t.elapsed();
                let old = (n <= old_max).then(|| {
                    let coords: Vec<Coord<f64>> =
                        ring.iter().map(|&(x, y)| Coord { x, y }).collect();
                    let t = Instant::now();
                    assert!(reference::self_crossing(&coords).is_none());
                    let mp = MultiPolygon(vec![Polygon::new(LineString(coords), vec![])]);
                    assert!(mp.check_validation().is_ok());
                    t.elapsed()
                });
                eprintln!(
                    "{} ring of {n} positions: sweep {new:?}, old checks {old:?}",
                    if spiky { "star" } else { "circle" }
                );
            }
        }
    }
}
