//! Deterministic demo-district generator: 盘龙镇 of the Guangyuan Economic and Technological
//! Development Zone with its six real residents' committees, and everything else synthetic.
//!
//! Owns the demo data contract (see `data/README.md`): GeoJSON layers, `people.csv.gz`,
//! `staff.csv`, `party.json` and `manifest.json` written by [`generate`]. It is pure computation plus file
//! output: no database, no HTTP, no clock. The same [`GenerateOptions`] always give the same
//! bytes: every random choice comes from a ChaCha8 stream keyed by (seed, tile, phase), maps
//! are ordered, and coordinates are rounded to 7 decimals.
//!
//! Layout: `lattice` (streets and blocks) → `layout` (compounds, buildings) → `partition`
//! (communities, grids) → `stations`, `people`, `party` → `output`. `trace` turns unions of lattice
//! faces into polygons that share exact vertices.

mod geom;
mod lattice;
mod layout;
mod model;
mod names;
mod output;
mod partition;
mod party;
mod people;
mod stations;
mod town;
mod trace;
pub mod walks;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use geojson::{GeometryValue, JsonValue};
use rand::Rng;
use serde::Serialize;
use serde_json::json;

use model::{Membership, Town, TownSpec};
use output::{faces_geometry, props, Csv, Layer, Projection};

/// Where the statistical division codes live, relative to the project root.
pub const DEFAULT_DIVISIONS_CSV: &str = "../shared/data/guangyuan/divisions.csv";
/// Largest supported `scale` (one town per unit of scale).
pub const MAX_SCALE: u32 = 400;
const _: () = assert!(MAX_SCALE as usize <= names::MAX_SYNTHETIC_TOWNS + 1);
/// From this scale on, `people.csv.gz` holds only party members and staff-linked persons.
pub const PARTY_ONLY_FROM_SCALE: u32 = 10;
/// Code of the development zone (synthetic: the zone has no statistical code).
pub const ZONE_CODE: &str = "GYKFQ";
/// Name of the development zone.
pub const ZONE_NAME: &str = "广元经济技术开发区";
/// Statistical code of the real town, 盘龙镇.
pub const REAL_TOWN_CODE: &str = "510802102";
/// Residents the real town gets at scale 1 (households = residents / 2.7).
const RESIDENTS_PER_TOWN: f64 = 61_000.0;

/// Inputs of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of towns (1 = only 盘龙镇, about 60,000 residents each).
    pub scale: u32,
    /// The statistical division codes (`code,name,parent_code,level`).
    pub divisions_csv: PathBuf,
}

impl GenerateOptions {
    /// Options with the default divisions file path.
    pub fn new(seed: u64, scale: u32) -> Self {
        GenerateOptions {
            seed,
            scale,
            divisions_csv: PathBuf::from(DEFAULT_DIVISIONS_CSV),
        }
    }
}

impl Default for GenerateOptions {
    /// Seed 1, scale 1: the committed demo.
    fn default() -> Self {
        GenerateOptions::new(1, 1)
    }
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// `scale` outside `1..=MAX_SCALE`.
    #[error("scale must be between 1 and {MAX_SCALE}, got {0}")]
    Scale(u32),
    /// The divisions file could not be read.
    #[error("cannot read divisions file {path}: {source}")]
    DivisionsIo {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The divisions file lacks the real town or its communities.
    #[error("divisions file {path}: {what}")]
    Divisions {
        /// The file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// Writing an output file failed.
    #[error("I/O error while writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Serialising a GeoJSON feature or the manifest failed.
    #[error("JSON error while writing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The generator could not satisfy its own constraints (a bug or an extreme seed).
    #[error("layout failed: {0}")]
    Layout(String),
}

/// Feature and row counts per output file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Zone plus towns in `regions.geojson`.
    pub regions: usize,
    /// Features in `communities.geojson`.
    pub communities: usize,
    /// First-level grids in `grids.geojson`.
    pub grids_level1: usize,
    /// Second-level grids in `grids.geojson`.
    pub grids_level2: usize,
    /// Features in `compounds.geojson`.
    pub compounds: usize,
    /// Features in `buildings.geojson`.
    pub buildings: usize,
    /// Features in `stations.geojson`.
    pub stations: usize,
    /// Features in `streets.geojson`.
    pub streets: usize,
    /// Data rows in `people.csv.gz`.
    pub people_rows: usize,
    /// Data rows in `staff.csv`.
    pub staff_rows: usize,
}

/// Population totals over all towns (whether or not every person is written).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Households.
    pub households: u64,
    /// Residents.
    pub residents: u64,
    /// Residents aged 18 or more.
    pub adults: u64,
    /// Party members, full and probationary.
    pub party_members: u64,
    /// Probationary party members.
    pub probationary_members: u64,
    /// Employees of commercial and other buildings.
    pub employees: u64,
}

/// What [`generate`] wrote; also saved as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The seed used.
    pub seed: u64,
    /// The scale used.
    pub scale: u32,
    /// Year that `birth_year` ages refer to.
    pub reference_year: u32,
    /// Which residents `people.csv.gz` holds.
    pub people_rows_hold: String,
    /// Per-file counts.
    pub counts: Counts,
    /// Population totals.
    pub totals: Totals,
    /// [min lon, min lat, max lon, max lat] of all features.
    pub bbox: [f64; 4],
}

/// The real town and its residents' committees, read from the divisions file.
fn real_town(path: &Path) -> Result<(String, Vec<(String, String)>), DemoError> {
    let text = fs::read_to_string(path).map_err(|source| DemoError::DivisionsIo {
        path: path.to_path_buf(),
        source,
    })?;
    let mut town = None;
    let mut communities = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            continue;
        }
        if f[0] == REAL_TOWN_CODE {
            town = Some(f[1].to_string());
        } else if f[2] == REAL_TOWN_CODE && f[1].ends_with("社区居民委员会") {
            let name = f[1].trim_end_matches("居民委员会").to_string();
            communities.push((f[0].to_string(), name));
        }
    }
    communities.sort();
    let missing = |what: &str| DemoError::Divisions {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let town = town.ok_or_else(|| missing("town 510802102 not found"))?;
    if communities.len() < 3 {
        return Err(missing(
            "fewer than 3 residents' committees under 510802102",
        ));
    }
    Ok((town, communities))
}

fn spec_for(seed: u64, tile: usize, real: &(String, Vec<(String, String)>)) -> TownSpec {
    let households = RESIDENTS_PER_TOWN / town::PER_HOUSEHOLD;
    if tile == 0 {
        return TownSpec {
            tile,
            code: REAL_TOWN_CODE.to_string(),
            name: real.0.clone(),
            communities: real.1.clone(),
            households,
            angle: 0.21,
            avenue: "盘龙大道".to_string(),
            place: "广元".to_string(),
        };
    }
    let mut rng = town::stream(seed, tile, 0);
    let code = format!("99{tile:07}");
    let name = names::town_name(tile - 1);
    let communities = names::community_stems(&mut rng, 6)
        .into_iter()
        .enumerate()
        .map(|(i, s)| (format!("{code}{:03}", i + 1), format!("{s}社区")))
        .collect();
    let short = name.trim_end_matches('镇').to_string();
    TownSpec {
        tile,
        code,
        name,
        communities,
        households: households * rng.gen_range(0.92..1.08),
        angle: rng.gen_range(-0.35..0.35),
        avenue: format!("{short}大道"),
        place: "广元".to_string(),
    }
}

/// Polygon rings as written to GeoJSON: polygons → rings → [lon, lat].
type Rings = Vec<Vec<Vec<[f64; 2]>>>;

struct Writers {
    communities: Layer,
    grids: Layer,
    compounds: Layer,
    buildings: Layer,
    stations: Layer,
    streets: Layer,
    people: Csv,
    staff: Csv,
}

/// Generates the demo district into `out_dir` (created if missing) and returns its summary.
///
/// Files: `regions.geojson`, `communities.geojson`, `grids.geojson`, `compounds.geojson`,
/// `buildings.geojson`, `stations.geojson`, `streets.geojson`, `people.csv.gz`, `staff.csv`,
/// `party.json`, `manifest.json`. Tile 0 is the real 盘龙镇 (its names and codes come from
/// `opts.divisions_csv`); tiles 1.. are synthetic towns with codes `99xxxxxxx`.
pub fn generate(opts: &GenerateOptions, out_dir: &Path) -> Result<Summary, DemoError> {
    if opts.scale == 0 || opts.scale > MAX_SCALE {
        return Err(DemoError::Scale(opts.scale));
    }
    let real = real_town(&opts.divisions_csv)?;
    fs::create_dir_all(out_dir).map_err(|source| DemoError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let party_only = opts.scale >= PARTY_ONLY_FROM_SCALE;
    let mut w = Writers {
        communities: Layer::create(out_dir, "communities.geojson")?,
        grids: Layer::create(out_dir, "grids.geojson")?,
        compounds: Layer::create(out_dir, "compounds.geojson")?,
        buildings: Layer::create(out_dir, "buildings.geojson")?,
        stations: Layer::create(out_dir, "stations.geojson")?,
        streets: Layer::create(out_dir, "streets.geojson")?,
        // At scale >= PARTY_ONLY_FROM_SCALE only party members and staff-linked persons are
        // written, so the file stays a few hundred MB at most; totals still count everyone.
        people: Csv::create(
            out_dir,
            "people.csv.gz",
            "code,building_code,name,sex,birth_year,phone,work_unit,household,membership",
            true,
        )?,
        staff: Csv::create(
            out_dir,
            "staff.csv",
            "code,name,phone,person_code,committee,grid_code,role,duty_phone",
            false,
        )?,
    };
    let cols = f64::from(opts.scale).sqrt().ceil() as usize;
    let mut towns_geo: Vec<(TownSpec, Rings)> = Vec::new();
    let mut totals = Totals::default();
    let mut counts = Counts::default();
    let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    let mut street_id = 0u64;
    let mut party_file = crate::domain::party::PartyFile::default();
    for tile in 0..opts.scale as usize {
        let spec = spec_for(opts.seed, tile, &real);
        let t = town::build(opts.seed, spec)?;
        let proj = Projection::tile(tile, cols);
        for p in &t.lat.nodes {
            let [x, y] = proj.lonlat(*p);
            bbox = [
                bbox[0].min(x),
                bbox[1].min(y),
                bbox[2].max(x),
                bbox[3].max(y),
            ];
        }
        let town_poly = write_town(&t, &proj, &mut w, &mut counts, &mut street_id, party_only)?;
        party::generate(
            &t,
            &proj,
            &mut town::stream(opts.seed, tile, 8),
            &mut party_file,
        );
        for p in &t.people.persons {
            totals.residents += 1;
            if p.age() >= 18 {
                totals.adults += 1;
            }
            match p.membership {
                Membership::Full => totals.party_members += 1,
                Membership::Probationary => {
                    totals.party_members += 1;
                    totals.probationary_members += 1;
                }
                Membership::None => {}
            }
        }
        for c in &t.compounds {
            for b in &c.buildings {
                totals.households += u64::from(b.households);
                totals.employees += u64::from(b.employees);
            }
        }
        towns_geo.push((t.spec, town_poly));
    }

    // Regions last: the zone is the union of its towns (disjoint tiles, so a MultiPolygon).
    let mut regions = Layer::create(out_dir, "regions.geojson")?;
    let zone: Rings = towns_geo.iter().flat_map(|(_, p)| p.clone()).collect();
    regions.write(
        GeometryValue::new_multi_polygon(zone),
        props(vec![
            ("code", json!(ZONE_CODE)),
            ("name", json!(ZONE_NAME)),
            ("kind", json!("zone")),
            ("parent_code", JsonValue::Null),
        ]),
    )?;
    for (spec, poly) in towns_geo {
        regions.write(
            GeometryValue::new_multi_polygon(poly),
            props(vec![
                ("code", json!(spec.code)),
                ("name", json!(spec.name)),
                ("kind", json!("town")),
                ("parent_code", json!(ZONE_CODE)),
            ]),
        )?;
    }
    counts.regions = regions.finish()?;
    counts.communities = w.communities.finish()?;
    w.grids.finish()?;
    counts.compounds = w.compounds.finish()?;
    counts.buildings = w.buildings.finish()?;
    counts.stations = w.stations.finish()?;
    counts.streets = w.streets.finish()?;
    counts.people_rows = w.people.finish()?;
    counts.staff_rows = w.staff.finish()?;
    output::write_party(out_dir, &party_file)?;

    let summary = Summary {
        seed: opts.seed,
        scale: opts.scale,
        reference_year: model::REF_YEAR,
        people_rows_hold: if party_only {
            "party members and staff-linked persons only".to_string()
        } else {
            "all residents".to_string()
        },
        counts,
        totals,
        bbox,
    };
    let path = out_dir.join("manifest.json");
    let mut text = serde_json::to_string_pretty(&summary).map_err(|source| DemoError::Json {
        path: path.clone(),
        source,
    })?;
    text.push('\n');
    fs::write(&path, text).map_err(|source| DemoError::Io { path, source })?;
    Ok(summary)
}

/// Writes one town's features and rows; returns the town outline for `regions.geojson`.
fn write_town(
    t: &Town,
    proj: &Projection,
    w: &mut Writers,
    counts: &mut Counts,
    street_id: &mut u64,
    party_only: bool,
) -> Result<Rings, DemoError> {
    let lat = &t.lat;
    let node_ll: Vec<[f64; 2]> = lat.nodes.iter().map(|p| proj.lonlat(*p)).collect();
    let ll = |n: usize| node_ll[n];
    let faces_of = |blocks: &[usize]| -> Vec<&[usize]> {
        blocks
            .iter()
            .flat_map(|&b| {
                lat.blocks[b]
                    .pieces
                    .iter()
                    .map(|&p| lat.pieces[p].nodes.as_slice())
            })
            .collect()
    };
    let town_code = &t.spec.code;

    for com in &t.communities {
        w.communities.write(
            faces_geometry(faces_of(&com.blocks), &lat.nodes, &ll, false),
            props(vec![
                ("code", json!(com.code)),
                ("name", json!(com.name)),
                ("region_code", json!(town_code)),
            ]),
        )?;
        // A grid of `level` inside `parent`, as a feature.
        let grid = |g: &model::Grid, level: u8, parent: &str| {
            (
                faces_geometry(faces_of(&g.blocks), &lat.nodes, &ll, false),
                props(vec![
                    ("code", json!(g.code)),
                    ("name", json!(g.name)),
                    ("level", json!(level)),
                    ("parent_code", json!(parent)),
                    ("community_code", json!(com.code)),
                ]),
            )
        };
        for g1 in &com.grids {
            let (geometry, properties) = grid(g1, 1, &com.code);
            w.grids.write(geometry, properties)?;
            counts.grids_level1 += 1;
            for g2 in &g1.children {
                let (geometry, properties) = grid(g2, 2, &g1.code);
                w.grids.write(geometry, properties)?;
                counts.grids_level2 += 1;
            }
        }
    }

    for c in &t.compounds {
        let faces: Vec<&[usize]> = c
            .pieces
            .iter()
            .map(|&p| lat.pieces[p].nodes.as_slice())
            .collect();
        w.compounds.write(
            faces_geometry(faces, &lat.nodes, &ll, false),
            props(vec![
                ("code", json!(c.code)),
                ("name", json!(c.name)),
                ("kind", json!(c.sub.kind())),
                ("occupancy_rate", json!(c.occupancy)),
                ("built_year", json!(c.built_year)),
                ("community_code", json!(t.communities[c.community].code)),
            ]),
        )?;
        for b in &c.buildings {
            let mut ring: Vec<[f64; 2]> = b.corners.iter().map(|p| proj.lonlat(*p)).collect();
            ring.push(ring[0]);
            w.buildings.write(
                GeometryValue::new_polygon([ring]),
                props(vec![
                    ("code", json!(b.code)),
                    ("name", json!(b.name)),
                    ("compound_code", json!(c.code)),
                    ("households", json!(b.households)),
                    ("residents", json!(b.residents)),
                    ("employees", json!(b.employees)),
                    ("floors", json!(b.floors)),
                    ("address", json!(b.address)),
                ]),
            )?;
        }
    }

    for s in &t.stations {
        w.stations.write(
            GeometryValue::new_point(proj.lonlat(s.pos)),
            props(vec![
                ("code", json!(s.code)),
                ("name", json!(s.name)),
                ("kind", json!(s.kind)),
                ("community_code", json!(t.communities[s.community].code)),
                ("programmes", json!(s.programmes)),
            ]),
        )?;
    }

    for s in &lat.streets {
        *street_id += 1;
        w.streets.write(
            GeometryValue::new_line_string([ll(s.a), ll(s.b)]),
            props(vec![
                ("id", json!(*street_id)),
                (
                    "name",
                    s.name.as_ref().map_or(JsonValue::Null, |n| json!(n)),
                ),
                ("highway", json!(s.highway)),
            ]),
        )?;
    }

    // People and staff.
    let tile = t.spec.tile;
    let person_code = |i: usize| format!("P{tile:03}{:07}", i + 1);
    let linked: BTreeSet<usize> = t.staff.iter().map(|s| s.person).collect();
    for (i, p) in t.people.persons.iter().enumerate() {
        if party_only && p.membership == Membership::None && !linked.contains(&i) {
            continue;
        }
        let b = &t.compounds[p.compound as usize].buildings[p.building as usize];
        let (u, f, r) = p.household;
        w.people.row(&[
            &person_code(i),
            &b.code,
            &p.name,
            if p.male { "M" } else { "F" },
            &p.birth_year.to_string(),
            &p.phone.map(|x| x.to_string()).unwrap_or_default(),
            p.work_unit
                .map(|k| t.people.employers[k as usize].as_str())
                .unwrap_or(""),
            &format!("{u}-{f}{r:02}"),
            p.membership.as_str(),
        ])?;
    }
    for s in &t.staff {
        let p = &t.people.persons[s.person];
        w.staff.row(&[
            &s.code,
            &p.name,
            &p.phone.map(|x| x.to_string()).unwrap_or_default(),
            &person_code(s.person),
            if s.committee { "true" } else { "false" },
            &s.grid,
            s.role,
            &s.duty_phone,
        ])?;
    }

    let all: Vec<usize> = (0..lat.blocks.len()).collect();
    let polys = trace::trace(faces_of(&all), &lat.nodes);
    Ok(output::polygon_coords(&polys, &ll))
}
