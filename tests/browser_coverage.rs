//! The planner's coverage panel in a real browser: starts the server on a fresh copy of the
//! demo district with the built app (web/dist), creates a planner, a viewer and a grid chief,
//! and runs tests/e2e/coverage.mjs (playwright-core driving Debian's chromium). The script
//! compares what the panel shows and the map draws with the coverage API, places a what-if
//! station, runs siting, saves a scenario and downloads the reports; this test then checks
//! in the database that the saved station exists and that nothing else was saved.
//!
//! Like tests/browser.rs it builds nothing and fails (never skips) when the built app, the
//! npm packages or the browser are missing.

mod common;

use common::e2e::{preflight, run_script};
use common::*;
use std::time::Duration;
use wangge::domain::access::{Role, ScopeKind};

/// The street office (and region) of the demo's communities.
const REGION: &str = "510802102";
/// The first-level grid of the test's grid chief.
const CHIEF_GRID: &str = "51080210200101";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_planner_in_a_real_browser() {
    preflight();
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    for (user, role) in [("cov_planner", Role::Planner), ("cov_viewer", Role::Viewer)] {
        s.add_account(user, role, REGION, ScopeKind::Region, &[], &[])
            .await;
    }
    s.add_account(
        "cov_chief",
        Role::GridChief,
        REGION,
        ScopeKind::Grids,
        &[],
        &[CHIEF_GRID],
    )
    .await;
    let pool = db.pool().await;
    let stations_before: i64 = sqlx::query_scalar("SELECT count(*) FROM stations")
        .fetch_one(&pool)
        .await
        .expect("count stations");

    let args = [
        "--planner",
        "cov_planner",
        "--viewer",
        "cov_viewer",
        "--chief",
        "cov_chief",
    ];
    let summary = run_script("coverage.mjs", &s.base, &args, BROWSER_TIMEOUT).await;

    // Exactly the one station the browser saved is new; the what-if stations tried before
    // saving left nothing behind.
    let saved = summary["saved"].as_str().expect("the saved station's code");
    let stations_after: i64 = sqlx::query_scalar("SELECT count(*) FROM stations")
        .fetch_one(&pool)
        .await
        .expect("count stations");
    assert_eq!(stations_after, stations_before + 1, "{summary}");
    let found: Option<String> = sqlx::query_scalar("SELECT kind FROM stations WHERE code = $1")
        .bind(saved)
        .fetch_optional(&pool)
        .await
        .expect("find the saved station");
    assert_eq!(found.as_deref(), summary["kind"].as_str(), "{summary}");
}
