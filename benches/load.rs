//! A city's load over HTTP against the release server, and the database's own rate for the
//! equivalent queries in the same run.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge cargo bench --bench load
//! # WANGGE_LOAD_SCALE=100  WANGGE_LOAD_SECONDS=60  WANGGE_LOAD_CHIEFS=500
//! # WANGGE_LOAD_PLANNERS=50  WANGGE_LOAD_PHONES=300  WANGGE_LOAD_THINK=1.0 (0: no pauses)
//! ```
//!
//! The demo district at `WANGGE_LOAD_SCALE` (default 100) is generated and loaded once into
//! `wangge_bench_s{S}` (shared with the locate and tile benchmarks), accounts are added for
//! the run (`lt_chief_N`, `lt_planner_N`, `lt_patrol_N`, each with its own scope), and a
//! release `wangge serve` is started on it. Then, for `WANGGE_LOAD_SECONDS`:
//!
//! - grid chiefs (500) browse their own first-level grid: a map view of 12 tiles
//!   (second-level grids and buildings, z15-z17, panned at random near the grid), the grid
//!   (`/api/grids/{code}`), a click on the map (`/api/locate`), a search (`/api/search`);
//!   a pause of 1 s on average (exponential) between actions;
//! - planners (50) ask the coverage of a kind for their town (`/api/coverage?kind=`) or a
//!   what-if move of one station (`POST /api/coverage/scenario`); 5 s between actions;
//! - patrol phones (300) walk their second-level grid and upload their track in chunks as
//!   the app does (`PUT /api/patrols/{id}`, then `…/chunks/{seq}` of 100 points, then
//!   `…/end` after 5 chunks); 10 s between uploads.
//!
//! Sessions: each account signs in once (`POST /api/auth/login` with `token: true`) and its
//! virtual users share the bearer token (ten chiefs an account, ten phones an account).
//! `WANGGE_LOAD_THINK` scales every pause (0 runs the mix flat out: the server's ceiling
//! for it). Per route: requests, rate, p50, p99 and answers that were not 2xx.
//!
//! After the HTTP phase, pgbench runs the equivalent queries on the same database at its
//! best (1, 2, 4, 8 clients, the best): the point-in-grid query, the grid by code, a search
//! over grid and building codes and names, and the grid `ST_AsMVT` tile (the database's
//! rate for patrol writes is in the ingest benchmark).
//! Coverage has no single-query equivalent in the database (see the coverage benchmark:
//! pgRouting per kind).

#[path = "support/demo_db.rs"]
mod demo_db;
#[path = "support/pgbench.rs"]
mod pgbench;

use chrono::{DateTime, Duration as CDuration, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use wangge::domain::access::{Role, ScopeKind};
use wangge::store::accounts::NewAccount;
use wangge::store::audit::Actor;
use wangge::store::Store;

const PASSWORD: &str = "load-test-password-2026";

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One route's latencies (ms), bytes received and answers by status.
type RouteStats = (Vec<f64>, usize, BTreeMap<u16, usize>);

/// Latencies and failures per route.
#[derive(Default)]
struct Stats {
    routes: Mutex<BTreeMap<&'static str, RouteStats>>,
}

impl Stats {
    fn record(&self, route: &'static str, ms: f64, status: u16, bytes: usize) {
        let mut m = self.routes.lock().expect("stats");
        let e = m.entry(route).or_default();
        e.0.push(ms);
        e.1 += bytes;
        if !(200..300).contains(&status) {
            *e.2.entry(status).or_default() += 1;
        }
    }
}

/// One request, timed and recorded; the body as JSON when it is JSON.
async fn call(
    http: &reqwest::Client,
    stats: &Stats,
    route: &'static str,
    req: reqwest::RequestBuilder,
) -> Option<Value> {
    let _ = http;
    let t = Instant::now();
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let json = r
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let body = r.bytes().await.unwrap_or_default();
            stats.record(route, t.elapsed().as_secs_f64() * 1e3, status, body.len());
            if json {
                serde_json::from_slice(&body).ok()
            } else {
                None
            }
        }
        Err(_) => {
            stats.record(route, t.elapsed().as_secs_f64() * 1e3, 599, 0);
            None
        }
    }
}

/// A pause of `mean_s` on average (exponential), scaled by `WANGGE_LOAD_THINK`.
async fn think(rng: &mut rand_chacha::ChaCha8Rng, mean_s: f64, scale: f64) {
    if scale <= 0.0 {
        return;
    }
    let u: f64 = rng.gen_range(1e-6..1.0);
    let s = (-u.ln() * mean_s * scale).min(mean_s * scale * 5.0);
    tokio::time::sleep(Duration::from_secs_f64(s)).await;
}

/// Tile of a point at zoom z (web mercator).
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

/// A grid's box: lon0, lat0, lon1, lat1.
type Bbox = (f64, f64, f64, f64);

struct Chief {
    token: String,
    grid: String,
    bbox: Bbox,
    words: Vec<String>,
}

struct Planner {
    token: String,
    stations: Vec<(String, String, f64, f64)>,
}

struct Phone {
    token: String,
    grid: String,
    bbox: Bbox,
}

async fn sign_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let r = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": user, "password": PASSWORD, "token": true }))
        .send()
        .await
        .expect("sign in");
    let status = r.status();
    let v: Value = r.json().await.expect("sign-in answer");
    assert!(status.is_success(), "sign-in of {user}: {v}");
    v["token"].as_str().expect("token").to_string()
}

/// Adds the run's accounts when they are missing. Returns (chiefs, planners, patrols) as
/// (username, grid or town code).
async fn accounts(store: &Store, n_chiefs: usize, n_planners: usize, n_patrols: usize) {
    let have: i64 =
        sqlx::query_scalar("SELECT count(*) FROM accounts WHERE username LIKE 'lt\\_%'")
            .fetch_one(&store.pool)
            .await
            .expect("accounts");
    if have as usize >= n_chiefs + n_planners + n_patrols {
        return;
    }
    sqlx::query("DELETE FROM sessions WHERE account_id IN (SELECT id FROM accounts WHERE username LIKE 'lt\\_%')")
        .execute(&store.pool)
        .await
        .ok();
    let hash = wangge::auth::hash_password(PASSWORD).expect("hash");
    // Grids with their staff, spread over the communities (every k-th by code).
    let spread = |rows: Vec<(String, String, String)>, n: usize| {
        let step = (rows.len() / n.max(1)).max(1);
        rows.into_iter().step_by(step).take(n).collect::<Vec<_>>()
    };
    let staffed = |role: &'static str, level: i16| {
        let pool = store.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT g.code, s.code, r.code FROM current_grids g \
                 JOIN staff_assignments a ON a.grid_id = g.id AND a.role = $1 AND a.until IS NULL \
                 JOIN staff s ON s.id = a.staff_id JOIN communities c ON c.id = g.community_id \
                 JOIN regions r ON r.id = c.region_id \
                 WHERE g.level = $2 AND NOT EXISTS (SELECT 1 FROM accounts x WHERE x.staff_id = s.id) \
                 ORDER BY g.code",
            )
            .bind(role)
            .bind(level)
            .fetch_all(&pool)
            .await
            .expect("staffed grids")
        }
    };
    let chiefs = spread(staffed("chief", 1).await, n_chiefs);
    let members = spread(staffed("member", 2).await, n_patrols);
    let towns: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT r.code FROM regions r JOIN communities c ON c.region_id = r.id ORDER BY 1",
    )
    .fetch_all(&store.pool)
    .await
    .expect("towns");
    let mut specs = vec![];
    for (i, (grid, staff, region)) in chiefs.into_iter().enumerate() {
        specs.push((
            format!("lt_chief_{i}"),
            Role::GridChief,
            ScopeKind::Grids,
            region,
            vec![grid],
            Some(staff),
        ));
    }
    for i in 0..n_planners {
        specs.push((
            format!("lt_planner_{i}"),
            Role::Planner,
            ScopeKind::Region,
            towns[i % towns.len()].clone(),
            vec![],
            None,
        ));
    }
    for (i, (grid, staff, region)) in members.into_iter().enumerate() {
        specs.push((
            format!("lt_patrol_{i}"),
            Role::Patrol,
            ScopeKind::Grids,
            region,
            vec![grid],
            Some(staff),
        ));
    }
    for (username, role, scope_kind, region_code, grids, staff_code) in specs {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE username = $1)")
                .bind(&username)
                .fetch_one(&store.pool)
                .await
                .expect("exists");
        if exists {
            continue;
        }
        let a = NewAccount {
            username: username.clone(),
            display_name: username.clone(),
            role,
            scope_kind,
            region_code,
            communities: vec![],
            grids,
            staff_code,
        };
        store
            .create_account(&a, &hash, &Actor::system("load bench"))
            .await
            .unwrap_or_else(|e| panic!("account {username}: {e}"));
    }
}

async fn bbox_of(store: &Store, code: &str) -> Bbox {
    sqlx::query_as(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM current_grids WHERE code = $1",
    )
    .bind(code)
    .fetch_one(&store.pool)
    .await
    .expect("grid box")
}

/// One chief's session: map views, the grid, clicks, searches.
async fn chief_loop(
    http: reqwest::Client,
    base: String,
    me: Arc<Chief>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    seed: u64,
    scale: f64,
) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let auth = format!("Bearer {}", me.token);
    let (x0, y0, x1, y1) = me.bbox;
    think(&mut rng, 1.0, scale).await;
    while !stop.load(Ordering::Relaxed) {
        let pick: f64 = rng.gen();
        if pick < 0.45 {
            // A map view: 3 × 2 tiles of two layers around a point near the grid.
            let z: u32 = rng.gen_range(15..=17);
            let lon = rng.gen_range(x0..x1) + rng.gen_range(-0.005..0.005);
            let lat = rng.gen_range(y0..y1) + rng.gen_range(-0.005..0.005);
            let (tx, ty) = tile_of(lon, lat, z);
            for layer in ["grids2", "buildings"] {
                for dx in 0..3 {
                    for dy in 0..2 {
                        let url = format!("{base}/tiles/{layer}/{z}/{}/{}.mvt", tx + dx, ty + dy);
                        call(
                            &http,
                            &stats,
                            "GET /tiles/{layer}/{z}/{x}/{y}.mvt",
                            http.get(url).header("authorization", &auth),
                        )
                        .await;
                    }
                }
            }
        } else if pick < 0.65 {
            let url = format!("{base}/api/grids/{}", me.grid);
            call(
                &http,
                &stats,
                "GET /api/grids/{code}",
                http.get(url).header("authorization", &auth),
            )
            .await;
        } else if pick < 0.85 {
            let lon = rng.gen_range(x0..x1);
            let lat = rng.gen_range(y0..y1);
            let url = format!("{base}/api/locate?lon={lon}&lat={lat}");
            call(
                &http,
                &stats,
                "GET /api/locate",
                http.get(url).header("authorization", &auth),
            )
            .await;
        } else {
            let w = &me.words[rng.gen_range(0..me.words.len())];
            call(
                &http,
                &stats,
                "GET /api/search",
                http.get(format!("{base}/api/search"))
                    .query(&[("q", w.as_str())])
                    .header("authorization", &auth),
            )
            .await;
        }
        think(&mut rng, 1.0, scale).await;
    }
}

const KINDS: [&str; 4] = ["elderly_care", "convenience", "clinic", "culture"];

/// One planner: coverage of a kind for the town, or a what-if move.
async fn planner_loop(
    http: reqwest::Client,
    base: String,
    me: Arc<Planner>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    seed: u64,
    scale: f64,
) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let auth = format!("Bearer {}", me.token);
    think(&mut rng, 5.0, scale).await;
    while !stop.load(Ordering::Relaxed) {
        if rng.gen_bool(0.5) || me.stations.is_empty() {
            let kind = KINDS[rng.gen_range(0..KINDS.len())];
            call(
                &http,
                &stats,
                "GET /api/coverage?kind=",
                http.get(format!("{base}/api/coverage?kind={kind}&minutes=10"))
                    .header("authorization", &auth),
            )
            .await;
        } else {
            let (code, kind, lon, lat) = &me.stations[rng.gen_range(0..me.stations.len())];
            let body = json!({
                "kind": kind, "minutes": 10,
                "changes": [{ "op": "move", "code": code,
                              "lon": lon + rng.gen_range(-0.003..0.003),
                              "lat": lat + rng.gen_range(-0.003..0.003) }],
            });
            call(
                &http,
                &stats,
                "POST /api/coverage/scenario",
                http.post(format!("{base}/api/coverage/scenario"))
                    .header("authorization", &auth)
                    .json(&body),
            )
            .await;
        }
        think(&mut rng, 5.0, scale).await;
    }
}

/// 100 points of a walk in the box from step `from` (2 m a step, 2 s a step: 3.6 km/h),
/// back and forth along lines of latitude.
fn points(b: Bbox, start: DateTime<Utc>, from: usize) -> Vec<Value> {
    let (x0, y0, x1, y1) = b;
    let (mx, my) = ((x1 - x0) * 0.2, (y1 - y0) * 0.2);
    let (x0, x1, y0, y1) = (x0 + mx, x1 - mx, y0 + my, y1 - my);
    let width_m = (x1 - x0) * 111_000.0 * (y0.to_radians().cos());
    let lane_steps = ((width_m / 2.0) as usize).max(2);
    (from..from + 100)
        .map(|i| {
            let lane = i / lane_steps;
            let f = (i % lane_steps) as f64 / lane_steps as f64;
            let f = if lane.is_multiple_of(2) { f } else { 1.0 - f };
            let lat = y0 + (y1 - y0) * ((lane % 8) as f64 + 0.5) / 8.0;
            let t = start + CDuration::seconds(2 * i as i64);
            json!({ "lon": x0 + f * (x1 - x0), "lat": lat, "t": t.to_rfc3339(), "accuracy_m": 5.0 })
        })
        .collect()
}

/// One patrol phone: a patrol's head, five chunks, the end; again.
async fn phone_loop(
    http: reqwest::Client,
    base: String,
    me: Arc<Phone>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    seed: u64,
    scale: f64,
) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let auth = format!("Bearer {}", me.token);
    think(&mut rng, 10.0, scale).await;
    while !stop.load(Ordering::Relaxed) {
        let id = Uuid::new_v4();
        // Each patrol in its own past hour, so patrols of one phone never overlap.
        let start = Utc::now() - CDuration::minutes(60 + rng.gen_range(0..100_000));
        let url = format!("{base}/api/patrols/{id}");
        call(
            &http,
            &stats,
            "PUT /api/patrols/{id}",
            http.put(&url)
                .header("authorization", &auth)
                .json(&json!({ "grids": [me.grid], "started_at": start.to_rfc3339() })),
        )
        .await;
        for seq in 0..5usize {
            think(&mut rng, 10.0, scale).await;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let body = json!({ "id": Uuid::new_v4(), "points": points(me.bbox, start, seq * 100) });
            call(
                &http,
                &stats,
                "PUT /api/patrols/{id}/chunks/{seq}",
                http.put(format!("{url}/chunks/{seq}"))
                    .header("authorization", &auth)
                    .json(&body),
            )
            .await;
        }
        let end = start + CDuration::seconds(1000);
        call(
            &http,
            &stats,
            "PUT /api/patrols/{id}/end",
            http.put(format!("{url}/end"))
                .header("authorization", &auth)
                .json(&json!({ "ended_at": end.to_rfc3339(), "chunks": 5, "households": [] })),
        )
        .await;
        think(&mut rng, 10.0, scale).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn cpu_s(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0;
    let u: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let k: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (u + k) / tick
}

#[tokio::main]
async fn main() {
    let base_url = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make db prints it)");
    let scale = setting("WANGGE_LOAD_SCALE", 100.0) as u32;
    let seconds = setting("WANGGE_LOAD_SECONDS", 60.0);
    let n_chief_users = setting("WANGGE_LOAD_CHIEFS", 500.0) as usize;
    let n_planner_users = setting("WANGGE_LOAD_PLANNERS", 50.0) as usize;
    let n_phone_users = setting("WANGGE_LOAD_PHONES", 300.0) as usize;
    let think_scale = setting("WANGGE_LOAD_THINK", 1.0);
    // Ten virtual users an account for chiefs and phones; one a planner account.
    let n_chiefs = n_chief_users.div_ceil(10).max(1);
    let n_patrols = n_phone_users.div_ceil(10).max(1);
    let n_planners = n_planner_users.clamp(1, 50);

    let url = demo_db::prepare(&base_url, scale).await;
    let store = Store::connect(&url, 4).await.expect("connect");
    accounts(&store, n_chiefs, n_planners, n_patrols).await;

    // The release server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "error")
        .env("WANGGE_LOGIN_DELAY_SCALE", "0")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start wangge serve");
    let pid = server.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1000)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    loop {
        if let Ok(r) = http.get(format!("{base}/api/health/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the server was not ready in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_s = started.elapsed().as_secs_f64();
    let rss_ready = rss_mb(pid);
    eprintln!("server ready in {ready_s:.1} s, {rss_ready:.0} MB resident");

    // Sessions and what each user needs.
    let users: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.username, coalesce((SELECT g.code FROM account_grids ag JOIN current_grids g ON g.id = ag.grid_id \
         WHERE ag.account_id = a.id LIMIT 1), '') FROM accounts a WHERE a.username LIKE 'lt\\_%' ORDER BY a.id",
    )
    .fetch_all(&store.pool)
    .await
    .expect("users");
    let words: Vec<String> = sqlx::query_scalar(
        "(SELECT code FROM current_grids ORDER BY random() LIMIT 40) UNION ALL \
         (SELECT substr(name, 1, 2) FROM current_grids ORDER BY random() LIMIT 40) UNION ALL \
         (SELECT code FROM buildings ORDER BY random() LIMIT 40)",
    )
    .fetch_all(&store.pool)
    .await
    .expect("words");
    let mut chiefs = vec![];
    let mut planners = vec![];
    let mut phones = vec![];
    for (user, grid) in &users {
        if user.starts_with("lt_chief_") && chiefs.len() < n_chiefs {
            let token = sign_in(&http, &base, user).await;
            chiefs.push(Arc::new(Chief {
                token,
                grid: grid.clone(),
                bbox: bbox_of(&store, grid).await,
                words: words.clone(),
            }));
        } else if user.starts_with("lt_planner_") && planners.len() < n_planners {
            let token = sign_in(&http, &base, user).await;
            let stations: Vec<(String, String, f64, f64)> = sqlx::query_as(
                "SELECT s.code, s.kind, ST_X(s.geom), ST_Y(s.geom) FROM stations s \
                 JOIN communities c ON c.id = s.community_id JOIN regions r ON r.id = c.region_id \
                 JOIN accounts a ON a.region_id = r.id AND a.username = $1 \
                 WHERE s.kind = ANY($2) ORDER BY s.code LIMIT 200",
            )
            .bind(user)
            .bind(
                KINDS
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .fetch_all(&store.pool)
            .await
            .expect("stations");
            planners.push(Arc::new(Planner { token, stations }));
        } else if user.starts_with("lt_patrol_") && phones.len() < n_patrols {
            let token = sign_in(&http, &base, user).await;
            phones.push(Arc::new(Phone {
                token,
                grid: grid.clone(),
                bbox: bbox_of(&store, grid).await,
            }));
        }
    }
    eprintln!(
        "{} chief accounts, {} planner accounts, {} patrol accounts signed in",
        chiefs.len(),
        planners.len(),
        phones.len()
    );

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![];
    for i in 0..n_chief_users {
        tasks.push(tokio::spawn(chief_loop(
            http.clone(),
            base.clone(),
            chiefs[i % chiefs.len()].clone(),
            stats.clone(),
            stop.clone(),
            i as u64,
            think_scale,
        )));
    }
    for i in 0..n_planner_users {
        tasks.push(tokio::spawn(planner_loop(
            http.clone(),
            base.clone(),
            planners[i % planners.len()].clone(),
            stats.clone(),
            stop.clone(),
            10_000 + i as u64,
            think_scale,
        )));
    }
    for i in 0..n_phone_users {
        tasks.push(tokio::spawn(phone_loop(
            http.clone(),
            base.clone(),
            phones[i % phones.len()].clone(),
            stats.clone(),
            stop.clone(),
            20_000 + i as u64,
            think_scale,
        )));
    }
    let cpu0 = cpu_s(pid);
    let began = Instant::now();
    // Health during the load: one probe a second, so a blocked server shows.
    let mut health = vec![];
    while began.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        let ok = http
            .get(format!("{base}/api/health"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        health.push((t.elapsed().as_secs_f64() * 1e3, ok));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let wall = began.elapsed().as_secs_f64();
    let cpu = cpu_s(pid) - cpu0;
    // Requests in flight finish (bounded by the client's timeout).
    let drain = Instant::now();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(130), t).await;
    }
    let rss_after = rss_mb(pid);

    println!(
        "\nscale {scale}: {n_chief_users} chiefs, {n_planner_users} planners, {n_phone_users} phones; \
         pauses × {think_scale}; {wall:.0} s (+{:.1} s draining); server ready in {ready_s:.1} s; \
         RSS {rss_ready:.0} MB ready, {rss_after:.0} MB after; server CPU {:.0}% of one core\n",
        drain.elapsed().as_secs_f64(),
        cpu / wall * 100.0
    );
    println!("| route | requests | per second | p50 | p99 | max | KiB per answer | not 2xx |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let routes = std::mem::take(&mut *stats.routes.lock().expect("stats"));
    let (mut total, mut total_bad) = (0usize, 0usize);
    for (route, (mut lat, bytes, bad)) in routes {
        lat.sort_by(f64::total_cmp);
        let n = lat.len();
        total += n;
        total_bad += bad.values().sum::<usize>();
        println!(
            "| `{route}` | {n} | {:.1} | {:.1} ms | {:.1} ms | {:.0} ms | {:.1} | {} |",
            n as f64 / wall,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN),
            bytes as f64 / n.max(1) as f64 / 1024.0,
            if bad.is_empty() {
                "0".to_string()
            } else {
                bad.iter()
                    .map(|(s, c)| format!("{c}× {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    let mut h: Vec<f64> = health.iter().map(|x| x.0).collect();
    h.sort_by(f64::total_cmp);
    println!(
        "| all | {total} | {:.1} | | | | | {total_bad} |\n\n`/api/health` probed once a second during the load: \
         {} probes, {} failed, p50 {:.1} ms, max {:.0} ms\n",
        total as f64 / wall,
        health.len(),
        health.iter().filter(|x| !x.1).count(),
        percentile(&h, 0.5),
        h.last().copied().unwrap_or(f64::NAN)
    );
    let _ = server.kill();
    let _ = server.wait();

    if setting("WANGGE_LOAD_PGBENCH", 1.0) > 0.0 {
        pg_equivalents(&store, &url).await;
    }
}

/// pgbench at its best on the queries the routes would run against the database.
async fn pg_equivalents(store: &Store, url: &str) {
    let (x0, y0, x1, y1): (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom)::geometry AS e FROM communities) t",
    )
    .fetch_one(&store.pool)
    .await
    .expect("extent");
    let e6 = |v: f64| (v * 1e6).round() as i64;
    let n_grids: i64 = sqlx::query_scalar("SELECT max(id) FROM grids")
        .fetch_one(&store.pool)
        .await
        .expect("grids");
    // Tiles: z15 tiles over the extent, as a table (one primary-key lookup a transaction).
    let (tx0, ty1) = tile_of(x0, y0, 15);
    let (tx1, ty0) = tile_of(x1, y1, 15);
    let point = format!(
        "\\set lon random({}, {}) / 1000000.0\n\\set lat random({}, {}) / 1000000.0\n",
        e6(x0),
        e6(x1),
        e6(y0),
        e6(y1)
    );
    let scripts: Vec<(&str, String)> = vec![
        (
            "GET /api/locate: community, first- and second-level grid of a point",
            format!("{point}SELECT g.id, g.code, g.level FROM current_grids g WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY g.level, g.id;\n"),
        ),
        (
            "GET /api/grids/{code}: the grid with its geometry and staff",
            format!("\\set id random(1, {n_grids})\nSELECT g.id, g.code, g.name, g.level, g.version, ST_AsGeoJSON(g.geom), (SELECT json_agg(s.name) FROM staff_assignments a JOIN staff s ON s.id = a.staff_id WHERE a.grid_id = g.id AND a.until IS NULL) FROM current_grids g WHERE g.id = :id;\n"),
        ),
        (
            "GET /api/search: codes and names of grids and buildings (prefix and text)",
            "\\set n random(100, 999)\nSELECT code, name FROM current_grids WHERE code LIKE '%' || :n || '%' OR name LIKE '%' || :n || '%' UNION ALL (SELECT code, name FROM buildings WHERE code LIKE '%' || :n || '%' OR address LIKE '%' || :n || '%' LIMIT 20) LIMIT 20;\n".to_string(),
        ),
        (
            "GET /tiles/grids2/15/{x}/{y}.mvt: ST_AsMVT of the second-level grids",
            format!("\\set x random({tx0}, {tx1})\n\\set y random({ty0}, {ty1})\nSELECT ST_AsMVT(t, 'grids2', 4096, 'geom', 'id') FROM (SELECT id, code, name, level, version, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(15, :x, :y), 4096, 64, true) AS geom FROM current_grids WHERE level = 2 AND geom && ST_Transform(ST_TileEnvelope(15, :x, :y, margin => 64.0 / 4096), 4326)) t;\n"),
        ),
    ];
    println!("| the database's equivalent (pgbench, prepared, best of 1/2/4/8 clients) | per second | clients | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    let secs = setting("WANGGE_PGBENCH_SECONDS", 5.0) as u32;
    let rounds = setting("WANGGE_BENCH_ROUNDS", 3.0) as usize;
    for (what, script) in scripts {
        let (best, all) = pgbench::best(url, &script, secs, rounds);
        eprintln!("{what}: {}", pgbench::describe(&all));
        println!(
            "| {what} | {:.0} | {} | {:.2} ms | {:.2} ms |",
            best.tps, best.clients, best.p50_ms, best.p99_ms
        );
    }
    println!();
}
