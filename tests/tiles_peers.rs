//! Peer tests for the vector tile producer: GDAL's MVT driver must read our tiles back,
//! PostGIS `ST_AsMVT` must agree on the same features, and the cache must never serve a
//! stale tile after an edit.

mod tiles_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use geo::{
    BooleanOps, Coord, CoordsIter, Geometry, Intersects, LineString, MapCoords, MultiPolygon,
    Polygon, Rect, Validation,
};
use tiles_support::{lattice, pg_tile, Cell, TestDb};
use wangge::spatial::tiles::{
    all_features, decode_tile, encode_tile, lonlat_to_world, tiles_covering, CacheConfig,
    DecodedFeature, DecodedGeometry, DecodedLayer, EncodeOptions, Feature, Layer, SourceFeature,
    TileCache, TileId, TileKey, TileSource, Value,
};

const OSM: &str = "/work/shared/data/osm/helsinki.osm.pbf";

fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wangge-tiles-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is gdal-bin installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn osm_shared_path() -> PathBuf {
    // CI lays shared/ beside the clone; developers have it at /work/shared.
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/osm/helsinki.osm.pbf");
    if beside.exists() {
        beside
    } else {
        PathBuf::from(OSM)
    }
}

/// Reads one OSM layer through GDAL into tile features with attributes of every type.
fn osm_layer(dir: &Path, layer: &str, first_id: u64) -> Layer {
    let out = dir.join(format!("{layer}.geojson"));
    run(Command::new("ogr2ogr")
        .arg("-f")
        .arg("GeoJSON")
        .arg(&out)
        .arg(osm_shared_path())
        .arg(layer));
    let text = std::fs::read_to_string(&out).expect("ogr2ogr output");
    let fc: geojson::FeatureCollection = text.parse().expect("GeoJSON feature collection");
    let mut l = Layer::new(layer);
    for (i, f) in fc.features.into_iter().enumerate() {
        let Some(g) = f.geometry else { continue };
        let Ok(geometry) = Geometry::<f64>::try_from(g) else {
            continue;
        };
        let prop = |k: &str| f.properties.as_ref().and_then(|p| p.get(k)).cloned();
        let name = prop("name").map(|v| Value::from(&v)).unwrap_or(Value::Null);
        let osm = prop("osm_id")
            .or_else(|| prop("osm_way_id"))
            .and_then(|v| v.as_str().and_then(|s| s.parse::<u64>().ok()));
        let kind = [
            "building", "highway", "amenity", "landuse", "shop", "leisure",
        ]
        .iter()
        .find_map(|k| prop(k).and_then(|v| v.as_str().map(|s| format!("{k}={s}"))))
        .unwrap_or_else(|| "other".into());
        let vertices = geometry.coords_count() as i64;
        l.features.push(Feature {
            id: Some(first_id + i as u64),
            properties: vec![
                ("name".into(), name),
                ("kind".into(), kind.into()),
                ("osm".into(), Value::from(osm)),
                ("vertices".into(), Value::Int(vertices - 7)),
                ("ratio".into(), Value::Double(vertices as f64 / 3.0)),
                (
                    "named".into(),
                    Value::Bool(prop("name").is_some_and(|v| !v.is_null())),
                ),
            ],
            geometry,
        });
    }
    assert!(!l.features.is_empty(), "no features read from {layer}");
    l
}

/// Tile pixel coordinates of a lon/lat position.
fn to_px(tile: TileId, c: Coord<f64>) -> Coord<f64> {
    let w = lonlat_to_world(c);
    let n = f64::from(tile.tiles_per_side());
    Coord {
        x: (w.x * n - f64::from(tile.x())) * 4096.0,
        y: (w.y * n - f64::from(tile.y())) * 4096.0,
    }
}

fn seg_dist(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let l2 = dx * dx + dy * dy;
    let t = if l2 == 0.0 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / l2).clamp(0.0, 1.0)
    };
    ((p.x - a.x - t * dx).powi(2) + (p.y - a.y - t * dy).powi(2)).sqrt()
}

fn dist_to_lines(p: Coord<f64>, lines: &[LineString<f64>]) -> f64 {
    let mut best = f64::INFINITY;
    for l in lines {
        if l.0.len() == 1 {
            best = best.min(seg_dist(p, l.0[0], l.0[0]));
        }
        for w in l.0.windows(2) {
            best = best.min(seg_dist(p, w[0], w[1]));
        }
    }
    best
}

fn boundary_lines(g: &Geometry<f64>) -> Vec<LineString<f64>> {
    match g {
        Geometry::Point(p) => vec![LineString::from(vec![p.0])],
        Geometry::MultiPoint(mp) => mp.0.iter().map(|p| LineString::from(vec![p.0])).collect(),
        Geometry::LineString(l) => vec![l.clone()],
        Geometry::MultiLineString(m) => m.0.clone(),
        Geometry::Polygon(p) => std::iter::once(p.exterior().clone())
            .chain(p.interiors().iter().cloned())
            .collect(),
        Geometry::MultiPolygon(mp) => {
            mp.0.iter()
                .flat_map(|p| boundary_lines(&Geometry::Polygon(p.clone())))
                .collect()
        }
        Geometry::GeometryCollection(gc) => gc.0.iter().flat_map(boundary_lines).collect(),
        other => panic!("unexpected geometry {other:?}"),
    }
}

/// Points, and rings and lines that simplification at 1 px cannot collapse: rings at
/// least 2 px thick on average (2·area / perimeter), lines longer than 2 px.
fn solid_parts(g: &Geometry<f64>) -> Vec<LineString<f64>> {
    let length = |l: &LineString<f64>| -> f64 {
        l.0.windows(2)
            .map(|w| ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt())
            .sum()
    };
    boundary_lines(g)
        .into_iter()
        .filter(|l| {
            let len = length(l);
            match l.0.len() {
                1 => true,
                n if l.is_closed() && n >= 4 => {
                    use geo::Area;
                    let area = Polygon::new(l.clone(), vec![]).unsigned_area();
                    2.0 * area / len >= 2.0
                }
                _ if l.is_closed() => false, // a degenerate ring in the source data
                _ => len > 2.0,
            }
        })
        .collect()
}

fn polygons_of(g: &Geometry<f64>) -> MultiPolygon<f64> {
    match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        _ => MultiPolygon(vec![]),
    }
}

fn signed_area(rings: &[Vec<(i32, i32)>]) -> f64 {
    rings
        .iter()
        .map(|r| {
            let mut s = 0i64;
            for i in 0..r.len() {
                let (a, b) = (r[i], r[(i + 1) % r.len()]);
                s += i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1);
            }
            s as f64 / 2.0
        })
        .sum()
}

fn decoded_area(f: &DecodedFeature) -> f64 {
    match &f.geometry {
        DecodedGeometry::Polygons(ps) => ps.iter().map(|p| signed_area(p)).sum(),
        _ => 0.0,
    }
}

fn perimeter(f: &DecodedFeature) -> f64 {
    let Some(g) = f.geometry.to_geo() else {
        return 0.0;
    };
    boundary_lines(&g)
        .iter()
        .flat_map(|l| {
            l.0.windows(2)
                .map(|w| ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Everything GDAL printed for one layer of one tile, as GeoJSON in EPSG:3857.
fn gdal_layer(file: &Path, tile: TileId, layer: &str) -> geojson::FeatureCollection {
    let out = run(Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(file)
        .arg(layer)
        .args(["-oo", &format!("X={}", tile.x())])
        .args(["-oo", &format!("Y={}", tile.y())])
        .args(["-oo", &format!("Z={}", tile.z())])
        .args(["-oo", "CLIP=NO"]));
    out.parse().expect("GeoJSON from ogr2ogr")
}

fn gdal_counts(file: &Path, tile: TileId) -> BTreeMap<String, usize> {
    let out = run(Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(file)
        .args(["-oo", &format!("X={}", tile.x())])
        .args(["-oo", &format!("Y={}", tile.y())])
        .args(["-oo", &format!("Z={}", tile.z())])
        .args(["-oo", "CLIP=NO"]));
    let mut counts = BTreeMap::new();
    let mut current = None;
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            current = Some(n.trim().to_owned());
        } else if let (Some(n), Some(c)) = (current.as_ref(), line.strip_prefix("Feature Count: "))
        {
            counts.insert(n.clone(), c.trim().parse().expect("feature count"));
        }
    }
    counts
}

fn json_matches(v: &Value, j: &serde_json::Value) -> bool {
    match v {
        Value::String(s) => j.as_str() == Some(s),
        Value::Int(i) => j.as_i64() == Some(*i),
        Value::UInt(u) => j.as_u64() == Some(*u),
        Value::Double(d) => j
            .as_f64()
            .is_some_and(|x| (x - d).abs() <= 1e-9 * d.abs().max(1.0)),
        Value::Float(f) => j.as_f64().is_some_and(|x| (x - f64::from(*f)).abs() < 1e-6),
        Value::Bool(b) => j.as_bool() == Some(*b) || j.as_i64() == Some(i64::from(*b)),
        Value::Null => j.is_null(),
    }
}

fn mercator_of_px(tile: TileId, p: Coord<f64>) -> Coord<f64> {
    let b = tile.mercator_bounds();
    let (w, h) = (b.max().x - b.min().x, b.max().y - b.min().y);
    Coord {
        x: b.min().x + p.x / 4096.0 * w,
        y: b.max().y - p.y / 4096.0 * h,
    }
}

/// (a) GDAL reads back what we wrote: feature counts, attributes and coordinates, and
/// what we wrote is within simplification tolerance plus half a pixel of the source.
#[test]
fn gdal_reads_our_tiles_from_osm_data() {
    let dir = scratch_dir("gdal");
    let layers = vec![
        osm_layer(&dir, "multipolygons", 1),
        osm_layer(&dir, "lines", 1_000_000),
        osm_layer(&dir, "points", 2_000_000),
    ];
    let extent = Rect::new(
        Coord {
            x: 24.935,
            y: 60.164,
        },
        Coord {
            x: 24.954,
            y: 60.1792,
        },
    );
    let mut tiles: Vec<TileId> = Vec::new();
    for z in [13u8, 14, 15] {
        tiles.extend(tiles_covering(extent, z).expect("zoom"));
    }
    tiles.extend(tiles_covering(extent, 16).expect("zoom").step_by(3));
    let opts = EncodeOptions::default();
    let bound = opts.simplify_tolerance + 0.75;
    let (mut checked_features, mut checked_vertices, mut checked_areas) = (0usize, 0usize, 0usize);
    for &tile in &tiles {
        let bytes = encode_tile(tile, &layers, &opts);
        let ours: Vec<DecodedLayer> = decode_tile(&bytes).expect("our own tile decodes");
        let file = dir.join(format!("{}_{}_{}.mvt", tile.z(), tile.x(), tile.y()));
        std::fs::write(&file, &bytes).expect("write tile");
        if ours.is_empty() {
            assert!(bytes.is_empty());
            continue;
        }
        let counts = gdal_counts(&file, tile);
        let expected: BTreeMap<String, usize> = ours
            .iter()
            .map(|l| (l.name.clone(), l.features.len()))
            .collect();
        assert_eq!(counts, expected, "feature counts per layer in tile {tile}");
        for ol in &ours {
            let source = layers
                .iter()
                .find(|l| l.name == ol.name)
                .expect("known layer");
            let gdal = gdal_layer(&file, tile, &ol.name);
            assert_eq!(gdal.features.len(), ol.features.len());
            for (gf, of) in gdal.features.iter().zip(&ol.features) {
                let id = of.id.expect("we always write ids");
                let props = gf.properties.clone().unwrap_or_default();
                let gid = props
                    .get("mvt_id")
                    .and_then(serde_json::Value::as_u64)
                    .or_else(|| match &gf.id {
                        Some(geojson::feature::Id::Number(n)) => n.as_u64(),
                        _ => None,
                    });
                assert_eq!(gid, Some(id), "GDAL sees the feature id ({props:?})");
                let src = source
                    .features
                    .iter()
                    .find(|f| f.id == Some(id))
                    .expect("source feature");
                for (k, v) in &src.properties {
                    match (v, props.get(k)) {
                        (Value::Null, None | Some(serde_json::Value::Null)) => {}
                        (v, Some(j)) => assert!(json_matches(v, j), "{k}: ours {v:?}, GDAL {j}"),
                        (v, None) => panic!("GDAL lost attribute {k}={v:?} of feature {id}"),
                    }
                }
                // GDAL's coordinates are exactly ours (to float noise), in EPSG:3857.
                let g: Geometry<f64> = gf
                    .geometry
                    .clone()
                    .expect("GDAL geometry")
                    .try_into()
                    .expect("geo geometry");
                let ours_merc = of
                    .geometry
                    .to_geo()
                    .expect("typed geometry")
                    .map_coords(|p| mercator_of_px(tile, p));
                let (a, b): (Vec<_>, Vec<_>) =
                    (g.coords_iter().collect(), ours_merc.coords_iter().collect());
                assert_eq!(a.len(), b.len(), "vertex count of feature {id} in {tile}");
                let px_m =
                    (tile.mercator_bounds().max().x - tile.mercator_bounds().min().x) / 4096.0;
                for (p, q) in a.iter().zip(&b) {
                    assert!((p.x - q.x).abs() < 1e-3 * px_m && (p.y - q.y).abs() < 1e-3 * px_m);
                }
                // And ours is within tolerance of the source geometry.
                let src_px = src.geometry.map_coords(|c| to_px(tile, c));
                let decoded = of.geometry.to_geo().expect("typed geometry");
                let mut lines = boundary_lines(&src_px);
                let clip = Rect::new(
                    Coord { x: -64.0, y: -64.0 },
                    Coord {
                        x: 4160.0,
                        y: 4160.0,
                    },
                );
                if matches!(of.geometry, DecodedGeometry::Polygons(_)) {
                    lines.push(clip.to_polygon().exterior().clone());
                }
                for p in decoded.coords_iter() {
                    let d = dist_to_lines(p, &lines);
                    assert!(
                        d <= bound,
                        "vertex {p:?} of {id} is {d:.2}px from the source in {tile}"
                    );
                    checked_vertices += 1;
                }
                // Every source part big enough to survive simplification is still there.
                let inner = Rect::new(
                    Coord { x: -63.0, y: -63.0 },
                    Coord {
                        x: 4159.0,
                        y: 4159.0,
                    },
                );
                let back = boundary_lines(&decoded);
                for part in solid_parts(&src_px) {
                    for p in part.0.iter().filter(|p| inner.intersects(*p)) {
                        let d = dist_to_lines(*p, &back);
                        assert!(
                            d <= bound,
                            "source vertex {p:?} of {id} is {d:.2}px from the tile in {tile}"
                        );
                    }
                }
                // Areas only mean something for valid source polygons (OSM has a few
                // self-intersecting ones; the vertex checks above still cover them).
                if matches!(of.geometry, DecodedGeometry::Polygons(_))
                    && polygons_of(&src_px).is_valid()
                {
                    use geo::Area;
                    // Part by part: the tile keeps overlapping parts as drawn.
                    let want: f64 = polygons_of(&src_px)
                        .0
                        .iter()
                        .map(|p| p.intersection(&clip.to_polygon()).unsigned_area())
                        .sum();
                    let got = decoded_area(of);
                    let tol = perimeter(of) * bound + 2.0;
                    assert!(
                        (want - got).abs() <= tol,
                        "area of {id} in {tile}: {got} vs {want} ± {tol}"
                    );
                    checked_areas += 1;
                }
                checked_features += 1;
            }
        }
    }
    assert!(
        checked_features > 500,
        "only {checked_features} features compared"
    );
    assert!(
        checked_vertices > 5_000 && checked_areas > 300,
        "{checked_vertices} vertices, {checked_areas} areas"
    );
    eprintln!(
        "{} tiles, {checked_features} features, {checked_vertices} vertices, {checked_areas} areas",
        tiles.len()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// An empty tile is a 0-byte body, and GDAL reads it (in the z/x/y.pbf layout clients
/// use) as the layer with no features, without an error.
#[test]
fn gdal_accepts_an_empty_tile() {
    let dir = scratch_dir("empty");
    let tile = TileId::new(15, 0, 0).expect("valid");
    let bytes = encode_tile(tile, &[Layer::new("grids")], &EncodeOptions::default());
    assert!(bytes.is_empty());
    std::fs::create_dir_all(dir.join("15/0")).expect("tile dir");
    std::fs::write(dir.join("15/0/0.pbf"), &bytes).expect("write");
    let layer =
        serde_json::json!({"vector_layers": [{"id": "grids", "fields": {"code": "String"}}]});
    let meta = serde_json::json!({
        "name": "grids", "format": "pbf", "minzoom": "15", "maxzoom": "15",
        "json": layer.to_string(),
    });
    std::fs::write(dir.join("metadata.json"), meta.to_string()).expect("metadata");
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(dir.join("15"))
        .arg("-oo")
        .arg(format!(
            "METADATA_FILE={}",
            dir.join("metadata.json").display()
        ))
        .output()
        .expect("ogrinfo runs (gdal-bin installed)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Layer name: grids") && stdout.contains("Feature Count: 0"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn prop_num(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        _ => None,
    }
}

/// (b) PostGIS `ST_AsMVT(ST_AsMVTGeom(...))` over the same features gives the same
/// feature ids per tile, the same attributes, and polygon areas within a pixel of ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgis_st_asmvt_agrees() {
    let cells = lattice(30, 30, 150.0, 7);
    let db = TestDb::create(4).await;
    db.load_cells(&cells).await;
    let source = TileSource::new("grids", cells.iter().map(Cell::source_feature).collect());
    let bounds = source.bounds().expect("features");
    let mut tiles: Vec<TileId> = Vec::new();
    for z in [12u8, 13, 14, 15] {
        tiles.extend(tiles_covering(bounds, z).expect("zoom"));
    }
    tiles.extend(tiles_covering(bounds, 16).expect("zoom").step_by(5));
    let (mut compared, mut polygons, mut slivers) = (0, 0, 0);
    let mut worst = 0.0f64;
    for &tile in &tiles {
        let ours = decode_tile(&source.render(tile, &all_features)).expect("ours decodes");
        let theirs = decode_tile(&pg_tile(&db.pool, tile.z(), tile.x(), tile.y()).await)
            .expect("PostGIS tile decodes");
        let by_id = |ls: &[DecodedLayer]| -> BTreeMap<u64, DecodedFeature> {
            ls.iter()
                .flat_map(|l| l.features.iter())
                .map(|f| (f.id.expect("id"), f.clone()))
                .collect()
        };
        let (o, t) = (by_id(&ours), by_id(&theirs));
        let (oi, ti): (BTreeSet<_>, BTreeSet<_>) = (o.keys().collect(), t.keys().collect());
        // A feature only one side kept must be a sliver the other side's simplification
        // (1 px here, 0.5 px in PostGIS) collapsed: a few square pixels at most.
        for id in oi.symmetric_difference(&ti) {
            let f = o.get(id).or_else(|| t.get(id)).expect("in one of them");
            let a = decoded_area(f);
            assert!(
                a <= 4.0,
                "feature {id} in tile {tile} only on one side, area {a} px²"
            );
            slivers += 1;
        }
        for (id, of) in &o {
            let Some(tf) = t.get(id) else { continue };
            let (a, b) = (decoded_area(of), decoded_area(tf));
            let tol = perimeter(of) * 1.0 + 2.0;
            assert!(
                (a - b).abs() <= tol,
                "area of {id} in {tile}: ours {a}, PostGIS {b}"
            );
            if a >= 1000.0 {
                worst = worst.max((a - b).abs() / a);
            }
            let theirs_props: BTreeMap<_, _> = tf.properties.iter().cloned().collect();
            for (k, v) in &of.properties {
                let w = theirs_props
                    .get(k)
                    .unwrap_or_else(|| panic!("PostGIS lacks {k}"));
                match (prop_num(v), prop_num(w)) {
                    (Some(x), Some(y)) => assert_eq!(x, y, "{k} of {id}"),
                    _ => assert_eq!(v, w, "{k} of {id}"),
                }
            }
            polygons += 1;
        }
        compared += 1;
    }
    assert!(
        compared > 50 && polygons > 3_000,
        "{compared} tiles, {polygons} polygons"
    );
    assert!(
        slivers * 200 < polygons,
        "{slivers} one-sided slivers in {polygons} polygons"
    );
    eprintln!(
        "compared {compared} tiles, {polygons} polygons, {slivers} one-sided slivers; \
         worst relative area gap {worst:.4} (polygons over 1000 px²)"
    );
}

fn cover(r: Rect<f64>, zs: std::ops::RangeInclusive<u8>) -> Vec<TileId> {
    zs.flat_map(|z| tiles_covering(r, z).expect("zoom").collect::<Vec<_>>())
        .collect()
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        Coord {
            x: a.min().x.min(b.min().x),
            y: a.min().y.min(b.min().y),
        },
        Coord {
            x: a.max().x.max(b.max().x),
            y: a.max().y.max(b.max().y),
        },
    )
}

fn bbox_of(f: &Feature) -> Rect<f64> {
    use geo::BoundingRect;
    f.geometry.bounding_rect().expect("non-empty")
}

/// Moves a cell's vertices a little and bumps its `rev` attribute.
fn edited(cell: &SourceFeature, rev: i64, shift: f64) -> SourceFeature {
    let mut f = cell.clone();
    f.feature.geometry = f.feature.geometry.map_coords(|c| Coord {
        x: c.x + shift,
        y: c.y - shift / 2.0,
    });
    f.feature.properties.retain(|(k, _)| k != "rev");
    f.feature.properties.push(("rev".into(), Value::Int(rev)));
    f
}

fn render_via_cache(
    cache: &TileCache,
    current: &ArcSwap<TileSource>,
    key: &TileKey,
    scope: Option<&str>,
) -> Bytes {
    cache
        .get_or_render(key, || {
            let src = current.load();
            let filter = |f: &SourceFeature| scope.is_none_or(|s| f.in_scope(s));
            Ok::<_, std::convert::Infallible>(Bytes::from(src.render(key.tile, &filter)))
        })
        .unwrap_or_else(|e| match e {})
}

/// (c) After an edit and `invalidate_bbox`, every tile at z10..16 that covers the old or
/// new shape comes back new, for every scope variant, while unrelated tiles stay cached.
#[test]
fn edit_then_invalidate_serves_new_tiles_everywhere() {
    let cells = lattice(24, 24, 150.0, 11);
    let features: Vec<SourceFeature> = cells.iter().map(Cell::source_feature).collect();
    let target = features[12 * 24 + 12].clone();
    let scope = target.scope[0].clone();
    let current = ArcSwap::from_pointee(TileSource::new("grids", features));
    let cache = TileCache::new(CacheConfig::default());
    let all_bounds = current.load().bounds().expect("features");
    let every_tile = cover(all_bounds, 10..=16);
    let variants: [(&str, Option<&str>); 2] = [("all", None), ("scope", Some(scope.as_str()))];
    for &t in &every_tile {
        for (v, s) in variants {
            render_via_cache(&cache, &current, &TileKey::new("grids", t, v), s);
        }
    }
    let warm = cache.stats();
    assert_eq!(warm.entries, every_tile.len() * 2);

    let new = edited(&target, 2, 0.0004);
    let edit = current
        .load()
        .with_changes(vec![new.clone()], &[])
        .expect("has id");
    let dirty = edit.dirty.expect("changed");
    current.store(Arc::new(edit.source));
    let removed = cache.invalidate_bbox("grids", dirty);

    let touched = cover(
        union(bbox_of(&target.feature), bbox_of(&new.feature)),
        10..=16,
    );
    assert!(
        removed >= touched.len() * 2,
        "removed {removed}, touched {}",
        touched.len()
    );
    assert!(removed < every_tile.len() * 2, "invalidation must be local");
    let id = target.feature.id.expect("id");
    for &t in &touched {
        for (v, s) in variants {
            let key = TileKey::new("grids", t, v);
            let got = render_via_cache(&cache, &current, &key, s);
            let filter = |f: &SourceFeature| s.is_none_or(|sc| f.in_scope(sc));
            let fresh = current.load().render(t, &filter);
            assert_eq!(
                got.as_ref(),
                fresh.as_slice(),
                "tile {t} variant {v} is not the new one"
            );
            let layers = decode_tile(&got).expect("decodes");
            if let Some(f) = layers
                .iter()
                .flat_map(|l| &l.features)
                .find(|f| f.id == Some(id))
            {
                assert!(
                    f.properties.contains(&("rev".into(), Value::Int(2))),
                    "stale attributes in {t}"
                );
            }
        }
    }
    // Tiles far from the edit were kept.
    let after = cache.stats();
    assert!(after.entries >= warm.entries - removed);
    let far = tiles_covering(Rect::new(all_bounds.min(), all_bounds.min()), 16)
        .expect("zoom")
        .next()
        .expect("a corner tile");
    assert!(!touched.contains(&far));
    let hits = cache.stats().hits;
    render_via_cache(&cache, &current, &TileKey::new("grids", far, "all"), None);
    assert_eq!(
        cache.stats().hits,
        hits + 1,
        "unrelated tile should still be cached"
    );
}

/// Concurrent readers keep filling the cache while a writer edits; after each
/// `invalidate_bbox` returns, every cached tile covering the edit equals a fresh render.
#[test]
fn no_stale_tile_under_concurrent_edits() {
    let cells = lattice(12, 12, 150.0, 3);
    let features: Vec<SourceFeature> = cells.iter().map(Cell::source_feature).collect();
    let target = features[6 * 12 + 6].clone();
    let current = Arc::new(ArcSwap::from_pointee(TileSource::new("grids", features)));
    let cache = Arc::new(TileCache::new(CacheConfig::default()));
    let tiles = cover(current.load().bounds().expect("features"), 12..=16);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (cache, current, tiles, stop) =
                (cache.clone(), current.clone(), tiles.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    let key = TileKey::new("grids", tiles[i % tiles.len()], "all");
                    render_via_cache(&cache, &current, &key, None);
                    i += 7;
                }
            })
        })
        .collect();
    let mut prev = target.clone();
    for rev in 1..=60i64 {
        let new = edited(&target, rev, 0.00002 * rev as f64);
        let edit = current
            .load()
            .with_changes(vec![new.clone()], &[])
            .expect("has id");
        current.store(Arc::new(edit.source));
        cache.invalidate_bbox("grids", edit.dirty.expect("changed"));
        let snapshot = current.load_full();
        for t in cover(
            union(bbox_of(&prev.feature), bbox_of(&new.feature)),
            12..=16,
        ) {
            let key = TileKey::new("grids", t, "all");
            if let Some(cached) = cache.get(&key) {
                // Readers may insert concurrently, but only renders of the new snapshot.
                assert_eq!(
                    cached.as_ref(),
                    snapshot.render(t, &all_features).as_slice(),
                    "stale {t} at rev {rev}"
                );
            }
        }
        prev = new;
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader");
    }
    let s = cache.stats();
    assert!(s.inserts > 0 && s.invalidated > 0, "{s:?}");
}
