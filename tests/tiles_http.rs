//! Vector tiles through the real server: TileJSON, scope filtering, bad addresses, and no
//! stale tile after a boundary edit at any zoom.

mod common;

use common::*;
use geo::{coord, BoundingRect, Rect};
use reqwest::Method;
use serde_json::{json, Value};
use wangge::spatial::tiles::{decode_tile, tiles_covering, TileId};

async fn tile(c: &Client, layer: &str, t: TileId) -> (u16, Vec<u8>) {
    let r = c
        .raw(
            Method::GET,
            &format!("/tiles/{layer}/{}/{}/{}.mvt", t.z(), t.x(), t.y()),
        )
        .send()
        .await
        .expect("request");
    let st = r.status().as_u16();
    (st, r.bytes().await.expect("body").to_vec())
}

/// Codes of the features of a tile, with each feature's lon/lat box.
fn features(t: TileId, bytes: &[u8]) -> Vec<(String, Rect<f64>)> {
    let layers = decode_tile(bytes).expect("a valid MVT");
    let mut out = vec![];
    for l in layers {
        for f in l.features {
            let code = f
                .properties
                .iter()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| format!("{v:?}"))
                .unwrap_or_default();
            let g = f.geometry.to_lonlat(t, l.extent);
            if let Some(r) = g.and_then(|g| g.bounding_rect()) {
                out.push((code, r));
            }
        }
    }
    out
}

fn covering(z: u8) -> Vec<TileId> {
    let r = Rect::new(
        coord! { x: 105.70, y: 32.40 },
        coord! { x: 105.73, y: 32.41 },
    );
    tiles_covering(r, z).expect("range").collect()
}

#[tokio::test]
async fn tiles_follow_scope_and_edits() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;

    let (st, tj) = s.get("/tiles/grids2.json").await;
    assert_eq!(st, 200, "{tj}");
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(tj["tiles"][0]
        .as_str()
        .is_some_and(|u| u.ends_with("/tiles/grids2/{z}/{x}/{y}.mvt")));
    assert!(tj["vector_layers"][0]["fields"]["code"].is_string());

    // The admin sees every second-level grid; the patrol account only its own; the admin of
    // another town nothing; no session, no tile.
    let t = covering(13);
    assert_eq!(t.len(), 1, "the fixture fits one z13 tile: {t:?}");
    let t = t[0];
    let (st, bytes) = tile(&s, "grids2", t).await;
    assert_eq!(st, 200);
    let mut codes: Vec<String> = features(t, &bytes).into_iter().map(|(c, _)| c).collect();
    codes.sort();
    assert_eq!(codes.len(), 5, "{codes:?}");
    let patrol = s.sign_in("patrol").await;
    let (_, bytes) = tile(&patrol, "grids2", t).await;
    let codes: Vec<String> = features(t, &bytes).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes.len(), 1);
    assert!(codes[0].contains(&format!("{C}0101")), "{codes:?}");
    let outsider = s.sign_in("outsider").await;
    let (st, bytes) = tile(&outsider, "grids2", t).await;
    assert_eq!(st, 200);
    assert!(bytes.is_empty() || features(t, &bytes).is_empty());
    let (st, _) = tile(&s.anonymous(), "grids2", t).await;
    assert_eq!(st, 401);
    // Party figures and personal data are never in tiles.
    let (_, bytes) = tile(&s, "buildings", covering(15)[0]).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("party"));

    // Bad addresses are clear 4xx, never 500.
    for path in [
        "/tiles/grids2/25/0/0.mvt",
        "/tiles/grids2/3/9/0.mvt",
        "/tiles/grids2/a/b/c.mvt",
        "/tiles/grids2/3/1/1.png",
    ] {
        let (st, body) = s.get(path).await;
        assert!(st == 422 || st == 400, "{path}: {st} {body}");
    }
    let (st, _) = s.get("/tiles/nothing/1/0/0.mvt").await;
    assert_eq!(st, 404);
    let (st, _) = s.get("/tiles/nothing.json").await;
    assert_eq!(st, 404);

    // Warm the cache at every zoom from 11 to 17, then move the boundary between C0101
    // and C0102 north; every tile touching them must come back with the new shapes.
    let zooms: Vec<u8> = (11..=17).collect();
    for &z in &zooms {
        for t in covering(z) {
            let (st, _) = tile(&s, "grids2", t).await;
            assert_eq!(st, 200);
        }
    }
    let a = format!("{C}0101");
    let b = format!("{C}0102");
    let batch = json!({ "changes": [
        { "op": "update", "code": a, "version": 1, "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
        { "op": "update", "code": b, "version": 1, "feature": feature(rect(105.70, 32.408, 105.71, 32.41), json!({})) },
    ]});
    let (st, _, body) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{body}");
    for &z in &zooms {
        let mut seen_a = false;
        for t in covering(z) {
            let (_, bytes) = tile(&s, "grids2", t).await;
            for (code, r) in features(t, &bytes) {
                if code.contains(&a) {
                    seen_a = true;
                    // Clipped to the tile, but never north of the new edge (one pixel slack).
                    let px = 360.0 / (256.0 * f64::powi(2.0, i32::from(z)));
                    assert!(
                        r.max().y <= 32.408 + 2.0 * px,
                        "z{z} {t:?}: {a} reaches {}",
                        r.max().y
                    );
                    let tile_top = t.lonlat_bounds().max().y;
                    if tile_top > 32.4085 {
                        assert!(
                            r.max().y > 32.408 - 2.0 * px,
                            "z{z} {t:?}: {a} stops at {} (old shape)",
                            r.max().y
                        );
                    }
                }
                if code.contains(&b) {
                    assert!(
                        r.min().y >= 32.408 - 2.0 * f64::powi(2.0, -i32::from(z)) * 1.5,
                        "z{z}: {b} starts at {}",
                        r.min().y
                    );
                }
            }
        }
        assert!(seen_a, "z{z}: grid {a} missing");
    }
    let _: Value = Value::Null;
}
