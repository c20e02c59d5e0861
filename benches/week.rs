//! A whole walked week at city scale: every second-level grid patrolled once, then the
//! weekly compliance of the whole zone over HTTP against the release server, the first
//! request (which clips every walked grid's streets against its tracks) beside the later
//! ones (which reuse the kept figures), and PostGIS doing the same clipping in one query.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge cargo bench --bench week
//! # WANGGE_WEEK_SCALE=100  WANGGE_WEEK_RUNS=20  WANGGE_WEEK_PG=1 (0: leave PostGIS out)
//! # WANGGE_WEEK_SETTLE=30 (seconds the server works alone after the first report)
//! ```
//!
//! The demo district at `WANGGE_WEEK_SCALE` is generated and loaded once into
//! `wangge_bench_s{S}` (shared with the other benchmarks). Two accounts are added,
//! `wk_admin` (the zone's administrator) and `wk_patrol` (a patrol account of the zone).
//! The week is last ISO week (Asia/Shanghai). If the grids of that week have not all been
//! patrolled by `wk_patrol` yet, one patrol per second-level grid is uploaded as a phone
//! does with a whole track (`PUT /api/patrols/{id}`): a walk up and down the grid
//! (`wangge::demo::walks::rows_through`: rows 40 m apart, a fix every 15 m, 1.3 m/s) and
//! households visited in up to five of the grid's buildings. Then a fresh server is started and timed:
//!
//! - `GET /api/compliance?week=` for the whole zone: the first request, then `RUNS` more;
//! - `GET /api/compliance/summary?week=` and `/api/compliance/export?week=` (`RUNS` each);
//! - one more patrol in one grid, then the report again (one grid clipped anew).
//!
//! Every later answer of the report must equal the first byte for byte but for the new
//! patrol's grid. PostGIS's side: the streets inside each walked grid within the buffer of
//! its counted patrols' tracks, summed, in one query (`ST_Buffer` of the tracks as
//! geography, `ST_Intersection` with the streets clipped to the grid).

#[path = "support/demo_db.rs"]
mod demo_db;

use chrono::{Datelike, Duration as CDuration, FixedOffset, NaiveTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;
use wangge::demo::walks::rows_through;
use wangge::domain::access::{Role, ScopeKind};
use wangge::store::accounts::NewAccount;
use wangge::store::audit::Actor;
use wangge::store::Store;

const PASSWORD: &str = "week-bench-password-2026";

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn ensure_account(store: &Store, username: &str, role: Role, zone: &str) {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE username = $1)")
            .bind(username)
            .fetch_one(&store.pool)
            .await
            .expect("exists");
    if exists {
        return;
    }
    let hash = wangge::auth::hash_password(PASSWORD).expect("hash");
    let a = NewAccount {
        username: username.to_string(),
        display_name: username.to_string(),
        role,
        scope_kind: ScopeKind::Region,
        region_code: zone.to_string(),
        communities: vec![],
        grids: vec![],
        staff_code: None,
    };
    store
        .create_account(&a, &hash, &Actor::system("week bench"))
        .await
        .unwrap_or_else(|e| panic!("account {username}: {e}"));
}

async fn sign_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let v: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": user, "password": PASSWORD, "token": true }))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("sign-in answer");
    v["token"]
        .as_str()
        .unwrap_or_else(|| panic!("sign-in of {user}: {v}"))
        .to_string()
}

struct Grid {
    code: String,
    geom: geo::MultiPolygon<f64>,
    visits: Vec<(String, i32)>,
}

async fn grids(store: &Store) -> Vec<Grid> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT code, ST_AsGeoJSON(geom) FROM current_grids WHERE level = 2 ORDER BY code",
    )
    .fetch_all(&store.pool)
    .await
    .expect("grids");
    let visits: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT g, b, h FROM (SELECT g.code AS g, b.code AS b, b.households AS h, \
           row_number() OVER (PARTITION BY g.id ORDER BY b.code) AS n \
           FROM buildings b JOIN current_grids g ON g.id = b.grid_id WHERE b.households > 0) x \
         WHERE n <= 5",
    )
    .fetch_all(&store.pool)
    .await
    .expect("buildings");
    let mut by_grid: std::collections::HashMap<String, Vec<(String, i32)>> = Default::default();
    for (g, b, h) in visits {
        by_grid.entry(g).or_default().push((b, h.min(3)));
    }
    rows.into_iter()
        .map(|(code, gj)| {
            let g: geojson::Geometry = serde_json::from_str(&gj).expect("GeoJSON");
            let geom = match geo::Geometry::<f64>::try_from(g).expect("geometry") {
                geo::Geometry::MultiPolygon(m) => m,
                geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
                other => panic!("grid {code} is {other:?}"),
            };
            let visits = by_grid.remove(&code).unwrap_or_default();
            Grid { code, geom, visits }
        })
        .collect()
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    g: &Grid,
    start: chrono::DateTime<Utc>,
) -> bool {
    let walk = rows_through(&g.geom, start);
    let (Some(last), true) = (walk.last(), walk.len() >= 2) else {
        return false;
    };
    let end = last.t;
    let track: Vec<Value> = walk
        .iter()
        .map(|f| json!({ "lon": f.lon, "lat": f.lat, "t": f.t.to_rfc3339(), "accuracy_m": 5.0 }))
        .collect();
    let households: Vec<Value> = g
        .visits
        .iter()
        .map(|(b, h)| json!({ "building": b, "households": h }))
        .collect();
    let body = json!({
        "grids": [g.code], "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339(),
        "track": track, "households": households,
    });
    let r = http
        .put(format!("{base}/api/patrols/{}", Uuid::new_v4()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("upload");
    let status = r.status();
    if !status.is_success() {
        let text = r.text().await.unwrap_or_default();
        panic!("patrol of {}: {status} {text}", g.code);
    }
    true
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

async fn timed_get(http: &reqwest::Client, url: &str, token: &str) -> (f64, Vec<u8>) {
    let t = Instant::now();
    let r = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    let body = r.bytes().await.expect("body").to_vec();
    (t.elapsed().as_secs_f64() * 1000.0, body)
}

async fn start_server(url: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .env("WANGGE_LOGIN_DELAY_SCALE", "0")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start wangge serve");
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/api/health/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not ready in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, base)
}

#[tokio::main]
async fn main() {
    let base_url = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make db prints it)");
    let scale = setting("WANGGE_WEEK_SCALE", 100.0) as u32;
    let runs = setting("WANGGE_WEEK_RUNS", 20.0) as usize;
    let with_pg = setting("WANGGE_WEEK_PG", 1.0) > 0.0;
    let url = demo_db::prepare(&base_url, scale).await;
    let store = Store::connect(&url, 4).await.expect("connect");
    let zone: String =
        sqlx::query_scalar("SELECT code FROM regions WHERE parent_id IS NULL ORDER BY id LIMIT 1")
            .fetch_one(&store.pool)
            .await
            .expect("zone");
    ensure_account(&store, "wk_admin", Role::Admin, &zone).await;
    ensure_account(&store, "wk_patrol", Role::Patrol, &zone).await;

    // Last ISO week, Monday 00:00 in Asia/Shanghai.
    let cst = FixedOffset::east_opt(8 * 3600).expect("offset");
    let today = Utc::now().with_timezone(&cst).date_naive();
    let monday = today - CDuration::days(i64::from(today.weekday().num_days_from_monday()) + 7);
    let monday_at = cst
        .from_local_datetime(&monday.and_time(NaiveTime::MIN))
        .single()
        .expect("monday")
        .with_timezone(&Utc);
    let week = format!(
        "{}-W{:02}",
        monday.iso_week().year(),
        monday.iso_week().week()
    );

    let all = grids(&store).await;
    let walked: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT pg.grid_id) FROM patrols p JOIN accounts a ON a.id = p.account_id \
         JOIN patrol_grids pg ON pg.patrol_id = p.id \
         WHERE a.username = 'wk_patrol' AND p.complete AND p.started_at >= $1 AND p.started_at < $2",
    )
    .bind(monday_at)
    .bind(monday_at + CDuration::days(7))
    .fetch_one(&store.pool)
    .await
    .expect("walked");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client");
    if (walked as usize) < all.len() {
        let (mut server, base) = start_server(&url).await;
        let token = sign_in(&http, &base, "wk_patrol").await;
        let t = Instant::now();
        // Patrols spread over Monday 08:00 to Saturday, 8 uploads in flight.
        let step = (5.0 * 86_400.0 / all.len() as f64).max(1.0);
        let mut uploaded = 0;
        for (k, chunk) in all.chunks(8).enumerate() {
            let calls = chunk.iter().enumerate().map(|(j, g)| {
                let i = k * 8 + j;
                let start = monday_at
                    + CDuration::hours(8)
                    + CDuration::milliseconds((i as f64 * step * 1000.0) as i64);
                upload(&http, &base, &token, g, start)
            });
            uploaded += futures::future::join_all(calls)
                .await
                .into_iter()
                .filter(|&ok| ok)
                .count();
        }
        eprintln!(
            "uploaded {uploaded} patrols for {} grids in {:.0} s",
            all.len(),
            t.elapsed().as_secs_f64()
        );
        server.kill().ok();
        server.wait().ok();
    }

    // A fresh server: nothing kept but what it keeps by itself at start.
    let (mut server, base) = start_server(&url).await;
    let token = sign_in(&http, &base, "wk_admin").await;
    // An unwalked week first, so that the street lengths are measured and kept.
    let (quiet_ms, _) = timed_get(
        &http,
        &format!("{base}/api/compliance?week=2020-W01"),
        &token,
    )
    .await;
    let report = format!("{base}/api/compliance?week={week}");
    let (first_ms, first) = timed_get(&http, &report, &token).await;
    let v: Value = serde_json::from_slice(&first).expect("JSON");
    let patrolled = v["totals"]["patrolled"].as_i64().unwrap_or(0);
    println!(
        "week {week}: {} grid-weeks, {patrolled} patrolled, {} bytes",
        v["grid_weeks"],
        first.len()
    );
    println!("first request of the walked week: {first_ms:.0} ms (the keeper clips last week at start; an unwalked week asked before it, which waits for the keeper: {quiet_ms:.0} ms)");
    // The later figures are those of a server at work: its other keepers (the coverage
    // model, the party evaluations) finish their start-up work first.
    let settle = setting("WANGGE_WEEK_SETTLE", 30.0);
    tokio::time::sleep(Duration::from_secs_f64(settle)).await;
    let mut rows = vec![];
    for (name, url) in [
        ("compliance", report.clone()),
        (
            "summary",
            format!("{base}/api/compliance/summary?week={week}"),
        ),
        (
            "export",
            format!("{base}/api/compliance/export?week={week}"),
        ),
    ] {
        let mut ms = vec![];
        for _ in 0..runs {
            let (t, body) = timed_get(&http, &url, &token).await;
            if name == "compliance" {
                assert!(body == first, "a later report differs from the first");
            }
            ms.push(t);
        }
        let series: Vec<String> = ms.iter().map(|t| format!("{t:.0}")).collect();
        eprintln!("{name} ms in order: {}", series.join(" "));
        let p50 = quantile(&mut ms, 0.5);
        let p95 = quantile(&mut ms, 0.95);
        println!("{name}: median {p50:.1} ms, p95 {p95:.1} ms ({runs} runs)");
        rows.push((name, p50, p95));
    }

    // One more patrol in one grid: only that grid is clipped again.
    let patrol = sign_in(&http, &base, "wk_patrol").await;
    let g = &all[all.len() / 2];
    let extra_start = monday_at + CDuration::days(6) + CDuration::hours(9);
    assert!(upload(&http, &base, &patrol, g, extra_start).await);
    let (after_ms, after) = timed_get(&http, &report, &token).await;
    let after: Value = serde_json::from_slice(&after).expect("JSON");
    let mut changed = 0;
    if let (Some(a), Some(b)) = (v["shades"].as_object(), after["shades"].as_object()) {
        assert_eq!(a.len(), b.len());
    }
    let before_totals = &v["totals"];
    let after_totals = &after["totals"];
    for k in ["patrolled", "households_visited"] {
        if before_totals[k] != after_totals[k] {
            changed += 1;
        }
    }
    println!(
        "after one more patrol in {}: {after_ms:.1} ms ({changed} of 2 totals changed)",
        g.code
    );
    server.kill().ok();
    server.wait().ok();

    if with_pg {
        let sql = format!(
            "SET statement_timeout = '600s'; \
             WITH walks AS (SELECT pg.grid_id, ST_Union(ST_Buffer(p.track::geography, 20)::geometry) AS buf \
               FROM patrol_grids pg JOIN patrols p ON p.id = pg.patrol_id \
               WHERE p.complete AND pg.share_inside >= 0.3 AND p.started_at >= '{}' AND p.started_at < '{}' \
               GROUP BY pg.grid_id) \
             SELECT count(*), sum(ST_Length(ST_Intersection(ST_Intersection(e.geom, g.geom), w.buf)::geography)) \
             FROM walks w JOIN current_grids g ON g.id = w.grid_id JOIN network_edges e ON e.geom && g.geom",
            monday_at.to_rfc3339(),
            (monday_at + CDuration::days(7)).to_rfc3339()
        );
        let t = Instant::now();
        let out = std::process::Command::new("psql")
            .args([url.as_str(), "-Atqc", &sql])
            .output()
            .expect("psql");
        let pg_s = t.elapsed().as_secs_f64();
        println!(
            "PostGIS, the same clipping in one query: {pg_s:.1} s ({})",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    let compliance = rows[0];
    println!(
        "ratio first / later median: {:.0}x",
        first_ms / compliance.1
    );
}
