//! Reading import files, above the store: a folder's layer files in order, GeoJSON
//! collections, people and staff CSV (parsed in `people`), the party file's JSON, walking
//! networks from GeoJSON lines or an OpenStreetMap extract. What it reads it hands to the
//! store as parsed rows, records, features or a built network; the store checks and writes
//! them in one transaction.
//!
//! The entry points are methods on [`Store`] (`store.import_dir(..)`, `import_file`,
//! `import_people_csv`, `import_network`), defined here so that the store itself reads and
//! parses no files; staff CSV and the party file go through [`parse_staff`] and
//! [`parse_party`] to the store's `import_staff` and `import_party`.

mod people;

pub use people::{parse_people, parse_staff};

use std::io::Read;

use geojson::FeatureCollection;

use crate::domain::party::PartyFile;
use crate::spatial::network::Network;
use crate::store::audit::Actor;
use crate::store::import::{describe, Layer};
use crate::store::{Store, StoreError};

/// Parses a party file (`party.json`, see [`PartyFile`]); one that is not refuses the
/// import whole.
pub fn parse_party(input: impl Read) -> Result<PartyFile, StoreError> {
    serde_json::from_reader(std::io::BufReader::new(input))
        .map_err(|e| StoreError::Items(vec![(0, format!("party.json: {e}"))]))
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

/// Where a walking network comes from.
pub enum NetworkSource<'a> {
    /// GeoJSON LineStrings with `highway` and `name` properties, split where they meet.
    Lines(&'a FeatureCollection),
    /// An OpenStreetMap PBF extract: ways usable on foot.
    OsmPbf(&'a std::path::Path),
}

/// Builds the network of a source: GeoJSON lines split where they meet, or the ways of a
/// PBF extract usable on foot (read off the async workers). Returns it with its origin.
async fn build_network(source: NetworkSource<'_>) -> Result<(Network, &'static str), StoreError> {
    let origin = match source {
        NetworkSource::Lines(_) => "lines",
        NetworkSource::OsmPbf(_) => "osm",
    };
    let net = match source {
        NetworkSource::Lines(fc) => {
            Network::from_geojson(fc).map_err(|e| StoreError::Items(vec![(0, e.to_string())]))?
        }
        NetworkSource::OsmPbf(path) => {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || crate::spatial::osm::import_pbf(&path))
                .await
                .map_err(|e| StoreError::Items(vec![(0, format!("reading the PBF failed: {e}"))]))?
                .map_err(|e| StoreError::Items(vec![(0, e.to_string())]))?
        }
    };
    Ok((net, origin))
}

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
            "staff" => {
                let rows = parse_staff(open()?).map_err(|e| describe(&e))?;
                self.import_staff(actor, rows)
                    .await
                    .map_err(|e| describe(&e))
            }
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
            "party" => {
                let party = parse_party(open()?).map_err(|e| describe(&e))?;
                self.import_party(actor, &party)
                    .await
                    .map_err(|e| describe(&e))
            }
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
                progress(layer, d, t);
            })
            .await?;
        }
        Ok(())
    }

    /// Imports people from CSV (`code,building_code,name,sex,birth_year,phone,work_unit,household,membership`).
    pub async fn import_people_csv(
        &self,
        actor: &Actor,
        input: impl Read,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, StoreError> {
        let rows = parse_people(input)?;
        self.import_people(actor, rows, progress).await
    }

    /// Replaces the walking network, all or nothing; returns the number of edges.
    pub async fn import_network(
        &self,
        actor: &Actor,
        source: NetworkSource<'_>,
    ) -> Result<usize, StoreError> {
        let (net, origin) = build_network(source).await?;
        self.save_imported_network(actor, &net, origin).await
    }
}
