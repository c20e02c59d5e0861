//! Geometry of patrol tracks: lengths and speeds of segments, the walked part of a track
//! (segments faster than walking or cycling are flagged and left out), the length walked
//! inside a grid, whether points lie in the zone, and how much of a grid's streets a
//! week's tracks came within a given distance of.
//!
//! Metric work happens in a local projection ([`LocalProjection`]), accurate to well under
//! 0.1% over a town. Street coverage is measured by cutting each street (clipped to the
//! grid) into pieces of at most [`STEP_M`] and testing each piece's midpoint against an
//! R-tree of track segments, so a covered stretch is right to within half a step at each
//! end; the integration tests hold it against PostGIS's `ST_Intersection`/`ST_DWithin`.
//!
//! Must not: read the database or know who may see a track.

use crate::domain::patrol::TrackPoint;
use crate::spatial::geodesy::{distance_m, LocalProjection};
use geo::{
    BooleanOps, BoundingRect, Coord, Distance, Euclidean, Intersects, Length, LineString,
    MapCoords, MultiLineString, MultiPolygon, Point, Rect,
};
use rstar::primitives::Line as RLine;
use rstar::RTree;
use serde::Serialize;

/// Longest piece a street is cut into when measuring coverage, in metres.
pub const STEP_M: f64 = 1.0;

/// A segment of a track faster than the speed limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeedFlag {
    /// Index of the segment's first point in the whole track.
    pub segment: usize,
    /// Speed in km/h; `None` when the two fixes have the same time but different places.
    pub speed_kmh: Option<f64>,
    /// Length of the segment in metres.
    pub distance_m: f64,
    /// Seconds between the two fixes.
    pub seconds: f64,
}

/// What a track measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSummary {
    /// Points in the track.
    pub points: usize,
    /// Length of the whole track in metres.
    pub length_m: f64,
    /// Length of the segments at or below the speed limit.
    pub walked_m: f64,
    /// The segments above the speed limit.
    pub flags: Vec<SpeedFlag>,
    /// Highest speed of a timed segment, in km/h.
    pub max_speed_kmh: Option<f64>,
}

/// Measures a track and flags segments faster than `limit_kmh`.
pub fn summarise(points: &[TrackPoint], limit_kmh: f64) -> TrackSummary {
    let mut s = TrackSummary {
        points: points.len(),
        length_m: 0.0,
        walked_m: 0.0,
        flags: vec![],
        max_speed_kmh: None,
    };
    for (i, w) in points.windows(2).enumerate() {
        let d = distance_m(coord(&w[0]), coord(&w[1]));
        let secs = (w[1].t - w[0].t).num_milliseconds() as f64 / 1000.0;
        s.length_m += d;
        let speed = (secs > 0.0).then(|| d / secs * 3.6);
        if let Some(v) = speed {
            s.max_speed_kmh = Some(s.max_speed_kmh.map_or(v, |m: f64| m.max(v)));
        }
        // Two fixes at the same instant a few metres apart are GPS noise, not a jump.
        let too_fast = match speed {
            Some(v) => v > limit_kmh,
            None => d > 5.0,
        };
        if too_fast {
            s.flags.push(SpeedFlag {
                segment: i,
                speed_kmh: speed,
                distance_m: d,
                seconds: secs,
            });
        } else {
            s.walked_m += d;
        }
    }
    s
}

fn coord(p: &TrackPoint) -> Coord<f64> {
    Coord { x: p.lon, y: p.lat }
}

/// The positions of a track's points.
pub fn positions(points: &[TrackPoint]) -> Vec<Coord<f64>> {
    points.iter().map(coord).collect()
}

/// The walked parts of a track (lon/lat positions): the track cut at every flagged
/// segment (`flags` holds the index of each flagged segment's first point, ascending).
/// Parts of a single point are dropped.
pub fn walked_parts(line: &[Coord<f64>], flags: &[usize]) -> MultiLineString<f64> {
    let mut parts = vec![];
    let mut cur: Vec<Coord<f64>> = vec![];
    let mut flagged = flags.iter().copied().peekable();
    for (i, c) in line.iter().enumerate() {
        cur.push(*c);
        while flagged.peek().is_some_and(|&f| f < i) {
            flagged.next();
        }
        if flagged.peek() == Some(&i) {
            if cur.len() >= 2 {
                parts.push(LineString(std::mem::take(&mut cur)));
            }
            cur.clear();
        }
    }
    if cur.len() >= 2 {
        parts.push(LineString(cur));
    }
    MultiLineString(parts)
}

/// The length in metres of the part of `lines` (lon/lat) inside `area` (lon/lat).
pub fn length_inside(lines: &MultiLineString<f64>, area: &MultiPolygon<f64>) -> f64 {
    if lines.0.is_empty() {
        return 0.0;
    }
    let proj = LocalProjection::around(area);
    let a = proj.project_shape(area);
    let l = lines.map_coords(|c| proj.project(c));
    Euclidean.length(&a.clip(&l, false))
}

/// Street length inside a grid and the part of it within `buffer_m` of any track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Metres of street inside the grid.
    pub street_m: f64,
    /// Of those, metres within the buffer of a track.
    pub covered_m: f64,
}

/// Measures how much of the street network inside `grid` lies within `buffer_m` of the
/// tracks. Streets and tracks are lon/lat; streets outside the grid are ignored.
pub fn street_coverage(
    streets: &[LineString<f64>],
    grid: &MultiPolygon<f64>,
    tracks: &[&MultiLineString<f64>],
    buffer_m: f64,
) -> Coverage {
    let proj = LocalProjection::around(grid);
    let g = proj.project_shape(grid);
    let Some(gbox) = g.bounding_rect() else {
        return Coverage::default();
    };
    let near_grid = |l: &LineString<f64>| {
        l.bounding_rect()
            .is_some_and(|r| boxes_meet(&r, &gbox, buffer_m))
    };
    let inside: MultiLineString<f64> = MultiLineString(
        streets
            .iter()
            .map(|l| l.map_coords(|c| proj.project(c)))
            .filter(near_grid)
            .collect(),
    );
    let inside = g.clip(&inside, false);
    let segments: Vec<RLine<[f64; 2]>> = tracks
        .iter()
        .flat_map(|t| t.0.iter())
        .map(|l| l.map_coords(|c| proj.project(c)))
        .filter(near_grid)
        .flat_map(|l| {
            l.lines()
                .map(|s| RLine::new([s.start.x, s.start.y], [s.end.x, s.end.y]))
                .collect::<Vec<_>>()
        })
        .collect();
    let tree = RTree::bulk_load(segments);
    let r2 = buffer_m * buffer_m;
    let mut out = Coverage::default();
    for seg in inside.0.iter().flat_map(geo::LineString::lines) {
        let len = Euclidean.distance(&Point(seg.start), &Point(seg.end));
        out.street_m += len;
        if tree.size() == 0 || len == 0.0 {
            continue;
        }
        let n = (len / STEP_M).ceil().max(1.0) as usize;
        let piece = len / n as f64;
        for k in 0..n {
            let f = (k as f64 + 0.5) / n as f64;
            let mid = [
                seg.start.x + (seg.end.x - seg.start.x) * f,
                seg.start.y + (seg.end.y - seg.start.y) * f,
            ];
            if tree.locate_within_distance(mid, r2).next().is_some() {
                out.covered_m += piece;
            }
        }
    }
    out
}

fn boxes_meet(a: &Rect<f64>, b: &Rect<f64>, margin: f64) -> bool {
    a.min().x <= b.max().x + margin
        && a.max().x >= b.min().x - margin
        && a.min().y <= b.max().y + margin
        && a.max().y >= b.min().y - margin
}

/// Indexes of the points (lon/lat) farther than `margin_m` from every area of the zone.
pub fn outside_zone(
    points: &[TrackPoint],
    zone: &[&MultiPolygon<f64>],
    margin_m: f64,
) -> Vec<usize> {
    let Some(first) = points.first() else {
        return vec![];
    };
    let proj = LocalProjection::new(first.lon, first.lat);
    let pts: Vec<Coord<f64>> = points.iter().map(|p| proj.project(coord(p))).collect();
    let Some(track_box) = MultiLineString(vec![LineString(pts.clone())]).bounding_rect() else {
        return vec![];
    };
    let areas: Vec<MultiPolygon<f64>> = zone
        .iter()
        .map(|a| proj.project_shape(a))
        .filter(|a| {
            a.bounding_rect()
                .is_some_and(|r| boxes_meet(&r, &track_box, margin_m))
        })
        .collect();
    pts.iter()
        .enumerate()
        .filter(|(_, c)| {
            let p = Point(**c);
            !areas.iter().any(|a| {
                a.intersects(&p)
                    || a.0
                        .iter()
                        .any(|poly| Euclidean.distance(&p, poly) <= margin_m)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// Streets (lon/lat) with an R-tree over their boxes, so that each grid of a report looks
/// only at the streets near it instead of at every street of the area.
pub struct Streets {
    lines: Vec<LineString<f64>>,
    tree: RTree<rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>>,
}

impl Streets {
    /// Indexes the lines.
    pub fn new(lines: Vec<LineString<f64>>) -> Self {
        let boxes = lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let r = l.bounding_rect()?;
                Some(rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [r.min().x, r.min().y],
                        [r.max().x, r.max().y],
                    ),
                    i,
                ))
            })
            .collect();
        Self {
            lines,
            tree: RTree::bulk_load(boxes),
        }
    }

    /// [`street_coverage`] of one grid over the streets whose box comes within `buffer_m`
    /// (and some) of the grid's box.
    pub fn coverage(
        &self,
        grid: &MultiPolygon<f64>,
        tracks: &[&MultiLineString<f64>],
        buffer_m: f64,
    ) -> Coverage {
        let Some(b) = grid.bounding_rect() else {
            return Coverage::default();
        };
        // A degree is at least 50 km in both directions below 63° of latitude.
        let m = buffer_m.max(0.0) / 50_000.0 + 1e-9;
        let env = rstar::AABB::from_corners(
            [b.min().x - m, b.min().y - m],
            [b.max().x + m, b.max().y + m],
        );
        let near: Vec<LineString<f64>> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| self.lines[g.data].clone())
            .collect();
        street_coverage(&near, grid, tracks, buffer_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use geo::polygon;

    fn track(coords: &[(f64, f64)], step_s: i64) -> Vec<TrackPoint> {
        let t0 = DateTime::parse_from_rfc3339("2024-03-05T01:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        coords
            .iter()
            .enumerate()
            .map(|(i, &(lon, lat))| TrackPoint {
                lon,
                lat,
                t: t0 + Duration::seconds(step_s * i as i64),
                accuracy_m: None,
            })
            .collect()
    }

    /// The length in metres of lon/lat lines.
    fn length_m(lines: &MultiLineString<f64>) -> f64 {
        lines
            .0
            .iter()
            .flat_map(geo::LineString::lines)
            .map(|s| distance_m(s.start, s.end))
            .sum()
    }

    fn square() -> MultiPolygon<f64> {
        polygon![(x: 105.70, y: 32.40), (x: 105.71, y: 32.40), (x: 105.71, y: 32.405), (x: 105.70, y: 32.405), (x: 105.70, y: 32.40)].into()
    }

    #[test]
    fn speeds_are_flagged_and_left_out_of_the_walk() {
        // 0.001° of longitude at 32.4° N is about 94 m; 60 s per step is 5.6 km/h.
        let mut pts = track(
            &[
                (105.701, 32.401),
                (105.702, 32.401),
                (105.703, 32.401),
                (105.709, 32.401),
                (105.7091, 32.401),
            ],
            60,
        );
        let s = summarise(&pts, 30.0);
        assert_eq!(s.flags.len(), 1, "{s:?}");
        assert_eq!(s.flags[0].segment, 2);
        let v = s.flags[0].speed_kmh.expect("timed");
        assert!((v - 33.8).abs() < 0.5, "{v}");
        assert!(
            (s.length_m - 0.0081 * 94_000.0).abs() < 15.0,
            "{}",
            s.length_m
        );
        assert!(
            (s.walked_m - 0.0021 * 94_000.0).abs() < 5.0,
            "{}",
            s.walked_m
        );
        let parts = walked_parts(&positions(&pts), &[2]);
        assert_eq!(parts.0.len(), 2);
        assert_eq!(parts.0[0].0.len(), 3);
        assert!((length_m(&parts) - s.walked_m).abs() < 1e-6);
        // Same instant, far apart: flagged without a speed.
        pts[4].t = pts[3].t;
        let s = summarise(&pts, 30.0);
        assert_eq!(s.flags.len(), 2);
        assert_eq!(s.flags[1].speed_kmh, None);
    }

    #[test]
    fn length_inside_clips_to_the_grid() {
        // Half of a 0.004° line lies inside.
        let pts = track(&[(105.708, 32.402), (105.712, 32.402)], 120);
        let parts = walked_parts(&positions(&pts), &[]);
        let total = length_m(&parts);
        let inside = length_inside(&parts, &square());
        assert!((inside / total - 0.5).abs() < 0.002, "{inside} of {total}");
        assert_eq!(length_inside(&MultiLineString(vec![]), &square()), 0.0);
    }

    #[test]
    fn coverage_counts_street_within_the_buffer() {
        // A street along y = 32.402 across the grid (0.01° ≈ 940 m inside), and one
        // outside the grid. A track walks along the first 0.004° of it, 10 m north.
        let streets = vec![
            LineString::from(vec![(105.695, 32.402), (105.715, 32.402)]),
            LineString::from(vec![(105.72, 32.41), (105.73, 32.41)]),
        ];
        // A walk along the first 0.004° of the street, `off` metres north of it.
        let walk_north = |off: f64| {
            let off = off / 111_000.0;
            let walk = [(105.70, 32.402 + off), (105.704, 32.402 + off)];
            walked_parts(&positions(&track(&walk, 300)), &[])
        };
        let walk = walk_north(10.0);
        let c = street_coverage(&streets, &square(), &[&walk], 20.0);
        let m_per_deg = 94_000.0;
        assert!(
            (c.street_m - 0.01 * m_per_deg).abs() < 5.0,
            "{} m of street",
            c.street_m
        );
        // Covered: the walked 0.004° plus about 17 m (√(20² − 10²)) beyond its far end.
        let expect = 0.004 * m_per_deg + 17.3;
        assert!(
            (c.covered_m - expect).abs() < 5.0,
            "{} vs {expect}",
            c.covered_m
        );
        // 25 m off the street: nothing covered with a 20 m buffer.
        let walk = walk_north(25.0);
        assert_eq!(
            street_coverage(&streets, &square(), &[&walk], 20.0).covered_m,
            0.0
        );
        assert_eq!(
            street_coverage(&streets, &square(), &[], 20.0).covered_m,
            0.0
        );
    }

    #[test]
    fn points_outside_the_zone_are_named() {
        let pts = track(
            &[
                (105.705, 32.402),
                (105.7105, 32.402),
                (105.72, 32.402),
                (0.0, 0.0),
            ],
            60,
        );
        let zone = square();
        // The second point is about 47 m east of the grid: inside a 100 m margin.
        assert_eq!(outside_zone(&pts, &[&zone], 100.0), vec![2, 3]);
        assert_eq!(outside_zone(&pts, &[&zone], 10.0), vec![1, 2, 3]);
    }
}
