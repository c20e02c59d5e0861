//! Metric work on lon/lat data: the one local projection to metres for areas, distances,
//! overlay operations and nearest searches over town-sized extents, where it is accurate to
//! well under 0.1%.

use geo::{BoundingRect, Coord, MapCoords, MultiPolygon};

/// Mean metres per degree of latitude.
const M_PER_DEG_LAT: f64 = 111_132.954;

/// An equirectangular projection centred on a point: x east and y north in metres. Its
/// scale is that of the WGS 84 ellipsoid ([`LocalProjection::new`]) or of a sphere
/// ([`LocalProjection::spherical`], for the walking network, whose lengths are haversine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalProjection {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl LocalProjection {
    /// A projection centred on (lon0, lat0).
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let phi = lat0.to_radians();
        // Series for metres per degree on the WGS 84 ellipsoid.
        let ky = M_PER_DEG_LAT - 559.822 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
        let kx = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos() + 0.118 * (5.0 * phi).cos();
        Self {
            lon0,
            lat0,
            kx: kx.max(1e-6),
            ky,
        }
    }

    /// A projection centred on (`lon0`, `lat0`) with the scale of a sphere of radius
    /// `radius_m`.
    pub fn spherical(lon0: f64, lat0: f64, radius_m: f64) -> Self {
        let ky = radius_m * std::f64::consts::PI / 180.0;
        Self {
            lon0,
            lat0,
            kx: ky * lat0.to_radians().cos(),
            ky,
        }
    }

    /// A projection centred on the middle of a shape's bounding box.
    pub fn around(mp: &MultiPolygon<f64>) -> Self {
        match mp.bounding_rect() {
            Some(r) => {
                let c = r.center();
                Self::new(c.x, c.y)
            }
            None => Self::new(0.0, 0.0),
        }
    }

    /// lon/lat → metres.
    #[inline]
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        }
    }

    /// metres → lon/lat.
    #[inline]
    pub fn unproject(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: c.x / self.kx + self.lon0,
            y: c.y / self.ky + self.lat0,
        }
    }

    /// Projects a shape to metres.
    pub fn project_shape(&self, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        mp.map_coords(|c| self.project(c))
    }

    /// Projects a shape back to lon/lat.
    pub fn unproject_shape(&self, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        mp.map_coords(|c| self.unproject(c))
    }
}

/// The area of a lon/lat shape in square metres (geodesic, on the WGS 84 ellipsoid).
pub fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    use geo::GeodesicArea;
    mp.geodesic_area_unsigned()
}

/// The distance in metres between two lon/lat points (haversine on the mean radius).
pub fn distance_m(a: Coord<f64>, b: Coord<f64>) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point(a), Point(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Area};

    #[test]
    fn local_area_matches_geodesic_area() {
        let p: MultiPolygon<f64> = polygon![
            (x: 105.70, y: 32.40), (x: 105.71, y: 32.40), (x: 105.71, y: 32.41), (x: 105.70, y: 32.41), (x: 105.70, y: 32.40)
        ]
        .into();
        let proj = LocalProjection::around(&p);
        let local = proj.project_shape(&p).unsigned_area();
        let geodesic = area_m2(&p);
        assert!(
            (local - geodesic).abs() / geodesic < 1e-4,
            "{local} vs {geodesic}"
        );
        let back = proj.unproject_shape(&proj.project_shape(&p));
        let d = (back.0[0].exterior().0[2].x - 105.71).abs();
        assert!(d < 1e-12);
    }
}
