//! Planar geometry kernels for tile encoding, on plain `(f64, f64)` points in tile pixel
//! space: rectangle clipping (Sutherland–Hodgman for rings, Liang–Barsky for lines) and
//! Douglas–Peucker simplification.
//!
//! Owns only these algorithms; it must not project, quantize or know about MVT. Output
//! buffers are passed in so the encoder can reuse allocations between features.

/// A point in tile pixel space (x right, y down).
pub type Pt = (f64, f64);

/// An axis-aligned clip rectangle in tile pixel space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipRect {
    /// Left edge.
    pub min_x: f64,
    /// Top edge.
    pub min_y: f64,
    /// Right edge.
    pub max_x: f64,
    /// Bottom edge.
    pub max_y: f64,
}

impl ClipRect {
    /// True when `p` lies inside or on the rectangle.
    pub fn contains(&self, p: Pt) -> bool {
        p.0 >= self.min_x && p.0 <= self.max_x && p.1 >= self.min_y && p.1 <= self.max_y
    }
}

/// Bounding box of `pts` as `(min_x, min_y, max_x, max_y)`; infinite when empty.
pub fn bbox(pts: &[Pt]) -> (f64, f64, f64, f64) {
    pts.iter().fold(
        (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), p| (a.min(p.0), b.min(p.1), c.max(p.0), d.max(p.1)),
    )
}

#[derive(Clone, Copy)]
enum Edge {
    Left(f64),
    Right(f64),
    Top(f64),
    Bottom(f64),
}

impl Edge {
    fn inside(self, p: Pt) -> bool {
        match self {
            Edge::Left(v) => p.0 >= v,
            Edge::Right(v) => p.0 <= v,
            Edge::Top(v) => p.1 >= v,
            Edge::Bottom(v) => p.1 <= v,
        }
    }

    fn intersect(self, a: Pt, b: Pt) -> Pt {
        match self {
            Edge::Left(v) | Edge::Right(v) => {
                let t = (v - a.0) / (b.0 - a.0);
                (v, a.1 + t * (b.1 - a.1))
            }
            Edge::Top(v) | Edge::Bottom(v) => {
                let t = (v - a.1) / (b.1 - a.1);
                (a.0 + t * (b.0 - a.0), v)
            }
        }
    }
}

/// Clips a ring (no repeated closing point) to `rect` with Sutherland–Hodgman, in place.
///
/// Concave rings that leave and re-enter the rectangle come back as one ring with
/// zero-width "bridges" along the border; renderers fill them identically, and the MVT
/// spec accepts them. `scratch` is reused between calls.
pub fn clip_ring(ring: &mut Vec<Pt>, rect: &ClipRect, scratch: &mut Vec<Pt>) {
    let edges = [
        Edge::Left(rect.min_x),
        Edge::Right(rect.max_x),
        Edge::Top(rect.min_y),
        Edge::Bottom(rect.max_y),
    ];
    for edge in edges {
        if ring.is_empty() {
            return;
        }
        scratch.clear();
        let mut prev = ring[ring.len() - 1];
        let mut prev_in = edge.inside(prev);
        for &cur in ring.iter() {
            let cur_in = edge.inside(cur);
            if cur_in {
                if !prev_in {
                    scratch.push(edge.intersect(prev, cur));
                }
                scratch.push(cur);
            } else if prev_in {
                scratch.push(edge.intersect(prev, cur));
            }
            prev = cur;
            prev_in = cur_in;
        }
        std::mem::swap(ring, scratch);
    }
}

/// Clips a polyline to `rect` with Liang–Barsky, appending each inside run to `out` as a
/// separate part.
pub fn clip_line(line: &[Pt], rect: &ClipRect, out: &mut Vec<Vec<Pt>>) {
    let mut current: Vec<Pt> = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        match clip_segment(a, b, rect) {
            Some((p, q)) => {
                if current.last() != Some(&p) {
                    if current.len() >= 2 {
                        out.push(std::mem::take(&mut current));
                    } else {
                        current.clear();
                    }
                    current.push(p);
                }
                current.push(q);
                if q != b {
                    // The segment leaves the rectangle: the run ends here.
                    if current.len() >= 2 {
                        out.push(std::mem::take(&mut current));
                    } else {
                        current.clear();
                    }
                }
            }
            None => {
                if current.len() >= 2 {
                    out.push(std::mem::take(&mut current));
                } else {
                    current.clear();
                }
            }
        }
    }
    if current.len() >= 2 {
        out.push(current);
    }
}

/// Liang–Barsky: the part of segment `a→b` inside `rect`, if any.
fn clip_segment(a: Pt, b: Pt, rect: &ClipRect) -> Option<(Pt, Pt)> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    let checks = [
        (-dx, a.0 - rect.min_x),
        (dx, rect.max_x - a.0),
        (-dy, a.1 - rect.min_y),
        (dy, rect.max_y - a.1),
    ];
    for (p, q) in checks {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    let start = if t0 > 0.0 {
        (a.0 + t0 * dx, a.1 + t0 * dy)
    } else {
        a
    };
    let end = if t1 < 1.0 {
        (a.0 + t1 * dx, a.1 + t1 * dy)
    } else {
        b
    };
    Some((start, end))
}

/// Douglas–Peucker simplification of an open polyline, in place; the end points are kept.
///
/// Distances are to the segment (not the infinite line), so spikes and closed rings are
/// handled. For a ring, pass it with its first point repeated at the end. `keep` and
/// `stack` are scratch buffers reused between calls.
pub fn simplify(
    pts: &mut Vec<Pt>,
    tolerance: f64,
    keep: &mut Vec<bool>,
    stack: &mut Vec<(usize, usize)>,
) {
    let n = pts.len();
    if n <= 2 || tolerance <= 0.0 {
        return;
    }
    let tol2 = tolerance * tolerance;
    keep.clear();
    keep.resize(n, false);
    keep[0] = true;
    keep[n - 1] = true;
    stack.clear();
    stack.push((0, n - 1));
    let mut kept = 2;
    while let Some((first, last)) = stack.pop() {
        let (a, b) = (pts[first], pts[last]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let inv = if len2 > 0.0 { 1.0 / len2 } else { 0.0 };
        let (mut best, mut best_d) = (0, tol2);
        for (off, p) in pts[first + 1..last].iter().enumerate() {
            let (px, py) = (p.0 - a.0, p.1 - a.1);
            // inv == 0 (degenerate segment) makes t 0: plain distance to `a`.
            let t = ((px * dx + py * dy) * inv).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = ex * ex + ey * ey;
            if d > best_d {
                best = first + 1 + off;
                best_d = d;
            }
        }
        if best != 0 {
            keep[best] = true;
            kept += 1;
            if best - first > 1 {
                stack.push((first, best));
            }
            if last - best > 1 {
                stack.push((best, last));
            }
        }
    }
    if kept == n {
        return;
    }
    let mut i = 0;
    pts.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: ClipRect = ClipRect {
        min_x: 0.0,
        min_y: 0.0,
        max_x: 10.0,
        max_y: 10.0,
    };

    fn area(r: &[Pt]) -> f64 {
        let mut s = 0.0;
        for i in 0..r.len() {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            s += a.0 * b.1 - b.0 * a.1;
        }
        s / 2.0
    }

    #[test]
    fn ring_clip_keeps_inside_area() {
        let mut ring = vec![(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)];
        let mut scratch = Vec::new();
        clip_ring(&mut ring, &R, &mut scratch);
        assert!((area(&ring).abs() - 25.0).abs() < 1e-9, "{ring:?}");
        let mut outside = vec![(20.0, 20.0), (30.0, 20.0), (30.0, 30.0)];
        clip_ring(&mut outside, &R, &mut scratch);
        assert!(outside.is_empty());
    }

    #[test]
    fn line_clip_splits_into_parts() {
        // Goes in, out above, and in again.
        let line = [
            (-1.0, 5.0),
            (5.0, 5.0),
            (5.0, 15.0),
            (7.0, 15.0),
            (7.0, 5.0),
        ];
        let mut out = Vec::new();
        clip_line(&line, &R, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0], vec![(0.0, 5.0), (5.0, 5.0), (5.0, 10.0)]);
        assert_eq!(out[1], vec![(7.0, 10.0), (7.0, 5.0)]);
        let mut none = Vec::new();
        clip_line(&[(f64::NAN, 1.0), (2.0, 2.0)], &R, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn simplify_drops_near_collinear_points() {
        let mut pts = vec![(0.0, 0.0), (1.0, 0.1), (2.0, -0.1), (3.0, 5.0), (4.0, 0.0)];
        let (mut k, mut s) = (Vec::new(), Vec::new());
        simplify(&mut pts, 0.5, &mut k, &mut s);
        assert_eq!(pts, vec![(0.0, 0.0), (2.0, -0.1), (3.0, 5.0), (4.0, 0.0)]);
    }
}
