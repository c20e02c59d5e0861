//! Turning client GeoJSON geometries into `geo` shapes, and saying exactly what is wrong
//! with the ones that cannot be accepted: wrong type, too few points, unclosed rings,
//! non-finite or out-of-range coordinates, self-intersections, overlapping parts.
//!
//! The checks run on the raw GeoJSON positions before conversion because `geo` closes
//! rings silently, which would hide an unclosed ring from the client.

use geo::algorithm::Validation;
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use geojson::{Geometry as GjGeometry, GeometryValue as Value, PointType, PolygonType};
use rstar::{RTree, RTreeObject, AABB};
use serde::Serialize;

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

/// Reads a Polygon or MultiPolygon as a valid MultiPolygon in WGS 84.
pub fn area_from_geojson(g: &GjGeometry) -> Result<MultiPolygon<f64>, ShapeError> {
    let mp = match &g.value {
        Value::Polygon { coordinates: rings } => MultiPolygon(vec![polygon(rings, "coordinates")?]),
        Value::MultiPolygon { coordinates: polys } => {
            if polys.is_empty() {
                return Err(ShapeError::new(
                    "empty",
                    "a MultiPolygon needs at least one polygon",
                    "coordinates",
                ));
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
            ))
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

fn polygon(rings: &PolygonType, path: &str) -> Result<Polygon<f64>, ShapeError> {
    if rings.is_empty() {
        return Err(ShapeError::new(
            "empty",
            "a polygon needs an exterior ring",
            path,
        ));
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
            ));
        }
        if coords.first() != coords.last() {
            let last = coords.len() - 1;
            return Err(ShapeError::new(
                "unclosed_ring",
                "a ring must end where it starts (RFC 7946 §3.1.6)",
                format!("{rpath}[{last}]"),
            )
            .at(coords[last]));
        }
        let mut distinct = coords.clone();
        distinct.dedup();
        if distinct.len() < 4 {
            return Err(ShapeError::new(
                "too_few_points",
                "a ring needs at least 3 distinct corners",
                rpath,
            ));
        }
        if let Some((i, at)) = self_crossing(&coords) {
            return Err(ShapeError::new(
                "self_intersection",
                format!("ring {r} crosses itself near position {i}"),
                format!("{rpath}[{i}]"),
            )
            .at(at));
        }
        out.push(LineString(coords));
    }
    let exterior = out.remove(0);
    Ok(Polygon::new(exterior, out))
}

/// Checks what only whole shapes can show: holes outside their shell, rings touching along
/// a line, parts of a MultiPolygon overlapping each other.
fn check_area(mp: &MultiPolygon<f64>) -> Result<(), ShapeError> {
    if let Err(e) = mp.check_validation() {
        let path = match &e {
            geo::algorithm::validation::InvalidMultiPolygon::InvalidPolygon(idx, _) => {
                format!("coordinates[{}]", idx.0)
            }
            _ => "coordinates".to_string(),
        };
        return Err(ShapeError::new("invalid", e.to_string(), path));
    }
    Ok(())
}

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

/// Finds the first place where a closed ring touches or crosses itself, other than at the
/// shared end of consecutive segments: returns the index of the later segment and the point.
fn self_crossing(ring: &[Coord<f64>]) -> Option<(usize, Coord<f64>)> {
    let mut pts: Vec<Coord<f64>> = ring.to_vec();
    pts.dedup();
    let n = pts.len() - 1; // segments
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

/// Where two segments meet in a way a simple ring forbids. Adjacent segments may only
/// share their common end point; any other contact is a fault.
fn segment_touch(s: &Seg, t: &Seg, adjacent: bool) -> Option<Coord<f64>> {
    let o1 = orient(s.a, s.b, t.a);
    let o2 = orient(s.a, s.b, t.b);
    let o3 = orient(t.a, t.b, s.a);
    let o4 = orient(t.a, t.b, s.b);
    if adjacent {
        // Consecutive segments fold back on each other only if collinear and overlapping.
        let shared = if s.b == t.a { s.b } else { s.a };
        let (p, q) = if s.b == t.a { (s.a, t.b) } else { (s.b, t.a) };
        if orient(p, shared, q) == 0.0 {
            let d1 = Coord {
                x: p.x - shared.x,
                y: p.y - shared.y,
            };
            let d2 = Coord {
                x: q.x - shared.x,
                y: q.y - shared.y,
            };
            if d1.x * d2.x + d1.y * d2.y > 0.0 {
                return Some(shared);
            }
        }
        return None;
    }
    if o1 * o2 < 0.0 && o3 * o4 < 0.0 {
        let denom = (s.b.x - s.a.x) * (t.b.y - t.a.y) - (s.b.y - s.a.y) * (t.b.x - t.a.x);
        let u = ((t.a.x - s.a.x) * (t.b.y - t.a.y) - (t.a.y - s.a.y) * (t.b.x - t.a.x)) / denom;
        return Some(Coord {
            x: s.a.x + u * (s.b.x - s.a.x),
            y: s.a.y + u * (s.b.y - s.a.y),
        });
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
}
