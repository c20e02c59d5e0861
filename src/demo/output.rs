//! Writing the data contract: GeoJSON layers, `people.csv.gz`, `staff.csv`.
//!
//! Owns the projection from local metres to WGS 84 longitude/latitude, the 7-decimal rounding
//! and the exact byte layout of every file (one feature per line). It makes no random choices.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use geojson::{Feature, Geometry, GeometryValue, JsonObject, JsonValue};

use super::geom::Pt;
use super::trace::{trace, NodePolygon};
use super::DemoError;

/// Longitude of the centre of tile 0 (the real 盘龙镇 area).
pub(crate) const LON0: f64 = 105.700;
/// Latitude of the centre of tile 0.
pub(crate) const LAT0: f64 = 32.400;
/// Distance between tile centres, east-west, in metres.
const PITCH_X: f64 = 4200.0;
/// Distance between tile centres, north-south, in metres.
const PITCH_Y: f64 = 4200.0;

/// Rounds a degree value to 7 decimals (about 1 cm).
pub(crate) fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Local metres of one tile to rounded longitude/latitude.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Projection {
    dx: f64,
    dy: f64,
}

impl Projection {
    /// The projection of tile `tile` when tiles are laid out in rows of `cols`.
    pub(crate) fn tile(tile: usize, cols: usize) -> Self {
        Projection {
            dx: (tile % cols) as f64 * PITCH_X,
            dy: -((tile / cols) as f64) * PITCH_Y,
        }
    }

    /// Longitude/latitude, rounded to 7 decimals.
    pub(crate) fn lonlat(&self, p: Pt) -> [f64; 2] {
        let lat_m = 110_574.0;
        let lon_m = 111_320.0 * LAT0.to_radians().cos();
        [
            round7(LON0 + (p.x + self.dx) / lon_m),
            round7(LAT0 + (p.y + self.dy) / lat_m),
        ]
    }
}

/// A GeoJSON FeatureCollection written one feature per line.
pub(crate) struct Layer {
    w: BufWriter<File>,
    path: PathBuf,
    /// Features written so far.
    pub count: usize,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Layer {
    /// Creates `dir/name` and writes the collection header.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<Self, DemoError> {
        let path = dir.join(name);
        let f = File::create(&path).map_err(io_err(&path))?;
        let mut w = BufWriter::new(f);
        w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
            .map_err(io_err(&path))?;
        Ok(Layer { w, path, count: 0 })
    }

    /// Appends one feature.
    pub(crate) fn write(
        &mut self,
        geometry: GeometryValue,
        properties: JsonObject,
    ) -> Result<(), DemoError> {
        let feature = Feature {
            bbox: None,
            geometry: Some(Geometry::new(geometry)),
            id: None,
            properties: Some(properties),
            foreign_members: None,
        };
        if self.count > 0 {
            self.w.write_all(b",\n").map_err(io_err(&self.path))?;
        }
        serde_json::to_writer(&mut self.w, &feature).map_err(|source| DemoError::Json {
            path: self.path.clone(),
            source,
        })?;
        self.count += 1;
        Ok(())
    }

    /// Closes the collection and flushes the file; returns the feature count.
    pub(crate) fn finish(mut self) -> Result<usize, DemoError> {
        let tail: &[u8] = if self.count > 0 { b"\n]}\n" } else { b"]}\n" };
        self.w.write_all(tail).map_err(io_err(&self.path))?;
        self.w.flush().map_err(io_err(&self.path))?;
        Ok(self.count)
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Gz(GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn w(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gz(w) => w,
        }
    }
}

/// A plain CSV file, optionally gzip-compressed.
pub(crate) struct Csv {
    w: Sink,
    path: PathBuf,
    /// Data rows written so far.
    pub count: usize,
}

impl Csv {
    /// Creates `dir/name` and writes the header line.
    pub(crate) fn create(
        dir: &Path,
        name: &str,
        header: &str,
        gzip: bool,
    ) -> Result<Self, DemoError> {
        let path = dir.join(name);
        let f = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
        let mut w = if gzip {
            // GzEncoder writes mtime 0 and no file name: the bytes depend on the content only.
            Sink::Gz(GzEncoder::new(f, Compression::default()))
        } else {
            Sink::Plain(f)
        };
        writeln!(w.w(), "{header}").map_err(io_err(&path))?;
        Ok(Csv { w, path, count: 0 })
    }

    /// Appends one row; fields are quoted when they need it.
    pub(crate) fn row(&mut self, fields: &[&str]) -> Result<(), DemoError> {
        let mut line = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            if f.contains([',', '"', '\n']) {
                line.push('"');
                line.push_str(&f.replace('"', "\"\""));
                line.push('"');
            } else {
                line.push_str(f);
            }
        }
        line.push('\n');
        self.w
            .w()
            .write_all(line.as_bytes())
            .map_err(io_err(&self.path))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes (and finishes the gzip stream); returns the row count.
    pub(crate) fn finish(self) -> Result<usize, DemoError> {
        let err = io_err(&self.path);
        let mut f = match self.w {
            Sink::Plain(f) => f,
            Sink::Gz(g) => g.finish().map_err(&err)?,
        };
        f.flush().map_err(&err)?;
        Ok(self.count)
    }
}

/// Rings of node polygons as closed coordinate rings.
pub(crate) fn polygon_coords(
    polys: &[NodePolygon],
    lonlat: &dyn Fn(usize) -> [f64; 2],
) -> Vec<Vec<Vec<[f64; 2]>>> {
    let ring = |r: &[usize]| -> Vec<[f64; 2]> {
        let mut v: Vec<[f64; 2]> = r.iter().map(|&n| lonlat(n)).collect();
        v.push(v[0]);
        v
    };
    polys
        .iter()
        .map(|p| {
            std::iter::once(ring(&p.exterior))
                .chain(p.holes.iter().map(|h| ring(h)))
                .collect()
        })
        .collect()
}

/// GeoJSON geometry of a union of lattice faces: a Polygon if it is one piece.
pub(crate) fn faces_geometry<'a>(
    faces: impl IntoIterator<Item = &'a [usize]>,
    nodes: &[Pt],
    lonlat: &dyn Fn(usize) -> [f64; 2],
    force_multi: bool,
) -> GeometryValue {
    let polys = trace(faces, nodes);
    let coords = polygon_coords(&polys, lonlat);
    if coords.len() == 1 && !force_multi {
        GeometryValue::new_polygon(coords.into_iter().next().expect("one polygon"))
    } else {
        GeometryValue::new_multi_polygon(coords)
    }
}

/// A JSON properties object from (key, value) pairs.
pub(crate) fn props(pairs: Vec<(&str, JsonValue)>) -> JsonObject {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Writes `party.json`: one object with a list per section, one record per line.
pub(crate) fn write_party(
    dir: &Path,
    party: &crate::domain::party::PartyFile,
) -> Result<(), DemoError> {
    let path = dir.join("party.json");
    let json_err = |source| DemoError::Json {
        path: path.clone(),
        source,
    };
    let value = serde_json::to_value(party).map_err(json_err)?;
    let mut w = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
    let mut text = String::from("{");
    if let JsonValue::Object(sections) = value {
        for (k, (name, list)) in sections.iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            text.push_str(&format!("\n{}:[", JsonValue::String(name.clone())));
            let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                text.push_str(if i == 0 { "\n" } else { ",\n" });
                text.push_str(&serde_json::to_string(item).map_err(json_err)?);
            }
            text.push_str(if items.is_empty() { "]" } else { "\n]" });
        }
    }
    text.push_str("\n}\n");
    w.write_all(text.as_bytes()).map_err(io_err(&path))?;
    w.flush().map_err(io_err(&path))
}
