//! In-memory tile source: features of one layer, pre-projected to Web Mercator (with
//! per-vertex simplification significance and interned attributes) and indexed by
//! bounding box in an `rstar` R-tree, so a tile is one envelope query plus an encode.
//! Boxes are kept in normalised Mercator units rather than degrees: the projection is
//! monotonic in both axes, so the two boxes select the same features, and tile bounds
//! need no conversion.
//!
//! Owns feature selection for a tile (bbox query + the caller's scope predicate) and
//! copy-on-write edits. It must not decide scope rules (the caller's predicate does) and
//! must not cache tiles ([`super::TileCache`] does). A `TileSource` is immutable: edits
//! build a new one that the caller publishes atomically (e.g. with `ArcSwap`).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use geo::{Coord, Rect};
use rstar::{RTree, RTreeObject, AABB};

use super::mvt::{EncodeOptions, Feature, LayerEncoder, Scratch, TagTables, DEFAULT_EXTENT};
use super::prepare::Prepared;
use super::tilejson::{TileJson, VectorLayer};
use super::tilemath::{world_to_lonlat, TileId};
use super::TileError;

/// A feature plus the scope keys (e.g. community or grid codes) a caller may filter on.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFeature {
    /// The feature itself (lon/lat geometry).
    pub feature: Feature,
    /// Scope keys this feature belongs to; their meaning is the caller's.
    pub scope: Vec<String>,
}

impl SourceFeature {
    /// A feature with no scope keys.
    pub fn new(feature: Feature) -> Self {
        Self {
            feature,
            scope: Vec::new(),
        }
    }

    /// Adds scope keys.
    pub fn with_scope<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope.extend(keys.into_iter().map(Into::into));
        self
    }

    /// True when the feature carries `key`.
    pub fn in_scope(&self, key: &str) -> bool {
        self.scope.iter().any(|k| k == key)
    }
}

/// A caller's predicate choosing which features a request may see.
pub type FeatureFilter<'a> = &'a dyn Fn(&SourceFeature) -> bool;

/// Accepts every feature (for callers whose scope is "everything").
pub fn all_features(_: &SourceFeature) -> bool {
    true
}

/// A feature with its tiling-ready geometry; shared between source versions.
#[derive(Debug)]
struct Indexed {
    seq: u64,
    src: SourceFeature,
    prepared: Prepared,
    bbox: [f64; 4],
}

/// R-tree element: the shared feature plus its tags in this version's tables. The bbox
/// is copied in so that the tree walk does not chase the pointer.
#[derive(Debug, Clone)]
struct Entry {
    bbox: [f64; 4],
    ix: Arc<Indexed>,
    tags: Arc<[u32]>,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        let b = self.bbox;
        AABB::from_corners([b[0], b[1]], [b[2], b[3]])
    }
}

/// Result of [`TileSource::with_changes`]: the new source and the lon/lat box that
/// changed (old and new geometries), to pass to [`super::TileCache::invalidate_bbox`].
#[derive(Debug)]
pub struct Edit {
    /// The source with the edits applied.
    pub source: TileSource,
    /// Union of the old and new bounding boxes of every touched feature; `None` if
    /// nothing with geometry changed.
    pub dirty: Option<Rect<f64>>,
}

/// One layer's features in an R-tree, ready to render tiles.
#[derive(Clone)]
pub struct TileSource {
    name: String,
    extent: u32,
    options: EncodeOptions,
    tree: RTree<Entry>,
    by_id: HashMap<u64, Arc<Indexed>>,
    tables: Arc<TagTables>,
    next_seq: u64,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl std::fmt::Debug for TileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileSource")
            .field("name", &self.name)
            .field("extent", &self.extent)
            .field("options", &self.options)
            .field("features", &self.tree.size())
            .finish()
    }
}

fn index(seq: u64, src: SourceFeature) -> Option<Arc<Indexed>> {
    // A geometry with no finite coordinate can never appear in a tile.
    let (prepared, bbox) = Prepared::from_lonlat(&src.feature.geometry)?;
    Some(Arc::new(Indexed {
        seq,
        src,
        prepared,
        bbox,
    }))
}

fn world_box_to_lonlat(b: [f64; 4]) -> Rect<f64> {
    Rect::new(
        world_to_lonlat(Coord { x: b[0], y: b[3] }),
        world_to_lonlat(Coord { x: b[2], y: b[1] }),
    )
}

fn union(a: Option<[f64; 4]>, b: [f64; 4]) -> [f64; 4] {
    match a {
        None => b,
        Some(a) => [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ],
    }
}

impl TileSource {
    /// Builds a source with the default extent (4096) and encoding options.
    pub fn new(name: impl Into<String>, features: Vec<SourceFeature>) -> Self {
        Self::with_options(name, DEFAULT_EXTENT, EncodeOptions::default(), features)
    }

    /// Builds a source with an explicit extent and encoding options. Features whose
    /// geometry has no finite coordinate are dropped.
    pub fn with_options(
        name: impl Into<String>,
        extent: u32,
        options: EncodeOptions,
        features: Vec<SourceFeature>,
    ) -> Self {
        let entries: Vec<Arc<Indexed>> = features
            .into_iter()
            .enumerate()
            .filter_map(|(i, f)| index(i as u64, f))
            .collect();
        let next_seq = entries.len() as u64;
        Self::from_entries(name.into(), extent, options, entries, next_seq)
    }

    fn from_entries(
        name: String,
        extent: u32,
        options: EncodeOptions,
        mut entries: Vec<Arc<Indexed>>,
        next_seq: u64,
    ) -> Self {
        // Tables are rebuilt per version (in feature order, so output is deterministic);
        // the prepared geometry is shared with the previous version.
        entries.sort_unstable_by_key(|e| e.seq);
        let mut tables = TagTables::default();
        let elements: Vec<Entry> = entries
            .iter()
            .map(|ix| Entry {
                bbox: ix.bbox,
                tags: tables.intern(&ix.src.feature.properties).into(),
                ix: ix.clone(),
            })
            .collect();
        let by_id = entries
            .into_iter()
            .filter_map(|e| e.src.feature.id.map(|id| (id, e)))
            .collect();
        Self {
            name,
            extent,
            options,
            tree: RTree::bulk_load(elements),
            by_id,
            tables: Arc::new(tables),
            next_seq,
        }
    }

    /// Layer name written into tiles.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tile extent.
    pub fn extent(&self) -> u32 {
        self.extent
    }

    /// Encoding options.
    pub fn options(&self) -> &EncodeOptions {
        &self.options
    }

    /// Number of indexed features.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// True when there are no features.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The feature with this id, if any.
    pub fn get(&self, id: u64) -> Option<&SourceFeature> {
        self.by_id.get(&id).map(|e| &e.src)
    }

    /// Lon/lat bounding box of all features.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        (self.tree.size() > 0).then(|| world_box_to_lonlat([lo[0], lo[1], hi[0], hi[1]]))
    }

    /// The ids of every feature that has one.
    pub fn ids(&self) -> Vec<u64> {
        self.tree
            .iter()
            .filter_map(|e| e.ix.src.feature.id)
            .collect()
    }

    /// Features whose bounding box meets `tile` plus its clip buffer, in insertion order,
    /// that pass `filter`.
    pub fn features_in(&self, tile: TileId, filter: FeatureFilter<'_>) -> Vec<&SourceFeature> {
        self.candidates(tile, filter)
            .into_iter()
            .map(|e| &e.ix.src)
            .collect()
    }

    fn candidates(&self, tile: TileId, filter: FeatureFilter<'_>) -> Vec<&Entry> {
        let w = tile.world_bounds();
        let extent = f64::from(self.extent.max(1));
        let pad = f64::from(self.options.buffer) / extent * (w.max().x - w.min().x);
        let env = AABB::from_corners(
            [w.min().x - pad, w.min().y - pad],
            [w.max().x + pad, w.max().y + pad],
        );
        let mut found: Vec<&Entry> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .filter(|e| filter(&e.ix.src))
            .collect();
        // Insertion order keeps painter's order stable across edits.
        found.sort_unstable_by_key(|e| e.ix.seq);
        found
    }

    /// Renders `tile` with the features that pass `filter`; an empty tile is 0 bytes.
    pub fn render(&self, tile: TileId, filter: FeatureFilter<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(tile, filter, &mut out);
        out
    }

    /// Appends this source's layer for `tile` to `out` (nothing if no feature survives).
    pub fn render_into(&self, tile: TileId, filter: FeatureFilter<'_>, out: &mut Vec<u8>) {
        let found = self.candidates(tile, filter);
        if found.is_empty() {
            return;
        }
        SCRATCH.with(|s| {
            // A re-entrant filter could hold the scratch already; fall back to a fresh one.
            let mut fresh;
            let mut guard = s.try_borrow_mut();
            let scratch: &mut Scratch = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => {
                    fresh = Scratch::default();
                    &mut fresh
                }
            };
            let mut enc = LayerEncoder::new_shared(
                &self.name,
                self.extent,
                tile,
                &self.options,
                &self.tables,
                found.len(),
                scratch,
            );
            for e in &found {
                let f = &e.ix;
                enc.add_prepared(
                    f.src.feature.id,
                    &e.tags,
                    &f.prepared,
                    &self.tables,
                    scratch,
                );
            }
            enc.finish_into(out);
        });
    }

    /// Applies upserts (matched by feature id) and removals, returning a new source and
    /// the lon/lat box that changed. Every upserted feature must have an id.
    pub fn with_changes(
        &self,
        upserts: Vec<SourceFeature>,
        removals: &[u64],
    ) -> Result<Edit, TileError> {
        let mut changed: HashSet<u64> = removals.iter().copied().collect();
        for u in &upserts {
            let id = u.feature.id.ok_or(TileError::MissingFeatureId)?;
            changed.insert(id);
        }
        let mut dirty: Option<[f64; 4]> = None;
        let mut old_seq: HashMap<u64, u64> = HashMap::new();
        let mut entries: Vec<Arc<Indexed>> = Vec::with_capacity(self.len() + upserts.len());
        for e in &self.tree {
            match e.ix.src.feature.id {
                Some(id) if changed.contains(&id) => {
                    dirty = Some(union(dirty, e.ix.bbox));
                    old_seq.insert(id, e.ix.seq);
                }
                _ => entries.push(e.ix.clone()),
            }
        }
        let mut next_seq = self.next_seq;
        for u in upserts {
            let id = u.feature.id.ok_or(TileError::MissingFeatureId)?;
            let seq = old_seq.get(&id).copied().unwrap_or_else(|| {
                next_seq += 1;
                next_seq - 1
            });
            if let Some(e) = index(seq, u) {
                dirty = Some(union(dirty, e.bbox));
                entries.push(e);
            }
        }
        Ok(Edit {
            source: Self::from_entries(
                self.name.clone(),
                self.extent,
                self.options,
                entries,
                next_seq,
            ),
            dirty: dirty.map(world_box_to_lonlat),
        })
    }

    /// A `vector_layers` entry with every attribute's type, for TileJSON.
    pub fn vector_layer(&self) -> VectorLayer {
        let mut vl = VectorLayer::new(self.name.clone());
        for e in &self.tree {
            for (k, v) in &e.ix.src.feature.properties {
                vl.observe(k, v);
            }
        }
        vl
    }

    /// A TileJSON document for this layer served at `tiles_url`, bounded by the data.
    pub fn tilejson(&self, tiles_url: impl Into<String>) -> TileJson {
        let mut tj = TileJson::new(tiles_url)
            .with_name(self.name.clone())
            .with_vector_layer(self.vector_layer());
        if let Some(b) = self.bounds() {
            let c = b.center();
            tj = tj.with_bounds(b).with_center(c.x, c.y, 14);
        }
        tj
    }
}

/// Renders several sources as the layers of one tile, in the order given, each with its
/// own filter. Layer names should differ.
pub fn render_layers(tile: TileId, layers: &[(&TileSource, FeatureFilter<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (source, filter) in layers {
        source.render_into(tile, *filter, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(id: u64, lon: f64, lat: f64, scope: &str) -> SourceFeature {
        let d = 0.001;
        SourceFeature::new(Feature {
            id: Some(id),
            geometry: polygon![
                (x: lon, y: lat), (x: lon + d, y: lat), (x: lon + d, y: lat + d), (x: lon, y: lat + d)
            ]
            .into(),
            properties: vec![("code".into(), format!("G{id}").into())],
        })
        .with_scope([scope])
    }

    #[test]
    fn prepared_path_matches_direct_encoder_inside_a_tile() {
        use super::super::mvt::{encode_tile, Layer};
        // Wiggly rings well inside one z14 tile: no clipping, so both paths simplify the
        // same rings and must produce the same bytes.
        let tile = TileId::new(14, 13_002, 6_631).expect("valid");
        let b = tile.lonlat_bounds();
        let (w, h) = (b.max().x - b.min().x, b.max().y - b.min().y);
        let feats: Vec<SourceFeature> = (0..20u64)
            .map(|k| {
                let (cx, cy) = (
                    b.min().x + w * (0.2 + 0.03 * k as f64),
                    b.min().y + h * (0.3 + 0.02 * k as f64),
                );
                let ring: Vec<Coord<f64>> = (0..50)
                    .map(|i| {
                        let a = f64::from(i) / 50.0 * std::f64::consts::TAU;
                        let r = w * 0.05 * (1.0 + 0.05 * (a * (3 + k) as f64).sin());
                        Coord {
                            x: cx + r * a.cos(),
                            y: cy + r * a.sin(),
                        }
                    })
                    .collect();
                SourceFeature::new(Feature {
                    id: Some(k),
                    geometry: geo::Polygon::new(ring.into(), vec![]).into(),
                    properties: vec![("k".into(), (k % 3).into())],
                })
            })
            .collect();
        let mut layer = Layer::new("grids");
        layer.features = feats.iter().map(|f| f.feature.clone()).collect();
        for tol in [0.0, 0.5, 1.0, 3.0] {
            let opts = EncodeOptions {
                simplify_tolerance: tol,
                ..EncodeOptions::default()
            };
            let src = TileSource::with_options("grids", 4096, opts, feats.clone());
            let (a, b) = (
                src.render(tile, &all_features),
                encode_tile(tile, &[layer.clone()], &opts),
            );
            assert!(a == b, "tolerance {tol}: {} vs {} bytes", a.len(), b.len());
        }
    }

    #[test]
    fn scope_filter_and_edits() {
        let src = TileSource::new(
            "grids",
            vec![
                square(1, 105.70, 32.40, "a"),
                square(2, 105.702, 32.40, "b"),
            ],
        );
        let tile = super::super::tilemath::tiles_covering(
            Rect::new(
                Coord {
                    x: 105.7005,
                    y: 32.4005,
                },
                Coord {
                    x: 105.7005,
                    y: 32.4005,
                },
            ),
            14,
        )
        .expect("zoom ok")
        .next()
        .expect("one tile");
        assert_eq!(src.features_in(tile, &all_features).len(), 2);
        let only_a = |f: &SourceFeature| f.in_scope("a");
        assert_eq!(src.features_in(tile, &only_a).len(), 1);
        let none = |_: &SourceFeature| false;
        assert!(src.render(tile, &none).is_empty());

        let edit = src
            .with_changes(vec![square(2, 105.71, 32.41, "b")], &[1])
            .expect("ids present");
        assert_eq!(edit.source.len(), 1);
        let d = edit.dirty.expect("something changed");
        assert!(d.min().x <= 105.70 && d.max().x >= 105.711 && d.max().y >= 32.411);
        assert!(src
            .with_changes(
                vec![SourceFeature::new(Feature {
                    id: None,
                    ..square(3, 0.0, 0.0, "").feature
                })],
                &[]
            )
            .is_err());
        let roads = TileSource::new("roads", vec![square(9, 105.7001, 32.4001, "a")]);
        let both = render_layers(tile, &[(&src, &all_features), (&roads, &only_a)]);
        let layers = super::super::decode::decode_tile(&both).expect("decodes");
        let names: Vec<_> = layers
            .iter()
            .map(|l| (l.name.as_str(), l.features.len()))
            .collect();
        assert_eq!(names, vec![("grids", 2), ("roads", 1)]);
        let tj = src.tilejson("http://x/{z}/{x}/{y}.mvt").to_json();
        assert_eq!(tj["vector_layers"][0]["fields"]["code"], "String");
    }
}
