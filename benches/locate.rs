//! Locating points in grids: the in-process R-tree against PostGIS (GiST index), side by side
//! in one run, at scale 1 and scale 100 of the demo district.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:54329/wangge cargo bench --bench locate
//! WANGGE_BENCH_SCALES=1 cargo bench --bench locate      # only scale 1
//! ```
//!
//! For each scale it builds (once, then reuses) a database `wangge_bench_s{S}` with the
//! generated demo, and measures: loading the index from PostGIS and building its R-trees;
//! 1,000,000 lookups in the index on one core; one prepared PostGIS query per point over a
//! pool of connections (what a request would otherwise cost); and one set-based PostGIS
//! join of the same 1,000,000 points. Medians of several runs; ratios against the index.
//!
//! The database at its best is pgbench running the same prepared query with random points
//! over the same box (`-M prepared`), at 1, 2, 4 and 8 clients, several rounds, the best
//! client count by its median (`benches/support/pgbench.rs`): the sqlx pool above runs the
//! database well below that on two cores. `WANGGE_PGBENCH_SECONDS` (default 5) per run,
//! `WANGGE_BENCH_ROUNDS` (default 3), `WANGGE_PGBENCH_CLIENTS` (default `1,2,4,8`).

#[path = "support/demo_db.rs"]
mod demo_db;
#[path = "support/pgbench.rs"]
mod pgbench;

use demo_db::prepare;

use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use std::time::{Duration, Instant};
use wangge::cache::Registry;
use wangge::spatial::index::{BuildingLayer, GridLayer};
use wangge::store::Store;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    what: String,
    rate: f64,
    detail: String,
}

async fn bench_scale(base: &str, scale: u32) -> Vec<Row> {
    let url = prepare(base, scale).await;
    let store = Store::connect(&url, 16).await.expect("connect");
    let mut rows = vec![];

    // Loading the index from PostGIS, and building the R-trees from loaded records.
    let mut load = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        let r = Registry::load(store.clone()).await.expect("load");
        load.push(t.elapsed().as_secs_f64());
        drop(r);
    }
    let grids = store.grids(None).await.expect("grids");
    let buildings = store.buildings(None).await.expect("buildings");
    let (n_grids, n_buildings) = (grids.len(), buildings.len());
    let mut build = vec![];
    for _ in 0..5 {
        let (g, b) = (grids.clone(), buildings.clone());
        let t = Instant::now();
        let gl = GridLayer::new(g);
        let bl = BuildingLayer::new(b);
        build.push(t.elapsed().as_secs_f64());
        drop((gl, bl));
    }
    let registry = Registry::load(store.clone()).await.expect("load");
    let snap = registry.snapshot();

    // 1,000,000 points over the district's box.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in &snap.communities.items {
        use geo::BoundingRect;
        if let Some(r) = c.geom.bounding_rect() {
            x0 = x0.min(r.min().x);
            y0 = y0.min(r.min().y);
            x1 = x1.max(r.max().x);
            y1 = y1.max(r.max().y);
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let points: Vec<geo::Coord<f64>> = (0..1_000_000)
        .map(|_| geo::Coord {
            x: rng.gen_range(x0..x1),
            y: rng.gen_range(y0..y1),
        })
        .collect();

    // In-process, one core.
    let mut runs = vec![];
    let mut found = 0usize;
    for _ in 0..5 {
        let t = Instant::now();
        found = points
            .iter()
            .filter(|p| snap.locate_grid2(**p).is_some())
            .count();
        runs.push(points.len() as f64 / t.elapsed().as_secs_f64());
    }
    let index_rate = median(runs);
    rows.push(Row {
        what: format!("index: 1,000,000 lookups, 1 core (scale {scale})"),
        rate: index_rate,
        detail: format!(
            "{found} of 1,000,000 points inside a grid; {:.0} ns per lookup",
            1e9 / index_rate
        ),
    });

    // PostGIS, one prepared query per point over a pool (16 connections, 16 workers).
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await
        .expect("pool");
    let per_query_points: Vec<geo::Coord<f64>> = points.iter().take(20_000).copied().collect();
    let mut rates = vec![];
    let mut p50s = vec![];
    let mut p99s = vec![];
    for _ in 0..3 {
        let chunks: Vec<Vec<geo::Coord<f64>>> = per_query_points
            .chunks(per_query_points.len() / 16)
            .map(<[geo::Coord]>::to_vec)
            .collect();
        let t = Instant::now();
        let mut tasks = vec![];
        for chunk in chunks {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(chunk.len());
                for p in chunk {
                    let q = Instant::now();
                    let _: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM current_grids WHERE level = 2 \
                         AND ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY id LIMIT 1",
                    )
                    .bind(p.x)
                    .bind(p.y)
                    .fetch_optional(&pool)
                    .await
                    .expect("query");
                    lat.push(q.elapsed());
                }
                lat
            }));
        }
        let mut lat: Vec<Duration> = vec![];
        for t in tasks {
            lat.extend(t.await.expect("task"));
        }
        rates.push(per_query_points.len() as f64 / t.elapsed().as_secs_f64());
        lat.sort();
        p50s.push(lat[lat.len() / 2].as_secs_f64() * 1e3);
        p99s.push(lat[lat.len() * 99 / 100].as_secs_f64() * 1e3);
    }
    let pq_rate = median(rates);
    rows.push(Row {
        what: format!("PostGIS: prepared query per point, 16 connections (scale {scale})"),
        rate: pq_rate,
        detail: format!(
            "20,000 points; p50 {:.2} ms, p99 {:.2} ms per query",
            median(p50s),
            median(p99s)
        ),
    });

    // The database at its best: pgbench, the same prepared query, random points over the
    // same box, the best client count.
    let e6 = |v: f64| (v * 1e6).round() as i64;
    let script = format!(
        "\\set lon random({}, {}) / 1000000.0\n\\set lat random({}, {}) / 1000000.0\n\
         SELECT id FROM current_grids WHERE level = 2 AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY id LIMIT 1;\n",
        e6(x0),
        e6(x1),
        e6(y0),
        e6(y1)
    );
    let secs = setting("WANGGE_PGBENCH_SECONDS", 5) as u32;
    let rounds = setting("WANGGE_BENCH_ROUNDS", 3) as usize;
    let (pg_best, pg_all) = pgbench::best(&url, &script, secs, rounds);
    rows.push(Row {
        what: format!(
            "pgbench: the same prepared query, best of 1/2/4/8 clients (scale {scale})"
        ),
        rate: pg_best.tps,
        detail: format!(
            "best at {} clients: p50 {:.2} ms, p99 {:.2} ms; medians of {rounds} rounds of {secs} s: {}",
            pg_best.clients,
            pg_best.p50_ms,
            pg_best.p99_ms,
            pgbench::describe(&pg_all)
        ),
    });
    // The index again after pgbench, so that both sides see the same machine load.
    let mut runs = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        let n = points
            .iter()
            .filter(|p| snap.locate_grid2(**p).is_some())
            .count();
        std::hint::black_box(n);
        runs.push(points.len() as f64 / t.elapsed().as_secs_f64());
    }
    let index_rate_after = median(runs);

    // PostGIS, one set-based join of the 1,000,000 points (loaded into a table first; only
    // the join is timed).
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::query("DROP TABLE IF EXISTS bench_points")
        .execute(&mut *conn)
        .await
        .expect("drop");
    sqlx::query("CREATE UNLOGGED TABLE bench_points (n int, geom geometry(Point, 4326))")
        .execute(&mut *conn)
        .await
        .expect("create");
    for (i, chunk) in points.chunks(100_000).enumerate() {
        let xs: Vec<f64> = chunk.iter().map(|p| p.x).collect();
        let ys: Vec<f64> = chunk.iter().map(|p| p.y).collect();
        sqlx::query(
            "INSERT INTO bench_points SELECT $3 + n, ST_SetSRID(ST_MakePoint(x, y), 4326) \
             FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u(x, y, n)",
        )
        .bind(&xs)
        .bind(&ys)
        .bind((i * 100_000) as i32)
        .execute(&mut *conn)
        .await
        .expect("insert");
    }
    sqlx::query("ANALYZE bench_points")
        .execute(&mut *conn)
        .await
        .expect("analyze");
    let mut joins = vec![];
    let mut matched = 0i64;
    for _ in 0..3 {
        let t = Instant::now();
        matched = sqlx::query_scalar(
            "SELECT count(*) FROM bench_points p JOIN current_grids g \
             ON g.level = 2 AND ST_Covers(g.geom, p.geom)",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("join");
        joins.push(points.len() as f64 / t.elapsed().as_secs_f64());
    }
    let join_rate = median(joins);
    rows.push(Row {
        what: format!("PostGIS: set-based join of 1,000,000 points (scale {scale})"),
        rate: join_rate,
        detail: format!(
            "{matched} matches; {:.2} s per join (parallel workers allowed)",
            1e6 / join_rate
        ),
    });
    sqlx::query("DROP TABLE bench_points")
        .execute(&mut *conn)
        .await
        .expect("drop");

    rows.push(Row {
        what: format!("index load from PostGIS (scale {scale})"),
        rate: 0.0,
        detail: format!(
            "{:.3} s median of 3 ({n_grids} grids, {n_buildings} buildings, stations, staff)",
            median(load)
        ),
    });
    rows.push(Row {
        what: format!("R-tree build, grids and buildings (scale {scale})"),
        rate: 0.0,
        detail: format!("{:.1} ms median of 5", median(build) * 1e3),
    });
    println!(
        "\nscale {scale}: index / per-query PostGIS = {:.0}x; index / set-based join = {:.1}x; \
         index / pgbench at its best = {:.0}x (index {:.0}/s before pgbench, {:.0}/s after; \
         pgbench {:.0}/s at {} clients)",
        index_rate / pq_rate,
        index_rate / join_rate,
        index_rate.min(index_rate_after) / pg_best.tps,
        index_rate,
        index_rate_after,
        pg_best.tps,
        pg_best.clients
    );
    rows
}

#[tokio::main]
async fn main() {
    let base = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make db prints it)");
    let scales: Vec<u32> = std::env::var("WANGGE_BENCH_SCALES")
        .unwrap_or_else(|_| "1,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut all = vec![];
    for s in scales {
        all.extend(bench_scale(&base, s).await);
    }
    println!("\n| measurement | rate | detail |\n|---|---:|---|");
    for r in all {
        let rate = if r.rate > 0.0 {
            format!("{:.0}/s", r.rate)
        } else {
            "".into()
        };
        println!("| {} | {} | {} |", r.what, rate, r.detail);
    }
}
