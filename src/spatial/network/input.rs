//! Turning input into nodes and edges: ways split at shared vertices, plain lines, GeoJSON
//! line features, and a synthetic lattice for benchmarks and tests.

use std::collections::HashMap;
use std::hash::Hash;

use geo::{Coord, LineString};
use rand::{Rng, SeedableRng};

use super::{finite, EdgeSpec, Network, NetworkError, NodeIx, NodeSpec};

/// A line to be split into edges: its vertices keyed by node identity, and its tags.
#[derive(Debug, Clone)]
pub(crate) struct RawWay<K> {
    /// Vertices in order: identity key and lon/lat position.
    pub nodes: Vec<(K, Coord<f64>)>,
    /// `highway` value.
    pub highway: String,
    /// Name, if any.
    pub name: Option<String>,
}

/// Splits ways into edges at vertices shared by two or more way occurrences and at way
/// ends, then builds the network; `node_id` gives a node's external id from its key.
pub(crate) fn build_from_ways<K: Hash + Eq + Copy>(
    ways: Vec<RawWay<K>>,
    mut node_id: impl FnMut(K, usize) -> i64,
) -> Result<Network, NetworkError> {
    let mut uses: HashMap<K, u32> = HashMap::new();
    let mut ways = ways;
    for w in &mut ways {
        w.nodes.dedup_by(|a, b| a.0 == b.0);
        if w.nodes.len() < 2 {
            continue;
        }
        for (k, _) in &w.nodes {
            *uses.entry(*k).or_insert(0) += 1;
        }
    }
    let mut node_ix: HashMap<K, NodeIx> = HashMap::new();
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let mut edges: Vec<EdgeSpec> = Vec::new();
    let mut node_of = |k: K, c: Coord<f64>, nodes: &mut Vec<NodeSpec>| -> NodeIx {
        *node_ix.entry(k).or_insert_with(|| {
            let ix = nodes.len();
            nodes.push(NodeSpec {
                id: node_id(k, ix),
                coord: c,
            });
            ix as NodeIx
        })
    };
    for w in ways {
        if w.nodes.len() < 2 {
            continue;
        }
        let last = w.nodes.len() - 1;
        let mut start = 0usize;
        for i in 1..=last {
            let k = w.nodes[i].0;
            if i == last || uses.get(&k).copied().unwrap_or(0) >= 2 {
                let s = node_of(w.nodes[start].0, w.nodes[start].1, &mut nodes);
                let t = node_of(k, w.nodes[i].1, &mut nodes);
                edges.push(EdgeSpec {
                    id: edges.len() as i64,
                    source: s,
                    target: t,
                    geometry: w.nodes[start..=i].iter().map(|(_, c)| *c).collect(),
                    length_m: None,
                    highway: w.highway.clone(),
                    name: w.name.clone(),
                });
                start = i;
            }
        }
    }
    Network::from_parts(nodes, edges)
}

/// A line for [`Network::from_lines`]: geometry plus its `highway` and `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineInput {
    /// Geometry, lon/lat.
    pub geometry: LineString<f64>,
    /// `highway` value (may be empty).
    pub highway: String,
    /// Street name, if any.
    pub name: Option<String>,
}

impl LineInput {
    /// A line through `points` with its `highway` value and its street name, if any.
    pub fn new(points: Vec<Coord<f64>>, highway: &str, name: Option<&str>) -> Self {
        Self {
            geometry: LineString::from(points),
            highway: highway.to_string(),
            name: name.map(str::to_string),
        }
    }
}

fn coord_key(c: &Coord<f64>) -> (u64, u64) {
    // +0.0 so that -0.0 and 0.0 coincide.
    ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
}

impl Network {
    /// Builds a network from lines, split where a vertex of one line coincides exactly with
    /// a vertex of another (or of itself) and at line ends; node ids are 0, 1, 2, ...
    pub fn from_lines(lines: &[LineInput]) -> Result<Self, NetworkError> {
        let mut ways = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            if !l.geometry.0.iter().all(finite) {
                return Err(NetworkError::BadValue {
                    edge: i,
                    what: "coordinate",
                });
            }
            ways.push(RawWay {
                nodes: l.geometry.0.iter().map(|c| (coord_key(c), *c)).collect(),
                highway: l.highway.clone(),
                name: l.name.clone(),
            });
        }
        build_from_ways(ways, |_, ix| ix as i64)
    }

    /// Builds a network from a GeoJSON FeatureCollection of `LineString`/`MultiLineString`
    /// features with optional `highway` and `name` string properties; other geometry types
    /// are an error.
    pub fn from_geojson(fc: &geojson::FeatureCollection) -> Result<Self, NetworkError> {
        let mut lines = Vec::new();
        for (i, f) in fc.features.iter().enumerate() {
            let prop = |k: &str| {
                f.properties
                    .as_ref()
                    .and_then(|p| p.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let highway = prop("highway").unwrap_or_default();
            let name = prop("name");
            let Some(g) = &f.geometry else {
                return Err(NetworkError::GeoJson {
                    feature: i,
                    reason: "no geometry".into(),
                });
            };
            let to_ls = |pts: &Vec<geojson::Position>| -> Result<LineString<f64>, NetworkError> {
                pts.iter()
                    .map(|p| match p.as_slice() {
                        [x, y, ..] => Ok(Coord { x: *x, y: *y }),
                        _ => Err(NetworkError::GeoJson {
                            feature: i,
                            reason: "position with fewer than 2 numbers".into(),
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(LineString::from)
            };
            match &g.value {
                geojson::GeometryValue::LineString { coordinates: pts } => lines.push(LineInput {
                    geometry: to_ls(pts)?,
                    highway,
                    name,
                }),
                geojson::GeometryValue::MultiLineString { coordinates: parts } => {
                    for pts in parts {
                        lines.push(LineInput {
                            geometry: to_ls(pts)?,
                            highway: highway.clone(),
                            name: name.clone(),
                        });
                    }
                }
                _ => {
                    return Err(NetworkError::GeoJson {
                        feature: i,
                        reason: "geometry is not a LineString or MultiLineString".into(),
                    })
                }
            }
        }
        Self::from_lines(&lines)
    }

    /// A perturbed `cols` × `rows` lattice of straight edges around (`lon0`, `lat0`) with
    /// mean spacing `spacing_m` and node jitter up to `jitter` × spacing; deterministic for
    /// a seed. Used by benchmarks and tests as a large synthetic network.
    pub fn synthetic_lattice(
        cols: usize,
        rows: usize,
        spacing_m: f64,
        jitter: f64,
        lon0: f64,
        lat0: f64,
        seed: u64,
    ) -> Result<Self, NetworkError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let proj = super::projection_at(lon0, lat0);
        let mut nodes = Vec::with_capacity(cols * rows);
        for r in 0..rows {
            for c in 0..cols {
                let dx = rng.gen_range(-jitter..=jitter) * spacing_m;
                let dy = rng.gen_range(-jitter..=jitter) * spacing_m;
                let x = (c as f64 - cols as f64 / 2.0) * spacing_m + dx;
                let y = (r as f64 - rows as f64 / 2.0) * spacing_m + dy;
                nodes.push(NodeSpec {
                    id: (r * cols + c) as i64,
                    coord: proj.unproject(Coord { x, y }),
                });
            }
        }
        let mut edges = Vec::with_capacity(2 * cols * rows);
        let add = |s: usize, t: usize, edges: &mut Vec<EdgeSpec>| {
            edges.push(EdgeSpec {
                id: edges.len() as i64,
                source: s as NodeIx,
                target: t as NodeIx,
                geometry: vec![nodes[s].coord, nodes[t].coord],
                length_m: None,
                highway: "residential".into(),
                name: None,
            });
        };
        for r in 0..rows {
            for c in 0..cols {
                let i = r * cols + c;
                if c + 1 < cols {
                    add(i, i + 1, &mut edges);
                }
                if r + 1 < rows {
                    add(i, i + cols, &mut edges);
                }
            }
        }
        Self::from_parts(nodes, edges)
    }
}
