//! Import of the walking network from an OpenStreetMap PBF file.
//!
//! Owns the decision of which OSM ways are walkable ([`walkable`]) and the two-pass read
//! (ways first, then only the nodes they use). Graph construction and splitting at shared
//! nodes are delegated to [`crate::spatial::network`]. No SQL, no HTTP.

use std::collections::HashMap;
use std::path::Path;

use geo::Coord;
use osmpbf::{Element, ElementReader};

use crate::spatial::network::{build_from_ways, Network, NetworkError, RawWay};

/// Errors from importing an OSM PBF file.
#[derive(Debug, thiserror::Error)]
pub enum OsmError {
    /// The file could not be opened or decoded.
    #[error("reading OSM PBF {path}: {source}")]
    Pbf {
        /// The file that was read.
        path: String,
        /// The decoder's error.
        #[source]
        source: osmpbf::Error,
    },
    /// The ways read did not make a valid network.
    #[error("building the walking network from {path}: {source}")]
    Network {
        /// The file that was read.
        path: String,
        /// What was wrong.
        #[source]
        source: NetworkError,
    },
}

/// `highway` values usable on foot (unless access tags forbid it).
pub const WALKABLE_HIGHWAYS: &[&str] = &[
    "footway",
    "path",
    "pedestrian",
    "steps",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "track",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "trunk",
    "trunk_link",
    "cycleway",
];

/// Decides whether a way with these tags is part of the walking network.
///
/// Walkable: a `highway` in [`WALKABLE_HIGHWAYS`] (never `motorway`/`motorway_link`), not
/// `area=yes`, not `foot=no`, and not `access=private|no` unless `foot=yes|designated|permissive`.
pub fn walkable<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let (mut highway, mut foot, mut access, mut area) = (None, None, None, None);
    for (k, v) in tags {
        match k {
            "highway" => highway = Some(v),
            "foot" => foot = Some(v),
            "access" => access = Some(v),
            "area" => area = Some(v),
            _ => {}
        }
    }
    let Some(h) = highway else { return false };
    if !WALKABLE_HIGHWAYS.contains(&h) || area == Some("yes") {
        return false;
    }
    match foot {
        Some("no") => false,
        Some("yes" | "designated" | "permissive") => true,
        _ => !matches!(access, Some("private" | "no")),
    }
}

struct WayRec {
    refs: Vec<i64>,
    highway: String,
    name: Option<String>,
}

/// Reads the walking network from an OSM PBF file: walkable ways split at nodes shared by
/// two or more ways (or used twice by one) and at way ends. Node ids are OSM node ids; a way
/// is cut where it references a node missing from the file.
pub fn import_pbf(path: impl AsRef<Path>) -> Result<Network, OsmError> {
    let path = path.as_ref();
    let pbf_err = |source| OsmError::Pbf {
        path: path.display().to_string(),
        source,
    };
    let mut ways: Vec<WayRec> = Vec::new();
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|el| {
            if let Element::Way(w) = el {
                if walkable(w.tags()) {
                    let mut highway = String::new();
                    let mut name = None;
                    for (k, v) in w.tags() {
                        match k {
                            "highway" => highway = v.to_string(),
                            "name" => name = Some(v.to_string()),
                            _ => {}
                        }
                    }
                    ways.push(WayRec {
                        refs: w.refs().collect(),
                        highway,
                        name,
                    });
                }
            }
        })
        .map_err(pbf_err)?;
    let mut coords: HashMap<i64, Coord<f64>> = HashMap::new();
    for w in &ways {
        for r in &w.refs {
            coords.insert(
                *r,
                Coord {
                    x: f64::NAN,
                    y: 0.0,
                },
            );
        }
    }
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|el| {
            let (id, lon, lat) = match el {
                Element::DenseNode(n) => (n.id(), n.lon(), n.lat()),
                Element::Node(n) => (n.id(), n.lon(), n.lat()),
                _ => return,
            };
            if let Some(c) = coords.get_mut(&id) {
                *c = Coord { x: lon, y: lat };
            }
        })
        .map_err(pbf_err)?;
    let mut raw = Vec::with_capacity(ways.len());
    for w in ways {
        let mut cur: Vec<(i64, Coord<f64>)> = Vec::new();
        for r in &w.refs {
            match coords.get(r) {
                Some(c) if c.x.is_finite() => cur.push((*r, *c)),
                _ => {
                    if cur.len() >= 2 {
                        raw.push(RawWay {
                            nodes: std::mem::take(&mut cur),
                            highway: w.highway.clone(),
                            name: w.name.clone(),
                        });
                    }
                    cur.clear();
                }
            }
        }
        if cur.len() >= 2 {
            raw.push(RawWay {
                nodes: cur,
                highway: w.highway,
                name: w.name,
            });
        }
    }
    build_from_ways(raw, |k, _| k).map_err(|source| OsmError::Network {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkability_rules() {
        assert!(walkable([("highway", "footway")]));
        assert!(walkable([("highway", "primary"), ("name", "X")]));
        assert!(!walkable([("highway", "motorway")]));
        assert!(!walkable([("highway", "motorway_link"), ("foot", "yes")]));
        assert!(!walkable([("highway", "cycleway"), ("foot", "no")]));
        assert!(!walkable([("highway", "service"), ("access", "private")]));
        assert!(walkable([
            ("highway", "service"),
            ("access", "private"),
            ("foot", "yes")
        ]));
        assert!(walkable([
            ("highway", "track"),
            ("access", "no"),
            ("foot", "designated")
        ]));
        assert!(!walkable([("highway", "pedestrian"), ("area", "yes")]));
        assert!(!walkable([("building", "yes")]));
        assert!(!walkable([("highway", "construction")]));
    }
}
