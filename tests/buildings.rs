//! The building and station panels' routes (issue 14) on the demo district: what each role
//! sees of a building's households and this week's visits (`domain::access` decides: the
//! administrator and the grid's chief see heads of household by name, patrol staff of the
//! grid see doors and counts, viewers, planners and a chief of another grid the counts only,
//! patrol staff of another grid nothing), unknown codes as JSON 404s, a station's service
//! facts and who may set them, and a scan of every building of a grid as a viewer for the
//! names and personal numbers of its residents and staff: none. The same scan of the
//! administrator's answers finds names, so the scan can fail.

mod common;

use chrono::{Duration, Utc};
use common::patrols::{walk, whole};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;
use wangge::domain::access::{Role, ScopeKind};
use wangge::domain::patrol::IsoWeek;

/// The demo's town.
const TOWN: &str = "510802102";
/// A first-level grid of the demo (陵江社区第1网格), the chief's and the patrol's.
const GRID: &str = "51080210200101";
/// Its first second-level grid.
const CHILD: &str = "5108021020010101";
/// A member (网格员) of `GRID` in data/demo/staff.csv.
const MEMBER: &str = "510802102001-W02";

/// A household as the database has it: door, residents, the first resident's name.
type Homes = BTreeMap<String, (i64, String)>;

async fn homes_of(pool: &PgPool, building: &str) -> Homes {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT d.household, count(*), (array_agg(d.name ORDER BY p.code))[1] \
         FROM people p JOIN person_details d ON d.person_id = p.id \
         JOIN buildings b ON b.id = p.home_building_id \
         WHERE b.code = $1 AND d.household IS NOT NULL GROUP BY d.household",
    )
    .bind(building)
    .fetch_all(pool)
    .await
    .expect("households");
    rows.into_iter().map(|(l, n, h)| (l, (n, h))).collect()
}

/// The households of an answer, as `Homes` (the head empty when not given).
fn homes_in(v: &Value) -> Homes {
    v["household_list"]["households"]
        .as_array()
        .unwrap_or_else(|| panic!("a household list: {v}"))
        .iter()
        .map(|h| {
            (
                h["label"].as_str().expect("label").to_string(),
                (
                    h["residents"].as_i64().expect("residents"),
                    h["head"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

/// Names and personal phone numbers of the residents of a building and of the staff of
/// its grids, which must not reach a viewer. Names that are also a staff member's (posted
/// on the notice board) are left out: a viewer sees those as staff.
async fn secrets_of(pool: &PgPool, building: &str) -> (Vec<String>, Vec<String>) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT d.name FROM people p JOIN person_details d ON d.person_id = p.id \
         JOIN buildings b ON b.id = p.home_building_id WHERE b.code = $1 \
           AND d.name NOT IN (SELECT name FROM staff)",
    )
    .bind(building)
    .fetch_all(pool)
    .await
    .expect("names");
    let phones: Vec<String> = sqlx::query_scalar(
        "SELECT d.phone FROM people p JOIN person_details d ON d.person_id = p.id \
         JOIN buildings b ON b.id = p.home_building_id WHERE b.code = $1 AND d.phone IS NOT NULL \
         UNION SELECT phone FROM staff WHERE phone IS NOT NULL",
    )
    .bind(building)
    .fetch_all(pool)
    .await
    .expect("phones");
    (names, phones)
}

/// The names of `names` found in an answer, outside its public texts (the building's and
/// places' names and address, which may hold a two-character name by chance).
fn names_found(v: &Value, names: &[String]) -> Vec<String> {
    let mut shown = v.clone();
    shown["staff"] = Value::Null;
    let text = shown.to_string();
    let public = [
        &v["name"],
        &v["address"],
        &v["compound"]["name"],
        &v["grid"]["name"],
        &v["parent_grid"]["name"],
        &v["community"]["name"],
    ]
    .map(|x| x.as_str().unwrap_or_default().to_string())
    .join(" ");
    names
        .iter()
        .filter(|n| text.contains(n.as_str()) && !public.contains(n.as_str()))
        .cloned()
        .collect()
}

/// Whether any object in the answer has a `head` field.
fn has_head(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("head") || m.values().any(has_head),
        Value::Array(a) => a.iter().any(has_head),
        _ => false,
    }
}

/// The building of `grid` with the most households.
async fn biggest(pool: &PgPool, grid: &str) -> (String, i64) {
    sqlx::query_as(
        "SELECT b.code, b.households::bigint FROM buildings b JOIN current_grids g ON g.id = b.grid_id \
         WHERE g.code = $1 ORDER BY b.households DESC, b.code LIMIT 1",
    )
    .bind(grid)
    .fetch_one(pool)
    .await
    .expect("a building")
}

/// A walk this week, inside `grid` (near a point inside it), ending a minute ago at most.
async fn walk_here(pool: &PgPool, grid: &str) -> Vec<(f64, f64, chrono::DateTime<Utc>)> {
    let (x, y): (f64, f64) = sqlx::query_as(
        "SELECT ST_X(p), ST_Y(p) FROM current_grids, ST_PointOnSurface(geom) p WHERE code = $1",
    )
    .bind(grid)
    .fetch_one(pool)
    .await
    .expect("a point in the grid");
    let start = (Utc::now() - Duration::minutes(40)).max(IsoWeek::of(Utc::now()).start());
    walk((x - 3e-4, y - 3e-4, x + 3e-4, y + 3e-4), start, 30, 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buildings_households_and_visits_as_each_role_sees_them() {
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    let mut s = TestServer::start(&db).await;
    use ScopeKind::*;
    s.add_account("admin", Role::Admin, "GYKFQ", Region, &[], &[])
        .await;
    s.add_account("chief", Role::GridChief, TOWN, Grids, &[], &[GRID])
        .await;
    s.add_account("viewer", Role::Viewer, TOWN, Region, &[], &[])
        .await;
    s.add_account("planner", Role::Planner, TOWN, Region, &[], &[])
        .await;
    s.add_patrol("patrol", "网格员甲", TOWN, GRID, MEMBER).await;
    let other: String = sqlx::query_scalar(
        "SELECT code FROM current_grids WHERE level = 2 AND code LIKE $1 || '%' \
           AND code NOT LIKE $2 || '%' ORDER BY code LIMIT 1",
    )
    .bind(TOWN)
    .bind(GRID)
    .fetch_one(&pool)
    .await
    .expect("a second-level grid of another first-level grid");
    s.add_account("patrol_out", Role::Patrol, TOWN, Grids, &[], &[&other])
        .await;
    s.become_admin().await;

    let (building, total) = biggest(&pool, CHILD).await;
    let expected = homes_of(&pool, &building).await;
    assert!(expected.len() > 3, "the demo's building has households");
    let path = format!("/api/buildings/{building}");

    // The member walks the grid this week and visits 3 households of the building.
    let patrol = s.sign_in("patrol").await;
    let w = walk_here(&pool, CHILD).await;
    let id = Uuid::new_v4();
    let body = whole(
        &[CHILD],
        &w,
        json!([{ "building": building, "households": 3 }]),
    );
    let (st, _, v) = patrol
        .send(
            Method::PUT,
            &format!("/api/patrols/{id}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let member: String = sqlx::query_scalar("SELECT name FROM staff WHERE code = $1")
        .bind(MEMBER)
        .fetch_one(&pool)
        .await
        .expect("the member's name");

    // The administrator and the grid's chief: every household with its head, and the visit.
    for who in ["admin", "chief"] {
        let c = s.sign_in(who).await;
        let (st, v) = c.get(&path).await;
        assert_eq!(st, 200, "{who}: {v}");
        assert_eq!(v["visibility"], "full", "{who}");
        assert_eq!(homes_in(&v), expected, "{who}");
        assert_eq!(v["grid"]["code"], CHILD);
        assert_eq!(v["parent_grid"]["code"], GRID);
        assert_eq!(v["community"]["code"], &GRID[..12]);
        assert_eq!(v["households"], total);
        let visits = &v["visits"];
        assert_eq!(visits["households_visited"], 3, "{who}: {v}");
        assert_eq!(visits["households"], total);
        assert_eq!(visits["week"], IsoWeek::of(Utc::now()).to_string());
        let patrols = visits["patrols"].as_array().expect("patrols");
        assert_eq!(patrols.len(), 1, "{who}: {visits}");
        assert_eq!(patrols[0]["patrol_id"], id.to_string());
        assert_eq!(patrols[0]["by"], member.as_str());
        assert_eq!(patrols[0]["staff_code"], MEMBER);
        assert_eq!(patrols[0]["households"], 3);
        // Staff with their personal numbers, as the grid's panel has them.
        let staff = v["staff"].as_array().expect("staff");
        assert!(staff.iter().any(|m| m["role"] == "chief"), "{v}");
        assert!(staff.iter().any(|m| m.get("phone").is_some()), "{v}");
    }

    // Patrol staff of the grid: doors and counts, no name, and the visits.
    let (st, v) = patrol.get(&path).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["visibility"], "addresses");
    let doors: Homes = expected
        .iter()
        .map(|(l, (n, _))| (l.clone(), (*n, String::new())))
        .collect();
    assert_eq!(homes_in(&v), doors);
    assert!(!has_head(&v), "{v}");
    assert_eq!(v["visits"]["households_visited"], 3);
    assert!(v.get("party_members").is_none());
    assert!(v["staff"]
        .as_array()
        .expect("staff")
        .iter()
        .all(|m| m.get("phone").is_none()));

    // Viewers, planners, and a chief looking at a building of another grid: counts only.
    let (other_building, other_total) = biggest(&pool, &other).await;
    for (who, b, n) in [
        ("viewer", &building, total),
        ("planner", &building, total),
        ("chief", &other_building, other_total),
    ] {
        let c = s.sign_in(who).await;
        let (st, v) = c.get(&format!("/api/buildings/{b}")).await;
        assert_eq!(st, 200, "{who}: {v}");
        assert_eq!(v["visibility"], "counts", "{who}");
        assert_eq!(v["households"], n, "{who}");
        assert!(v["household_list"].is_null(), "{who}: {v}");
        assert!(v["visits"].is_null(), "{who}: {v}");
        assert!(!has_head(&v), "{who}");
        let (names, phones) = secrets_of(&pool, b).await;
        assert_eq!(names_found(&v, &names), Vec::<String>::new(), "{who}");
        let text = v.to_string();
        assert!(phones.iter().all(|p| !text.contains(p.as_str())), "{who}");
    }

    // Patrol staff of another grid see nothing of it: the same 404 as an unknown code.
    let out = s.sign_in("patrol_out").await;
    for (c, p) in [
        (&out, path.clone()),
        (&s.client, "/api/buildings/NO-SUCH".to_string()),
        (&s.client, "/api/stations/NO-SUCH".to_string()),
        (&s.client, "/api/stations/NO-SUCH/service".to_string()),
    ] {
        let (st, v) = if p.ends_with("service") {
            let (st, _, v) = c
                .send(Method::PUT, &p, Some(&json!({ "phone": "1" })), None)
                .await;
            (st, v)
        } else {
            c.get(&p).await
        };
        assert_eq!(st, 404, "{p}: {v}");
        assert_eq!(v["error"], "not_found", "{p}: {v}");
        assert!(v["message"].is_string(), "{p}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_name_or_personal_number_of_a_grid_reaches_a_viewer_through_its_buildings() {
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    let mut s = TestServer::start(&db).await;
    s.add_account("admin", Role::Admin, "GYKFQ", ScopeKind::Region, &[], &[])
        .await;
    s.add_account("viewer", Role::Viewer, TOWN, ScopeKind::Region, &[], &[])
        .await;
    s.become_admin().await;
    let viewer = s.sign_in("viewer").await;
    let buildings: Vec<String> = sqlx::query_scalar(
        "SELECT b.code FROM buildings b JOIN current_grids g ON g.id = b.grid_id \
         WHERE g.code LIKE $1 || '%' AND b.households > 0 ORDER BY b.code",
    )
    .bind(GRID)
    .fetch_all(&pool)
    .await
    .expect("buildings");
    assert!(buildings.len() > 10, "the grid has buildings");
    let mut admin_names = 0;
    for b in &buildings {
        let (names, phones) = secrets_of(&pool, b).await;
        let path = format!("/api/buildings/{b}");
        let (st, v) = viewer.get(&path).await;
        assert_eq!(st, 200, "{path}: {v}");
        assert_eq!(names_found(&v, &names), Vec::<String>::new(), "{path}");
        let text = v.to_string();
        let leaked: Vec<&String> = phones
            .iter()
            .filter(|p| text.contains(p.as_str()))
            .collect();
        assert!(leaked.is_empty(), "{path} gave a viewer {leaked:?}");
        // The administrator's answer to the same request holds names: the scan can find them.
        let (st, v) = s.client.get(&path).await;
        assert_eq!(st, 200, "{path}: {v}");
        admin_names += names_found(&v, &names).len();
    }
    assert!(admin_names > buildings.len(), "the scan finds heads' names");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stations_service_facts_are_public_and_set_by_those_who_change_stations() {
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    let mut s = TestServer::start(&db).await;
    use ScopeKind::*;
    s.add_account("admin", Role::Admin, "GYKFQ", Region, &[], &[])
        .await;
    s.add_account("planner", Role::Planner, TOWN, Region, &[], &[])
        .await;
    s.add_account("chief", Role::GridChief, TOWN, Grids, &[], &[GRID])
        .await;
    s.add_account(
        "viewer",
        Role::Viewer,
        TOWN,
        Communities,
        &[&GRID[..12]],
        &[],
    )
    .await;
    s.become_admin().await;
    let (code, community, programmes): (String, String, Option<i32>) = sqlx::query_as(
        "SELECT s.code, c.code, s.programmes FROM stations s JOIN communities c ON c.id = s.community_id \
         WHERE c.code = $1 AND s.kind = 'elderly_care' ORDER BY s.code LIMIT 1",
    )
    .bind(&GRID[..12])
    .fetch_one(&pool)
    .await
    .expect("a station of the community");
    let path = format!("/api/stations/{code}");
    let viewer = s.sign_in("viewer").await;
    let (st, v) = viewer.get(&path).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["kind"], "elderly_care");
    assert_eq!(v["community"]["code"], community.as_str());
    assert_eq!(v["programmes"], json!(programmes));
    assert!(v["opening_hours"].is_null() && v["phone"].is_null(), "{v}");
    assert!(v["grid"]["code"].is_string(), "the grid it stands in: {v}");

    let facts = json!({ "opening_hours": "周一至周五 8:30-17:30", "phone": "0839-3300123" });
    let service = format!("{path}/service");
    for who in ["viewer", "chief"] {
        let (st, _, v) = s
            .sign_in(who)
            .await
            .send(Method::PUT, &service, Some(&facts), None)
            .await;
        assert_eq!(st, 403, "{who}: {v}");
    }
    let planner = s.sign_in("planner").await;
    let (st, _, v) = planner
        .send(Method::PUT, &service, Some(&facts), None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["opening_hours"], facts["opening_hours"]);
    let (st, v) = viewer.get(&path).await;
    assert_eq!(st, 200);
    assert_eq!(v["opening_hours"], facts["opening_hours"]);
    assert_eq!(v["phone"], facts["phone"]);
    // Audited like every write.
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'station_service' AND entity_key = $1 \
           AND actor = 'planner' AND after->>'phone' = '0839-3300123'",
    )
    .bind(&code)
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(logged, 1);
    // A phone that is not one, an unknown field: refused; an empty text clears.
    for (body, status) in [
        (json!({ "phone": "call me" }), 422),
        (json!({ "hours": "8-17" }), 422),
        (json!({ "opening_hours": "", "phone": null }), 200),
    ] {
        let (st, _, v) = planner.send(Method::PUT, &service, Some(&body), None).await;
        assert_eq!(st, status, "{body}: {v}");
    }
    let (_, v) = viewer.get(&path).await;
    assert!(v["opening_hours"].is_null() && v["phone"].is_null(), "{v}");
}

/// The labels of the households an answer marks as visited this week, and by whom.
fn marked(v: &Value) -> BTreeMap<String, Vec<String>> {
    v["household_list"]["households"]
        .as_array()
        .unwrap_or_else(|| panic!("a household list: {v}"))
        .iter()
        .map(|h| {
            let mut by: Vec<String> = h["visited"]
                .as_array()
                .unwrap_or_else(|| panic!("visited on every household: {h}"))
                .iter()
                .map(|x| x["patrol_id"].as_str().expect("patrol").to_string())
                .collect();
            by.sort();
            (h["label"].as_str().expect("label").to_string(), by)
        })
        .filter(|(_, by): &(String, Vec<String>)| !by.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_marks_the_households_visited_and_a_second_visit_counts_once() {
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    let s = TestServer::start(&db).await;
    use ScopeKind::*;
    s.add_account("chief", Role::GridChief, TOWN, Grids, &[], &[GRID])
        .await;
    s.add_account("viewer", Role::Viewer, TOWN, Region, &[], &[])
        .await;
    s.add_patrol("patrol", "网格员甲", TOWN, GRID, MEMBER).await;
    let (building, _) = biggest(&pool, CHILD).await;
    let doors: Vec<String> = homes_of(&pool, &building).await.into_keys().collect();
    assert!(doors.len() > 3, "the demo's building has households");
    let path = format!("/api/buildings/{building}");

    // This week: patrol A names doors 0 and 1, patrol B doors 1 and 2 (door 1 twice),
    // patrol C (an older phone) counts one household without naming it.
    let patrol = s.sign_in("patrol").await;
    let w = walk_here(&pool, CHILD).await;
    let mut ids = vec![];
    for visit in [
        json!({ "building": building, "doors": [doors[0], doors[1]] }),
        json!({ "building": building, "households": 2, "doors": [doors[1], doors[2]] }),
        json!({ "building": building, "households": 1 }),
    ] {
        let id = Uuid::new_v4();
        let body = whole(&[CHILD], &w, json!([visit]));
        let (st, _, v) = patrol
            .send(
                Method::PUT,
                &format!("/api/patrols/{id}"),
                Some(&body),
                None,
            )
            .await;
        assert_eq!(st, 201, "{v}");
        ids.push(id.to_string());
    }
    let both = |a: usize, b: usize| {
        let mut v = vec![ids[a].clone(), ids[b].clone()];
        v.sort();
        v
    };
    let expected: BTreeMap<String, Vec<String>> = [
        (doors[0].clone(), vec![ids[0].clone()]),
        (doors[1].clone(), both(0, 1)),
        (doors[2].clone(), vec![ids[1].clone()]),
    ]
    .into_iter()
    .collect();

    // The chief and the grid's patrol staff: exactly those three households marked, each
    // with the patrols that named it; the other households marked as not visited.
    for c in [s.sign_in("chief").await, patrol.clone()] {
        let (st, v) = c.get(&path).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(marked(&v), expected, "{v}");
        let first = &v["household_list"]["households"]
            .as_array()
            .expect("households")
            .iter()
            .find(|h| h["label"] == doors[1].as_str())
            .expect("door 1")["visited"][0];
        assert_eq!(first["staff_code"], MEMBER, "{first}");
        assert!(first["started_at"].is_string(), "{first}");
        // Three households named (door 1 once) and one counted without a name.
        assert_eq!(v["visits"]["households_visited"], 4, "{v}");
        let named: BTreeMap<String, Value> = v["visits"]["patrols"]
            .as_array()
            .expect("patrols")
            .iter()
            .map(|p| {
                (
                    p["patrol_id"].as_str().unwrap_or_default().to_string(),
                    p["doors"].clone(),
                )
            })
            .collect();
        let sent: BTreeMap<String, Value> = [
            (ids[0].clone(), json!([doors[0], doors[1]])),
            (ids[1].clone(), json!([doors[1], doors[2]])),
            (ids[2].clone(), Value::Null),
        ]
        .into_iter()
        .collect();
        assert_eq!(named, sent);
    }

    // The weekly compliance counts the same: door 1 once.
    let chief = s.sign_in("chief").await;
    let week = IsoWeek::of(Utc::now());
    let (st, r) = chief
        .get(&format!("/api/compliance?week={week}&grid={GRID}"))
        .await;
    assert_eq!(st, 200, "{r}");
    let row = r["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .find(|g| g["grid"] == CHILD)
        .unwrap_or_else(|| panic!("{CHILD} in {r}"));
    assert_eq!(row["households_visited"], 4, "{row}");

    // A viewer: counts only, no household and no door.
    let viewer = s.sign_in("viewer").await;
    let (st, v) = viewer.get(&path).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["household_list"].is_null(), "{v}");
    assert!(v["visits"].is_null(), "{v}");
    let text = v.to_string();
    assert!(
        doors.iter().all(|d| !text.contains(&format!("\"{d}\""))),
        "{v}"
    );
}
