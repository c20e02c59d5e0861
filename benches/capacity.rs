//! The capacity model's measurements: memory and CPU of each in-process part at scales 1,
//! 10 and 100 of the demo district, and the release server's start-to-ready time and
//! resident memory at each, with a linear fit per million buildings and per million
//! residents (docs/capacity.md).
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge cargo bench --bench capacity
//! # WANGGE_BENCH_SCALES=1,10,100 (databases wangge_bench_s{S}, shared with the other benches)
//! ```
//!
//! In this process, one part after the other, the resident memory (VmRSS) it adds and the CPU
//! time it takes: the index (`Registry::load`: grids, buildings, stations, staff, figures,
//! walking network), the map's tile sources (`MapTiles::new`, before any tile is cached; the
//! tile cache is bounded by `WANGGE_TILE_CACHE_MB`), the coverage model
//! (`CoverageModel::build`). Then the release server on the same database: start to ready,
//! resident memory at ready, once its coverage model is built (the first coverage answer),
//! and the peak while it answers the whole zone's party findings and weekly compliance
//! (party data is read from PostgreSQL per request, not kept).

#[path = "support/demo_db.rs"]
mod demo_db;

use std::time::{Duration, Instant};
use wangge::domain::access::{Role, ScopeKind};
use wangge::store::accounts::NewAccount;
use wangge::store::audit::Actor;
use wangge::store::Store;

const PASSWORD: &str = "capacity-password-2026";

fn status_kb(pid: &str, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn rss_mb(pid: &str) -> f64 {
    status_kb(pid, "VmRSS:") / 1024.0
}

fn hwm_mb(pid: &str) -> f64 {
    status_kb(pid, "VmHWM:") / 1024.0
}

/// Resets a process's peak resident memory (VmHWM), where the kernel lets us.
fn reset_hwm(pid: &str) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// CPU seconds (user + system) of a process so far.
fn cpu_s(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let u: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let k: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (u + k) / 100.0
}

/// Releases freed memory to the system, so that RSS deltas measure what is kept.
#[allow(unsafe_code)] // one glibc call, see below
fn trim() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim only returns free heap pages to the kernel.
    unsafe {
        malloc_trim(0);
    }
}

#[derive(Debug, Default, Clone)]
struct Scale {
    scale: u32,
    buildings: f64,
    residents: f64,
    grids: f64,
    edges: f64,
    party_members: f64,
    index_mb: f64,
    index_cpu: f64,
    index_wall: f64,
    tiles_mb: f64,
    tiles_cpu: f64,
    coverage_mb: f64,
    coverage_cpu: f64,
    coverage_wall: f64,
    ready_s: f64,
    rss_ready: f64,
    rss_coverage: f64,
    coverage_first_s: f64,
    coverage_kind_ms: f64,
    coverage_kind_cpu_ms: f64,
    peak_party: f64,
    party_s: f64,
    peak_compliance: f64,
    compliance_s: f64,
    rss_end: f64,
}

async fn admin(store: &Store) {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE username = 'cap_admin')")
            .fetch_one(&store.pool)
            .await
            .expect("exists");
    if exists {
        return;
    }
    let zone: String =
        sqlx::query_scalar("SELECT code FROM regions WHERE parent_id IS NULL ORDER BY id LIMIT 1")
            .fetch_one(&store.pool)
            .await
            .expect("zone");
    let a = NewAccount {
        username: "cap_admin".into(),
        display_name: "cap_admin".into(),
        role: Role::Admin,
        scope_kind: ScopeKind::Region,
        region_code: zone,
        communities: vec![],
        grids: vec![],
        staff_code: None,
    };
    let hash = wangge::auth::hash_password(PASSWORD).expect("hash");
    store
        .create_account(&a, &hash, &Actor::system("capacity bench"))
        .await
        .expect("admin account");
}

async fn measure(base: &str, scale: u32) -> Scale {
    let url = demo_db::prepare(base, scale).await;
    let store = Store::connect(&url, 4).await.expect("connect");
    admin(&store).await;
    let mut m = Scale {
        scale,
        ..Default::default()
    };
    let (b, r): (i64, i64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(residents), 0)::bigint FROM buildings")
            .fetch_one(&store.pool)
            .await
            .expect("buildings");
    m.buildings = b as f64;
    m.residents = r as f64;
    m.grids = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM current_grids")
        .fetch_one(&store.pool)
        .await
        .expect("grids") as f64;
    m.party_members =
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM people WHERE membership <> 'none'")
            .fetch_one(&store.pool)
            .await
            .unwrap_or(0) as f64;

    // In this process, one part after the other.
    let me = "self";
    trim();
    let (rss0, cpu0, t0) = (rss_mb(me), cpu_s(me), Instant::now());
    let registry = wangge::cache::Registry::load(store.clone())
        .await
        .expect("load");
    let snap = registry.snapshot();
    trim();
    let (rss1, cpu1) = (rss_mb(me), cpu_s(me));
    m.index_mb = rss1 - rss0;
    m.index_cpu = cpu1 - cpu0;
    m.index_wall = t0.elapsed().as_secs_f64();
    m.edges = snap.network.as_ref().map_or(0, |n| n.edge_count()) as f64;
    let tiles = wangge::maptiles::MapTiles::new(&snap, 256 << 20);
    trim();
    let (rss2, cpu2) = (rss_mb(me), cpu_s(me));
    m.tiles_mb = rss2 - rss1;
    m.tiles_cpu = cpu2 - cpu1;
    let t = Instant::now();
    let model = wangge::coverage::CoverageModel::build(&snap, 300.0);
    m.coverage_wall = t.elapsed().as_secs_f64();
    trim();
    let (rss3, cpu3) = (rss_mb(me), cpu_s(me));
    m.coverage_mb = rss3 - rss2;
    m.coverage_cpu = cpu3 - cpu2;
    drop((model, tiles, snap, registry));

    // The release server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let http_base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "error")
        .env("WANGGE_COVERAGE_WAIT", "60")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start wangge serve");
    let pid = server.id().to_string();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client");
    loop {
        if let Ok(r) = http
            .get(format!("{http_base}/api/health/ready"))
            .send()
            .await
        {
            if r.status().is_success() {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(300), "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m.ready_s = started.elapsed().as_secs_f64();
    m.rss_ready = rss_mb(&pid);
    let login: serde_json::Value = http
        .post(format!("{http_base}/api/auth/login"))
        .json(&serde_json::json!({ "username": "cap_admin", "password": PASSWORD, "token": true }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login answer");
    let token = login["token"].as_str().expect("token").to_string();
    let get = |path: String| {
        let (http, token, base) = (http.clone(), token.clone(), http_base.clone());
        async move {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            let st = r.status().as_u16();
            let n = r.bytes().await.map(|b| b.len()).unwrap_or(0);
            (st, n, t.elapsed().as_secs_f64())
        }
    };
    // The first coverage answer waits for the model (built in the background from start).
    let mut first = 0.0;
    for _ in 0..20 {
        let (st, _, s) = get("/api/coverage?kind=elderly_care&minutes=10".into()).await;
        first += s;
        if st == 200 {
            break;
        }
        eprintln!("scale {scale}: coverage answered {st}; asking again");
    }
    m.coverage_first_s = started.elapsed().as_secs_f64();
    let _ = first;
    m.rss_coverage = rss_mb(&pid);
    let c0 = cpu_s(&pid);
    let mut times = vec![];
    for kind in ["elderly_care", "convenience", "clinic", "culture", "youth"] {
        let (_, _, s) = get(format!("/api/coverage?kind={kind}&minutes=10")).await;
        times.push(s * 1e3);
    }
    m.coverage_kind_cpu_ms = (cpu_s(&pid) - c0) / times.len() as f64 * 1e3;
    times.sort_by(f64::total_cmp);
    m.coverage_kind_ms = times[times.len() / 2];
    reset_hwm(&pid);
    let (st, n, s) = get("/api/party/findings".into()).await;
    eprintln!("scale {scale}: party findings {st}, {n} bytes, {s:.2} s");
    m.party_s = s;
    m.peak_party = hwm_mb(&pid);
    reset_hwm(&pid);
    let (st, n, s) = get("/api/compliance".into()).await;
    eprintln!("scale {scale}: compliance {st}, {n} bytes, {s:.2} s");
    m.compliance_s = s;
    m.peak_compliance = hwm_mb(&pid);
    m.rss_end = rss_mb(&pid);
    let _ = server.kill();
    let _ = server.wait();
    m
}

/// Least squares y = a + b x.
fn fit(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

#[tokio::main]
async fn main() {
    let base = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make db prints it)");
    let scales: Vec<u32> = std::env::var("WANGGE_BENCH_SCALES")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut all = vec![];
    for s in scales {
        let m = measure(&base, s).await;
        eprintln!("{m:?}");
        all.push(m);
    }
    println!("\n| scale | buildings | residents | grids | street edges | party members | index MB (CPU s) | tile sources MB (CPU s) | coverage model MB (CPU s, wall s) | server ready s | RSS ready MB | RSS with coverage MB | coverage ready s after start | one kind ms (server CPU ms) | peak RSS party findings MB (s) | peak RSS compliance MB (s) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in &all {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} ({:.2}) | {:.0} ({:.2}) | {:.0} ({:.2}, {:.2}) | {:.2} | {:.0} | {:.0} | {:.1} | {:.0} ({:.0}) | {:.0} ({:.2}) | {:.0} ({:.2}) |",
            m.scale, m.buildings, m.residents, m.grids, m.edges, m.party_members,
            m.index_mb, m.index_cpu, m.tiles_mb, m.tiles_cpu, m.coverage_mb, m.coverage_cpu, m.coverage_wall,
            m.ready_s, m.rss_ready, m.rss_coverage, m.coverage_first_s, m.coverage_kind_ms, m.coverage_kind_cpu_ms,
            m.peak_party, m.party_s, m.peak_compliance, m.compliance_s
        );
    }
    if all.len() >= 2 {
        println!("\nLinear fits, y = a + b × x (x in millions):\n");
        println!("| quantity | a (fixed) | b per million buildings | b per million residents |");
        println!("|---|---:|---:|---:|");
        let xb: Vec<f64> = all.iter().map(|m| m.buildings / 1e6).collect();
        let xr: Vec<f64> = all.iter().map(|m| m.residents / 1e6).collect();
        let rows: Vec<(&str, Vec<f64>)> = vec![
            ("index MB", all.iter().map(|m| m.index_mb).collect()),
            ("index CPU s", all.iter().map(|m| m.index_cpu).collect()),
            ("tile sources MB", all.iter().map(|m| m.tiles_mb).collect()),
            (
                "tile sources CPU s",
                all.iter().map(|m| m.tiles_cpu).collect(),
            ),
            (
                "coverage model MB",
                all.iter().map(|m| m.coverage_mb).collect(),
            ),
            (
                "coverage model CPU s",
                all.iter().map(|m| m.coverage_cpu).collect(),
            ),
            (
                "server RSS at ready MB",
                all.iter().map(|m| m.rss_ready).collect(),
            ),
            (
                "server RSS with coverage MB",
                all.iter().map(|m| m.rss_coverage).collect(),
            ),
            (
                "server start to ready s",
                all.iter().map(|m| m.ready_s).collect(),
            ),
            (
                "coverage of one kind ms",
                all.iter().map(|m| m.coverage_kind_ms).collect(),
            ),
            (
                "peak RSS, party findings MB",
                all.iter().map(|m| m.peak_party).collect(),
            ),
        ];
        for (what, ys) in rows {
            let (a, b) = fit(&xb, &ys);
            let (_, br) = fit(&xr, &ys);
            println!("| {what} | {a:.2} | {b:.2} | {br:.2} |");
        }
    }
}
