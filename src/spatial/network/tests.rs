//! Tests of network construction, splitting at shared vertices, snapping and input checks.

use super::*;

fn c(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

#[test]
fn lines_split_at_shared_vertices() {
    // A cross: two lines sharing their middle vertex, plus a dangling line touching an end.
    let lines = vec![
        LineInput::new(
            vec![c(0.0, 0.0), c(0.001, 0.0), c(0.002, 0.0)],
            "footway",
            Some("A"),
        ),
        LineInput::new(
            vec![c(0.001, -0.001), c(0.001, 0.0), c(0.001, 0.001)],
            "residential",
            None,
        ),
        LineInput::new(vec![c(0.002, 0.0), c(0.003, 0.0)], "path", None),
        LineInput::new(vec![c(1.0, 1.0), c(1.001, 1.0)], "path", None),
    ];
    let net = Network::from_lines(&lines).expect("valid lines");
    assert_eq!(net.edge_count(), 6);
    assert_eq!(net.node_count(), 8);
    assert_eq!(net.component_sizes(), &[6, 2]);
    let centre = (0..net.node_count() as u32)
        .find(|&n| net.node_coord(n) == c(0.001, 0.0))
        .expect("centre node");
    assert_eq!(net.arcs(centre).len(), 4);
    let total: f64 = net.total_length_m();
    let expect = haversine_length(&[c(0.0, 0.0), c(0.003, 0.0)])
        + haversine_length(&[c(0.001, -0.001), c(0.001, 0.001)])
        + haversine_length(&[c(1.0, 1.0), c(1.001, 1.0)]);
    assert!((total - expect).abs() < 1e-6);
    let named: Vec<u32> = (0..6).filter(|&e| net.edge_name(e) == Some("A")).collect();
    assert_eq!(named.len(), 2);
    assert!(named.iter().all(|&e| net.edge_highway(e) == "footway"));
}

#[test]
fn snap_finds_nearest_point_and_offset() {
    let lines = vec![LineInput::new(
        vec![c(0.0, 0.0), c(0.01, 0.0)],
        "footway",
        None,
    )];
    let net = Network::from_lines(&lines).expect("valid");
    let s = net.snap(c(0.004, 0.0001)).expect("snap");
    assert!((s.on_edge.x - 0.004).abs() < 1e-9);
    let want_off = haversine(c(0.0, 0.0), c(0.004, 0.0));
    assert!((s.offset_m - want_off).abs() < 1e-6);
    assert!((s.access_m - haversine(c(0.004, 0.0001), c(0.004, 0.0))).abs() < 1e-6);
    let piece = net.edge_piece(0, want_off, net.edge_len(0));
    assert!((haversine_length(&piece) - (net.edge_len(0) - want_off)).abs() < 1e-6);
}

#[test]
fn geojson_lines_are_imported() {
    let fc: geojson::FeatureCollection = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"highway":"footway","name":"陵江路"},
         "geometry":{"type":"LineString","coordinates":[[105.8,32.4],[105.801,32.4],[105.802,32.4]]}},
        {"type":"Feature","properties":{"highway":"steps"},
         "geometry":{"type":"MultiLineString","coordinates":[[[105.801,32.399],[105.801,32.4]],[[105.802,32.4],[105.802,32.401]]]}}
    ]}"#
    .parse()
    .expect("valid GeoJSON");
    let net = Network::from_geojson(&fc).expect("lines");
    // The footway splits at 105.801 (shared vertex); its end at 105.802 meets the steps.
    assert_eq!(net.edge_count(), 4);
    assert_eq!(net.node_count(), 5);
    assert_eq!(net.component_sizes(), &[5]);
    assert_eq!(
        (0..4)
            .filter(|&e| net.edge_name(e) == Some("陵江路"))
            .count(),
        2
    );
    let bad: geojson::FeatureCollection = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#
        .parse()
        .expect("valid GeoJSON");
    assert!(matches!(
        Network::from_geojson(&bad),
        Err(NetworkError::GeoJson { feature: 0, .. })
    ));
}

#[test]
fn bad_input_is_rejected() {
    let nodes = vec![NodeSpec {
        id: 1,
        coord: c(0.0, 0.0),
    }];
    let edges = vec![EdgeSpec {
        id: 1,
        source: 0,
        target: 3,
        geometry: vec![c(0.0, 0.0), c(0.0, 1.0)],
        length_m: None,
        highway: String::new(),
        name: None,
    }];
    assert!(matches!(
        Network::from_parts(nodes, edges),
        Err(NetworkError::BadNodeIndex { .. })
    ));
}
