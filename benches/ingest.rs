//! Patrol ingestion: throughput and latency of `PUT /api/patrols/{id}` (a whole patrol with
//! a 200-point track, checked, measured and committed) against a release `wangge serve`,
//! and, in the same run on the same PostgreSQL cluster, pgbench inserting the same rows
//! (the patrol with its track, its grid share and its chunk of 200 points) in one
//! statement per transaction: the database's own ceiling for this write. Prints a
//! markdown table.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge cargo bench --bench ingest
//! # WANGGE_BENCH_CLIENTS=8 WANGGE_BENCH_SECONDS=20 WANGGE_PGBENCH=/usr/lib/postgresql/15/bin/pgbench
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use chrono::{Duration, Utc};
use common::patrols::{free_port, serve, staff_patrols, walk, whole, SOUTH_WEST};
use common::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use uuid::Uuid;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pgbench() -> PathBuf {
    if let Ok(p) = std::env::var("WANGGE_PGBENCH") {
        return PathBuf::from(p);
    }
    for v in ["17", "16", "15", "14", "13"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/pgbench"));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("pgbench")
}

/// A point of a walk: longitude, latitude, time.
type Fix = (f64, f64, chrono::DateTime<Utc>);

/// Transactions per second and latency percentiles of one run.
struct Run {
    what: String,
    done: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.done as f64 / self.seconds
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Uploads patrols from `clients` clients for `seconds`.
async fn http_run(base: &str, token: &str, clients: u64, seconds: u64, label: &str) -> Run {
    let grid = format!("{C}0101");
    // A few bodies made up front (the id is in the path), so the clients spend little
    // of the two shared cores on making JSON.
    let start = Utc::now() - Duration::hours(6);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..16)
            .map(|k| {
                let w = walk(SOUTH_WEST, start + Duration::minutes(k), 200, 4);
                serde_json::to_vec(&whole(&[&grid], &w, json!([]))).expect("json")
            })
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let (bodies, stop) = (bodies.clone(), stop.clone());
        let (base, token) = (base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = vec![];
            let mut k = c as usize;
            while !stop.load(Ordering::Relaxed) {
                let body = bodies[k % bodies.len()].clone();
                k += 1;
                let t = Instant::now();
                let r = http
                    .put(format!("{base}/api/patrols/{}", Uuid::new_v4()))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                assert_eq!(status, 201, "upload refused");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    tokio::time::sleep(StdDuration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    let secs = began.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    Run {
        what: label.to_string(),
        done: lat.len(),
        seconds: secs,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    }
}

/// The pgbench script: one transaction inserting what one upload stores.
async fn pgbench_script(pool: &sqlx::PgPool) -> String {
    let (account, staff, grid): (i64, Option<i64>, i64) = sqlx::query_as(
        "SELECT a.id, a.staff_id, g.id FROM accounts a, current_grids g \
         WHERE a.username = 'patrol' AND g.code = $1",
    )
    .bind(format!("{C}0101"))
    .fetch_one(pool)
    .await
    .expect("ids");
    let w = walk(SOUTH_WEST, Utc::now() - Duration::hours(6), 200, 4);
    let list = |f: &dyn Fn(&Fix) -> String| w.iter().map(f).collect::<Vec<_>>().join(",");
    let lons = list(&|p| format!("{}", p.0));
    let lats = list(&|p| format!("{}", p.1));
    let ts = list(&|p| format!("\"{}\"", p.2.to_rfc3339()));
    let acc = list(&|_| "5".to_string());
    let wkt = list(&|p| format!("{} {}", p.0, p.1));
    let (first, last) = (w[0].2.to_rfc3339(), w[199].2.to_rfc3339());
    let staff = staff.map_or("NULL".to_string(), |s| s.to_string());
    // pgbench reads one SQL command per line unless it ends with a backslash-free
    // semicolon; keep the statement on one line.
    format!(
        "WITH p AS (INSERT INTO patrols (id, account_id, staff_id, started_at, ended_at, chunks, crs, notes, body_hash, \
         complete, track, points, length_m, walked_m, max_speed_kmh, speed_flags, completed_at) VALUES (gen_random_uuid(), \
         {account}, {staff}, '{first}', '{last}', 1, 'wgs84', '每周巡查', sha256(random()::text::bytea), true, \
         ST_GeomFromText('LINESTRING({wkt})', 4326), 200, 3800.0, 3800.0, 4.7, '[]', now()) RETURNING id), \
         g AS (INSERT INTO patrol_grids (patrol_id, grid_id, length_inside_m, share_inside) SELECT id, {grid}, 3700.0, 0.98 FROM p) \
         INSERT INTO patrol_chunks (patrol_id, seq, id, body_hash, lon, lat, t, accuracy_m, first_t, last_t) \
         SELECT id, 0, id, sha256(random()::text::bytea), '{{{lons}}}', '{{{lats}}}', '{{{ts}}}', '{{{acc}}}', '{first}', '{last}' FROM p;\n"
    )
}

/// Runs pgbench with the script and reads its per-transaction log.
async fn pgbench_run(db: &TestDb, script: &str, clients: u64, seconds: u64) -> Run {
    let dir = std::env::temp_dir().join(format!("wangge-ingest-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("patrol.sql");
    std::fs::write(&file, script).expect("script");
    let out = Command::new(pgbench())
        .current_dir(&dir)
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(4).to_string(),
            "-T",
            &seconds.to_string(),
            "-l",
            "--log-prefix",
            "tx",
            "-f",
        ])
        .arg(&file)
        .arg(&db.url)
        .stderr(Stdio::inherit())
        .output()
        .expect("run pgbench (set WANGGE_PGBENCH to its path)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pgbench failed: {text}");
    let mut lat = vec![];
    for e in std::fs::read_dir(&dir).expect("logs").flatten() {
        if e.file_name().to_string_lossy().starts_with("tx") {
            for line in std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
            {
                // client_id transaction_no time_us script_no time_epoch time_us
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    lat.push(us / 1000.0);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("pgbench prints its tps");
    lat.sort_by(f64::total_cmp);
    Run {
        what: "pgbench: the same rows, one INSERT … RETURNING statement per transaction".into(),
        done: lat.len(),
        seconds: lat.len() as f64 / tps,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    }
}

async fn bench() {
    let clients = setting("WANGGE_BENCH_CLIENTS", 8);
    let seconds = setting("WANGGE_BENCH_SECONDS", 20);
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    common::patrols::add_patrol2(&s).await;
    let pool = db.pool().await;
    staff_patrols(&s, &pool).await;
    let token = s.sign_in("patrol").await.token.expect("token");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = serve(
        &db,
        port,
        &[("WANGGE_POOL_SIZE", (clients + 4).to_string())],
    )
    .await;
    let script = pgbench_script(&pool).await;
    // Warm both paths up, then measure each for the same time with the same clients.
    http_run(&base, &token, clients, 2, "warm-up").await;
    pgbench_run(&db, &script, clients, 2).await;
    let http = http_run(
        &base,
        &token,
        clients,
        seconds,
        "HTTP `PUT /api/patrols/{id}`: 200-point track, checked, measured, committed",
    )
    .await;
    let pg = pgbench_run(&db, &script, clients, seconds).await;
    let _ = child.kill();
    let _ = child.wait();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM patrols WHERE account_id = (SELECT id FROM accounts WHERE username = 'patrol') AND crs = 'wgs84' AND complete")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(
        stored as usize >= http.done + pg.done,
        "every acknowledged upload is stored"
    );

    println!();
    println!("Patrol ingestion, {clients} concurrent clients, {seconds} s each, same PostgreSQL cluster:");
    println!();
    println!("| path | transactions | per second | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for r in [&http, &pg] {
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.1} |",
            r.what,
            r.done,
            r.rate(),
            r.p50_ms,
            r.p99_ms
        );
    }
    let share = http.rate() / pg.rate();
    println!();
    println!(
        "HTTP ingestion reaches {:.0}% of the database's own insert rate (goal: at least 50%).",
        share * 100.0
    );
}

fn main() {
    // `cargo test --all-targets` (and so `make test`) runs bench targets too: only
    // `cargo bench` passes `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "benches/ingest measures with a release server: run `cargo bench --bench ingest`"
        );
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
