//! Geometry work cannot take the server down: shapes over the caps are refused before any
//! work, valid large shapes are checked in O(n log n), the work runs off the async
//! workers (cheap requests stay fast meanwhile) and stops when its request goes away.
//! Against a real PostGIS and the real server.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The tests of this file share the process's work pool and time what they do: one at a
/// time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fixture() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    (db, s)
}

fn south() -> String {
    format!("{C}0101")
}

fn north() -> String {
    format!("{C}0102")
}

async fn version(s: &Client, code: &str) -> String {
    let (st, etag, body) = s
        .send(Method::GET, &format!("/api/grids/{code}"), None, None)
        .await;
    assert_eq!(st, 200, "{body}");
    etag.expect("grids have an ETag")
}

/// A circle of `n` positions inside grid C0101.
fn circle(n: usize) -> Value {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            [105.705 + 0.004 * t.cos(), 32.4025 + 0.002 * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    json!({ "type": "Polygon", "coordinates": [ring] })
}

/// The boundary between C0101 (south) and C0102 (north) redrawn as a wave of `n`
/// positions: a batch of both grids, each ring about `n` positions, that still partitions
/// C01 exactly and keeps every building where it is.
fn wave_batch(n: usize, south_version: &str, north_version: &str) -> Value {
    let version = |v: &str| v.trim_matches('"').parse::<i64>().expect("a version");
    let wave: Vec<[f64; 2]> = (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let y = if i == 0 || i == n {
                32.405
            } else {
                32.405 + 0.001 * (t * 400.0 * std::f64::consts::PI).sin()
            };
            [105.70 + 0.01 * t, y]
        })
        .collect();
    let mut s = vec![[105.70, 32.40], [105.71, 32.40]];
    s.extend(wave.iter().rev());
    s.push([105.70, 32.40]);
    let mut n_ring = wave.clone();
    n_ring.extend([[105.71, 32.41], [105.70, 32.41], [105.70, 32.405]]);
    json!({ "changes": [
        { "op": "update", "code": south(), "version": version(south_version),
          "feature": feature(json!({ "type": "Polygon", "coordinates": [s] }), json!({})) },
        { "op": "update", "code": north(), "version": version(north_version),
          "feature": feature(json!({ "type": "Polygon", "coordinates": [n_ring] }), json!({})) },
    ]})
}

/// Sends `body` and times the answer.
async fn timed(
    c: &Client,
    method: Method,
    path: &str,
    body: &Value,
    if_match: Option<&str>,
) -> (u16, Value, Duration) {
    let bytes = serde_json::to_vec(body).expect("a body");
    let mut req = c
        .raw(method, path)
        .header("Content-Type", "application/json")
        .body(bytes);
    if let Some(m) = if_match {
        req = req.header("If-Match", m);
    }
    let t = Instant::now();
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, t.elapsed())
}

#[tokio::test]
async fn a_ring_over_the_cap_is_refused_at_once_and_writes_nothing() {
    let _serial = SERIAL.lock().await;
    let (_db, s) = fixture().await;
    let chief = s.sign_in("chief").await;
    let (vs, vn) = (version(&s, &south()).await, version(&s, &north()).await);
    let huge = circle(200_000);

    // Before the caps this took minutes of CPU on the async workers.
    let (st, err, took) = timed(
        &s,
        Method::PUT,
        &format!("/api/grids/{}", south()),
        &feature(huge.clone(), json!({})),
        Some(&vs),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"], "invalid_geometry", "{err}");
    assert_eq!(err["reason"], "too_many_vertices", "{err}");
    assert_eq!(err["where"]["path"], "geometry.coordinates", "{err}");
    assert_eq!(err["limit"], 50_000, "{err}");
    assert!(took < Duration::from_secs(3), "refused after {took:?}");

    // A grid chief previewing a batch with that ring.
    let mut batch = wave_batch(100, &vs, &vn);
    batch["changes"][1]["feature"]["geometry"] = huge;
    let (st, err, took) = timed(&chief, Method::POST, "/api/party/preview", &batch, None).await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["reason"], "too_many_vertices", "{err}");
    assert_eq!(err["index"], 1, "{err}");
    assert!(took < Duration::from_secs(3), "refused after {took:?}");

    // The same through the batch route.
    let (st, err, _) = timed(&s, Method::POST, "/api/grids/batch", &batch, None).await;
    assert_eq!(
        (st, &err["reason"]),
        (422, &json!("too_many_vertices")),
        "{err}"
    );

    // Deeply nested coordinates are a 4xx too, not a stack overflow.
    let deep = format!(
        r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = s
        .raw(Method::PUT, &format!("/api/grids/{}", south()))
        .header("Content-Type", "application/json")
        .header("If-Match", &vs)
        .body(deep)
        .send()
        .await
        .expect("request");
    let st = r.status().as_u16();
    let err: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!((st, &err["error"]), (400, &json!("bad_request")), "{err}");

    assert_eq!(version(&s, &south()).await, vs);
    assert_eq!(version(&s, &north()).await, vn);
}

#[tokio::test]
async fn the_caps_are_settings_and_cover_whole_requests() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| {
        c.geometry.max_vertices = 3_000;
        c.geometry.max_rings = 2;
        c.geometry.max_request_vertices = 4_000;
    })
    .await;
    load_fixture(&mut s).await;
    let (vs, vn) = (version(&s, &south()).await, version(&s, &north()).await);

    // Each ring is under the cap of one geometry, both together over that of a request.
    let (st, err, _) = timed(
        &s,
        Method::POST,
        "/api/grids/batch",
        &wave_batch(2_500, &vs, &vn),
        None,
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"], "too_many_vertices", "{err}");
    assert_eq!(err["limit"], 4_000, "{err}");
    assert!(
        err["message"].as_str().is_some_and(|m| m.contains("4000")),
        "{err}"
    );

    let (st, err, _) = timed(
        &s,
        Method::PUT,
        &format!("/api/grids/{}", south()),
        &feature(circle(3_500), json!({})),
        Some(&vs),
    )
    .await;
    assert_eq!((st, &err["limit"]), (422, &json!(3_000)), "{err}");

    let hole = |x: f64| json!([[x, 32.401], [x + 0.001, 32.401], [x, 32.402], [x, 32.401]]);
    let holed = json!({ "type": "Polygon", "coordinates": [
        [[105.70, 32.40], [105.71, 32.40], [105.71, 32.405], [105.70, 32.405], [105.70, 32.40]],
        hole(105.701), hole(105.703),
    ]});
    let (st, err, _) = timed(
        &s,
        Method::PUT,
        &format!("/api/grids/{}", south()),
        &feature(holed, json!({})),
        Some(&vs),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(
        (&err["reason"], &err["limit"]),
        (&json!("too_many_rings"), &json!(2)),
        "{err}"
    );

    // Imports are counted the same way.
    let layer = collection(vec![
        feature(circle(2_500), json!({ "code": "X1" })),
        feature(circle(2_500), json!({ "code": "X2" })),
    ]);
    let (st, err, _) = timed(&s, Method::POST, "/api/import/buildings", &layer, None).await;
    assert_eq!(
        (st, &err["error"]),
        (422, &json!("too_many_vertices")),
        "{err}"
    );

    assert_eq!(version(&s, &south()).await, vs);
    assert_eq!(version(&s, &north()).await, vn);
}

#[tokio::test]
async fn large_valid_rings_are_checked_in_n_log_n_and_committed() {
    let _serial = SERIAL.lock().await;
    let (_db, s) = fixture().await;
    let (vs, vn) = (version(&s, &south()).await, version(&s, &north()).await);
    // Previews check the same shapes as a commit, without writing: time two sizes.
    let mut times = vec![];
    for n in [10_000, 40_000] {
        let batch = wave_batch(n, &vs, &vn);
        let (st, body, took) = timed(&s, Method::POST, "/api/party/preview", &batch, None).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["commit"]["ok"], true, "{body}");
        times.push(took);
    }
    eprintln!("preview of two rings of 10,000 and 40,000 positions: {times:?}");
    // Quadratic work would take 16 times as long for 4 times the positions.
    assert!(
        times[1] < times[0] * 8 + Duration::from_millis(500),
        "not near-linear: {times:?}"
    );
    assert!(times[1] < Duration::from_secs(20), "{times:?}");

    let batch = wave_batch(40_000, &vs, &vn);
    let (st, body, took) = timed(&s, Method::POST, "/api/grids/batch", &batch, None).await;
    eprintln!("commit of two rings of 40,000 positions: {took:?}");
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["buildings_moved"], 0, "{body}");
    assert_eq!(version(&s, &south()).await, "\"2\"");
    let (st, loc) = s.get("/api/locate?lon=105.705&lat=32.4025").await;
    assert_eq!((st, &loc["grid2"]["code"]), (200, &json!(south())), "{loc}");
}

/// On a multi-threaded runtime with two workers, as the server has on a two-core machine
/// (a single-threaded test runtime would also run the client on the server's thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheap_requests_stay_fast_while_geometry_work_runs() {
    let _serial = SERIAL.lock().await;
    let (_db, s) = fixture().await;
    let (vs, vn) = (version(&s, &south()).await, version(&s, &north()).await);
    let batch = wave_batch(45_000, &vs, &vn);
    let viewer = s.sign_in("viewer").await;
    // Two heavy previews at once, as many as the pool has threads on this machine.
    let heavy: Vec<_> = (0..2)
        .map(|_| {
            let (c, b) = (s.client.clone(), batch.clone());
            tokio::spawn(
                async move { timed(&c, Method::POST, "/api/party/preview", &b, None).await },
            )
        })
        .collect();
    // Wait until both are on the work pool (their bodies read), then probe.
    let t = Instant::now();
    while wangge::work::pool().running() < 2 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut probes = vec![];
    while wangge::work::pool().running() > 0 && probes.len() < 40 {
        let t = Instant::now();
        let (st, loc) = viewer.get("/api/locate?lon=105.715&lat=32.4075").await;
        probes.push(t.elapsed());
        assert_eq!(st, 200, "{loc}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for h in heavy {
        let (st, body, took) = h.await.expect("a heavy request");
        assert_eq!(st, 200, "{body}");
        eprintln!("heavy preview: {took:?}");
    }
    eprintln!("locate while the pool was busy: {probes:?}");
    assert!(
        probes.len() >= 5,
        "the heavy work ended too soon to probe: {probes:?}"
    );
    let worst = probes.iter().max().copied().unwrap_or_default();
    assert!(worst < Duration::from_millis(50), "{probes:?}");
    assert_eq!(version(&s, &south()).await, vs, "previews write nothing");
}

#[tokio::test]
async fn geometry_work_stops_when_its_client_leaves() {
    let _serial = SERIAL.lock().await;
    let (_db, s) = fixture().await;
    let (vs, vn) = (version(&s, &south()).await, version(&s, &north()).await);
    let bytes = serde_json::to_vec(&wave_batch(45_000, &vs, &vn)).expect("a body");
    let req = s
        .raw(Method::POST, "/api/party/preview")
        .header("Content-Type", "application/json")
        .body(bytes);
    let gone = tokio::spawn(async move { req.send().await });
    let t = Instant::now();
    while wangge::work::pool().running() == 0 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        wangge::work::pool().running() > 0,
        "the preview never reached the pool"
    );
    gone.abort();
    let left = Instant::now();
    while wangge::work::pool().running() > 0 && left.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let freed = left.elapsed();
    eprintln!("the pool was free {freed:?} after the client left");
    // The whole preview takes seconds (3 to 10 in a debug build, by the machine's load);
    // it must stop at its next checkpoint instead.
    assert!(freed < Duration::from_secs(2), "{freed:?}");
}
