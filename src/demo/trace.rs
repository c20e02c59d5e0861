//! Outlines of unions of lattice faces, traced from the faces' own edges.
//!
//! Owns the one rule that keeps shared boundaries exact: a region's rings are made of the very
//! node ids of its faces, never of computed intersection points. It must not do float boolean
//! operations.

use std::collections::BTreeMap;

use super::geom::{in_ring, signed_area2, Pt};

/// A polygon as node ids: exterior counter-clockwise, holes clockwise, rings open.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodePolygon {
    /// Exterior ring, counter-clockwise, first node not repeated.
    pub exterior: Vec<usize>,
    /// Interior rings (holes), clockwise, first node not repeated.
    pub holes: Vec<Vec<usize>>,
}

/// Traces the boundary of the union of `faces` (each a counter-clockwise cycle of node ids).
///
/// Faces of one union must not overlap; they may touch at single nodes. Where the union touches
/// itself at a node, the ring keeps following the same outside area (so a hole touching the
/// exterior at a node stays a separate hole, as OGC validity wants); a ring that then visits a
/// node twice joins two parts meeting at a point and is cut there into two polygons.
pub(crate) fn trace<'a>(
    faces: impl IntoIterator<Item = &'a [usize]>,
    coords: &[Pt],
) -> Vec<NodePolygon> {
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for f in faces {
        let n = f.len();
        for k in 0..n {
            edges.push((f[k], f[(k + 1) % n]));
        }
    }
    edges.sort_unstable();
    let boundary: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| edges.binary_search(&(b, a)).is_err())
        .collect();
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(a, b) in &boundary {
        out.entry(a).or_default().push(b);
    }
    let mut used = vec![false; boundary.len()];
    let index = |e: (usize, usize)| {
        boundary
            .binary_search(&e)
            .expect("next edge is a boundary edge by construction")
    };

    let mut rings: Vec<Vec<usize>> = Vec::new();
    for s in 0..boundary.len() {
        if used[s] {
            continue;
        }
        let start = boundary[s];
        used[s] = true;
        let mut ring = vec![start.0];
        let mut cur = start;
        loop {
            let v = cur.1;
            let cands = &out[&v];
            let next_node = if cands.len() == 1 {
                cands[0]
            } else {
                // First outgoing edge counter-clockwise from the way back: the ring goes on
                // around the outside sector it came along.
                let back = (coords[cur.0].y - coords[v].y).atan2(coords[cur.0].x - coords[v].x);
                let tau = std::f64::consts::TAU;
                *cands
                    .iter()
                    .min_by(|&&a, &&b| {
                        let ang = |w: usize| {
                            let aw = (coords[w].y - coords[v].y).atan2(coords[w].x - coords[v].x);
                            let ccw = (aw - back).rem_euclid(tau);
                            if ccw == 0.0 {
                                tau
                            } else {
                                ccw
                            }
                        };
                        ang(a).total_cmp(&ang(b)).then(a.cmp(&b))
                    })
                    .expect("a boundary node has an outgoing boundary edge")
            };
            let next = (v, next_node);
            if next == start {
                break;
            }
            let i = index(next);
            assert!(!used[i], "ring tracing revisited an edge: faces overlap");
            used[i] = true;
            ring.push(v);
            cur = next;
        }
        split_at_repeats(ring, &mut rings);
    }

    let pts = |r: &[usize]| r.iter().map(|&i| coords[i]).collect::<Vec<Pt>>();
    let mut polys: Vec<NodePolygon> = Vec::new();
    let mut holes: Vec<Vec<usize>> = Vec::new();
    for r in rings {
        if signed_area2(&pts(&r)) > 0.0 {
            polys.push(NodePolygon {
                exterior: r,
                holes: Vec::new(),
            });
        } else {
            holes.push(r);
        }
    }
    for h in holes {
        let target = if polys.len() == 1 {
            0
        } else {
            // A point just inside the hole (to the right of its first edge) picks its exterior.
            let a = coords[h[0]];
            let b = coords[h[1 % h.len()]];
            let len = (b.x - a.x).hypot(b.y - a.y);
            let p = Pt {
                x: (a.x + b.x) / 2.0 + (b.y - a.y) / len * 0.01,
                y: (a.y + b.y) / 2.0 - (b.x - a.x) / len * 0.01,
            };
            polys
                .iter()
                .enumerate()
                .filter(|(_, pg)| in_ring(&pts(&pg.exterior), p))
                .min_by(|(_, x), (_, y)| {
                    signed_area2(&pts(&x.exterior)).total_cmp(&signed_area2(&pts(&y.exterior)))
                })
                .map(|(i, _)| i)
                .expect("a hole lies inside some exterior ring")
        };
        polys[target].holes.push(h);
    }
    polys
}

/// Cuts a ring that visits a node twice (two parts touching at a point) into simple rings.
fn split_at_repeats(ring: Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for (j, &v) in ring.iter().enumerate() {
        if let Some(&i) = seen.get(&v) {
            let inner: Vec<usize> = ring[i..j].to_vec();
            let outer: Vec<usize> = ring[..i].iter().chain(&ring[j..]).copied().collect();
            split_at_repeats(inner, out);
            split_at_repeats(outer, out);
            return;
        }
        seen.insert(v, j);
    }
    out.push(ring);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Traces the unit-square cells `(i, j)` of a `w` x `h` grid for which `filled`
    /// holds; returns the grid's nodes and the polygons.
    fn traced(
        w: usize,
        h: usize,
        filled: impl Fn(usize, usize) -> bool,
    ) -> (Vec<Pt>, Vec<NodePolygon>) {
        let nodes: Vec<Pt> = (0..=h)
            .flat_map(|j| (0..=w).map(move |i| (i, j)))
            .map(|(i, j)| Pt {
                x: i as f64,
                y: j as f64,
            })
            .collect();
        let id = |i: usize, j: usize| j * (w + 1) + i;
        let cells: Vec<Vec<usize>> = (0..h)
            .flat_map(|j| (0..w).map(move |i| (i, j)))
            .filter(|&(i, j)| filled(i, j))
            .map(|(i, j)| vec![id(i, j), id(i + 1, j), id(i + 1, j + 1), id(i, j + 1)])
            .collect();
        let polygons = trace(cells.iter().map(Vec::as_slice), &nodes);
        (nodes, polygons)
    }

    #[test]
    fn two_cells_make_one_ring_of_six_nodes() {
        let (_, p) = traced(2, 1, |_, _| true);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].exterior.len(), 6);
        assert!(p[0].holes.is_empty());
    }

    #[test]
    fn ring_of_cells_has_a_clockwise_hole() {
        let (c, p) = traced(3, 3, |i, j| (i, j) != (1, 1));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].holes.len(), 1);
        let hole: Vec<Pt> = p[0].holes[0].iter().map(|&i| c[i]).collect();
        assert!(signed_area2(&hole) < 0.0);
    }

    #[test]
    fn diagonal_touch_gives_two_simple_polygons() {
        let (_, p) = traced(2, 2, |i, j| i == j);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|pg| pg.exterior.len() == 4));
    }

    #[test]
    fn hole_touching_exterior_at_a_node_stays_a_hole() {
        // 3x3 minus the centre and minus the top-right corner: the centre hole touches the
        // notch at node (2,2).
        let (c, p) = traced(3, 3, |i, j| (i, j) != (1, 1) && (i, j) != (2, 2));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].holes.len(), 1);
        assert_eq!(p[0].holes[0].len(), 4);
        let poly = geo::Polygon::new(
            p[0].exterior.iter().map(|&i| c[i]).collect(),
            vec![p[0].holes[0].iter().map(|&i| c[i]).collect()],
        );
        use geo::algorithm::Validation;
        assert!(poly.is_valid(), "{:?}", poly.validation_errors());
    }
}
