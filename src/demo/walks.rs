//! Patrol walks for benchmarks and tests: a grid member's weekly round through a grid, as
//! the fixes a phone would record. Pure computation: no database, no HTTP, no clock (the
//! caller gives the start time).

use chrono::{DateTime, Duration, Utc};
use geo::{BoundingRect, Contains, MultiPolygon, Point};

/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_320.0;
/// Distance between the rows of a walk, metres.
const ROW_M: f64 = 40.0;
/// Distance between two fixes along a row, metres.
const FIX_M: f64 = 15.0;
/// Walking speed, metres per second.
const SPEED_M_S: f64 = 1.3;
/// The most fixes of one walk (a phone's whole track stays one upload).
pub const MAX_FIXES: usize = 1500;

/// One fix of a walk: longitude, latitude (WGS 84) and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// When it was recorded.
    pub t: DateTime<Utc>,
}

/// A walk up and down the grid from `start`: rows [`ROW_M`] apart from south to north, a fix
/// every [`FIX_M`] that falls inside the grid, at [`SPEED_M_S`] (plus a second a fix), at
/// most [`MAX_FIXES`] fixes. Empty for an empty grid.
pub fn rows_through(grid: &MultiPolygon<f64>, start: DateTime<Utc>) -> Vec<Fix> {
    let Some(r) = grid.bounding_rect() else {
        return vec![];
    };
    let dy = ROW_M / M_PER_DEG;
    let dx = FIX_M / (M_PER_DEG * r.min().y.to_radians().cos());
    let across = ((r.max().x - r.min().x) / dx).ceil() as usize;
    let mut points = vec![];
    let mut y = r.min().y + dy / 2.0;
    let mut row = 0usize;
    while y < r.max().y && points.len() < MAX_FIXES {
        for i in 0..=across {
            let k = if row.is_multiple_of(2) { i } else { across - i };
            let x = r.min().x + k as f64 * dx;
            if points.len() < MAX_FIXES && grid.contains(&Point::new(x, y)) {
                points.push((x, y));
            }
        }
        y += dy;
        row += 1;
    }
    let mut t = start;
    let mut prev: Option<(f64, f64)> = None;
    points
        .into_iter()
        .map(|(lon, lat)| {
            if let Some((px, py)) = prev {
                let m =
                    ((lon - px) * M_PER_DEG * lat.to_radians().cos()).hypot((lat - py) * M_PER_DEG);
                t += Duration::milliseconds((m / SPEED_M_S * 1000.0) as i64 + 1000);
            }
            prev = Some((lon, lat));
            Fix { lon, lat, t }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn a_walk_stays_inside_in_time_order_at_walking_pace() {
        // An L-shaped grid about 330 m by 330 m.
        let l = MultiPolygon(vec![polygon![
            (x: 105.700, y: 32.400), (x: 105.7035, y: 32.400), (x: 105.7035, y: 32.4015),
            (x: 105.7015, y: 32.4015), (x: 105.7015, y: 32.403), (x: 105.700, y: 32.403),
        ]]);
        let start = DateTime::parse_from_rfc3339("2026-11-30T09:00:00+08:00")
            .expect("time")
            .with_timezone(&Utc);
        let walk = rows_through(&l, start);
        assert!(walk.len() > 50, "{} fixes", walk.len());
        assert_eq!(walk[0].t, start);
        assert!(walk.iter().all(|f| l.contains(&Point::new(f.lon, f.lat))));
        for w in walk.windows(2) {
            let m = ((w[1].lon - w[0].lon) * M_PER_DEG * w[0].lat.to_radians().cos())
                .hypot((w[1].lat - w[0].lat) * M_PER_DEG);
            let s = (w[1].t - w[0].t).num_milliseconds() as f64 / 1000.0;
            assert!(s >= 1.0 && m / s <= SPEED_M_S + 1e-9, "{m} m in {s} s");
        }
        // Nothing in the cut-out corner (north-east of 105.7015, 32.4015).
        assert!(!walk.iter().any(|f| f.lon > 105.7016 && f.lat > 32.4016));
        assert!(rows_through(&MultiPolygon(vec![]), start).is_empty());
    }
}
