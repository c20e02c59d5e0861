//! Importing whole layers from GeoJSON (and people and staff from CSV). An import is one
//! transaction: every feature is checked, every problem is reported with the feature's
//! index, and nothing is written unless all of them pass.

use super::audit::{self, Actor, Entry};
use super::grids::{GridChange, NewGrid};
use super::{changes, wkb, DbContext, Store, StoreError};
use crate::domain::hierarchy::{check_community_code, check_name};
use crate::domain::{CompoundKind, GridLevel, Membership, RegionKind, StationKind};
use crate::spatial::shape::{
    area_from_geojson, off_runtime, point_from_geojson, read_area, vertex_count, AreaError,
    ShapeError, ShapeLimits,
};
use geojson::{Feature, FeatureCollection, JsonObject};
use serde::Serialize;
use std::io::Read;

/// Most problems listed in one refusal.
const MAX_ERRORS: usize = 100;
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

/// Collects per-feature problems.
#[derive(Default)]
struct Problems(Vec<(usize, String)>);

impl Problems {
    fn add(&mut self, i: usize, msg: impl Into<String>) {
        if self.0.len() < MAX_ERRORS {
            self.0.push((i, msg.into()));
        }
    }
    fn check(self) -> Result<(), StoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Items(self.0))
        }
    }
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
            .filter(|n| (0..=i32::MAX as i64).contains(n))
            .ok_or_else(|| format!("properties.{key}: a non-negative whole number is required")),
        None => default.ok_or_else(|| format!("properties.{key}: required")),
    }
}

fn opt_f64(f: &Feature, key: &str) -> Option<f64> {
    props(f).and_then(|p| p.get(key)).and_then(|v| v.as_f64())
}

fn geometry(f: &Feature) -> Result<&geojson::Geometry, String> {
    f.geometry
        .as_ref()
        .ok_or_else(|| "geometry: required".to_string())
}

/// Reads a GeoJSON FeatureCollection from a file.
pub fn read_collection(path: &std::path::Path) -> Result<FeatureCollection, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.parse::<geojson::GeoJson>()
        .map_err(|e| format!("{} is not GeoJSON: {e}", path.display()))
        .and_then(|g| {
            FeatureCollection::try_from(g)
                .map_err(|e| format!("{} is not a FeatureCollection: {e}", path.display()))
        })
}

/// The files of a demo or export folder, in the order they must be loaded.
pub const DIR_LAYERS: [(&str, &str); 10] = [
    ("regions", "regions.geojson"),
    ("communities", "communities.geojson"),
    ("grids", "grids.geojson"),
    ("compounds", "compounds.geojson"),
    ("buildings", "buildings.geojson"),
    ("stations", "stations.geojson"),
    ("people", "people.csv.gz"),
    ("staff", "staff.csv"),
    ("streets", "streets.geojson"),
    ("party", "party.json"),
];

impl Store {
    /// Imports one file into a layer: GeoJSON for the spatial layers, CSV for `people`
    /// (optionally gzipped) and `staff`, JSON for `party`.
    pub async fn import_file(
        &self,
        layer: &str,
        file: &std::path::Path,
        tolerance_m2: f64,
        actor: &Actor,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, String> {
        let open = || {
            std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))
        };
        match layer {
            "people" => {
                let f = open()?;
                let reader: Box<dyn Read> = if file.extension().is_some_and(|e| e == "gz") {
                    Box::new(flate2::read::GzDecoder::new(f))
                } else {
                    Box::new(f)
                };
                self.import_people_csv(actor, reader, progress)
                    .await
                    .map_err(|e| describe(&e))
            }
            "staff" => self
                .import_staff_csv(actor, open()?)
                .await
                .map_err(|e| describe(&e)),
            "streets" => {
                let fc = read_collection(file)?;
                self.import_network(actor, NetworkSource::Lines(&fc))
                    .await
                    .map_err(|e| describe(&e))
            }
            "osm" => self
                .import_network(actor, NetworkSource::OsmPbf(file))
                .await
                .map_err(|e| describe(&e)),
            "party" => self
                .import_party_json(actor, open()?)
                .await
                .map_err(|e| describe(&e)),
            other => {
                let layer = Layer::parse(other).ok_or_else(|| {
                    format!("unknown layer {other:?}: use regions, communities, grids, compounds, buildings, stations, streets, osm, people, staff or party")
                })?;
                let fc = read_collection(file)?;
                self.import_layer(layer, fc, tolerance_m2, actor, progress)
                    .await
                    .map(|i| i.count)
                    .map_err(|e| describe(&e))
            }
        }
    }

    /// Loads every layer file of a folder (see [`DIR_LAYERS`]); `progress(layer, done, total)`.
    pub async fn import_dir(
        &self,
        dir: &std::path::Path,
        tolerance_m2: f64,
        actor: &Actor,
        progress: &(dyn Fn(&str, usize, usize) + Sync),
    ) -> Result<(), String> {
        for (layer, file) in DIR_LAYERS {
            let path = dir.join(file);
            if !path.exists() {
                return Err(format!("{} is missing", path.display()));
            }
            self.import_file(layer, &path, tolerance_m2, actor, &|d, t| {
                progress(layer, d, t)
            })
            .await?;
        }
        Ok(())
    }
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
        let count = match layer {
            Layer::Grids => self.import_grids(actor, fc, tolerance_m2).await?,
            Layer::Regions => self.import_regions(actor, fc).await?,
            Layer::Communities => self.import_communities(actor, fc).await?,
            Layer::Compounds => self.import_compounds(actor, fc, progress).await?,
            Layer::Buildings => self.import_buildings(actor, fc, progress).await?,
            Layer::Stations => self.import_stations(actor, fc).await?,
        };
        progress(total, total);
        Ok(Imported {
            layer: layer.as_str().to_string(),
            count,
        })
    }

    async fn import_grids(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
        tolerance_m2: f64,
    ) -> Result<usize, StoreError> {
        let (fc, mut areas) = checked_areas(fc).await?;
        let mut p = Problems::default();
        let mut batch = Vec::with_capacity(fc.features.len());
        for (i, f) in fc.features.iter().enumerate() {
            let level = match int(f, "level", None).map(GridLevel::from_number) {
                Ok(Some(l)) => l,
                _ => {
                    p.add(i, "properties.level: must be 1 or 2");
                    continue;
                }
            };
            let geom = match geometry(f).and_then(|g| {
                area(&mut areas, i, g).map_err(|e| format!("geometry: {e} at {}", e.path))
            }) {
                Ok(g) => g,
                Err(e) => {
                    p.add(i, e);
                    continue;
                }
            };
            match (text(f, "code"), text(f, "name"), text(f, "parent_code")) {
                (Ok(code), Ok(name), Ok(parent_code)) => batch.push(GridChange::Create(NewGrid {
                    code,
                    name,
                    level,
                    parent_code,
                    geom,
                })),
                (a, b, c) => {
                    for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                }
            }
        }
        p.check()?;
        // First-level grids before their children.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| match &batch[i] {
            GridChange::Create(g) => g.level.number(),
            _ => 0,
        });
        let sorted: Vec<GridChange> = order.iter().map(|&i| batch[i].clone()).collect();
        let n = sorted.len();
        self.apply_grid_changes(sorted, tolerance_m2, actor)
            .await
            .map_err(|e| match e {
                StoreError::Items(items) => {
                    StoreError::Items(items.into_iter().map(|(i, m)| (order[i], m)).collect())
                }
                other => other,
            })?;
        Ok(n)
    }

    async fn import_regions(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
    ) -> Result<usize, StoreError> {
        let (fc, mut areas) = checked_areas(fc).await?;
        let mut p = Problems::default();
        let mut rows = Vec::new();
        for (i, f) in fc.features.iter().enumerate() {
            let kind = opt_text(f, "kind").and_then(|k| RegionKind::parse(&k));
            let geom = match &f.geometry {
                None => None,
                Some(g) => match area(&mut areas, i, g) {
                    Ok(m) => Some(wkb::encode_area(&m)),
                    Err(e) => {
                        p.add(i, format!("geometry: {e} at {}", e.path));
                        continue;
                    }
                },
            };
            match (text(f, "code"), text(f, "name"), kind) {
                (Ok(code), Ok(name), Some(kind)) => {
                    rows.push((code, name, kind, opt_text(f, "parent_code"), geom))
                }
                (a, b, k) => {
                    for e in [a.err(), b.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                    if k.is_none() {
                        p.add(i, "properties.kind: must be zone, town or street_office");
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        for (i, (code, name, kind, parent, geom)) in rows.iter().enumerate() {
            let parent_id: Option<i64> = match parent {
                None => None,
                Some(pc) => Some(
                    sqlx::query_scalar("SELECT id FROM regions WHERE code = $1")
                        .bind(pc)
                        .fetch_optional(&mut *tx)
                        .await
                        .ctx("finding a parent region")?
                        .ok_or_else(|| {
                            StoreError::Items(vec![(
                                i,
                                format!("properties.parent_code: no region {pc}"),
                            )])
                        })?,
                ),
            };
            let res = sqlx::query(
                "INSERT INTO regions (code, name, kind, parent_id, geom) \
                 VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)))",
            )
            .bind(code)
            .bind(name)
            .bind(kind.as_str())
            .bind(parent_id)
            .bind(geom)
            .execute(&mut *tx)
            .await;
            unique_violation(res, i, "properties.code", code)?;
        }
        audit_import(&mut tx, actor, "regions", rows.len()).await?;
        changes::record(&mut tx, "all", &[]).await?;
        tx.commit().await.ctx("committing regions")?;
        Ok(rows.len())
    }

    async fn import_communities(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
    ) -> Result<usize, StoreError> {
        let (fc, mut areas) = checked_areas(fc).await?;
        let mut p = Problems::default();
        let mut rows = Vec::new();
        for (i, f) in fc.features.iter().enumerate() {
            let geom = match geometry(f).and_then(|g| {
                area(&mut areas, i, g).map_err(|e| format!("geometry: {e} at {}", e.path))
            }) {
                Ok(g) => g,
                Err(e) => {
                    p.add(i, e);
                    continue;
                }
            };
            match (text(f, "code"), text(f, "name"), text(f, "region_code")) {
                (Ok(code), Ok(name), Ok(region)) => {
                    if let Err(e) = check_community_code(&code, "properties.code") {
                        p.add(i, e.to_string());
                    }
                    rows.push((code, name, region, wkb::encode_area(&geom)));
                }
                (a, b, c) => {
                    for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        for (i, (code, name, region, geom)) in rows.iter().enumerate() {
            let region_id: i64 = sqlx::query_scalar("SELECT id FROM regions WHERE code = $1")
                .bind(region)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a region")?
                .ok_or_else(|| {
                    StoreError::Items(vec![(
                        i,
                        format!("properties.region_code: no region {region}"),
                    )])
                })?;
            let res = sqlx::query(
                "INSERT INTO communities (code, name, region_id, geom) VALUES ($1, $2, $3, ST_Multi(ST_GeomFromWKB($4, 4326)))",
            )
            .bind(code)
            .bind(name)
            .bind(region_id)
            .bind(geom)
            .execute(&mut *tx)
            .await;
            unique_violation(res, i, "properties.code", code)?;
        }
        audit_import(&mut tx, actor, "communities", rows.len()).await?;
        changes::record(&mut tx, "communities", &[]).await?;
        tx.commit().await.ctx("committing communities")?;
        Ok(rows.len())
    }

    async fn import_compounds(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, StoreError> {
        let (fc, mut areas) = checked_areas(fc).await?;
        let mut p = Problems::default();
        let (mut code, mut name, mut kind, mut occ, mut year, mut comm, mut geom) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (i, f) in fc.features.iter().enumerate() {
            let g = match &f.geometry {
                None => None,
                Some(g) => match area(&mut areas, i, g) {
                    Ok(m) => Some(wkb::encode_area(&m)),
                    Err(e) => {
                        p.add(i, format!("geometry: {e} at {}", e.path));
                        continue;
                    }
                },
            };
            let k = opt_text(f, "kind").and_then(|k| CompoundKind::parse(&k));
            let o = opt_f64(f, "occupancy_rate");
            if o.is_some_and(|o| !(0.0..=1.0).contains(&o)) {
                p.add(i, "properties.occupancy_rate: must be between 0 and 1");
            }
            match (
                text(f, "code"),
                text(f, "name"),
                text(f, "community_code"),
                k,
            ) {
                (Ok(c), Ok(n), Ok(cc), Some(k)) => {
                    code.push(c);
                    name.push(n);
                    kind.push(k.as_str().to_string());
                    occ.push(o);
                    year.push(
                        int(f, "built_year", Some(0))
                            .ok()
                            .filter(|y| *y > 0)
                            .map(|y| y as i32),
                    );
                    comm.push(cc);
                    geom.push(g);
                }
                (a, b, c, k) => {
                    for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                    if k.is_none() {
                        p.add(
                            i,
                            "properties.kind: must be residential, commercial or other",
                        );
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let total = code.len();
        for start in (0..total).step_by(CHUNK) {
            let end = (start + CHUNK).min(total);
            let codes: Vec<Option<&str>> =
                comm[start..end].iter().map(|c| Some(c.as_str())).collect();
            unknown_refs(
                &mut tx,
                Ref::Community,
                &codes,
                start,
                "properties.community_code",
            )
            .await?;
            let res = sqlx::query(
                "INSERT INTO compounds (code, name, kind, occupancy_rate, built_year, community_id, geom) \
                 SELECT t.code, t.name, t.kind, t.occ, t.year, c.id, ST_Multi(ST_GeomFromWKB(t.geom, 4326)) \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int[], $6::text[], $7::bytea[]) \
                   AS t(code, name, kind, occ, year, comm, geom) \
                 JOIN communities c ON c.code = t.comm",
            )
            .bind(&code[start..end])
            .bind(&name[start..end])
            .bind(&kind[start..end])
            .bind(&occ[start..end])
            .bind(&year[start..end])
            .bind(&comm[start..end])
            .bind(&geom[start..end])
            .execute(&mut *tx)
            .await;
            unique_violation(res, start, "properties.code", "a compound")?;
            progress(end, total);
        }
        audit_import(&mut tx, actor, "compounds", total).await?;
        changes::record(&mut tx, "all", &[]).await?;
        tx.commit().await.ctx("committing compounds")?;
        Ok(total)
    }

    async fn import_buildings(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, StoreError> {
        let (fc, mut areas) = checked_areas(fc).await?;
        let mut p = Problems::default();
        let mut cols = BuildingColumns::default();
        for (i, f) in fc.features.iter().enumerate() {
            let g = match geometry(f).and_then(|g| {
                area(&mut areas, i, g).map_err(|e| format!("geometry: {e} at {}", e.path))
            }) {
                Ok(g) => g,
                Err(e) => {
                    p.add(i, e);
                    continue;
                }
            };
            let numbers = (
                int(f, "households", Some(0)),
                int(f, "residents", Some(0)),
                int(f, "employees", Some(0)),
            );
            match (text(f, "code"), numbers) {
                (Ok(code), (Ok(h), Ok(r), Ok(e))) => {
                    cols.code.push(code);
                    cols.name.push(opt_text(f, "name"));
                    cols.address.push(opt_text(f, "address"));
                    cols.compound.push(opt_text(f, "compound_code"));
                    cols.households.push(h as i32);
                    cols.residents.push(r as i32);
                    cols.employees.push(e as i32);
                    cols.floors.push(
                        int(f, "floors", Some(0))
                            .ok()
                            .filter(|x| *x > 0)
                            .map(|x| x as i32),
                    );
                    cols.geom.push(wkb::encode_area(&g));
                }
                (c, (h, r, e)) => {
                    for e in [c.err(), h.err(), r.err(), e.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let total = cols.code.len();
        for start in (0..total).step_by(CHUNK) {
            let end = (start + CHUNK).min(total);
            let r = start..end;
            let codes: Vec<Option<&str>> = cols.compound[r.clone()]
                .iter()
                .map(|c| c.as_deref())
                .collect();
            unknown_refs(
                &mut tx,
                Ref::Compound,
                &codes,
                start,
                "properties.compound_code",
            )
            .await?;
            // Each building goes to the lowest-id second-level grid covering its anchor.
            let orphans: Vec<(i64, String)> = sqlx::query_as(
                "SELECT t.n, t.code FROM unnest($1::bytea[], $2::text[]) WITH ORDINALITY AS t(geom, code, n) \
                 WHERE NOT EXISTS (SELECT 1 FROM current_grids g WHERE g.level = 2 \
                   AND ST_Covers(g.geom, ST_PointOnSurface(ST_GeomFromWKB(t.geom, 4326)))) \
                 ORDER BY t.n LIMIT 100",
            )
            .bind(&cols.geom[r.clone()])
            .bind(&cols.code[r.clone()])
            .fetch_all(&mut *tx)
            .await
            .ctx("placing buildings in grids")?;
            if !orphans.is_empty() {
                return Err(StoreError::Items(
                    orphans
                        .into_iter()
                        .map(|(n, code)| {
                            (
                                start + n as usize - 1,
                                format!("building {code} lies outside every second-level grid"),
                            )
                        })
                        .collect(),
                ));
            }
            let res = sqlx::query(
                "INSERT INTO buildings (code, name, address, compound_id, households, residents, employees, floors, geom, grid_id) \
                 SELECT t.code, t.name, t.address, c.id, t.h, t.r, t.e, t.f, t.g, \
                   (SELECT g.id FROM current_grids g WHERE g.level = 2 AND ST_Covers(g.geom, ST_PointOnSurface(t.g)) ORDER BY g.id LIMIT 1) \
                 FROM (SELECT code, name, address, comp, h, r, e, f, ST_Multi(ST_GeomFromWKB(geom, 4326)) AS g \
                       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::bytea[]) \
                       AS u(code, name, address, comp, h, r, e, f, geom)) t \
                 LEFT JOIN compounds c ON c.code = t.comp",
            )
            .bind(&cols.code[r.clone()])
            .bind(&cols.name[r.clone()])
            .bind(&cols.address[r.clone()])
            .bind(&cols.compound[r.clone()])
            .bind(&cols.households[r.clone()])
            .bind(&cols.residents[r.clone()])
            .bind(&cols.employees[r.clone()])
            .bind(&cols.floors[r.clone()])
            .bind(&cols.geom[r.clone()])
            .execute(&mut *tx)
            .await;
            unique_violation(res, start, "properties.code", "a building")?;
            progress(end, total);
        }
        audit_import(&mut tx, actor, "buildings", total).await?;
        changes::record(&mut tx, "buildings", &[]).await?;
        tx.commit().await.ctx("committing buildings")?;
        Ok(total)
    }

    async fn import_stations(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
    ) -> Result<usize, StoreError> {
        let mut p = Problems::default();
        let (mut code, mut name, mut kind, mut comm, mut prog, mut addr, mut geom) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (i, f) in fc.features.iter().enumerate() {
            let pt = match geometry(f).and_then(|g| {
                point_from_geojson(g).map_err(|e| format!("geometry: {e} at {}", e.path))
            }) {
                Ok(g) => g,
                Err(e) => {
                    p.add(i, e);
                    continue;
                }
            };
            let k = opt_text(f, "kind").and_then(|k| StationKind::parse(&k));
            match (text(f, "code"), text(f, "name"), k) {
                (Ok(c), Ok(n), Some(k)) => {
                    code.push(c);
                    name.push(n);
                    kind.push(k.as_str().to_string());
                    comm.push(opt_text(f, "community_code"));
                    prog.push(int(f, "programmes", Some(0)).ok().map(|x| x as i32));
                    addr.push(opt_text(f, "address"));
                    geom.push(wkb::encode_point(pt));
                }
                (a, b, k) => {
                    for e in [a.err(), b.err()].into_iter().flatten() {
                        p.add(i, e);
                    }
                    if k.is_none() {
                        p.add(i, "properties.kind: not a known station kind");
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let res = sqlx::query(
            "INSERT INTO stations (code, name, kind, community_id, programmes, address, geom) \
             SELECT t.code, t.name, t.kind, c.id, t.prog, t.addr, ST_GeomFromWKB(t.geom, 4326) \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bytea[]) \
               AS t(code, name, kind, comm, prog, addr, geom) \
             LEFT JOIN communities c ON c.code = t.comm",
        )
        .bind(&code)
        .bind(&name)
        .bind(&kind)
        .bind(&comm)
        .bind(&prog)
        .bind(&addr)
        .bind(&geom)
        .execute(&mut *tx)
        .await;
        unique_violation(res, 0, "properties.code", "a station")?;
        audit_import(&mut tx, actor, "stations", code.len()).await?;
        changes::record(&mut tx, "stations", &[]).await?;
        tx.commit().await.ctx("committing stations")?;
        Ok(code.len())
    }

    /// Imports people from CSV (`code,building_code,name,sex,birth_year,phone,work_unit,household,membership`).
    pub async fn import_people_csv(
        &self,
        actor: &Actor,
        input: impl Read,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, StoreError> {
        let mut rdr = csv::Reader::from_reader(input);
        let mut p = Problems::default();
        let mut c = PeopleColumns::default();
        for (i, rec) in rdr.records().enumerate() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    p.add(i, format!("unreadable CSV row: {e}"));
                    continue;
                }
            };
            let get = |k: usize| {
                rec.get(k)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            let membership = match get(8) {
                None => Some(Membership::None),
                Some(m) => Membership::parse(&m),
            };
            let sex = get(3);
            match (get(0), get(2), membership) {
                (Some(code), Some(name), Some(m)) if sex.as_deref().is_none_or(|s| s == "M" || s == "F") => {
                    c.code.push(code);
                    c.building.push(get(1));
                    c.name.push(name);
                    c.sex.push(sex);
                    c.birth.push(get(4).and_then(|y| y.parse::<i32>().ok()));
                    c.phone.push(get(5));
                    c.work.push(get(6));
                    c.household.push(get(7));
                    c.membership.push(m.as_str().to_string());
                }
                _ => p.add(i, "a person needs a code and a name; sex is M or F; membership is full, probationary or none"),
            }
        }
        p.check()?;
        if c.code.is_empty() {
            return Err(nothing_to_import("rows"));
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let total = c.code.len();
        for start in (0..total).step_by(CHUNK * 5) {
            let end = (start + CHUNK * 5).min(total);
            let r = start..end;
            let codes: Vec<Option<&str>> =
                c.building[r.clone()].iter().map(|b| b.as_deref()).collect();
            unknown_refs(&mut tx, Ref::Building, &codes, start, "building_code").await?;
            let res = sqlx::query(
                "WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], \
                   $6::text[], $7::text[], $8::text[], $9::text[]) \
                   AS u(code, building, sex, birth, membership, name, phone, work, household)), \
                 ins AS (INSERT INTO people (code, home_building_id, sex, birth_year, membership) \
                   SELECT t.code, b.id, t.sex, t.birth, t.membership FROM t LEFT JOIN buildings b ON b.code = t.building \
                   RETURNING id, code) \
                 INSERT INTO person_details (person_id, name, phone, work_unit, household) \
                 SELECT ins.id, t.name, t.phone, t.work, t.household FROM ins JOIN t ON t.code = ins.code",
            )
            .bind(&c.code[r.clone()])
            .bind(&c.building[r.clone()])
            .bind(&c.sex[r.clone()])
            .bind(&c.birth[r.clone()])
            .bind(&c.membership[r.clone()])
            .bind(&c.name[r.clone()])
            .bind(&c.phone[r.clone()])
            .bind(&c.work[r.clone()])
            .bind(&c.household[r.clone()])
            .execute(&mut *tx)
            .await;
            unique_violation(res, start, "code", "a person")?;
            progress(end, total);
        }
        audit_import(&mut tx, actor, "people", total).await?;
        changes::record(&mut tx, "people", &[]).await?;
        tx.commit().await.ctx("committing people")?;
        Ok(total)
    }

    /// Imports staff and their grid assignments from CSV with a header row, one row per
    /// assignment. Columns by name: `code`, `name`, `grid_code` and `role` (chief or
    /// member) are required; `phone` (personal), `duty_phone`, `person_code` and
    /// `committee` may be left out. A person serving several grids keeps one code; the
    /// first row of a code gives its phones, resident and committee seat.
    pub async fn import_staff_csv(
        &self,
        actor: &Actor,
        input: impl Read,
    ) -> Result<usize, StoreError> {
        let mut rdr = csv::Reader::from_reader(input);
        let header = rdr
            .headers()
            .map_err(|e| {
                crate::domain::FieldError::new("header", format!("unreadable CSV header: {e}"))
            })?
            .clone();
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let [code_c, name_c, grid_c, role_c] = ["code", "name", "grid_code", "role"].map(col);
        let (Some(code_c), Some(name_c), Some(grid_c), Some(role_c)) =
            (code_c, name_c, grid_c, role_c)
        else {
            return Err(crate::domain::FieldError::new(
                "header",
                "a staff file needs the columns code, name, grid_code and role (and may have phone, duty_phone, person_code, committee)",
            )
            .into());
        };
        let [phone_c, duty_c, person_c, committee_c] =
            ["phone", "duty_phone", "person_code", "committee"].map(col);
        let mut p = Problems::default();
        let mut rows = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    p.add(i, format!("unreadable CSV row: {e}"));
                    continue;
                }
            };
            let get = |k: Option<usize>| {
                k.and_then(|k| rec.get(k))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            let role = get(Some(role_c)).filter(|r| r == "chief" || r == "member");
            match (
                get(Some(code_c)),
                get(Some(name_c)),
                get(Some(grid_c)),
                role,
            ) {
                (Some(code), Some(name), Some(grid), Some(role)) => {
                    if let Err(e) = check_name(&name, "name") {
                        p.add(i, e.to_string());
                    }
                    let (phone, duty) = (get(phone_c), get(duty_c));
                    for (v, what) in [(&phone, "phone"), (&duty, "duty_phone")] {
                        if v.as_ref().is_some_and(|v| {
                            v.len() > 20
                                || !v.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
                        }) {
                            p.add(
                                i,
                                format!("{what}: digits, spaces, + and - only, at most 20"),
                            );
                        }
                    }
                    let committee =
                        matches!(get(committee_c).as_deref(), Some("true" | "1" | "yes"));
                    rows.push((
                        code,
                        name,
                        phone,
                        duty,
                        get(person_c),
                        committee,
                        grid,
                        role,
                    ));
                }
                _ => p.add(
                    i,
                    "a staff row needs code, name, grid_code and role (chief or member)",
                ),
            }
        }
        p.check()?;
        if rows.is_empty() {
            return Err(nothing_to_import("rows"));
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        for (i, (code, name, phone, duty, person, committee, grid, role)) in rows.iter().enumerate()
        {
            let person_id: Option<i64> = match person {
                None => None,
                Some(pc) => Some(
                    sqlx::query_scalar("SELECT id FROM people WHERE code = $1")
                        .bind(pc)
                        .fetch_optional(&mut *tx)
                        .await
                        .ctx("finding a person")?
                        .ok_or_else(|| {
                            StoreError::Items(vec![(i, format!("person_code: no person {pc}"))])
                        })?,
                ),
            };
            let staff_id: i64 = sqlx::query_scalar(
                "INSERT INTO staff (code, name, phone, duty_phone, person_id, committee) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            )
            .bind(code)
            .bind(name)
            .bind(phone)
            .bind(duty)
            .bind(person_id)
            .bind(committee)
            .fetch_one(&mut *tx)
            .await
            .ctx("writing staff")?;
            let grid_id: i64 = sqlx::query_scalar("SELECT id FROM current_grids WHERE code = $1")
                .bind(grid)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a grid")?
                .ok_or_else(|| {
                    StoreError::Items(vec![(i, format!("grid_code: no grid {grid}"))])
                })?;
            let res = sqlx::query(
                "INSERT INTO staff_assignments (grid_id, staff_id, role) VALUES ($1, $2, $3)",
            )
            .bind(grid_id)
            .bind(staff_id)
            .bind(role)
            .execute(&mut *tx)
            .await;
            unique_violation(
                res,
                i,
                "role",
                "an assignment (one chief per grid; once per grid)",
            )?;
        }
        audit_import(&mut tx, actor, "staff", rows.len()).await?;
        changes::record(&mut tx, "staff", &[]).await?;
        tx.commit().await.ctx("committing staff")?;
        Ok(rows.len())
    }
}

#[derive(Default)]
struct BuildingColumns {
    code: Vec<String>,
    name: Vec<Option<String>>,
    address: Vec<Option<String>>,
    compound: Vec<Option<String>>,
    households: Vec<i32>,
    residents: Vec<i32>,
    employees: Vec<i32>,
    floors: Vec<Option<i32>>,
    geom: Vec<Vec<u8>>,
}

#[derive(Default)]
struct PeopleColumns {
    code: Vec<String>,
    building: Vec<Option<String>>,
    name: Vec<String>,
    sex: Vec<Option<String>>,
    birth: Vec<Option<i32>>,
    phone: Vec<Option<String>>,
    work: Vec<Option<String>>,
    household: Vec<Option<String>>,
    membership: Vec<String>,
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
        Err(e) => Err(StoreError::Db {
            what: "importing",
            source: e,
        }),
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

/// Records an import in the audit log: one entry for the whole file.
async fn audit_import(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    layer: &str,
    count: usize,
) -> Result<(), StoreError> {
    audit::write(
        tx,
        actor,
        Entry {
            action: "import",
            entity: layer,
            key: layer,
            before: None,
            after: Some(serde_json::json!({ "count": count })),
            region_id: None,
        },
    )
    .await
}

/// A table that imported rows refer to by code.
#[derive(Clone, Copy)]
enum Ref {
    Community,
    Compound,
    Building,
}

/// Refuses the first code of a chunk (starting at item `start`) that its table lacks;
/// `None` codes refer to nothing and pass.
async fn unknown_refs(
    tx: &mut sqlx::PgConnection,
    table: Ref,
    codes: &[Option<&str>],
    start: usize,
    field: &str,
) -> Result<(), StoreError> {
    let (sql, what) = match table {
        Ref::Community => (
            "SELECT c FROM unnest($1::text[]) AS c WHERE c IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM communities WHERE code = c) LIMIT 1",
            "community",
        ),
        Ref::Compound => (
            "SELECT c FROM unnest($1::text[]) AS c WHERE c IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM compounds WHERE code = c) LIMIT 1",
            "compound",
        ),
        Ref::Building => (
            "SELECT c FROM unnest($1::text[]) AS c WHERE c IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM buildings WHERE code = c) LIMIT 1",
            "building",
        ),
    };
    let missing: Option<String> = sqlx::query_scalar(sql)
        .bind(codes)
        .fetch_optional(&mut *tx)
        .await
        .ctx("checking references")?;
    match missing {
        None => Ok(()),
        Some(m) => {
            let i = start
                + codes
                    .iter()
                    .position(|c| *c == Some(m.as_str()))
                    .unwrap_or(0);
            Err(StoreError::Items(vec![(
                i,
                format!("{field}: no {what} {m}"),
            )]))
        }
    }
}

/// Where a walking network comes from.
pub enum NetworkSource<'a> {
    /// GeoJSON LineStrings with `highway` and `name` properties, split where they meet.
    Lines(&'a FeatureCollection),
    /// An OpenStreetMap PBF extract: ways usable on foot.
    OsmPbf(&'a std::path::Path),
}

impl Store {
    /// Replaces the walking network, all or nothing; returns the number of edges.
    pub async fn import_network(
        &self,
        actor: &Actor,
        source: NetworkSource<'_>,
    ) -> Result<usize, StoreError> {
        let origin = match source {
            NetworkSource::Lines(_) => "lines",
            NetworkSource::OsmPbf(_) => "osm",
        };
        let net = match source {
            NetworkSource::Lines(fc) => crate::spatial::network::Network::from_geojson(fc)
                .map_err(|e| StoreError::Items(vec![(0, e.to_string())]))?,
            NetworkSource::OsmPbf(path) => {
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || crate::spatial::osm::import_pbf(&path))
                    .await
                    .map_err(|e| {
                        StoreError::Items(vec![(0, format!("reading the PBF failed: {e}"))])
                    })?
                    .map_err(|e| StoreError::Items(vec![(0, e.to_string())]))?
            }
        };
        if net.edge_count() == 0 {
            return Err(StoreError::Items(vec![(
                0,
                "no walkable ways in the input".into(),
            )]));
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        super::network::save_network(&mut tx, &net)
            .await
            .map_err(|e| StoreError::Items(vec![(0, format!("saving the network: {e}"))]))?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('network_source', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(origin)
        .execute(&mut *tx)
        .await
        .ctx("recording the network's origin")?;
        audit_import(&mut tx, actor, "network", net.edge_count()).await?;
        changes::record(&mut tx, "network", &[]).await?;
        tx.commit().await.ctx("committing the network")?;
        Ok(net.edge_count())
    }

    /// Whether the stored walking network came from OpenStreetMap (and must be credited).
    pub async fn network_is_osm(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'network_source' AND value = 'osm')",
        )
        .fetch_one(&self.pool)
        .await
        .ctx("reading the network's origin")
    }

    /// Whether a walking network is stored.
    pub async fn has_network(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM network_edges)")
            .fetch_one(&self.pool)
            .await
            .ctx("checking the network")
    }
}
