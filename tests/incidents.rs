//! What the web app's incidents panel reads besides the list and the lifecycle (issue 14),
//! against a real PostGIS: the steps each caller may take on an incident now with the staff
//! an assignment may name (`GET /api/incidents/{id}/next`), a list row's thumbnail (the
//! first photo's id), and the phone's "my incidents" (`mine=true`).

mod common;

use chrono::{Duration, Utc};
use common::patrols::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

async fn fixture() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    add_patrol2(&s).await;
    staff_patrols(&s, &db.pool().await).await;
    (db, s)
}

/// Reports an incident in grid C0101 as `c`; returns its id.
async fn report(c: &Client) -> Uuid {
    let id = Uuid::new_v4();
    let body = json!({ "category": "environment", "description": "垃圾堆放", "lon": 105.703, "lat": 32.402,
                       "reported_at": (Utc::now() - Duration::minutes(5)).to_rfc3339() });
    let (st, _, v) = c
        .send(
            Method::PUT,
            &format!("/api/incidents/{id}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    id
}

/// Takes a step as `c`; returns the status code.
async fn take(c: &Client, id: Uuid, to: &str, assignee: Option<&str>) -> u16 {
    let mut body = json!({ "id": Uuid::new_v4(), "to": to });
    if let Some(a) = assignee {
        body["assignee"] = json!(a);
    }
    let (st, _, v) = c
        .send(
            Method::POST,
            &format!("/api/incidents/{id}/transitions"),
            Some(&body),
            None,
        )
        .await;
    assert!(st == 201 || st >= 400, "{v}");
    st
}

/// `GET /api/incidents/{id}/next` as `c`: the statuses offered and the assignees' codes.
async fn next(c: &Client, id: Uuid) -> (Vec<String>, Vec<String>, Value) {
    let (st, v) = c.get(&format!("/api/incidents/{id}/next")).await;
    assert_eq!(st, 200, "{v}");
    let strings = |k: &str, field: Option<&str>| -> Vec<String> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("{k} in {v}"))
            .iter()
            .filter_map(|x| field.map_or(x, |f| &x[f]).as_str().map(String::from))
            .collect()
    };
    (strings("next", None), strings("assignees", Some("code")), v)
}

#[tokio::test]
async fn each_caller_is_offered_the_steps_it_may_take_and_the_staff_it_may_assign() {
    let (_db, s) = fixture().await;
    let p = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let id = report(&p).await;

    // The chief may assign or close; the grid's chief and member (PS0, PS1, on its
    // first-level grid C01) may be named, with their grid, and no phone of anyone.
    let (steps, staff, v) = next(&chief, id).await;
    assert_eq!(steps, ["assigned", "closed"], "{v}");
    assert_eq!(staff, ["PS0", "PS1"], "{v}");
    assert_eq!(v["status"], "reported");
    assert_eq!(v["assignees"][1]["role"], "member");
    assert_eq!(v["assignees"][1]["grid"], format!("{C}01"));
    assert_eq!(v["assignees"][1]["name"], "PS1网格员");
    assert!(!v.to_string().contains("phone"), "{v}");
    // The reporter, not yet in charge, may take no step and is shown nobody.
    let (steps, staff, v) = next(&p, id).await;
    assert!(steps.is_empty() && staff.is_empty(), "{v}");
    // Patrol staff of another grid do not see the incident at all.
    let other = s.sign_in("patrol2").await;
    assert_eq!(other.get(&format!("/api/incidents/{id}/next")).await.0, 404);

    // Once assigned to PS1 (the `patrol` account), the assignee may start it; the chief may
    // reassign, start or close, and every step offered is one the server accepts.
    assert_eq!(take(&chief, id, "assigned", Some("PS1")).await, 201);
    let (steps, staff, _) = next(&chief, id).await;
    assert_eq!(steps, ["assigned", "in_progress", "closed"]);
    assert_eq!(staff, ["PS0", "PS1"]);
    let (steps, staff, _) = next(&p, id).await;
    assert_eq!(steps, ["in_progress"]);
    assert!(staff.is_empty());
    assert_eq!(take(&p, id, "in_progress", None).await, 201);
    assert_eq!(next(&p, id).await.0, ["resolved"]);
    assert_eq!(take(&p, id, "resolved", None).await, 201);
    // Verifying is the chief's: the assignee is offered only to take it back.
    assert_eq!(next(&p, id).await.0, ["in_progress"]);
    assert_eq!(take(&p, id, "verified", None).await, 403);
    assert_eq!(
        next(&chief, id).await.0,
        ["verified", "in_progress", "closed"]
    );
    assert_eq!(take(&chief, id, "verified", None).await, 201);
    assert_eq!(next(&chief, id).await.0, ["closed"]);
    assert_eq!(take(&chief, id, "closed", None).await, 201);
    let (steps, staff, _) = next(&chief, id).await;
    assert!(steps.is_empty() && staff.is_empty());
}

#[tokio::test]
async fn a_list_row_names_its_first_photo_for_the_thumbnail() {
    let (_db, s) = fixture().await;
    let p = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let bare = report(&p).await;
    let shown = report(&p).await;
    let mut photos = Vec::new();
    for seed in [3, 4] {
        let photo = Uuid::new_v4();
        let r = p
            .raw(
                Method::PUT,
                &format!("/api/incidents/{shown}/photos/{photo}"),
            )
            .body(jpeg(seed))
            .send()
            .await
            .expect("photo");
        assert_eq!(r.status().as_u16(), 201);
        photos.push(photo);
    }
    let (st, fc) = chief.get("/api/incidents?open=true").await;
    assert_eq!(st, 200, "{fc}");
    let row = |id: Uuid| {
        fc["features"]
            .as_array()
            .and_then(|f| f.iter().find(|x| x["properties"]["id"] == json!(id)))
            .unwrap_or_else(|| panic!("{id} in {fc}"))["properties"]
            .clone()
    };
    assert_eq!(row(shown)["photo"], json!(photos[0]), "the first photo");
    assert!(
        row(bare).get("photo").is_none(),
        "no photo, no field: {}",
        row(bare)
    );
    let (_, one) = chief.get(&format!("/api/incidents/{shown}")).await;
    assert_eq!(one["photo"], json!(photos[0]));
    assert_eq!(one["photos"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn mine_lists_only_the_incidents_assigned_to_the_caller() {
    let (_db, s) = fixture().await;
    let p = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let to_me = report(&p).await;
    let to_chief = report(&p).await;
    let nobody = report(&p).await;
    assert_eq!(take(&chief, to_me, "assigned", Some("PS1")).await, 201);
    assert_eq!(take(&chief, to_chief, "assigned", Some("PS0")).await, 201);
    let ids = |fc: &Value| -> Vec<String> {
        fc["features"]
            .as_array()
            .unwrap_or_else(|| panic!("features in {fc}"))
            .iter()
            .filter_map(|f| f["properties"]["id"].as_str().map(String::from))
            .collect()
    };
    // The member linked to PS1 sees the one assigned to PS1, not those of others or nobody's.
    let (st, fc) = p.get("/api/incidents?open=true&mine=true").await;
    assert_eq!(st, 200, "{fc}");
    assert_eq!(ids(&fc), [to_me.to_string()]);
    let (_, all) = p.get("/api/incidents?open=true").await;
    assert_eq!(ids(&all).len(), 3, "without mine, the whole scope: {all}");
    assert!(ids(&all).contains(&nobody.to_string()));
    // An account with no staff record has nothing of its own.
    let (st, fc) = chief.get("/api/incidents?open=true&mine=true").await;
    assert_eq!(st, 200, "{fc}");
    assert!(ids(&fc).is_empty(), "{fc}");
    // Resolved, it is still open (the chief verifies) and still the member's.
    assert_eq!(take(&p, to_me, "in_progress", None).await, 201);
    assert_eq!(take(&p, to_me, "resolved", None).await, 201);
    let (_, fc) = p.get("/api/incidents?open=true&mine=true").await;
    assert_eq!(ids(&fc), [to_me.to_string()]);
    assert_eq!(fc["features"][0]["properties"]["status"], "resolved");
}
