//! Planar geometry in local metres for the generator: areas, convex insets, point tests.
//!
//! Owns small exact-enough helpers on `geo::Coord`; it must not round or project coordinates
//! (that happens once, in `output`).

use geo::Coord;

/// A point in local metres (x east, y north) relative to the tile origin.
pub(crate) type Pt = Coord<f64>;

/// Twice the signed area of an open ring (positive when counter-clockwise).
pub(crate) fn signed_area2(ring: &[Pt]) -> f64 {
    let n = ring.len();
    let mut s = 0.0;
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        s += a.x * b.y - b.x * a.y;
    }
    s
}

/// Cross product of (a - o) and (b - o).
pub(crate) fn cross(o: Pt, a: Pt, b: Pt) -> f64 {
    (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
}

/// Euclidean distance.
pub(crate) fn dist(a: Pt, b: Pt) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// Rotates `p` by `ang` radians (counter-clockwise) about the origin.
pub(crate) fn rotate(p: Pt, ang: f64) -> Pt {
    let (s, c) = ang.sin_cos();
    Pt {
        x: p.x * c - p.y * s,
        y: p.x * s + p.y * c,
    }
}

/// Moves every edge of a convex counter-clockwise open ring inwards by `d`.
///
/// Returns `None` when the polygon is too small for the inset (an edge would vanish or flip).
pub(crate) fn inset_convex(poly: &[Pt], d: f64) -> Option<Vec<Pt>> {
    let n = poly.len();
    if n < 3 {
        return None;
    }
    // Offset line i: point p_i + normal*d, direction e_i.
    let lines: Vec<(Pt, Pt)> = (0..n)
        .map(|i| {
            let a = poly[i];
            let b = poly[(i + 1) % n];
            let e = Pt {
                x: b.x - a.x,
                y: b.y - a.y,
            };
            let len = e.x.hypot(e.y);
            let nrm = Pt {
                x: -e.y / len,
                y: e.x / len,
            };
            (
                Pt {
                    x: a.x + nrm.x * d,
                    y: a.y + nrm.y * d,
                },
                e,
            )
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (p1, e1) = lines[(i + n - 1) % n];
        let (p2, e2) = lines[i];
        let den = e1.x * e2.y - e1.y * e2.x;
        if den.abs() < 1e-9 {
            return None;
        }
        let t = ((p2.x - p1.x) * e2.y - (p2.y - p1.y) * e2.x) / den;
        out.push(Pt {
            x: p1.x + e1.x * t,
            y: p1.y + e1.y * t,
        });
    }
    // Every inset edge must keep the direction of its original edge.
    for i in 0..n {
        let a = out[i];
        let b = out[(i + 1) % n];
        let e = lines[i].1;
        if (b.x - a.x) * e.x + (b.y - a.y) * e.y <= 1.0 {
            return None;
        }
    }
    if signed_area2(&out) <= 0.0 {
        return None;
    }
    Some(out)
}

/// Whether `p` lies inside the convex counter-clockwise ring, at least `eps` from every edge line.
pub(crate) fn inside_convex(poly: &[Pt], p: Pt, eps: f64) -> bool {
    let n = poly.len();
    (0..n).all(|i| {
        let a = poly[i];
        let b = poly[(i + 1) % n];
        let len = dist(a, b);
        cross(a, b, p) / len >= eps
    })
}

/// Ray-casting point-in-ring test (boundary points may go either way).
pub(crate) fn in_ring(ring: &[Pt], p: Pt) -> bool {
    let n = ring.len();
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let a = ring[i];
        let b = ring[j];
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(s: f64) -> Vec<Pt> {
        vec![
            Pt { x: 0.0, y: 0.0 },
            Pt { x: s, y: 0.0 },
            Pt { x: s, y: s },
            Pt { x: 0.0, y: s },
        ]
    }

    #[test]
    fn inset_square_shrinks_each_side() {
        let r = inset_convex(&sq(100.0), 10.0).expect("large enough");
        assert!((signed_area2(&r) / 2.0 - 80.0 * 80.0).abs() < 1e-6);
        assert!((r[0].x - 10.0).abs() < 1e-9 && (r[0].y - 10.0).abs() < 1e-9);
        assert!(inset_convex(&sq(15.0), 10.0).is_none());
    }

    #[test]
    fn inside_convex_respects_margin() {
        let s = sq(100.0);
        assert!(inside_convex(&s, Pt { x: 50.0, y: 5.0 }, 4.0));
        assert!(!inside_convex(&s, Pt { x: 50.0, y: 3.0 }, 4.0));
        assert!(in_ring(&s, Pt { x: 1.0, y: 99.0 }));
        assert!(!in_ring(&s, Pt { x: 101.0, y: 50.0 }));
    }
}
