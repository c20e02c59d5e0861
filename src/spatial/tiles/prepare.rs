//! Geometry prepared once per feature for fast tiling: projected to normalised world
//! units, reduced to its highest dimension, with every vertex's Douglas–Peucker
//! significance precomputed (as geojson-vt does), so simplifying for any zoom is a filter.
//!
//! Owns that preparation only. It must not clip, quantize or encode (see `mvt`), and must
//! not know about tiles beyond the world projection.

use geo::{Coord, Geometry, GeometryCollection, LineString, Polygon};

use super::tilemath::lonlat_to_world;

/// What a prepared geometry draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Points (every vertex is one).
    Points,
    /// Line parts.
    Lines,
    /// Polygons (rings; each exterior starts a new polygon).
    Polygons,
}

/// Flag on a `parts` entry: this path is a polygon's exterior ring.
pub(crate) const EXTERIOR: u32 = 1 << 31;

/// A feature geometry ready to tile, in two flat allocations so that rendering touches
/// few cache lines: every vertex as `[x, y, sig²]` in world units (sig² is the squared
/// distance at which Douglas–Peucker drops the vertex), and the end offset of each path
/// (a line, or a ring without its closing point), flagged with [`EXTERIOR`] for rings
/// that start a polygon.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub(crate) kind: Kind,
    pub(crate) coords: Box<[[f64; 3]]>,
    pub(crate) parts: Box<[u32]>,
}

impl Prepared {
    /// Iterates `(is_exterior, vertices)` for each path.
    pub(crate) fn paths(&self) -> impl Iterator<Item = (bool, &[[f64; 3]])> {
        let mut start = 0usize;
        self.parts.iter().map(move |&p| {
            let end = (p & !EXTERIOR) as usize;
            let path = self.coords.get(start..end).unwrap_or(&[]);
            start = end;
            (p & EXTERIOR != 0, path)
        })
    }

    /// Prepares a lon/lat geometry; `None` when it has no finite vertex. Also returns
    /// its world-unit bbox `[min_x, min_y, max_x, max_y]`.
    pub(crate) fn from_lonlat(g: &Geometry<f64>) -> Option<(Prepared, [f64; 4])> {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut world = |c: Coord<f64>| -> Option<Coord<f64>> {
            let w = lonlat_to_world(c);
            (w.x.is_finite() && w.y.is_finite()).then(|| {
                b = [b[0].min(w.x), b[1].min(w.y), b[2].max(w.x), b[3].max(w.y)];
                w
            })
        };
        let mut coords: Vec<[f64; 3]> = Vec::new();
        let mut parts: Vec<u32> = Vec::new();
        let kind = match max_dim(g)? {
            0 => {
                collect_points(g, &mut |c| {
                    if let Some(w) = world(c) {
                        coords.push([w.x, w.y, f64::INFINITY]);
                    }
                });
                parts.push(coords.len() as u32);
                Kind::Points
            }
            1 => {
                collect_lines(g, &mut |ls| {
                    let pts: Vec<Coord<f64>> = ls.0.iter().filter_map(|&c| world(c)).collect();
                    if pts.len() >= 2 {
                        push_path(&pts, false, &mut coords);
                        parts.push(coords.len() as u32);
                    }
                });
                Kind::Lines
            }
            _ => {
                collect_polygons(g, &mut |p| {
                    for (i, ring) in std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .enumerate()
                    {
                        let mut pts: Vec<Coord<f64>> =
                            ring.0.iter().filter_map(|&c| world(c)).collect();
                        if pts.len() > 1 && pts.first() == pts.last() {
                            pts.pop();
                        }
                        if pts.len() >= 3 {
                            push_path(&pts, true, &mut coords);
                            let flag = if i == 0 { EXTERIOR } else { 0 };
                            parts.push(coords.len() as u32 | flag);
                        } else if i == 0 {
                            return;
                        }
                    }
                });
                Kind::Polygons
            }
        };
        // Offsets share a word with the flag; absurdly large geometries are not tiled.
        if coords.is_empty() || coords.len() >= EXTERIOR as usize {
            return None;
        }
        let bbox = b;
        Some((
            Prepared {
                kind,
                coords: coords.into_boxed_slice(),
                parts: parts.into_boxed_slice(),
            },
            bbox,
        ))
    }
}

/// Highest topological dimension in a geometry (0 points, 1 lines, 2 areas).
pub(crate) fn max_dim(g: &Geometry<f64>) -> Option<u8> {
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => Some(0),
        Geometry::Line(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => Some(1),
        Geometry::Polygon(_)
        | Geometry::MultiPolygon(_)
        | Geometry::Rect(_)
        | Geometry::Triangle(_) => Some(2),
        Geometry::GeometryCollection(gc) => gc.0.iter().filter_map(max_dim).max(),
    }
}

/// The parts of a collection of dimension `dim` (each kind of part goes to its own layer).
fn parts_of_dim(gc: &GeometryCollection<f64>, dim: u8) -> impl Iterator<Item = &Geometry<f64>> {
    gc.0.iter().filter(move |g| max_dim(g) == Some(dim))
}

/// Calls `f` for every point of dimension-0 parts.
pub(crate) fn collect_points(g: &Geometry<f64>, f: &mut dyn FnMut(Coord<f64>)) {
    match g {
        Geometry::Point(p) => f(p.0),
        Geometry::MultiPoint(mp) => mp.0.iter().for_each(|p| f(p.0)),
        Geometry::GeometryCollection(gc) => parts_of_dim(gc, 0).for_each(|g| collect_points(g, f)),
        _ => {}
    }
}

/// Calls `f` for every line of dimension-1 parts.
pub(crate) fn collect_lines(g: &Geometry<f64>, f: &mut dyn FnMut(&LineString<f64>)) {
    match g {
        Geometry::Line(l) => f(&LineString::from(vec![l.start, l.end])),
        Geometry::LineString(ls) => f(ls),
        Geometry::MultiLineString(mls) => mls.0.iter().for_each(f),
        Geometry::GeometryCollection(gc) => parts_of_dim(gc, 1).for_each(|g| collect_lines(g, f)),
        _ => {}
    }
}

/// Calls `f` for every polygon of dimension-2 parts.
pub(crate) fn collect_polygons(g: &Geometry<f64>, f: &mut dyn FnMut(&Polygon<f64>)) {
    match g {
        Geometry::Polygon(p) => f(p),
        Geometry::MultiPolygon(mp) => mp.0.iter().for_each(f),
        Geometry::Rect(r) => f(&r.to_polygon()),
        Geometry::Triangle(t) => f(&t.to_polygon()),
        Geometry::GeometryCollection(gc) => {
            parts_of_dim(gc, 2).for_each(|g| collect_polygons(g, f));
        }
        _ => {}
    }
}

/// Appends a path with the Douglas–Peucker significance of each vertex: the squared
/// distance at which the simplification would drop it, capped by the significance of the
/// split that exposed it, so `sig > tol²` keeps exactly the vertices Douglas–Peucker
/// keeps at `tol`. Rings are treated as the polyline `p0 … pn-1 p0`, as the encoder's own
/// DP does.
fn push_path(pts: &[Coord<f64>], ring: bool, out: &mut Vec<[f64; 3]>) {
    let n = pts.len();
    let m = if ring { n + 1 } else { n };
    let at = |i: usize| pts[if i == n { 0 } else { i }];
    let mut sig = vec![0.0f64; m];
    sig[0] = f64::INFINITY;
    sig[m - 1] = f64::INFINITY;
    let mut stack = vec![(0usize, m - 1, f64::INFINITY)];
    while let Some((first, last, bound)) = stack.pop() {
        if last - first < 2 {
            continue;
        }
        let (a, b) = (at(first), at(last));
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        let inv = if len2 > 0.0 { 1.0 / len2 } else { 0.0 };
        let (mut best, mut best_d) = (0, 0.0);
        for i in first + 1..last {
            let p = at(i);
            let (px, py) = (p.x - a.x, p.y - a.y);
            let t = ((px * dx + py * dy) * inv).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = ex * ex + ey * ey;
            if d > best_d {
                best = i;
                best_d = d;
            }
        }
        if best == 0 {
            // Every inner vertex is exactly on the chord: dropped at any tolerance.
            continue;
        }
        let s = best_d.min(bound);
        sig[best] = s;
        stack.push((first, best, s));
        stack.push((best, last, s));
    }
    out.extend((0..n).map(|i| [pts[i].x, pts[i].y, sig[i]]));
}

#[cfg(test)]
mod tests {
    use super::super::clip;
    use super::*;

    #[test]
    fn significance_filter_equals_douglas_peucker() {
        // A wiggly open line and a ring, checked against the direct DP at many tolerances.
        let line: Vec<Coord<f64>> = (0..60)
            .map(|i| {
                let x = f64::from(i);
                Coord {
                    x,
                    y: (x * 0.7).sin() * 3.0 + (x * 0.13).cos() * 8.0,
                }
            })
            .collect();
        let ring: Vec<Coord<f64>> = (0..40)
            .map(|i| {
                let a = f64::from(i) / 40.0 * std::f64::consts::TAU;
                let r = 20.0 + (a * 5.0).sin() * 2.0;
                Coord {
                    x: r * a.cos(),
                    y: r * a.sin(),
                }
            })
            .collect();
        for (pts, is_ring) in [(&line, false), (&ring, true)] {
            let mut p = Vec::new();
            push_path(pts, is_ring, &mut p);
            for tol in [0.05, 0.3, 0.8, 1.0, 2.5, 6.0, 30.0] {
                let mut direct: Vec<clip::Pt> = pts.iter().map(|c| (c.x, c.y)).collect();
                if is_ring {
                    direct.push(direct[0]);
                }
                clip::simplify(&mut direct, tol, &mut Vec::new(), &mut Vec::new());
                if is_ring {
                    direct.pop();
                }
                let filtered: Vec<clip::Pt> = p
                    .iter()
                    .filter(|v| v[2] > tol * tol)
                    .map(|v| (v[0], v[1]))
                    .collect();
                assert_eq!(filtered, direct, "tolerance {tol}, ring {is_ring}");
            }
        }
    }
}
