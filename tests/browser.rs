//! The web app in a real browser: starts the server on a fresh copy of the demo district
//! with the built app (web/dist), creates a grid chief and an administrator, and runs
//! tests/e2e/run.mjs (playwright-core driving Debian's chromium) against it. The script
//! signs in as both, checks what the map draws, reads panels, searches by two words in
//! legible results, edits a shared boundary and sees a rejected edit explained (in both
//! languages); then, with a planner, patrol staff and a viewer too, checks that every
//! role's header fits a 390 px phone. Screenshots go to tests/artifacts/.
//!
//! This test builds nothing: `make test` builds the app and installs the browser and the
//! npm packages first. When any of them is missing the test fails, saying what to run.

mod common;

use common::e2e::{preflight, run_script};
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};
use wangge::domain::access::{Role, ScopeKind};

/// The first-level grid the test's grid chief looks after (陵江社区第1网格 in data/demo).
const CHIEF_GRID: &str = "51080210200101";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_in_a_real_browser() {
    preflight();
    let started = Instant::now();
    let db = TestDb::new(Template::Demo).await;
    // Mark the demo's streets as drawn from OpenStreetMap, so that the map must credit OSM
    // (the streets tiles' TileJSON then carries the attribution).
    sqlx::query("UPDATE meta SET value = 'osm' WHERE key = 'network_source'")
        .execute(&db.pool().await)
        .await
        .expect("mark the network as OSM");
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_account(
        "e2e_chief",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[CHIEF_GRID],
    )
    .await;
    s.add_account(
        "e2e_admin",
        Role::Admin,
        "GYKFQ",
        ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    for (user, role) in [("e2e_planner", Role::Planner), ("e2e_viewer", Role::Viewer)] {
        s.add_account(user, role, "GYKFQ", ScopeKind::Region, &[], &[])
            .await;
    }
    s.add_account(
        "e2e_patrol",
        Role::Patrol,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[CHIEF_GRID],
    )
    .await;
    let setup = started.elapsed();

    let browser_started = Instant::now();
    let args = [
        "--chief",
        "e2e_chief",
        "--admin",
        "e2e_admin",
        "--planner",
        "e2e_planner",
        "--patrol",
        "e2e_patrol",
        "--viewer",
        "e2e_viewer",
    ];
    let summary = run_script("run.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    let browser = browser_started.elapsed();

    // The boundary edit the browser made is in the database, as one new version each.
    let admin = s.sign_in("e2e_admin").await;
    let edited = summary["edited"].as_array().expect("edited grids");
    assert_eq!(edited.len(), 2, "{summary}");
    for code in edited.iter().filter_map(Value::as_str) {
        let (st, g) = admin.get(&format!("/api/grids/{code}")).await;
        assert_eq!(st, 200, "{g}");
        assert_eq!(g["properties"]["version"], 2, "{code}: {g}");
        let (_, h) = admin.get(&format!("/api/grids/{code}/history")).await;
        assert_eq!(
            h["features"].as_array().map(Vec::len),
            Some(2),
            "{code}: {h}"
        );
    }
    println!(
        "browser test: setup {:.1} s, browser {:.1} s, timings (ms): {}",
        setup.as_secs_f64(),
        browser.as_secs_f64(),
        summary["timings"]
    );
}
