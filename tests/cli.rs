//! The `wangge` command line against a real PostGIS: accounts (add, passwd, disable), and
//! imports that refuse a bad file with every problem listed and nothing written.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use std::process::Command;

fn wangge(db: &TestDb, args: &[&str], password: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wangge"));
    cmd.args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn");
    match password {
        Some(p) => cmd.env("WANGGE_PASSWORD", p),
        None => cmd.env_remove("WANGGE_PASSWORD"),
    };
    let out = cmd.output().expect("run wangge");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn login(s: &TestServer, user: &str, password: &str) -> u16 {
    s.anonymous()
        .send(
            Method::POST,
            "/api/auth/login",
            Some(&json!({ "username": user, "password": password, "token": true })),
            None,
        )
        .await
        .0
}

#[tokio::test]
async fn user_commands_manage_accounts() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;

    let (ok, out) = wangge(
        &db,
        &[
            "user",
            "add",
            "bob",
            "--role",
            "grid_chief",
            "--region",
            "510802102",
            "--grid",
            &format!("{C}01"),
        ],
        Some("bobs long password"),
    );
    assert!(ok, "{out}");
    assert!(
        !out.contains("password:"),
        "a given password is not printed"
    );
    assert_eq!(login(&s, "bob", "bobs long password").await, 200);
    let bob = s.sign_in_with("bob", "bobs long password").await;
    let (_, me) = bob.get("/api/auth/me").await;
    assert_eq!(me["role"], "grid_chief");
    assert_eq!(me["scope"]["grids"], json!([format!("{C}01")]));

    // A generated password is printed once and works.
    let (ok, out) = wangge(&db, &["user", "passwd", "bob"], None);
    assert!(ok, "{out}");
    let new = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the new password is printed")
        .trim()
        .to_string();
    // Another process revoked the sessions: this server hears of it through the change log.
    let t = std::time::Instant::now();
    while bob.get("/api/auth/me").await.0 != 401 {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "old sessions are revoked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(login(&s, "bob", "bobs long password").await, 401);
    assert_eq!(login(&s, "bob", &new).await, 200);

    let (ok, out) = wangge(&db, &["user", "disable", "bob"], None);
    assert!(ok, "{out}");
    assert_eq!(login(&s, "bob", &new).await, 401);

    // Bad input is refused with a reason and a failing exit status.
    let (ok, out) = wangge(
        &db,
        &[
            "user",
            "add",
            "Bad Name",
            "--role",
            "viewer",
            "--region",
            "510802102",
        ],
        Some("long enough password"),
    );
    assert!(!ok && out.contains("username"), "{out}");
    let (ok, out) = wangge(
        &db,
        &[
            "user",
            "add",
            "carol",
            "--role",
            "emperor",
            "--region",
            "510802102",
        ],
        Some("long enough password"),
    );
    assert!(!ok && out.contains("role"), "{out}");
    let (ok, out) = wangge(
        &db,
        &[
            "user",
            "add",
            "dave",
            "--role",
            "viewer",
            "--region",
            "510802102",
        ],
        Some("short"),
    );
    assert!(!ok && out.contains("10 characters"), "{out}");
}

#[tokio::test]
async fn a_bad_import_lists_every_problem_and_writes_nothing() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let dir = std::env::temp_dir().join(format!("wangge-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("stations.geojson");
    let fc = collection(vec![
        feature(
            json!({ "type": "Point", "coordinates": [105.701, 32.401] }),
            json!({ "code": "N1", "name": "好站", "kind": "park" }),
        ),
        feature(
            json!({ "type": "Point", "coordinates": [305.0, 32.401] }),
            json!({ "code": "N2", "name": "坏坐标", "kind": "park" }),
        ),
        feature(
            json!({ "type": "Point", "coordinates": [105.702, 32.401] }),
            json!({ "code": "N3", "name": "坏类型", "kind": "spa" }),
        ),
    ]);
    std::fs::write(&file, fc.to_string()).expect("write");
    let (ok, out) = wangge(
        &db,
        &["import", "stations", file.to_str().expect("path")],
        None,
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("item 1: geometry: longitude must be within"),
        "{out}"
    );
    assert!(out.contains("item 2") && out.contains("kind"), "{out}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM stations WHERE code LIKE 'N%'")
        .fetch_one(&db.pool().await)
        .await
        .expect("count");
    assert_eq!(n, 0, "nothing written");
    // The good part alone imports.
    let fc = collection(vec![feature(
        json!({ "type": "Point", "coordinates": [105.701, 32.401] }),
        json!({ "code": "N1", "name": "好站", "kind": "park" }),
    )]);
    std::fs::write(&file, fc.to_string()).expect("write");
    let (ok, out) = wangge(
        &db,
        &["import", "stations", file.to_str().expect("path")],
        None,
    );
    assert!(ok, "{out}");
    assert!(out.contains("imported 1 stations"), "{out}");
    let (ok, out) = wangge(
        &db,
        &["import", "rivers", file.to_str().expect("path")],
        None,
    );
    assert!(!ok && out.contains("unknown layer"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wangge demo load` loads the demo district once and seats one account per role: the
/// chief on the first first-level grid with a chief, the patrol on the first second-level
/// grid with a member, each linked to that staff member.
#[tokio::test]
async fn demo_load_seats_one_account_per_role_once() {
    let db = TestDb::new(Template::Empty).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo");
    let (ok, out) = wangge(&db, &["demo", "load", "--dir", dir], None);
    assert!(ok, "{out}");
    let pool = db.pool().await;
    // (username, role, staff code, grid code, grid level)
    type Seat = (String, String, Option<String>, Option<String>, Option<i16>);
    let seated: Vec<Seat> = sqlx::query_as(
        "SELECT a.username, a.role, s.code, g.code, g.level FROM accounts a \
             LEFT JOIN staff s ON s.id = a.staff_id \
             LEFT JOIN account_grids ag ON ag.account_id = a.id \
             LEFT JOIN current_grids g ON g.id = ag.grid_id ORDER BY a.username",
    )
    .fetch_all(&pool)
    .await
    .expect("accounts");
    let names: Vec<&str> = seated.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        ["admin", "chief", "patrol", "planner", "viewer"],
        "{out}"
    );
    for (user, level, role) in [("chief", 1, "chief"), ("patrol", 2, "member")] {
        let r = seated.iter().find(|r| r.0 == user).expect("seated");
        let (staff, grid) = (r.2.clone().expect("staff"), r.3.clone().expect("grid"));
        assert_eq!(r.4, Some(level), "{user}: {r:?}");
        let holds: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM staff_assignments a JOIN staff s ON s.id = a.staff_id \
             JOIN current_grids g ON g.id = a.grid_id WHERE s.code = $1 AND g.code = $2 AND a.role = $3)",
        )
        .bind(&staff)
        .bind(&grid)
        .bind(role)
        .fetch_one(&pool)
        .await
        .expect("assignment");
        assert!(holds, "{user} is not the {role} of {grid}");
    }
    let (ok, again) = wangge(&db, &["demo", "load", "--dir", dir], None);
    assert!(ok && again.contains("not loading the demo"), "{again}");
}
