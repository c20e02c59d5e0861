//! The assessment view in a real browser (issue 15): starts the server on a fresh copy of the
//! demo district with the built app (web/dist), creates an administrator and runs
//! tests/e2e/assess.mjs (playwright-core driving Debian's chromium) against it. The street
//! office enters the ratings and a pledge result of one community, sees its grade and rank,
//! downloads the year's XLSX (read back here with GDAL's XLSX driver: a summary sheet and a
//! sheet per community) and opens the printable page. Screenshots go to tests/artifacts/.
//!
//! This test builds nothing: `make test` builds the app and installs the browser and the
//! npm packages first. When any of them is missing the test fails, saying what to run.

mod common;

use chrono::Datelike;
use common::e2e::{preflight, run_script};
use common::*;
use std::time::Duration;
use wangge::domain::access::{Role, ScopeKind};

/// The community assessed (陵江社区 in data/demo).
const COMMUNITY: &str = "510802102001";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_view_in_a_real_browser() {
    preflight();
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_account(
        "e2e_admin",
        Role::Admin,
        "GYKFQ",
        ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    let pool = db.pool().await;
    let person: String = sqlx::query_scalar(
        "SELECT p.code FROM people p JOIN buildings b ON b.id = p.home_building_id \
         JOIN grids g ON g.id = b.grid_id JOIN communities c ON c.id = g.community_id \
         WHERE c.code = $1 AND p.membership <> 'none' ORDER BY p.code LIMIT 1",
    )
    .bind(COMMUNITY)
    .fetch_one(&pool)
    .await
    .expect("a party member of the community");
    // Last year in China: the assessment is held at year end or in January.
    let year = (chrono::Utc::now() + chrono::Duration::hours(8)).year() - 1;
    let year_s = year.to_string();
    let args = [
        "--admin",
        "e2e_admin",
        "--year",
        year_s.as_str(),
        "--community",
        COMMUNITY,
        "--person",
        person.as_str(),
        // 0.3 × 95 + 0.4 × 92 + 0.3 × 90 = 92.3: 好 under the default thresholds.
        "--grade",
        "好",
    ];
    let summary = run_script("assess.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    assert_eq!(summary["printed"], true, "{summary}");

    // What the browser entered is stored.
    let admin = s.sign_in("e2e_admin").await;
    let (st, r) = admin
        .get(&format!("/api/assess/{year}?community={COMMUNITY}"))
        .await;
    assert_eq!(st, 200, "{r}");
    let c = &r["communities"][0];
    assert_eq!(c["score"], 92.3, "{c}");
    assert_eq!(c["grade_name"], "好");
    assert_eq!(c["pledges"]["tally"]["annual"][0], 1, "{c}");

    // The workbook the browser downloaded, as GDAL reads it: the summary and one sheet per
    // community, 陵江社区's with its grade.
    let path = summary["xlsx"].as_str().expect("the saved workbook");
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-oo", "HEADERS=FORCE"])
        .arg(path)
        .output()
        .expect("ogrinfo runs (gdal-bin installed)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains("Layer name: 考评汇总"), "{info}");
    let communities: i64 = sqlx::query_scalar("SELECT count(*) FROM communities")
        .fetch_one(&pool)
        .await
        .expect("count");
    let layers = info.matches("Layer name: ").count() as i64;
    assert_eq!(layers, communities + 1, "{info}");
    let name: String = sqlx::query_scalar("SELECT name FROM communities WHERE code = $1")
        .bind(COMMUNITY)
        .fetch_one(&pool)
        .await
        .expect("name");
    assert!(info.contains(&format!("Layer name: {name}")), "{info}");
    assert!(info.contains("grade (String) = 好"), "{info}");
}
