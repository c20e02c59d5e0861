//! No input a client can send produces a 500 or a panic: every route is called with
//! malformed path parameters, query strings and bodies, as an admin (who passes every
//! gate), and every answer must be a JSON 4xx (or a success). Then the standing hostile
//! corpus (`the_hostile_corpus`): malformed and huge JSON, pathological geometries, counts
//! at and past their limits, and crowds of the same request, as every role; each case
//! answers in time, changes nothing, and `GET /api/locate` stays fast meanwhile.

mod common;
#[path = "robustness/corpus.rs"]
mod corpus;

use common::*;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PARAMS: [&str; 9] = [
    "x",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "99999999999999999999999",
    "-1",
    "网格",
    "%F0%9F%92%A9",
    "a.json",
    "1e309",
];

const QUERIES: [&str; 10] = [
    "",
    "?lon=NaN&lat=NaN",
    "?lon=1e309&lat=-1e309",
    "?bbox=1,2,3,4,5",
    "?bbox=%FF%FE",
    "?level=3",
    "?at=2024-13-45",
    "?kind=%00",
    "?limit=-5&after=abc",
    "?lon=105.7&lat=32.4&at=9999-12-31T23:59:59Z",
];

fn bodies(rng: &mut impl Rng) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "",
        "null",
        "[]",
        "{}",
        "\"text\"",
        "{\"type\":\"Feature\"}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[]},\"properties\":{}}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1e308,1e308],[-1e308,1e308],[0,0],[1e308,1e308]]]},\"properties\":{\"level\":2,\"code\":\"x\",\"name\":\"y\",\"parent_code\":\"z\"}}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1]},\"properties\":{\"kind\":\"park\",\"name\":\"p\"}}",
        "{\"changes\":[{\"op\":\"update\",\"code\":\"510802102001\",\"version\":-1,\"feature\":{\"type\":\"Feature\",\"geometry\":null,\"properties\":{}}}]}",
        "{\"changes\":[{\"op\":\"create\"},{\"op\":\"delete\",\"code\":\"\",\"version\":2147483647}]}",
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":{\"type\":\"GeometryCollection\",\"geometries\":[]},\"properties\":{\"code\":1}}]}",
        "{\"username\":\"\",\"password\":\"\",\"role\":\"root\",\"scope\":{\"kind\":\"galaxy\"}}",
        "{\"name\":\"\",\"building_code\":\"nope\",\"membership\":\"maybe\",\"birth_year\":99999}",
        "{\"chief\":{\"code\":\"\"},\"members\":[{\"code\":\"a\"},{\"code\":\"a\"}]}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // Deep nesting and random bytes.
    v.push(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes());
    for _ in 0..4 {
        let n = rng.gen_range(1..4_000);
        v.push((0..n).map(|_| rng.gen::<u8>()).collect());
    }
    v
}

fn fill(route: &str, p: &str) -> String {
    let mut out = String::new();
    let mut in_brace = false;
    for ch in route.chars() {
        match ch {
            '{' => {
                in_brace = true;
                out.push_str(p);
            }
            '}' => in_brace = false,
            c if !in_brace => out.push(c),
            _ => {}
        }
    }
    out
}

/// The tests of this file time what they do: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn no_input_gives_a_500() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let bodies = bodies(&mut rng);
    let mut calls = 0;
    for (method, route, _) in wangge::http::api().rules() {
        if route == "/api/auth/logout" {
            continue;
        }
        let method = Method::from_bytes(method.as_str().as_bytes()).expect("method");
        let mut targets: Vec<String> = PARAMS.iter().map(|p| fill(&route, p)).collect();
        targets.dedup();
        for target in targets {
            // Writes get every body but only two query strings; reads every query string.
            let queries: &[&str] = if method == Method::GET {
                &QUERIES
            } else {
                &QUERIES[..2]
            };
            for q in queries {
                let path = format!("{target}{q}");
                let with_body = method != Method::GET;
                let list: Vec<Option<&Vec<u8>>> = if with_body {
                    bodies.iter().map(Some).collect()
                } else {
                    vec![None]
                };
                for body in list {
                    let mut req = s.raw(method.clone(), &path);
                    if let Some(b) = body {
                        req = req
                            .header("content-type", "application/json")
                            .body(b.clone());
                    }
                    req = req.header("If-Match", "\"zz\"");
                    let r = req.send().await.expect("request");
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    calls += 1;
                    assert!(
                        status < 500,
                        "{method} {path} with body {:?} gave {status}: {text}",
                        body.map(|b| String::from_utf8_lossy(&b[..b.len().min(120)]).to_string())
                    );
                    if status >= 400 {
                        let v: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
                        assert!(
                            v["error"].is_string() && v["message"].is_string(),
                            "{method} {path}: {v}"
                        );
                    }
                }
            }
        }
    }
    assert!(calls > 1_000, "{calls} calls");
    // The server still works afterwards.
    let (st, _) = s.get("/api/grids").await;
    assert_eq!(st, 200);
}

// ---- the hostile corpus -----------------------------------------------------------------

use corpus::{Case, Expect, Who, EVERYONE};

/// Time within which any one case must be answered (a debug build on two shared cores:
/// 15 MiB of patrol points take about 10 s to parse there, their times read by this
/// crate's unoptimised code; well under 1 s in a release build).
const CASE_BOUND: Duration = Duration::from_secs(20);
/// Time within which each of a crowd of 32 must be answered (they queue for the slots).
const CROWD_BOUND: Duration = Duration::from_secs(30);
/// How many times a crowd sends its request at once.
const CROWD: usize = 32;

fn grid(suffix: &str) -> String {
    format!("{C}{suffix}")
}

/// A path parameter that names something real where it can (so that the body, not the
/// lookup, is what gets refused).
fn param(route: &str, name: &str, patrol: &str) -> String {
    match name {
        "code" if route.starts_with("/api/grids") => grid("0101"),
        "code" if route.starts_with("/api/people") => "P1".into(),
        "code" if route.starts_with("/api/stations") => "S1".into(),
        "code" => "Q1".into(),
        "id" if route.starts_with("/api/patrols") => patrol.into(),
        "id" | "photo" => uuid::Uuid::new_v4().to_string(),
        "seq" => "0".into(),
        "layer" => "grids".into(),
        "username" => "viewer".into(),
        "person" => "P1".into(),
        "year" => "2026".into(),
        other => other.into(),
    }
}

/// A path parameter that names nothing (for deletions, which take no body and would
/// otherwise delete).
fn absent(route: &str, name: &str, patrol: &str) -> String {
    match name {
        "code" if route.starts_with("/api/grids") => grid("0199"),
        "code" | "person" => "Q9".into(),
        _ => param(route, name, patrol),
    }
}

fn concrete(route: &str, patrol: &str) -> String {
    fill_params(route, patrol, param)
}

fn fill_params(route: &str, patrol: &str, param: fn(&str, &str, &str) -> String) -> String {
    let mut out = String::new();
    let mut name = String::new();
    let mut inside = false;
    for ch in route.chars() {
        match ch {
            '{' => inside = true,
            '}' => {
                inside = false;
                out.push_str(&param(route, &name, patrol));
                name.clear();
            }
            c if inside => name.push(c),
            c => out.push(c),
        }
    }
    out
}

fn feature_text(coordinates: &str, properties: &str) -> String {
    format!("{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":{coordinates}}},\"properties\":{properties}}}")
}

/// Every case of the corpus. `patrol` is a patrol of the `patrol` account, open.
fn corpus_cases(patrol: &str) -> Vec<Case> {
    use Method as M;
    let mut cases = vec![];
    let routes = wangge::http::api().rules();

    // 1. Malformed JSON to every route that takes a body, as every role.
    for (method, route, _) in &routes {
        if *method == M::GET || route == "/api/auth/logout" {
            continue;
        }
        let method = M::from_bytes(method.as_str().as_bytes()).expect("method");
        let path = if method == M::DELETE {
            fill_params(route, patrol, absent)
        } else {
            concrete(route, patrol)
        };
        // Routes that write nothing, or take no body, may answer a body whose only
        // fields are unknown ones (serde_json skips those without checking them).
        let lenient = [
            "/api/coverage/scenario",
            "/api/coverage/siting",
            "/api/party/preview",
            "/api/party/reassign",
        ]
        .contains(&route.as_str());
        for (name, body) in corpus::malformed_bodies() {
            for who in EVERYONE {
                let mut c = Case::new(format!("malformed: {name}"), who, method.clone(), &path)
                    .body(body.clone());
                if lenient {
                    c = c.expect(Expect::Either);
                }
                cases.push(c);
            }
        }
    }

    // 2. Pathological geometries on every route that takes one.
    let stale = "\"999\"";
    for (name, shape) in corpus::bad_shapes() {
        let f = feature_text(&shape, "{\"name\":\"x\"}");
        let create = feature_text(
            &shape,
            &format!(
                "{{\"code\":\"{}\",\"name\":\"x\",\"level\":2,\"parent_code\":\"{}\"}}",
                grid("0109"),
                grid("01")
            ),
        );
        let batch = format!("{{\"changes\":[{{\"op\":\"update\",\"code\":\"{}\",\"version\":999,\"feature\":{f}}}]}}", grid("0101"));
        let preview = format!(
            "{{\"changes\":[{{\"op\":\"update\",\"code\":\"{}\",\"version\":1,\"feature\":{f}}}]}}",
            grid("0101")
        );
        let import = format!("{{\"type\":\"FeatureCollection\",\"features\":[{create}]}}");
        let n = format!("geometry: {name}");
        cases.push(
            Case::new(
                &n,
                Who::Admin,
                M::PUT,
                format!("/api/grids/{}", grid("0101")),
            )
            .body(f.clone())
            .if_match(stale),
        );
        cases.push(Case::new(&n, Who::Admin, M::POST, "/api/grids").body(create.clone()));
        cases.push(Case::new(&n, Who::Admin, M::POST, "/api/grids/batch").body(batch));
        cases.push(Case::new(&n, Who::Admin, M::POST, "/api/import/grids").body(import));
        for who in [Who::Chief, Who::Planner] {
            cases.push(Case::new(&n, who, M::POST, "/api/party/preview").body(preview.clone()));
        }
        // Roles that may not edit boundaries are refused whatever the shape.
        cases.push(
            Case::new(
                &n,
                Who::Patrol,
                M::PUT,
                format!("/api/grids/{}", grid("0101")),
            )
            .body(f)
            .expect(Expect::Status(403)),
        );
    }
    // Points: stations (planner) and patrol tracks (patrol).
    for (name, point) in [
        ("NaN as a string", "[\"NaN\",32.40]"),
        ("Infinity as a bare word", "[Infinity,32.40]"),
        ("1e400", "[1e400,32.40]"),
        ("empty", "[]"),
        ("one number", "[105.7]"),
        ("off the earth", "[200,100]"),
        ("a string", "\"105.7,32.4\""),
        (
            "nested 10^5 deep",
            &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
    ] {
        let station = format!("{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Point\",\"coordinates\":{point}}},\"properties\":{{\"name\":\"x\",\"kind\":\"party_mass_centre\",\"community_code\":\"{C}\"}}}}");
        cases.push(
            Case::new(
                format!("point: {name}"),
                Who::Planner,
                M::PUT,
                "/api/stations/S9",
            )
            .body(station),
        );
        let lonlat = point.trim_start_matches('[').trim_end_matches(']');
        let (lon, lat) = lonlat.split_once(',').unwrap_or((lonlat, "32.4"));
        let lon = if lon.is_empty() { "null" } else { lon };
        let chunk = format!("{{\"id\":\"{}\",\"points\":[{{\"lon\":{lon},\"lat\":{lat},\"t\":\"2026-01-01T00:00:00Z\"}}]}}", uuid::Uuid::new_v4());
        cases.push(
            Case::new(
                format!("track point: {name}"),
                Who::Patrol,
                M::PUT,
                format!("/api/patrols/{patrol}/chunks/0"),
            )
            .body(chunk),
        );
    }
    // A valid ring at the cap of 50,000 positions: previewed, nothing written.
    let at_cap = corpus::circle(49_999, 105.705, 32.4025);
    let preview = json!({ "changes": [{ "op": "update", "code": grid("0101"), "version": 1,
        "feature": feature(json!({ "type": "Polygon", "coordinates": [at_cap] }), json!({})) }] });
    cases.push(
        Case::new(
            "geometry: a valid ring of 50,000 positions",
            Who::Chief,
            M::POST,
            "/api/party/preview",
        )
        .json(&preview)
        .expect(Expect::Either),
    );

    // 3. Wrong types at every level of valid bodies.
    let templates = [
        (
            Who::Admin,
            M::PUT,
            format!("/api/grids/{}", grid("0101")),
            Some(stale),
            feature(rect(105.70, 32.40, 105.71, 32.405), json!({ "name": "x" })),
        ),
        (
            Who::Chief,
            M::POST,
            "/api/party/preview".to_string(),
            None,
            json!({ "changes": [{ "op": "update", "code": grid("0101"), "version": 1,
                  "feature": feature(rect(105.70, 32.40, 105.71, 32.405), json!({ "name": "x" })) }] }),
        ),
        (
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{}/end", uuid::Uuid::new_v4()),
            None,
            json!({ "ended_at": "2026-01-01T00:00:00Z", "chunks": 2,
                 "households": [{ "building": "B00", "households": 1 }], "notes": "n" }),
        ),
        (
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{}/chunks/0", uuid::Uuid::new_v4()),
            None,
            json!({ "id": uuid::Uuid::new_v4(), "crs": "wgs84",
                 "points": [{ "lon": 105.705, "lat": 32.4025, "t": "2026-01-01T00:00:00Z", "accuracy_m": 5 }] }),
        ),
        (
            Who::Planner,
            M::POST,
            "/api/coverage/scenario".to_string(),
            None,
            json!({ "changes": [{ "op": "add", "kind": "party_mass_centre", "name": "x", "lon": 105.705, "lat": 32.4025 }],
                 "kind": "party_mass_centre", "minutes": 10, "speed": 1.2 }),
        ),
        (
            Who::Chief,
            M::PUT,
            "/api/people/P4".to_string(),
            None,
            json!({ "name": "x", "building_code": "B2", "sex": "M", "birth_year": 1970, "membership": "full" }),
        ),
    ];
    for (who, method, path, if_match, template) in templates {
        for (at, body) in corpus::wrong_types(&template) {
            let mut c =
                Case::new(format!("wrong type at {at}"), who, method.clone(), &path).json(&body);
            if let Some(m) = if_match {
                c = c.if_match(m);
            }
            // A preview or scenario of a still-valid body is answered (it writes nothing).
            if path.contains("preview") || path.contains("scenario") {
                c = c.expect(Expect::Either);
            }
            cases.push(c);
        }
    }

    // 4. Counts a client chooses, at their limits (answered) and past them (refused).
    let reads = [
        (Who::Chief, "/api/patrols?limit=1000", true),
        (Who::Chief, "/api/patrols?limit=1001", false),
        (Who::Chief, "/api/patrols?limit=0", false),
        (Who::Chief, "/api/patrols?limit=-1", false),
        (Who::Chief, "/api/patrols?limit=99999999999999999999", false),
        (Who::Chief, "/api/patrols?limit=abc", false),
        (Who::Chief, "/api/incidents?limit=10000", true),
        (Who::Chief, "/api/incidents?limit=10001", false),
        (Who::Patrol, "/api/incidents?limit=1e9", false),
        (Who::Admin, "/api/audit?limit=1000", true),
        (Who::Admin, "/api/audit?limit=1001", false),
        (Who::Planner, "/api/search?q=a&limit=4294967296000", true),
        (
            Who::Planner,
            "/api/grids?bbox=-1e308,-1e308,1e308,1e308",
            true,
        ),
        (Who::Chief, "/api/patrols?limit=1000&after=zzz", true),
    ];
    for (who, path, valid) in reads {
        // Some bounds clamp rather than refuse (search's limit); unknown parameters are
        // ignored.
        let e = match (
            valid,
            path.contains("bbox") || path.contains("search") || path.contains("after"),
        ) {
            (_, true) => Expect::Either,
            (true, _) => Expect::Status(200),
            _ => Expect::Refused,
        };
        cases.push(Case::new(format!("count: GET {path}"), who, M::GET, path).expect(e));
    }
    let end =
        |chunks: &str| format!("{{\"ended_at\":\"2026-01-01T00:00:00Z\",\"chunks\":{chunks}}}");
    for chunks in ["10001", "2147483647", "2147483648", "-1", "1e10"] {
        cases.push(
            Case::new(
                format!("count: chunks {chunks}"),
                Who::Patrol,
                M::PUT,
                format!("/api/patrols/{patrol}/end"),
            )
            .body(end(chunks)),
        );
    }
    for seq in ["10000", "-1", "99999999999", "1.5"] {
        let chunk = json!({ "id": uuid::Uuid::new_v4(), "points": [{ "lon": 105.705, "lat": 32.4025, "t": "2026-01-01T00:00:00Z" }] });
        cases.push(
            Case::new(
                format!("count: chunk {seq}"),
                Who::Patrol,
                M::PUT,
                format!("/api/patrols/{patrol}/chunks/{seq}"),
            )
            .json(&chunk),
        );
    }
    let point = json!({ "lon": 105.705, "lat": 32.4025, "t": "2026-01-01T00:00:00Z" });
    cases.push(
        Case::new(
            "count: 5,001 points in a chunk",
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        )
        .json(&json!({ "id": uuid::Uuid::new_v4(), "points": vec![point.clone(); 5_001] }))
        .expect(Expect::Code("invalid")),
    );
    let visit = json!({ "building": "B00", "households": 1 });
    cases.push(Case::new("count: 100,000 visits", Who::Patrol, M::PUT, format!("/api/patrols/{patrol}/end"))
        .json(&json!({ "ended_at": "2026-01-01T00:00:00Z", "chunks": 1, "households": vec![visit; 100_000] })));
    let del = json!({ "op": "delete", "code": "510802102001099", "version": 1 });
    cases.push(
        Case::new(
            "count: 10,001 changes in a batch",
            Who::Admin,
            M::POST,
            "/api/grids/batch",
        )
        .json(&json!({ "changes": vec![del.clone(); 10_001] })),
    );
    cases.push(
        Case::new(
            "count: 10,001 changes in a preview",
            Who::Chief,
            M::POST,
            "/api/party/preview",
        )
        .json(&json!({ "changes": vec![del; 10_001] })),
    );
    let add = json!({ "op": "add", "kind": "party_mass_centre", "name": "x", "lon": 105.705, "lat": 32.4025 });
    cases.push(
        Case::new(
            "count: 201 changes in a scenario",
            Who::Planner,
            M::POST,
            "/api/coverage/scenario",
        )
        .json(&json!({ "changes": vec![add; 201], "kind": "party_mass_centre" })),
    );
    cases.push(
        Case::new(
            "count: siting k = 51",
            Who::Planner,
            M::POST,
            "/api/coverage/siting",
        )
        .json(&json!({ "kind": "party_mass_centre", "k": 51 })),
    );
    cases.push(Case::new("count: 5,001 candidate sites", Who::Planner, M::POST, "/api/coverage/siting")
        .json(&json!({ "kind": "party_mass_centre", "k": 1, "candidates": vec![[105.705, 32.4025]; 5_001] })));

    // 5. Huge bodies: 15 MiB of points (valid JSON, far past the count), the same with
    // trailing garbage, a 15 MiB name, and 20 MiB bodies past the route's limit.
    let mb = 1024 * 1024;
    let id = uuid::Uuid::new_v4().to_string();
    let points = corpus::huge_points(15 * mb, &id, "}");
    cases.push(
        Case::new(
            "huge: 15 MiB of points",
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        )
        .body(points.clone())
        .expect(Expect::Code("invalid")),
    );
    cases.push(
        Case::new(
            "huge: 15 MiB of points, then garbage",
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        )
        .body(corpus::huge_points(15 * mb, &id, "}}}x"))
        .expect(Expect::Status(400)),
    );
    let name = "名".repeat(5 * mb);
    cases.push(
        Case::new("huge: a 15 MiB name", Who::Chief, M::PUT, "/api/people/P1")
            .json(&json!({ "name": name, "building_code": "B00", "membership": "full" })),
    );
    cases.push(
        Case::new(
            "huge: a 15 MiB grid name",
            Who::Admin,
            M::PUT,
            format!("/api/grids/{}", grid("0101")),
        )
        .json(&json!({ "type": "Feature", "geometry": null, "properties": { "name": name } }))
        .if_match(stale),
    );
    let over = axum::body::Bytes::from(vec![b'['; 20 * mb]);
    for (who, method, path) in [
        (
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        ),
        (Who::Admin, M::POST, "/api/grids/batch".into()),
        (Who::Chief, M::POST, "/api/party/preview".into()),
        (Who::Planner, M::POST, "/api/coverage/siting".into()),
    ] {
        cases.push(
            Case::new("huge: 20 MiB, past the limit", who, method, path)
                .body(over.clone())
                .expect(Expect::Code("too_large")),
        );
    }
    // A 21 MB import (past the ordinary limit, within the import limit) of 2.7 × 10^6
    // positions, 45,000 a geometry: past the positions one request may hold.
    let ring = corpus::int_ring_text(45_000);
    let features: Vec<String> = (0..60)
        .map(|i| {
            feature_text(
                &ring,
                &format!(
                    "{{\"code\":\"X{i}\",\"name\":\"x\",\"level\":2,\"parent_code\":\"{}\"}}",
                    grid("01")
                ),
            )
        })
        .collect();
    cases.push(
        Case::new(
            "huge: an import of 2.7 × 10^6 positions",
            Who::Admin,
            M::POST,
            "/api/import/grids",
        )
        .body(format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
            features.join(",")
        ))
        .expect(Expect::Code("too_many_vertices")),
    );

    // 6. Crowds: the same hostile request 32 times at once.
    let crowd = [
        Case::new(
            "crowd: 15 MiB of points",
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        )
        .body(points)
        .expect(Expect::Code("invalid")),
        Case::new(
            "crowd: 20 MiB, past the limit",
            Who::Patrol,
            M::PUT,
            format!("/api/patrols/{patrol}/chunks/0"),
        )
        .body(over)
        .expect(Expect::Code("too_large")),
        Case::new(
            "crowd: a ring of 10^6 positions",
            Who::Chief,
            M::POST,
            "/api/party/preview",
        )
        .body(format!(
            "{{\"changes\":[{{\"op\":\"update\",\"code\":\"{}\",\"version\":1,\"feature\":{}}}]}}",
            grid("0101"),
            feature_text(&corpus::int_ring_text(1_000_000), "{}")
        )),
        Case::new(
            "crowd: a bowtie",
            Who::Planner,
            M::POST,
            "/api/party/preview",
        )
        .body(format!(
            "{{\"changes\":[{{\"op\":\"update\",\"code\":\"{}\",\"version\":1,\"feature\":{}}}]}}",
            grid("0101"),
            feature_text(
                "[[[105.70,32.40],[105.71,32.405],[105.71,32.40],[105.70,32.405],[105.70,32.40]]]",
                "{}"
            )
        )),
        Case::new(
            "crowd: arrays 10^5 deep",
            Who::Planner,
            M::POST,
            "/api/coverage/scenario",
        )
        .body(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
        Case::new(
            "crowd: limit past its bound",
            Who::Chief,
            M::GET,
            "/api/patrols?limit=1001",
        ),
    ];
    cases.extend(crowd.into_iter().map(|c| c.times(CROWD)));
    cases
}

/// Runs one case (`times` copies at once) and checks every answer; gives the slowest, and
/// what was wrong.
async fn run_case(clients: &[(Who, Client)], case: &Case) -> (Duration, Vec<String>) {
    let c = clients
        .iter()
        .find(|(w, _)| *w == case.who)
        .map(|(_, c)| c.clone())
        .expect("a client for every role");
    let crowd = case.times > 1;
    let answers: Vec<corpus::Answer> = if crowd {
        let tasks: Vec<_> = (0..case.times)
            .map(|_| {
                let (c, case) = (c.clone(), case.clone());
                tokio::spawn(async move { corpus::send(&c, &case).await })
            })
            .collect();
        let mut v = vec![];
        for t in tasks {
            v.push(t.await.expect("a crowd member"));
        }
        v
    } else {
        vec![corpus::send(&c, case).await]
    };
    let bound = if crowd { CROWD_BOUND } else { CASE_BOUND };
    let mut slowest = Duration::ZERO;
    let mut wrong = vec![];
    for a in &answers {
        if let Err(e) = corpus::judge(case, a, crowd) {
            wrong.push(e);
        }
        if a.took >= bound {
            wrong.push(format!(
                "{} ({:?} {} {}) took {:?}",
                case.name, case.who, case.method, case.path, a.took
            ));
        }
        slowest = slowest.max(a.took);
    }
    if crowd {
        let busy = answers.iter().filter(|a| a.status == 503).count();
        eprintln!("{}: {busy} of {} shed as busy", case.name, case.times);
        if busy == case.times {
            wrong.push(format!("{}: every answer was busy", case.name));
        }
    }
    wrong.dedup();
    (slowest, wrong)
}

/// The standing hostile corpus. Every case, as the role it names: a JSON 4xx (or a
/// success where the input is valid and the route writes nothing) within its time bound,
/// the database's content unchanged, and `GET /api/locate` fast throughout: p95 under
/// 50 ms and max under 1 s while the corpus runs, p95 under 50 ms after it (a strict
/// 50 ms max is not kept by a debug build on two shared cores: see README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_corpus() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let pool = db.pool().await;
    let mut clients = vec![(Who::Admin, s.client.clone())];
    for (who, name) in [
        (Who::Planner, "planner"),
        (Who::Chief, "chief"),
        (Who::Patrol, "patrol"),
    ] {
        clients.push((who, s.sign_in(name).await));
    }
    let viewer = s.sign_in("viewer").await;
    // An open patrol of the patrol account, for the routes that need one.
    let patrol = uuid::Uuid::new_v4().to_string();
    let started = (chrono::Utc::now() - chrono::Duration::minutes(40)).to_rfc3339();
    let (st, _, body) = clients[3]
        .1
        .send(
            Method::PUT,
            &format!("/api/patrols/{patrol}"),
            Some(&serde_json::json!({ "grids": [grid("0101")], "started_at": started })),
            None,
        )
        .await;
    assert_eq!(st, 201, "{body}");

    let built = Instant::now();
    let cases = corpus_cases(&patrol);
    eprintln!("{} cases built in {:?}", cases.len(), built.elapsed());
    let mut before = corpus::snapshot(&pool).await;
    let mut wrong: Vec<String> = vec![];
    let prober = corpus::Prober::start(&viewer, Duration::from_millis(10));
    let started = Instant::now();
    let mut slowest: (Duration, String) = (Duration::ZERO, String::new());
    let mut requests = 0;
    for (i, case) in cases.iter().enumerate() {
        let (took, w) = run_case(&clients, case).await;
        wrong.extend(w);
        requests += case.times;
        if took > slowest.0 {
            slowest = (
                took,
                format!(
                    "{} ({:?} {} {})",
                    case.name, case.who, case.method, case.path
                ),
            );
        }
        // Nothing changed: after every case that is not one of the many small malformed
        // bodies, and after every hundredth of those.
        if !case.name.starts_with("malformed") || i % 100 == 0 {
            let now = corpus::snapshot(&pool).await;
            let diff = corpus::changed(&before, &now);
            if !diff.is_empty() {
                wrong.push(format!(
                    "{} ({:?} {} {}) changed {diff:?}",
                    case.name, case.who, case.method, case.path
                ));
                before = now;
            }
        }
    }
    let during = started.elapsed();
    let (locate, health) = prober.finish().await;
    let after_all = corpus::snapshot(&pool).await;
    assert!(corpus::changed(&before, &after_all).is_empty());
    assert!(
        wrong.is_empty(),
        "{} wrong answers or changes; the first:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // After: a quiet server answers locate as fast as ever.
    let mut after = corpus::Latencies::default();
    for _ in 0..50 {
        let t = Instant::now();
        let (st, _) = viewer.get(corpus::LOCATE).await;
        after.0.push(t.elapsed());
        assert_eq!(st, 200);
    }
    eprintln!(
        "corpus: {} cases, {requests} requests in {during:?}; slowest answer {:?}: {}",
        cases.len(),
        slowest.0,
        slowest.1
    );
    eprintln!("locate during: {}", locate.summary());
    eprintln!("health during: {}", health.summary());
    eprintln!("locate after: {}", after.summary());
    assert!(
        locate.0.len() >= 100,
        "the prober ran: {}",
        locate.summary()
    );
    assert!(
        locate.1.is_empty() && health.1.is_empty(),
        "{} {}",
        locate.summary(),
        health.summary()
    );
    assert!(
        locate.max() < Duration::from_secs(1),
        "locate during: {}",
        locate.summary()
    );
    assert!(
        locate.quantile(0.95) < Duration::from_millis(50),
        "locate during: {}",
        locate.summary()
    );
    assert!(
        health.max() < Duration::from_secs(1),
        "health during: {}",
        health.summary()
    );
    assert!(
        after.quantile(0.95) < Duration::from_millis(50),
        "locate after: {}",
        after.summary()
    );
}
