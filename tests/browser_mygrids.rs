//! "My grids" first, in a real browser (issue 14): starts the server on a fresh copy of the
//! demo district with the built app (web/dist), creates a grid chief of a first-level grid
//! and a planner, checks over HTTP that the grids' label points are served once per zoom
//! and lie inside their grids, and runs tests/e2e/mygrids.mjs (playwright-core driving
//! Debian's chromium): the chief's first view holds the scope clear of the layer list, grids
//! outside the scope are dimmed, each grid label is drawn once; the planner's per-grid table
//! of a chosen community shows the figures of `/api/coverage`.
//!
//! This test builds nothing: `make test` builds the app and installs the npm packages first.
//! When the app, playwright-core, chromium or node is missing it fails, saying what to run.

mod common;

use common::e2e::{preflight, run_script};
use common::*;
use geo::{coord, Contains, Rect};
use reqwest::Method;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use wangge::domain::access::{Role, ScopeKind};
use wangge::spatial::tiles::{decode_tile, tiles_covering, Value as TileValue};

/// The first-level grid of the test's grid chief (陵江社区第1网格 in data/demo).
const GRID: &str = "51080210200101";
/// Its community (陵江社区), whose grids the planner's table lists.
const COMMUNITY: &str = "510802102001";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

/// The label points of one tile layer over `area` at zoom `z`: each grid code with every
/// place it was served at.
async fn label_points(
    c: &Client,
    layer: &str,
    area: Rect<f64>,
    z: u8,
) -> HashMap<String, Vec<geo::Point<f64>>> {
    let mut out: HashMap<String, Vec<geo::Point<f64>>> = HashMap::new();
    for t in tiles_covering(area, z).expect("a tile range") {
        let path = format!("/tiles/{layer}/{}/{}/{}.mvt", t.z(), t.x(), t.y());
        let r = c.raw(Method::GET, &path).send().await.expect("request");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let bytes = r.bytes().await.expect("body");
        for l in decode_tile(&bytes).expect("a valid tile") {
            for f in l.features {
                let code = f
                    .properties
                    .iter()
                    .find_map(|(k, v)| match (k.as_str(), v) {
                        ("code", TileValue::String(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| panic!("{path}: a label without a code"));
                // A tile's points decode as a multi-point: a label is one of one.
                let p = match f.geometry.to_lonlat(t, l.extent) {
                    Some(geo::Geometry::MultiPoint(mp)) if mp.0.len() == 1 => mp.0[0],
                    other => panic!("{path}: {code}'s label is not one point: {other:?}"),
                };
                out.entry(code).or_default().push(p);
            }
        }
    }
    out
}

/// The shape of a grid from the API.
async fn shape(c: &Client, code: &str) -> (geo::Geometry<f64>, Vec<String>) {
    let (st, g) = c.get(&format!("/api/grids/{code}")).await;
    assert_eq!(st, 200, "{g}");
    let children = g["properties"]["children"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let s: geojson::Geometry = serde_json::from_value(g["geometry"].clone()).expect("a geometry");
    (s.try_into().expect("a geo geometry"), children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_grids_first_in_a_real_browser() {
    preflight();
    let started = Instant::now();
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_account(
        "e2e_chief",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[GRID],
    )
    .await;
    s.add_account(
        "e2e_planner",
        Role::Planner,
        "GYKFQ",
        ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    let chief = s.sign_in("e2e_chief").await;

    // Label points: served in exactly one tile per zoom, inside their grid. The chief sees
    // the region's grids (as counts), so the area around the scope holds other grids too.
    let (first, children) = shape(&chief, GRID).await;
    let (_, me) = chief.get("/api/auth/me").await;
    let b: Vec<f64> = serde_json::from_value(me["bbox"].clone()).expect("the scope's box");
    let (dx, dy) = ((b[2] - b[0]) / 2.0, (b[3] - b[1]) / 2.0);
    let area = Rect::new(
        coord! { x: b[0] - dx, y: b[1] - dy },
        coord! { x: b[2] + dx, y: b[3] + dy },
    );
    let mut grids = vec![(GRID.to_string(), first)];
    for c in &children {
        grids.push((c.clone(), shape(&chief, c).await.0));
    }
    for z in [12u8, 14, 16] {
        for (layer, level) in [("grids1_labels", 14), ("grids2_labels", 16)] {
            let points = label_points(&chief, layer, area, z).await;
            assert!(points.len() > 1, "z{z} {layer}: {} labels", points.len());
            for (code, at) in &points {
                assert_eq!(
                    code.len(),
                    level,
                    "z{z} {layer}: {code} is of another level"
                );
                assert_eq!(
                    at.len(),
                    1,
                    "z{z} {layer}: {code} served {} times",
                    at.len()
                );
            }
            for (code, g) in grids.iter().filter(|(c, _)| c.len() == level) {
                let at = points
                    .get(code)
                    .unwrap_or_else(|| panic!("z{z} {layer}: no label for {code}"));
                // Tile pixels are rounded: at z12 a pixel is some 10 m, so test the point
                // only where the grid holds it by more than that.
                if z >= 14 {
                    assert!(
                        g.contains(&at[0]),
                        "z{z}: {code}'s label {at:?} is outside it"
                    );
                }
            }
        }
    }
    let setup = started.elapsed();

    let browser_started = Instant::now();
    let args = [
        "--chief",
        "e2e_chief",
        "--planner",
        "e2e_planner",
        "--community",
        COMMUNITY,
    ];
    let summary = run_script("mygrids.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    println!(
        "browser my-grids test: setup {:.1} s, browser {:.1} s, summary: {summary}",
        setup.as_secs_f64(),
        browser_started.elapsed().as_secs_f64(),
    );
}
