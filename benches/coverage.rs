//! Coverage benchmark: Rust multi-source search vs pgRouting's exact super-source
//! `pgr_drivingDistance` vs pandana's `nearest_pois`, on the same network and stations in
//! one run. Networks: the Helsinki and Campo Grande OSM extracts (Campo Grande, ~14k edges,
//! is demo scale) and a perturbed 1001×501 lattice (1,001,500 edges). Prints medians and ratios.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres cargo bench --bench coverage`
//! Optional: `WANGGE_PYTHON` (a python with pandana; default `.wangge/venv/bin/python`;
//! `python -m venv .wangge/venv && .wangge/venv/bin/pip install pandana`),
//! `WANGGE_PANDANA_TIMEOUT_S` (default 1800), `WANGGE_BENCH_SKIP_LARGE=1`,
//! `WANGGE_BENCH_RUST_ONLY=1` (no baselines: for profiling), `WANGGE_OSM_DIR`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use geo::Coord;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection};
use wangge::spatial::isochrone::{isochrone, DEFAULT_WIDTH_M};
use wangge::spatial::network::{Network, NodeIx, Snap};
use wangge::spatial::osm::import_pbf;
use wangge::spatial::walk::{Accessibility, Building, Dijkstra, Station};
use wangge::spatial::whatif::KindScenario;
use wangge::store::network::{pgr_multi_source_distances, save_network};

const KINDS: usize = 9;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

fn ms(s: f64) -> String {
    if s < 0.001 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

struct Case {
    name: String,
    net: Network,
    buildings: usize,
    stations_per_kind: usize,
    cutoff: f64,
    runs: usize,
    pg_runs: usize,
    pandana_runs: usize,
}

struct Db {
    admin: String,
    name: String,
    url: String,
}

async fn create_db() -> Db {
    let admin = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at PostgreSQL with PostGIS and pgRouting: the pgRouting \
         baseline runs in the same benchmark",
    );
    let name = format!("wangge_bench_{:016x}", rand::random::<u64>());
    let mut c = PgConnection::connect(&admin)
        .await
        .expect("connect DATABASE_URL");
    c.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create bench database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let mut c = PgConnection::connect(&url).await.expect("connect bench db");
    c.execute("CREATE EXTENSION postgis; CREATE EXTENSION pgrouting;")
        .await
        .expect("extensions");
    c.execute(include_str!("../migrations/0003_network.sql"))
        .await
        .expect("network tables");
    Db { admin, name, url }
}

async fn drop_db(db: Db) {
    let mut c = PgConnection::connect(&db.admin).await.expect("connect");
    c.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name).as_str())
        .await
        .expect("drop bench database");
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WANGGE_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".wangge/venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

fn write_arr<T: Copy>(dir: &Path, name: &str, v: &[T], to_bytes: impl Fn(T) -> [u8; 8]) {
    let mut out = Vec::with_capacity(v.len() * 8);
    for &x in v {
        out.extend_from_slice(&to_bytes(x));
    }
    std::fs::write(dir.join(name), out).expect("write bench array");
}

/// Runs the pandana script with a time limit (`WANGGE_PANDANA_TIMEOUT_S`, default 1800 s:
/// its contraction-hierarchy build can take very long on large lattices).
fn run_pandana(script: &Path, dir: &Path, case: &Case) -> Option<serde_json::Value> {
    let limit = std::env::var("WANGGE_PANDANA_TIMEOUT_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1800);
    let out_path = dir.join("pandana.out");
    let out = std::fs::File::create(&out_path).expect("pandana output file");
    let started = Instant::now();
    let mut child = match Command::new(python())
        .arg(script)
        .arg(dir)
        .arg(case.cutoff.to_string())
        .arg(KINDS.to_string())
        .arg(case.pandana_runs.to_string())
        .stdout(out)
        .stderr(std::process::Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("pandana: SKIPPED (cannot run {}: {e})", python().display());
            return None;
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => {
                println!("pandana: SKIPPED (script failed: {status})");
                return None;
            }
            Ok(None) if started.elapsed().as_secs() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                println!(
                    "pandana: did not finish within {limit} s (Network() contraction hierarchy \
                     still building); no query figure"
                );
                return None;
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(200)),
            Err(e) => {
                println!("pandana: SKIPPED ({e})");
                return None;
            }
        }
    }
    // pandana prints progress on stdout too: the script marks its JSON line.
    std::fs::read_to_string(&out_path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("WANGGE_JSON "))
        .and_then(|l| serde_json::from_str(l).ok())
}

async fn run_case(case: Case, db: Option<&Db>) {
    let net = &case.net;
    println!(
        "\n=== {}: {} nodes, {} edges, {:.0} km; {} buildings; {} kinds × {} stations; cutoff {} m",
        case.name,
        net.node_count(),
        net.edge_count(),
        net.total_length_m() / 1000.0,
        case.buildings,
        KINDS,
        case.stations_per_kind,
        case.cutoff
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let main: Vec<NodeIx> = (0..net.node_count() as NodeIx)
        .filter(|&n| net.component(n) == 0)
        .collect();
    let (t_snap, buildings) = time(|| {
        (0..case.buildings)
            .filter_map(|i| {
                let c = net.node_coord(main[rng.gen_range(0..main.len())]);
                let p = Coord {
                    x: c.x + rng.gen_range(-0.0008..0.0008),
                    y: c.y + rng.gen_range(-0.0008..0.0008),
                };
                net.snap(p).map(|snap| Building {
                    id: i as i64,
                    residents: rng.gen_range(20..400),
                    households: rng.gen_range(10..150),
                    snap,
                })
            })
            .collect::<Vec<_>>()
    });
    let station_nodes: Vec<Vec<NodeIx>> = (0..KINDS)
        .map(|_| {
            (0..case.stations_per_kind)
                .map(|_| main[rng.gen_range(0..main.len())])
                .collect()
        })
        .collect();
    let stations: Vec<Station> = station_nodes
        .iter()
        .enumerate()
        .flat_map(|(k, ns)| {
            ns.iter().filter_map(move |&n| {
                net.snap_at_node(n).map(|snap| Station {
                    id: i64::from(n),
                    kind: format!("k{k}"),
                    snap,
                })
            })
        })
        .collect();
    let kind0: Vec<Snap> = stations
        .iter()
        .filter(|s| s.kind == "k0")
        .map(|s| s.snap)
        .collect();
    println!("snapping {} buildings: {}", buildings.len(), ms(t_snap));

    // --- Rust ---
    let (t_prep, mut acc) = time(|| Accessibility::new(net, &buildings));
    let mut out = Vec::new();
    acc.nearest_m(&kind0, case.cutoff, &mut out); // warm-up: buffers sized once
    let rust_reached = acc.dijkstra().reached().len();
    let one = median(
        (0..case.runs)
            .map(|_| time(|| acc.nearest_m(&kind0, case.cutoff, &mut out)).0)
            .collect(),
    );
    let covered = out.iter().filter(|d| d.is_finite()).count();
    let kind_snaps: Vec<Vec<Snap>> = (0..KINDS)
        .map(|k| {
            let kind = format!("k{k}");
            stations
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| s.snap)
                .collect()
        })
        .collect();
    let each = median(
        (0..case.runs.div_ceil(3).max(3))
            .map(|_| {
                time(|| {
                    for ks in &kind_snaps {
                        acc.nearest_m(ks, case.cutoff, &mut out);
                    }
                })
                .0
            })
            .collect(),
    );
    let mut report = None;
    let threads = acc.threads();
    acc.set_threads(1);
    let all_seq = median(
        (0..case.runs.div_ceil(3).max(3))
            .map(|_| time(|| acc.coverage(&stations, case.cutoff)).0)
            .collect(),
    );
    acc.set_threads(threads);
    let all = median(
        (0..case.runs.div_ceil(3).max(3))
            .map(|_| {
                let (t, r) = time(|| acc.coverage(&stations, case.cutoff));
                report = Some(r);
                t
            })
            .collect(),
    );
    println!(
        "rust: engine prepare {}; one kind {} (nodes reached {}, buildings covered {}); all {} kinds {} on 1 thread, {} on {} threads (distances only, 1 thread: {})",
        ms(t_prep),
        ms(one),
        rust_reached,
        covered,
        KINDS,
        ms(all_seq),
        ms(all),
        threads,
        ms(each)
    );
    if let Some(r) = &report {
        let sel = wangge::spatial::walk::KindSelection::AllOf(r.kinds.clone());
        let t = r.totals(&sel, |_| true);
        println!(
            "      all-kinds coverage: {:.1}% of residents reach every kind",
            t.residents_pct()
        );
    }

    // What-if: move one station of kind 0 to a random node, incrementally.
    let targets = acc.targets().clone();
    let snaps = acc.building_snaps().to_vec();
    let (t_sc, mut sc) = time(|| KindScenario::new(net, &targets, &snaps, &kind0, case.cutoff));
    let moves: Vec<Snap> = (0..50)
        .filter_map(|_| net.snap_at_node(main[rng.gen_range(0..main.len())]))
        .collect();
    let mut move_times = Vec::new();
    for (i, m) in moves.iter().enumerate() {
        let slot = i % kind0.len().max(1);
        let (t, r) = time(|| sc.move_to(slot, *m));
        if r.is_ok() {
            move_times.push(t);
        }
    }
    let add_times: Vec<f64> = moves
        .iter()
        .take(20)
        .map(|m| time(|| sc.add(*m)).0)
        .collect();
    println!(
        "rust what-if: scenario set-up {}; move one station median {} (max {}); add median {}",
        ms(t_sc),
        ms(median(move_times.clone())),
        ms(move_times.iter().copied().fold(0.0, f64::max)),
        ms(median(add_times))
    );
    let mut dij = Dijkstra::new(net);
    let iso_t = median(
        (0..5)
            .map(|i| {
                let s = kind0[i % kind0.len()];
                time(|| isochrone(net, &mut dij, &[s], case.cutoff, DEFAULT_WIDTH_M)).0
            })
            .collect(),
    );
    println!(
        "rust isochrone (one station, {} m): {}",
        case.cutoff,
        ms(iso_t)
    );

    let Some(db) = db else { return };

    // --- pgRouting ---
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let t = Instant::now();
    save_network(&mut conn, net).await.expect("save network");
    let t_save = t.elapsed().as_secs_f64();
    // VACUUM too: otherwise autovacuum works on the fresh tables during the next timings.
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .expect("analyze");
    let ids0: Vec<i64> = station_nodes[0].iter().map(|&n| net.node_id(n)).collect();
    let mut pg_one = Vec::new();
    let mut pg_reached = 0;
    for _ in 0..case.pg_runs {
        let t = Instant::now();
        let rows = pgr_multi_source_distances(&mut conn, &ids0, case.cutoff)
            .await
            .expect("pgRouting");
        pg_one.push(t.elapsed().as_secs_f64());
        pg_reached = rows.len();
    }
    let pg_one = median(pg_one);
    let t = Instant::now();
    for ns in &station_nodes {
        let ids: Vec<i64> = ns.iter().map(|&n| net.node_id(n)).collect();
        pgr_multi_source_distances(&mut conn, &ids, case.cutoff)
            .await
            .expect("pgRouting");
    }
    let pg_all = t.elapsed().as_secs_f64();
    println!(
        "pgRouting: save network {:.1} s; one kind {} (nodes reached {}); all {} kinds {}",
        t_save,
        ms(pg_one),
        pg_reached,
        KINDS,
        ms(pg_all)
    );
    if pg_reached != rust_reached {
        println!(
            "WARNING: reached node counts differ (rust {rust_reached}, pgRouting {pg_reached})"
        );
    }

    // --- pandana ---
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".wangge/bench")
        .join(case.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let xs: Vec<f64> = net.node_coords().iter().map(|c| c.x).collect();
    let ys: Vec<f64> = net.node_coords().iter().map(|c| c.y).collect();
    write_arr(&dir, "node_x.f64", &xs, f64::to_le_bytes);
    write_arr(&dir, "node_y.f64", &ys, f64::to_le_bytes);
    let (mut ef, mut et, mut ew) = (Vec::new(), Vec::new(), Vec::new());
    for e in 0..net.edge_count() as u32 {
        let [s, t] = net.edge_ends(e);
        ef.push(i64::from(s));
        et.push(i64::from(t));
        ew.push(net.edge_len(e));
    }
    write_arr(&dir, "edge_from.i64", &ef, i64::to_le_bytes);
    write_arr(&dir, "edge_to.i64", &et, i64::to_le_bytes);
    write_arr(&dir, "edge_w.f64", &ew, f64::to_le_bytes);
    for (k, ns) in station_nodes.iter().enumerate() {
        let v: Vec<i64> = ns.iter().map(|&n| i64::from(n)).collect();
        write_arr(&dir, &format!("poi_{k}.i64"), &v, i64::to_le_bytes);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pandana_coverage.py");
    let pandana = run_pandana(&script, &dir, &case);
    let f = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    if let Some(p) = &pandana {
        println!(
            "pandana {}: Network() {:.2} s + precompute {:.2} s + set_pois {} ; nearest_pois one kind {} (nodes < cutoff {}); all kinds {}",
            p.get("pandana").and_then(|x| x.as_str()).unwrap_or("?"),
            f(p, "build_s"),
            f(p, "precompute_s"),
            ms(f(p, "set_pois_all_kinds_s")),
            ms(f(p, "query_one_kind_s")),
            f(p, "reached_one_kind"),
            ms(f(p, "query_all_kinds_s"))
        );
    }
    // A query repeated on the same stations runs with warm caches and trained branch
    // predictors; the per-kind mean over the 9 different kinds is the conservative figure.
    let per_kind = each / KINDS as f64;
    println!("--- ratios (other / rust; >1 means rust is faster)");
    println!(
        "one kind:  pgRouting {:.0}x vs rust per-kind mean over {KINDS} kinds ({}), {:.0}x vs rust same query repeated",
        pg_one / per_kind,
        ms(per_kind),
        pg_one / one
    );
    println!(
        "all kinds: pgRouting {:.0}x (wangge on 1 thread), {:.0}x (wangge on {threads} threads)",
        pg_all / all_seq,
        pg_all / all
    );
    if let Some(p) = &pandana {
        println!(
            "one kind:  pandana query {:.1}x, pandana query+set_pois {:.1}x, pandana incl. precompute {:.0}x (vs rust per-kind mean)",
            f(p, "query_one_kind_s") / per_kind,
            (f(p, "query_one_kind_s") + f(p, "set_pois_all_kinds_s") / KINDS as f64) / per_kind,
            (f(p, "query_one_kind_s") + f(p, "build_s") + f(p, "precompute_s")) / per_kind
        );
        println!(
            "all kinds: pandana query {:.1}x",
            f(p, "query_all_kinds_s") / all
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rust_only = std::env::var_os("WANGGE_BENCH_RUST_ONLY").is_some();
    let db = if rust_only {
        None
    } else {
        Some(rt.block_on(create_db()))
    };
    let osm = std::env::var_os("WANGGE_OSM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/osm"));
    let mut cases = Vec::new();
    match import_pbf(osm.join("helsinki.osm.pbf")) {
        Ok(net) => cases.push(Case {
            name: "helsinki (OSM)".into(),
            net,
            buildings: 5_000,
            stations_per_kind: 20,
            cutoff: 500.0,
            runs: 200,
            pg_runs: 5,
            pandana_runs: 5,
        }),
        Err(e) => println!("helsinki: SKIPPED ({e})"),
    }
    match import_pbf(osm.join("campo-grande.osm.pbf")) {
        Ok(net) => cases.push(Case {
            name: "campo-grande (OSM, demo scale)".into(),
            net,
            buildings: 10_000,
            stations_per_kind: 30,
            cutoff: 500.0,
            runs: 200,
            pg_runs: 5,
            pandana_runs: 5,
        }),
        Err(e) => println!("campo-grande: SKIPPED ({e})"),
    }
    if std::env::var_os("WANGGE_BENCH_SKIP_LARGE").is_none() {
        cases.push(Case {
            name: "lattice 1001x501".into(),
            net: Network::synthetic_lattice(1001, 501, 80.0, 0.3, 105.84, 32.43, 11)
                .expect("lattice"),
            buildings: 200_000,
            stations_per_kind: 400,
            cutoff: 600.0,
            runs: 15,
            pg_runs: 3,
            pandana_runs: 1,
        });
    }
    for case in cases {
        rt.block_on(run_case(case, db.as_ref()));
    }
    if let Some(db) = db {
        rt.block_on(drop_db(db));
    }
}
