//! The map's vector-tile layers, kept in step with the registry snapshot: one
//! [`TileSource`] per layer built from the index, and one [`TileCache`] for all of them.
//!
//! A tile request first brings the layers up to the snapshot it sees (rebuilding only the
//! layers whose snapshot parts changed, and invalidating only the cached tiles whose
//! features changed), then serves from the cache or renders. Together with the cache's
//! generation rule this means a request that starts after a committed edit never gets a
//! tile drawn from the old data.
//!
//! Tiles carry boundaries, names, codes and household counts only: party figures and
//! personal data are never in a tile. Which features a caller sees follows the same
//! visibility rule as the API (`domain::access`).
//!
//! Grids have label layers beside their shapes (`grids1_labels`, `grids2_labels`): one point
//! inside each grid, served in exactly one tile per zoom, so that a map draws each grid's
//! label once and not once for every tile the grid crosses.

use crate::domain::access::{Caller, Place, Visibility};
use crate::domain::GridLevel;
use crate::spatial::index::Snapshot;
use crate::spatial::tiles::{
    lonlat_to_world, CacheConfig, Feature, SourceFeature, TileCache, TileId, TileKey, TileSource,
    Value, DEFAULT_EXTENT,
};
use arc_swap::ArcSwap;
use bytes::Bytes;
use geo::{Geometry, InteriorPoint, Point};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// The layers served, with the zoom from which each is drawn.
pub const LAYERS: [(&str, u32); 8] = [
    ("communities", 8),
    ("grids1", 10),
    ("grids2", 11),
    ("grids1_labels", 10),
    ("grids2_labels", 11),
    ("buildings", 13),
    ("stations", 12),
    ("streets", 12),
];

/// The most zoomed-in level served.
pub const MAX_ZOOM: u32 = 20;

/// One layer: its source and where each feature sits (for visibility).
pub struct TileLayer {
    /// The source.
    pub source: TileSource,
    places: HashMap<u64, Place>,
    /// Stations are shown to anyone of the region; other layers follow visibility.
    region_only: bool,
    /// Streets are shown to everyone signed in.
    public: bool,
    /// Label points: each is served in the one tile of a zoom that holds it ([`owns`]).
    once: bool,
}

/// All layers at one snapshot.
pub struct TileLayers {
    seq: i64,
    parts: Parts,
    layers: HashMap<&'static str, Arc<TileLayer>>,
    /// Whether the streets come from OpenStreetMap.
    osm: bool,
}

/// Which snapshot parts the layers were built from (compared by pointer).
#[derive(Default, Clone)]
struct Parts {
    communities: usize,
    grids: usize,
    buildings: usize,
    stations: usize,
    staff: usize,
    figures: usize,
    network: usize,
}

impl Parts {
    fn of(s: &Snapshot) -> Self {
        Self {
            communities: Arc::as_ptr(&s.communities) as usize,
            grids: Arc::as_ptr(&s.grids) as usize,
            buildings: Arc::as_ptr(&s.buildings) as usize,
            stations: Arc::as_ptr(&s.stations) as usize,
            staff: Arc::as_ptr(&s.staff) as usize,
            figures: Arc::as_ptr(&s.figures) as usize,
            network: s.network.as_ref().map_or(0, |n| Arc::as_ptr(n) as usize),
        }
    }
}

/// The tile layers and their cache.
pub struct MapTiles {
    current: ArcSwap<TileLayers>,
    cache: TileCache,
    syncing: Mutex<()>,
}

impl std::fmt::Debug for MapTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapTiles(seq {})", self.current.load().seq)
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// One feature of a layer: id, geometry, properties and the place it is in (for access).
type Row = (i64, Geometry<f64>, Vec<(String, Value)>, Option<Place>);

/// Communities with their households and residents.
fn community_rows(snap: &Snapshot) -> Vec<Row> {
    snap.communities
        .items
        .iter()
        .map(|c| {
            let f = snap.figures.community(c.id);
            let props = vec![
                ("code".into(), s(&c.code)),
                ("name".into(), s(&c.name)),
                ("households".into(), Value::Int(f.households)),
                ("residents".into(), Value::Int(f.residents)),
            ];
            (
                c.id,
                c.geom.clone().into(),
                props,
                Some(snap.place_of_community(c)),
            )
        })
        .collect()
}

/// Grids of one level with their figures and chief.
fn grid_rows(snap: &Snapshot, level: GridLevel) -> Vec<Row> {
    snap.grids
        .items
        .iter()
        .filter(|g| g.level == level)
        .map(|g| {
            let f = snap.figures.grid(g.id);
            let mut props = vec![
                ("code".into(), s(&g.code)),
                ("name".into(), s(&g.name)),
                ("level".into(), Value::Int(i64::from(g.level.number()))),
                ("version".into(), Value::Int(i64::from(g.version))),
                ("households".into(), Value::Int(f.households)),
                ("residents".into(), Value::Int(f.residents)),
            ];
            if let Some(c) = snap.staff.chief(g.id) {
                props.push(("chief".into(), s(&c.name)));
            }
            (g.id, g.geom.clone().into(), props, snap.place_of_grid(g))
        })
        .collect()
}

/// What a grid's label shows (src/map/style.ts, `gridLabel`), and its level.
const LABEL_KEYS: [&str; 4] = ["code", "name", "level", "chief"];

/// Where a grid's label goes: a point inside it (geo's interior point, the middle of the
/// widest stretch of a line across it), not its centroid, which lies outside an L-shaped
/// grid.
fn label_point(shape: &Geometry<f64>) -> Option<Point<f64>> {
    shape.interior_point()
}

/// The label point of each grid of one level, with what its label shows.
fn label_rows(snap: &Snapshot, level: GridLevel) -> Vec<Row> {
    grid_rows(snap, level)
        .into_iter()
        .filter_map(|(id, shape, props, place)| {
            let at = label_point(&shape)?;
            let props = props
                .into_iter()
                .filter(|(k, _)| LABEL_KEYS.contains(&k.as_str()))
                .collect();
            Some((id, at.into(), props, place))
        })
        .collect()
}

/// Whether `tile` is the one tile of its zoom that holds point `f` in its own square: the
/// pixel is rounded as the encoder rounds it (half away from zero), and must fall in
/// `0..extent` on both axes. Neighbours hold it only in their buffer, where it is left out,
/// so each label point is served once per zoom (MapLibre draws a point symbol only from
/// the tile whose square holds it, so one in a buffer would be sent for nothing).
fn owns(tile: TileId, f: &SourceFeature) -> bool {
    let Geometry::Point(p) = &f.feature.geometry else {
        return true;
    };
    let w = lonlat_to_world(p.0);
    let e = f64::from(DEFAULT_EXTENT);
    let scale = f64::from(tile.tiles_per_side()) * e;
    let pixel = |v: f64, origin: u32| {
        let d = v * scale - f64::from(origin) * e;
        let q = if d >= 0.0 {
            (d + 0.5).trunc()
        } else {
            (d - 0.5).trunc()
        };
        (0.0..e).contains(&q)
    };
    pixel(w.x, tile.x()) && pixel(w.y, tile.y())
}

/// Buildings with their counts, name, address and compound.
fn building_rows(snap: &Snapshot) -> Vec<Row> {
    snap.buildings
        .items
        .iter()
        .map(|b| {
            let mut props = vec![
                ("code".into(), s(&b.code)),
                ("households".into(), Value::Int(i64::from(b.households))),
                ("residents".into(), Value::Int(i64::from(b.residents))),
                ("employees".into(), Value::Int(i64::from(b.employees))),
            ];
            if let Some(n) = &b.name {
                props.push(("name".into(), s(n)));
            }
            if let Some(a) = &b.address {
                props.push(("address".into(), s(a)));
            }
            if let Some((code, name)) = &b.compound {
                props.push(("compound_code".into(), s(code)));
                props.push(("compound_name".into(), s(name)));
            }
            (
                b.id,
                b.geom.clone().into(),
                props,
                snap.place_of_building(b),
            )
        })
        .collect()
}

/// Streets of the walking network. Streets are public: every account of any region sees
/// them, so they have no place.
fn street_rows(snap: &Snapshot) -> Vec<Row> {
    let Some(net) = &snap.network else {
        return Vec::new();
    };
    (0..net.edge_count() as u32)
        .map(|e| {
            let mut props = vec![("highway".into(), s(net.edge_highway(e)))];
            if let Some(n) = net.edge_name(e) {
                props.push(("name".into(), s(n)));
            }
            if snap.network_osm {
                props.push(("source".into(), s("osm")));
            }
            (net.edge_id(e), net.edge_line(e).into(), props, None)
        })
        .collect()
}

/// Service stations with their code, name and kind.
fn station_rows(snap: &Snapshot) -> Vec<Row> {
    snap.stations
        .items
        .iter()
        .map(|st| {
            let props = vec![
                ("code".into(), s(&st.code)),
                ("name".into(), s(&st.name)),
                ("kind".into(), s(st.kind.as_str())),
            ];
            (st.id, st.point.into(), props, snap.place_of_station(st))
        })
        .collect()
}

/// The tile layer `name` built from a snapshot, with the place of each feature.
fn build(name: &str, snap: &Snapshot) -> TileLayer {
    let rows = match name {
        "communities" => community_rows(snap),
        "grids1" => grid_rows(snap, GridLevel::First),
        "grids2" => grid_rows(snap, GridLevel::Second),
        "grids1_labels" => label_rows(snap, GridLevel::First),
        "grids2_labels" => label_rows(snap, GridLevel::Second),
        "buildings" => building_rows(snap),
        "streets" => street_rows(snap),
        _ => station_rows(snap),
    };
    let mut places = HashMap::new();
    let mut features = Vec::with_capacity(rows.len());
    for (id, geometry, properties, place) in rows {
        if let Some(p) = place {
            places.insert(id as u64, p);
        }
        features.push(SourceFeature::new(Feature {
            id: Some(id as u64),
            geometry,
            properties,
        }));
    }
    TileLayer {
        source: TileSource::new(name, features),
        places,
        region_only: name == "stations",
        public: name == "streets",
        once: name.ends_with("_labels"),
    }
}

/// Which layers depend on which snapshot parts.
fn stale(name: &str, old: &Parts, new: &Parts) -> bool {
    let grids = old.grids != new.grids || old.communities != new.communities;
    match name {
        "communities" => old.communities != new.communities || old.figures != new.figures,
        "grids1" | "grids2" | "grids1_labels" | "grids2_labels" => {
            grids || old.staff != new.staff || old.figures != new.figures
        }
        "buildings" => old.buildings != new.buildings || grids,
        "streets" => old.network != new.network,
        _ => old.stations != new.stations || old.communities != new.communities,
    }
}

impl MapTiles {
    /// Layers built from a snapshot, with an empty cache of `max_bytes`.
    pub fn new(snap: &Snapshot, max_bytes: usize) -> Self {
        let layers = LAYERS
            .iter()
            .map(|(name, _)| (*name, Arc::new(build(name, snap))))
            .collect();
        Self {
            current: ArcSwap::from_pointee(TileLayers {
                seq: snap.seq,
                parts: Parts::of(snap),
                layers,
                osm: snap.network_osm,
            }),
            cache: TileCache::new(CacheConfig {
                max_bytes,
                ..CacheConfig::default()
            }),
            syncing: Mutex::new(()),
        }
    }

    /// Brings the layers up to `snap`: rebuilds the layers whose parts changed, and
    /// invalidates cached tiles around every feature that changed.
    pub fn sync(&self, snap: &Snapshot) {
        if self.current.load().seq == snap.seq {
            return;
        }
        let Ok(_guard) = self.syncing.lock() else {
            return;
        };
        let old = self.current.load_full();
        if old.seq == snap.seq {
            return;
        }
        let parts = Parts::of(snap);
        let mut layers = old.layers.clone();
        let mut dirty = vec![];
        for (name, _) in LAYERS {
            if !stale(name, &old.parts, &parts) {
                continue;
            }
            let fresh = build(name, snap);
            let before = &old.layers[name];
            // Features whose geometry or properties differ, and removed ones.
            let fresh_ids: std::collections::HashSet<u64> =
                fresh.source.ids().into_iter().collect();
            let mut changed = vec![];
            for id in &fresh_ids {
                match (before.source.get(*id), fresh.source.get(*id)) {
                    (Some(a), Some(b)) if a.feature == b.feature => {}
                    (_, Some(b)) => changed.push(b.clone()),
                    _ => {}
                }
            }
            let removed: Vec<u64> = before
                .source
                .ids()
                .into_iter()
                .filter(|id| !fresh_ids.contains(id))
                .collect();
            let visibility_moved = fresh.places != before.places;
            match before.source.with_changes(changed, &removed) {
                Ok(edit) => {
                    if let Some(b) = edit.dirty {
                        dirty.push((name, Some(b)));
                    }
                    if visibility_moved {
                        dirty.push((name, None));
                    }
                    layers.insert(
                        name,
                        Arc::new(TileLayer {
                            source: edit.source,
                            places: fresh.places,
                            region_only: fresh.region_only,
                            public: fresh.public,
                            once: fresh.once,
                        }),
                    );
                }
                Err(_) => {
                    dirty.push((name, None));
                    layers.insert(name, Arc::new(fresh));
                }
            }
        }
        // Publish the new sources first, then invalidate: see `TileCache`.
        self.current.store(Arc::new(TileLayers {
            seq: snap.seq,
            parts,
            layers,
            osm: snap.network_osm,
        }));
        for (name, bbox) in dirty {
            match bbox {
                Some(b) => {
                    self.cache.invalidate_bbox(name, b);
                }
                None => {
                    self.cache.invalidate_layer(name);
                }
            }
        }
    }

    /// The cache variant of a caller: callers who see the same features share tiles.
    pub fn variant(caller: &Caller) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        caller.role.as_str().hash(&mut h);
        caller.scope_kind.as_str().hash(&mut h);
        let mut v: Vec<i64> = caller.regions.iter().copied().collect();
        v.sort_unstable();
        v.hash(&mut h);
        let mut v: Vec<i64> = caller.communities.iter().copied().collect();
        v.sort_unstable();
        v.hash(&mut h);
        let mut v: Vec<i64> = caller.grids.iter().copied().collect();
        v.sort_unstable();
        v.hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// One tile of a layer for a caller: from the cache, or rendered (CPU work; call from
    /// a blocking thread).
    pub fn tile(&self, layer: &str, tile: TileId, caller: &Caller) -> Option<Bytes> {
        let (name, minzoom) = LAYERS.iter().find(|(n, _)| *n == layer)?;
        if u32::from(tile.z()) < *minzoom || u32::from(tile.z()) > MAX_ZOOM {
            return Some(Bytes::new());
        }
        let key = TileKey::new(*name, tile, Self::variant(caller));
        let bytes = self.cache.get_or_render(&key, || {
            let layers = self.current.load();
            let l = &layers.layers[name];
            let filter = |f: &SourceFeature| {
                if l.once && !owns(tile, f) {
                    return false;
                }
                if l.public {
                    return true;
                }
                let Some(p) = f.feature.id.and_then(|id| l.places.get(&id)) else {
                    return false;
                };
                if l.region_only {
                    caller.regions.contains(&p.region_id)
                } else {
                    caller.visibility(p) != Visibility::Hidden
                }
            };
            Ok::<_, std::convert::Infallible>(Bytes::from(l.source.render(tile, &filter)))
        });
        bytes.ok()
    }

    /// The TileJSON of a layer, with tiles at `url_template`.
    pub fn tilejson(&self, layer: &str, url_template: &str) -> Option<serde_json::Value> {
        let (name, minzoom) = LAYERS.iter().find(|(n, _)| *n == layer)?;
        let layers = self.current.load();
        let mut tj = layers.layers[name]
            .source
            .tilejson(url_template)
            .with_zoom_range(*minzoom as u8, MAX_ZOOM as u8);
        if *name == "streets" && layers.osm {
            tj = tj.with_attribution(
                "© <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors",
            );
        }
        Some(tj.to_json())
    }

    /// Cache statistics.
    pub fn stats(&self) -> crate::spatial::tiles::CacheStats {
        self.cache.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::tiles::{decode_tile, DecodedGeometry};
    use geo::{polygon, Centroid, Contains};

    #[test]
    fn a_label_point_lies_inside_an_l_shaped_grid() {
        // An L: a long foot and a tall leg, whose centroid falls in the empty corner.
        let l: Geometry<f64> = polygon![
            (x: 105.70, y: 32.40), (x: 105.73, y: 32.40), (x: 105.73, y: 32.403),
            (x: 105.703, y: 32.403), (x: 105.703, y: 32.43), (x: 105.70, y: 32.43),
        ]
        .into();
        let centroid = l.centroid().expect("a centroid");
        assert!(
            !l.contains(&centroid),
            "the test shape must defeat the centroid"
        );
        let at = label_point(&l).expect("a label point");
        assert!(l.contains(&at), "{at:?} is not inside the grid");
    }

    #[test]
    fn a_label_point_is_served_by_exactly_one_tile_per_zoom() {
        // Points spread over a tile and its edges at several zooms, some a hair from a
        // tile edge, where rounding decides.
        let mut points = vec![];
        for z in [12u8, 15, 18] {
            let t = TileId::new(u32::from(z), 0, 0).expect("a tile");
            let side = 1.0 / f64::from(t.tiles_per_side());
            let base = lonlat_to_world(geo::coord! { x: 105.71, y: 32.41 });
            let (cx, cy) = ((base.x / side).floor(), (base.y / side).floor());
            let px = side / f64::from(DEFAULT_EXTENT);
            for (dx, dy) in [
                (0.0, 0.0),
                (0.5, 0.5),
                (0.49, 0.51),
                (0.5001, 0.4999),
                (-0.2, 0.7),
            ] {
                for (fx, fy) in [(0.37, 0.61), (0.0, 0.0), (1.0, 0.5), (0.5, 1.0)] {
                    let w = geo::coord! {
                        x: (cx + fx) * side + dx * px,
                        y: (cy + fy) * side + dy * px,
                    };
                    let ll = crate::spatial::tiles::world_to_lonlat(w);
                    points.push((z, cx as u32, cy as u32, Point::from(ll)));
                }
            }
        }
        for (z, cx, cy, p) in points {
            let f = SourceFeature::new(Feature {
                id: Some(1),
                geometry: p.into(),
                properties: vec![("code".into(), s("A"))],
            });
            let source = TileSource::new("grids2_labels", vec![f.clone()]);
            let mut holders = vec![];
            for x in cx - 1..=cx + 2 {
                for y in cy - 1..=cy + 2 {
                    let t = TileId::new(u32::from(z), x, y).expect("a tile");
                    let bytes = source.render(t, &|f: &SourceFeature| owns(t, f));
                    if bytes.is_empty() {
                        continue;
                    }
                    holders.push(t);
                    // MapLibre draws a point only from the tile whose square holds it.
                    for layer in decode_tile(&bytes).expect("decodes") {
                        for feat in layer.features {
                            let DecodedGeometry::Points(pts) = feat.geometry else {
                                panic!("a point layer");
                            };
                            let e = DEFAULT_EXTENT as i32;
                            assert!(
                                pts.iter()
                                    .all(|&(x, y)| (0..e).contains(&x) && (0..e).contains(&y)),
                                "z{z} {t:?}: {pts:?} outside the tile's square"
                            );
                        }
                    }
                }
            }
            assert_eq!(holders.len(), 1, "z{z} {p:?}: served by {holders:?}");
        }
    }
}
