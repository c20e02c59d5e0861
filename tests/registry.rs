//! The grid registry against a real PostGIS: partition rules, geometry validation, history,
//! optimistic versions, building assignment and cache coherence between processes.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn fixture() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    (db, s)
}

fn g2(code_suffix: &str) -> String {
    format!("{C}{code_suffix}")
}

async fn version(s: &TestServer, code: &str) -> String {
    let (st, etag, body) = s
        .send(Method::GET, &format!("/api/grids/{code}"), None, None)
        .await;
    assert_eq!(st, 200, "{body}");
    etag.expect("grids have an ETag")
}

#[tokio::test]
async fn lists_and_locates_with_figures() {
    let (_db, s) = fixture().await;
    let (st, fc) = s.get("/api/grids").await;
    assert_eq!(st, 200);
    assert_eq!(fc["features"].as_array().map(Vec::len), Some(8));
    let (_, fc) = s.get(&format!("/api/grids?level=2&community={C}")).await;
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features.len(), 4);
    let west_south = features
        .iter()
        .find(|f| f["properties"]["code"] == g2("0101"))
        .expect("grid 0101 listed");
    assert_eq!(west_south["properties"]["households"], 10);
    assert_eq!(west_south["properties"]["residents"], 27);
    assert_eq!(west_south["properties"]["parent_code"], format!("{C}01"));
    let (_, g1) = s.get(&format!("/api/grids/{C}02")).await;
    // East first-level grid: buildings B10 (20 households) and B11 (21).
    assert_eq!(g1["properties"]["households"], 41);
    assert_eq!(
        g1["properties"]["children"],
        json!([g2("0201"), g2("0202")])
    );

    let (st, loc) = s.get("/api/locate?lon=105.716&lat=32.408").await;
    assert_eq!(st, 200, "{loc}");
    assert_eq!(loc["community"]["code"], C);
    assert_eq!(loc["grid1"]["code"], format!("{C}02"));
    assert_eq!(loc["grid2"]["code"], g2("0202"));

    let (st, err) = s.get("/api/locate?lon=100&lat=30").await;
    assert_eq!(st, 404);
    assert_eq!(err["error"], "not_found");
    let (st, _) = s.get("/api/locate?lon=200&lat=30").await;
    assert_eq!(st, 422);
    let (st, err) = s.get("/api/locate?lon=abc&lat=30").await;
    assert_eq!(st, 400, "{err}");
    let (st, _) = s.get("/api/grids?bbox=1,2,3").await;
    assert_eq!(st, 422);
    let (st, fc) = s.get("/api/grids?bbox=105.700,32.400,105.705,32.402").await;
    assert_eq!(st, 200);
    let codes: Vec<&str> = fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str())
        .collect();
    assert!(
        codes.contains(&format!("{C}01").as_str()) && !codes.contains(&g2("0202").as_str()),
        "{codes:?}"
    );
    let (st, err) = s.get("/api/nowhere").await;
    assert_eq!((st, err["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_gap_is_refused_with_its_geometry_and_nothing_changes() {
    let (db, s) = fixture().await;
    let code = g2("0101");
    let v = version(&s, &code).await;
    // Pull the north edge of 0101 south by 0.0001° (about 11 m): a gap opens.
    let body = feature(rect(105.70, 32.40, 105.71, 32.4049), json!({}));
    let (st, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"], "partition_violation");
    let f = &err["faults"]["features"][0];
    assert_eq!(f["properties"]["kind"], "gap");
    assert_eq!(f["properties"]["parent_code"], format!("{C}01"));
    let area = f["properties"]["area_m2"].as_f64().expect("area");
    // 0.0001° × 0.01° at 32.4°N ≈ 11.1 m × 940 m.
    assert!((area - 10_430.0).abs() < 200.0, "gap area {area}");
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    // The point that marks it on a map lies in the gap itself.
    let gap: geo::MultiPolygon<f64> =
        serde_json::from_value::<geojson::Geometry>(f["geometry"].clone())
            .ok()
            .and_then(|g| geo::Geometry::<f64>::try_from(g).ok())
            .and_then(|g| geo::MultiPolygon::try_from(g).ok())
            .expect("a gap's geometry");
    let at = &f["properties"]["at"];
    let p = geo::Point::new(at[0].as_f64().expect("x"), at[1].as_f64().expect("y"));
    assert!(
        geo::Intersects::intersects(&gap, &p),
        "{at} outside {:?}",
        f["geometry"]
    );
    // Nothing was written: still version 1, one version in history.
    assert_eq!(version(&s, &code).await, v);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM grid_versions WHERE code = $1")
        .bind(&code)
        .fetch_one(&db.pool().await)
        .await
        .expect("count");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn an_overlap_is_refused_and_a_sliver_within_tolerance_accepted() {
    let (_db, s) = fixture().await;
    let code = g2("0101");
    let v = version(&s, &code).await;
    let body = feature(rect(105.70, 32.40, 105.71, 32.4051), json!({}));
    let (st, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    let kinds: Vec<&str> = err["faults"]["features"]
        .as_array()
        .expect("faults")
        .iter()
        .filter_map(|f| f["properties"]["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"overlap"), "{kinds:?}");

    // 1e-9° ≈ 0.1 mm: a sliver of about 0.1 m², within the default 1 m².
    let body = feature(rect(105.70, 32.40, 105.71, 32.404_999_999), json!({}));
    let (st, etag, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
}

#[tokio::test]
async fn a_stricter_tolerance_refuses_the_same_sliver() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.tolerance_m2 = 0.01).await;
    load_fixture(&mut s).await;
    let code = g2("0101");
    let v = version(&s, &code).await;
    let body = feature(rect(105.70, 32.40, 105.71, 32.404_999_999), json!({}));
    let (st, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["tolerance_m2"], 0.01);
}

#[tokio::test]
async fn a_batch_moves_a_shared_boundary_atomically_and_buildings_follow() {
    let (db, s) = fixture().await;
    let (a, b) = (g2("0101"), g2("0102"));
    let (va, vb) = (version(&s, &a).await, version(&s, &b).await);
    let n = |v: &str| v.trim_matches('"').parse::<i64>().expect("numeric version");
    // Move the boundary between 0101 and 0102 north past building B01 (at 32.4075).
    let batch = json!({ "changes": [
        { "op": "update", "code": a, "version": n(&va), "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
        { "op": "update", "code": b, "version": n(&vb), "feature": feature(rect(105.70, 32.408, 105.71, 32.41), json!({})) },
    ]});
    let (st, _, body) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["buildings_moved"], 1);
    let pool = db.pool().await;
    let grid_of_b01: String = sqlx::query_scalar(
        "SELECT g.code FROM buildings b JOIN current_grids g ON g.id = b.grid_id WHERE b.code = 'B01'",
    )
    .fetch_one(&pool)
    .await
    .expect("B01's grid");
    assert_eq!(grid_of_b01, a);
    // The index agrees at once.
    let (_, g) = s.get(&format!("/api/grids/{a}")).await;
    assert_eq!(g["properties"]["households"], 10 + 11);

    // Only one of the two neighbours re-drawn: refused, and neither changed.
    let batch = json!({ "changes": [
        { "op": "update", "code": a, "version": 2, "feature": feature(rect(105.70, 32.40, 105.71, 32.409), json!({})) },
    ]});
    let (st, _, body) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 422, "{body}");
    assert_eq!(version(&s, &a).await, "\"2\"");
    assert_eq!(version(&s, &b).await, "\"2\"");

    // A batch whose second item is malformed writes nothing either.
    let batch = json!({ "changes": [
        { "op": "update", "code": a, "version": 2, "feature": feature(rect(105.70, 32.40, 105.71, 32.409), json!({})) },
        { "op": "update", "code": b, "version": 2, "feature": feature(json!({ "type": "Point", "coordinates": [105.7, 32.4] }), json!({})) },
    ]});
    let (st, _, body) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 422, "{body}");
    assert_eq!(body["error"], "invalid_geometry");
    assert_eq!(body["index"], 1);
    assert_eq!(version(&s, &a).await, "\"2\"");
}

#[tokio::test]
async fn invalid_geometries_are_refused_with_reason_and_place() {
    let (_db, s) = fixture().await;
    let code = g2("0101");
    let v = version(&s, &code).await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "self_intersection",
            json!({ "type": "Polygon", "coordinates": [[[105.70, 32.40], [105.71, 32.405], [105.71, 32.40], [105.70, 32.405], [105.70, 32.40]]] }),
        ),
        (
            "unclosed_ring",
            json!({ "type": "Polygon", "coordinates": [[[105.70, 32.40], [105.71, 32.40], [105.71, 32.405], [105.70, 32.405]]] }),
        ),
        (
            "out_of_range",
            json!({ "type": "Polygon", "coordinates": [[[105.70, 32.40], [205.71, 32.40], [105.71, 32.405], [105.70, 32.40]]] }),
        ),
        (
            "wrong_type",
            json!({ "type": "LineString", "coordinates": [[105.70, 32.40], [105.71, 32.40]] }),
        ),
        (
            "too_few_points",
            json!({ "type": "Polygon", "coordinates": [[[105.70, 32.40], [105.71, 32.40], [105.70, 32.40]]] }),
        ),
    ];
    for (reason, geometry) in cases {
        let body = feature(geometry, json!({}));
        let (st, _, err) = s
            .send(
                Method::PUT,
                &format!("/api/grids/{code}"),
                Some(&body),
                Some(&v),
            )
            .await;
        assert_eq!(st, 422, "{reason}: {err}");
        assert_eq!(err["error"], "invalid_geometry", "{err}");
        assert_eq!(err["reason"], reason, "{err}");
        assert!(
            err["where"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("geometry")),
            "{err}"
        );
    }
    // The bow-tie says where it crosses.
    let body = feature(
        json!({ "type": "Polygon", "coordinates": [[[105.70, 32.40], [105.71, 32.405], [105.71, 32.40], [105.70, 32.405], [105.70, 32.40]]] }),
        json!({}),
    );
    let (_, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    let at = err["where"]["at"].as_array().expect("crossing point");
    assert!((at[0].as_f64().unwrap_or(0.0) - 105.705).abs() < 1e-9);
    // NaN cannot be written in JSON; a non-number coordinate is a clear 422 too.
    let raw = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[105.7,32.4],["NaN",32.4],[105.71,32.405],[105.7,32.4]]]}}"#;
    let r = s
        .raw(Method::PUT, &format!("/api/grids/{code}"))
        .header("content-type", "application/json")
        .header("If-Match", &v)
        .body(raw)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 422);
    let err: Value = r.json().await.expect("json error");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 1")),
        "{err}"
    );
    // Broken JSON is a 400.
    let r = s
        .raw(Method::PUT, &format!("/api/grids/{code}"))
        .header("content-type", "application/json")
        .header("If-Match", &v)
        .body("{\"type\":")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(version(&s, &code).await, v, "nothing was written");
}

#[tokio::test]
async fn history_answers_as_of_a_time() {
    let (_db, s) = fixture().await;
    let code = g2("0201");
    let before = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let v = version(&s, &code).await;
    let body = feature(
        rect(105.71, 32.40, 105.72, 32.405),
        json!({ "name": "新名字" }),
    );
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some(&v),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let at = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (st, old) = s
        .get(&format!("/api/grids/{code}?at={}", at.replace('+', "%2B")))
        .await;
    assert_eq!(st, 200, "{old}");
    assert_eq!(old["properties"]["version"], 1);
    assert_ne!(old["properties"]["name"], "新名字");
    assert!(old["properties"]["valid_to"].is_string());
    let (_, now) = s.get(&format!("/api/grids/{code}")).await;
    assert_eq!(now["properties"]["name"], "新名字");
    let (_, hist) = s.get(&format!("/api/grids/{code}/history")).await;
    assert_eq!(hist["features"].as_array().map(Vec::len), Some(2));
    // Before the district existed there was no grid.
    let (st, _) = s.get(&format!("/api/grids/{code}?at=2001-01-01")).await;
    assert_eq!(st, 404);
    let (_, list) = s.get("/api/grids?at=2001-01-01").await;
    assert_eq!(list["features"].as_array().map(Vec::len), Some(0));
    // Locate as of before the change uses the old version.
    let (st, loc) = s
        .get(&format!(
            "/api/locate?lon=105.715&lat=32.4025&at={}",
            at.replace('+', "%2B")
        ))
        .await;
    assert_eq!(st, 200, "{loc}");
    assert_eq!(loc["grid2"]["version"], 1);
    let (st, _) = s.get("/api/grids?at=yesterday").await;
    assert_eq!(st, 422);
}

#[tokio::test]
async fn stale_and_missing_versions_are_refused() {
    let (_db, s) = fixture().await;
    let code = g2("0202");
    let body = feature(rect(105.71, 32.405, 105.72, 32.41), json!({ "name": "甲" }));
    let (st, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 428, "{err}");
    let (st, _, _) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some("\"1\""),
        )
        .await;
    assert_eq!(st, 200);
    // A second writer still holding version 1 loses with 412, not silently.
    let body = feature(rect(105.71, 32.405, 105.72, 32.41), json!({ "name": "乙" }));
    let (st, _, err) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&body),
            Some("\"1\""),
        )
        .await;
    assert_eq!(st, 412, "{err}");
    assert_eq!(err["current_version"], 2);
    let (_, g) = s.get(&format!("/api/grids/{code}")).await;
    assert_eq!(g["properties"]["name"], "甲");
    let (st, _, _) = s
        .send(
            Method::DELETE,
            &format!("/api/grids/{code}"),
            None,
            Some("\"1\""),
        )
        .await;
    assert_eq!(st, 412);
}

#[tokio::test]
async fn deletions_keep_parents_and_buildings_whole() {
    let (_db, s) = fixture().await;
    // A first-level grid with children cannot go alone.
    let (st, _, err) = s
        .send(
            Method::DELETE,
            &format!("/api/grids/{C}01"),
            None,
            Some("\"1\""),
        )
        .await;
    assert_eq!(st, 409, "{err}");
    // Deleting both second-level grids leaves their buildings in no grid.
    let batch = json!({ "changes": [
        { "op": "delete", "code": g2("0101"), "version": 1 },
        { "op": "delete", "code": g2("0102"), "version": 1 },
    ]});
    let (st, _, err) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"], "buildings_outside_grids");
    assert_eq!(err["buildings"], json!(["B00", "B01"]));
    // Merging them into one grid in the same batch is fine.
    let batch = json!({ "changes": [
        { "op": "delete", "code": g2("0101"), "version": 1 },
        { "op": "delete", "code": g2("0102"), "version": 1 },
        { "op": "create", "feature": feature(rect(105.70, 32.40, 105.71, 32.41),
            json!({ "code": g2("0103"), "name": "合并分格", "level": 2, "parent_code": format!("{C}01") })) },
    ]});
    let (st, _, body) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["buildings_moved"], 2);
    let (_, g) = s.get(&format!("/api/grids/{}", g2("0103"))).await;
    assert_eq!(g["properties"]["households"], 21);
    // Codes must extend the parent's.
    let body = feature(
        rect(105.70, 32.40, 105.71, 32.41),
        json!({ "code": "5108021020020101", "name": "错码", "level": 2, "parent_code": format!("{C}01") }),
    );
    let (st, _, err) = s.send(Method::POST, "/api/grids", Some(&body), None).await;
    assert_eq!(st, 422, "{err}");
}

/// A second server as a separate OS process (the real binary), on the same database.
struct Child(std::process::Child, String);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn spawn_server(db: &TestDb) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start the wangge binary");
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while reqwest::get(format!("{base}/api/health")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "second process did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Child(child, base)
}

#[tokio::test]
async fn two_processes_stay_coherent() {
    let (db, a) = fixture().await;
    let b = spawn_server(&db).await;
    let token = a.token.clone().expect("signed in");
    let get = |path: String| {
        let url = format!("{}{path}", b.1);
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let before = get("/api/locate?lon=105.705&lat=32.4074".into()).await;
    assert_eq!(before["grid2"]["code"], g2("0102"));
    let batch = json!({ "changes": [
        { "op": "update", "code": g2("0101"), "version": 1, "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
        { "op": "update", "code": g2("0102"), "version": 1, "feature": feature(rect(105.70, 32.408, 105.71, 32.41), json!({})) },
    ]});
    let (st, _, body) = a
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{body}");
    // The other process hears of it through LISTEN/NOTIFY, well within its 5 s poll.
    let started = std::time::Instant::now();
    loop {
        let now = get("/api/locate?lon=105.705&lat=32.4074".into()).await;
        if now["grid2"]["code"] == g2("0101") {
            assert_eq!(now["grid2"]["version"], 2);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the other process still answers {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let g = get(format!("/api/grids/{}", g2("0101"))).await;
    assert_eq!(g["properties"]["households"], 21);
    // And the other way round: a change made through the other process reaches this one.
    let r = reqwest::Client::new()
        .put(format!("{}/api/grids/{}", b.1, g2("0201")))
        .bearer_auth(&token)
        .header("If-Match", "\"1\"")
        .json(&feature(
            rect(105.71, 32.40, 105.72, 32.405),
            json!({ "name": "改名" }),
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let started = std::time::Instant::now();
    loop {
        let (_, g) = a.get(&format!("/api/grids/{}", g2("0201"))).await;
        if g["properties"]["name"] == "改名" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "this process did not hear of the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stations_of_a_city_are_counted_per_community_and_listed_per_community_or_box() {
    let (_db, s) = fixture().await;
    let n = wangge::http::registry::MAX_STATIONS + 1;
    let features: Vec<Value> = (0..n)
        .map(|i| {
            // The last ten in C2 (east), the others spread over C.
            let (lon, community) = if i >= n - 10 {
                (105.7201 + 0.0009 * (i + 10 - n) as f64, C2)
            } else {
                (105.7001 + 0.0198 * i as f64 / n as f64, C)
            };
            let kind = if i % 2 == 0 { "elderly_care" } else { "party_mass_centre" };
            json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [lon, 32.405] },
                "properties": { "code": format!("S{i:05}"), "name": format!("站点{i}"), "kind": kind, "community_code": community },
            })
        })
        .collect();
    let (st, _, body) = s
        .send(
            Method::POST,
            "/api/import/stations",
            Some(&json!({ "type": "FeatureCollection", "features": features })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{body}");

    // Past the bound, the whole zone is counted per community and kind, not listed.
    let (st, all) = s.get("/api/stations").await;
    assert_eq!(st, 200, "{all}");
    assert_eq!(all["features"].as_array().map(Vec::len), Some(0));
    // The fixture's own station S1 (in C) besides.
    assert_eq!(all["stations_omitted"], n + 1);
    let sums: Vec<&Value> = all["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .collect();
    let of = |code: &str| {
        sums.iter()
            .find(|c| c["community_code"] == code)
            .copied()
            .expect("community")
    };
    assert_eq!(of(C)["stations"], n - 9, "{all}");
    assert_eq!(of(C2)["stations"], 10, "{all}");
    assert_eq!(of(C2)["by_kind"]["elderly_care"], 5, "{all}");
    assert_eq!(of(C2)["by_kind"]["party_mass_centre"], 5, "{all}");

    // One community, one box, or one kind under the bound: the stations themselves.
    let (st, c2) = s.get(&format!("/api/stations?community={C2}")).await;
    assert_eq!(st, 200, "{c2}");
    let codes: Vec<&str> = c2["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str())
        .collect();
    assert_eq!(codes.len(), 10, "{c2}");
    assert!(
        codes
            .iter()
            .all(|c| c >= &format!("S{:05}", n - 10).as_str()),
        "{codes:?}"
    );
    let (_, boxed) = s.get("/api/stations?bbox=105.72,32.40,105.73,32.41").await;
    assert_eq!(
        boxed["features"].as_array().map(Vec::len),
        Some(10),
        "{boxed}"
    );
    let (_, kind) = s.get("/api/stations?kind=elderly_care").await;
    assert_eq!(
        kind["features"].as_array().map(Vec::len),
        Some(n.div_ceil(2))
    );
    assert!(kind.get("stations_omitted").is_none());
    let (_, c) = s
        .get(&format!(
            "/api/stations?community={C}&kind=party_mass_centre"
        ))
        .await;
    assert_eq!(
        c["features"].as_array().map(Vec::len),
        Some((n - 10) / 2 + 1)
    );

    // An unknown community, or one of another region, is not found.
    assert_eq!(s.get("/api/stations?community=999").await.0, 404);
    let outsider = s.sign_in("outsider").await;
    assert_eq!(
        outsider
            .get(&format!("/api/stations?community={C}"))
            .await
            .0,
        404
    );
}

/// The properties of every feature of a grid list, by grid id.
fn properties_by_id(fc: &Value) -> std::collections::HashMap<i64, Value> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| (f["id"].as_i64().expect("id"), f["properties"].clone()))
        .collect()
}

/// Past `MAX_GRID_SHAPES` grids the whole list comes without shapes, joined from features
/// serialised once per state of the index: each grid's properties there are those of the
/// list per community (made grid by grid), for an administrator and a planner; and a
/// renamed grid shows its new name in the next whole list.
#[tokio::test]
async fn lean_grid_lists_match_the_lists_per_community_and_follow_edits() {
    use wangge::domain::access::{Role, ScopeKind};
    let (db, zone) = demo_db(14).await;
    let mut s = TestServer::start(&db).await;
    s.add_account("admin", Role::Admin, &zone, ScopeKind::Region, &[], &[])
        .await;
    s.add_account("planner", Role::Planner, &zone, ScopeKind::Region, &[], &[])
        .await;
    s.become_admin().await;
    let planner = s.sign_in("planner").await;
    let (st, communities) = s.get("/api/communities").await;
    assert_eq!(st, 200, "{communities}");
    let codes: Vec<String> = communities["features"]
        .as_array()
        .expect("communities")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str().map(String::from))
        .collect();
    for (who, c) in [("admin", &s.client), ("planner", &planner)] {
        let (st, all) = c.get("/api/grids").await;
        assert_eq!(st, 200, "{all}");
        assert_eq!(all["geometry_omitted"], true, "{who}");
        let lean = properties_by_id(&all);
        assert!(
            lean.len() > wangge::http::registry::MAX_GRID_SHAPES,
            "{who}: {} grids",
            lean.len()
        );
        let mut seen = 0;
        for code in &codes {
            let (st, one) = c.get(&format!("/api/grids?community={code}")).await;
            assert_eq!(st, 200, "{one}");
            for (id, p) in properties_by_id(&one) {
                assert_eq!(lean.get(&id), Some(&p), "{who}: grid {id}");
                seen += 1;
            }
        }
        assert_eq!(seen, lean.len(), "{who}: every grid is in one community");
        assert!(
            lean.values().all(|p| p.get("party_members").is_some()),
            "{who} sees party aggregates of the whole zone"
        );
    }
    // A rename shows in the next whole list.
    let (_, all) = s.get("/api/grids").await;
    assert_eq!(all["geometry_omitted"], true);
    let code = all["features"][7]["properties"]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let (st, etag, b) = s
        .send(Method::GET, &format!("/api/grids/{code}"), None, None)
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&json!({ "type": "Feature", "geometry": null, "properties": { "name": "改名网格" } })),
            etag.as_deref(),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (_, all) = s.get("/api/grids").await;
    let renamed = all["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["code"] == code.as_str())
        .expect("the grid");
    assert_eq!(renamed["properties"]["name"], "改名网格");
    assert_eq!(
        renamed["properties"]["version"],
        b["grids"][0]["properties"]["version"]
    );
    drop(db);
}
