//! Coverage on a network of several connected pieces: two demo towns side by side (demo
//! scale 2), each with its own streets. Every building and station must attach to the
//! nearest street of *any* piece within the access distance (checked by brute force), a
//! station must never reach a building of the other town, and the per-building distances of
//! the coverage model must equal pgRouting's exact super-source search on the same stored
//! edges. Over HTTP, `/api/coverage` must count off-network buildings as such.

mod common;

use common::{root, Template, TestDb, TestServer};
use std::collections::HashMap;
use wangge::cache::Registry;
use wangge::coverage::CoverageModel;
use wangge::domain::access::{Role, ScopeKind};
use wangge::import::DIR_LAYERS;
use wangge::spatial::network::{Network, NodeIx, Snap};
use wangge::spatial::walk::KindSelection;
use wangge::store::audit::Actor;

/// Straight distance in local metres from `p` to the nearest segment of every edge.
fn brute_nearest(net: &Network, p: geo::Coord<f64>) -> f64 {
    let proj = *net.projection();
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
    best
}

fn projected_leg(net: &Network, p: geo::Coord<f64>, s: &Snap) -> f64 {
    let proj = net.projection();
    let (q, on) = (proj.project(p), proj.project(s.on_edge));
    ((on.x - q.x).powi(2) + (on.y - q.y).powi(2)).sqrt()
}

/// pgRouting's distance (metres) of every node within `cutoff_m` of the nearest of the
/// snapped `sources`: one `pgr_drivingDistance` from a virtual node joined to both ends of
/// each source's edge by edges costing the access leg plus the way along the edge.
async fn pgr_from_snaps(
    conn: &mut sqlx::PgConnection,
    net: &Network,
    sources: &[Snap],
    cutoff_m: f64,
) -> HashMap<i64, f64> {
    let (mut nodes, mut costs) = (vec![], vec![]);
    for s in sources {
        let [a, b] = net.edge_ends(s.edge);
        let len = net.edge_len(s.edge);
        nodes.push(net.node_id(a));
        costs.push(s.access_m + s.offset_m);
        nodes.push(net.node_id(b));
        costs.push(s.access_m + (len - s.offset_m).max(0.0));
    }
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS seeds (node bigint, cost float8)")
        .execute(&mut *conn)
        .await
        .expect("seed table");
    sqlx::query("TRUNCATE seeds")
        .execute(&mut *conn)
        .await
        .expect("truncate");
    sqlx::query("INSERT INTO seeds SELECT * FROM unnest($1::bigint[], $2::float8[])")
        .bind(&nodes)
        .bind(&costs)
        .execute(&mut *conn)
        .await
        .expect("seeds");
    let rows: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT node, agg_cost FROM pgr_drivingDistance(\
           'SELECT id, source, target, length_m AS cost, length_m AS reverse_cost FROM network_edges \
            UNION ALL \
            SELECT -1 - row_number() OVER (), -1::bigint, node, cost, cost FROM seeds', \
           -1::bigint, $1::float8, directed => false) WHERE node <> -1",
    )
    .bind(cutoff_m)
    .fetch_all(&mut *conn)
    .await
    .expect("pgr_drivingDistance");
    rows.into_iter().collect()
}

#[tokio::test]
async fn two_towns_snap_to_their_own_streets_and_distances_equal_pgrouting() {
    let dir = std::env::temp_dir().join(format!("wangge-2towns-{}", uuid::Uuid::new_v4()));
    let mut opts = wangge::demo::GenerateOptions::new(1, 2);
    opts.divisions_csv = root().join(wangge::demo::DEFAULT_DIVISIONS_CSV);
    wangge::demo::generate(&opts, &dir).expect("generate two towns");
    let db = TestDb::new(Template::Empty).await;
    let store = db.store().await;
    for (layer, file) in DIR_LAYERS {
        store
            .import_file(
                layer,
                &dir.join(file),
                1.0,
                &Actor::system("test"),
                &|_, _| {},
            )
            .await
            .unwrap_or_else(|e| panic!("import {layer}: {e}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let registry = Registry::load(store.clone()).await.expect("load index");
    let snap = registry.snapshot();
    let net = snap.network.clone().expect("a walking network");
    let sizes = net.component_sizes();
    assert!(
        sizes.len() >= 2 && sizes[1] * 10 >= sizes[0],
        "two towns give at least two large pieces: {:?}",
        &sizes[..sizes.len().min(5)]
    );

    let max_access = 300.0;
    let m = CoverageModel::build(&snap, max_access).expect("model");
    assert_eq!(
        m.buildings.len() + m.off_network.len(),
        snap.buildings.items.len(),
        "every building is either on the network or reported off it"
    );
    // Buildings attach to the street pieces of both towns, not only the largest one.
    let mut pieces: HashMap<u32, usize> = HashMap::new();
    for b in &m.buildings {
        *pieces.entry(net.edge_component(b.snap.edge)).or_default() += 1;
    }
    assert!(
        pieces.values().filter(|&&n| n > 100).count() >= 2,
        "buildings of both towns on their own streets: {pieces:?}"
    );

    // Snapping equals brute force (nearest segment of any edge), within the access limit.
    for b in m.buildings.iter().step_by(m.buildings.len() / 150 + 1) {
        let at = snap.buildings.get(b.id).expect("building").anchor.0;
        let best = brute_nearest(&net, at);
        let ours = projected_leg(&net, at, &b.snap);
        assert!(
            (ours - best).abs() < 1e-6,
            "building {}: {ours} vs {best}",
            b.id
        );
        assert!(b.snap.access_m <= max_access);
    }
    for id in m.off_network.iter().take(50) {
        let at = snap.buildings.get(*id).expect("building").anchor.0;
        assert!(
            brute_nearest(&net, at) > max_access * 0.99,
            "building {id} has a street within reach but was left off"
        );
    }

    // A what-if scenario's kinds are searched again only near the changed stations: the
    // answer equals a search of the whole network from every station of the scenario.
    let cutoff_w = 500.0;
    let kinds: Vec<String> = ["elderly_care", "clinic", "culture"]
        .map(String::from)
        .to_vec();
    let sel = KindSelection::AnyOf(kinds.clone());
    m.coverage(&m.stations, &sel, cutoff_w);
    let mut scenario = m.stations.clone();
    let mut edits = 0;
    for (i, s) in scenario.iter_mut().enumerate() {
        if kinds.iter().any(|k| k == s.kind.as_str()) && i % 3 == 0 {
            // About 400 m north-east: far enough to change who is reached.
            let to = geo::Coord {
                x: s.point.x + 0.003,
                y: s.point.y + 0.002,
            };
            if let Some(sn) = m.snap(to) {
                s.point = to;
                s.snap = sn;
                edits += 1;
            }
        }
    }
    let removed = scenario
        .iter()
        .position(|s| s.kind.as_str() == "clinic")
        .expect("a clinic");
    scenario.remove(removed);
    let mut added = m.stations[0].clone();
    added.id = 0;
    added.code = "WI-TEST".into();
    added.kind = wangge::domain::StationKind::Culture;
    added.point = geo::Coord {
        x: added.point.x + 0.004,
        y: added.point.y,
    };
    added.snap = m.snap(added.point).expect("a street near the new station");
    scenario.push(added);
    assert!(edits >= 3, "the scenario moves stations ({edits})");
    let local = m.coverage(&scenario, &sel, cutoff_w);
    let sources: Vec<wangge::spatial::walk::Station> = scenario
        .iter()
        .map(|s| wangge::spatial::walk::Station {
            id: s.id,
            kind: s.kind.as_str().to_string(),
            snap: s.snap,
        })
        .collect();
    let full = m.engine().coverage_for_kinds(&sources, &kinds, cutoff_w);
    let mut differ = 0;
    for (k, kind) in kinds.iter().enumerate() {
        assert_eq!(local.per_kind[k], full.per_kind[k], "{kind}: totals");
        for row in 0..m.buildings.len() {
            let (a, b) = (local.nearest_m(k, row), full.nearest_m(k, row));
            assert!(
                match (a, b) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                    (None, None) => true,
                    _ => false,
                },
                "{kind}: building row {row}: local {a:?} vs full {b:?}"
            );
        }
        let before = m.coverage(&m.stations, &KindSelection::one(kind), cutoff_w);
        differ += (0..m.buildings.len())
            .filter(|&r| before.nearest_m(0, r) != full.nearest_m(k, r))
            .count();
    }
    assert!(differ > 100, "the scenario changes distances ({differ})");

    // Distances per kind equal pgRouting's, and never cross from one town to the other.
    let mut conn = sqlx::Connection::connect(&db.url).await.expect("connect");
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pgrouting")
        .execute(&mut conn)
        .await
        .expect("pgrouting");
    let cutoff = 1000.0;
    let mut compared = 0usize;
    for kind in ["elderly_care", "clinic", "party_mass_centre"] {
        let stations: Vec<_> = m
            .stations
            .iter()
            .filter(|s| s.kind.as_str() == kind)
            .cloned()
            .collect();
        assert!(!stations.is_empty(), "the demo has {kind} stations");
        let report = m.coverage(&stations, &KindSelection::one(kind), cutoff);
        let snaps: Vec<Snap> = stations.iter().map(|s| s.snap).collect();
        let pg = pgr_from_snaps(&mut conn, &net, &snaps, cutoff).await;
        let node_d = |n: NodeIx| pg.get(&net.node_id(n)).copied().unwrap_or(f64::INFINITY);
        let reached_pieces: std::collections::BTreeSet<u32> =
            snaps.iter().map(|s| net.edge_component(s.edge)).collect();
        for (row, b) in m.buildings.iter().enumerate() {
            let s = b.snap;
            let [a, c] = net.edge_ends(s.edge);
            let len = net.edge_len(s.edge);
            let mut want = (node_d(a) + s.offset_m).min(node_d(c) + len - s.offset_m) + s.access_m;
            // A station on the building's own edge reaches it along the edge directly.
            for st in snaps.iter().filter(|st| st.edge == s.edge) {
                want = want.min(st.access_m + (st.offset_m - s.offset_m).abs() + s.access_m);
            }
            let got = report.nearest_m(0, row).unwrap_or(f64::INFINITY);
            if want <= cutoff - 1e-6 {
                assert!(
                    (got - want).abs() <= 0.5,
                    "{kind}: building {}: {got} vs pgRouting {want}",
                    b.id
                );
                compared += 1;
            } else if want > cutoff + 1e-6 {
                assert!(
                    got.is_infinite(),
                    "{kind}: building {} beyond reach got {got}",
                    b.id
                );
            }
            if got.is_finite() {
                assert!(
                    reached_pieces.contains(&net.edge_component(s.edge)),
                    "{kind}: building {} reached from another piece of the network",
                    b.id
                );
            }
        }
    }
    assert!(
        compared > 1000,
        "only {compared} building distances compared"
    );
    println!("{compared} building distances equal pgRouting's within 0.5 m");
}

#[tokio::test]
async fn off_network_buildings_are_counted_per_grid_over_http() {
    // The demo town with a 40 m access limit: most buildings are off the network, and the
    // answer must say so per grid while counting them as not covered.
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start_with(&db, |c| c.max_access_m = 40.0).await;
    s.add_account("admin", Role::Admin, "GYKFQ", ScopeKind::Region, &[], &[])
        .await;
    s.become_admin().await;
    let (code, body) = s.get("/api/coverage?kind=elderly_care&minutes=10").await;
    assert_eq!(code, 200, "{body}");
    let t = &body["totals"];
    let off = t["buildings_off_network"]
        .as_u64()
        .expect("off-network count");
    let all = t["buildings"].as_u64().expect("count");
    assert!(off > 0 && off < all, "{t}");
    assert!(t["buildings_covered"].as_u64().unwrap() <= all - off, "{t}");
    let per_grid: u64 = body["grids2"]
        .as_array()
        .expect("grids2")
        .iter()
        .map(|g| g["buildings_off_network"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        per_grid, off,
        "per-grid off-network counts add up to the total"
    );
    // With the default 300 m every demo building reaches a street.
    let mut s2 = TestServer::start(&db).await;
    s2.become_admin().await;
    let (_, body) = s2.get("/api/coverage?kind=elderly_care&minutes=10").await;
    assert_eq!(
        body["totals"]["buildings_off_network"], 0,
        "{}",
        body["totals"]
    );
    assert_eq!(body["totals"]["buildings"], all);
}
