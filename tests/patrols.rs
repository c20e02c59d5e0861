//! Weekly patrols and incidents against a real PostGIS: idempotent uploads whole and in
//! chunks, coordinate conversion, validation errors, speed flags, weekly compliance held
//! against PostGIS's own measurements, the incident lifecycle with its audit trail, and
//! photos.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::patrols::*;
use common::*;
use geo::Coord;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;
use wangge::domain::patrol::{Crs, IsoWeek};
use wangge::spatial::coords::from_wgs84;
use wangge::spatial::geodesy::distance_m;

async fn fixture() -> (TestDb, TestServer, PgPool) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    add_patrol2(&s).await;
    let pool = db.pool().await;
    staff_patrols(&s, &pool).await;
    (db, s, pool)
}

fn g(suffix: &str) -> String {
    format!("{C}{suffix}")
}

/// Sends a JSON body; returns status, whether the answer says it is a replay, and body.
async fn put(c: &Client, method: Method, path: &str, body: &Value) -> (u16, bool, Value) {
    let r = c
        .raw(method, path)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, r.json().await.unwrap_or(Value::Null))
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

#[tokio::test]
async fn a_whole_patrol_is_stored_once_and_measured() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let start = Utc::now() - Duration::hours(3);
    let w = walk(SOUTH_WEST, start, 200, 4);
    let body = whole(
        &[&g("0101")],
        &w,
        json!([{ "building": "B00", "households": 7 }]),
    );
    let id = Uuid::new_v4();
    let path = format!("/api/patrols/{id}");
    let (st, replayed, first) = put(&p, Method::PUT, &path, &body).await;
    assert_eq!((st, replayed), (201, false), "{first}");
    assert_eq!(first["complete"], true);
    assert_eq!(first["points"], 200);
    assert_eq!(first["staff"]["code"], "PS1");
    assert_eq!(first["chunks"]["received"], json!([0]));
    assert_eq!(
        first["households"],
        json!([{ "building": "B00", "households": 7 }])
    );
    let share = first["grids"][0]["share_inside"].as_f64().expect("share");
    assert!(share > 0.99, "{first}");
    let length = first["length_m"].as_f64().expect("length");
    assert_eq!(
        first["walked_m"], first["length_m"],
        "no segment is too fast"
    );
    // PostGIS measures the stored track the same (spheroid vs. our haversine: < 0.5%).
    let pg: f64 =
        sqlx::query_scalar("SELECT ST_Length(track::geography) FROM patrols WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("length");
    assert!((pg - length).abs() / pg < 0.005, "{pg} vs {length}");

    // The same upload again: the same answer, nothing stored twice.
    let (st, replayed, again) = put(&p, Method::PUT, &path, &body).await;
    assert_eq!((st, replayed), (200, true));
    assert_eq!(again, first);
    // Another body under the same id, by the author or anyone else: a conflict.
    let mut changed = body.clone();
    changed["notes"] = json!("改过的");
    let (st, _, err) = put(&p, Method::PUT, &path, &changed).await;
    assert_eq!(
        (st, err["error"].as_str()),
        (409, Some("conflict")),
        "{err}"
    );
    let p2 = s.sign_in("patrol2").await;
    let other = whole(
        &[&g("0201")],
        &walk((105.71, 32.40, 105.72, 32.405), start, 20, 1),
        json!([]),
    );
    let (st, _, _) = put(&p2, Method::PUT, &path, &other).await;
    assert_eq!(st, 409);
    assert_eq!(count(&pool, "SELECT count(*) FROM patrols").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM patrol_chunks").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM patrol_visits").await, 1);

    // The chief of the grid sees it with its track; others do not.
    let chief = s.sign_in("chief").await;
    let (st, v) = chief.get(&path).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["track"]["type"], "LineString");
    assert_eq!(
        v["track"]["coordinates"].as_array().map(Vec::len),
        Some(200)
    );
    assert_eq!(s.sign_in("chief2").await.get(&path).await.0, 404);
    assert_eq!(s.sign_in("viewer").await.get(&path).await.0, 403);
    assert_eq!(p2.get(&path).await.0, 404);
}

/// Uploads past 2,000 points are checked and hashed on the work pool, not where they
/// arrived: the answers (stored, replayed, conflict, which point is wrong) are the same.
#[tokio::test]
async fn large_uploads_are_checked_off_the_async_workers_with_the_same_answers() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let w = walk(SOUTH_WEST, Utc::now() - Duration::hours(3), 3_000, 4);
    let body = whole(&[&g("0101")], &w, json!([]));
    let path = format!("/api/patrols/{}", Uuid::new_v4());
    let (st, replayed, v) = put(&p, Method::PUT, &path, &body).await;
    assert_eq!((st, replayed), (201, false), "{v}");
    assert_eq!(v["points"], 3_000);
    let (st, replayed, _) = put(&p, Method::PUT, &path, &body).await;
    assert_eq!((st, replayed), (200, true));
    let mut changed = body.clone();
    changed["track"][2_500]["accuracy_m"] = json!(7.0);
    assert_eq!(put(&p, Method::PUT, &path, &changed).await.0, 409);

    let mut bad = body.clone();
    bad["track"][2_500]["t"] = json!("half past nine");
    let (st, _, e) = put(
        &p,
        Method::PUT,
        &format!("/api/patrols/{}", Uuid::new_v4()),
        &bad,
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(items(&e).first().map(|i| i.0), Some(2_500), "{e}");

    let head = json!({ "grids": [g("0101")], "started_at": w[0].2.to_rfc3339() });
    let base = format!("/api/patrols/{}", Uuid::new_v4());
    assert_eq!(put(&p, Method::PUT, &base, &head).await.0, 201);
    let chunk = json!({ "id": Uuid::new_v4(), "points": points(&w[..2_500]) });
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/chunks/0"), &chunk).await;
    assert_eq!(st, 201, "{v}");
    let (st, replayed, _) = put(&p, Method::PUT, &format!("{base}/chunks/0"), &chunk).await;
    assert_eq!((st, replayed), (200, true));
    assert_eq!(
        count(
            &pool,
            "SELECT sum(cardinality(lon))::bigint FROM patrol_chunks"
        )
        .await,
        5_500
    );
}

#[tokio::test]
async fn gcj02_and_bd09_tracks_are_stored_in_wgs84() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let start = Utc::now() - Duration::hours(2);
    let w = walk(SOUTH_WEST, start, 50, 2);
    for crs in [Crs::Gcj02, Crs::Bd09] {
        let pts: Vec<Value> = w
            .iter()
            .map(|(x, y, t)| {
                let c = from_wgs84(crs, Coord { x: *x, y: *y });
                json!({ "lon": c.x, "lat": c.y, "t": t.timestamp_millis(), "accuracy": 8.5 })
            })
            .collect();
        // The shift is large enough that forgetting to convert would show.
        let raw = pts[0]["lon"].as_f64().expect("lon");
        let shifted = distance_m(
            Coord {
                x: w[0].0,
                y: w[0].1,
            },
            Coord {
                x: raw,
                y: pts[0]["lat"].as_f64().expect("lat"),
            },
        );
        assert!(shifted > 100.0, "{crs:?} shifts by {shifted} m");
        let mut body = whole(&[&g("0101")], &w, json!([]));
        body["track"] = json!(pts);
        body["crs"] = json!(crs.as_str());
        let id = Uuid::new_v4();
        let (st, _, v) = put(&p, Method::PUT, &format!("/api/patrols/{id}"), &body).await;
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["crs"], crs.as_str());
        let (_, v) = p.get(&format!("/api/patrols/{id}")).await;
        let coords = v["track"]["coordinates"].as_array().expect("coords");
        for (i, c) in coords.iter().enumerate() {
            let got = Coord {
                x: c[0].as_f64().expect("x"),
                y: c[1].as_f64().expect("y"),
            };
            let d = distance_m(
                got,
                Coord {
                    x: w[i].0,
                    y: w[i].1,
                },
            );
            assert!(d < 0.05, "{crs:?} point {i} is {d} m from where it was");
        }
        // And PostGIS agrees on the first point, to the centimetre.
        let d: f64 = sqlx::query_scalar(
            "SELECT ST_Distance(ST_StartPoint(track)::geography, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography) \
             FROM patrols WHERE id = $1",
        )
        .bind(id)
        .bind(w[0].0)
        .bind(w[0].1)
        .fetch_one(&pool)
        .await
        .expect("distance");
        assert!(d < 0.05, "{d}");
        let acc: f32 =
            sqlx::query_scalar("SELECT accuracy_m[1] FROM patrol_chunks WHERE patrol_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("accuracy");
        assert_eq!(acc, 8.5);
    }
}

/// The `items` of an `invalid_items` answer, as (index, message).
fn items(v: &Value) -> Vec<(u64, String)> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["index"].as_u64().unwrap_or(u64::MAX),
                i["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn bad_uploads_are_refused_saying_what_and_where() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let now = Utc::now();
    let grid = g("0101");
    let send = |body: Value| {
        let p = p.clone();
        async move {
            put(
                &p,
                Method::PUT,
                &format!("/api/patrols/{}", Uuid::new_v4()),
                &body,
            )
            .await
        }
    };

    // Future times: a patrol started ten minutes ago with 200 points 10 s apart.
    let w = walk(SOUTH_WEST, now - Duration::minutes(10), 200, 2);
    let future = w
        .iter()
        .position(|p| p.2 > now + Duration::minutes(2))
        .expect("the walk runs into the future") as u64;
    let body = json!({ "grids": [grid], "started_at": w[0].2.to_rfc3339(), "track": points(&w) });
    let (st, _, e) = send(body).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (422, Some("invalid_items")),
        "{e}"
    );
    let first = &items(&e)[0];
    assert!(
        first.0.abs_diff(future) <= 1 && first.1.contains(".t") && first.1.contains("future"),
        "expected point {future} first: {e}"
    );

    // Times out of order.
    let mut w = walk(SOUTH_WEST, now - Duration::hours(2), 40, 1);
    let t10 = w[10].2;
    w[10].2 = w[11].2;
    w[11].2 = t10;
    let (st, _, e) = send(whole(&[&grid], &w, json!([]))).await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(items(&e)[0].0, 11);
    assert!(
        items(&e)[0].1.starts_with("track[11].t:") && items(&e)[0].1.contains("time order"),
        "{e}"
    );

    // Longitude and latitude swapped for one point: outside the zone.
    let w = walk(SOUTH_WEST, now - Duration::hours(2), 40, 1);
    let mut body = whole(&[&grid], &w, json!([]));
    body["track"][5] = json!({ "lon": 32.402, "lat": 105.705, "t": w[5].2.to_rfc3339() });
    let (st, _, e) = send(body).await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(items(&e).len(), 1, "{e}");
    let (i, m) = &items(&e)[0];
    assert_eq!(*i, 5);
    assert!(
        m.contains("track[5].lat"),
        "the latitude 105.705 is out of range: {m}"
    );
    // A point in range but far away (another province).
    let mut body = whole(&[&grid], &w, json!([]));
    body["track"][7] = json!({ "lon": 116.39, "lat": 39.9, "t": w[7].2.to_rfc3339() });
    let (st, _, e) = send(body).await;
    assert_eq!(st, 422, "{e}");
    let (i, m) = &items(&e)[0];
    assert_eq!(*i, 7);
    assert!(m.contains("outside the zone"), "{m}");

    // An empty track, a track with an unreadable time.
    let mut body = whole(&[&grid], &w, json!([]));
    body["track"] = json!([]);
    let (st, _, e) = send(body.clone()).await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("empty"),
        "{e}"
    );
    body["track"] = json!([{ "lon": 105.705, "lat": 32.402, "t": "yesterday" }]);
    let (st, _, e) = send(body).await;
    assert_eq!(st, 422, "{e}");
    assert!(items(&e)[0].1.contains("track[0].t"), "{e}");

    // Grids: not the account's, unknown, none.
    let (st, _, e) = send(whole(&[&g("0201")], &w, json!([]))).await;
    assert_eq!(
        (st, e["error"].as_str(), e["field"].as_str()),
        (403, Some("not_assigned"), Some("grids[0]")),
        "{e}"
    );
    let (st, _, e) = send(whole(&[&grid, "999"], &w, json!([]))).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("grids[1]")), "{e}");
    let (st, _, e) = send(whole(&[], &w, json!([]))).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("grids")), "{e}");

    // Households: more than the building has, a building of another grid, unknown.
    let (st, _, e) = send(whole(
        &[&grid],
        &w,
        json!([{ "building": "B00", "households": 11 }]),
    ))
    .await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("households[0].households")),
        "{e}"
    );
    let (st, _, e) = send(whole(
        &[&grid],
        &w,
        json!([{ "building": "B10", "households": 1 }]),
    ))
    .await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("households[0].building")),
        "{e}"
    );
    let (st, _, e) = send(whole(
        &[&grid],
        &w,
        json!([{ "building": "NOPE", "households": 1 }]),
    ))
    .await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("households[0].building")),
        "{e}"
    );

    // Span: ended before it started; sent ended without a track.
    let mut body = whole(&[&grid], &w, json!([]));
    body["ended_at"] = json!((w[0].2 - Duration::minutes(1)).to_rfc3339());
    let (st, _, e) = send(body).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("ended_at")), "{e}");
    let mut body = whole(&[&grid], &w, json!([]));
    body.as_object_mut().expect("object").remove("track");
    let (st, _, e) = send(body).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("track")), "{e}");

    // Text PostgreSQL cannot store, an accuracy that is no position.
    let mut body = whole(&[&grid], &w, json!([]));
    body["notes"] = json!("巡查\u{0}完毕");
    let (st, _, e) = send(body).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (422, Some("invalid_body")),
        "{e}"
    );
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("NUL")),
        "{e}"
    );
    let mut body = whole(&[&grid], &w, json!([]));
    body["track"][3]["accuracy_m"] = json!(1e300);
    let (st, _, e) = send(body).await;
    assert_eq!(st, 422, "{e}");
    assert!(items(&e)[0].1.contains("track[3].accuracy_m"), "{e}");

    // Bodies that are not what the API takes: clear 4xx, never 500.
    let mut body = whole(&[&grid], &w, json!([]));
    body["crs"] = json!("wgs");
    assert_eq!(send(body).await.0, 422);
    let mut body = whole(&[&grid], &w, json!([]));
    body["grid"] = json!(grid);
    let (st, _, e) = send(body).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (422, Some("invalid_body")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap_or_default().contains("grid"),
        "{e}"
    );
    let (st, _, e) = send(json!({ "grids": "x" })).await;
    assert_eq!(st, 422, "{e}");
    let r = p
        .raw(Method::PUT, &format!("/api/patrols/{}", Uuid::new_v4()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    let (st, _, e) = put(
        &p,
        Method::PUT,
        "/api/patrols/not-a-uuid",
        &whole(&[&grid], &w, json!([])),
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("bad_request")), "{e}");

    assert_eq!(
        count(&pool, "SELECT count(*) FROM patrols").await,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn fast_segments_are_flagged_and_left_out_of_the_walk() {
    let (_db, s, _pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let t0 = Utc::now() - Duration::hours(2);
    // 30 points 3 m apart every 10 s, a jump of 0.004° (≈ 376 m) in 10 s, 30 more.
    let mut w = vec![];
    for i in 0..60 {
        let x = 105.701 + 0.00003 * f64::from(i) + if i >= 30 { 0.004 } else { 0.0 };
        w.push((x, 32.402, t0 + Duration::seconds(10 * i64::from(i))));
    }
    let (st, _, v) = put(
        &p,
        Method::PUT,
        &format!("/api/patrols/{}", Uuid::new_v4()),
        &whole(&[&g("0101")], &w, json!([])),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let flags = v["speed_flags"].as_array().expect("flags");
    assert_eq!(flags.len(), 1, "{v}");
    assert_eq!(flags[0]["segment"], 29);
    let kmh = flags[0]["speed_kmh"].as_f64().expect("speed");
    assert!((130.0..145.0).contains(&kmh), "{kmh}");
    let (length, walked) = (
        v["length_m"].as_f64().expect("length"),
        v["walked_m"].as_f64().expect("walked"),
    );
    assert!((length - walked - 376.0).abs() < 10.0, "{length} {walked}");
    assert!(v["max_speed_kmh"].as_f64().expect("max") > 130.0);
}

#[tokio::test]
async fn a_long_track_goes_in_chunks_that_can_be_resumed() {
    let (db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let w = walk(SOUTH_WEST, Utc::now() - Duration::hours(3), 400, 4);
    let id = Uuid::new_v4();
    let base = format!("/api/patrols/{id}");
    // A chunk before its patrol: the client is told to send the patrol first.
    let chunk_ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let chunk =
        |k: usize| json!({ "id": chunk_ids[k], "points": points(&w[100 * k..100 * (k + 1)]) });
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/chunks/0"), &chunk(0)).await;
    assert_eq!(st, 404, "{e}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("PUT"),
        "{e}"
    );

    let head = json!({ "grids": [g("0101")], "started_at": w[0].2.to_rfc3339() });
    let (st, _, v) = put(&p, Method::PUT, &base, &head).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["complete"], false);
    for k in [0, 2] {
        let (st, _, v) = put(&p, Method::PUT, &format!("{base}/chunks/{k}"), &chunk(k)).await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, v) = p.get(&format!("{base}/chunks")).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["chunks"],
        json!({ "expected": null, "received": [0, 2], "missing": [], "complete": false })
    );
    let end = json!({ "ended_at": (w[399].2 + Duration::seconds(5)).to_rfc3339(), "chunks": 4,
                      "households": [{ "building": "B00", "households": 10 }] });
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["chunks"]["missing"], json!([1, 3]));
    assert_eq!(v["complete"], false);

    // A repeat, a changed chunk, a reused chunk id, a chunk out of time order, a chunk
    // number past the end, another account's upload.
    let (st, replayed, v) = put(&p, Method::PUT, &format!("{base}/chunks/2"), &chunk(2)).await;
    assert_eq!((st, replayed), (200, true), "{v}");
    assert_eq!(v["chunks"]["received"], json!([0, 2]));
    let mut changed = chunk(2);
    changed["points"][0]["accuracy_m"] = json!(99.0);
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/chunks/2"), &changed).await;
    assert_eq!(st, 409, "{e}");
    let mut reused = chunk(3);
    reused["id"] = json!(chunk_ids[0]);
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/chunks/3"), &reused).await;
    assert_eq!(st, 409, "{e}");
    let mut late = chunk(3);
    late["id"] = json!(chunk_ids[1]);
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/chunks/1"), &late).await;
    assert_eq!(st, 422, "chunk 1 with chunk 3's times: {e}");
    assert!(
        items(&e).iter().any(|(_, m)| m.contains("chunk after")),
        "{e}"
    );
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/chunks/4"), &chunk(3)).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("seq")), "{e}");
    let p2 = s.sign_in("patrol2").await;
    let (st, _, _) = put(&p2, Method::PUT, &format!("{base}/chunks/1"), &chunk(1)).await;
    assert_eq!(st, 404);
    let (st, _, _) = put(&p2, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!(st, 404);

    // The last pieces complete the patrol.
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/chunks/3"), &chunk(3)).await;
    assert_eq!(
        (st, v["chunks"]["complete"].as_bool()),
        (201, Some(false)),
        "{v}"
    );
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/chunks/1"), &chunk(1)).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        v["chunks"],
        json!({ "expected": 4, "received": [0, 1, 2, 3], "missing": [], "complete": true })
    );
    let (_, v) = p.get(&base).await;
    assert_eq!(v["complete"], true);
    assert_eq!(v["points"], 400);
    assert_eq!(
        v["track"]["coordinates"].as_array().map(Vec::len),
        Some(400)
    );
    assert!(v["grids"][0]["share_inside"].as_f64().expect("share") > 0.99);
    // The end again: a repeat; a different end: a conflict.
    let (st, replayed, _) = put(&p, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!((st, replayed), (200, true));
    let mut other = end.clone();
    other["chunks"] = json!(5);
    assert_eq!(
        put(&p, Method::PUT, &format!("{base}/end"), &other).await.0,
        409
    );
    assert_eq!(
        count(
            &pool,
            "SELECT sum(cardinality(lon))::bigint FROM patrol_chunks"
        )
        .await,
        400
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM patrol_chunks").await, 4);
    // An end that says fewer chunks than were sent, or no chunk at all.
    let id2 = Uuid::new_v4();
    let base2 = format!("/api/patrols/{id2}");
    assert_eq!(put(&p, Method::PUT, &base2, &head).await.0, 201);
    assert_eq!(
        put(
            &p,
            Method::PUT,
            &format!("{base2}/chunks/1"),
            &json!({ "id": Uuid::new_v4(), "points": points(&w[100..110]) })
        )
        .await
        .0,
        201
    );
    let mut short = end.clone();
    short["chunks"] = json!(1);
    let (st, _, e) = put(&p, Method::PUT, &format!("{base2}/end"), &short).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("chunks")), "{e}");
    short["chunks"] = json!(0);
    let (st, _, e) = put(&p, Method::PUT, &format!("{base2}/end"), &short).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("chunks")), "{e}");
    drop(db);
}

/// Replaces the stored streets (the fixture's included) with these lines, nodes at their
/// ends.
async fn add_streets(pool: &PgPool, lines: &[(i64, Vec<(f64, f64)>)]) {
    for q in ["DELETE FROM network_edges", "DELETE FROM network_nodes"] {
        sqlx::query(q)
            .execute(pool)
            .await
            .expect("clear the network");
    }
    let with_nodes: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'network_edges' AND column_name = 'source')",
    )
    .fetch_one(pool)
    .await
    .expect("columns");
    for (id, line) in lines {
        let wkt = format!(
            "LINESTRING({})",
            line.iter()
                .map(|(x, y)| format!("{x} {y}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if with_nodes {
            for (k, end) in ["ST_StartPoint", "ST_EndPoint"].iter().enumerate() {
                sqlx::query(&format!(
                    "INSERT INTO network_nodes (id, geom) VALUES ($1, {end}(ST_GeomFromText($2, 4326)))"
                ))
                .bind(id * 2 + k as i64)
                .bind(&wkt)
                .execute(pool)
                .await
                .expect("node");
            }
            sqlx::query(
                "INSERT INTO network_edges (id, source, target, length_m, highway, geom) \
                 VALUES ($1, $1 * 2, $1 * 2 + 1, ST_Length(ST_GeomFromText($2, 4326)::geography), 'residential', ST_GeomFromText($2, 4326))",
            )
            .bind(id)
            .bind(&wkt)
            .execute(pool)
            .await
            .expect("edge");
        } else {
            sqlx::query("INSERT INTO network_edges (id, highway, geom) VALUES ($1, 'residential', ST_GeomFromText($2, 4326))")
                .bind(id)
                .bind(&wkt)
                .execute(pool)
                .await
                .expect("edge");
        }
    }
}

/// Points every ~5 m along a path, 4 s apart, from `t0`.
fn along(path: &[(f64, f64)], t0: DateTime<Utc>) -> Vec<(f64, f64, DateTime<Utc>)> {
    let mut out = vec![];
    for seg in path.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let d = distance_m(Coord { x: a.0, y: a.1 }, Coord { x: b.0, y: b.1 });
        let n = (d / 5.0).ceil().max(1.0) as usize;
        for k in 0..n {
            let f = k as f64 / n as f64;
            out.push((a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f));
        }
    }
    if let Some(l) = path.last() {
        out.push(*l);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (x, y))| (x, y, t0 + Duration::seconds(4 * i as i64)))
        .collect()
}

#[tokio::test]
async fn weekly_compliance_counts_patrols_mostly_inside_and_matches_postgis() {
    let (_db, s, pool) = fixture().await;
    add_streets(
        &pool,
        &[
            (1, vec![(105.700, 32.4020), (105.710, 32.4020)]),
            (2, vec![(105.7050, 32.4000), (105.7050, 32.4050)]),
            (3, vec![(105.695, 32.4045), (105.715, 32.4045)]),
            (4, vec![(105.72, 32.408), (105.73, 32.408)]),
        ],
    )
    .await;
    let p = s.sign_in("patrol").await;
    let tue = last_week_tuesday();
    let week = IsoWeek::of(tue);
    // A: inside C0101, 11 m north of street 1, then up street 2's side.
    let a = along(
        &[
            (105.7015, 32.4021),
            (105.7085, 32.4021),
            (105.7085, 32.4030),
        ],
        tue,
    );
    // B: for C0101, but almost all of it in C0102 (share ≈ 4%): it does not count.
    let b = along(
        &[(105.702, 32.4048), (105.702, 32.4095)],
        tue + Duration::hours(3),
    );
    // C: inside C0101 along the south edge, another day.
    let c = along(
        &[(105.7010, 32.4005), (105.7040, 32.4005)],
        tue + Duration::days(1),
    );
    let mut ids = vec![];
    for (w, visits) in [
        (&a, json!([{ "building": "B00", "households": 6 }])),
        (&b, json!([{ "building": "B00", "households": 3 }])),
        (&c, json!([{ "building": "B00", "households": 6 }])),
    ] {
        let id = Uuid::new_v4();
        let (st, _, v) = put(
            &p,
            Method::PUT,
            &format!("/api/patrols/{id}"),
            &whole(&[&g("0101")], w, visits),
        )
        .await;
        assert_eq!(st, 201, "{v}");
        ids.push((id, v));
    }
    let share_b = ids[1].1["grids"][0]["share_inside"]
        .as_f64()
        .expect("share");
    assert!(share_b < 0.1, "{share_b}");
    // An incident found in C0101 that week.
    let (st, _, v) = put(
        &p,
        Method::PUT,
        &format!("/api/incidents/{}", Uuid::new_v4()),
        &json!({ "category": "environment", "description": "垃圾堆放", "lon": 105.703, "lat": 32.402,
                 "reported_at": (tue + Duration::hours(1)).to_rfc3339(), "patrol_id": ids[0].0 }),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    let chief = s.sign_in("chief").await;
    let (st, r) = chief.get(&format!("/api/compliance?week={week}")).await;
    assert_eq!(st, 200, "{r}");
    let rows = r["grids"].as_array().expect("grids");
    let codes: Vec<&str> = rows.iter().filter_map(|x| x["grid"].as_str()).collect();
    assert_eq!(codes, [g("0101"), g("0102")], "the chief's grids only");
    let mine = &rows[0];
    assert_eq!(mine["status"], "patrolled");
    assert_eq!(mine["patrolled_by"], json!(["PS1网格员"]));
    assert_eq!(mine["chief"], "PS0网格长");
    let counted: Vec<bool> = mine["patrols"]
        .as_array()
        .expect("patrols")
        .iter()
        .map(|x| x["counts"] == true)
        .collect();
    assert_eq!(counted, [true, false, true]);
    // Households: 6 + 6 on counting patrols, capped at the building's 10; B's 3 do not count.
    assert_eq!(mine["households"], 10);
    assert_eq!(mine["households_visited"], 10);
    assert_eq!(mine["household_full_marks"], true);
    assert_eq!(mine["incidents_found"], 1);
    let inside_a = ids[0].1["grids"][0]["length_inside_m"].as_f64().expect("a");
    let inside_c = ids[2].1["grids"][0]["length_inside_m"].as_f64().expect("c");
    let inside = mine["track_length_inside_m"].as_f64().expect("inside");
    assert!(
        (inside - inside_a - inside_c).abs() < 0.5,
        "{inside} vs {inside_a} + {inside_c}"
    );

    // Street length and coverage against PostGIS on the same data.
    let (pg_len, pg_cov): (f64, f64) = sqlx::query_as(
        "WITH g AS (SELECT geom FROM current_grids WHERE code = $1), \
              t AS (SELECT ST_Union(ST_Buffer(track::geography, 20)::geometry) AS buf FROM patrols WHERE id = ANY($2)) \
         SELECT sum(ST_Length(ST_Intersection(e.geom, g.geom)::geography)), \
                sum(ST_Length(ST_Intersection(ST_Intersection(e.geom, g.geom), t.buf)::geography)) \
         FROM network_edges e, g, t WHERE ST_Intersects(e.geom, g.geom)",
    )
    .bind(g("0101"))
    .bind(vec![ids[0].0, ids[2].0])
    .fetch_one(&pool)
    .await
    .expect("postgis coverage");
    let len = mine["street_length_m"].as_f64().expect("street length");
    let cov = mine["street_covered_m"].as_f64().expect("covered");
    assert!(
        (len - pg_len).abs() < 0.002 * pg_len + 1.0,
        "street {len} vs PostGIS {pg_len}"
    );
    assert!(
        (cov - pg_cov).abs() < 0.01 * pg_cov + 3.0,
        "covered {cov} vs PostGIS {pg_cov}"
    );
    assert!(cov > 500.0 && cov < len, "{cov} of {len}");
    let share = mine["street_coverage"].as_f64().expect("share");
    assert!((share - cov / len).abs() < 1e-9);

    let other = &rows[1];
    assert_eq!(other["status"], "overdue");
    assert_eq!(other["patrolled"], false);
    assert_eq!(other["households_visited"], 0);
    assert_eq!(other["street_length_m"], 0.0);
    assert_eq!(other["street_coverage"], Value::Null);
    // The figures per community sum the rows, and each grid's shade for the map comes by code.
    let communities = r["communities"].as_array().expect("communities");
    assert_eq!(communities.len(), 1, "{r}");
    assert_eq!(communities[0]["totals"], r["totals"]);
    assert_eq!(communities[0]["totals"]["grid_weeks"], 2);
    assert_eq!(communities[0]["totals"]["patrolled"], 1);
    assert_eq!(
        r["shades"],
        json!({ g("0101"): "patrolled", g("0102"): "overdue" })
    );
    assert_eq!(r["grid_weeks"], 2);
    assert!(r.get("grids_omitted").is_none());

    // Overdue grids: C0102 never patrolled; C0101 was, last week.
    let (st, r) = chief.get("/api/compliance/overdue?weeks=3").await;
    assert_eq!(st, 200, "{r}");
    let over: Vec<(&str, u64)> = r["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .map(|x| {
            (
                x["grid"].as_str().unwrap_or_default(),
                x["weeks_missed"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let c0102 = g("0102");
    assert_eq!(over, [(c0102.as_str(), 3)], "{r}");

    // Summaries over last week and this one.
    let range = format!("from={week}&to={}", week.next());
    let (st, r) = s
        .get(&format!("/api/compliance/summary?{range}&by=community"))
        .await;
    assert_eq!(st, 200, "{r}");
    let groups = r["groups"].as_array().expect("groups");
    let ling = groups.iter().find(|x| x["key"] == C).expect("community C");
    assert_eq!(ling["name"], "陵江社区");
    assert_eq!(ling["total"]["grid_weeks"], 8, "4 grids × 2 weeks");
    assert_eq!(ling["total"]["patrolled"], 1);
    assert_eq!(ling["weeks"].as_array().map(Vec::len), Some(2));
    assert_eq!(ling["weeks"][0]["week"], week.to_string());
    assert_eq!(ling["weeks"][0]["incidents_found"], 1);
    let (_, r) = s
        .get(&format!("/api/compliance/summary?{range}&by=chief"))
        .await;
    let ps0 = r["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|x| x["key"] == "PS0网格长")
        .cloned()
        .expect("chief PS0");
    assert_eq!(ps0["total"]["grid_weeks"], 4);
    assert_eq!(ps0["total"]["households_visited"], 10);
    assert_eq!(
        s.get(&format!("/api/compliance/summary?{range}&by=street"))
            .await
            .0,
        422
    );
    assert_eq!(s.get("/api/compliance?week=2024-W99").await.0, 422);

    // Exports.
    let r = s
        .raw(Method::GET, &format!("/api/compliance/export?week={week}"))
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let bytes = r.bytes().await.expect("csv bytes");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFweek,community"),
        "a byte-order mark, then the header"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1 + 5,
        "a header and the five second-level grids"
    );
    let row = lines.iter().find(|l| l.contains(&g("0101"))).expect("row");
    assert!(
        row.contains(",patrolled,yes,PS1网格员,2,") && row.contains(",10,10,1,yes,1"),
        "{row}"
    );
    let r = s
        .raw(
            Method::GET,
            &format!("/api/compliance/export?{range}&format=xlsx"),
        )
        .send()
        .await
        .expect("xlsx");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .contains(".xlsx"));
    let bytes = r.bytes().await.expect("bytes");
    let mut book =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("an XLSX is a zip");
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut book.by_name("xl/worksheets/sheet1.xml").expect("sheet"),
        &mut sheet,
    )
    .expect("xml");
    assert_eq!(
        sheet.matches("<row ").count(),
        1 + 2 * 5,
        "a header and five grids × two weeks"
    );
    assert!(
        sheet.contains(&format!(">{}</t>", g("0101"))) && sheet.contains(">PS1网格员</t>"),
        "{sheet}"
    );
    assert_eq!(s.get("/api/compliance/export?format=pdf").await.0, 422);

    // The week's tracks for the map.
    let (st, fc) = chief.get(&format!("/api/patrols?week={week}")).await;
    assert_eq!(st, 200, "{fc}");
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features.len(), 3);
    assert!(features
        .iter()
        .all(|f| f["geometry"]["type"] == "LineString"));
    let (_, fc) = s
        .sign_in("chief2")
        .await
        .get(&format!("/api/patrols?week={week}"))
        .await;
    assert_eq!(fc["features"].as_array().map(Vec::len), Some(0));
}

/// PostGIS's street metres inside a current grid.
async fn postgis_street_length(pool: &PgPool, code: &str) -> f64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(ST_Length(ST_Intersection(e.geom, g.geom)::geography)), 0) \
         FROM network_edges e, current_grids g WHERE g.code = $1 AND ST_Intersects(e.geom, g.geom)",
    )
    .bind(code)
    .fetch_one(pool)
    .await
    .expect("postgis street length")
}

/// The street metres of a grid in a compliance answer.
fn street_length(report: &Value, code: &str) -> f64 {
    report["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .find(|r| r["grid"] == code)
        .and_then(|r| r["street_length_m"].as_f64())
        .unwrap_or_else(|| panic!("no street length of {code} in {report}"))
}

/// A compliance answer (200).
async fn report(c: &Client, path: &str) -> Value {
    let (st, r) = c.get(path).await;
    assert_eq!(st, 200, "{r}");
    r
}

/// The same answer from a server started afresh, as `admin`.
async fn fresh(db: &TestDb, path: &str) -> Value {
    let f = TestServer::start(db).await;
    report(&f.sign_in("admin").await, path).await
}

/// Moves the edge between grid 0101 and its northern neighbour 0102 south to 32.403 in one
/// batch (so the parent stays partitioned).
async fn move_north_edge_south(s: &TestServer) {
    let mut changes = vec![];
    for (suffix, y0, y1) in [("0101", 32.400, 32.403), ("0102", 32.403, 32.410)] {
        let (st, one) = s.get(&format!("/api/grids/{}", g(suffix))).await;
        assert_eq!(st, 200, "{one}");
        changes.push(json!({
            "op": "update", "code": g(suffix), "version": one["properties"]["version"],
            "feature": feature(rect(105.70, y0, 105.71, y1), json!({})),
        }));
    }
    let (st, _, b) = s
        .send(
            Method::POST,
            "/api/grids/batch",
            Some(&json!({ "changes": changes })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

/// The street metres of every grid are measured once and kept between compliance reports,
/// keyed by the change log: after a grid is re-drawn and after a new network is imported,
/// the answer of the server that kept them equals the answer of a server started afresh
/// (which measures everything anew), and the grid's street length is PostGIS's.
#[tokio::test]
async fn kept_street_lengths_follow_grid_edits_and_network_imports() {
    let (db, s, pool) = fixture().await;
    let week = IsoWeek::of(last_week_tuesday());
    let path = format!("/api/compliance?week={week}");
    let code = g("0101");
    let close = |a: f64, b: f64| (a - b).abs() < 0.002 * b + 1.0;

    let first = report(&s, &path).await;
    let len0 = street_length(&first, &code);
    let pg0 = postgis_street_length(&pool, &code).await;
    assert!(len0 > 1000.0 && close(len0, pg0), "{len0} vs PostGIS {pg0}");
    assert_eq!(first, fresh(&db, &path).await);

    // Moving the edge between the grid and its northern neighbour south (one batch, so
    // the parent stays partitioned) shortens the north-south street inside it by 222 m.
    move_north_edge_south(&s).await;
    let edited = report(&s, &path).await;
    let len1 = street_length(&edited, &code);
    let pg1 = postgis_street_length(&pool, &code).await;
    assert!(close(len1, pg1), "{len1} vs PostGIS {pg1}");
    assert!(len1 < len0 - 150.0, "{len1} after the edit, {len0} before");
    assert_eq!(
        edited,
        fresh(&db, &path).await,
        "the kept lengths were measured again"
    );

    // A new network: one street across the grid, 0.004° of longitude (about 376 m).
    let streets: geojson::FeatureCollection = serde_json::from_value(collection(vec![feature(
        json!({ "type": "LineString", "coordinates": [[105.7005, 32.401], [105.7045, 32.401]] }),
        json!({ "highway": "residential", "name": "乙路" }),
    )]))
    .expect("streets");
    s.state
        .store
        .import_network(
            &wangge::store::audit::Actor::system("test"),
            wangge::import::NetworkSource::Lines(&streets),
        )
        .await
        .expect("import streets");
    let imported = report(&s, &path).await;
    let len2 = street_length(&imported, &code);
    let pg2 = postgis_street_length(&pool, &code).await;
    assert!(close(len2, pg2), "{len2} vs PostGIS {pg2}");
    assert!((len2 - 376.0).abs() < 10.0, "{len2}");
    assert_eq!(street_length(&imported, &g("0102")), 0.0);
    assert_eq!(
        imported,
        fresh(&db, &path).await,
        "the kept lengths were measured again"
    );
}

/// The street coverage of a walked grid-week is kept between reports for exactly the
/// patrols that count in it: a second report reuses it (same answer as a fresh server), a
/// new counting patrol in the week makes it be clipped anew (more street covered, and the
/// fresh server's answer again), and a re-drawn grid starts from nothing.
#[tokio::test]
async fn kept_walked_coverage_follows_new_patrols_and_grid_edits() {
    let (db, s, pool) = fixture().await;
    add_streets(
        &pool,
        &[
            (1, vec![(105.700, 32.4020), (105.710, 32.4020)]),
            (2, vec![(105.7050, 32.4000), (105.7050, 32.4050)]),
        ],
    )
    .await;
    let p = s.sign_in("patrol").await;
    let tue = last_week_tuesday();
    let week = IsoWeek::of(tue);
    let path = format!("/api/compliance?week={week}");
    let code = g("0101");
    let covered = |r: &Value| -> f64 {
        r["grids"]
            .as_array()
            .expect("grids")
            .iter()
            .find(|x| x["grid"] == code)
            .and_then(|x| x["street_covered_m"].as_f64())
            .expect("covered")
    };
    let walk = |w: &[(f64, f64)], t| {
        let id = Uuid::new_v4();
        let body = whole(&[&code], &along(w, t), json!([]));
        let p = &p;
        async move {
            let (st, _, v) = put(p, Method::PUT, &format!("/api/patrols/{id}"), &body).await;
            assert_eq!(st, 201, "{v}");
        }
    };
    // Along street 1 only.
    walk(&[(105.7015, 32.4021), (105.7085, 32.4021)], tue).await;
    let first = report(&s, &path).await;
    assert_eq!(
        s.state.streets.walked_kept(),
        1,
        "the walked grid-week is kept"
    );
    let again = report(&s, &path).await;
    assert_eq!(first, again);
    assert_eq!(first, fresh(&db, &path).await);
    let c0 = covered(&first);
    assert!(c0 > 500.0, "{c0}");

    // Up street 2 the next day: the kept figure no longer fits the counting patrols.
    walk(
        &[(105.7049, 32.4001), (105.7049, 32.4049)],
        tue + Duration::days(1),
    )
    .await;
    let second = report(&s, &path).await;
    let c1 = covered(&second);
    assert!(c1 > c0 + 200.0, "{c1} after the second walk, {c0} before");
    assert_eq!(second, fresh(&db, &path).await);
    assert_eq!(second, report(&s, &path).await);

    // Re-drawing the grid's northern edge: the kept coverage of the old shape is dropped.
    move_north_edge_south(&s).await;
    let edited = report(&s, &path).await;
    assert!(covered(&edited) < c1, "{} after the edit", covered(&edited));
    assert_eq!(edited, fresh(&db, &path).await);
}

#[tokio::test]
async fn incidents_follow_their_lifecycle_with_who_and_when() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let id = Uuid::new_v4();
    let path = format!("/api/incidents/{id}");
    let here = Coord {
        x: 105.7042,
        y: 32.4031,
    };
    let bd = from_wgs84(Crs::Bd09, here);
    let report = json!({ "category": "safety_hazard", "description": "楼道堆放杂物，堵塞消防通道",
                         "lon": bd.x, "lat": bd.y, "crs": "bd09",
                         "reported_at": (Utc::now() - Duration::minutes(5)).to_rfc3339() });
    let (st, _, v) = put(&p, Method::PUT, &path, &report).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["grid"], g("0101"));
    assert_eq!(v["status"], "reported");
    assert_eq!(v["category_label"], "安全隐患");
    let at = Coord {
        x: v["lon"].as_f64().expect("lon"),
        y: v["lat"].as_f64().expect("lat"),
    };
    assert!(distance_m(at, here) < 0.05, "stored {at:?}");
    let (st, replayed, again) = put(&p, Method::PUT, &path, &report).await;
    assert_eq!((st, replayed), (200, true));
    assert_eq!(again["id"], v["id"]);
    let mut other = report.clone();
    other["description"] = json!("别的");
    assert_eq!(put(&p, Method::PUT, &path, &other).await.0, 409);
    // Outside the reporter's grids, outside every grid, an unknown category.
    let mut out = report.clone();
    out["lon"] = json!(105.715);
    out["lat"] = json!(32.402);
    out["crs"] = json!("wgs84");
    let (st, _, e) = put(
        &p,
        Method::PUT,
        &format!("/api/incidents/{}", Uuid::new_v4()),
        &out,
    )
    .await;
    assert_eq!(st, 403, "{e}");
    out["lon"] = json!(105.5);
    let (st, _, e) = put(
        &p,
        Method::PUT,
        &format!("/api/incidents/{}", Uuid::new_v4()),
        &out,
    )
    .await;
    assert_eq!((st, e["field"].as_str()), (422, Some("lon")), "{e}");
    let mut bad = report.clone();
    bad["category"] = json!("noise");
    let (st, _, e) = put(
        &p,
        Method::PUT,
        &format!("/api/incidents/{}", Uuid::new_v4()),
        &bad,
    )
    .await;
    assert_eq!((st, e["field"].as_str()), (422, Some("category")), "{e}");
    assert!(e["message"]
        .as_str()
        .unwrap_or_default()
        .contains("residents_request"));

    let step = |to: &str, extra: Value| {
        let mut b = json!({ "id": Uuid::new_v4(), "to": to });
        if let (Some(b), Some(x)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(x.clone());
        }
        b
    };
    let tpath = format!("{path}/transitions");
    // Patrol staff cannot assign; the chief assigns to a member of the grid.
    let (st, _, e) = put(
        &p,
        Method::POST,
        &tpath,
        &step("assigned", json!({ "assignee": "PS1" })),
    )
    .await;
    assert_eq!(st, 403, "{e}");
    let (st, _, e) = put(
        &chief,
        Method::POST,
        &tpath,
        &step("assigned", json!({ "assignee": "PS3" })),
    )
    .await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("assignee")),
        "PS3 serves another grid: {e}"
    );
    let assign = step(
        "assigned",
        json!({ "assignee": "PS1", "note": "请尽快清理" }),
    );
    let (st, _, v) = put(&chief, Method::POST, &tpath, &assign).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["assignee"]["code"], "PS1");
    let (st, replayed, _) = put(&chief, Method::POST, &tpath, &assign).await;
    assert_eq!(
        (st, replayed),
        (200, true),
        "a re-sent step is not applied twice"
    );
    // The assignee starts and resolves; cannot verify.
    for to in ["in_progress", "resolved"] {
        let (st, _, v) = put(&p, Method::POST, &tpath, &step(to, json!({}))).await;
        assert_eq!((st, v["status"].as_str()), (201, Some(to)), "{v}");
    }
    let (st, _, e) = put(&p, Method::POST, &tpath, &step("verified", json!({}))).await;
    assert_eq!(st, 403, "{e}");
    // A step queued by someone who saw an older status is refused.
    let (st, _, e) = put(
        &chief,
        Method::POST,
        &tpath,
        &step("resolved", json!({ "from": "in_progress" })),
    )
    .await;
    assert_eq!(st, 409, "{e}");
    for to in ["verified", "closed"] {
        let (st, _, v) = put(&chief, Method::POST, &tpath, &step(to, json!({}))).await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, _, e) = put(
        &chief,
        Method::POST,
        &tpath,
        &step("in_progress", json!({})),
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (409, Some("lifecycle")), "{e}");

    let (st, v) = chief.get(&path).await;
    assert_eq!(st, 200, "{v}");
    let history: Vec<(String, String)> = v["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["to"].as_str().unwrap_or_default().to_string(),
                h["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("reported", "patrol"),
        ("assigned", "chief"),
        ("in_progress", "patrol"),
        ("resolved", "patrol"),
        ("verified", "chief"),
        ("closed", "chief"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(history, expected);
    let times: Vec<&str> = v["history"]
        .as_array()
        .expect("h")
        .iter()
        .filter_map(|h| h["at"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(v["overdue"], false);
    assert_eq!(v["due_at"], Value::Null);
    // Each step is in the audit log, append-only.
    let (_, log) = s.get(&format!("/api/audit?entity=incident&key={id}")).await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .rev()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "report",
            "assigned",
            "in_progress",
            "resolved",
            "verified",
            "closed"
        ]
    );

    // An incident reported 30 hours ago and never assigned is overdue.
    let old = Uuid::new_v4();
    let mut late = report.clone();
    late["category"] = json!("dispute");
    late["reported_at"] = json!((Utc::now() - Duration::hours(30)).to_rfc3339());
    assert_eq!(
        put(&p, Method::PUT, &format!("/api/incidents/{old}"), &late)
            .await
            .0,
        201
    );
    let (_, v) = chief.get(&format!("/api/incidents/{old}")).await;
    assert_eq!(v["overdue"], true, "{v}");
    let (st, fc) = chief.get("/api/incidents?overdue=true").await;
    assert_eq!(st, 200, "{fc}");
    let ids: Vec<&str> = fc["features"]
        .as_array()
        .expect("f")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, [old.to_string()]);
    assert_eq!(fc["features"][0]["geometry"]["type"], "Point");
    let (_, fc) = chief.get("/api/incidents?status=closed").await;
    assert_eq!(fc["features"].as_array().map(Vec::len), Some(1));
    assert_eq!(chief.get("/api/incidents?status=lost").await.0, 422);
    let (st, c) = chief.get("/api/incidents/counts").await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["total"], json!({ "total": 2, "open": 1, "overdue": 1 }));
    assert_eq!(
        c["by_grid"],
        json!([{ "grid": g("0101"), "total": 2, "open": 1, "overdue": 1 }])
    );
    let cats: Vec<&str> = c["by_category"]
        .as_array()
        .expect("c")
        .iter()
        .filter_map(|x| x["category"].as_str())
        .collect();
    assert_eq!(cats, ["dispute", "safety_hazard"]);
    // The other community's chief sees none of it.
    let chief2 = s.sign_in("chief2").await;
    assert_eq!(chief2.get(&path).await.0, 404);
    let (_, c) = chief2.get("/api/incidents/counts").await;
    assert_eq!(c["total"]["total"], 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM incident_events WHERE incident_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("events");
    assert_eq!(n, 6);
}

#[tokio::test]
async fn photos_are_checked_stored_with_a_checksum_and_served_only_to_those_allowed() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let id = Uuid::new_v4();
    let report = json!({ "category": "facility_damage", "description": "路灯损坏", "lon": 105.703, "lat": 32.402,
                         "reported_at": (Utc::now() - Duration::minutes(5)).to_rfc3339() });
    assert_eq!(
        put(&p, Method::PUT, &format!("/api/incidents/{id}"), &report)
            .await
            .0,
        201
    );
    let upload = |c: &Client, photo: Uuid, bytes: Vec<u8>, sha: Option<String>| {
        let mut r = c
            .raw(Method::PUT, &format!("/api/incidents/{id}/photos/{photo}"))
            .header("content-type", "application/octet-stream")
            .body(bytes);
        if let Some(h) = sha {
            r = r.header("x-content-sha256", h);
        }
        async move {
            let r = r.send().await.expect("upload");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    use sha2::Digest;
    let hex = |b: &[u8]| {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let photo = Uuid::new_v4();
    let img = jpeg(1);
    let (st, v) = upload(&p, photo, img.clone(), Some(hex(&img))).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["content_type"], "image/jpeg");
    assert_eq!(v["sha256"], hex(&img));
    assert_eq!(
        upload(&p, photo, img.clone(), None).await.0,
        200,
        "a repeat"
    );
    assert_eq!(
        upload(&p, photo, jpeg(2), None).await.0,
        409,
        "other bytes under the same id"
    );
    let (st, e) = upload(&p, Uuid::new_v4(), jpeg(3), Some(hex(&img))).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (422, Some("checksum_mismatch")),
        "{e}"
    );
    let png = common::patrols::test_image(6, image::ImageFormat::Png);
    assert_eq!(upload(&p, Uuid::new_v4(), png, None).await.0, 201);
    let webp = common::patrols::test_image(7, image::ImageFormat::WebP);
    assert_eq!(upload(&p, Uuid::new_v4(), webp, None).await.0, 201);
    let (st, e) = upload(&p, Uuid::new_v4(), b"GIF89a....".to_vec(), None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    let mut big = jpeg(4);
    big.resize(5 * 1024 * 1024 + 1, 0);
    let (st, e) = upload(&p, Uuid::new_v4(), big, None).await;
    assert_eq!((st, e["error"].as_str()), (413, Some("too_large")), "{e}");
    assert_eq!(upload(&p, Uuid::new_v4(), vec![], None).await.0, 422);
    // Someone who may not touch the incident.
    let p2 = s.sign_in("patrol2").await;
    assert_eq!(upload(&p2, Uuid::new_v4(), jpeg(5), None).await.0, 404);

    // Served to those who may see the incident, with its checksum as the ETag.
    let chief = s.sign_in("chief").await;
    let r = chief
        .raw(Method::GET, &format!("/api/incidents/{id}/photos/{photo}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.headers()["etag"].to_str().unwrap_or_default(),
        format!("\"{}\"", hex(&img))
    );
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), img);
    for who in ["chief2", "patrol2", "outsider"] {
        let c = s.sign_in(who).await;
        let r = c
            .raw(Method::GET, &format!("/api/incidents/{id}/photos/{photo}"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 404, "{who}");
    }
    let viewer = s.sign_in("viewer").await;
    let r = viewer
        .raw(Method::GET, &format!("/api/incidents/{id}/photos/{photo}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 403);
    let (_, v) = chief.get(&format!("/api/incidents/{id}")).await;
    assert_eq!(v["photos"].as_array().map(Vec::len), Some(3));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM incident_photos WHERE id = $1")
        .bind(photo)
        .fetch_one(&pool)
        .await
        .expect("sha");
    assert_eq!(sha2::Sha256::digest(&img).to_vec(), stored);
}

/// The doors and count stored for a patrol's visit to a building.
async fn stored_visit(
    pool: &PgPool,
    id: Uuid,
    building: &str,
) -> Option<(i32, Option<Vec<String>>)> {
    sqlx::query_as(
        "SELECT v.households, v.doors FROM patrol_visits v JOIN buildings b ON b.id = v.building_id \
         WHERE v.patrol_id = $1 AND b.code = $2",
    )
    .bind(id)
    .bind(building)
    .fetch_optional(pool)
    .await
    .expect("a visit")
}

#[tokio::test]
async fn visits_name_the_households_reached_and_bad_doors_are_refused() {
    let (_db, s, pool) = fixture().await;
    let p = s.sign_in("patrol").await;
    let grid = g("0101");
    let w = walk(SOUTH_WEST, Utc::now() - Duration::hours(3), 60, 4);
    let visit = |v: Value| whole(&[&grid], &w, json!([v]));

    // Refused, naming the field, and nothing of the patrol stored: a door the building does
    // not have, a door of another building (B10's 2-201), more doors than the building has
    // households (B00 has 10) and than the hard cap, a count that is not the doors', a
    // door twice, an empty list.
    let many: Vec<String> = (0..=1000).map(|i| format!("9-{i}")).collect();
    for (v, field) in [
        (
            json!({ "building": "B00", "doors": ["9-999"] }),
            "households[0].doors[0]",
        ),
        (
            json!({ "building": "B00", "doors": ["1-101", "2-201"] }),
            "households[0].doors[1]",
        ),
        (
            json!({ "building": "B00", "doors": (0..11).map(|i| format!("1-1{i:02}")).collect::<Vec<_>>() }),
            "households[0].doors",
        ),
        (
            json!({ "building": "B00", "doors": many }),
            "households[0].doors",
        ),
        (
            json!({ "building": "B00", "households": 3, "doors": ["1-101", "1-102"] }),
            "households[0].households",
        ),
        (
            json!({ "building": "B00", "doors": ["1-101", "1-101"] }),
            "households[0].doors[1]",
        ),
        (
            json!({ "building": "B00", "doors": [] }),
            "households[0].doors",
        ),
        (json!({ "building": "B00" }), "households[0].households"),
    ] {
        let id = Uuid::new_v4();
        let (st, _, e) = put(
            &p,
            Method::PUT,
            &format!("/api/patrols/{id}"),
            &visit(v.clone()),
        )
        .await;
        assert_eq!(
            (st, e["error"].as_str(), e["field"].as_str()),
            (422, Some("invalid"), Some(field)),
            "{v}: {e}"
        );
        let stored = count(
            &pool,
            &format!("SELECT count(*) FROM patrols WHERE id = '{id}'"),
        )
        .await;
        assert_eq!(stored, 0, "nothing half-written: {v}");
    }

    // Named doors are stored; the count is their number when left out.
    let id = Uuid::new_v4();
    let body = visit(json!({ "building": "B00", "doors": ["1-102", "1-101"] }));
    let (st, _, v) = put(&p, Method::PUT, &format!("/api/patrols/{id}"), &body).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        v["households"],
        json!([{ "building": "B00", "households": 2 }])
    );
    let (n, doors) = stored_visit(&pool, id, "B00").await.expect("stored");
    assert_eq!(
        (n, doors),
        (2, Some(vec!["1-102".to_string(), "1-101".to_string()]))
    );
    let (st, replayed, _) = put(&p, Method::PUT, &format!("/api/patrols/{id}"), &body).await;
    assert_eq!((st, replayed), (200, true), "a repeat is a replay");
    let mut other = body.clone();
    other["households"][0]["doors"] = json!(["1-101"]);
    let (st, _, e) = put(&p, Method::PUT, &format!("/api/patrols/{id}"), &other).await;
    assert_eq!(st, 409, "other doors under the same id: {e}");

    // An old client's count only: accepted, counted, no household named.
    let id = Uuid::new_v4();
    let (st, _, v) = put(
        &p,
        Method::PUT,
        &format!("/api/patrols/{id}"),
        &visit(json!({ "building": "B00", "households": 7 })),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(stored_visit(&pool, id, "B00").await, Some((7, None)));

    // In parts: doors at the start and at the end are both kept; a bad door at the end is
    // refused with the field and leaves the patrol unended.
    let id = Uuid::new_v4();
    let base = format!("/api/patrols/{id}");
    let head = json!({ "grids": [grid], "started_at": w[0].2.to_rfc3339(),
                       "households": [{ "building": "B00", "doors": ["1-101"] }] });
    let (st, _, v) = put(&p, Method::PUT, &base, &head).await;
    assert_eq!(st, 201, "{v}");
    let chunk = json!({ "id": Uuid::new_v4(), "points": points(&w) });
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/chunks/0"), &chunk).await;
    assert_eq!(st, 201, "{v}");
    let ended = (w[w.len() - 1].2 + Duration::seconds(5)).to_rfc3339();
    let bad = json!({ "ended_at": ended, "chunks": 1,
                      "households": [{ "building": "B00", "doors": ["1-102", "3-301"] }] });
    let (st, _, e) = put(&p, Method::PUT, &format!("{base}/end"), &bad).await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("households[0].doors[1]")),
        "{e}"
    );
    let (_, v) = p.get(&base).await;
    assert_eq!(
        (v["complete"].as_bool(), v["ended_at"].is_null()),
        (Some(false), true),
        "{v}"
    );
    let end = json!({ "ended_at": ended, "chunks": 1,
                      "households": [{ "building": "B00", "households": 1, "doors": ["1-102"] }] });
    let (st, _, v) = put(&p, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    let (n, doors) = stored_visit(&pool, id, "B00").await.expect("stored");
    assert_eq!(
        (n, doors),
        (2, Some(vec!["1-101".to_string(), "1-102".to_string()]))
    );
}
