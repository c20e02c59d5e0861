//! The building panel's households in a real browser (issue 14): starts the server on a
//! fresh copy of the demo district with the built app (web/dist), creates a grid chief of a
//! first-level grid, a viewer of the town and a patrol account linked to a member of the
//! grid, has the member visit 4 households of the grid's largest building this week, and
//! runs tests/e2e/households.mjs (playwright-core driving Debian's chromium): the chief sees
//! the households one by one with their heads and this week's visit; the viewer sees the
//! counts only.
//!
//! This test builds nothing: `make test` builds the app and installs the npm packages first.
//! When the app, playwright-core, chromium or node is missing it fails, saying what to run.

mod common;

use chrono::{Duration, Utc};
use common::e2e::{preflight, run_script};
use common::patrols::{walk, whole};
use common::*;
use serde_json::json;
use uuid::Uuid;
use wangge::domain::access::{Role, ScopeKind};
use wangge::domain::patrol::IsoWeek;

/// The demo's town.
const TOWN: &str = "510802102";
/// The first-level grid of the test (陵江社区第1网格 in data/demo).
const GRID: &str = "51080210200101";
/// Its first second-level grid, where the building stands.
const CHILD: &str = "5108021020010101";
/// A member (网格员) of that grid in data/demo/staff.csv.
const MEMBER: &str = "510802102001-W02";
/// Households the member visits.
const VISITED: i32 = 4;
/// The longest the browser script may run.
const BROWSER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_household_list_appears_for_a_chief_and_not_for_a_viewer() {
    preflight();
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_account(
        "e2e_chief",
        Role::GridChief,
        TOWN,
        ScopeKind::Grids,
        &[],
        &[GRID],
    )
    .await;
    s.add_account(
        "e2e_viewer",
        Role::Viewer,
        TOWN,
        ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    s.add_patrol("e2e_patrol", "e2e 网格员", TOWN, GRID, MEMBER)
        .await;

    // The grid's largest building, its households as recorded, the first one's head.
    let (building, households): (String, i32) = sqlx::query_as(
        "SELECT b.code, b.households FROM buildings b JOIN current_grids g ON g.id = b.grid_id \
         WHERE g.code = $1 ORDER BY b.households DESC, b.code LIMIT 1",
    )
    .bind(CHILD)
    .fetch_one(&pool)
    .await
    .expect("a building");
    let (labels, label, head): (i64, String, String) = sqlx::query_as(
        "SELECT count(DISTINCT d.household), min(d.household), \
           (array_agg(d.name ORDER BY d.household, p.code))[1] \
         FROM people p JOIN person_details d ON d.person_id = p.id \
         JOIN buildings b ON b.id = p.home_building_id \
         WHERE b.code = $1 AND d.household IS NOT NULL",
    )
    .bind(&building)
    .fetch_one(&pool)
    .await
    .expect("households");
    let public: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM staff WHERE name = $1)")
        .bind(&head)
        .fetch_one(&pool)
        .await
        .expect("staff names");
    assert!(
        !public && labels > 3,
        "the building's first head ({head}) is no staff member's name, and it has households"
    );
    let by: String = sqlx::query_scalar("SELECT name FROM staff WHERE code = $1")
        .bind(MEMBER)
        .fetch_one(&pool)
        .await
        .expect("the member's name");

    // The member's patrol of this week, visiting VISITED households of the building.
    let (x, y): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM current_grids, ST_PointOnSurface(geom) p WHERE code = $1",
    )
    .bind(CHILD)
    .fetch_one(&pool)
    .await
    .expect("a point in the grid");
    let start = (Utc::now() - Duration::minutes(40)).max(IsoWeek::of(Utc::now()).start());
    let track = walk((x - 3e-4, y - 3e-4, x + 3e-4, y + 3e-4), start, 30, 2);
    let body = whole(
        &[CHILD],
        &track,
        json!([{ "building": building, "households": VISITED }]),
    );
    let (st, _, v) = s
        .sign_in("e2e_patrol")
        .await
        .send(
            reqwest::Method::PUT,
            &format!("/api/patrols/{}", Uuid::new_v4()),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");

    let (households_s, labels_s, visited_s) = (
        households.to_string(),
        labels.to_string(),
        VISITED.to_string(),
    );
    let args = [
        "--chief",
        "e2e_chief",
        "--viewer",
        "e2e_viewer",
        "--building",
        &building,
        "--households",
        &households_s,
        "--labels",
        &labels_s,
        "--label",
        &label,
        "--head",
        &head,
        "--visited",
        &visited_s,
        "--by",
        &by,
    ];
    let summary = run_script("households.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    println!(
        "browser households test: timings (ms): {}",
        summary["timings"]
    );
}
