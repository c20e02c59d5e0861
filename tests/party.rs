//! Party organisations against a real PostGIS: cells that follow the grids, members who
//! follow their buildings in the grid-change transaction, the preview that says the same as
//! the commit, every rule check and its finding disappearing once the data is fixed, and what
//! each role may see.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use wangge::store::audit::Actor;

async fn fixture() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    (db, s)
}

fn g(suffix: &str) -> String {
    format!("{C}{suffix}")
}

/// Adds residents from CSV rows `code,building,name,membership`.
async fn residents(s: &TestServer, rows: &[(&str, &str, &str, &str)]) {
    let mut csv = String::from(
        "code,building_code,name,sex,birth_year,phone,work_unit,household,membership\n",
    );
    for (code, building, name, membership) in rows {
        csv.push_str(&format!(
            "{code},{building},{name},M,1980,,,9-{code},{membership}\n"
        ));
    }
    s.state
        .store
        .import_people_csv(&Actor::system("test"), csv.as_bytes(), &|_, _| {})
        .await
        .expect("residents");
    s.state.registry.refresh().await.expect("refresh");
}

async fn ok(s: &Client, method: Method, path: &str, body: Value) -> Value {
    let (st, _, b) = s.send(method.clone(), path, Some(&body), None).await;
    assert!((200..300).contains(&st), "{method} {path} gave {st}: {b}");
    b
}

/// The cell of every party member, as stored: person code → grid code.
async fn stored_cells(db: &TestDb) -> BTreeMap<String, String> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT p.code, g.code FROM party_assignments a JOIN people p ON p.id = a.person_id \
         JOIN current_grids g ON g.id = a.grid_id ORDER BY 1",
    )
    .fetch_all(&db.pool().await)
    .await
    .expect("assignments")
    .into_iter()
    .collect()
}

/// Findings as (rule, subject code) pairs.
async fn findings(c: &Client, query: &str) -> BTreeSet<(String, String)> {
    let (st, body) = c
        .get(&format!("/api/party/findings?year=2024{query}"))
        .await;
    assert_eq!(st, 200, "{body}");
    body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["subject"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn has(f: &BTreeSet<(String, String)>, rule: &str, code: &str) -> bool {
    f.contains(&(rule.to_string(), code.to_string()))
}

#[tokio::test]
async fn cells_exist_for_every_grid_and_members_are_assigned_where_they_live() {
    let (db, s) = fixture().await;
    let (st, body) = s.get("/api/party/orgs").await;
    assert_eq!(st, 200, "{body}");
    let codes: BTreeSet<&str> = body["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["code"].as_str())
        .collect();
    for expected in [
        format!("{C}-DW"),
        format!("{C2}-DW"),
        format!("{}-ZB", g("01")),
        format!("{}-XZ", g("0101")),
        format!("{}-XZ", g("0202")),
        format!("{C2}0101-XZ"),
    ] {
        assert!(codes.contains(expected.as_str()), "{expected} in {codes:?}");
    }
    assert_eq!(codes.len(), 2 + 3 + 5);
    // P1 (B00, full), P3 (B10, probationary), P4 (B2, full); P2 is no member.
    let cells = stored_cells(&db).await;
    assert_eq!(
        cells,
        BTreeMap::from([
            ("P1".to_string(), g("0101")),
            ("P3".to_string(), g("0201")),
            ("P4".to_string(), format!("{C2}0101")),
        ])
    );
    // Membership changes move people in and out of cells in the same transaction.
    ok(
        &s,
        Method::PUT,
        "/api/people/P2",
        json!({ "building_code": "B11", "name": "王芳", "membership": "full" }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/people/P1",
        json!({ "building_code": "B00", "name": "张伟", "membership": "none" }),
    )
    .await;
    let cells = stored_cells(&db).await;
    assert_eq!(cells.get("P2"), Some(&g("0202")));
    assert_eq!(cells.get("P1"), None);
    // The list's member counts, kept between requests until the next change, follow the
    // changes: the same answer as a server started afresh (which counts anew).
    let (st, after) = s.get("/api/party/orgs").await;
    assert_eq!(st, 200, "{after}");
    let fresh = TestServer::start(&db).await;
    let (_, again) = fresh.sign_in("admin").await.get("/api/party/orgs").await;
    assert_eq!(after, again);
    let members = |b: &Value, code: String| {
        b["orgs"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["code"] == code.as_str()))
            .map(|o| (o["members"].clone(), o["full_members"].clone()))
    };
    let zb = format!("{}-ZB", g("02"));
    let xz = format!("{}-XZ", g("0101"));
    assert_eq!(members(&body, zb.clone()), Some((json!(1), json!(0))));
    assert_eq!(members(&after, zb), Some((json!(2), json!(1))));
    assert_eq!(members(&body, xz.clone()), Some((json!(1), json!(1))));
    assert_eq!(members(&after, xz), Some((json!(0), json!(0))));
    // The organisation's detail lists its members by name for an administrator.
    let (st, org) = s.get(&format!("/api/party/orgs/{}-ZB", g("02"))).await;
    assert_eq!(st, 200, "{org}");
    assert_eq!(org["members"], 2);
    assert_eq!(org["full_members"], 1);
    let names: Vec<&str> = org["member_list"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["王芳", "李娜"]);
    // The full re-assignment from the index finds nothing to fix and agrees with PostGIS.
    let (st, _, r) = s
        .send(Method::POST, "/api/party/reassign", None, None)
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["members"].as_i64(), r["fixed"].as_i64()),
        (Some(3), Some(0))
    );
}

#[tokio::test]
async fn the_preview_says_what_the_commit_then_does() {
    let (db, s) = fixture().await;
    residents(
        &s,
        &[
            ("P5", "B01", "陈一", "full"),
            ("P6", "B01", "陈二", "full"),
            ("P7", "B01", "陈三", "probationary"),
        ],
    )
    .await;
    // Move the boundary between 0101 and 0102 north past B01 (at 32.4075): B01 and its
    // three members move from 0102 to 0101, and 0102's group is left empty.
    let batch = json!({ "changes": [
        { "op": "update", "code": g("0101"), "version": 1, "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
        { "op": "update", "code": g("0102"), "version": 1, "feature": feature(rect(105.70, 32.408, 105.71, 32.41), json!({})) },
    ]});
    let before = stored_cells(&db).await;
    let (st, _, p) = s
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["commit"]["ok"], true, "{p}");
    assert_eq!(p["buildings"]["moved"], 1);
    assert_eq!(p["buildings"]["moves"][0]["code"], "B01");
    assert_eq!(p["buildings"]["moves"][0]["from_grid"], g("0102"));
    assert_eq!(p["buildings"]["moves"][0]["to_grid"], g("0101"));
    assert_eq!(p["members"]["moved"], 3);
    let flow = &p["members"]["flows"][0];
    assert_eq!(flow["from"]["group"], g("0102"));
    assert_eq!(flow["to"]["group"], g("0101"));
    assert_eq!(flow["full_members"], 2);
    let people: BTreeSet<&str> = flow["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert_eq!(people, BTreeSet::from(["P5", "P6", "P7"]));
    let rules: BTreeSet<(String, String, String)> = p["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["change"].as_str().unwrap_or_default().into(),
                r["rule"].as_str().unwrap_or_default().into(),
                r["subject"]["code"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert!(
        rules.contains(&("starts".into(), "group_empty".into(), g("0102"))),
        "{rules:?}"
    );
    assert!(
        !rules.contains(&("stops".into(), "group_empty".into(), g("0101"))),
        "0101 had P1 already: {rules:?}"
    );
    let cells: BTreeMap<String, Value> = p["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap_or_default().to_string(),
                c.clone(),
            )
        })
        .collect();
    assert_eq!(cells[&g("0101")]["members"], json!([1, 4]));
    assert_eq!(cells[&g("0102")]["members"], json!([3, 0]));
    assert!(
        !cells.contains_key(&g("01")),
        "the branch keeps its 4 members"
    );
    // Nothing was written.
    assert_eq!(stored_cells(&db).await, before);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM grid_versions")
        .fetch_one(&db.pool().await)
        .await
        .expect("count");
    assert_eq!(n, 8);
    let f = findings(&s, "").await;
    assert!(!has(&f, "group_empty", &g("0102")));

    // The commit does what the preview said, in the same transaction.
    let (st, _, c) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["party"]["members_moved"], 3);
    let after = stored_cells(&db).await;
    let moved: BTreeSet<&str> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(moved, people);
    assert!(after
        .iter()
        .filter(|(k, _)| people.contains(k.as_str()))
        .all(|(_, v)| *v == g("0101")));
    let f = findings(&s, "").await;
    assert!(has(&f, "group_empty", &g("0102")));
}

#[tokio::test]
async fn previews_of_refused_batches_say_why_as_the_commit_would() {
    let (_db, s) = fixture().await;
    // Only one side re-drawn: an overlap; the preview reports the store's refusal.
    let batch = json!({ "changes": [
        { "op": "update", "code": g("0101"), "version": 1, "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
    ]});
    let (st, _, p) = s
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["commit"]["ok"], false);
    assert_eq!(p["commit"]["error"]["error"], "partition_violation");
    let (st, _, c) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 422);
    assert_eq!(c["error"], "partition_violation");
    assert_eq!(p["commit"]["error"]["message"], c["message"]);
    // A stale version, an unknown grid and a bad body are refused alike.
    for (batch, status) in [
        (
            json!({ "changes": [{ "op": "delete", "code": g("0101"), "version": 9 }] }),
            412,
        ),
        (
            json!({ "changes": [{ "op": "delete", "code": g("0199"), "version": 1 }] }),
            404,
        ),
        (json!({ "changes": [] }), 422),
        (
            json!({ "changes": [{ "op": "melt", "code": g("0101") }] }),
            422,
        ),
        (json!({ "nothing": true }), 422),
    ] {
        let (st, _, p) = s
            .send(Method::POST, "/api/party/preview", Some(&batch), None)
            .await;
        assert_eq!(st, status, "{batch}: {p}");
        let (st2, _, _) = s
            .send(Method::POST, "/api/grids/batch", Some(&batch), None)
            .await;
        assert_eq!(st2, status, "the commit answers as the preview: {batch}");
    }
    // Deleting a grid with buildings and no replacement: a gap and orphaned buildings.
    let batch = json!({ "changes": [{ "op": "delete", "code": g("0202"), "version": 1 }] });
    let (_, _, p) = s
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(p["commit"]["ok"], false);
    assert_eq!(p["buildings"]["orphans"], json!(["B11"]));
}

#[tokio::test]
async fn a_new_grid_gets_a_cell_and_a_deleted_one_loses_it() {
    let (db, s) = fixture().await;
    // Split 0202 into 0202 (south half) and a new 0203 (north half): B11 (at 32.4075)
    // moves into the new grid, which has no chief or staff yet.
    let batch = json!({ "changes": [
        { "op": "update", "code": g("0202"), "version": 1, "feature": feature(rect(105.71, 32.405, 105.72, 32.407), json!({})) },
        { "op": "create", "feature": feature(rect(105.71, 32.407, 105.72, 32.41), json!({ "code": g("0203"), "name": "新分格", "level": 2, "parent_code": g("02") })) },
    ]});
    residents(&s, &[("P9", "B11", "周九", "full")]).await;
    let (st, _, p) = s
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["commit"]["ok"], true, "{p}");
    assert_eq!(p["buildings"]["moves"][0]["to_grid"], g("0203"));
    let starts: BTreeSet<(String, String)> = p["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["change"] == "starts")
        .map(|r| {
            (
                r["rule"].as_str().unwrap_or_default().into(),
                r["subject"]["code"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    for rule in ["grid_without_chief", "grid_without_staff"] {
        assert!(starts.contains(&(rule.into(), g("0203"))), "{starts:?}");
    }
    assert!(
        starts.contains(&("group_empty".into(), g("0202"))),
        "{starts:?}"
    );
    let (st, _, c) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["party"]["created"], json!([format!("{}-XZ", g("0203"))]));
    assert_eq!(stored_cells(&db).await.get("P9"), Some(&g("0203")));
    let f = findings(&s, "").await;
    assert!(has(&f, "grid_without_chief", &g("0203")));
    assert!(has(&f, "group_empty", &g("0202")));
    // Merge back: delete 0203 and re-draw 0202; the cell of 0203 is dissolved.
    let batch = json!({ "changes": [
        { "op": "delete", "code": g("0203"), "version": 1 },
        { "op": "update", "code": g("0202"), "version": 2, "feature": feature(rect(105.71, 32.405, 105.72, 32.41), json!({})) },
    ]});
    let (_, _, p) = s
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(p["members"]["moved"], 1, "{p}");
    let (st, _, c) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(
        c["party"]["dissolved"],
        json!([format!("{}-XZ", g("0203"))])
    );
    assert_eq!(stored_cells(&db).await.get("P9"), Some(&g("0202")));
    let (st, org) = s.get(&format!("/api/party/orgs/{}-XZ", g("0203"))).await;
    assert_eq!(st, 200);
    assert!(org["dissolved_at"].is_string(), "{org}");
    // The grid code can be used again; its new cell gets a code of its own.
    let batch = json!({ "changes": [
        { "op": "update", "code": g("0202"), "version": 3, "feature": feature(rect(105.71, 32.405, 105.72, 32.407), json!({})) },
        { "op": "create", "feature": feature(rect(105.71, 32.407, 105.72, 32.41), json!({ "code": g("0203"), "name": "又一分格", "level": 2, "parent_code": g("02") })) },
    ]});
    let (st, _, c) = s
        .send(Method::POST, "/api/grids/batch", Some(&batch), None)
        .await;
    assert_eq!(st, 200, "{c}");
    let created = c["party"]["created"][0].as_str().unwrap_or_default();
    assert!(
        created.starts_with(&format!("{}-XZ-", g("0203"))),
        "{created}"
    );
}

#[tokio::test]
async fn the_demo_district_breaks_each_rule_a_few_times() {
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    s.add_account(
        "admin",
        wangge::domain::access::Role::Admin,
        "GYKFQ",
        wangge::domain::access::ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    s.become_admin().await;
    let (st, body) = s.get("/api/party/findings?year=2024").await;
    assert_eq!(st, 200, "{body}");
    let (_, communities) = s.get("/api/communities").await;
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for f in body["findings"].as_array().expect("findings") {
        *by_rule
            .entry(f["rule"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
        // Each finding names its community by code and by name.
        let code = &f["community_code"];
        let c = communities["features"]
            .as_array()
            .expect("communities")
            .iter()
            .find(|c| &c["properties"]["code"] == code)
            .expect("the finding's community");
        assert_eq!(f["community_name"], c["properties"]["name"], "{f}");
    }
    eprintln!("{by_rule:?}");
    for rule in [
        "branch_too_large",
        "branch_without_committee",
        "grid_without_staff",
        "chief_not_qualified",
        "compound_without_org",
        "association_without_org",
        "new_compound_without_org",
        "unit_without_project",
        "member_without_post",
        "community_few_welfare_orgs",
    ] {
        assert!(
            by_rule.get(rule).is_some_and(|n| *n >= 1),
            "{rule}: {by_rule:?}"
        );
    }
    // The stored cells, the index's full re-assignment and PostGIS's spatial join agree.
    let homes = s.state.store.party_member_homes().await.expect("homes");
    let snap = s.state.registry.snapshot();
    let rust = wangge::spatial::assign::assign_members(&snap, &homes);
    let pg = s
        .state
        .store
        .assign_members_in_postgis()
        .await
        .expect("postgis");
    let stored: BTreeMap<i64, i64> = s
        .state
        .store
        .party_assignments()
        .await
        .expect("stored")
        .into_iter()
        .collect();
    assert_eq!(homes.len(), pg.len());
    assert!(homes.len() > 3000);
    for (((person, _), cell), (pg_person, pg_grid)) in homes.iter().zip(&rust).zip(&pg) {
        assert_eq!(person, pg_person);
        assert_eq!(cell.map(|c| c.group), *pg_grid, "person {person}");
        assert_eq!(stored.get(person).copied(), *pg_grid, "person {person}");
    }
}

async fn layer(s: &TestServer, layer: wangge::store::import::Layer, features: Vec<Value>) {
    let fc: geojson::FeatureCollection =
        serde_json::from_value(collection(features)).expect("GeoJSON");
    s.state
        .store
        .import_layer(layer, fc, 1.0, &Actor::system("test"), &|_, _| {})
        .await
        .expect("import");
    s.state.registry.refresh().await.expect("refresh");
}

/// Sends and expects a status.
async fn expect(s: &Client, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
    let (st, _, b) = s.send(method.clone(), path, body.as_ref(), None).await;
    assert_eq!(st, status, "{method} {path}: {b}");
    b
}

#[tokio::test]
async fn every_finding_disappears_once_the_data_is_fixed() {
    use wangge::store::import::Layer;
    let (_db, s) = fixture().await;
    let f = findings(&s, "").await;
    // C01 has one full member (P1), C02 one probationary (P3): too few full members.
    assert!(has(&f, "branch_few_full", &g("01")) && has(&f, "branch_few_full", &g("02")));
    assert!(has(&f, "group_empty", &g("0102")));
    assert!(has(&f, "grid_without_chief", &g("0101")));
    assert!(has(&f, "grid_without_staff", &g("0101")));
    assert!(has(&f, "community_few_welfare_orgs", C));
    let (_, body) = s
        .get("/api/party/findings?year=2024&rule=branch_few_full")
        .await;
    let c01 = body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["subject"]["code"] == g("01"))
        .cloned()
        .expect("C01 finding");
    assert_eq!(c01["numbers"]["full_members"], 1);
    assert_eq!(c01["numbers"]["minimum"], 3);
    assert!(c01["point"].is_array() && c01["message"].as_str().is_some_and(|m| m.contains('1')));

    // Two more full members in C01 (one in the empty group): both findings go.
    residents(
        &s,
        &[("P10", "B00", "甲", "full"), ("P11", "B01", "乙", "full")],
    )
    .await;
    let f = findings(&s, "").await;
    assert!(!has(&f, "branch_few_full", &g("01")));
    assert!(!has(&f, "group_empty", &g("0102")));
    assert!(has(&f, "branch_few_full", &g("02")));

    // C02 grows to 53 members: too large, and 7 or more without a committee.
    let rows: Vec<(String, String)> = (0..52)
        .map(|i| (format!("Q{i:02}"), format!("党员{i}")))
        .collect();
    let list: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|(c, n)| (c.as_str(), "B10", n.as_str(), "full"))
        .collect();
    residents(&s, &list).await;
    let f = findings(&s, "").await;
    assert!(has(&f, "branch_too_large", &g("02")));
    assert!(has(&f, "branch_without_committee", &g("02")));
    assert!(!has(&f, "branch_few_full", &g("02")));
    // A probationary member cannot hold office; three full members form a committee.
    expect(
        &s,
        Method::PUT,
        &format!("/api/party/orgs/{}-ZB/officers", g("02")),
        Some(json!({ "officers": [{ "person_code": "P3", "role": "secretary" }] })),
        422,
    )
    .await;
    let officers = json!({ "officers": [
        { "person_code": "Q00", "role": "secretary" },
        { "person_code": "Q01", "role": "committee" },
    ]});
    ok(
        &s,
        Method::PUT,
        &format!("/api/party/orgs/{}-ZB/officers", g("02")),
        officers,
    )
    .await;
    assert!(
        has(
            &findings(&s, "").await,
            "branch_without_committee",
            &g("02")
        ),
        "two seats are no committee"
    );
    let officers = json!({ "officers": [
        { "person_code": "Q00", "role": "secretary" },
        { "person_code": "Q01", "role": "committee" },
        { "person_code": "Q02", "role": "committee" },
    ]});
    ok(
        &s,
        Method::PUT,
        &format!("/api/party/orgs/{}-ZB/officers", g("02")),
        officers,
    )
    .await;
    let f = findings(&s, "").await;
    assert!(!has(&f, "branch_without_committee", &g("02")));
    // Three members leave the party: 50 remain, no longer too large.
    for q in ["Q49", "Q50", "Q51"] {
        ok(
            &s,
            Method::PUT,
            &format!("/api/people/{q}"),
            json!({ "building_code": "B10", "name": "退出", "membership": "none" }),
        )
        .await;
    }
    assert!(!has(&findings(&s, "").await, "branch_too_large", &g("02")));

    // Staff: a chief who is a full member on the two committees and a grid member.
    let staff = |committee: bool| {
        json!({ "chief": { "code": "W1", "name": "网格长甲", "person_code": "P1", "committee": committee },
                "members": [{ "code": "W2", "name": "网格员乙" }] })
    };
    ok(
        &s,
        Method::PUT,
        &format!("/api/grids/{}/staff", g("0101")),
        staff(false),
    )
    .await;
    let f = findings(&s, "").await;
    assert!(!has(&f, "grid_without_chief", &g("0101")));
    assert!(!has(&f, "grid_without_staff", &g("0101")));
    assert!(
        has(&f, "chief_not_qualified", &g("0101")),
        "not on the two committees"
    );
    ok(
        &s,
        Method::PUT,
        &format!("/api/grids/{}/staff", g("0101")),
        staff(true),
    )
    .await;
    assert!(!has(
        &findings(&s, "").await,
        "chief_not_qualified",
        &g("0101")
    ));

    // A new residential compound (2020, 80% occupied, 600 residents, 3 full members) and a
    // commercial building with 300 employees, in grid 0201.
    layer(&s, Layer::Compounds, vec![
        feature(rect(105.711, 32.4005, 105.714, 32.4035), json!({ "code": "CP1", "name": "锦绣花园", "kind": "residential", "occupancy_rate": 0.8, "built_year": 2020, "community_code": C })),
        feature(rect(105.716, 32.4005, 105.719, 32.4035), json!({ "code": "CP2", "name": "恒信商务大厦", "kind": "commercial", "community_code": C })),
    ]).await;
    layer(&s, Layer::Buildings, vec![
        feature(rect(105.712, 32.401, 105.7125, 32.4015), json!({ "code": "BC1", "compound_code": "CP1", "households": 220, "residents": 600 })),
        feature(rect(105.717, 32.401, 105.7175, 32.4015), json!({ "code": "BC2", "compound_code": "CP2", "employees": 300 })),
    ]).await;
    residents(
        &s,
        &[("R1", "BC1", "丙", "full"), ("R2", "BC1", "丁", "full")],
    )
    .await;
    let f = findings(&s, "").await;
    assert!(
        !has(&f, "compound_without_org", "CP1"),
        "two full members are not enough"
    );
    assert!(has(&f, "new_compound_without_org", "CP1"));
    assert!(has(&f, "building_without_org", "BC2"));
    residents(&s, &[("R3", "BC1", "戊", "full")]).await;
    assert!(has(&findings(&s, "").await, "compound_without_org", "CP1"));
    // In 2029 the compound is nine years old: no longer new.
    let (_, later) = s
        .get("/api/party/findings?year=2029&rule=new_compound_without_org")
        .await;
    assert_eq!(later["findings"], json!([]));
    let org = |kind: &str, code: &str| json!({ "name": "功能党支部", "kind": "functional", "attached_to": { "kind": kind, "code": code } });
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/GN1",
        Some(org("compound", "CP1")),
        201,
    )
    .await;
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/GN2",
        Some(org("building", "BC2")),
        201,
    )
    .await;
    let f = findings(&s, "").await;
    assert!(!has(&f, "compound_without_org", "CP1"));
    assert!(!has(&f, "new_compound_without_org", "CP1"));
    assert!(!has(&f, "building_without_org", "BC2"));
    // Dissolving the organisation brings the finding back.
    expect(&s, Method::DELETE, "/api/party/orgs/GN2", None, 204).await;
    assert!(has(&findings(&s, "").await, "building_without_org", "BC2"));

    // A service association with three full members needs a functional organisation.
    let assoc = |members: Value| json!({ "name": "个体劳动者协会", "kind": "service", "community_code": C, "members": members });
    ok(
        &s,
        Method::PUT,
        "/api/party/associations/AS1",
        assoc(json!(["Q03", "Q04"])),
    )
    .await;
    assert!(!has(
        &findings(&s, "").await,
        "association_without_org",
        "AS1"
    ));
    ok(
        &s,
        Method::PUT,
        "/api/party/associations/AS1",
        assoc(json!(["Q03", "Q04", "Q05", "P3"])),
    )
    .await;
    let (_, body) = s
        .get("/api/party/findings?year=2024&rule=association_without_org")
        .await;
    assert_eq!(body["findings"][0]["numbers"]["full_members"], 3, "{body}");
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/GN3",
        Some(org("association", "AS1")),
        201,
    )
    .await;
    assert!(!has(
        &findings(&s, "").await,
        "association_without_org",
        "AS1"
    ));
    // The association cannot be deleted while an organisation is attached to it.
    expect(&s, Method::DELETE, "/api/party/associations/AS1", None, 409).await;

    // Five public-welfare or volunteer organisations in C.
    for i in 0..4 {
        ok(&s, Method::PUT, &format!("/api/party/associations/W{i}"), json!({ "name": format!("志愿服务队{i}"), "kind": if i % 2 == 0 { "volunteer" } else { "public_welfare" }, "community_code": C })).await;
    }
    assert!(
        has(&findings(&s, "").await, "community_few_welfare_orgs", C),
        "four are not enough"
    );
    ok(
        &s,
        Method::PUT,
        "/api/party/associations/W4",
        json!({ "name": "爱心公益协会", "kind": "public_welfare", "community_code": C }),
    )
    .await;
    assert!(!has(
        &findings(&s, "").await,
        "community_few_welfare_orgs",
        C
    ));

    // 双报到: a unit without a project, a member without a post.
    ok(
        &s,
        Method::PUT,
        "/api/party/units/U1",
        json!({ "name": "市供电公司", "community_code": C, "registered_on": "2020-05-01" }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/party/dual-members/P1",
        json!({ "unit_code": "U1", "registered_on": "2021-03-01" }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/party/dual-members/Q06",
        json!({ "registered_on": "2021-03-01" }),
    )
    .await;
    let f = findings(&s, "").await;
    assert!(has(&f, "unit_without_project", "U1"));
    assert!(has(&f, "member_without_post", "P1"));
    assert!(has(&f, "member_without_post", "Q06"));
    // The names come a page at a time, by code; the counts cover them all.
    let (st, p1) = s.get("/api/party/dual-members?year=2024&limit=1").await;
    assert_eq!(st, 200, "{p1}");
    assert_eq!(p1["named"], 2, "{p1}");
    assert_eq!(p1["members"].as_array().map(Vec::len), Some(1), "{p1}");
    assert_eq!(p1["members"][0]["code"], "P1", "{p1}");
    assert_eq!(p1["next"], "P1", "{p1}");
    let members: i64 = p1["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .map(|c| c["members"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(members, 2, "{p1}");
    let (_, p2) = s
        .get("/api/party/dual-members?year=2024&limit=1&after=P1")
        .await;
    assert_eq!(p2["members"][0]["code"], "Q06", "{p2}");
    assert_eq!(p2["next"], Value::Null, "{p2}");
    for bad in ["limit=0", "limit=5001", "after="] {
        let (st, e) = s
            .get(&format!("/api/party/dual-members?year=2024&{bad}"))
            .await;
        assert_eq!(st, 422, "{bad}: {e}");
    }
    ok(
        &s,
        Method::PUT,
        "/api/party/projects/V1",
        json!({ "name": "关爱空巢老人", "unit_code": "U1", "year": 2024 }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/party/posts/P1/2024",
        json!({ "posts": [{ "post": "助老服务员", "project_code": "V1" }] }),
    )
    .await;
    // Joining a public-welfare organisation counts as a post.
    ok(&s, Method::PUT, "/api/party/associations/W4", json!({ "name": "爱心公益协会", "kind": "public_welfare", "community_code": C, "members": ["Q06"] })).await;
    let f = findings(&s, "").await;
    assert!(!has(&f, "unit_without_project", "U1"));
    assert!(!has(&f, "member_without_post", "P1"));
    assert!(!has(&f, "member_without_post", "Q06"));
    // A new year: the unit and P1 need a project and a post for 2025.
    let f = findings(&s, "").await;
    assert!(!has(&f, "unit_without_project", "U1"));
    let (_, next) = s
        .get("/api/party/findings?year=2025&rule=unit_without_project")
        .await;
    assert_eq!(next["findings"][0]["subject"]["code"], "U1");

    // The report counts what the findings list, and the map layer is GeoJSON points.
    let (st, report) = s.get("/api/party/report?year=2024").await;
    assert_eq!(st, 200, "{report}");
    let (_, all) = s.get("/api/party/findings?year=2024").await;
    let total: u64 = report["by_rule"]
        .as_array()
        .expect("by rule")
        .iter()
        .filter_map(|r| r["count"].as_u64())
        .sum();
    assert_eq!(total, all["count"].as_u64().unwrap_or(0));
    let lc = report["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .find(|c| c["code"] == C)
        .cloned()
        .expect("C");
    assert_eq!(lc["organisations"]["functional"], 2);
    assert_eq!(lc["welfare_orgs"], 5);
    let (st, map) = s.get("/api/party/findings?year=2024&format=geojson").await;
    assert_eq!(st, 200);
    assert_eq!(map["type"], "FeatureCollection");
    let first = &map["features"][0];
    assert_eq!(first["geometry"]["type"], "Point", "{first}");
    assert!(first["properties"]["rule"].is_string());
    let (st, cells) = s
        .get(&format!("/api/party/cells?community={C}&level=1"))
        .await;
    assert_eq!(st, 200);
    let c02 = cells["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["code"] == g("02"))
        .cloned()
        .expect("C02");
    // 52 in B10 and P3, less the three who left, and R1-R3 of the new compound.
    assert_eq!(c02["properties"]["members"], 53);
    assert_eq!(c02["properties"]["probationary_members"], 1);
    assert_eq!(c02["properties"]["has_committee"], true);
    assert_eq!(c02["geometry"]["type"], "MultiPolygon");
}

#[tokio::test]
async fn party_data_follows_the_callers_visibility() {
    let (_db, s) = fixture().await;
    ok(
        &s,
        Method::PUT,
        "/api/party/dual-members/P1",
        json!({ "registered_on": "2021-03-01" }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/party/dual-members/P3",
        json!({ "registered_on": "2021-03-01" }),
    )
    .await;
    ok(
        &s,
        Method::PUT,
        &format!("/api/party/orgs/{}-XZ/officers", g("0101")),
        json!({ "officers": [{ "person_code": "P1", "role": "group_leader" }] }),
    )
    .await;
    // Patrol staff and viewers get no party data at all.
    for who in ["patrol", "viewer"] {
        let c = s.sign_in(who).await;
        for path in [
            "/api/party/findings",
            "/api/party/cells",
            "/api/party/orgs",
            "/api/party/report",
        ] {
            assert_eq!(c.get(path).await.0, 403, "{who} {path}");
        }
    }
    // Planners see numbers, never a name or a person's code.
    let planner = s.sign_in("planner").await;
    let (st, f) = planner.get("/api/party/findings?year=2024").await;
    assert_eq!(st, 200);
    let text = f.to_string();
    for secret in ["张伟", "李娜", "\"P1\"", "\"P3\""] {
        assert!(!text.contains(secret), "planner saw {secret}: {text}");
    }
    let agg = f["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["rule"] == "member_without_post")
        .cloned()
        .expect("summed per community");
    assert_eq!(agg["subject"]["kind"], "community");
    assert_eq!(agg["numbers"]["members_without_post"], 2);
    let (st, org) = planner
        .get(&format!("/api/party/orgs/{}-XZ", g("0101")))
        .await;
    assert_eq!(st, 200);
    assert!(
        org.get("member_list").is_none() && org.get("officers").is_none(),
        "{org}"
    );
    assert_eq!(org["officer_roles"]["group_leader"], 1);
    assert_eq!(org["members"], 1);
    let (_, d) = planner.get("/api/party/dual-members?year=2024").await;
    assert_eq!(d["members"], json!([]));
    assert_eq!(d["communities"][0]["members"], 2);
    // The chief of C01 sees its own members by name, C02's as numbers.
    let chief = s.sign_in("chief").await;
    let (_, f) = chief
        .get("/api/party/findings?year=2024&rule=member_without_post")
        .await;
    let list = f["findings"].as_array().expect("findings");
    assert!(
        list.iter()
            .any(|x| x["subject"]["code"] == "P1" && x["person"] == "张伟"),
        "{f}"
    );
    assert!(
        list.iter()
            .any(|x| x["subject"]["kind"] == "community"
                && x["numbers"]["members_without_post"] == 1),
        "{f}"
    );
    assert!(!f.to_string().contains("李娜"));
    let (_, own) = chief
        .get(&format!("/api/party/orgs/{}-XZ", g("0101")))
        .await;
    assert_eq!(own["member_list"][0]["name"], "张伟");
    let (_, other) = chief
        .get(&format!("/api/party/orgs/{}-XZ", g("0201")))
        .await;
    assert!(other.get("member_list").is_none());
    // A preview shows the chief's own members by name, the planner numbers only.
    residents(&s, &[("P5", "B01", "陈一", "full")]).await;
    let batch = json!({ "changes": [
        { "op": "update", "code": g("0101"), "version": 1, "feature": feature(rect(105.70, 32.40, 105.71, 32.408), json!({})) },
        { "op": "update", "code": g("0102"), "version": 1, "feature": feature(rect(105.70, 32.408, 105.71, 32.41), json!({})) },
    ]});
    let (_, _, p) = chief
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(p["members"]["flows"][0]["people"][0]["name"], "陈一", "{p}");
    assert_eq!(
        p["commit"]["may_commit"], false,
        "a chief may not change boundaries"
    );
    let (_, _, p) = planner
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(p["members"]["moved"], 1);
    assert_eq!(p["members"]["flows"][0]["people"], json!([]));
    assert!(!p.to_string().contains("陈一"));
    // Another town's administrator sees nothing of this one.
    let outsider = s.sign_in("outsider").await;
    let (_, f) = outsider.get("/api/party/findings?year=2024").await;
    assert_eq!(f["findings"], json!([]));
    assert_eq!(
        outsider
            .get(&format!("/api/party/orgs/{}-XZ", g("0101")))
            .await
            .0,
        404
    );
    assert_eq!(
        outsider
            .get(&format!("/api/party/findings?community={C}"))
            .await
            .0,
        404
    );
    let (st, _, _) = outsider
        .send(Method::POST, "/api/party/preview", Some(&batch), None)
        .await;
    assert_eq!(st, 404);
    expect(
        &outsider,
        Method::PUT,
        "/api/party/units/U9",
        Some(json!({ "name": "外单位", "community_code": C, "registered_on": "2020-01-01" })),
        403,
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_a_client_error_never_a_500() {
    let (_db, s) = fixture().await;
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (
            Method::GET,
            "/api/party/findings?year=1999".into(),
            None,
            422,
        ),
        (
            Method::GET,
            "/api/party/findings?year=abc".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/party/findings?rule=nope".into(),
            None,
            422,
        ),
        (
            Method::GET,
            "/api/party/findings?format=kml".into(),
            None,
            422,
        ),
        (
            Method::GET,
            "/api/party/findings?community=999999999999".into(),
            None,
            404,
        ),
        (Method::GET, "/api/party/cells?level=3".into(), None, 422),
        (Method::GET, "/api/party/orgs?kind=club".into(), None, 422),
        (Method::GET, "/api/party/orgs/NOPE".into(), None, 404),
        (
            Method::GET,
            "/api/party/dual-members?grid=123".into(),
            None,
            404,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(json!({ "name": "x", "kind": "club" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(json!({ "name": "x", "kind": "functional" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(
                json!({ "name": "x", "kind": "functional", "attached_to": { "kind": "compound", "code": "NONE" } }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(
                json!({ "name": "x", "kind": "functional", "form": "committee", "attached_to": { "kind": "building", "code": "B00" } }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(
                json!({ "name": "", "kind": "functional", "attached_to": { "kind": "building", "code": "B00" } }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X%20Y".into(),
            Some(
                json!({ "name": "x", "kind": "functional", "attached_to": { "kind": "building", "code": "B00" } }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(json!({ "name": "x", "kind": "grid_branch" })),
            409,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{C}-DW"),
            Some(json!({ "name": "x", "kind": "functional" })),
            409,
        ),
        (
            Method::PUT,
            "/api/party/orgs/DW2".into(),
            Some(json!({ "name": "第二党委", "kind": "community_committee", "community_code": C })),
            409,
        ),
        (
            Method::PUT,
            "/api/party/orgs/X1".into(),
            Some(json!({ "kind": "functional" })),
            422,
        ),
        (
            Method::DELETE,
            format!("/api/party/orgs/{}-XZ", g("0101")),
            None,
            409,
        ),
        (Method::DELETE, "/api/party/orgs/NOPE".into(), None, 404),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-XZ/officers", g("0101")),
            Some(json!({ "officers": [{ "person_code": "P1", "role": "secretary" }] })),
            422,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-XZ/officers", g("0101")),
            Some(json!({ "officers": [{ "person_code": "P1", "role": "king" }] })),
            422,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-XZ/officers", g("0101")),
            Some(json!({ "officers": [{ "person_code": "NOBODY", "role": "group_leader" }] })),
            422,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-ZB/officers", g("01")),
            Some(
                json!({ "officers": [{ "person_code": "P1", "role": "secretary" }, { "person_code": "P1", "role": "committee" }] }),
            ),
            422,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-ZB/officers", g("01")),
            Some(json!({ "officers": [{ "person_code": "P2", "role": "secretary" }] })),
            422,
        ),
        (
            Method::PUT,
            format!("/api/party/orgs/{}-XZ/members", g("0101")),
            Some(json!({ "members": ["P1"] })),
            409,
        ),
        (
            Method::PUT,
            "/api/party/associations/A1".into(),
            Some(json!({ "name": "x", "kind": "club", "community_code": C })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/associations/A1".into(),
            Some(json!({ "name": "x", "kind": "service", "community_code": "000000000000" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/associations/A1".into(),
            Some(
                json!({ "name": "x", "kind": "service", "community_code": C, "members": ["NOBODY"] }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/associations/A1".into(),
            Some(
                json!({ "name": "x", "kind": "service", "community_code": C, "location": { "type": "Point", "coordinates": [500, 0] } }),
            ),
            422,
        ),
        (
            Method::PUT,
            "/api/party/associations/A1".into(),
            Some(
                json!({ "name": "x", "kind": "service", "community_code": C, "founded_year": 3000 }),
            ),
            422,
        ),
        (
            Method::DELETE,
            "/api/party/associations/NOPE".into(),
            None,
            404,
        ),
        (
            Method::PUT,
            "/api/party/units/U1".into(),
            Some(json!({ "name": "x", "community_code": C, "registered_on": "2020-13-01" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/units/U1".into(),
            Some(json!({ "name": "x", "community_code": C })),
            422,
        ),
        (Method::DELETE, "/api/party/units/NOPE".into(), None, 404),
        (
            Method::PUT,
            "/api/party/dual-members/P2".into(),
            Some(json!({ "registered_on": "2020-01-01" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/dual-members/NOBODY".into(),
            Some(json!({ "registered_on": "2020-01-01" })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/dual-members/P1".into(),
            Some(json!({ "registered_on": "2020-01-01", "unit_code": "NONE" })),
            422,
        ),
        (
            Method::DELETE,
            "/api/party/dual-members/P1".into(),
            None,
            404,
        ),
        (
            Method::PUT,
            "/api/party/projects/V1".into(),
            Some(json!({ "name": "x", "year": 2024 })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/projects/V1".into(),
            Some(json!({ "name": "x", "community_code": C, "year": 1900 })),
            422,
        ),
        (Method::DELETE, "/api/party/projects/NOPE".into(), None, 404),
        (
            Method::PUT,
            "/api/party/posts/P1/abc".into(),
            Some(json!({ "posts": [] })),
            400,
        ),
        (
            Method::PUT,
            "/api/party/posts/P1/1990".into(),
            Some(json!({ "posts": [] })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/posts/P2/2024".into(),
            Some(json!({ "posts": [{ "post": "x" }] })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/posts/P1/2024".into(),
            Some(json!({ "posts": [{ "post": "x" }, { "post": "x" }] })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/posts/P1/2024".into(),
            Some(json!({ "posts": [{ "post": "x", "project_code": "NONE" }] })),
            422,
        ),
        (
            Method::PUT,
            "/api/party/posts/NOBODY/2024".into(),
            Some(json!({ "posts": [] })),
            422,
        ),
        (
            Method::POST,
            "/api/party/preview".into(),
            Some(json!([1, 2])),
            422,
        ),
    ];
    for (method, path, body, status) in cases {
        let (st, _, b) = s.send(method.clone(), &path, body.as_ref(), None).await;
        assert_eq!(st, status, "{method} {path} {body:?}: {b}");
        assert!(b["error"].is_string() && b["message"].is_string(), "{b}");
    }
    // A member is in one functional organisation at most.
    let org = json!({ "name": "功能党小组", "kind": "functional", "form": "group", "attached_to": { "kind": "building", "code": "B00" } });
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F1",
        Some(org.clone()),
        201,
    )
    .await;
    expect(&s, Method::PUT, "/api/party/orgs/F2", Some(org), 201).await;
    ok(
        &s,
        Method::PUT,
        "/api/party/orgs/F1/members",
        json!({ "members": ["P1", "P3"] }),
    )
    .await;
    let b = expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F2/members",
        Some(json!({ "members": ["P3"] })),
        409,
    )
    .await;
    assert!(
        b["message"].as_str().is_some_and(|m| m.contains("P3")),
        "{b}"
    );
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F2/members",
        Some(json!({ "members": ["P2"] })),
        422,
    )
    .await;
    let (_, f1) = s.get("/api/party/orgs/F1").await;
    assert_eq!(f1["members"], 2);
    // A group's officers: a leader only; a dissolved organisation takes no more changes.
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F1/officers",
        Some(json!({ "officers": [{ "person_code": "P1", "role": "secretary" }] })),
        422,
    )
    .await;
    ok(
        &s,
        Method::PUT,
        "/api/party/orgs/F1/officers",
        json!({ "officers": [{ "person_code": "P1", "role": "group_leader" }] }),
    )
    .await;
    expect(&s, Method::DELETE, "/api/party/orgs/F1", None, 204).await;
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F1/members",
        Some(json!({ "members": ["P1"] })),
        409,
    )
    .await;
    expect(
        &s,
        Method::PUT,
        "/api/party/orgs/F1",
        Some(json!({ "name": "再建", "kind": "functional" })),
        409,
    )
    .await;
    // Renaming a cell works and is audited.
    ok(
        &s,
        Method::PUT,
        &format!("/api/party/orgs/{}-ZB", g("01")),
        json!({ "name": "陵江第一网格党支部", "kind": "grid_branch" }),
    )
    .await;
    let (_, log) = s.get("/api/audit?entity=party_org").await;
    assert!(log.to_string().contains("陵江第一网格党支部"), "{log}");
}

/// Grid code → (members, full members) as the cells layer reports them.
async fn cell_members(c: &Client) -> BTreeMap<String, (i64, i64)> {
    let (st, cells) = c.get("/api/party/cells").await;
    assert_eq!(st, 200);
    cells["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap_or_default().to_string(),
                (
                    p["members"].as_i64().unwrap_or(-1),
                    p["full_members"].as_i64().unwrap_or(-1),
                ),
            )
        })
        .collect()
}

/// Cell findings as (rule, subject code).
async fn cell_findings(c: &Client) -> BTreeSet<(String, String)> {
    let cell_rules = [
        "branch_few_full",
        "branch_too_large",
        "branch_without_committee",
        "group_empty",
        "grid_without_chief",
        "grid_without_staff",
        "chief_not_qualified",
    ];
    findings(c, "")
        .await
        .into_iter()
        .filter(|(r, _)| cell_rules.contains(&r.as_str()))
        .collect()
}

#[tokio::test]
async fn on_the_demo_previews_of_merges_agree_with_their_commits() {
    use geo::BooleanOps;
    use wangge::domain::access::{Role, ScopeKind};
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    s.add_account("admin", Role::Admin, "GYKFQ", ScopeKind::Region, &[], &[])
        .await;
    s.become_admin().await;
    // Merge two second-level grids of several first-level grids: the second is deleted and
    // the first takes its area; every building and member of the second moves.
    let snap = s.state.registry.snapshot();
    let mut l1: Vec<&wangge::domain::registry::Grid> = snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == wangge::domain::GridLevel::First)
        .collect();
    l1.sort_by(|a, b| a.code.cmp(&b.code));
    let mut merges = 0;
    for parent in l1.iter().step_by(5) {
        let mut kids: Vec<&wangge::domain::registry::Grid> =
            snap.grids.children(parent.id).collect();
        kids.sort_by(|a, b| a.code.cmp(&b.code));
        let (a, b) = (kids[0], kids[1]);
        let merged = a.geom.union(&b.geom);
        let batch = json!({ "changes": [
            { "op": "delete", "code": b.code, "version": b.version },
            { "op": "update", "code": a.code, "version": a.version,
              "feature": { "type": "Feature", "properties": {}, "geometry": geojson::Geometry::from(&merged) } },
        ]});
        let cells_before = cell_members(&s).await;
        let rules_before = cell_findings(&s).await;
        let stored_before = stored_cells(&db).await;
        let (st, _, p) = s
            .send(Method::POST, "/api/party/preview", Some(&batch), None)
            .await;
        assert_eq!(st, 200, "{p}");
        assert_eq!(p["commit"]["ok"], true, "{}: {p}", a.code);
        let moved_buildings: BTreeSet<String> = p["buildings"]["moves"]
            .as_array()
            .expect("moves")
            .iter()
            .map(|m| m["code"].as_str().unwrap_or_default().to_string())
            .collect();
        let preview_people: BTreeSet<String> = p["members"]["flows"]
            .as_array()
            .expect("flows")
            .iter()
            .flat_map(|f| f["people"].as_array().cloned().unwrap_or_default())
            .map(|p| p["code"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            preview_people.len() as i64,
            p["members"]["moved"].as_i64().unwrap_or(-1)
        );

        let buildings_before: BTreeMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT code, grid_id FROM buildings")
                .fetch_all(&db.pool().await)
                .await
                .expect("buildings")
                .into_iter()
                .collect();
        let (st, _, c) = s
            .send(Method::POST, "/api/grids/batch", Some(&batch), None)
            .await;
        assert_eq!(st, 200, "{c}");
        let buildings_after: BTreeMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT code, grid_id FROM buildings")
                .fetch_all(&db.pool().await)
                .await
                .expect("buildings")
                .into_iter()
                .collect();
        let committed: BTreeSet<String> = buildings_after
            .iter()
            .filter(|(k, v)| buildings_before.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(moved_buildings, committed, "buildings of {}", a.code);
        let stored_after = stored_cells(&db).await;
        let moved_people: BTreeSet<String> = stored_before
            .iter()
            .filter(|(k, v)| stored_after.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(preview_people, moved_people, "members of {}", a.code);
        assert_eq!(
            c["party"]["members_moved"].as_u64(),
            Some(moved_people.len() as u64)
        );
        assert!(!moved_people.is_empty());
        // Counts and rules after the commit are what the preview said.
        let cells_after = cell_members(&s).await;
        for cell in p["cells"].as_array().expect("cells") {
            let code = cell["code"].as_str().unwrap_or_default();
            let before = (
                cell["members"][0].as_i64(),
                cell["full_members"][0].as_i64(),
            );
            let after = (
                cell["members"][1].as_i64(),
                cell["full_members"][1].as_i64(),
            );
            assert_eq!(
                cells_before
                    .get(code)
                    .map(|c| (Some(c.0), Some(c.1)))
                    .unwrap_or((None, None)),
                before,
                "{code} before"
            );
            assert_eq!(
                cells_after
                    .get(code)
                    .map(|c| (Some(c.0), Some(c.1)))
                    .unwrap_or((None, None)),
                after,
                "{code} after"
            );
        }
        let rules_after = cell_findings(&s).await;
        let started: BTreeSet<(String, String)> =
            rules_after.difference(&rules_before).cloned().collect();
        let stopped: BTreeSet<(String, String)> =
            rules_before.difference(&rules_after).cloned().collect();
        let said = |change: &str| -> BTreeSet<(String, String)> {
            p["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .filter(|r| r["change"] == change)
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap_or_default().to_string(),
                        r["subject"]["code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        };
        assert_eq!(
            said("starts"),
            started,
            "rules started by merging into {}",
            a.code
        );
        assert_eq!(
            said("stops"),
            stopped,
            "rules stopped by merging into {}",
            a.code
        );
        eprintln!(
            "merge into {}: {} buildings, {} members, {} started, {} stopped",
            a.code,
            committed.len(),
            moved_people.len(),
            started.len(),
            stopped.len()
        );
        merges += 1;
    }
    assert!(merges >= 4, "{merges} merges");
}

#[tokio::test]
async fn the_migration_gives_cells_to_grids_and_members_that_were_there_before() {
    use sqlx::{Connection, PgConnection};
    // A database at the migrations before 0005, with a grid pair, a building and a member.
    let name = format!("wangge_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url_for("postgres"))
        .await
        .expect("connect");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create");
    let mut conn = PgConnection::connect(&url_for(&name))
        .await
        .expect("connect");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let (before, party): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| {
        f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n < "0005")
    });
    for f in &before {
        let sql = std::fs::read_to_string(f).expect("migration");
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .expect("earlier migration");
    }
    let square = |x0: f64, y0: f64, x1: f64, y1: f64| {
        format!("ST_Multi(ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326))")
    };
    let setup = format!(
        "INSERT INTO regions (id, code, name, kind) VALUES (1, '510802102', '盘龙镇', 'town');
         INSERT INTO communities (id, code, name, region_id, geom) VALUES (1, '{C}', '陵江社区', 1, {c});
         INSERT INTO grids (id, community_id, level) VALUES (1, 1, 1), (2, 1, 2);
         INSERT INTO grid_versions (grid_id, version, code, name, parent_id, geom, valid_from) VALUES
           (1, 1, '{C}01', '第1网格', NULL, {c}, now()), (2, 1, '{C}0101', '第1网格第1分格', 1, {c}, now());
         INSERT INTO buildings (id, code, geom, grid_id) VALUES (1, 'B1', {b}, 2);
         INSERT INTO people (id, code, home_building_id, membership) VALUES (1, 'P1', 1, 'full'), (2, 'P2', 1, 'none');",
        c = square(105.70, 32.40, 105.71, 32.41),
        b = square(105.704, 32.404, 105.705, 32.405),
    );
    sqlx::raw_sql(&setup)
        .execute(&mut conn)
        .await
        .expect("data");
    let sql = std::fs::read_to_string(party.first().expect("0005")).expect("0005");
    sqlx::raw_sql(&sql)
        .execute(&mut conn)
        .await
        .expect("migration 0005");
    let orgs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT code, name, kind FROM party_orgs ORDER BY code")
            .fetch_all(&mut conn)
            .await
            .expect("orgs");
    assert_eq!(
        orgs,
        [
            (
                format!("{C}-DW"),
                "陵江社区党委".into(),
                "community_committee".into()
            ),
            (
                format!("{C}01-ZB"),
                "第1网格党支部".into(),
                "grid_branch".into()
            ),
            (
                format!("{C}0101-XZ"),
                "第1网格第1分格党小组".into(),
                "grid_group".into()
            ),
        ]
    );
    let cells: Vec<(i64, i64)> = sqlx::query_as("SELECT person_id, grid_id FROM party_assignments")
        .fetch_all(&mut conn)
        .await
        .expect("cells");
    assert_eq!(cells, [(1, 2)]);
    // From now on the triggers keep the cells: P2 joins, P1 moves to a new grid's building.
    sqlx::raw_sql(&format!(
        "UPDATE people SET membership = 'probationary' WHERE id = 2;
         INSERT INTO grids (id, community_id, level) VALUES (3, 1, 2);
         INSERT INTO grid_versions (grid_id, version, code, name, parent_id, geom, valid_from) VALUES
           (3, 1, '{C}0102', '第1网格第2分格', 1, {c}, now());
         UPDATE buildings SET grid_id = 3 WHERE id = 1;",
        c = square(105.70, 32.40, 105.71, 32.41),
    ))
    .execute(&mut conn)
    .await
    .expect("changes");
    let cells: Vec<(i64, i64)> =
        sqlx::query_as("SELECT person_id, grid_id FROM party_assignments ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .expect("cells");
    assert_eq!(cells, [(1, 3), (2, 3)]);
    conn.close().await.ok();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
}

#[tokio::test]
async fn findings_are_counted_whole_and_listed_a_page_at_a_time() {
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    s.add_account(
        "admin",
        wangge::domain::access::Role::Admin,
        "GYKFQ",
        wangge::domain::access::ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    s.become_admin().await;
    let key = |f: &Value| {
        format!(
            "{}/{}",
            f["rule"].as_str().unwrap_or_default(),
            f["subject"]["code"].as_str().unwrap_or_default()
        )
    };
    let (st, all) = s.get("/api/party/findings?year=2024&limit=5000").await;
    assert_eq!(st, 200, "{all}");
    let n = all["count"].as_u64().expect("count") as usize;
    let listed: Vec<String> = all["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(key)
        .collect();
    assert!(n > 10, "the demo breaks rules: {n}");
    assert_eq!(listed.len(), n, "a page of 5,000 holds the demo's findings");
    assert!(all["next"].is_null());
    // The sums by rule and by community count every finding.
    let by_rule: u64 = all["by_rule"]
        .as_array()
        .expect("by rule")
        .iter()
        .filter_map(|r| r["count"].as_u64())
        .sum();
    let by_community: u64 = all["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .filter_map(|c| c["count"].as_u64())
        .sum();
    assert_eq!((by_rule as usize, by_community as usize), (n, n));

    // Pages of 7, each from the `next` of the one before, list the same findings in order.
    let mut paged: Vec<String> = vec![];
    let mut after: Option<String> = None;
    for _ in 0..=n {
        let q = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let (st, page) = s
            .get(&format!("/api/party/findings?year=2024&limit=7{q}"))
            .await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(
            page["count"].as_u64(),
            Some(n as u64),
            "every page counts them all"
        );
        let items = page["findings"].as_array().expect("findings");
        assert!(items.len() <= 7);
        paged.extend(items.iter().map(key));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, listed);

    // One community: its count, and only its findings.
    let c = &all["communities"][0];
    let code = c["code"].as_str().expect("code");
    let (_, one) = s
        .get(&format!("/api/party/findings?year=2024&community={code}"))
        .await;
    assert_eq!(one["count"], c["count"]);
    assert!(one["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["community_code"] == code));

    // The report counts the same and lists the first page.
    let (st, report) = s.get("/api/party/report?year=2024&limit=3").await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["count"].as_u64(), Some(n as u64));
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(3));
    assert_eq!(report["next"].as_str(), Some(listed[2].as_str()));

    // The export streams every finding, one CSV row each.
    let r = s
        .raw(Method::GET, "/api/party/findings?year=2024&format=csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let text = r.text().await.expect("text");
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let exported: Vec<String> = rows
        .records()
        .map(|r| {
            let r = r.expect("row");
            format!("{}/{}", &r[0], &r[3])
        })
        .collect();
    assert_eq!(exported, listed);

    // Bounds and cursors that are not one are refused, with the field.
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("after=nope", "after"),
        ("after=no_rule/x", "after"),
        ("format=xml", "format"),
    ] {
        let (st, e) = s.get(&format!("/api/party/findings?{q}")).await;
        assert_eq!(st, 422, "{q}: {e}");
        assert!(e.to_string().contains(field), "{q}: {e}");
    }
}

/// Every code of a list walked page by page with `limit`, checking each `next`.
async fn walk(c: &Client, path: &str, key: &str, limit: usize) -> Vec<String> {
    let mut codes = vec![];
    let mut after: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &after {
            Some(a) => format!("{path}{sep}limit={limit}&after={a}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (st, body) = c.get(&url).await;
        assert_eq!(st, 200, "{url}: {body}");
        let page: Vec<String> = body[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|o| {
                let o = o.get("properties").unwrap_or(o);
                o["code"].as_str().expect("code").to_string()
            })
            .collect();
        assert!(page.len() <= limit, "{url}: {body}");
        codes.extend(page.iter().cloned());
        match body["next"].as_str() {
            Some(n) => {
                assert_eq!(Some(n), page.last().map(String::as_str), "{url}: {body}");
                after = Some(n.to_string());
            }
            None => return codes,
        }
        assert!(codes.len() < 10_000, "{path} never ends");
    }
}

#[tokio::test]
async fn organisations_associations_and_units_come_a_page_at_a_time_with_sums() {
    let (_db, s) = fixture().await;
    for i in 0..3 {
        ok(&s, Method::PUT, &format!("/api/party/associations/AP{i}"), json!({ "name": format!("志愿服务队{i}"), "kind": "volunteer", "community_code": if i == 2 { C2 } else { C } })).await;
        ok(&s, Method::PUT, &format!("/api/party/units/UP{i}"), json!({ "name": format!("单位{i}"), "community_code": if i == 2 { C2 } else { C }, "registered_on": "2020-05-01" })).await;
    }

    // Organisations: pages of 3 give the whole list once, in byte order of the codes.
    let (st, whole) = s.get("/api/party/orgs").await;
    assert_eq!(st, 200, "{whole}");
    assert_eq!(whole["total"], 10, "{whole}");
    assert_eq!(whole["next"], Value::Null, "{whole}");
    let all: Vec<String> = whole["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|o| o["code"].as_str().expect("code").to_string())
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(walk(&s, "/api/party/orgs", "orgs", 3).await, all);
    // The sums cover everything asked, whatever the page.
    let (_, p) = s.get("/api/party/orgs?limit=1").await;
    assert_eq!(p["orgs"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(p["total"], 10, "{p}");
    let per: BTreeMap<String, i64> = p["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .map(|c| {
            (
                c["community_code"].as_str().unwrap_or_default().to_string(),
                c["orgs"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(per.values().sum::<i64>(), 10, "{p}");
    assert_eq!(per.get(C2), Some(&3), "{p}");
    let c2 = p["communities"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["community_code"] == C2))
        .expect("C2");
    assert_eq!(c2["by_kind"]["community_committee"], 1, "{p}");
    assert_eq!(c2["by_kind"]["grid_group"], 1, "{p}");
    // One community, one kind.
    let (_, one) = s.get(&format!("/api/party/orgs?community={C2}")).await;
    assert_eq!(one["total"], 3, "{one}");
    assert_eq!(
        one["communities"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );
    let (_, groups) = s.get("/api/party/orgs?kind=grid_group&limit=2").await;
    assert_eq!(groups["total"], 5, "{groups}");
    assert_eq!(groups["orgs"].as_array().map(Vec::len), Some(2), "{groups}");
    // Members are still counted on a page.
    let (_, dw) = s
        .get(&format!(
            "/api/party/orgs?community={C}&kind=community_committee"
        ))
        .await;
    assert!(dw["orgs"][0]["members"].as_i64().is_some(), "{dw}");

    // Social organisations and 双报到 units page the same way, with per-community sums.
    let assoc = walk(&s, "/api/party/associations", "features", 2).await;
    assert_eq!(assoc, ["AP0", "AP1", "AP2"]);
    let (_, a) = s.get("/api/party/associations?limit=1").await;
    assert_eq!(a["total"], 3, "{a}");
    assert_eq!(a["next"], "AP0", "{a}");
    let sums: BTreeMap<String, i64> = a["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .map(|c| {
            (
                c["community_code"].as_str().unwrap_or_default().to_string(),
                c["associations"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        sums,
        BTreeMap::from([(C.to_string(), 2), (C2.to_string(), 1)]),
        "{a}"
    );
    let (_, a2) = s
        .get(&format!("/api/party/associations?community={C2}"))
        .await;
    assert_eq!(a2["features"][0]["properties"]["code"], "AP2", "{a2}");
    assert_eq!(a2["total"], 1, "{a2}");
    let units = walk(&s, "/api/party/units?year=2024", "features", 1).await;
    assert_eq!(units, ["UP0", "UP1", "UP2"]);
    let (_, u) = s.get("/api/party/units?year=2024&limit=2&after=UP0").await;
    assert_eq!(u["total"], 3, "{u}");
    assert_eq!(u["features"].as_array().map(Vec::len), Some(2), "{u}");
    assert_eq!(u["next"], Value::Null, "{u}");
    // Units registered after the year are neither listed nor counted.
    let (_, old) = s.get("/api/party/units?year=2019").await;
    assert_eq!(old["total"], 0, "{old}");
    assert_eq!(old["features"].as_array().map(Vec::len), Some(0), "{old}");

    // Bad pages are refused with what is wrong.
    let long = "X".repeat(65);
    for route in [
        "/api/party/orgs",
        "/api/party/associations",
        "/api/party/units",
    ] {
        for (bad, field) in [
            ("limit=0", "limit"),
            ("limit=2001", "limit"),
            ("after=", "after"),
            (&*format!("after={long}"), "after"),
        ] {
            let (st, e) = s.get(&format!("{route}?{bad}")).await;
            assert_eq!(st, 422, "{route}?{bad}: {e}");
            assert!(e.to_string().contains(field), "{route}?{bad}: {e}");
        }
    }
}
