//! The incidents panel in a real browser (issue 14): starts the server on a fresh copy of the
//! demo district with the built app (web/dist), creates a grid chief of a first-level grid
//! and a patrol account linked to a member of that grid, reports two incidents in it (one
//! reported 30 hours ago, so past its 24 hours to be assigned), and runs
//! tests/e2e/incidents.mjs (playwright-core driving Debian's chromium). The chief sees the
//! overdue one first and marked overdue and assigns the other to the member; the member
//! starts and resolves it with a note; the chief verifies and closes it and it leaves the
//! open list. Afterwards this test reads the incident's history from the API.
//!
//! The second test is the member's phone (tests/e2e/phone_incidents.mjs): the chief assigns
//! two incidents to the member through the API; the phone (390 px wide) lists them in patrol
//! mode's "my incidents", opens the list again after an offline reload, starts and resolves
//! one with a note and a photo and starts the other while offline; the chief closes the
//! other meanwhile; back online the queue syncs, the refused start (409) is shown, and the
//! chief verifies the resolved one in the web panel. A second chief account, linked to the
//! grid's chief on the staff list, has a third incident assigned and gets the bar of its
//! own incidents. Afterwards this test reads them from the API and the photo's bytes from
//! PostgreSQL.
//!
//! This test builds nothing: `make test` builds the app and installs the npm packages first.
//! When the app, playwright-core, chromium or node is missing it fails, saying what to run.

mod common;

use chrono::{Duration, Utc};
use common::e2e::{preflight, run_script};
use common::*;
use geo::InteriorPoint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Instant;
use uuid::Uuid;
use wangge::domain::access::{Role, ScopeKind};

/// The first-level grid of the test (陵江社区第1网格 in data/demo).
const GRID: &str = "51080210200101";
/// A member (网格员) of that grid in data/demo/staff.csv.
const MEMBER: &str = "510802102001-W02";
/// That grid's chief (网格长) in data/demo/staff.csv.
const CHIEF_STAFF: &str = "510802102001-W01";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A point inside the first second-level grid of [`GRID`].
async fn point_in_grid(c: &Client) -> (f64, f64) {
    let (st, g) = c.get(&format!("/api/grids/{GRID}")).await;
    assert_eq!(st, 200, "{g}");
    let child = g["properties"]["children"][0]
        .as_str()
        .unwrap_or_else(|| panic!("children of {GRID}: {g}"))
        .to_string();
    let (st, g) = c.get(&format!("/api/grids/{child}")).await;
    assert_eq!(st, 200, "{g}");
    let shape: geojson::Geometry =
        serde_json::from_value(g["geometry"].clone()).expect("a geometry");
    let shape: geo::Geometry<f64> = shape.try_into().expect("a geo geometry");
    let p = shape.interior_point().expect("a point inside");
    (p.x(), p.y())
}

/// Reports an incident as `c`, `ago` before now; returns its id.
async fn report(c: &Client, at: (f64, f64), category: &str, text: &str, ago: Duration) -> Uuid {
    let id = Uuid::new_v4();
    let body = json!({ "category": category, "description": text, "lon": at.0, "lat": at.1,
                       "reported_at": (Utc::now() - ago).to_rfc3339() });
    let (st, _, v) = c
        .send(
            reqwest::Method::PUT,
            &format!("/api/incidents/{id}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    id
}

/// A server on a fresh copy of the demo with the built app, the patrol account of
/// [`MEMBER`] and the chief of [`GRID`]: the server, the chief signed in, and a point inside
/// the grid.
async fn setup() -> (TestDb, TestServer, Client, (f64, f64)) {
    preflight();
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start_with(&db, |c| c.web_dir = root().join("web/dist")).await;
    s.add_patrol("e2e_patrol", "e2e 网格员", "510802102", GRID, MEMBER)
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
    let chief = s.sign_in("e2e_chief").await;
    let at = point_in_grid(&chief).await;
    (db, s, chief, at)
}

/// Assigns incident `id` to `staff` as `c` (its grid's chief).
async fn assign(c: &Client, id: Uuid, staff: &str) {
    let body =
        json!({ "id": Uuid::new_v4(), "to": "assigned", "from": "reported", "assignee": staff });
    let (st, _, v) = c
        .send(
            reqwest::Method::POST,
            &format!("/api/incidents/{id}/transitions"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
}

/// A small PNG of a gradient, the photo a reporter took.
fn photo_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 60])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode a PNG");
    png
}

/// The ids of the incidents `c` lists with `query`.
async fn listed(c: &Client, query: &str) -> Vec<String> {
    let (st, v) = c.get(&format!("/api/incidents?{query}")).await;
    assert_eq!(st, 200, "{v}");
    let mut ids: Vec<String> = v["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            f["properties"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// The statuses of an incident's history, each with who took the step.
fn steps_of(v: &Value) -> Vec<(String, String)> {
    v["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("to"), f("by"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_handled_to_the_end_in_a_real_browser() {
    let started = Instant::now();
    let (_db, s, chief, at) = setup().await;
    let overdue = report(
        &chief,
        at,
        "safety_hazard",
        "消防通道堆放杂物（e2e，逾期）",
        Duration::hours(30),
    )
    .await;
    let fresh = report(
        &chief,
        (at.0 + 0.00002, at.1),
        "environment",
        "垃圾未清运（e2e）",
        Duration::minutes(10),
    )
    .await;
    let setup = started.elapsed();

    let browser_started = Instant::now();
    let (overdue_s, fresh_s) = (overdue.to_string(), fresh.to_string());
    let args = [
        "--chief",
        "e2e_chief",
        "--patrol",
        "e2e_patrol",
        "--member",
        MEMBER,
        "--overdue",
        &overdue_s,
        "--fresh",
        &fresh_s,
    ];
    let summary = run_script("incidents.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    let browser = browser_started.elapsed();

    // The server holds what the browser did: the whole lifecycle, each step by its role.
    let (st, v) = chief.get(&format!("/api/incidents/{fresh}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "closed", "{v}");
    assert_eq!(v["assignee"]["code"], MEMBER, "{v}");
    let steps: Vec<(String, String)> = v["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("to"), f("by"))
        })
        .collect();
    let expected = [
        ("reported", "e2e_chief"),
        ("assigned", "e2e_chief"),
        ("in_progress", "e2e_patrol"),
        ("resolved", "e2e_patrol"),
        ("verified", "e2e_chief"),
        ("closed", "e2e_chief"),
    ];
    assert_eq!(
        steps,
        expected.map(|(a, b)| (a.to_string(), b.to_string())),
        "{v}"
    );
    let resolved = &v["history"][3];
    assert_eq!(resolved["note"], "已清运，现场已恢复整洁（e2e）", "{v}");
    let (_, open) = chief.get("/api/incidents?open=true").await;
    let ids: Vec<&Value> = open["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| &f["properties"]["id"])
        .collect();
    assert_eq!(ids, [&json!(overdue)], "only the overdue one is open");

    println!(
        "browser incidents test: setup {:.1} s, browser {:.1} s, timings (ms): {}",
        setup.as_secs_f64(),
        browser.as_secs_f64(),
        summary["timings"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_resolved_from_the_phone_offline_in_a_real_browser() {
    let started = Instant::now();
    let (_db, s, chief, at) = setup().await;
    let patrol = s.sign_in("e2e_patrol").await;
    let target = report(
        &chief,
        at,
        "facility_damage",
        "楼道灯不亮（e2e，手机处置）",
        Duration::hours(2),
    )
    .await;
    let moved = report(
        &chief,
        (at.0 + 0.00002, at.1),
        "environment",
        "占道堆放（e2e，网格长先行关闭）",
        Duration::hours(1),
    )
    .await;
    // The reporter's photo, which the phone keeps a thumbnail of.
    let png = photo_png();
    let r = chief
        .raw(
            reqwest::Method::PUT,
            &format!("/api/incidents/{target}/photos/{}", Uuid::new_v4()),
        )
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .expect("upload a photo");
    assert_eq!(r.status().as_u16(), 201);
    assign(&chief, target, MEMBER).await;
    assign(&chief, moved, MEMBER).await;
    // A chief who is also on the staff list (linked like a patrol account) with one of
    // their own.
    s.add_account(
        "e2e_chief_staff",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[GRID],
    )
    .await;
    sqlx::query(
        "UPDATE accounts SET staff_id = (SELECT id FROM staff WHERE code = $2) WHERE username = $1",
    )
    .bind("e2e_chief_staff")
    .bind(CHIEF_STAFF)
    .execute(&s.state.store.pool)
    .await
    .expect("link the chief to the staff list");
    let own = report(
        &chief,
        (at.0, at.1 + 0.00002),
        "dispute",
        "邻里噪音纠纷（e2e，网格长本人处置）",
        Duration::minutes(30),
    )
    .await;
    assign(&chief, own, CHIEF_STAFF).await;
    // "Mine" is the caller's own: both for the member, none for a chief without a staff record.
    let mut both = vec![target.to_string(), moved.to_string()];
    both.sort();
    assert_eq!(listed(&patrol, "open=true&mine=true").await, both);
    assert!(listed(&chief, "open=true&mine=true").await.is_empty());
    let setup = started.elapsed();

    let browser_started = Instant::now();
    let (target_s, moved_s, own_s) = (target.to_string(), moved.to_string(), own.to_string());
    let args = [
        "--chief",
        "e2e_chief",
        "--patrol",
        "e2e_patrol",
        "--target",
        &target_s,
        "--moved",
        &moved_s,
        "--staff-chief",
        "e2e_chief_staff",
        "--own",
        &own_s,
    ];
    let summary = run_script("phone_incidents.mjs", &s.base, &args, BROWSER_TIMEOUT).await;
    let browser = browser_started.elapsed();

    // The resolved one: each step by its role, the note with the resolution, the photo
    // stored byte for byte; verified by the chief and so no longer open.
    let (st, v) = chief.get(&format!("/api/incidents/{target}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "verified", "{v}");
    let expected = [
        ("reported", "e2e_chief"),
        ("assigned", "e2e_chief"),
        ("in_progress", "e2e_patrol"),
        ("resolved", "e2e_patrol"),
        ("verified", "e2e_chief"),
    ];
    assert_eq!(
        steps_of(&v),
        expected.map(|(a, b)| (a.to_string(), b.to_string())),
        "{v}"
    );
    assert_eq!(v["history"][3]["note"], summary["note"], "{v}");
    let sha = summary["photo_sha256"].as_str().expect("photo checksum");
    let bytes: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT data FROM incident_photos WHERE incident_id = $1 AND encode(sha256, 'hex') = $2",
    )
    .bind(target)
    .bind(sha)
    .fetch_optional(&s.state.store.pool)
    .await
    .expect("read the photo");
    let bytes = bytes.expect("the resolution's photo is stored");
    let stored: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, sha, "the stored bytes are the phone's");
    assert_eq!(
        bytes.len() as u64,
        summary["photo_bytes"].as_u64().expect("photo size")
    );
    // The one the chief closed meanwhile: the phone's start was refused, not applied late.
    let (_, v) = chief.get(&format!("/api/incidents/{moved}")).await;
    assert_eq!(v["status"], "closed", "{v}");
    assert!(
        steps_of(&v).iter().all(|(to, _)| to != "in_progress"),
        "{v}"
    );
    assert!(listed(&patrol, "open=true&mine=true").await.is_empty());
    // The linked chief's own, started from the bar: still open, now in progress.
    assert_eq!(listed(&chief, "open=true").await, [own.to_string()]);
    let (_, v) = chief.get(&format!("/api/incidents/{own}")).await;
    assert_eq!(v["status"], "in_progress", "{v}");
    assert_eq!(
        steps_of(&v)[2],
        ("in_progress".to_string(), "e2e_chief_staff".to_string())
    );

    println!(
        "browser phone incidents test: setup {:.1} s, browser {:.1} s, timings (ms): {}",
        setup.as_secs_f64(),
        browser.as_secs_f64(),
        summary["timings"]
    );
}
