//! Helpers for patrol tests: walks through the fixture's grids, patrol bodies, staff
//! records linked to the patrol account.

use super::{TestDb, TestServer};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// Grid C0101 of the fixture (the `patrol` account's grid): 105.70-105.71 E, 32.400-32.405 N.
pub const SOUTH_WEST: (f64, f64, f64, f64) = (105.70, 32.40, 105.71, 32.405);

/// `n` points walking back and forth along `lanes` lines of latitude spread over a box,
/// at 1.3 m/s (a walk), so no segment is flagged as too fast.
pub fn walk(
    b: (f64, f64, f64, f64),
    start: DateTime<Utc>,
    n: usize,
    lanes: usize,
) -> Vec<(f64, f64, DateTime<Utc>)> {
    let (x0, y0, x1, y1) = b;
    let lanes = lanes.max(1);
    let per_lane = n.div_ceil(lanes).max(2);
    let margin = (x1 - x0) * 0.05;
    let mut out: Vec<(f64, f64, DateTime<Utc>)> = Vec::with_capacity(n);
    for i in 0..n {
        let lane = i / per_lane;
        let f = (i % per_lane) as f64 / (per_lane - 1) as f64;
        let f = if lane.is_multiple_of(2) { f } else { 1.0 - f };
        let x = x0 + margin + f * (x1 - x0 - 2.0 * margin);
        let y = y0 + (y1 - y0) * (lane as f64 + 0.5) / lanes as f64;
        let t = match out.last() {
            None => start,
            Some(&(px, py, pt)) => {
                let d = wangge::spatial::geodesy::distance_m(
                    geo::Coord { x: px, y: py },
                    geo::Coord { x, y },
                );
                pt + Duration::milliseconds(((d / 1.3) * 1000.0).max(1000.0) as i64)
            }
        };
        out.push((x, y, t));
    }
    out
}

/// Points as the API takes them.
pub fn points(walk: &[(f64, f64, DateTime<Utc>)]) -> Vec<Value> {
    walk.iter()
        .map(|(x, y, t)| json!({ "lon": x, "lat": y, "t": t.to_rfc3339(), "accuracy_m": 5.0 }))
        .collect()
}

/// A whole patrol: grids, start and end from the walk, the track, and visits.
pub fn whole(grids: &[&str], walk: &[(f64, f64, DateTime<Utc>)], households: Value) -> Value {
    let start = walk.first().map(|p| p.2).unwrap_or_else(Utc::now);
    let end = walk.last().map(|p| p.2).unwrap_or_else(Utc::now);
    json!({
        "grids": grids,
        "started_at": start.to_rfc3339(),
        "ended_at": (end + Duration::seconds(30)).to_rfc3339(),
        "track": points(walk),
        "households": households,
        "notes": "每周巡查",
    })
}

/// Tuesday 09:00 (Shanghai) of the week before the current one: patrols there are in the
/// past whatever day the test runs.
pub fn last_week_tuesday() -> DateTime<Utc> {
    let w = wangge::domain::patrol::IsoWeek::of(Utc::now()).prev();
    w.start() + Duration::hours(24 + 9)
}

/// Gives grids C01 and C02 of the fixture a chief and a member each (staff `PS0`..`PS3`,
/// on the first-level grids, so the matrix's edits of second-level staff leave them be)
/// and links the `patrol` account to `PS1` (a member of C01) and, when it exists,
/// `patrol2` to `PS3` (a member of C02).
pub async fn staff_patrols(s: &TestServer, pool: &sqlx::PgPool) {
    for (grid, chief, member) in [("01", "PS0", "PS1"), ("02", "PS2", "PS3")] {
        let (st, _, b) = s
            .send(
                reqwest::Method::PUT,
                &format!("/api/grids/{}{grid}/staff", super::C),
                Some(&json!({
                    "chief": { "code": chief, "name": format!("{chief}网格长") },
                    "members": [{ "code": member, "name": format!("{member}网格员") }],
                })),
                None,
            )
            .await;
        assert_eq!(st, 200, "{b}");
    }
    for (user, staff) in [("patrol", "PS1"), ("patrol2", "PS3")] {
        sqlx::query(
            "UPDATE accounts SET staff_id = (SELECT id FROM staff WHERE code = $2) WHERE username = $1",
        )
        .bind(user)
        .bind(staff)
        .execute(pool)
        .await
        .expect("link staff");
    }
}

/// Adds `patrol2`, a patrol account for grid C0201.
pub async fn add_patrol2(s: &TestServer) {
    s.add_account(
        "patrol2",
        wangge::domain::access::Role::Patrol,
        "510802102",
        wangge::domain::access::ScopeKind::Grids,
        &[],
        &[&format!("{}0201", super::C)],
    )
    .await;
}

/// A small image (16 × 16 pixels, colours from `seed`) in `format`: real, decodable bytes.
pub fn test_image(seed: u8, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(16).wrapping_add(seed),
            (y as u8).wrapping_mul(16),
            seed.wrapping_mul(37),
        ])
    });
    let mut out = std::io::Cursor::new(vec![]);
    img.write_to(&mut out, format).expect("encode a test image");
    out.into_inner()
}

/// A small JPEG.
pub fn jpeg(seed: u8) -> Vec<u8> {
    test_image(seed, image::ImageFormat::Jpeg)
}

/// Starts `wangge serve` (the binary cargo built for this test or bench) on a port, with
/// extra environment, and waits until it answers.
pub async fn serve(db: &TestDb, port: u16, env: &[(&str, String)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start the wangge binary");
    let started = std::time::Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/api/health"))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
