//! A patrol, a grid chief and a planner firing their heaviest allowed requests at once
//! (bodies at the size limit, large geometries, party previews and reports, coverage,
//! exports) cannot make another caller wait more than 1 s, nor grow the process past the
//! memory bound the README documents. The server runs in this test's process, so the
//! memory measured is the process's peak (`VmHWM`, reset before the storm) over its
//! resident size before it: the server's and the test clients' together.

mod common;
#[path = "robustness/corpus.rs"]
mod corpus;

use common::*;
use corpus::Prober;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long the storm lasts.
const STORM: Duration = Duration::from_secs(20);
/// Concurrent request loops per role.
const LOOPS: usize = 3;
/// The bound on memory growth while the storm runs (README, Limits): two large-body
/// slots × (16 MiB of text + 2,097,152 parsed values × 64 B) = 288 MiB for the server,
/// with room for the test clients' buffers (measured: 163 to 209 MiB in all).
const MEMORY_BOUND: u64 = 512 * 1024 * 1024;

/// Resets the process's peak resident size (`VmHWM`) to its current size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Siting candidates as a flat list of `n` zeros: the JSON that expands most when parsed
/// (into a generic value: 32 bytes for each two bytes of text).
fn zeros_body(n: usize) -> axum::body::Bytes {
    let mut s = String::with_capacity(2 * n + 64);
    s.push_str("{\"kind\":\"party_mass_centre\",\"k\":1,\"candidates\":[0");
    for _ in 1..n {
        s.push_str(",0");
    }
    s.push_str("]}");
    axum::body::Bytes::from(s)
}

/// The boundary between C0101 and C0102 redrawn as a wave of `n` positions (both grids
/// of the batch, still a partition of C01): seconds of geometry work, valid.
fn wave_batch(n: usize) -> serde_json::Value {
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
        { "op": "update", "code": format!("{C}0101"), "version": 1,
          "feature": feature(json!({ "type": "Polygon", "coordinates": [s] }), json!({})) },
        { "op": "update", "code": format!("{C}0102"), "version": 1,
          "feature": feature(json!({ "type": "Polygon", "coordinates": [n_ring] }), json!({})) },
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_privilege_accounts_cannot_stall_others_nor_exceed_the_memory_bound() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let patrol = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let planner = s.sign_in("planner").await;
    let viewer = s.sign_in("viewer").await;
    let trip = uuid::Uuid::new_v4();
    let started = (chrono::Utc::now() - chrono::Duration::minutes(40)).to_rfc3339();
    let (st, _, body) = patrol
        .send(
            Method::PUT,
            &format!("/api/patrols/{trip}"),
            Some(&json!({ "grids": [format!("{C}0101")], "started_at": started })),
            None,
        )
        .await;
    assert_eq!(st, 201, "{body}");

    // Every role's heaviest requests, bodies built before the storm.
    let mb = 1024 * 1024;
    let limit = s.state.config.body_limit;
    // At the most values a body may hold (one per 8 bytes of the limit), and past it.
    let zeros = zeros_body(limit / wangge::http::extract::BYTES_PER_VALUE - 100);
    let too_many = zeros_body(limit / 2 - 100);
    let points = corpus::huge_points(limit - 1024, &uuid::Uuid::new_v4().to_string(), "}");
    let wave = axum::body::Bytes::from(serde_json::to_vec(&wave_batch(45_000)).expect("body"));
    let ring = axum::body::Bytes::from(format!(
        "{{\"changes\":[{{\"op\":\"update\",\"code\":\"{C}0101\",\"version\":1,\"feature\":{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":{}}},\"properties\":{{}}}}}}]}}",
        corpus::int_ring_text(1_500_000)
    ));
    assert!(ring.len() < limit, "{} bytes", ring.len());
    let over = axum::body::Bytes::from(vec![b' '; limit + mb]);
    use corpus::Who;
    let mut work: Vec<(Client, Vec<corpus::Case>)> = vec![];
    let case = |who, m: Method, p: String| corpus::Case::new("heavy", who, m, p);
    let chunks = format!("/api/patrols/{trip}/chunks/1");
    work.push((
        patrol.clone(),
        vec![
            case(Who::Patrol, Method::PUT, chunks.clone()).body(points.clone()),
            case(Who::Patrol, Method::PUT, chunks.clone()).body(over.clone()),
            case(Who::Patrol, Method::GET, "/api/compliance/export".into()),
            case(Who::Patrol, Method::GET, "/api/patrols?limit=1000".into()),
        ],
    ));
    work.push((
        chief.clone(),
        vec![
            case(Who::Chief, Method::POST, "/api/party/preview".into()).body(wave.clone()),
            case(Who::Chief, Method::POST, "/api/party/preview".into()).body(ring.clone()),
            case(Who::Chief, Method::POST, "/api/coverage/siting".into()).body(zeros.clone()),
            case(Who::Chief, Method::POST, "/api/coverage/siting".into()).body(too_many.clone()),
            case(Who::Chief, Method::GET, "/api/party/findings".into()),
            case(Who::Chief, Method::GET, "/api/party/report".into()),
            case(Who::Chief, Method::GET, "/api/coverage".into()),
            case(Who::Chief, Method::GET, "/api/compliance/export".into()),
        ],
    ));
    work.push((
        planner.clone(),
        vec![
            case(Who::Planner, Method::POST, "/api/coverage/siting".into()).body(zeros.clone()),
            case(Who::Planner, Method::POST, "/api/party/preview".into()).body(wave.clone()),
            case(Who::Planner, Method::POST, "/api/coverage/siting".into())
                .json(&json!({ "kind": "party_mass_centre", "k": 50, "candidates": "nodes" })),
            case(Who::Planner, Method::GET, "/api/coverage/report".into()),
            case(Who::Planner, Method::GET, "/api/party/report".into()),
            case(Who::Planner, Method::POST, "/api/coverage/scenario".into()).json(&json!({
                "changes": vec![json!({ "op": "add", "kind": "party_mass_centre", "name": "x", "lon": 105.705, "lat": 32.4025 }); 200],
                "kind": "party_mass_centre" })),
        ],
    ));

    reset_peak();
    let rss_before = corpus::rss();
    let prober = Prober::start(&viewer, Duration::from_millis(20));
    let t = Instant::now();
    let mut loops = vec![];
    for (client, cases) in &work {
        for k in 0..LOOPS {
            let (client, cases) = (client.clone(), cases.clone());
            loops.push(tokio::spawn(async move {
                let mut answers: Vec<(String, u16, String, Duration)> = vec![];
                let mut i = k;
                while t.elapsed() < STORM {
                    let c = &cases[i % cases.len()];
                    let a = corpus::send(&client, c).await;
                    answers.push((
                        format!("{:?} {} {}", c.who, c.method, c.path),
                        a.status,
                        a.body["error"].as_str().unwrap_or("").to_string(),
                        a.took,
                    ));
                    i += 1;
                }
                answers
            }));
        }
    }
    let mut answers = vec![];
    for l in loops {
        answers.extend(l.await.expect("a request loop"));
    }
    let (locate, health) = prober.finish().await;
    let peak = corpus::peak_rss();
    let growth = peak.saturating_sub(rss_before);

    let mut by_kind: std::collections::BTreeMap<(String, u16, String), (usize, Duration)> =
        Default::default();
    for (what, st, code, took) in &answers {
        let e = by_kind
            .entry((what.clone(), *st, code.clone()))
            .or_default();
        e.0 += 1;
        e.1 = e.1.max(*took);
    }
    for ((what, st, code), (n, worst)) in &by_kind {
        eprintln!("{what}: {st} {code} ×{n}, slowest {worst:?}");
    }
    eprintln!("locate during: {}", locate.summary());
    eprintln!("health during: {}", health.summary());
    eprintln!(
        "memory: {} MiB resident before, peak {} MiB, growth {} MiB (bound {} MiB)",
        rss_before / mb as u64,
        peak / mb as u64,
        growth / mb as u64,
        MEMORY_BOUND / mb as u64
    );
    for (what, st, code, _) in &answers {
        let shed = *st == 503 && (code == "busy" || code == "too_slow");
        assert!(*st < 500 || shed, "{what}: {st} {code}");
    }
    assert!(answers.len() >= 20, "{} requests", answers.len());
    assert!(locate.0.len() >= 50, "{}", locate.summary());
    assert!(
        locate.1.is_empty() && health.1.is_empty(),
        "{} {}",
        locate.summary(),
        health.summary()
    );
    assert!(
        locate.max() < Duration::from_secs(1),
        "locate: {}",
        locate.summary()
    );
    assert!(
        health.max() < Duration::from_secs(1),
        "health: {}",
        health.summary()
    );
    assert!(
        growth < MEMORY_BOUND,
        "grew {} MiB, past the bound of {} MiB",
        growth / mb as u64,
        MEMORY_BOUND / mb as u64
    );
}
