//! Checks of whole areas: each ring closed, long enough and simple, holes inside their
//! shell and not inside each other, no rings crossing or sharing a stretch of boundary,
//! and parts of a MultiPolygon not overlapping; faults reported as `geo`'s validation
//! reports them.

use super::sweep::{Meeting, Sweep};
use super::{position, AreaError, ShapeError};
use crate::work::Expired;
use geo::algorithm::validation::{GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use geojson::PolygonType;

/// Reads one polygon's rings (at `path`) and checks each ring on its own.
pub(super) fn polygon(rings: &PolygonType, path: &str) -> Result<Polygon<f64>, AreaError> {
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
pub(super) fn check_area(mp: &MultiPolygon<f64>) -> Result<(), AreaError> {
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
