//! Shared by `tests/tiles_peers.rs` and `benches/tiles.rs`: a deterministic lattice of
//! grid-like polygons around 105.7E 32.4N, and a private PostGIS database per run.
//!
//! Owns test data and database set-up only; it must not hold assertions.
// Each of the two users (a test crate and a bench) uses only part of this module.
#![allow(dead_code)]

use geo::{Coord, LineString, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use wangge::spatial::tiles::{Feature, SourceFeature, Value};

/// Centre of the synthetic district.
pub const CENTER: (f64, f64) = (105.7, 32.4);

/// One lattice cell as a feature, plus the attributes stored in PostGIS.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Feature id (also the PostGIS primary key).
    pub id: u64,
    /// Grid code.
    pub code: String,
    /// Community the cell belongs to (the scope key).
    pub community: String,
    /// Households (an int attribute).
    pub households: i64,
    /// Has a party branch (a bool attribute).
    pub party: bool,
    /// Cell geometry in lon/lat.
    pub polygon: Polygon<f64>,
}

impl Cell {
    /// As a tile feature with the same attributes PostGIS holds.
    pub fn feature(&self) -> Feature {
        Feature {
            id: Some(self.id),
            geometry: self.polygon.clone().into(),
            properties: vec![
                ("code".into(), Value::from(self.code.as_str())),
                ("community".into(), Value::from(self.community.as_str())),
                ("households".into(), Value::Int(self.households)),
                ("party".into(), Value::Bool(self.party)),
            ],
        }
    }

    /// As a source feature scoped to its community.
    pub fn source_feature(&self) -> SourceFeature {
        SourceFeature::new(self.feature()).with_scope([self.community.clone()])
    }
}

fn edge_rng(seed: u64, kind: u64, i: usize, j: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (kind << 60) ^ ((i as u64) << 30) ^ (j as u64))
}

/// A `cols × rows` lattice of perturbed cells about `cell_m` metres across, centred on
/// [`CENTER`]. Neighbouring cells share their (subdivided, jittered) edges exactly, so the
/// cells tile the plane like real grid boundaries; each has 12–40 vertices and about one
/// in ten has a courtyard hole.
pub fn lattice(cols: usize, rows: usize, cell_m: f64, seed: u64) -> Vec<Cell> {
    let lat0 = CENTER.1.to_radians();
    let dlat = cell_m / 111_320.0;
    let dlon = cell_m / (111_320.0 * lat0.cos());
    let lon0 = CENTER.0 - dlon * cols as f64 / 2.0;
    let lat_s = CENTER.1 - dlat * rows as f64 / 2.0;
    // Corner vertices, jittered by up to 20% of a cell.
    let corner = |i: usize, j: usize| -> (f64, f64) {
        let mut r = edge_rng(seed, 1, i, j);
        let (fx, fy): (f64, f64) = if i == 0 || j == 0 || i == cols || j == rows {
            (0.0, 0.0)
        } else {
            (r.gen_range(-0.2..0.2), r.gen_range(-0.2..0.2))
        };
        (i as f64 + fx, j as f64 + fy)
    };
    // Points strictly between two corners; `kind` 2 = horizontal edge, 3 = vertical.
    let edge = |kind: u64, i: usize, j: usize, a: (f64, f64), b: (f64, f64)| {
        let mut r = edge_rng(seed, kind, i, j);
        let k: usize = r.gen_range(3..=10);
        let (nx, ny) = (-(b.1 - a.1), b.0 - a.0);
        (1..k)
            .map(|m| {
                let t = m as f64 / k as f64;
                let off: f64 = r.gen_range(-0.04..0.04);
                (
                    a.0 + t * (b.0 - a.0) + off * nx,
                    a.1 + t * (b.1 - a.1) + off * ny,
                )
            })
            .collect::<Vec<_>>()
    };
    let to_ll = |p: (f64, f64)| Coord {
        x: lon0 + p.0 * dlon,
        y: lat_s + p.1 * dlat,
    };
    let mut cells = Vec::with_capacity(cols * rows);
    for j in 0..rows {
        for i in 0..cols {
            let (c00, c10, c11, c01) = (
                corner(i, j),
                corner(i + 1, j),
                corner(i + 1, j + 1),
                corner(i, j + 1),
            );
            let mut ring = vec![c00];
            ring.extend(edge(2, i, j, c00, c10));
            ring.push(c10);
            ring.extend(edge(3, i + 1, j, c10, c11));
            ring.push(c11);
            ring.extend(edge(2, i, j + 1, c01, c11).into_iter().rev());
            ring.push(c01);
            ring.extend(edge(3, i, j, c00, c01).into_iter().rev());
            ring.push(c00);
            let id = (j * cols + i + 1) as u64;
            let mut r = edge_rng(seed, 4, i, j);
            let holes = if r.gen_ratio(1, 10) {
                let (cx, cy) = (i as f64 + 0.5, j as f64 + 0.5);
                let h = 0.1;
                vec![LineString::from(
                    [
                        (cx - h, cy - h),
                        (cx - h, cy + h),
                        (cx + h, cy + h),
                        (cx + h, cy - h),
                        (cx - h, cy - h),
                    ]
                    .into_iter()
                    .map(to_ll)
                    .collect::<Vec<_>>(),
                )]
            } else {
                vec![]
            };
            cells.push(Cell {
                id,
                code: format!("G{i:03}{j:03}"),
                community: format!("C{}{}", i / 10, j / 10),
                households: r.gen_range(80..600),
                party: r.gen_bool(0.3),
                polygon: Polygon::new(
                    LineString::from(ring.into_iter().map(to_ll).collect::<Vec<_>>()),
                    holes,
                ),
            });
        }
    }
    cells
}

/// A private database on the `DATABASE_URL` server with PostGIS, dropped on `Drop`.
pub struct TestDb {
    /// Pool on the private database.
    pub pool: PgPool,
    admin_url: String,
    name: String,
}

/// `DATABASE_URL`, or a clear failure: these tests need a real PostGIS server.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: tile peer tests and benchmarks need a PostgreSQL server \
             with PostGIS (e.g. postgres://postgres@127.0.0.1:55434/postgres); `make test` sets it"
        )
    })
}

fn options(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("DATABASE_URL {url} is not a Postgres URL: {e}"))
}

impl TestDb {
    /// The URL of the private database (for pgbench).
    pub fn url(&self) -> String {
        let cut = self.admin_url.rfind('/').unwrap_or(self.admin_url.len());
        format!("{}/{}", &self.admin_url[..cut], self.name)
    }

    /// Creates `wangge_tiles_<random>` with PostGIS and a pool of `max_conns` on it.
    pub async fn create(max_conns: u32) -> TestDb {
        let admin_url = database_url();
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL {admin_url}: {e}"));
        // The name is ours (hex digits only), so it is safe in the statement text;
        // CREATE DATABASE cannot take a bound parameter.
        let name = format!("wangge_tiles_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_conns)
            .connect_with(options(&admin_url).database(&name))
            .await
            .expect("connect to test database");
        sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
            .execute(&pool)
            .await
            .expect("PostGIS must be installed on the DATABASE_URL server");
        TestDb {
            pool,
            admin_url,
            name,
        }
    }

    /// Loads cells into `grids` (geometry(Polygon, 4326) with a GiST index).
    pub async fn load_cells(&self, cells: &[Cell]) {
        sqlx::query(
            "CREATE TABLE grids (id bigint PRIMARY KEY, code text NOT NULL, community text NOT NULL, \
             households bigint NOT NULL, party boolean NOT NULL, geom geometry(Polygon, 4326) NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .expect("create grids");
        for chunk in cells.chunks(2000) {
            let ids: Vec<i64> = chunk.iter().map(|c| c.id as i64).collect();
            let codes: Vec<String> = chunk.iter().map(|c| c.code.clone()).collect();
            let comms: Vec<String> = chunk.iter().map(|c| c.community.clone()).collect();
            let hh: Vec<i64> = chunk.iter().map(|c| c.households).collect();
            let party: Vec<bool> = chunk.iter().map(|c| c.party).collect();
            let geoms: Vec<String> = chunk
                .iter()
                .map(|c| geojson::Geometry::from(&c.polygon).to_string())
                .collect();
            sqlx::query(
                "INSERT INTO grids (id, code, community, households, party, geom) \
                 SELECT i, c, m, h, p, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) \
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bool[], $6::text[]) \
                 AS t(i, c, m, h, p, g)",
            )
            .bind(&ids)
            .bind(&codes)
            .bind(&comms)
            .bind(&hh)
            .bind(&party)
            .bind(&geoms)
            .execute(&self.pool)
            .await
            .expect("insert cells");
        }
        sqlx::query("CREATE INDEX grids_geom ON grids USING gist (geom)")
            .execute(&self.pool)
            .await
            .expect("gist index");
        sqlx::query("ANALYZE grids")
            .execute(&self.pool)
            .await
            .expect("analyze");
    }
}

/// The per-request query other tile servers run: one `ST_AsMVT` per tile.
pub const PG_TILE_SQL: &str = "\
SELECT ST_AsMVT(t, 'grids', 4096, 'geom', 'id') FROM (
  SELECT id, code, community, households, party,
         ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
  FROM grids
  WHERE geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)
) t";

/// One tile straight from PostGIS.
pub async fn pg_tile(pool: &PgPool, z: u8, x: u32, y: u32) -> Vec<u8> {
    let bytes: Option<Vec<u8>> = sqlx::query_scalar(PG_TILE_SQL)
        .bind(i32::from(z))
        .bind(x as i32)
        .bind(y as i32)
        .fetch_one(pool)
        .await
        .expect("ST_AsMVT query");
    bytes.unwrap_or_default()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime that this thread now blocks, so the pool is not
        // awaited here: a helper thread with its own runtime drops the database, and
        // WITH (FORCE) ends the pool's sessions server-side.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(admin) = PgPoolOptions::new().max_connections(1).connect(&url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            }
        })
        .join();
    }
}
