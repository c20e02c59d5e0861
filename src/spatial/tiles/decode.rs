//! Minimal Mapbox Vector Tile decoder, used to check our own output and compare it with
//! other producers (PostGIS `ST_AsMVT`, GDAL) in tests and benchmarks.
//!
//! Owns protobuf parsing and command decoding into integer tile coordinates. It must not
//! project back to lon/lat beyond the small helper given, and must not panic on arbitrary
//! bytes: malformed input is a [`DecodeError`].

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

use super::mvt::{GeomType, Value};
use super::tilemath::{world_to_lonlat, TileId};

/// Why a byte string is not a valid vector tile.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ended inside a field.
    #[error("vector tile truncated while reading {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A protobuf wire type this decoder does not know (groups are not used by MVT).
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    /// A string field was not UTF-8.
    #[error("invalid UTF-8 in {what}")]
    Utf8 {
        /// Which field.
        what: &'static str,
    },
    /// A feature tag referred past the end of the key or value table.
    #[error("feature tag index {index} out of range for the {table} table")]
    TagIndex {
        /// `keys` or `values`.
        table: &'static str,
        /// The offending index.
        index: u32,
    },
    /// The geometry command stream was inconsistent.
    #[error("bad geometry command stream: {0}")]
    Geometry(&'static str),
}

/// A decoded layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    /// Layer name.
    pub name: String,
    /// Tile extent (4096 when absent).
    pub extent: u32,
    /// Layer version (1 when absent).
    pub version: u32,
    /// Features in tile order.
    pub features: Vec<DecodedFeature>,
}

/// A decoded feature in integer tile coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFeature {
    /// Feature id, if present.
    pub id: Option<u64>,
    /// Declared geometry type.
    pub geom_type: GeomType,
    /// Geometry in tile coordinates.
    pub geometry: DecodedGeometry,
    /// Attributes in tag order.
    pub properties: Vec<(String, Value)>,
}

/// Geometry in integer tile coordinates (x right, y down).
#[derive(Debug, Clone, PartialEq)]
pub enum DecodedGeometry {
    /// All `MoveTo` points.
    Points(Vec<(i32, i32)>),
    /// One entry per line part.
    Lines(Vec<Vec<(i32, i32)>>),
    /// Polygons, each an exterior ring followed by its interiors (rings not closed),
    /// grouped by winding as the spec describes.
    Polygons(Vec<Vec<Vec<(i32, i32)>>>),
    /// Unknown type: nothing interpreted.
    Unknown,
}

impl DecodedGeometry {
    /// Converts to a `geo` geometry in tile coordinates (f64).
    pub fn to_geo(&self) -> Option<Geometry<f64>> {
        let c = |&(x, y): &(i32, i32)| Coord {
            x: f64::from(x),
            y: f64::from(y),
        };
        let ring = |r: &Vec<(i32, i32)>| {
            let mut ls: Vec<Coord<f64>> = r.iter().map(c).collect();
            if let Some(&f) = ls.first() {
                ls.push(f);
            }
            LineString::from(ls)
        };
        Some(match self {
            DecodedGeometry::Points(p) => {
                Geometry::MultiPoint(MultiPoint(p.iter().map(|q| Point(c(q))).collect()))
            }
            DecodedGeometry::Lines(l) => Geometry::MultiLineString(MultiLineString(
                l.iter()
                    .map(|p| LineString::from(p.iter().map(c).collect::<Vec<_>>()))
                    .collect(),
            )),
            DecodedGeometry::Polygons(ps) => Geometry::MultiPolygon(MultiPolygon(
                ps.iter()
                    .filter_map(|rings| {
                        let (ext, ints) = rings.split_first()?;
                        Some(Polygon::new(ring(ext), ints.iter().map(ring).collect()))
                    })
                    .collect(),
            )),
            DecodedGeometry::Unknown => return None,
        })
    }

    /// Converts to lon/lat for `tile`, given the layer `extent`.
    pub fn to_lonlat(&self, tile: TileId, extent: u32) -> Option<Geometry<f64>> {
        use geo::MapCoords;
        let n = f64::from(tile.tiles_per_side());
        let e = f64::from(extent.max(1));
        let (tx, ty) = (f64::from(tile.x()), f64::from(tile.y()));
        Some(self.to_geo()?.map_coords(|p| {
            world_to_lonlat(Coord {
                x: (tx + p.x / e) / n,
                y: (ty + p.y / e) / n,
            })
        }))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(DecodeError::Truncated { what })?;
            self.pos += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Truncated { what })
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len =
            usize::try_from(self.varint(what)?).map_err(|_| DecodeError::Truncated { what })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { what })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { what })?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn key(&mut self) -> Result<(u64, u8), DecodeError> {
        let k = self.varint("field key")?;
        Ok((k >> 3, (k & 7) as u8))
    }

    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            0 => self.varint("skipped varint").map(|_| ()),
            1 => self.fixed::<8>("skipped fixed64").map(|_| ()),
            2 => self.bytes("skipped bytes").map(|_| ()),
            5 => self.fixed::<4>("skipped fixed32").map(|_| ()),
            w => Err(DecodeError::WireType(w)),
        }
    }
}

fn utf8(b: &[u8], what: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Utf8 { what })
}

fn packed(b: &[u8], what: &'static str) -> Result<Vec<u32>, DecodeError> {
    let mut r = Reader::new(b);
    let mut out = Vec::new();
    while !r.done() {
        out.push(r.varint(what)? as u32);
    }
    Ok(out)
}

/// Decodes a whole tile. An empty buffer is a tile with no layers.
pub fn decode_tile(buf: &[u8]) -> Result<Vec<DecodedLayer>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut layers = Vec::new();
    while !r.done() {
        match r.key()? {
            (3, 2) => layers.push(decode_layer(r.bytes("layer")?)?),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(layers)
}

struct RawFeature {
    id: Option<u64>,
    tags: Vec<u32>,
    ty: u64,
    geom: Vec<u32>,
}

fn decode_layer(buf: &[u8]) -> Result<DecodedLayer, DecodeError> {
    let mut r = Reader::new(buf);
    let (mut name, mut extent, mut version) = (String::new(), 4096u32, 1u32);
    let (mut keys, mut values, mut raws) = (Vec::new(), Vec::new(), Vec::new());
    while !r.done() {
        match r.key()? {
            (1, 2) => name = utf8(r.bytes("layer name")?, "layer name")?,
            (2, 2) => raws.push(decode_feature(r.bytes("feature")?)?),
            (3, 2) => keys.push(utf8(r.bytes("key")?, "key")?),
            (4, 2) => values.push(decode_value(r.bytes("value")?)?),
            (5, 0) => extent = r.varint("extent")? as u32,
            (15, 0) => version = r.varint("version")? as u32,
            (_, w) => r.skip(w)?,
        }
    }
    let mut features = Vec::with_capacity(raws.len());
    for f in raws {
        let mut properties = Vec::with_capacity(f.tags.len() / 2);
        for kv in f.tags.chunks(2) {
            let [ki, vi] = *kv else {
                return Err(DecodeError::Geometry("odd number of tags"));
            };
            let k = keys.get(ki as usize).ok_or(DecodeError::TagIndex {
                table: "keys",
                index: ki,
            })?;
            let v = values.get(vi as usize).ok_or(DecodeError::TagIndex {
                table: "values",
                index: vi,
            })?;
            properties.push((k.clone(), v.clone()));
        }
        let geom_type = match f.ty {
            1 => GeomType::Point,
            2 => GeomType::LineString,
            3 => GeomType::Polygon,
            _ => GeomType::Unknown,
        };
        features.push(DecodedFeature {
            id: f.id,
            geom_type,
            geometry: decode_geometry(geom_type, &f.geom)?,
            properties,
        });
    }
    Ok(DecodedLayer {
        name,
        extent,
        version,
        features,
    })
}

fn decode_feature(buf: &[u8]) -> Result<RawFeature, DecodeError> {
    let mut r = Reader::new(buf);
    let mut f = RawFeature {
        id: None,
        tags: Vec::new(),
        ty: 0,
        geom: Vec::new(),
    };
    while !r.done() {
        match r.key()? {
            (1, 0) => f.id = Some(r.varint("feature id")?),
            (2, 2) => f.tags = packed(r.bytes("tags")?, "tags")?,
            (3, 0) => f.ty = r.varint("geometry type")?,
            (4, 2) => f.geom = packed(r.bytes("geometry")?, "geometry")?,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(f)
}

fn decode_value(buf: &[u8]) -> Result<Value, DecodeError> {
    let mut r = Reader::new(buf);
    let mut v = Value::Null;
    while !r.done() {
        v = match r.key()? {
            (1, 2) => Value::String(utf8(r.bytes("string value")?, "string value")?),
            (2, 5) => Value::Float(f32::from_le_bytes(r.fixed::<4>("float value")?)),
            (3, 1) => Value::Double(f64::from_le_bytes(r.fixed::<8>("double value")?)),
            (4, 0) => Value::Int(r.varint("int value")? as i64),
            (5, 0) => Value::UInt(r.varint("uint value")?),
            (6, 0) => {
                let z = r.varint("sint value")?;
                Value::Int((z >> 1) as i64 ^ -((z & 1) as i64))
            }
            (7, 0) => Value::Bool(r.varint("bool value")? != 0),
            (_, w) => {
                r.skip(w)?;
                continue;
            }
        };
    }
    Ok(v)
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn area2(r: &[(i32, i32)]) -> i64 {
    let Some(&last) = r.last() else { return 0 };
    let mut prev = last;
    let mut s = 0i64;
    for &p in r {
        s += i64::from(prev.0) * i64::from(p.1) - i64::from(p.0) * i64::from(prev.1);
        prev = p;
    }
    s
}

fn decode_geometry(ty: GeomType, cmds: &[u32]) -> Result<DecodedGeometry, DecodeError> {
    let (mut x, mut y) = (0i32, 0i32);
    let mut parts: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut closed: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < cmds.len() {
        let (id, count) = (cmds[i] & 7, (cmds[i] >> 3) as usize);
        i += 1;
        match id {
            1 | 2 => {
                if id == 2 && parts.is_empty() {
                    return Err(DecodeError::Geometry("LineTo before MoveTo"));
                }
                let need = count
                    .checked_mul(2)
                    .ok_or(DecodeError::Geometry("command count overflow"))?;
                let params = cmds
                    .get(i..i + need)
                    .ok_or(DecodeError::Geometry("missing command parameters"))?;
                i += need;
                for p in params.chunks(2) {
                    x = x.wrapping_add(unzigzag(p[0]));
                    y = y.wrapping_add(unzigzag(p[1]));
                    if id == 1 {
                        parts.push(Vec::new());
                        closed.push(false);
                    }
                    if let Some(last) = parts.last_mut() {
                        last.push((x, y));
                    }
                }
            }
            7 => {
                match closed.last_mut() {
                    Some(c) => *c = true,
                    None => return Err(DecodeError::Geometry("ClosePath before MoveTo")),
                };
            }
            _ => return Err(DecodeError::Geometry("unknown command id")),
        }
    }
    Ok(match ty {
        GeomType::Point => DecodedGeometry::Points(parts.into_iter().flatten().collect()),
        GeomType::LineString => DecodedGeometry::Lines(parts),
        GeomType::Polygon => {
            let mut polys: Vec<Vec<Vec<(i32, i32)>>> = Vec::new();
            for ring in parts {
                let a = area2(&ring);
                if a > 0 || polys.is_empty() {
                    polys.push(vec![ring]);
                } else if let Some(p) = polys.last_mut() {
                    p.push(ring);
                }
            }
            DecodedGeometry::Polygons(polys)
        }
        GeomType::Unknown => DecodedGeometry::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[0x1A, 0xFF][..],
            &[0x1A, 0x02, 0x12, 0x05],
            &[0xFF; 12],
            &[0x1A, 0x04, 0x12, 0x02, 0x22, 0x01],
            &[0x0B],
        ] {
            assert!(decode_tile(bytes).is_err(), "{bytes:?}");
        }
        assert_eq!(decode_tile(&[]), Ok(vec![]));
    }

    #[test]
    fn spec_point_example() {
        // Feature geometry from the spec: MoveTo(25, 17).
        let g = decode_geometry(GeomType::Point, &[9, 50, 34]).expect("valid");
        assert_eq!(g, DecodedGeometry::Points(vec![(25, 17)]));
    }
}
