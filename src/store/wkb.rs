//! Well-Known Binary, the form in which geometry crosses between PostGIS and Rust:
//! `ST_AsBinary(geom)` out, `ST_GeomFromWKB($n, 4326)` in. Only the 2-D types wangge stores.

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

/// A WKB value PostGIS sent that wangge cannot read.
#[derive(Debug, thiserror::Error)]
#[error("bad WKB: {0}")]
pub struct WkbError(pub &'static str);

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, WkbError> {
        let b = *self.buf.get(self.pos).ok_or(WkbError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], WkbError> {
        let s = self
            .buf
            .get(self.pos..self.pos + N)
            .ok_or(WkbError("truncated"))?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// The next `N` bytes as a number, read by `le` or `be` as the value's byte order says.
    fn number<const N: usize, T>(
        &mut self,
        le: fn([u8; N]) -> T,
        be: fn([u8; N]) -> T,
    ) -> Result<T, WkbError> {
        let b = self.bytes::<N>()?;
        Ok(if self.little { le(b) } else { be(b) })
    }
    fn u32(&mut self) -> Result<u32, WkbError> {
        self.number(u32::from_le_bytes, u32::from_be_bytes)
    }
    fn f64(&mut self) -> Result<f64, WkbError> {
        self.number(f64::from_le_bytes, f64::from_be_bytes)
    }
    fn count(&mut self) -> Result<usize, WkbError> {
        let n = self.u32()? as usize;
        // Every element takes at least 16 bytes: refuse counts the buffer cannot hold.
        if n > self.buf.len() {
            return Err(WkbError("count larger than the value"));
        }
        Ok(n)
    }
    fn coord(&mut self) -> Result<Coord<f64>, WkbError> {
        Ok(Coord {
            x: self.f64()?,
            y: self.f64()?,
        })
    }
    fn coords(&mut self) -> Result<Vec<Coord<f64>>, WkbError> {
        let n = self.count()?;
        (0..n).map(|_| self.coord()).collect()
    }
    fn polygon_body(&mut self) -> Result<Polygon<f64>, WkbError> {
        let n = self.count()?;
        let mut rings = Vec::with_capacity(n);
        for _ in 0..n {
            rings.push(LineString(self.coords()?));
        }
        if rings.is_empty() {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let ext = rings.remove(0);
        Ok(Polygon::new(ext, rings))
    }
    fn geometry(&mut self) -> Result<Geometry<f64>, WkbError> {
        self.little = match self.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WkbError("bad byte order")),
        };
        let ty = self.u32()?;
        if ty & 0xE000_0000 != 0 || ty > 1000 {
            return Err(WkbError("only 2-D geometry without SRID is read"));
        }
        Ok(match ty {
            1 => Geometry::Point(Point(self.coord()?)),
            2 => Geometry::LineString(LineString(self.coords()?)),
            3 => Geometry::Polygon(self.polygon_body()?),
            4..=7 => {
                let n = self.count()?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    parts.push(self.geometry()?);
                }
                match ty {
                    4 => Geometry::MultiPoint(MultiPoint(
                        parts
                            .into_iter()
                            .filter_map(|g| Point::try_from(g).ok())
                            .collect(),
                    )),
                    5 => Geometry::MultiLineString(MultiLineString(
                        parts
                            .into_iter()
                            .filter_map(|g| LineString::try_from(g).ok())
                            .collect(),
                    )),
                    6 => Geometry::MultiPolygon(MultiPolygon(
                        parts
                            .into_iter()
                            .filter_map(|g| Polygon::try_from(g).ok())
                            .collect(),
                    )),
                    _ => Geometry::GeometryCollection(geo::GeometryCollection(parts)),
                }
            }
            _ => return Err(WkbError("unknown geometry type")),
        })
    }
}

/// Reads a WKB value.
pub fn decode(buf: &[u8]) -> Result<Geometry<f64>, WkbError> {
    Reader {
        buf,
        pos: 0,
        little: true,
    }
    .geometry()
}

/// Reads a WKB Polygon or MultiPolygon as a MultiPolygon.
pub fn decode_area(buf: &[u8]) -> Result<MultiPolygon<f64>, WkbError> {
    match decode(buf)? {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        _ => Err(WkbError("expected a polygon")),
    }
}

/// Reads a WKB Point.
pub fn decode_point(buf: &[u8]) -> Result<Point<f64>, WkbError> {
    match decode(buf)? {
        Geometry::Point(p) => Ok(p),
        _ => Err(WkbError("expected a point")),
    }
}

/// Reads a WKB LineString.
pub fn decode_line(buf: &[u8]) -> Result<LineString<f64>, WkbError> {
    match decode(buf)? {
        Geometry::LineString(l) => Ok(l),
        _ => Err(WkbError("expected a line")),
    }
}

fn put_coord(out: &mut Vec<u8>, c: Coord<f64>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn put_ring(out: &mut Vec<u8>, r: &LineString<f64>) {
    out.extend_from_slice(&(r.0.len() as u32).to_le_bytes());
    for c in &r.0 {
        put_coord(out, *c);
    }
}

fn put_polygon(out: &mut Vec<u8>, p: &Polygon<f64>) {
    out.push(1);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
    put_ring(out, p.exterior());
    for r in p.interiors() {
        put_ring(out, r);
    }
}

/// Writes a MultiPolygon as little-endian WKB.
pub fn encode_area(mp: &MultiPolygon<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + mp.0.len() * 96);
    out.push(1);
    out.extend_from_slice(&6u32.to_le_bytes());
    out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
    for p in &mp.0 {
        put_polygon(&mut out, p);
    }
    out
}

/// Writes a Point as little-endian WKB.
pub fn encode_point(p: Point<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(21);
    out.push(1);
    out.extend_from_slice(&1u32.to_le_bytes());
    put_coord(&mut out, p.0);
    out
}

/// Writes a LineString as little-endian WKB.
pub fn encode_line(l: &LineString<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + l.0.len() * 16);
    out.push(1);
    out.extend_from_slice(&2u32.to_le_bytes());
    put_ring(&mut out, l);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mp: MultiPolygon<f64> =
            polygon![(x: 1.0, y: 2.0), (x: 3.0, y: 2.0), (x: 3.0, y: 4.0), (x: 1.0, y: 2.0)].into();
        assert_eq!(decode_area(&encode_area(&mp)).ok(), Some(mp));
        let p = Point::new(105.7, 32.4);
        assert_eq!(decode_point(&encode_point(p)).ok(), Some(p));
        assert!(decode(&[1, 6, 0, 0, 0, 255, 255, 255, 255]).is_err());
        assert!(decode(&[]).is_err());
    }
}
