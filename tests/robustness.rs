//! No input a client can send produces a 500 or a panic: every route is called with
//! malformed path parameters, query strings and bodies, as an admin (who passes every
//! gate), and every answer must be a JSON 4xx (or a success).

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::Value;

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

#[tokio::test]
async fn no_input_gives_a_500() {
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
