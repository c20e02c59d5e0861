//! Tile arithmetic: z/x/y validation and the mapping between lon/lat, Web Mercator
//! (EPSG:3857 metres) and the normalised "world" square used internally.
//!
//! Owns coordinate conversion for tiles only; it must not know about features, encoding
//! or caching. Every function is total: any z/x/y a client can send yields a value or a
//! [`TileError`], never a panic.

use geo::{coord, Coord, Rect};

use super::TileError;

/// Highest zoom level accepted (tile coordinates still fit in `u32` comfortably).
pub const MAX_ZOOM: u8 = 24;

/// Latitude limit of the Web Mercator square (degrees).
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// Earth radius used by EPSG:3857 (metres).
pub const EARTH_RADIUS: f64 = 6_378_137.0;

/// Half the side of the EPSG:3857 square (metres).
pub const MERCATOR_HALF_SIDE: f64 = std::f64::consts::PI * EARTH_RADIUS;

/// A validated XYZ tile address (y grows southwards, as in slippy-map URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    z: u8,
    x: u32,
    y: u32,
}

impl TileId {
    /// Validates `z/x/y`: `z <= MAX_ZOOM` and `x, y < 2^z`.
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileError::ZoomOutOfRange { z, max: MAX_ZOOM });
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(TileError::TileOutOfRange { z, x, y });
        }
        Ok(Self { z: z as u8, x, y })
    }

    /// Parses URL path segments `z`, `x` and `y`, where `y` may end in `.mvt` or `.pbf`
    /// (as in `/tiles/{layer}/{z}/{x}/{y}.mvt`), then validates like [`TileId::new`].
    pub fn parse(z: &str, x: &str, y: &str) -> Result<Self, TileError> {
        let y = y
            .strip_suffix(".mvt")
            .or_else(|| y.strip_suffix(".pbf"))
            .unwrap_or(y);
        let num = |s: &str| -> Result<u32, TileError> {
            // Only plain ASCII digits: no signs, spaces or other forms `parse` would take.
            if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TileError::Malformed {
                    input: format!("{z}/{x}/{y}").chars().take(64).collect(),
                });
            }
            s.parse().map_err(|_| TileError::Malformed {
                input: format!("{z}/{x}/{y}").chars().take(64).collect(),
            })
        };
        Self::new(num(z)?, num(x)?, num(y)?)
    }

    /// Zoom level.
    pub fn z(&self) -> u8 {
        self.z
    }

    /// Column, counted from the antimeridian eastwards.
    pub fn x(&self) -> u32 {
        self.x
    }

    /// Row, counted from the north edge southwards.
    pub fn y(&self) -> u32 {
        self.y
    }

    /// Number of tiles along one axis at this zoom (`2^z`).
    pub fn tiles_per_side(&self) -> u32 {
        1u32 << self.z
    }

    /// Bounds in normalised world units: `[0, 1]²`, x east, y south.
    pub fn world_bounds(&self) -> Rect<f64> {
        let n = f64::from(self.tiles_per_side());
        Rect::new(
            coord! { x: f64::from(self.x) / n, y: f64::from(self.y) / n },
            coord! { x: f64::from(self.x + 1) / n, y: f64::from(self.y + 1) / n },
        )
    }

    /// Bounds in EPSG:3857 metres, as `ST_TileEnvelope(z, x, y)` computes them.
    pub fn mercator_bounds(&self) -> Rect<f64> {
        let w = self.world_bounds();
        Rect::new(world_to_mercator(w.min()), world_to_mercator(w.max()))
    }

    /// Bounds in lon/lat degrees (WGS 84).
    pub fn lonlat_bounds(&self) -> Rect<f64> {
        let w = self.world_bounds();
        Rect::new(world_to_lonlat(w.min()), world_to_lonlat(w.max()))
    }

    /// The tile one zoom level up that contains this one, if any.
    pub fn parent(&self) -> Option<TileId> {
        (self.z > 0).then(|| TileId {
            z: self.z - 1,
            x: self.x / 2,
            y: self.y / 2,
        })
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Projects lon/lat degrees to normalised world units (latitude clamped to the Mercator
/// square).
pub fn lonlat_to_world(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let y =
        0.5 - (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() / (2.0 * std::f64::consts::PI);
    coord! { x: (c.x + 180.0) / 360.0, y: y }
}

/// Inverse of [`lonlat_to_world`].
pub fn world_to_lonlat(c: Coord<f64>) -> Coord<f64> {
    let lat = (2.0 * ((0.5 - c.y) * 2.0 * std::f64::consts::PI).exp().atan()
        - std::f64::consts::FRAC_PI_2)
        .to_degrees();
    coord! { x: c.x * 360.0 - 180.0, y: lat }
}

/// Normalised world units to EPSG:3857 metres.
pub fn world_to_mercator(c: Coord<f64>) -> Coord<f64> {
    coord! {
        x: (c.x - 0.5) * 2.0 * MERCATOR_HALF_SIDE,
        y: (0.5 - c.y) * 2.0 * MERCATOR_HALF_SIDE,
    }
}

/// EPSG:3857 metres to normalised world units.
pub fn mercator_to_world(c: Coord<f64>) -> Coord<f64> {
    coord! {
        x: c.x / (2.0 * MERCATOR_HALF_SIDE) + 0.5,
        y: 0.5 - c.y / (2.0 * MERCATOR_HALF_SIDE),
    }
}

/// Lon/lat degrees to EPSG:3857 metres.
pub fn lonlat_to_mercator(c: Coord<f64>) -> Coord<f64> {
    world_to_mercator(lonlat_to_world(c))
}

/// EPSG:3857 metres to lon/lat degrees.
pub fn mercator_to_lonlat(c: Coord<f64>) -> Coord<f64> {
    world_to_lonlat(mercator_to_world(c))
}

/// Projects a lon/lat rectangle to world units (y flips, so corners are re-ordered).
pub fn lonlat_rect_to_world(r: Rect<f64>) -> Rect<f64> {
    Rect::new(lonlat_to_world(r.min()), lonlat_to_world(r.max()))
}

/// The tiles at zoom `z` whose bounds intersect a lon/lat rectangle, row by row.
pub fn tiles_covering(lonlat: Rect<f64>, z: u8) -> Result<TileRange, TileError> {
    if z > MAX_ZOOM {
        return Err(TileError::ZoomOutOfRange {
            z: u32::from(z),
            max: MAX_ZOOM,
        });
    }
    Ok(TileRange::from_world(lonlat_rect_to_world(lonlat), z))
}

/// A rectangular block of tiles at one zoom level; iterates row-major.
#[derive(Debug, Clone)]
pub struct TileRange {
    z: u8,
    min_x: u32,
    max_x: u32,
    max_y: u32,
    next: Option<(u32, u32)>,
}

impl TileRange {
    fn from_world(w: Rect<f64>, z: u8) -> Self {
        let n = f64::from(1u32 << z);
        let last = (1u32 << z) - 1;
        // NaN bounds cast to 0 and clamp, so a malformed rectangle still yields a range.
        let cell = |v: f64| ((v * n).floor().max(0.0) as u32).min(last);
        let (min_x, max_x) = (cell(w.min().x), cell(w.max().x));
        let (min_y, max_y) = (cell(w.min().y), cell(w.max().y));
        Self {
            z,
            min_x,
            max_x,
            max_y,
            next: Some((min_x, min_y)),
        }
    }

    /// Number of tiles in the range.
    pub fn len(&self) -> usize {
        match self.next {
            None => 0,
            Some((x, y)) => {
                let w = (self.max_x - self.min_x + 1) as usize;
                (self.max_y - y) as usize * w + (self.max_x - x + 1) as usize
            }
        }
    }

    /// True when the iteration is exhausted.
    pub fn is_empty(&self) -> bool {
        self.next.is_none()
    }
}

impl Iterator for TileRange {
    type Item = TileId;

    fn next(&mut self) -> Option<TileId> {
        let (x, y) = self.next?;
        self.next = if x < self.max_x {
            Some((x + 1, y))
        } else if y < self.max_y {
            Some((self.min_x, y + 1))
        } else {
            None
        };
        Some(TileId { z: self.z, x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_addresses() {
        assert!(TileId::new(25, 0, 0).is_err());
        assert!(TileId::new(u32::MAX, 0, 0).is_err());
        assert!(TileId::new(0, 1, 0).is_err());
        assert!(TileId::new(24, 1 << 24, 0).is_err());
        assert!(TileId::new(24, (1 << 24) - 1, (1 << 24) - 1).is_ok());
        assert!(TileId::new(3, u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn parses_url_segments() {
        let t = TileId::parse("15", "26389", "13267.mvt").expect("valid");
        assert_eq!((t.z(), t.x(), t.y()), (15, 26_389, 13_267));
        assert_eq!(TileId::parse("3", "1", "2.pbf").map(|t| t.y()), Ok(2));
        assert_eq!(TileId::parse("3", "1", "2").map(|t| t.y()), Ok(2));
        for (z, x, y) in [
            ("", "0", "0"),
            ("+1", "0", "0"),
            ("1", "-0", "0"),
            ("1", "0", "0.png"),
            ("1", "0", "99999999999999999999"),
            ("1", "0", " 0"),
        ] {
            assert!(
                matches!(TileId::parse(z, x, y), Err(TileError::Malformed { .. })),
                "{z}/{x}/{y}"
            );
        }
        assert!(matches!(
            TileId::parse("25", "0", "0"),
            Err(TileError::ZoomOutOfRange { .. })
        ));
        assert!(matches!(
            TileId::parse("2", "4", "0"),
            Err(TileError::TileOutOfRange { .. })
        ));
    }

    #[test]
    fn mercator_bounds_match_tile_envelope() {
        let t = TileId::new(1, 0, 0).expect("valid");
        let b = t.mercator_bounds();
        assert!((b.min().x + MERCATOR_HALF_SIDE).abs() < 1e-6);
        assert!(b.min().y.abs() < 1e-6);
        assert!(b.max().x.abs() < 1e-6);
        assert!((b.max().y - MERCATOR_HALF_SIDE).abs() < 1e-6);
    }

    #[test]
    fn projections_round_trip() {
        let c = coord! { x: 105.7, y: 32.4 };
        let back = mercator_to_lonlat(lonlat_to_mercator(c));
        assert!((back.x - c.x).abs() < 1e-9 && (back.y - c.y).abs() < 1e-9);
        // Known value: lat 32.4 in EPSG:3857.
        let m = lonlat_to_mercator(c);
        assert!((m.x - 11_766_470.18).abs() < 0.01, "{m:?}");
    }

    #[test]
    fn covering_range_contains_the_point_tile() {
        let r = Rect::new(coord! { x: 105.6, y: 32.3 }, coord! { x: 105.8, y: 32.5 });
        let tiles: Vec<_> = tiles_covering(r, 12).expect("zoom ok").collect();
        let range = tiles_covering(r, 12).expect("zoom ok");
        assert_eq!(range.len(), tiles.len());
        for t in &tiles {
            let b = t.lonlat_bounds();
            assert!(b.max().x >= 105.6 && b.min().x <= 105.8);
            assert!(b.max().y >= 32.3 && b.min().y <= 32.5);
        }
        assert!(tiles_covering(r, 30).is_err());
        let world = Rect::new(coord! { x: -180.0, y: -90.0 }, coord! { x: 180.0, y: 90.0 });
        assert_eq!(tiles_covering(world, 2).expect("zoom ok").count(), 16);
    }
}
