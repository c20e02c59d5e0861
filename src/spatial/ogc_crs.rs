//! The coordinate reference systems OGC API - Features answers in (Part 2): CRS84 (the
//! default: longitude, latitude on WGS 84), EPSG:4326 and EPSG:4490 (latitude first, as
//! their EPSG definitions order the axes) and EPSG:3857 (web Mercator metres). Conversion
//! to and from the WGS 84 longitude and latitude wangge stores.
//!
//! EPSG:4490 is CGCS2000, China's official datum. Its ellipsoid differs from WGS 84's by
//! 0.1 mm in the semi-minor axis and its realisation by a few centimetres, below the
//! precision of grid boundaries (drawn to about a metre): its coordinates are numerically
//! those of WGS 84, and only the axis order differs from CRS84.

use geo::Coord;

/// The URI of CRS84.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// Radius of the sphere web Mercator projects onto (the WGS 84 semi-major axis).
const R: f64 = 6_378_137.0;
/// The latitude web Mercator stops at.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A coordinate reference system of the OGC routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OgcCrs {
    /// Longitude, latitude on WGS 84 (the default).
    Crs84,
    /// WGS 84, latitude first.
    Epsg4326,
    /// CGCS2000, latitude first.
    Epsg4490,
    /// Web Mercator metres, easting first.
    Epsg3857,
}

impl OgcCrs {
    /// Every system served, the default first.
    pub const ALL: [OgcCrs; 4] = [
        OgcCrs::Crs84,
        OgcCrs::Epsg4326,
        OgcCrs::Epsg4490,
        OgcCrs::Epsg3857,
    ];

    /// Its URI.
    pub fn uri(self) -> &'static str {
        match self {
            OgcCrs::Crs84 => CRS84,
            OgcCrs::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
            OgcCrs::Epsg4490 => "http://www.opengis.net/def/crs/EPSG/0/4490",
            OgcCrs::Epsg3857 => "http://www.opengis.net/def/crs/EPSG/0/3857",
        }
    }

    /// Reads a URI, a `[EPSG:n]` safe CURIE or `EPSG:n`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('[').trim_end_matches(']');
        Self::ALL.into_iter().find(|c| {
            let uri = c.uri();
            let short = match c {
                OgcCrs::Crs84 => "OGC:CRS84",
                OgcCrs::Epsg4326 => "EPSG:4326",
                OgcCrs::Epsg4490 => "EPSG:4490",
                OgcCrs::Epsg3857 => "EPSG:3857",
            };
            s == uri || s.eq_ignore_ascii_case(short)
        })
    }

    /// Whether the first axis is the latitude.
    pub fn latitude_first(self) -> bool {
        matches!(self, OgcCrs::Epsg4326 | OgcCrs::Epsg4490)
    }

    /// A WGS 84 longitude and latitude in this system, in its axis order.
    pub fn from_wgs84(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            OgcCrs::Crs84 => c,
            OgcCrs::Epsg4326 | OgcCrs::Epsg4490 => Coord { x: c.y, y: c.x },
            OgcCrs::Epsg3857 => {
                let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
                Coord {
                    x: R * c.x.to_radians(),
                    y: R * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
                }
            }
        }
    }

    /// A coordinate of this system, in its axis order, as WGS 84 longitude and latitude.
    pub fn to_wgs84(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            OgcCrs::Crs84 => c,
            OgcCrs::Epsg4326 | OgcCrs::Epsg4490 => Coord { x: c.y, y: c.x },
            OgcCrs::Epsg3857 => Coord {
                x: (c.x / R).to_degrees(),
                y: (2.0 * (c.y / R).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_axis_order() {
        let c = Coord {
            x: 104.06,
            y: 30.66,
        };
        for crs in OgcCrs::ALL {
            let back = crs.to_wgs84(crs.from_wgs84(c));
            assert!(
                (back.x - c.x).abs() < 1e-9 && (back.y - c.y).abs() < 1e-9,
                "{crs:?}"
            );
            assert_eq!(OgcCrs::parse(crs.uri()), Some(crs));
        }
        assert_eq!(
            OgcCrs::Epsg4490.from_wgs84(c),
            Coord {
                x: 30.66,
                y: 104.06
            }
        );
        let m = OgcCrs::Epsg3857.from_wgs84(Coord { x: 180.0, y: 0.0 });
        assert!((m.x - 20_037_508.342_789_244).abs() < 1e-6 && m.y.abs() < 1e-6);
        assert_eq!(OgcCrs::parse("[EPSG:4490]"), Some(OgcCrs::Epsg4490));
        assert_eq!(OgcCrs::parse("EPSG:2000"), None);
    }
}
