//! The database at its best, for the baselines: PostgreSQL's own load generator (pgbench)
//! running one prepared statement (`-M prepared`) from a custom script, at several client
//! counts, taking the best. pgbench is a C client with almost no cost per query, so its
//! rate is the ceiling of what any server in front of the database could reach.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// pgbench from Debian's postgresql-NN package (or `WANGGE_PGBENCH`, or the PATH).
pub fn pgbench() -> PathBuf {
    if let Ok(p) = std::env::var("WANGGE_PGBENCH") {
        return PathBuf::from(p);
    }
    for v in ["17", "16", "15", "14", "13"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/pgbench"));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("pgbench")
}

/// One pgbench run: clients, transactions per second, latency percentiles (ms).
#[derive(Debug, Clone)]
pub struct PgRun {
    pub clients: u32,
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub transactions: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Runs `script` for `seconds` with `clients` clients (`-M prepared`, at most two client
/// threads: the machine has two cores and the server needs them). Reads the per-transaction
/// log for percentiles.
pub fn run(url: &str, script: &str, clients: u32, seconds: u32) -> PgRun {
    let dir = std::env::temp_dir().join(format!(
        "wangge-pgbench-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("script.sql");
    std::fs::write(&file, script).expect("script");
    let out = Command::new(pgbench())
        .current_dir(&dir)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
            &seconds.to_string(),
            "-l",
            "--log-prefix",
            "tx",
            "-f",
        ])
        .arg(&file)
        .arg(url)
        .stderr(Stdio::piped())
        .output()
        .expect("run pgbench (install postgresql-15 or set WANGGE_PGBENCH)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l[6..].split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("pgbench printed its rate");
    // Log lines: client_id transaction_no time_us script_no time_epoch time_us.
    let mut lat = vec![];
    for e in std::fs::read_dir(&dir).expect("logs").flatten() {
        if e.file_name().to_string_lossy().starts_with("tx") {
            for line in std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
            {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    lat.push(us / 1000.0);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    lat.sort_by(f64::total_cmp);
    PgRun {
        clients,
        tps,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        transactions: lat.len(),
    }
}

/// The database at its best for `script`: `rounds` rounds over client counts 1, 2, 4, 8
/// (`WANGGE_PGBENCH_CLIENTS` to change), `seconds` each; per client count the median round;
/// the best client count by that median. Returns the best and every count's median.
pub fn best(url: &str, script: &str, seconds: u32, rounds: usize) -> (PgRun, Vec<PgRun>) {
    let counts: Vec<u32> = std::env::var("WANGGE_PGBENCH_CLIENTS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut per: Vec<Vec<PgRun>> = vec![vec![]; counts.len()];
    for _ in 0..rounds.max(1) {
        for (i, &c) in counts.iter().enumerate() {
            per[i].push(run(url, script, c, seconds));
        }
    }
    let medians: Vec<PgRun> = per
        .into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| a.tps.total_cmp(&b.tps));
            v[v.len() / 2].clone()
        })
        .collect();
    let best = medians
        .iter()
        .max_by(|a, b| a.tps.total_cmp(&b.tps))
        .cloned()
        .expect("at least one client count");
    (best, medians)
}

/// A one-line summary of every client count's median.
pub fn describe(medians: &[PgRun]) -> String {
    medians
        .iter()
        .map(|r| format!("{} clients {:.0}/s", r.clients, r.tps))
        .collect::<Vec<_>>()
        .join(", ")
}
