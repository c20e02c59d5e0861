//! Tests of the encoder: rounding, the spec's command example, empty tiles, winding and
//! properties round-tripped through the decoder, clipping, and hostile input.

use super::super::decode::{decode_tile, DecodedGeometry};
use super::wire::{command, ring_area2, round_i32, zigzag};
use super::*;
use geo::{point, polygon, Coord, LineString, Rect};

fn tile() -> TileId {
    TileId::new(15, 26_389, 13_276).expect("valid tile")
}

fn lonlat_of_px(t: TileId, x: f64, y: f64) -> Coord<f64> {
    let n = f64::from(t.tiles_per_side());
    let w = Coord {
        x: (f64::from(t.x()) + x / 4096.0) / n,
        y: (f64::from(t.y()) + y / 4096.0) / n,
    };
    super::super::tilemath::world_to_lonlat(w)
}

#[test]
fn rounding_matches_std() {
    for v in [
        0.0, 0.4, 0.5, 1.5, 2.5, -0.4, -0.5, -1.5, -2.6, 4160.49, -64.5, 1e12, -1e12,
    ] {
        assert_eq!(round_i32(v), v.round() as i32, "{v}");
    }
    assert_eq!(round_i32(f64::NAN), 0);
}

#[test]
fn spec_example_command_encoding() {
    assert_eq!(command(1, 1), 9);
    assert_eq!(command(2, 3), 26);
    assert_eq!(command(7, 1), 15);
    assert_eq!(zigzag(25), 50);
    assert_eq!(zigzag(-1), 1);
    assert_eq!(zigzag(i32::MIN), u32::MAX);
}

#[test]
fn empty_tile_is_empty_body() {
    let t = tile();
    let mut layer = Layer::new("grids");
    layer.features.push(Feature {
        id: Some(1),
        geometry: point!(x: 0.0, y: 0.0).into(),
        properties: vec![],
    });
    assert!(encode_tile(t, &[layer, Layer::new("empty")], &EncodeOptions::default()).is_empty());
}

#[test]
fn polygon_winding_and_properties_round_trip() {
    let t = tile();
    let c = |x, y| lonlat_of_px(t, x, y);
    // Counter-clockwise in lon/lat with a hole that is also counter-clockwise.
    let (a, b, cc, d) = (
        c(100.0, 100.0),
        c(1100.0, 100.0),
        c(1100.0, 1100.0),
        c(100.0, 1100.0),
    );
    let (h1, h2, h3, h4) = (
        c(400.0, 400.0),
        c(600.0, 400.0),
        c(600.0, 600.0),
        c(400.0, 600.0),
    );
    let poly = polygon!(
        exterior: [a, b, cc, d, a],
        interiors: [[h1, h4, h3, h2, h1]],
    );
    let mut layer = Layer::new("grids");
    layer.features.push(Feature {
        id: Some(7),
        geometry: poly.into(),
        properties: vec![
            ("name".into(), "一网格".into()),
            ("n".into(), Value::Int(-3)),
            ("gone".into(), Value::Null),
            ("ok".into(), true.into()),
        ],
    });
    let bytes = encode_tile(t, &[layer], &EncodeOptions::default());
    let layers = decode_tile(&bytes).expect("decodes");
    assert_eq!(layers.len(), 1);
    let f = &layers[0].features[0];
    assert_eq!(f.id, Some(7));
    assert_eq!(f.properties.len(), 3);
    assert!(f.properties.contains(&("n".to_string(), Value::Int(-3))));
    let DecodedGeometry::Polygons(polys) = &f.geometry else {
        panic!("not a polygon: {:?}", f.geometry)
    };
    assert_eq!(polys.len(), 1);
    assert_eq!(polys[0].len(), 2);
    assert_eq!(
        polys[0][0],
        vec![(100, 100), (1100, 100), (1100, 1100), (100, 1100)]
    );
    assert_eq!(ring_area2(&polys[0][1]), -2 * 200 * 200);
}

#[test]
fn clipped_and_degenerate_features() {
    let t = tile();
    let c = |x, y| lonlat_of_px(t, x, y);
    let big = Rect::new(c(-1000.0, -1000.0), c(5000.0, 5000.0)).to_polygon();
    let tiny = Rect::new(c(10.0, 10.0), c(10.2, 10.2)).to_polygon();
    let line = LineString::from(vec![c(-500.0, 2000.0), c(4500.0, 2000.0)]);
    let mut layer = Layer::new("l");
    for (i, g) in [Geometry::from(big), tiny.into(), line.into()]
        .into_iter()
        .enumerate()
    {
        layer.features.push(Feature {
            id: Some(i as u64),
            geometry: g,
            properties: vec![],
        });
    }
    let layers =
        decode_tile(&encode_tile(t, &[layer], &EncodeOptions::default())).expect("decodes");
    let fs = &layers[0].features;
    assert_eq!(fs.len(), 2, "tiny polygon collapses");
    let DecodedGeometry::Polygons(p) = &fs[0].geometry else {
        panic!("polygon expected")
    };
    assert_eq!(p[0][0].len(), 4);
    assert!(p[0][0]
        .iter()
        .all(|&(x, y)| x == -64 || x == 4160 || y == -64 || y == 4160));
    let DecodedGeometry::Lines(l) = &fs[1].geometry else {
        panic!("line expected")
    };
    assert_eq!(l[0], vec![(-64, 2000), (4160, 2000)]);
}

#[test]
fn hostile_input_does_not_panic() {
    let t = TileId::new(24, 0, 0).expect("valid");
    let mut layer = Layer::new("x");
    layer.extent = u32::MAX;
    for g in [
        Geometry::from(point!(x: f64::NAN, y: 1.0)),
        LineString::from(vec![(f64::INFINITY, 0.0), (0.0, f64::NAN)]).into(),
        polygon![(x: -180.0, y: 90.0), (x: 180.0, y: 90.0), (x: 0.0, y: -90.0)].into(),
        Geometry::GeometryCollection(geo::GeometryCollection(vec![])),
    ] {
        layer.features.push(Feature {
            id: None,
            geometry: g,
            properties: vec![("k".into(), Value::Double(f64::NAN))],
        });
    }
    let opts = EncodeOptions {
        buffer: u32::MAX,
        simplify_tolerance: f64::NAN,
    };
    let bytes = encode_tile(t, &[layer], &opts);
    decode_tile(&bytes).expect("still valid protobuf");
}
