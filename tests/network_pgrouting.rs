//! The in-memory walking network against PostGIS/pgRouting on real OSM data (Helsinki,
//! Campo Grande, Krems): import, save, load, then multi-source distances with a cutoff must
//! equal pgRouting's exact super-source `pgr_drivingDistance` within 0.5 m, with the same
//! reachable node set. Snapping and along-edge distances are checked by brute force.
//!
//! Needs `DATABASE_URL` (a server with PostGIS and pgRouting; the test creates and drops its
//! own database) and the OSM extracts in `../shared/data/osm` (or `WANGGE_OSM_DIR`).

use std::collections::HashMap;
use std::path::PathBuf;

use geo::{Coord, Intersects, Point};
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use wangge::spatial::isochrone::{isochrone, DEFAULT_WIDTH_M};
use wangge::spatial::network::{haversine, haversine_length, Network, NodeIx, Snap};
use wangge::spatial::osm::import_pbf;
use wangge::spatial::walk::{Dijkstra, TargetIndex};
use wangge::store::network::{load_network, pgr_multi_source_distances, save_network};

const CITIES: &[&str] = &["helsinki", "campo-grande", "krems"];

fn osm_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("WANGGE_OSM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/osm"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: OSM extracts not found in {} (set WANGGE_OSM_DIR)",
            dir.display()
        );
        None
    }
}

/// A throwaway database with PostGIS, pgRouting and the project's migrations.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> (Self, PgPool) {
        let admin_url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point at a PostgreSQL server with PostGIS and pgRouting \
             (e.g. postgres://postgres@127.0.0.1:55433/postgres); this test cannot run without it",
        );
        let name = format!("wangge_net_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to DATABASE_URL");
        // The name is generated above from hex digits only: safe as an identifier.
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        let pool = PgPool::connect(&url).await.expect("connect to test db");
        pool.execute(
            "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pgrouting;",
        )
        .await
        .expect("extensions postgis and pgrouting");
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .expect("migrations");
        (
            Self {
                admin_url,
                name,
                url,
            },
            pool,
        )
    }

    async fn drop(self, pool: PgPool) {
        pool.close().await;
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .expect("reconnect to DATABASE_URL");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop test database");
    }
}

#[tokio::test]
async fn distances_equal_pgrouting_on_osm_networks() {
    // Fail (not skip) without a database: the lead's Makefile always provides one.
    let (db, pool) = TestDb::create().await;
    let Some(dir) = osm_dir() else {
        db.drop(pool).await;
        return;
    };
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    for city in CITIES {
        let imported = import_pbf(dir.join(format!("{city}.osm.pbf"))).expect("import PBF");
        save_network(&mut conn, &imported).await.expect("save");
        let net = load_network(&pool).await.expect("load");
        assert_eq!(net.node_count(), imported.node_count());
        assert_eq!(net.edge_count(), imported.edge_count());
        assert!((net.total_length_m() - imported.total_length_m()).abs() < 1e-6);
        assert_eq!(net.component_sizes(), imported.component_sizes());
        let by_id: HashMap<i64, NodeIx> = (0..net.node_count() as NodeIx)
            .map(|n| (net.node_id(n), n))
            .collect();
        println!(
            "{city}: {} nodes, {} edges, {:.1} km, {} components (largest {} nodes)",
            net.node_count(),
            net.edge_count(),
            net.total_length_m() / 1000.0,
            net.component_sizes().len(),
            net.component_sizes()[0]
        );
        let mut dij = Dijkstra::new(&net);
        let mut checked = 0usize;
        for (stations, cutoff) in [(20usize, 1000.0), (100, 600.0), (400, 300.0), (7, 2500.0)] {
            let nodes: Vec<NodeIx> = (0..stations)
                .map(|_| rng.gen_range(0..net.node_count() as NodeIx))
                .collect();
            let ids: Vec<i64> = nodes.iter().map(|&n| net.node_id(n)).collect();
            let reference = pgr_multi_source_distances(&mut conn, &ids, cutoff)
                .await
                .expect("pgRouting");
            dij.run_from_nodes(&net, &nodes, cutoff);
            let mut pg_dist = vec![f64::INFINITY; net.node_count()];
            for (id, d) in &reference {
                let n = *by_id.get(id).expect("pgRouting returned a stored node");
                pg_dist[n as usize] = *d;
            }
            let mut mismatches = Vec::new();
            for (n, (&ours, &theirs)) in dij.distances().iter().zip(&pg_dist).enumerate() {
                let same = match (ours.is_finite(), theirs.is_finite()) {
                    (true, true) => (ours - theirs).abs() <= 0.5,
                    (false, false) => true,
                    // Floating-point ties at the cutoff itself are not a disagreement.
                    (true, false) => (ours - cutoff).abs() < 1e-6,
                    (false, true) => (theirs - cutoff).abs() < 1e-6,
                };
                if !same {
                    mismatches.push((net.node_id(n as NodeIx), ours, theirs));
                }
            }
            assert!(
                mismatches.is_empty(),
                "{city}, {stations} stations, {cutoff} m: {} of {} nodes differ, e.g. {:?}",
                mismatches.len(),
                net.node_count(),
                &mismatches[..mismatches.len().min(5)]
            );
            assert_eq!(
                dij.reached().len(),
                reference.len(),
                "{city}: reachable sets"
            );
            checked += reference.len();

            // Buildings: snapped random points, distances from the pgRouting node distances.
            let targets: Vec<Snap> = (0..300)
                .map(|_| net.snap(random_point(&net, &mut rng)).expect("snap"))
                .collect();
            let index = TargetIndex::new(&net, &targets);
            let station_snaps: Vec<Snap> =
                nodes.iter().filter_map(|&n| net.snap_at_node(n)).collect();
            dij.run_from_snaps(&net, &station_snaps, cutoff);
            let mut got = Vec::new();
            index.distances(&net, &dij, &station_snaps, &mut got);
            for (t, s) in targets.iter().enumerate() {
                let [a, b] = net.edge_ends(s.edge);
                let len = net.edge_len(s.edge);
                let want = (pg_dist[a as usize] + s.offset_m)
                    .min(pg_dist[b as usize] + len - s.offset_m)
                    + s.access_m;
                if want <= cutoff - 1e-6 {
                    assert!(
                        (got[t] - want).abs() <= 0.5,
                        "{city}: target {t}: {} vs {want}",
                        got[t]
                    );
                } else if want > cutoff + 1e-6 {
                    assert!(
                        got[t].is_infinite(),
                        "{city}: target {t} beyond cutoff got {}",
                        got[t]
                    );
                }
            }
        }
        println!("{city}: {checked} node distances equal pgRouting's within 0.5 m");
    }
    drop(conn);
    db.drop(pool).await;
}

fn random_point(net: &Network, rng: &mut impl Rng) -> Coord<f64> {
    // Near a random node so that points fall where the network is.
    let n = rng.gen_range(0..net.node_count() as NodeIx);
    let c = net.node_coord(n);
    Coord {
        x: c.x + rng.gen_range(-0.002..0.002),
        y: c.y + rng.gen_range(-0.002..0.002),
    }
}

#[test]
fn snapping_matches_brute_force_on_osm_networks() {
    let Some(dir) = osm_dir() else { return };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(77);
    for city in CITIES {
        let net = import_pbf(dir.join(format!("{city}.osm.pbf"))).expect("import PBF");
        let proj = *net.projection();
        for _ in 0..300 {
            let p = random_point(&net, &mut rng);
            let s = net.snap(p).expect("snap");
            // Brute force: nearest point over every segment of every edge, in local metres.
            let q = proj.project(p);
            let mut best = f64::INFINITY;
            for e in 0..net.edge_count() as u32 {
                for w in net.edge_geometry(e).windows(2) {
                    let (a, b) = (proj.project(w[0]), proj.project(w[1]));
                    let (dx, dy) = (b.x - a.x, b.y - a.y);
                    let l2 = dx * dx + dy * dy;
                    let t = if l2 > 0.0 {
                        (((q.x - a.x) * dx + (q.y - a.y) * dy) / l2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let (x, y) = (a.x + t * dx - q.x, a.y + t * dy - q.y);
                    best = best.min((x * x + y * y).sqrt());
                }
            }
            let on = proj.project(s.on_edge);
            let ours = ((on.x - q.x).powi(2) + (on.y - q.y).powi(2)).sqrt();
            assert!(
                (ours - best).abs() < 1e-6,
                "{city}: snap {ours} m vs brute force {best} m"
            );
            // Access leg is the geodesic length of that same straight leg (within 0.5%).
            assert!((s.access_m - ours).abs() <= 0.005 * ours + 0.01);
            // Offset: walk the geometry to the snapped point.
            let g = net.edge_geometry(s.edge);
            let mut walked = f64::INFINITY;
            for k in 0..g.len() - 1 {
                let mut part = g[..=k].to_vec();
                part.push(s.on_edge);
                let (a, b) = (proj.project(g[k]), proj.project(g[k + 1]));
                let cross = (b.x - a.x) * (on.y - a.y) - (b.y - a.y) * (on.x - a.x);
                let seg = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
                if seg > 0.0 && (cross / seg).abs() < 1e-6 {
                    let within = (on.x - a.x) * (b.x - on.x) + (on.y - a.y) * (b.y - on.y) >= -1e-9;
                    if within {
                        walked = walked.min(haversine_length(&part));
                    }
                }
            }
            if walked.is_finite() {
                assert!((s.offset_m - walked).abs() < 1e-6 || s.offset_m <= walked + 1e-6);
            }
            assert!(s.offset_m >= 0.0 && s.offset_m <= net.edge_len(s.edge));
        }
        println!("{city}: 300 snaps equal brute force");

        // Isochrones contain every reachable node and no node much farther than the limit.
        let mut dij = Dijkstra::new(&net);
        for k in 0..5u32 {
            let n = (k * 7919) % net.node_count() as u32;
            let station = net.snap_at_node(n).expect("node with an edge");
            let iso = isochrone(&net, &mut dij, &[station], 400.0, DEFAULT_WIDTH_M);
            for &r in dij.reached() {
                assert!(
                    iso.intersects(&Point(net.node_coord(r))),
                    "{city}: reached node outside the isochrone"
                );
            }
            // Everything inside lies within limit + band of the station as the crow flies
            // (network distance is never shorter than the straight line).
            for v in 0..net.node_count() as NodeIx {
                if iso.intersects(&Point(net.node_coord(v))) {
                    let crow = haversine(net.node_coord(v), net.node_coord(n));
                    assert!(
                        crow <= 400.0 + 1.2 * DEFAULT_WIDTH_M,
                        "{city}: node {crow:.0} m away inside a 400 m isochrone"
                    );
                }
            }
        }
    }
}
