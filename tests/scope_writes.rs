//! Issue 11, items 4, 5 and 7 against the demo district: a staff write is checked for every
//! record it names and audits every field it changes; no personal phone number reaches a
//! viewer or a patrol account in any answer or tile; writes that say nothing are refused,
//! and writes that name things as they are make no history.

mod common;

use common::*;
use geo::{coord, InteriorPoint, MultiPolygon, Rect};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashSet;
use wangge::domain::access::{Role, ScopeKind};
use wangge::spatial::tiles::{decode_tile, tiles_covering};

/// The chief's grid (community 510802102001) and a grid of another community whose chief
/// is `510802102002-W01` in the demo.
const MINE: &str = "51080210200101";
const THEIRS: &str = "51080210200201";
const THEIR_CHIEF: &str = "510802102002-W01";

async fn demo() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    use ScopeKind::*;
    s.add_account("admin", Role::Admin, "GYKFQ", Region, &[], &[])
        .await;
    s.add_account("chief", Role::GridChief, "510802102", Grids, &[], &[MINE])
        .await;
    s.add_account("viewer", Role::Viewer, "510802102", Region, &[], &[])
        .await;
    s.add_account(
        "patrol",
        Role::Patrol,
        "510802102",
        Grids,
        &[],
        &["5108021020010101"],
    )
    .await;
    s.become_admin().await;
    (db, s)
}

/// Every staff record serving the grids, with every field and its assignment, as stored.
async fn staff_rows(
    pool: &PgPool,
    grids: &[&str],
) -> Vec<(
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
)> {
    let grids: Vec<String> = grids.iter().map(std::string::ToString::to_string).collect();
    sqlx::query_as(
        "SELECT g.code, s.code, s.name, s.phone, s.duty_phone, a.role, a.until IS NULL \
         FROM staff_assignments a JOIN staff s ON s.id = a.staff_id JOIN current_grids g ON g.id = a.grid_id \
         WHERE g.code = ANY($1) ORDER BY 1, 2, 6, 7",
    )
    .bind(&grids)
    .fetch_all(pool)
    .await
    .expect("staff rows")
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Audit entries, grid versions and change records: what a write leaves behind.
async fn history(pool: &PgPool) -> (i64, i64, i64) {
    (
        count(pool, "SELECT count(*) FROM audit_log").await,
        count(pool, "SELECT count(*) FROM grid_versions").await,
        count(pool, "SELECT count(*) FROM changes").await,
    )
}

#[tokio::test]
async fn a_chief_cannot_reach_staff_of_another_community_through_its_own_grid() {
    let (db, s) = demo().await;
    let pool = db.pool().await;
    let chief = s.sign_in("chief").await;
    let before = staff_rows(&pool, &[MINE, THEIRS]).await;
    let their_chief = before
        .iter()
        .find(|r| r.0 == THEIRS && r.5 == "chief")
        .cloned()
        .expect("the demo grid has a chief");
    assert_eq!(their_chief.1, THEIR_CHIEF);
    let was = history(&pool).await;

    // The issue's request: a member "of" the chief's grid who is the other grid's chief.
    let (st, _, b) = chief
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&json!({ "members": [{ "code": THEIR_CHIEF, "name": "HIJACKED", "phone": "110" }] })),
            None,
        )
        .await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["field"], "members[0].code", "{b}");
    // Nor may the chief take them in unchanged, or change them as chief of its grid.
    for body in [
        json!({ "members": [{ "code": THEIR_CHIEF }] }),
        json!({ "chief": { "code": THEIR_CHIEF, "duty_phone": "0839-3000000" } }),
    ] {
        let (st, _, b) = chief
            .send(
                Method::PUT,
                &format!("/api/grids/{MINE}/staff"),
                Some(&body),
                None,
            )
            .await;
        assert_eq!(st, 403, "{body}: {b}");
    }
    // A new record is fine, but not one linked to a resident of another community.
    let resident: String = sqlx::query_scalar(
        "SELECT p.code FROM people p JOIN buildings b ON b.id = p.home_building_id \
         JOIN current_grids g ON g.id = b.grid_id WHERE g.code LIKE $1 || '%' ORDER BY p.code LIMIT 1",
    )
    .bind(THEIRS)
    .fetch_one(&pool)
    .await
    .expect("a resident of the other grid");
    let (st, _, b) = chief
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&json!({ "members": [{ "code": "NEW-1", "name": "新人", "person_code": resident }] })),
            None,
        )
        .await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["field"], "members[0].person_code", "{b}");

    assert_eq!(
        staff_rows(&pool, &[MINE, THEIRS]).await,
        before,
        "nothing changed"
    );
    assert_eq!(
        history(&pool).await,
        was,
        "no audit entry, no change record"
    );
    let exists = count(
        &pool,
        "SELECT count(*) FROM staff WHERE code = 'NEW-1' OR name = 'HIJACKED'",
    )
    .await;
    assert_eq!(exists, 0);
    let (_, located) = s.get(&format!("/api/grids/{THEIRS}")).await;
    assert!(!located.to_string().contains("HIJACKED"));

    // The region's administrator reaches both communities.
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&json!({ "members": [{ "code": THEIR_CHIEF }] })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn a_chief_edits_its_own_staff_and_the_audit_holds_every_field() {
    let (db, s) = demo().await;
    let pool = db.pool().await;
    let chief = s.sign_in("chief").await;
    let (st, g) = chief.get(&format!("/api/grids/{MINE}")).await;
    assert_eq!(st, 200, "{g}");
    let staff = g["properties"]["staff"].as_array().expect("staff").clone();
    assert!(staff.len() >= 3, "{staff:?}");
    // The chief sees its grid in full: personal phones too.
    assert!(
        staff
            .iter()
            .all(|m| m["phone"].is_string() && m["duty_phone"].is_string()),
        "{staff:?}"
    );
    let code = |i: usize| staff[i]["code"].as_str().expect("code").to_string();
    let old_name = staff[0]["name"].as_str().expect("name").to_string();
    let old_phone = staff[1]["phone"].as_str().expect("phone").to_string();
    let body = json!({
        "chief": { "code": code(0), "name": "付刚伟改", "duty_phone": "0839-3999999" },
        "members": [
            { "code": code(1), "phone": "13900000009" },
            { "code": code(2) },
            { "code": "510802102001-W99", "name": "新网格员", "duty_phone": "0839-3888888", "committee": true },
        ],
    });
    let audits = count(&pool, "SELECT count(*) FROM audit_log").await;
    let (st, _, b) = chief
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["changed"], true, "{b}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log").await,
        audits + 1
    );

    let (_, log) = s.get("/api/audit?limit=5").await;
    let entry = log["entries"]
        .as_array()
        .and_then(|e| {
            e.iter()
                .find(|e| e["entity"] == "staff" && e["entity_key"] == MINE)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no audit entry: {log}"));
    assert_eq!(entry["actor"], "chief");
    let find = |side: &str, c: &str| {
        entry[side]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["code"] == c))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Each changed field, before and after.
    assert_eq!(
        find("before", &code(0))["name"],
        old_name.as_str(),
        "{entry}"
    );
    assert_eq!(find("after", &code(0))["name"], "付刚伟改");
    assert_eq!(find("after", &code(0))["duty_phone"], "0839-3999999");
    assert_eq!(find("after", &code(0))["role"], "chief");
    assert_eq!(find("before", &code(1))["phone"], old_phone.as_str());
    assert_eq!(find("after", &code(1))["phone"], "13900000009");
    assert_eq!(
        find("after", &code(2)),
        find("before", &code(2)),
        "unchanged"
    );
    for dropped in staff.iter().skip(3) {
        let c = dropped["code"].as_str().expect("code");
        assert!(find("before", c).is_object() && find("after", c).is_null());
    }
    assert!(find("before", "510802102001-W99").is_null());
    assert_eq!(find("after", "510802102001-W99")["name"], "新网格员");
    assert_eq!(find("after", "510802102001-W99")["committee"], true);

    // The same body again changes nothing and leaves no trace.
    let was = history(&pool).await;
    let since: Vec<String> = sqlx::query_scalar(
        "SELECT a.since::text FROM staff_assignments a JOIN current_grids g ON g.id = a.grid_id \
         WHERE g.code = $1 AND a.until IS NULL ORDER BY 1",
    )
    .bind(MINE)
    .fetch_all(&pool)
    .await
    .expect("since");
    let (st, _, b) = chief
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["changed"], false, "{b}");
    assert_eq!(history(&pool).await, was);
    let again: Vec<String> = sqlx::query_scalar(
        "SELECT a.since::text FROM staff_assignments a JOIN current_grids g ON g.id = a.grid_id \
         WHERE g.code = $1 AND a.until IS NULL ORDER BY 1",
    )
    .bind(MINE)
    .fetch_all(&pool)
    .await
    .expect("since");
    assert_eq!(again, since, "assignments that stay keep their start");
    // A body that names nothing is refused.
    let (st, _, b) = chief
        .send(
            Method::PUT,
            &format!("/api/grids/{MINE}/staff"),
            Some(&json!({})),
            None,
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["error"], "nothing_to_change", "{b}");
    assert_eq!(history(&pool).await, was);
}

/// Personal phone numbers found in a text: runs of digits that are someone's number.
fn leaked(text: &str, phones: &HashSet<String>) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 7 && phones.contains(*run))
        .map(String::from)
        .collect()
}

/// A point inside a grid's geometry.
fn inside(geometry: &Value) -> Option<(f64, f64)> {
    let g: geojson::Geometry = serde_json::from_value(geometry.clone()).ok()?;
    let mp = MultiPolygon::<f64>::try_from(g.value.clone())
        .or_else(|_| geo::Polygon::<f64>::try_from(g.value).map(|p| MultiPolygon(vec![p])))
        .ok()?;
    mp.interior_point().map(|p| (p.x(), p.y()))
}

/// Every answer an account gets about its scope, and its tiles' attributes, as text.
async fn everything_seen(c: &Client) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut get = |path: String, body: Value| out.push((path, body.to_string()));
    for path in [
        "/api/auth/me",
        "/api/communities",
        "/api/grids",
        "/api/buildings?bbox=105.68,32.38,105.72,32.42",
        "/api/stations",
        "/api/search?q=网格",
        "/api/search?q=510802102001",
        "/api/search?q=社区",
    ] {
        let (_, b) = c.get(path).await;
        get(path.to_string(), b);
    }
    let (_, grids) = c.get("/api/grids").await;
    let grids = grids["features"].as_array().cloned().unwrap_or_default();
    assert!(!grids.is_empty(), "the account sees some grids");
    for g in &grids {
        let code = g["properties"]["code"].as_str().unwrap_or_default();
        for path in [
            format!("/api/grids/{code}"),
            format!("/api/grids/{code}/households"),
            format!("/api/grids/{code}/people"),
            format!("/api/search?q={code}"),
        ] {
            let (_, b) = c.get(&path).await;
            get(path, b);
        }
        if let Some((lon, lat)) = inside(&g["geometry"]) {
            let path = format!("/api/locate?lon={lon}&lat={lat}");
            let (_, b) = c.get(&path).await;
            get(path, b);
        }
    }
    let area = Rect::new(
        coord! { x: 105.6855, y: 32.3901 },
        coord! { x: 105.7145, y: 32.4099 },
    );
    for layer in [
        "communities",
        "grids1",
        "grids2",
        "buildings",
        "stations",
        "streets",
    ] {
        for t in tiles_covering(area, 14).expect("tiles") {
            let path = format!("/tiles/{layer}/{}/{}/{}.mvt", t.z(), t.x(), t.y());
            let r = c.raw(Method::GET, &path).send().await.expect("tile");
            let bytes = r.bytes().await.expect("tile body");
            let mut text = String::new();
            for l in decode_tile(&bytes).expect("a valid tile") {
                for f in l.features {
                    for (k, v) in f.properties {
                        text.push_str(&format!("{k}={v:?};"));
                    }
                }
            }
            out.push((path, text));
        }
    }
    out
}

#[tokio::test]
async fn no_personal_phone_reaches_a_viewer_or_a_patrol() {
    let (db, s) = demo().await;
    let pool = db.pool().await;
    let phones: HashSet<String> = sqlx::query_scalar(
        "SELECT phone FROM person_details WHERE phone IS NOT NULL \
         UNION SELECT phone FROM staff WHERE phone IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .expect("phones")
    .into_iter()
    .collect();
    assert!(phones.len() > 10_000, "the demo's residents have phones");

    for who in ["viewer", "patrol"] {
        let c = s.sign_in(who).await;
        let seen = everything_seen(&c).await;
        for (path, text) in &seen {
            let l = leaked(text, &phones);
            assert!(
                l.is_empty(),
                "{who} {path} leaked personal phones {l:?}: {}",
                text.chars().take(300).collect::<String>()
            );
        }
        // They do see the grid's notice board: names and duty phones.
        let duty = seen
            .iter()
            .filter(|(p, _)| p.starts_with("/api/grids/") || p.starts_with("/api/locate"))
            .any(|(_, t)| t.contains("\"duty_phone\":\"0839-"));
        assert!(duty, "{who} sees duty phones");
        let (_, me) = c.get("/api/auth/me").await;
        assert_eq!(me["permissions"]["staff"], json!(["read"]), "{me}");
    }
    // Whoever sees the grid in full sees personal phones as well.
    let chief = s.sign_in("chief").await;
    let (_, g) = chief.get(&format!("/api/grids/{MINE}")).await;
    assert!(!leaked(&g.to_string(), &phones).is_empty(), "{g}");
    let (_, g) = chief.get("/api/grids/51080210200201").await;
    assert!(
        leaked(&g.to_string(), &phones).is_empty(),
        "a neighbour's grid: {g}"
    );
}

#[tokio::test]
async fn writes_that_say_nothing_are_refused_and_repeats_make_no_history() {
    let (db, s) = demo().await;
    let pool = db.pool().await;
    let code = "5108021020010101";
    let (st, etag, g) = s
        .send(Method::GET, &format!("/api/grids/{code}"), None, None)
        .await;
    assert_eq!(st, 200);
    let etag = etag.expect("etag");
    let version: i64 = etag.trim_matches('"').parse().expect("version");
    let was = history(&pool).await;
    let path = format!("/api/grids/{code}");

    for (body, field) in [
        (json!({}), "geometry"),
        (json!({ "type": "Feature" }), "geometry"),
        (
            json!({ "type": "Feature", "geometry": null, "properties": {} }),
            "geometry",
        ),
        (
            json!({ "type": "Feature", "properties": { "name": null } }),
            "geometry",
        ),
    ] {
        let (st, _, b) = s.send(Method::PUT, &path, Some(&body), Some(&etag)).await;
        assert_eq!(st, 422, "{body}: {b}");
        assert_eq!(b["error"], "nothing_to_change", "{body}: {b}");
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    let (st, _, b) = s
        .send(
            Method::PUT,
            &path,
            Some(&json!({ "type": "FeatureCollection", "features": [] })),
            Some(&etag),
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["field"], "type", "{b}");

    // The grid as it is: 200, unchanged, same version.
    let same = json!({ "type": "Feature", "geometry": g["geometry"], "properties": { "name": g["properties"]["name"] } });
    let (st, new_etag, b) = s.send(Method::PUT, &path, Some(&same), Some(&etag)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["changed"], false, "{b}");
    assert_eq!(new_etag.as_deref(), Some(etag.as_str()));
    let (st, _, b) = s
        .send(
            Method::PUT,
            &path,
            Some(&json!({ "properties": { "name": g["properties"]["name"] } })),
            Some(&etag),
        )
        .await;
    assert_eq!((st, &b["changed"]), (200, &json!(false)), "{b}");

    // Batches.
    for (body, field) in [
        (json!({ "changes": [] }), "changes"),
        (
            json!({ "changes": [{ "op": "update", "code": code, "version": version, "feature": null }] }),
            "changes[0].feature",
        ),
        (
            json!({ "changes": [{ "op": "update", "code": code, "version": version }] }),
            "changes[0].feature",
        ),
        (
            json!({ "changes": [{ "op": "update", "code": code, "version": version, "feature": { "type": "Feature" } }] }),
            "changes[0].feature.geometry",
        ),
    ] {
        let (st, _, b) = s
            .send(Method::POST, "/api/grids/batch", Some(&body), None)
            .await;
        assert_eq!(st, 422, "{body}: {b}");
        assert_eq!(b["error"], "nothing_to_change", "{body}: {b}");
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    let (st, _, b) = s
        .send(
            Method::POST,
            "/api/grids/batch",
            Some(&json!({ "changes": [{ "op": "update", "code": code, "version": version, "feature": same }] })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["changed"], false, "{b}");

    // Imports with nothing in them.
    for layer in ["stations", "grids", "buildings"] {
        let (st, _, b) = s
            .send(
                Method::POST,
                &format!("/api/import/{layer}"),
                Some(&json!({ "type": "FeatureCollection", "features": [] })),
                None,
            )
            .await;
        assert_eq!(st, 422, "{layer}: {b}");
        assert_eq!(b["error"], "nothing_to_change", "{b}");
    }
    let dir = std::env::temp_dir().join(format!("wangge-empty-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let empty_fc = dir.join("stations.geojson");
    std::fs::write(&empty_fc, r#"{"type":"FeatureCollection","features":[]}"#).expect("write");
    let staff_csv = dir.join("staff.csv");
    std::fs::write(
        &staff_csv,
        "code,name,phone,person_code,committee,grid_code,role,duty_phone\n",
    )
    .expect("write");
    for (layer, file) in [("stations", &empty_fc), ("staff", &staff_csv)] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["import", layer, file.to_str().expect("path")])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run wangge");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{layer}: {text}");
        assert!(text.contains("nothing to import"), "{layer}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(
        history(&pool).await,
        was,
        "no version, audit entry or change record"
    );
    let (_, _, now) = s.send(Method::GET, &path, None, None).await;
    assert_eq!(now["properties"]["version"], version);
}
