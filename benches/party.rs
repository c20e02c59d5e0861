//! Party-cell assignment at scale: the full re-assignment of every party member from the
//! in-process index against the same assignment done by PostGIS with a spatial join, in one
//! run on the same database; and the boundary-change preview of a typical single-grid change
//! (a second-level grid takes over its sibling's area), end to end over HTTP.
//!
//! ```sh
//! export DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge
//! cargo bench --bench party            # scale 100; WANGGE_BENCH_SCALE=10 for a quick run
//! ```
//!
//! The first run generates the demo district at the scale (`WANGGE_BENCH_DIR`, default
//! `/tmp/demo{scale}`) and loads it into a database of its own on the same server
//! (`wangge_bench_party_{scale}`), which later runs reuse; `WANGGE_BENCH_RELOAD=1` rebuilds it.
//! Prints a markdown table of medians.

use geo::BooleanOps;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wangge::cache::Registry;
use wangge::config::Config;
use wangge::domain::access::{Role, ScopeKind};
use wangge::domain::registry::Grid;
use wangge::domain::GridLevel;
use wangge::http::{app, AppState};
use wangge::spatial::assign::{assign_members_on, threads, Overlay, Proposed};
use wangge::store::accounts::NewAccount;
use wangge::store::audit::Actor;
use wangge::store::Store;

fn url_for(base: &str, name: &str) -> String {
    let (head, tail) = match base.find('?') {
        Some(q) => (&base[..q], &base[q..]),
        None => (base, ""),
    };
    let cut = head.rfind('/').expect("a database URL has a path");
    format!("{}/{name}{tail}", &head[..cut])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn prepare(base: &str, scale: u32) -> String {
    let dir = std::env::var("WANGGE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(format!("/tmp/demo{scale}")));
    let name = format!("wangge_bench_party_{scale}");
    let url = url_for(base, &name);
    let mut admin = PgConnection::connect(&url_for(base, "postgres"))
        .await
        .expect("connect to the server");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("pg_database");
    let reload = std::env::var("WANGGE_BENCH_RELOAD").is_ok_and(|v| v == "1");
    if exists && !reload {
        let store = Store::connect(&url, 2).await.expect("connect bench db");
        store.migrate().await.expect("migrate");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM party_assignments")
            .fetch_one(&store.pool)
            .await
            .unwrap_or(0);
        if n > 0 {
            eprintln!("reusing {name} ({n} assigned members)");
            return url;
        }
    }
    if !dir.join("party.json").exists() {
        eprintln!(
            "generating the demo at scale {scale} into {}",
            dir.display()
        );
        let mut opts = wangge::demo::GenerateOptions::new(1, scale);
        opts.divisions_csv =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(wangge::demo::DEFAULT_DIVISIONS_CSV);
        wangge::demo::generate(&opts, &dir).expect("generate the demo");
    }
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create");
    let store = Store::connect(&url, 4).await.expect("connect bench db");
    store.migrate().await.expect("migrate");
    let t = Instant::now();
    store
        .import_dir(&dir, 1.0, &Actor::system("bench"), &|layer, done, total| {
            if done == total {
                eprintln!("  loaded {layer}");
            }
        })
        .await
        .expect("load the demo");
    eprintln!("loaded {} in {:.0?}", dir.display(), t.elapsed());
    let hash = wangge::auth::hash_password("bench password 123").expect("hash");
    store
        .create_account(
            &NewAccount {
                username: "bench".into(),
                display_name: "bench".into(),
                role: Role::Admin,
                scope_kind: ScopeKind::Region,
                region_code: wangge::demo::ZONE_CODE.into(),
                communities: vec![],
                grids: vec![],
                staff_code: None,
            },
            &hash,
            &Actor::system("bench"),
        )
        .await
        .expect("bench account");
    sqlx::query("VACUUM ANALYZE")
        .execute(&store.pool)
        .await
        .expect("analyze");
    url
}

/// A merge of the first two second-level grids of a first-level grid.
fn merge(a: &Grid, b: &Grid) -> (serde_json::Value, Vec<Proposed>) {
    let merged = a.geom.union(&b.geom);
    let body = json!({ "changes": [
        { "op": "delete", "code": b.code, "version": b.version },
        { "op": "update", "code": a.code, "version": a.version,
          "feature": { "type": "Feature", "properties": {}, "geometry": geojson::Geometry::from(&merged) } },
    ]});
    let batch = vec![
        Proposed::Delete {
            code: b.code.clone(),
            version: b.version,
        },
        Proposed::Update {
            code: a.code.clone(),
            version: a.version,
            name: None,
            geom: Some(merged),
        },
    ];
    (body, batch)
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`: this benchmark
    // loads a large district, so it runs only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("benches/party.rs runs under `cargo bench --bench party` only");
        return;
    }
    let base = std::env::var("DATABASE_URL").expect("set DATABASE_URL to a PostGIS server");
    let scale: u32 = std::env::var("WANGGE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let url = prepare(&base, scale).await;
    let store = Store::connect(&url, 8).await.expect("connect");
    let registry = Registry::load(store.clone()).await.expect("load index");
    let snap = registry.snapshot();

    // Full re-assignment: the index (members' homes in memory, then read from PostGIS too)
    // against PostGIS's spatial join.
    let homes = store.party_member_homes().await.expect("homes");
    let n_threads = threads();
    let mut rust_n = vec![];
    let mut rust_1 = vec![];
    let mut rust_read = vec![];
    let mut pg = vec![];
    let mut rust_cells = vec![];
    let mut pg_cells = vec![];
    for round in 0..5 {
        let t = Instant::now();
        rust_cells = assign_members_on(&snap, &homes, n_threads);
        rust_n.push(t.elapsed());
        let t = Instant::now();
        let _ = assign_members_on(&snap, &homes, 1);
        rust_1.push(t.elapsed());
        let t = Instant::now();
        let h = store.party_member_homes().await.expect("homes");
        let _ = assign_members_on(&snap, &h, n_threads);
        rust_read.push(t.elapsed());
        let t = Instant::now();
        pg_cells = store.assign_members_in_postgis().await.expect("postgis");
        pg.push(t.elapsed());
        eprintln!(
            "round {round}: index {} ({n_threads} threads), {} (1 thread), {} (with reading), PostGIS {}",
            ms(rust_n[round]),
            ms(rust_1[round]),
            ms(rust_read[round]),
            ms(pg[round])
        );
    }
    assert_eq!(rust_cells.len(), pg_cells.len());
    let differ = homes
        .iter()
        .zip(&rust_cells)
        .zip(&pg_cells)
        .filter(|(((p, _), c), (pp, g))| p != pp || c.map(|c| c.group) != *g)
        .count();
    assert_eq!(
        differ, 0,
        "the index and PostGIS disagree on {differ} members"
    );
    let buildings: std::collections::BTreeSet<i64> = homes.iter().map(|h| h.1).collect();

    // Preview of a typical single-grid change, over HTTP against the bench database.
    let mut config = Config::for_database(&url);
    config.login_delay_scale = 0.0;
    let state = AppState::new(store.clone(), registry.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("http://{addr}/api/auth/login"))
        .json(&json!({ "username": "bench", "password": "bench password 123", "token": true }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    let token = login["token"].as_str().expect("token").to_string();
    let mut l1: Vec<&Grid> = snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::First)
        .collect();
    l1.sort_by(|a, b| a.code.cmp(&b.code));
    let step = (l1.len() / 25).max(1);
    let mut http_times = vec![];
    let mut overlay_times = vec![];
    let mut moved = vec![];
    for parent in l1.iter().step_by(step) {
        let mut kids: Vec<&Grid> = snap.grids.children(parent.id).collect();
        kids.sort_by(|a, b| a.code.cmp(&b.code));
        let (body, batch) = merge(kids[0], kids[1]);
        let t = Instant::now();
        let o = Overlay::new(&snap, &batch).expect("valid batch");
        let faults = o
            .partition_faults(1.0)
            .expect("no deadline outside the pool");
        let m = o.building_moves().expect("no deadline outside the pool");
        overlay_times.push(t.elapsed());
        assert!(faults.is_empty(), "{}: {faults:?}", kids[0].code);
        let t = Instant::now();
        let r = http
            .post(format!("http://{addr}/api/party/preview"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("preview");
        let status = r.status();
        let p: serde_json::Value = r.json().await.expect("preview body");
        http_times.push(t.elapsed());
        assert!(status.is_success(), "{p}");
        assert_eq!(p["commit"]["ok"], true, "{p}");
        assert_eq!(p["buildings"]["moved"].as_u64(), Some(m.moves.len() as u64));
        moved.push(p["members"]["moved"].as_i64().unwrap_or(0));
    }
    // Rule findings over HTTP: one community, and the whole zone.
    let community = snap
        .communities
        .items
        .iter()
        .map(|c| c.code.clone())
        .min()
        .expect("a community");
    let timed_get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let mut times = vec![];
            let mut count = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let r = http
                    .get(format!("http://{addr}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("findings");
                assert!(r.status().is_success());
                let v: serde_json::Value = r.json().await.expect("findings body");
                times.push(t.elapsed());
                count = v["count"].as_u64().unwrap_or(0);
            }
            (median(times), count)
        }
    };
    let one = timed_get(format!(
        "/api/party/findings?year=2024&community={community}"
    ))
    .await;
    let zone = timed_get("/api/party/findings?year=2024".to_string()).await;
    let mut sorted = http_times.clone();
    sorted.sort();
    let p90 = sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)];
    moved.sort();

    let (r1, rn, rr, p) = (
        median(rust_1),
        median(rust_n),
        median(rust_read),
        median(pg),
    );
    println!();
    println!(
        "Party-cell assignment at scale {scale}: {} members in {} buildings, {} second-level grids; {} threads available.",
        homes.len(),
        buildings.len(),
        snap.grids.items.iter().filter(|g| g.level == GridLevel::Second).count(),
        n_threads
    );
    println!();
    println!("| operation | median | runs | vs PostGIS |");
    println!("|---|---|---|---|");
    let x = |d: Duration| format!("{:.1}x", p.as_secs_f64() / d.as_secs_f64());
    println!(
        "| full re-assignment, PostGIS spatial join (`ST_Covers`, GiST) | {} | 5 | 1.0x |",
        ms(p)
    );
    println!(
        "| full re-assignment, index, {n_threads} threads | {} | 5 | {} |",
        ms(rn),
        x(rn)
    );
    println!(
        "| full re-assignment, index, 1 thread | {} | 5 | {} |",
        ms(r1),
        x(r1)
    );
    println!(
        "| full re-assignment, index, reading members' homes from PostGIS first | {} | 5 | {} |",
        ms(rr),
        x(rr)
    );
    println!(
        "| preview of a single-grid change over HTTP (merge of two second-level grids; {} members moving, median) | {} (p90 {}) | {} | |",
        moved[moved.len() / 2],
        ms(median(http_times.clone())),
        ms(p90),
        http_times.len()
    );
    println!(
        "| the same preview, overlay only (store checks, building moves; no HTTP, no SQL) | {} | {} | |",
        ms(median(overlay_times.clone())),
        overlay_times.len()
    );
    println!(
        "| rule findings of one community over HTTP ({} findings) | {} | 5 | |",
        one.1,
        ms(one.0)
    );
    println!(
        "| rule findings of the whole zone over HTTP ({} communities, {} findings) | {} | 5 | |",
        snap.communities.items.len(),
        zone.1,
        ms(zone.0)
    );
}
