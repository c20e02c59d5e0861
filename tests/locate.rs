//! The in-process index gives the same answers as PostGIS on the demo district: for 10,000
//! random points and for every grid vertex (points on shared boundaries), the second-level
//! grid, first-level grid and community found by the R-tree equal `ST_Covers` in PostGIS
//! (lowest id when several cover a point).

mod common;

use common::*;
use geo::{Coord, CoordsIter};
use rand::{Rng, SeedableRng};
use wangge::domain::GridLevel;

#[tokio::test]
async fn locate_matches_postgis_on_the_demo() {
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    s.add_account(
        "admin",
        wangge::domain::access::Role::Admin,
        "GYKFQ",
        wangge::domain::access::ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    s.become_admin().await;
    let snap = s.state.registry.snapshot();
    assert!(snap.grids.items.len() > 50 && snap.buildings.items.len() > 3_000);

    // The district's box, widened so that some points fall outside every grid.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in &snap.communities.items {
        for p in c.geom.coords_iter() {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
    }
    let (dx, dy) = ((x1 - x0) * 0.05, (y1 - y0) * 0.05);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut points: Vec<Coord<f64>> = (0..10_000)
        .map(|_| Coord {
            x: rng.gen_range(x0 - dx..x1 + dx),
            y: rng.gen_range(y0 - dy..y1 + dy),
        })
        .collect();
    // Every vertex of every second-level grid, and the middle of every edge: points on
    // shared boundaries, where two grids cover the point and the lowest id must win.
    let mut vertices: Vec<Coord<f64>> = vec![];
    for g in snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::Second)
    {
        for poly in &g.geom.0 {
            for line in poly.exterior().lines() {
                vertices.push(line.start);
                vertices.push(Coord {
                    x: (line.start.x + line.end.x) / 2.0,
                    y: (line.start.y + line.end.y) / 2.0,
                });
            }
        }
    }
    vertices.sort_by(|a, b| {
        (a.x, a.y)
            .partial_cmp(&(b.x, b.y))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    vertices.dedup();
    let n_vertices = vertices.len();
    points.extend(vertices);

    let lons: Vec<f64> = points.iter().map(|p| p.x).collect();
    let lats: Vec<f64> = points.iter().map(|p| p.y).collect();
    type Row = (i64, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.n, \
           (SELECT g.id FROM current_grids g WHERE g.level = 2 AND ST_Covers(g.geom, t.p) ORDER BY g.id LIMIT 1), \
           (SELECT g.id FROM current_grids g WHERE g.level = 1 AND ST_Covers(g.geom, t.p) ORDER BY g.id LIMIT 1), \
           (SELECT c.id FROM communities c WHERE ST_Covers(c.geom, t.p) ORDER BY c.id LIMIT 1) \
         FROM (SELECT n, ST_SetSRID(ST_MakePoint(x, y), 4326) AS p \
               FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u(x, y, n)) t ORDER BY t.n",
    )
    .bind(&lons)
    .bind(&lats)
    .fetch_all(&db.pool().await)
    .await
    .expect("PostGIS answers");
    assert_eq!(rows.len(), points.len());
    let mut inside = 0;
    let mut mismatches = vec![];
    for ((_, pg2, pg1, pgc), p) in rows.iter().zip(&points) {
        let idx2 = snap.locate_grid2(*p);
        let idx1 = snap.grids.locate(GridLevel::First, *p).map(|g| g.id);
        let idxc = snap.communities.locate(*p).map(|c| c.id);
        if idx2.is_some() {
            inside += 1;
        }
        if (idx2, idx1, idxc) != (*pg2, *pg1, *pgc) {
            mismatches.push(format!(
                "{p:?}: index {:?} vs PostGIS {:?}",
                (idx2, idx1, idxc),
                (pg2, pg1, pgc)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} points differ:\n{}",
        mismatches.len(),
        points.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The sample is meaningful: most points inside, some outside, thousands on boundaries.
    assert!(
        inside > 5_000 && inside < points.len() - 1_000,
        "{inside} of {} inside",
        points.len()
    );
    assert!(n_vertices > 300, "{n_vertices} boundary points");

    // The HTTP answer is the index's answer (a sample, through the real server).
    for p in points.iter().step_by(500) {
        let (st, body) = s.get(&format!("/api/locate?lon={}&lat={}", p.x, p.y)).await;
        match snap.locate_grid2(*p) {
            Some(id) => {
                assert_eq!(st, 200, "{body}");
                assert_eq!(body["grid2"]["id"].as_i64(), Some(id));
            }
            None => assert_eq!(st, 404, "{body}"),
        }
    }

    // Every building's stored grid (kept by PostGIS) is the one the index finds for its anchor.
    for b in &snap.buildings.items {
        assert_eq!(
            snap.locate_grid2(b.anchor.0),
            Some(b.grid_id),
            "building {}",
            b.code
        );
    }
}
