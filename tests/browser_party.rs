//! The party view in a real browser (issue 7): starts the server on a fresh copy of the demo
//! district with the built app (web/dist), creates an administrator and a viewer, and runs
//! tests/e2e/party.mjs (playwright-core driving Debian's chromium) against it. The script
//! checks the cells' colours and the findings' markers against the API, reads a finding and
//! a cell, drags a boundary vertex so that party members change cell, checks the preview
//! before anything is saved, cancels once, confirms, and checks that the members followed;
//! the viewer must not get the view. Screenshots go to tests/artifacts/.
//!
//! This test builds nothing: `make test` builds the app and installs the browser and the
//! npm packages first. When any of them is missing the test fails, saying what to run.

mod common;

use common::e2e::{preflight, run_script};
use common::*;
use std::time::Duration;
use wangge::domain::access::{Role, ScopeKind};

/// The community the test's viewer looks after (陵江社区 in data/demo).
const VIEWER_COMMUNITY: &str = "510802102001";
/// The year of the demo district's 双报到 records.
const YEAR: &str = "2024";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

/// The members of a party organisation, by person code.
async fn member_codes(c: &Client, org: &str) -> Vec<String> {
    let (st, o) = c.get(&format!("/api/party/orgs/{org}")).await;
    assert_eq!(st, 200, "{org}: {o}");
    o["member_list"]
        .as_array()
        .expect("an administrator gets the member list")
        .iter()
        .filter_map(|m| m["code"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn party_view_in_a_real_browser() {
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
    s.add_account(
        "e2e_viewer",
        Role::Viewer,
        "510802102",
        ScopeKind::Communities,
        &[VIEWER_COMMUNITY],
        &[],
    )
    .await;
    let args = [
        "--admin",
        "e2e_admin",
        "--viewer",
        "e2e_viewer",
        "--year",
        YEAR,
    ];
    let summary = run_script("party.mjs", &s.base, &args, BROWSER_TIMEOUT).await;

    // The saved boundary change is in the database, one new version per grid.
    let admin = s.sign_in("e2e_admin").await;
    let edited = summary["edited"]
        .as_object()
        .expect("edited grids and versions");
    assert!(edited.len() >= 2, "{summary}");
    for (code, before) in edited {
        let (st, g) = admin.get(&format!("/api/grids/{code}")).await;
        assert_eq!(st, 200, "{g}");
        assert_eq!(
            g["properties"]["version"].as_i64(),
            before.as_i64().map(|v| v + 1),
            "{code}: {g}"
        );
    }
    // Every member the preview said would move is now in the destination's organisation.
    let moved = summary["moved_people"].as_array().expect("moved people");
    assert!(!moved.is_empty(), "{summary}");
    let (_, cells) = admin.get("/api/party/cells?level=2").await;
    let org_of = |grid: &str| -> String {
        cells["features"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["properties"]["code"] == grid))
            .and_then(|f| f["properties"]["org_code"].as_str())
            .unwrap_or_else(|| panic!("grid {grid} has a party group"))
            .to_string()
    };
    for p in moved {
        let (code, from, to) = (&p["code"], p["from"].as_str(), p["to"].as_str());
        let (from, to) = (from.expect("from"), to.expect("to"));
        let code = code.as_str().expect("person code").to_string();
        assert!(
            member_codes(&admin, &org_of(to)).await.contains(&code),
            "{code} in {to}"
        );
        assert!(
            !member_codes(&admin, &org_of(from)).await.contains(&code),
            "{code} left {from}"
        );
    }
    // The viewer got no party data, in the browser and here.
    let viewer = s.sign_in("e2e_viewer").await;
    for path in [
        "/api/party/cells",
        "/api/party/findings",
        "/api/party/report",
    ] {
        let (st, body) = viewer.get(path).await;
        assert_eq!(st, 403, "{path}: {body}");
    }
    assert_eq!(summary["viewer"]["party_status"], 403, "{summary}");
    println!("party browser test: timings (ms): {}", summary["timings"]);
}
