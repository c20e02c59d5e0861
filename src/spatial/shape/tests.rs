//! Tests of shape reading: what is accepted, what is refused and where it is reported,
//! size limits, and the sweep checked against the earlier pairwise checks on random shapes.

use super::sweep::Sweep;
use super::*;
use geo::Polygon;

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
                let coords: Vec<Coord<f64>> = ring.iter().map(|&(x, y)| Coord { x, y }).collect();
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
