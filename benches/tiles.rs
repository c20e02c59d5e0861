//! Tile throughput and latency, side by side in one run: PostGIS `ST_AsMVT` per request
//! (the baseline other tile servers use) vs our in-process source, cold and cached.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:55434/postgres cargo bench --bench tiles`
//! Optional: `TILES_BENCH_WORKERS` (default 2 × cores), `TILES_BENCH_SECONDS` (default 3).
//!
//! The database at its best: pgbench runs the same `ST_AsMVT` query prepared (`-M
//! prepared`), the tile drawn at random from the same set (a one-row primary-key lookup in
//! a table of the set's tiles), at 1, 2, 4 and 8 clients, several rounds, the best client
//! count by its median; the sqlx pool's rate is kept for reference. Then the same on the
//! demo district's second-level grids at scale 1 and scale 100 (`WANGGE_BENCH_SCALES`,
//! default `1,100`; databases `wangge_bench_s{S}` shared with the locate benchmark):
//! every non-empty z15 tile (at most 2,000, evenly sampled) and every non-empty z13 tile,
//! our source cold and cached against pgbench. `WANGGE_PGBENCH_SECONDS` (default 5),
//! `WANGGE_BENCH_ROUNDS` (default 3).

#[path = "support/demo_db.rs"]
mod demo_db;
#[path = "support/pgbench.rs"]
mod pgbench;
#[path = "../tests/tiles_support/mod.rs"]
mod tiles_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tiles_support::{lattice, pg_tile, Cell, TestDb};
use wangge::spatial::tiles::{
    all_features, decode_tile, tiles_covering, CacheConfig, TileCache, TileId, TileKey, TileSource,
};

#[derive(Debug, Clone)]
struct Run {
    set: &'static str,
    method: String,
    workers: usize,
    requests: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }
}

fn summarise(
    set: &'static str,
    method: String,
    workers: usize,
    wall: Duration,
    mut lat: Vec<Duration>,
) -> Run {
    lat.sort_unstable();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Run {
        set,
        method,
        workers,
        requests: lat.len(),
        secs: wall.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// Runs `job(i)` for i in 0..n on `workers` OS threads, recording each call's latency.
fn run_threads(
    workers: usize,
    n: usize,
    job: &(dyn Fn(usize) + Sync),
) -> (Duration, Vec<Duration>) {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let lat: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::with_capacity(n / workers + 1);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let t = Instant::now();
                        job(i);
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });
    (start.elapsed(), lat)
}

/// Same shape for PostGIS: `workers` tasks sharing a pool of `workers` connections.
async fn run_pg(
    db: &TestDb,
    workers: usize,
    tiles: &Arc<Vec<TileId>>,
    n: usize,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (pool, next, tiles) = (db.pool.clone(), next.clone(), tiles.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = tiles[i % tiles.len()];
                let s = Instant::now();
                let bytes = pg_tile(&pool, t.z(), t.x(), t.y()).await;
                std::hint::black_box(bytes);
                mine.push(s.elapsed());
            }
            mine
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("PostGIS worker"));
    }
    (start.elapsed(), lat)
}

/// Requests needed to keep a method busy for about `secs`, from a calibration rate.
fn sized(rate: f64, secs: f64, tiles: usize) -> usize {
    let n = (rate * secs) as usize;
    n.max(tiles).div_ceil(tiles) * tiles
}

fn main() {
    let workers: usize = std::env::var("TILES_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        });
    let secs: f64 = std::env::var("TILES_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let t0 = Instant::now();
    let cells = lattice(100, 100, 150.0, 42);
    let vertices: usize = cells
        .iter()
        .map(|c| geo::CoordsIter::coords_count(&c.polygon))
        .sum();
    let db = rt.block_on(async {
        let db = TestDb::create((2 * workers) as u32).await;
        db.load_cells(&cells).await;
        db
    });
    let load_pg = t0.elapsed();
    let t1 = Instant::now();
    let source = Arc::new(TileSource::new(
        "grids",
        cells.iter().map(Cell::source_feature).collect(),
    ));
    let load_ours = t1.elapsed();
    let bounds = source.bounds().expect("features");
    let z15: Vec<TileId> = tiles_covering(bounds, 15).expect("zoom").collect();
    let z1314: Vec<TileId> = [13u8, 14]
        .iter()
        .flat_map(|&z| tiles_covering(bounds, z).expect("zoom").collect::<Vec<_>>())
        .collect();

    println!(
        "\n{} polygons ({} vertices) around 105.7E 32.4N; {} z15 tiles, {} z13+z14 tiles; \
         {} cores; PostGIS load {:.1}s, R-tree build {:.0}ms\n",
        cells.len(),
        vertices,
        z15.len(),
        z1314.len(),
        cores,
        load_pg.as_secs_f64(),
        load_ours.as_secs_f64() * 1e3
    );

    // Same features in both outputs (sanity, and warms PostGIS's buffers and plans).
    let (mut ours_n, mut pg_n, mut ours_b, mut pg_b) = (0usize, 0usize, 0usize, 0usize);
    for &t in &z15 {
        let a = source.render(t, &all_features);
        let b = rt.block_on(pg_tile(&db.pool, t.z(), t.x(), t.y()));
        let count = |v: &[u8]| {
            decode_tile(v).map_or(0, |ls| ls.iter().map(|l| l.features.len()).sum::<usize>())
        };
        ours_n += count(&a);
        pg_n += count(&b);
        ours_b += a.len();
        pg_b += b.len();
    }
    println!(
        "z15 check: {ours_n} features / {:.1} KiB per tile from us, {pg_n} features / {:.1} KiB per tile from PostGIS\n",
        ours_b as f64 / z15.len() as f64 / 1024.0,
        pg_b as f64 / z15.len() as f64 / 1024.0
    );

    let mut runs: Vec<Run> = Vec::new();
    for (set, tiles) in [("z15", z15), ("z13+z14", z1314)] {
        let tiles = Arc::new(tiles);
        // (a) PostGIS, at two pool sizes; the better one is the baseline.
        for w in [workers, 2 * workers] {
            let (cal_wall, cal) = rt.block_on(run_pg(&db, w, &tiles, tiles.len()));
            let n = sized(cal.len() as f64 / cal_wall.as_secs_f64(), secs, tiles.len());
            let (wall, lat) = rt.block_on(run_pg(&db, w, &tiles, n));
            runs.push(summarise(set, "PostGIS ST_AsMVT".into(), w, wall, lat));
        }
        let script = rt.block_on(tile_table(
            &db.pool,
            &tiles,
            "SELECT ST_AsMVT(t, 'grids', 4096, 'geom', 'id') FROM (\
             SELECT g.id, g.code, g.community, g.households, g.party, \
             ST_AsMVTGeom(ST_Transform(g.geom, 3857), ST_TileEnvelope(b.z, b.x, b.y), 4096, 64, true) AS geom \
             FROM bench_tiles b JOIN grids g \
             ON g.geom && ST_Transform(ST_TileEnvelope(b.z, b.x, b.y, margin => 64.0 / 4096), 4326) \
             WHERE b.n = :n) t;",
        ));
        runs.push(pgbench_run(set, &db.url(), &script));
        // (b) cold: every request misses (a new variant per pass), renders and inserts.
        let cache = TileCache::new(CacheConfig {
            max_bytes: 1 << 30,
            ..CacheConfig::default()
        });
        let cold = |i: usize| {
            let t = tiles[i % tiles.len()];
            let key = TileKey::new("grids", t, format!("cold{}", i / tiles.len()));
            let b = cache
                .get_or_render(&key, || {
                    Ok::<_, ()>(Bytes::from(source.render(t, &all_features)))
                })
                .unwrap_or_default();
            std::hint::black_box(b);
        };
        let (cal_wall, cal) = run_threads(workers, tiles.len(), &cold);
        cache.clear();
        let n = sized(cal.len() as f64 / cal_wall.as_secs_f64(), secs, tiles.len());
        let n = n.min(tiles.len() * 2000);
        let (wall, lat) = run_threads(workers, n, &cold);
        assert_eq!(cache.stats().hits, 0, "cold run must not hit");
        runs.push(summarise(
            set,
            "ours, cold (R-tree + encode + insert)".into(),
            workers,
            wall,
            lat,
        ));
        cache.clear();
        // Encode cost alone, one thread, no cache: the CPU price of a cold tile.
        let solo = |i: usize| {
            std::hint::black_box(source.render(tiles[i % tiles.len()], &all_features));
        };
        let (cal_wall, cal) = run_threads(1, tiles.len(), &solo);
        let n = sized(
            cal.len() as f64 / cal_wall.as_secs_f64(),
            secs / 2.0,
            tiles.len(),
        );
        let (wall, lat) = run_threads(1, n, &solo);
        runs.push(summarise(
            set,
            "ours, render only (no cache)".into(),
            1,
            wall,
            lat,
        ));
        // (c) warm: the same keys again and again.
        for &t in tiles.iter() {
            cache.insert(
                TileKey::new("grids", t, "all"),
                cache.generation(),
                Bytes::from(source.render(t, &all_features)),
            );
        }
        let warm = |i: usize| {
            let t = tiles[i % tiles.len()];
            let b = cache.get(&TileKey::new("grids", t, "all"));
            assert!(b.is_some(), "warm run must hit");
            std::hint::black_box(b);
        };
        let (cal_wall, cal) = run_threads(workers, tiles.len() * 20, &warm);
        let n = sized(cal.len() as f64 / cal_wall.as_secs_f64(), secs, tiles.len()).min(50_000_000);
        let (wall, lat) = run_threads(workers, n, &warm);
        runs.push(summarise(set, "ours, cached".into(), workers, wall, lat));
    }

    print_runs(&runs);
    drop(db);

    // The demo district's second-level grids, at each scale.
    let scales: Vec<u32> = std::env::var("WANGGE_BENCH_SCALES")
        .unwrap_or_else(|_| "1,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = tiles_support::database_url();
    for scale in scales {
        let runs = rt.block_on(demo_scale(&base, scale, workers, secs));
        print_runs(&runs);
    }
}

/// Fills `bench_tiles (n, z, x, y)` with the tiles (n from 1) and returns the pgbench
/// script that draws one at random and runs `query` (which reads `b.z`, `b.x`, `b.y` of the
/// row `b.n = :n`).
async fn tile_table(pool: &sqlx::PgPool, tiles: &[TileId], query: &str) -> String {
    sqlx::query("DROP TABLE IF EXISTS bench_tiles")
        .execute(pool)
        .await
        .expect("drop");
    sqlx::query("CREATE TABLE bench_tiles (n int PRIMARY KEY, z int, x int, y int)")
        .execute(pool)
        .await
        .expect("create");
    let n: Vec<i32> = (1..=tiles.len() as i32).collect();
    let z: Vec<i32> = tiles.iter().map(|t| i32::from(t.z())).collect();
    let x: Vec<i32> = tiles.iter().map(|t| t.x() as i32).collect();
    let y: Vec<i32> = tiles.iter().map(|t| t.y() as i32).collect();
    sqlx::query(
        "INSERT INTO bench_tiles SELECT * FROM UNNEST($1::int[], $2::int[], $3::int[], $4::int[])",
    )
    .bind(&n)
    .bind(&z)
    .bind(&x)
    .bind(&y)
    .execute(pool)
    .await
    .expect("insert tiles");
    sqlx::query("ANALYZE bench_tiles")
        .execute(pool)
        .await
        .expect("analyze");
    format!("\\set n random(1, {})\n{query}\n", tiles.len())
}

/// pgbench at its best on a tile script, as a row of the table.
fn pgbench_run(set: &'static str, url: &str, script: &str) -> Run {
    let secs = setting("WANGGE_PGBENCH_SECONDS", 5) as u32;
    let rounds = setting("WANGGE_BENCH_ROUNDS", 3) as usize;
    let (best, all) = pgbench::best(url, script, secs, rounds);
    eprintln!("pgbench {set}: {}", pgbench::describe(&all));
    Run {
        set,
        method: "pgbench ST_AsMVT, prepared, best client count".into(),
        workers: best.clients as usize,
        requests: best.transactions,
        secs: best.transactions as f64 / best.tps,
        p50: Duration::from_secs_f64(best.p50_ms / 1e3),
        p99: Duration::from_secs_f64(best.p99_ms / 1e3),
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Second-level grids of the demo at `scale`: our source (cold and cached) against pgbench.
async fn demo_scale(base: &str, scale: u32, workers: usize, secs: f64) -> Vec<Run> {
    use wangge::domain::GridLevel;
    use wangge::spatial::tiles::{Feature, SourceFeature, Value};
    let url = demo_db::prepare(base, scale).await;
    let store = wangge::store::Store::connect(&url, 4)
        .await
        .expect("connect");
    let registry = wangge::cache::Registry::load(store.clone())
        .await
        .expect("load");
    let snap = registry.snapshot();
    // The same properties on both sides: code, name, level, version.
    let features: Vec<SourceFeature> = snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::Second)
        .map(|g| {
            SourceFeature::new(Feature {
                id: Some(g.id as u64),
                geometry: g.geom.clone().into(),
                properties: vec![
                    ("code".into(), Value::String(g.code.clone())),
                    ("name".into(), Value::String(g.name.clone())),
                    ("level".into(), Value::Int(2)),
                    ("version".into(), Value::Int(i64::from(g.version))),
                ],
            })
        })
        .collect();
    let n_grids = features.len();
    let source = TileSource::new("grids2", features);
    let bounds = source.bounds().expect("features");
    let query = "SELECT ST_AsMVT(t, 'grids2', 4096, 'geom', 'id') FROM (\
         SELECT g.id, g.code, g.name, g.level, g.version, \
         ST_AsMVTGeom(ST_Transform(g.geom, 3857), ST_TileEnvelope(b.z, b.x, b.y), 4096, 64, true) AS geom \
         FROM bench_tiles b JOIN current_grids g \
         ON g.level = 2 AND g.geom && ST_Transform(ST_TileEnvelope(b.z, b.x, b.y, margin => 64.0 / 4096), 4326) \
         WHERE b.n = :n) t;";
    let mut runs = vec![];
    for (set, z, cap) in [("z15", 15u8, 2000usize), ("z13", 13u8, 2000usize)] {
        let set: &'static str = Box::leak(format!("scale {scale} {set}").into_boxed_str());
        let all: Vec<TileId> = tiles_covering(bounds, z)
            .expect("zoom")
            .filter(|t| !source.render(*t, &all_features).is_empty())
            .collect();
        let step = all.len().div_ceil(cap).max(1);
        let tiles: Vec<TileId> = all.iter().step_by(step).copied().collect();
        let bytes: usize = tiles
            .iter()
            .map(|t| source.render(*t, &all_features).len())
            .sum();
        eprintln!(
            "scale {scale}: {n_grids} second-level grids; {} non-empty {set} tiles, {} used, {:.1} KiB a tile",
            all.len(),
            tiles.len(),
            bytes as f64 / tiles.len().max(1) as f64 / 1024.0
        );
        let script = tile_table(&store.pool, &tiles, query).await;
        let source = &source;
        let tiles = Arc::new(tiles);
        runs.push(pgbench_run(set, &url, &script));
        let cache = TileCache::new(CacheConfig {
            max_bytes: 1 << 30,
            ..CacheConfig::default()
        });
        let cold = |i: usize| {
            let t = tiles[i % tiles.len()];
            let key = TileKey::new("grids2", t, format!("cold{}", i / tiles.len()));
            let b = cache
                .get_or_render(&key, || {
                    Ok::<_, ()>(Bytes::from(source.render(t, &all_features)))
                })
                .unwrap_or_default();
            std::hint::black_box(b);
        };
        let (cal_wall, cal) = run_threads(workers, tiles.len(), &cold);
        cache.clear();
        let n = sized(cal.len() as f64 / cal_wall.as_secs_f64(), secs, tiles.len());
        let (wall, lat) = run_threads(workers, n.min(tiles.len() * 2000), &cold);
        runs.push(summarise(
            set,
            "ours, cold (R-tree + encode + insert)".into(),
            workers,
            wall,
            lat,
        ));
        cache.clear();
        for &t in tiles.iter() {
            cache.insert(
                TileKey::new("grids2", t, "all"),
                cache.generation(),
                Bytes::from(source.render(t, &all_features)),
            );
        }
        let warm = |i: usize| {
            let t = tiles[i % tiles.len()];
            let b = cache.get(&TileKey::new("grids2", t, "all"));
            assert!(b.is_some(), "warm run must hit");
            std::hint::black_box(b);
        };
        let (cal_wall, cal) = run_threads(workers, tiles.len() * 20, &warm);
        let n = sized(cal.len() as f64 / cal_wall.as_secs_f64(), secs, tiles.len()).min(50_000_000);
        let (wall, lat) = run_threads(workers, n, &warm);
        runs.push(summarise(set, "ours, cached".into(), workers, wall, lat));
    }
    sqlx::query("DROP TABLE IF EXISTS bench_tiles")
        .execute(&store.pool)
        .await
        .expect("drop");
    runs
}

fn print_runs(runs: &[Run]) {
    println!("| tile set | method | workers | requests | tiles/s | p50 | p99 | vs best PostGIS | vs pgbench |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let best = |prefix: &str| {
            runs.iter()
                .filter(|b| b.set == r.set && b.method.starts_with(prefix))
                .map(Run::rate)
                .fold(0.0, f64::max)
        };
        let ratio = |b: f64| {
            if b > 0.0 {
                format!("{:.1}x", r.rate() / b)
            } else {
                "".into()
            }
        };
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} |",
            r.set,
            r.method,
            r.workers,
            r.requests,
            r.rate(),
            fmt_d(r.p50),
            fmt_d(r.p99),
            ratio(best("PostGIS")),
            ratio(best("pgbench"))
        );
    }
    println!();
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.2} µs")
    }
}
