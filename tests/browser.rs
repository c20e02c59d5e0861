//! The web app in a real browser: starts the server on a fresh copy of the demo district
//! with the built app (web/dist), creates a grid chief and an administrator, and runs
//! tests/e2e/run.mjs (playwright-core driving Debian's chromium) against it. The script
//! signs in as both, checks what the map draws, reads panels, edits a shared boundary and
//! sees a rejected edit explained; screenshots go to tests/artifacts/.
//!
//! This test builds nothing: `make test` builds the app and installs the browser and the
//! npm packages first. When any of them is missing the test fails, saying what to run.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use wangge::domain::access::{Role, ScopeKind};

/// The first-level grid the test's grid chief looks after (陵江社区第1网格 in data/demo).
const CHIEF_GRID: &str = "51080210200101";
/// The longest the browser script may run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(600);

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails (never skips) when something `make test` prepares is missing.
fn preflight() {
    let root = root();
    let missing = |what: &str, fix: &str| -> ! {
        panic!("browser test: {what} is missing; {fix} (`make test` does all of this)")
    };
    if !root.join("web/dist/index.html").exists() {
        missing("the built web app (web/dist/index.html)", "run `make web`");
    }
    if !root
        .join("tests/e2e/node_modules/playwright-core/package.json")
        .exists()
    {
        missing(
            "playwright-core (tests/e2e/node_modules)",
            "run `npm ci --prefix tests/e2e`",
        );
    }
    if !chromium().exists() {
        missing(
            &format!("chromium ({})", chromium().display()),
            "run `apt-get install chromium` or set CHROMIUM",
        );
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing("node", "install Node.js 20 or newer");
    }
}

/// Collects a pipe's text in the background (so that a full pipe never blocks the child).
fn read_all(
    mut r: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut s = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut r, &mut s).await;
        s
    })
}

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
    let setup = started.elapsed();

    let artifacts = root().join("tests/artifacts");
    let script = root().join("tests/e2e/run.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&s.base)
        .args(["--chief", "e2e_chief", "--admin", "e2e_admin"])
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--chromium")
        .arg(chromium())
        .env("WANGGE_E2E_PASSWORD", PASSWORD)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (out, err) = (read_all(stdout), read_all(stderr));
    let browser_started = Instant::now();
    let status = match tokio::time::timeout(BROWSER_TIMEOUT, child.wait()).await {
        Ok(st) => st.expect("wait for node"),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "the browser test took longer than {BROWSER_TIMEOUT:?}:\n{}\n{}",
                out.await.unwrap_or_default(),
                err.await.unwrap_or_default()
            );
        }
    };
    let browser = browser_started.elapsed();
    let out = out.await.unwrap_or_default();
    let err = err.await.unwrap_or_default();
    println!("{out}");
    eprintln!("{err}");
    assert!(
        status.success(),
        "the browser test failed ({status}); screenshots in {}:\n{out}\n{err}",
        artifacts.display()
    );
    let summary: Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the script prints a JSON summary last");
    assert_eq!(summary["ok"], true, "{summary}");

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
