//! Patrol mode and the week view in a real browser (issue 6): starts the server on a fresh
//! copy of the demo district with the built app (web/dist), creates a patrol account linked
//! to a staff member of a first-level grid and that grid's chief, and runs
//! tests/e2e/patrol.mjs (playwright-core driving Debian's chromium). The script records a
//! patrol on a 390 px phone with simulated geolocation while the network is cut (a building
//! visit ticking two of its households, an incident with a photo, a reload), syncs the queue
//! once with one acknowledgement lost, sends the whole queue again, and checks the chief's
//! week view and the building's panel (the two households marked visited, no other);
//! screenshots go to tests/artifacts/.
//! Afterwards this test counts the rows in PostgreSQL: everything is stored exactly once.
//!
//! This test builds nothing: `make test` builds the app and installs the npm packages first.
//! When the app, playwright-core, chromium or node is missing it fails, saying what to run.

mod common;

use common::e2e::{preflight, run_script};
use common::*;
use std::time::{Duration, Instant};
use wangge::domain::access::{Role, ScopeKind};

/// The first-level grid of the test (陵江社区第1网格 in data/demo).
const GRID: &str = "51080210200101";
/// A member (网格员) of that grid in data/demo/staff.csv.
const PATROL_STAFF: &str = "510802102001-W02";
/// Track points the script walks; the app cuts a chunk every 50 (web/src/patrol/recorder.ts).
const WALK: i64 = 110;
const CHUNK: i64 = 50;
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

async fn count(pool: &sqlx::PgPool, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patrol_offline_in_a_real_browser() {
    preflight();
    let started = Instant::now();
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_patrol("e2e_patrol", "e2e 网格员", "510802102", GRID, PATROL_STAFF)
        .await;
    s.add_account(
        "e2e_chief",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[GRID],
    )
    .await;
    let setup = started.elapsed();

    let browser_started = Instant::now();
    let walk = WALK.to_string();
    let args = [
        "--patrol",
        "e2e_patrol",
        "--chief",
        "e2e_chief",
        "--walk",
        &walk,
    ];
    let summary = run_script("patrol.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    let browser = browser_started.elapsed();

    // The database itself: one patrol of the account, its chunks holding every point walked
    // once, one visit naming the two households ticked, one incident with one photo, and
    // nothing else.
    let pool = &s.state.store.pool;
    let patrol_id = summary["patrol_id"]
        .as_str()
        .expect("patrol id")
        .to_string();
    let by_account = "SELECT count(*) FROM patrols p JOIN accounts a ON a.id = p.account_id WHERE a.username = $1";
    assert_eq!(count(pool, by_account, "e2e_patrol").await, 1);
    let chunks = "SELECT count(*) FROM patrol_chunks WHERE patrol_id = $1::uuid";
    assert_eq!(
        count(pool, chunks, &patrol_id).await,
        (WALK + CHUNK - 1) / CHUNK
    );
    let points = "SELECT COALESCE(sum(cardinality(lon)), 0)::bigint FROM patrol_chunks WHERE patrol_id = $1::uuid";
    assert_eq!(count(pool, points, &patrol_id).await, WALK);
    let distinct_t = "SELECT count(DISTINCT u.t) FROM patrol_chunks c, unnest(c.t) AS u(t) WHERE c.patrol_id = $1::uuid";
    assert_eq!(
        count(pool, distinct_t, &patrol_id).await,
        WALK,
        "no point stored twice"
    );
    let visits = "SELECT count(*) FROM patrol_visits WHERE patrol_id = $1::uuid";
    assert_eq!(count(pool, visits, &patrol_id).await, 1);
    // The visit names the two households ticked on the phone.
    let (n, doors): (i32, Option<Vec<String>>) =
        sqlx::query_as("SELECT households, doors FROM patrol_visits WHERE patrol_id = $1::uuid")
            .bind(&patrol_id)
            .fetch_one(pool)
            .await
            .expect("the visit");
    let ticked: Vec<String> = summary["doors_ticked"]
        .as_array()
        .expect("doors ticked")
        .iter()
        .map(|d| d.as_str().expect("a door").to_string())
        .collect();
    assert_eq!((n, doors), (2, Some(ticked)));
    let incidents = "SELECT count(*) FROM incidents WHERE patrol_id = $1::uuid";
    assert_eq!(count(pool, incidents, &patrol_id).await, 1);
    let all_incidents = "SELECT count(*) FROM incidents i JOIN accounts a ON a.id = i.account_id WHERE a.username = $1";
    assert_eq!(count(pool, all_incidents, "e2e_patrol").await, 1);
    let photos = "SELECT count(*) FROM incident_photos p JOIN incidents i ON i.id = p.incident_id WHERE i.patrol_id = $1::uuid";
    assert_eq!(count(pool, photos, &patrol_id).await, 1);
    let sha = "SELECT count(*) FROM incident_photos WHERE encode(sha256, 'hex') = $1";
    assert_eq!(
        count(
            pool,
            sha,
            summary["photo_sha256"].as_str().expect("photo checksum")
        )
        .await,
        1
    );

    println!(
        "browser patrol test: setup {:.1} s, browser {:.1} s, sync {} ms, timings (ms): {}",
        setup.as_secs_f64(),
        browser.as_secs_f64(),
        summary["sync_ms"],
        summary["timings"]
    );
}
