//! Helpers for browser tests: checks that what `make test` prepares is there (the built web
//! app, playwright-core, chromium, node) and runs a script of tests/e2e against a server,
//! returning the JSON summary it prints last.

use super::{root, PASSWORD};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Debian's chromium, or `CHROMIUM`.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails (never skips) when something `make test` prepares is missing.
pub fn preflight() {
    let root = root();
    let missing = |what: &str, fix: &str| -> ! {
        panic!("browser test: {what} is missing; {fix} (`make test` does all of this)")
    };
    if !root.join("web/dist/index.html").exists() || !root.join("web/dist/sw.js").exists() {
        missing(
            "the built web app (web/dist/index.html and sw.js)",
            "run `make web`",
        );
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

/// Runs `node tests/e2e/{script} BASE ARGS --artifacts tests/artifacts --chromium ...` with
/// the test password, echoes its output, fails on a non-zero exit or a timeout, and returns
/// the summary (the last line that is JSON), whose `ok` must be true.
pub async fn run_script(script: &str, base: &str, args: &[&str], timeout: Duration) -> Value {
    let artifacts = root().join("tests/artifacts");
    let mut child = tokio::process::Command::new("node")
        .arg(root().join("tests/e2e").join(script))
        .arg(base)
        .args(args)
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
    let out = read_all(child.stdout.take().expect("piped stdout"));
    let err = read_all(child.stderr.take().expect("piped stderr"));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(st) => st.expect("wait for node"),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "{script} took longer than {timeout:?}:\n{}\n{}",
                out.await.unwrap_or_default(),
                err.await.unwrap_or_default()
            );
        }
    };
    let out = out.await.unwrap_or_default();
    let err = err.await.unwrap_or_default();
    println!("{out}");
    eprintln!("{err}");
    assert!(
        status.success(),
        "{script} failed ({status}); screenshots in {}:\n{out}\n{err}",
        artifacts.display()
    );
    let summary: Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the script prints a JSON summary last");
    assert_eq!(summary["ok"], true, "{summary}");
    summary
}
