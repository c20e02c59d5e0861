//! Writing whole layers: GeoJSON features of the spatial layers, and people, staff and the
//! walking network already parsed into rows (reading files and CSV belongs to the top-level
//! `import` module). An import is one transaction: every feature or row is checked, every
//! problem is reported with its index, and nothing is written unless all of them pass.
//!
//! This file holds what every import of a layer shares (feature properties, shape checks,
//! the audit entry; `problems` holds what the party import shares with them too); the layers are in `places` (regions, communities, grids),
//! `buildings` (compounds, buildings, stations), `people` (people and staff) and `network`.

mod buildings;
mod network;
mod people;
mod places;
mod problems;

pub use people::{PeopleColumns, StaffRow};
pub use problems::Problems;
pub(crate) use problems::{missing, refuse_unknown, Table};

use super::audit::{Actor, Entry};
use super::bulk::{self, Column};
use super::write::Write;
use super::{wkb, DbContext, Store, StoreError};
use crate::spatial::shape::{
    area_from_geojson, off_runtime, read_area, vertex_count, AreaError, ShapeError, ShapeLimits,
};
use crate::store::changes::ChangeLayer;
use geojson::{Feature, FeatureCollection, JsonObject};
use serde::Serialize;
use sqlx::PgConnection;
use std::ops::Range;

/// Rows per INSERT statement in bulk loads.
const CHUNK: usize = 2_000;

/// Time allowed to check the shapes of one import on the work pool.
const SHAPES_BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

/// The checked shape of each feature's area geometry (`None` without a geometry).
type Areas = Vec<Option<Result<geo::MultiPolygon<f64>, ShapeError>>>;

/// Checks the shapes of every feature off the async workers (on the work pool, or inline
/// when they are small), before the import's rows are built: the O(n log n) validation
/// of a whole layer must not stall a runtime thread.
async fn checked_areas(fc: FeatureCollection) -> Result<(FeatureCollection, Areas), StoreError> {
    let vertices = fc
        .features
        .iter()
        .filter_map(|f| f.geometry.as_ref())
        .map(vertex_count)
        .fold(0usize, usize::saturating_add);
    let out = off_runtime(vertices, SHAPES_BUDGET, move || {
        let mut areas = Vec::with_capacity(fc.features.len());
        for f in &fc.features {
            crate::work::checkpoint()?;
            areas.push(match &f.geometry {
                None => None,
                Some(g) => match read_area(g, &ShapeLimits::NONE) {
                    Ok(m) => Some(Ok(m)),
                    Err(AreaError::Shape(e)) => Some(Err(e)),
                    Err(AreaError::Expired(e)) => return Err(e),
                },
            });
        }
        Ok((fc, areas))
    })
    .await?;
    Ok(out)
}

/// Checks the shapes of every feature of `fc`, then reads each with `read` (the problems
/// to note, the checked shapes, its index, the feature); fails with every problem noted.
async fn read_features(
    fc: FeatureCollection,
    mut read: impl FnMut(&mut Problems, &mut Areas, usize, &Feature) + Send,
) -> Result<(), StoreError> {
    let (fc, mut areas) = checked_areas(fc).await?;
    let mut p = Problems::default();
    for (i, f) in fc.features.iter().enumerate() {
        read(&mut p, &mut areas, i, f);
    }
    p.check()
}

/// The checked area of feature `i` (checked again here only if it was not before).
fn area(
    areas: &mut Areas,
    i: usize,
    g: &geojson::Geometry,
) -> Result<geo::MultiPolygon<f64>, ShapeError> {
    match areas.get_mut(i).and_then(Option::take) {
        Some(r) => r,
        None => area_from_geojson(g),
    }
}

/// The area geometry feature `i` must have, checked (a problem's message if it is
/// missing or bad).
fn required_area(
    areas: &mut Areas,
    i: usize,
    f: &Feature,
) -> Result<geo::MultiPolygon<f64>, String> {
    geometry(f).and_then(|g| area(areas, i, g).map_err(|e| format!("geometry: {e} at {}", e.path)))
}

/// The area geometry feature `i` may have, checked, as WKB (a problem's message if bad).
fn optional_area(areas: &mut Areas, i: usize, f: &Feature) -> Result<Option<Vec<u8>>, String> {
    match &f.geometry {
        None => Ok(None),
        Some(g) => area(areas, i, g)
            .map(|m| Some(wkb::encode_area(&m)))
            .map_err(|e| format!("geometry: {e} at {}", e.path)),
    }
}

/// The id of the row `sql` finds by `code` (its one parameter), if there is one.
async fn id_by_code(
    tx: &mut PgConnection,
    sql: &'static str,
    code: &str,
    doing: &'static str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(sql)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx(doing)
}

/// A layer's bulk insert: its statement (see [`bulk::execute`]) and how a duplicate code
/// is named in the refusal.
struct Insert {
    /// The statement, over the columns' arrays.
    sql: &'static str,
    /// The field holding the code.
    field: &'static str,
    /// What the code names, e.g. `a building`.
    what: &'static str,
}

impl Insert {
    /// Inserts rows `r` of `columns`, then reports that they are done of `total`.
    async fn chunk(
        &self,
        tx: &mut PgConnection,
        columns: &[&dyn Column],
        r: Range<usize>,
        (progress, total): (&(dyn Fn(usize, usize) + Sync), usize),
    ) -> Result<(), StoreError> {
        let res = bulk::execute(tx, self.sql, columns, r.clone()).await;
        unique_violation(res, r.start, self.field, self.what)?;
        progress(r.end, total);
        Ok(())
    }
}

/// The refusal of item `i` for a reason that stops the import.
fn item(i: usize, reason: String) -> StoreError {
    StoreError::Items(vec![(i, reason)])
}

/// Ends an import of `count` rows: one audit entry for the whole file (`entity`), a
/// change-log record for `layer`, the commit; what it returns is the count.
async fn finish_import(
    tx: Write<'_>,
    (entity, layer): (&str, ChangeLayer),
    count: usize,
    committing: &'static str,
) -> Written {
    let entry = Entry::import(entity, count);
    tx.finish(entry, (layer, &[]), committing).await?;
    Ok(count)
}

/// Who imports a layer and how far it is: `progress(done, total)` is called as rows are
/// written.
struct Job<'a> {
    actor: &'a Actor,
    progress: &'a (dyn Fn(usize, usize) + Sync),
}

/// What a layer's importer returns: the number of rows written.
type Written = Result<usize, StoreError>;

/// A layer that can be imported from GeoJSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Zones, towns and street offices.
    Regions,
    /// Communities.
    Communities,
    /// First- and second-level grids.
    Grids,
    /// Compounds.
    Compounds,
    /// Buildings.
    Buildings,
    /// Service stations.
    Stations,
}

impl Layer {
    /// Parses a layer name as used in URLs and on the command line.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "regions" => Self::Regions,
            "communities" => Self::Communities,
            "grids" => Self::Grids,
            "compounds" => Self::Compounds,
            "buildings" => Self::Buildings,
            "stations" => Self::Stations,
            _ => return None,
        })
    }

    /// The layer's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regions => "regions",
            Self::Communities => "communities",
            Self::Grids => "grids",
            Self::Compounds => "compounds",
            Self::Buildings => "buildings",
            Self::Stations => "stations",
        }
    }
}

/// What an import wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// The layer.
    pub layer: String,
    /// Rows written.
    pub count: usize,
}

fn props(f: &Feature) -> Option<&JsonObject> {
    f.properties.as_ref()
}

fn text(f: &Feature, key: &str) -> Result<String, String> {
    match props(f).and_then(|p| p.get(key)) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("properties.{key}: a non-empty string is required")),
    }
}

fn opt_text(f: &Feature, key: &str) -> Option<String> {
    match props(f).and_then(|p| p.get(key)) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn int(f: &Feature, key: &str, default: Option<i64>) -> Result<i64, String> {
    match props(f).and_then(|p| p.get(key)) {
        Some(v) => v
            .as_i64()
            .filter(|n| (0..=i64::from(i32::MAX)).contains(n))
            .ok_or_else(|| format!("properties.{key}: a non-negative whole number is required")),
        None => default.ok_or_else(|| format!("properties.{key}: required")),
    }
}

fn opt_f64(f: &Feature, key: &str) -> Option<f64> {
    props(f)
        .and_then(|p| p.get(key))
        .and_then(serde_json::Value::as_f64)
}

fn geometry(f: &Feature) -> Result<&geojson::Geometry, String> {
    f.geometry
        .as_ref()
        .ok_or_else(|| "geometry: required".to_string())
}

impl Store {
    /// Imports a GeoJSON layer. `progress(done, total)` is called as features are written.
    pub async fn import_layer(
        &self,
        layer: Layer,
        fc: FeatureCollection,
        tolerance_m2: f64,
        actor: &Actor,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Imported, StoreError> {
        let total = fc.features.len();
        if total == 0 {
            return Err(nothing_to_import("features"));
        }
        let job = Job { actor, progress };
        let count = match layer {
            Layer::Grids => self.import_grids(actor, fc, tolerance_m2).await?,
            Layer::Regions => self.import_regions(&job, fc).await?,
            Layer::Communities => self.import_communities(&job, fc).await?,
            Layer::Compounds => self.import_compounds(&job, fc).await?,
            Layer::Buildings => self.import_buildings(&job, fc).await?,
            Layer::Stations => self.import_stations(&job, fc).await?,
        };
        progress(total, total);
        Ok(Imported {
            layer: layer.as_str().to_string(),
            count,
        })
    }
}

/// Turns a unique-key violation into a 409 that names the duplicate, other errors into
/// database errors.
fn unique_violation<T>(
    res: Result<T, sqlx::Error>,
    index: usize,
    field: &str,
    what: &str,
) -> Result<T, StoreError> {
    match res {
        Ok(v) => Ok(v),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(format!(
                "{field}: {what} already exists (item {index} or later): {}",
                e.message()
            )))
        }
        Err(e) => Err(StoreError::db("importing", e)),
    }
}

/// A store error as a command-line tool prints it, with every listed problem.
pub fn describe(e: &StoreError) -> String {
    match e {
        StoreError::Items(items) => {
            let mut s = format!("{e}:");
            for (i, m) in items {
                s.push_str(&format!("\n  item {i}: {m}"));
            }
            s
        }
        StoreError::Partition { faults, .. } => {
            let mut s = format!("{e}:");
            for f in faults {
                s.push_str(&format!(
                    "\n  {} of {:.2} m² in {}",
                    f.fault.kind, f.fault.area_m2, f.parent_code
                ));
            }
            s
        }
        other => other.to_string(),
    }
}

/// The refusal of an import that holds nothing: it would change nothing, yet be logged.
fn nothing_to_import(what: &str) -> StoreError {
    crate::domain::FieldError::new(
        what,
        format!("the input holds no {what}: nothing to import"),
    )
    .into()
}
