//! Access control against a real PostGIS: every route × every role × an object inside and
//! one outside the account's scope; no personal or party field in any answer to a role that
//! must not see it; routes without a rule are closed; sign-in throttling; session expiry
//! and revocation; CSRF; the audit log.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Expected outcome: the gate and scope let the request through, or refuse it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum E {
    /// Allowed: any status except 401, 403 and 404.
    A,
    /// Denied: 401, 403 or 404 (a hidden object is a 404, so as not to reveal it).
    D,
    /// A list that must include the object.
    In,
    /// A list that must not include the object.
    Out,
}
use E::*;

/// The accounts tested and the object set each one is tested against.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Admin,
    Planner,
    Chief,
    Patrol,
    Viewer,
    /// Admin of another town.
    AdminOut,
    /// Planner of another town.
    PlannerOut,
    /// Viewer of another town.
    ViewerOut,
    /// Grid chief, against grids outside its own (same town).
    ChiefOut,
    /// Patrol, against grids outside its own (same town).
    PatrolOut,
    /// No session.
    Anonymous,
}

impl Who {
    const ALL: [Who; 11] = [
        Who::Admin,
        Who::Planner,
        Who::Chief,
        Who::Patrol,
        Who::Viewer,
        Who::AdminOut,
        Who::PlannerOut,
        Who::ViewerOut,
        Who::ChiefOut,
        Who::PatrolOut,
        Who::Anonymous,
    ];

    fn username(self) -> Option<&'static str> {
        Some(match self {
            Who::Admin => "admin",
            Who::Planner => "planner",
            Who::Chief | Who::ChiefOut => "chief",
            Who::Patrol | Who::PatrolOut => "patrol",
            Who::Viewer => "viewer",
            Who::AdminOut => "outsider",
            Who::PlannerOut => "planner_out",
            Who::ViewerOut => "viewer_out",
            Who::Anonymous => return None,
        })
    }

    /// Whether the objects used are the account's own (else outside its scope).
    fn inside(self) -> bool {
        matches!(
            self,
            Who::Admin | Who::Planner | Who::Chief | Who::Patrol | Who::Viewer
        )
    }

    /// Column of this account in the expectation rows.
    fn col(self) -> usize {
        Who::ALL
            .iter()
            .position(|w| *w == self)
            .expect("every account has a column")
    }
}

/// The objects a request is about.
struct Obj {
    l1: String,
    l2: String,
    building: &'static str,
    person: &'static str,
    lon: f64,
    lat: f64,
}

fn inside_obj() -> Obj {
    Obj {
        l1: format!("{C}01"),
        l2: format!("{C}0101"),
        building: "B00",
        person: "P1",
        lon: 105.705,
        lat: 32.4025,
    }
}

/// Outside the chief's and patrol's grids, in the same town.
fn outside_obj() -> Obj {
    Obj {
        l1: format!("{C}02"),
        l2: format!("{C}0201"),
        building: "B10",
        person: "P3",
        lon: 105.715,
        lat: 32.4025,
    }
}

/// The patrols, incidents and photos the matrix reads: one of each in the inside
/// object's grid (by `patrol`) and one in the outside object's grid (by `patrol2`).
struct PatrolSeed {
    week: String,
    patrols: [uuid::Uuid; 2],
    incidents: [uuid::Uuid; 2],
    photos: [uuid::Uuid; 2],
}

static SEED: std::sync::OnceLock<PatrolSeed> = std::sync::OnceLock::new();

/// The box of a fixture grid, the owner of patrols there, and a member of staff serving it.
fn patrol_side(o: &Obj) -> (usize, (f64, f64, f64, f64), &'static str, &'static str) {
    if o.l2 == format!("{C}0101") {
        (0, (105.70, 32.40, 105.71, 32.405), "patrol", "PS1")
    } else {
        (1, (105.71, 32.40, 105.72, 32.405), "patrol2", "PS3")
    }
}

fn seed() -> &'static PatrolSeed {
    SEED.get().expect("the matrix seeds patrols first")
}

/// A whole patrol in a box, started half an hour ago.
fn patrol_in(b: (f64, f64, f64, f64), grid: &str) -> Value {
    use common::patrols::{walk, whole};
    let w = walk(b, chrono::Utc::now() - chrono::Duration::minutes(30), 20, 1);
    whole(&[grid], &w, json!([]))
}

/// An incident report at a point.
fn incident_at(lon: f64, lat: f64) -> Value {
    json!({ "category": "environment", "description": "垃圾", "lon": lon, "lat": lat,
            "reported_at": (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339() })
}

async fn seed_patrols(s: &TestServer, db: &TestDb) {
    common::patrols::add_patrol2(s).await;
    common::patrols::staff_patrols(s, &db.pool().await).await;
    let mut seed = PatrolSeed {
        week: wangge::domain::patrol::IsoWeek::of(chrono::Utc::now()).to_string(),
        patrols: [uuid::Uuid::nil(); 2],
        incidents: [uuid::Uuid::nil(); 2],
        photos: [uuid::Uuid::nil(); 2],
    };
    for o in [inside_obj(), outside_obj()] {
        let (k, b, owner, _) = patrol_side(&o);
        let c = s.sign_in(owner).await;
        let id = uuid::Uuid::new_v4();
        let (st, _, v) = c
            .send(
                Method::PUT,
                &format!("/api/patrols/{id}"),
                Some(&patrol_in(b, &o.l2)),
                None,
            )
            .await;
        assert_eq!(st, 201, "{v}");
        seed.patrols[k] = id;
        let id = uuid::Uuid::new_v4();
        let (st, _, v) = c
            .send(
                Method::PUT,
                &format!("/api/incidents/{id}"),
                Some(&incident_at(o.lon - 0.002, o.lat)),
                None,
            )
            .await;
        assert_eq!(st, 201, "{v}");
        seed.incidents[k] = id;
        let photo = uuid::Uuid::new_v4();
        let r = c
            .raw(Method::PUT, &format!("/api/incidents/{id}/photos/{photo}"))
            .body(common::patrols::jpeg(k as u8))
            .send()
            .await
            .expect("photo");
        assert_eq!(r.status().as_u16(), 201);
        seed.photos[k] = photo;
    }
    assert!(SEED.set(seed).is_ok(), "seeded once");
}

/// An open patrol (no end, no chunk) of the object's grid, by its owner.
async fn open_patrol(s: &TestServer, o: &Obj) -> uuid::Uuid {
    let (_, b, owner, _) = patrol_side(o);
    let mut body = patrol_in(b, &o.l2);
    if let Some(m) = body.as_object_mut() {
        m.remove("ended_at");
        m.remove("track");
    }
    let id = uuid::Uuid::new_v4();
    let (st, _, v) = s
        .sign_in(owner)
        .await
        .send(
            Method::PUT,
            &format!("/api/patrols/{id}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    id
}

/// One row of the matrix: a route and its expected outcome for each account in the order
/// of `Who::ALL`: admin, planner, chief, patrol, viewer, admin-out, planner-out,
/// viewer-out, chief-out, patrol-out, anonymous.
struct Row {
    method: Method,
    route: &'static str,
    expect: [E; 11],
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let r = |method: Method, route: &'static str, expect: [E; 11]| Row { method, route, expect };
    vec![
        //                                                    adm  pla  chi  pat  vie  aO   pO   vO   cO   ptO  anon
        r(Method::GET, "/api/health",                         [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   A]),
        r(Method::GET, "/api/health/ready",                   [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   A]),
        r(Method::GET, "/config.json",                        [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   A]),
        r(Method::GET, "/api/search",                         [In,  In,  In,  In,  In,  Out, Out, Out, In,  Out, D]),
        r(Method::POST, "/api/auth/login",                    [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   A]),
        r(Method::POST, "/api/auth/logout",                   [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   D]),
        r(Method::GET, "/api/auth/me",                        [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   D]),
        r(Method::GET, "/api/locate",                         [A,   A,   A,   A,   A,   D,   D,   D,   A,   D,   D]),
        r(Method::GET, "/api/communities",                    [In,  In,  In,  In,  In,  Out, Out, Out, In,  In,  D]),
        r(Method::GET, "/api/grids",                          [In,  In,  In,  In,  In,  Out, Out, Out, In,  Out, D]),
        r(Method::POST, "/api/grids",                         [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::POST, "/api/grids/batch",                   [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/grids/{code}",                   [A,   A,   A,   A,   A,   D,   D,   D,   A,   D,   D]),
        r(Method::PUT, "/api/grids/{code}",                   [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::DELETE, "/api/grids/{code}",                [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/grids/{code}/history",           [A,   A,   A,   A,   A,   D,   D,   D,   A,   D,   D]),
        r(Method::GET, "/api/grids/{code}/people",            [A,   D,   A,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/grids/{code}/households",        [A,   D,   A,   A,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::PUT, "/api/grids/{code}/staff",             [A,   D,   A,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/people/{code}",                  [A,   D,   A,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::PUT, "/api/people/{code}",                  [A,   D,   A,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::DELETE, "/api/people/{code}",               [A,   D,   A,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/buildings",                      [In,  In,  In,  In,  In,  Out, Out, Out, In,  Out, D]),
        r(Method::GET, "/api/buildings/{code}",               [A,   A,   A,   A,   A,   D,   D,   D,   A,   D,   D]),
        r(Method::GET, "/api/stations",                       [In,  In,  In,  In,  In,  Out, Out, Out, In,  In,  D]),
        r(Method::GET, "/api/stations/{code}",                [A,   A,   A,   A,   A,   D,   D,   D,   A,   A,   D]),
        r(Method::PUT, "/api/stations/{code}/service",        [A,   A,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::PUT, "/api/stations/{code}",                [A,   A,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::DELETE, "/api/stations/{code}",             [A,   A,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::POST, "/api/import/{layer}",                [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/accounts",                       [In,  D,   D,   D,   D,   Out, D,   D,   D,   D,   D]),
        r(Method::POST, "/api/accounts",                      [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::PUT, "/api/accounts/{username}",            [A,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D]),
        r(Method::GET, "/api/audit",                          [In,  D,   D,   D,   D,   Out, D,   D,   D,   D,   D]),
        r(Method::GET, "/tiles/{file}",                       [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   D]),
        r(Method::GET, "/tiles/{layer}/{z}/{x}/{y}",          [A,   A,   A,   A,   A,   A,   A,   A,   A,   A,   D]),
        // Weekly patrols and incidents (issue 6).
        r(Method::GET, "/api/patrols",                              [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::PUT, "/api/patrols/{id}",                         [D, D, D, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/patrols/{id}",                         [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/patrols/{id}/end",                     [D, D, D, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/patrols/{id}/chunks",                  [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/patrols/{id}/chunks/{seq}",            [D, D, D, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/compliance",                           [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::GET, "/api/compliance/overdue",                   [In, D, In, Out, D, Out, D, D, Out, Out, D]),
        r(Method::GET, "/api/compliance/summary",                   [In, D, In, In, D, Out, D, D, In, In, D]),
        r(Method::GET, "/api/compliance/export",                    [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::GET, "/api/incidents",                            [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::GET, "/api/incidents/counts",                     [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::GET, "/api/incidents/report",                     [In, D, In, In, D, Out, D, D, Out, Out, D]),
        r(Method::PUT, "/api/incidents/{id}",                       [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/incidents/{id}",                       [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/incidents/{id}/next",                  [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::POST, "/api/incidents/{id}/transitions",           [A, D, A, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/incidents/{id}/photos/{photo}",        [A, D, A, A, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/incidents/{id}/photos/{photo}",        [A, D, A, A, D, D, D, D, D, D, D]),
        // The ten-minute service circle (issue 5).
        r(Method::GET, "/api/coverage",                             [In, In, In, D, In, Out, Out, Out, In, D, D]),
        r(Method::GET, "/api/coverage/buildings",                   [In, In, In, D, In, Out, Out, Out, In, D, D]),
        r(Method::GET, "/api/coverage/isochrone",                   [A, A, A, D, A, D, D, D, A, D, D]),
        r(Method::POST, "/api/coverage/scenario",                   [A, A, A, D, A, D, D, D, A, D, D]),
        r(Method::POST, "/api/coverage/scenario/save",              [A, A, D, D, D, D, D, D, D, D, D]),
        r(Method::POST, "/api/coverage/siting",                     [A, A, A, D, A, A, A, A, A, D, D]),
        r(Method::GET, "/api/coverage/report",                      [In, In, In, D, In, Out, Out, Out, In, D, D]),
        // Party organisations (issue 7).
        r(Method::GET, "/api/party/cells",                          [In, In, In, D, D, Out, Out, D, In, D, D]),
        r(Method::GET, "/api/party/findings",                       [In, In, In, D, D, Out, Out, D, In, D, D]),
        r(Method::GET, "/api/party/report",                         [A, A, A, D, D, A, A, D, A, D, D]),
        r(Method::POST, "/api/party/preview",                        [A, A, A, D, D, D, D, D, A, D, D]),
        r(Method::POST, "/api/party/reassign",                       [A, D, D, D, D, A, D, D, D, D, D]),
        r(Method::GET, "/api/party/orgs",                           [In, In, In, D, D, Out, Out, D, In, D, D]),
        r(Method::GET, "/api/party/orgs/{code}",                    [A, A, A, D, D, D, D, D, A, D, D]),
        r(Method::PUT, "/api/party/orgs/{code}",                    [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::DELETE, "/api/party/orgs/{code}",                    [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/party/orgs/{code}/officers",           [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/party/orgs/{code}/members",            [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/party/associations",                   [A, A, A, D, D, A, A, D, A, D, D]),
        r(Method::PUT, "/api/party/associations/{code}",            [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::DELETE, "/api/party/associations/{code}",            [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/party/units",                          [A, A, A, D, D, A, A, D, A, D, D]),
        r(Method::PUT, "/api/party/units/{code}",                   [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::DELETE, "/api/party/units/{code}",                   [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::GET, "/api/party/dual-members",                   [A, A, A, D, D, D, D, D, A, D, D]),
        r(Method::PUT, "/api/party/dual-members/{person}",          [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::DELETE, "/api/party/dual-members/{person}",          [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/party/projects/{code}",                [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::DELETE, "/api/party/projects/{code}",                [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/party/posts/{person}/{year}",          [A, D, D, D, D, D, D, D, D, D, D]),
        // The annual assessment (issue 15): read by the street office and the community's
        // own chiefs and viewers; entered by administrators within their region.
        r(Method::GET, "/api/assess/{year}",                        [In, D, In, D, In, Out, D, Out, In, D, D]),
        r(Method::GET, "/api/assess/{year}/scorecard",              [In, D, In, D, In, Out, D, Out, In, D, D]),
        r(Method::GET, "/api/assess/{year}/export",                 [A, D, A, D, A, A, D, A, A, D, D]),
        r(Method::GET, "/api/assess/{year}/print/{community}",      [A, D, A, D, A, D, D, D, A, D, D]),
        r(Method::GET, "/api/assess/{year}/settings",               [A, D, A, D, A, A, D, A, A, D, D]),
        r(Method::PUT, "/api/assess/{year}/settings",               [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/reports/{community}",    [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/ratings/{community}",    [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/lists/{community}",      [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/pledges/{person}",       [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/units/{code}",           [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/dual-members/{person}",  [A, D, D, D, D, D, D, D, D, D, D]),
        r(Method::PUT, "/api/assess/{year}/projects/{code}",        [A, D, D, D, D, D, D, D, D, D, D]),
        // OGC API - Features (issue 16).
        r(Method::GET, "/ogc",                                      [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/api",                                  [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/conformance",                          [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/collections",                          [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/collections/{id}",                     [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/collections/{id}/queryables",          [A, A, A, A, A, A, A, A, A, A, D]),
        r(Method::GET, "/ogc/collections/{id}/items",               [In, In, In, In, In, Out, Out, Out, In, Out, D]),
        r(Method::GET, "/ogc/collections/{id}/items/{feature}",     [A, A, A, A, A, D, D, D, A, D, D]),
    ]
}

/// Strings that must never reach an account that may not see residents' personal data
/// (names, phones, employers of the fixture's residents).
const PERSONAL: [&str; 8] = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "1380000000",
    "广元钢铁",
    "市医院",
    "birth_year",
];
/// Signs of party data, which patrol accounts must never get.
const PARTY: [&str; 4] = ["party_members", "membership", "党支部", "党小组"];

fn denied(status: u16) -> bool {
    matches!(status, 401 | 403 | 404)
}

/// Sends the request of one row for one account and returns status and body text.
async fn call(s: &TestServer, client: &Client, row: &Row, who: Who, n: usize) -> (u16, String) {
    let o = if who.inside()
        || matches!(
            who,
            Who::AdminOut | Who::PlannerOut | Who::ViewerOut | Who::Anonymous
        ) {
        inside_obj()
    } else {
        outside_obj()
    };
    let admin = &s.client;
    // The current version of a grid, as its ETag.
    let etag = |code: String| async move {
        admin
            .send(Method::GET, &format!("/api/grids/{code}"), None, None)
            .await
            .1
            .unwrap_or_default()
    };
    let (path, body, if_match): (String, Option<Value>, Option<String>) = match row.route {
        "/api/health" | "/api/health/ready" | "/api/auth/me" | "/api/communities"
        | "/api/grids" | "/api/stations" | "/api/accounts"
            if row.method == Method::GET =>
        {
            (row.route.to_string(), None, None)
        }
        "/api/audit" => ("/api/audit?limit=1000".into(), None, None),
        "/config.json" => (row.route.into(), None, None),
        "/api/coverage" => ("/api/coverage?kind=party_mass_centre".into(), None, None),
        "/api/coverage/buildings" => ("/api/coverage/buildings".into(), None, None),
        "/api/coverage/isochrone" => (
            "/api/coverage/isochrone?station=S1&minutes=10".into(),
            None,
            None,
        ),
        "/api/coverage/report" => (
            "/api/coverage/report?kind=party_mass_centre&format=csv".into(),
            None,
            None,
        ),
        "/api/coverage/siting" => (
            row.route.into(),
            Some(json!({ "kind": "clinic", "k": 1 })),
            None,
        ),
        "/api/coverage/scenario" | "/api/coverage/scenario/save" => (
            row.route.into(),
            Some(
                json!({ "kind": "clinic", "changes": [{ "op": "add", "kind": "clinic", "lon": o.lon + 0.0005, "lat": o.lat, "code": format!("CV{n}") }] }),
            ),
            None,
        ),
        "/api/search" => (format!("/api/search?q={}", o.building), None, None),
        "/api/auth/login" => (
            row.route.into(),
            Some(
                json!({ "username": who.username().unwrap_or("viewer"), "password": PASSWORD, "token": true }),
            ),
            None,
        ),
        "/api/auth/logout" => (row.route.into(), None, None),
        "/api/locate" => (
            format!("/api/locate?lon={}&lat={}", o.lon, o.lat),
            None,
            None,
        ),
        "/api/buildings" => (
            "/api/buildings?bbox=105.69,32.39,105.74,32.42".into(),
            None,
            None,
        ),
        "/api/grids/{code}" if row.method == Method::GET => {
            (format!("/api/grids/{}", o.l2), None, None)
        }
        "/api/grids/{code}" if row.method == Method::PUT => {
            let e = etag(o.l2.clone()).await;
            (
                format!("/api/grids/{}", o.l2),
                Some(feature(Value::Null, json!({ "name": format!("改名{n}") }))),
                Some(e),
            )
        }
        "/api/grids/{code}" => {
            let e = etag(o.l2.clone()).await;
            (format!("/api/grids/{}", o.l2), None, Some(e))
        }
        "/api/grids" if row.method == Method::POST => unreachable!(),
        "/api/grids/batch" => {
            let e = etag(o.l2.clone()).await;
            let v: i64 = e.trim_matches('"').parse().unwrap_or(0);
            (
                row.route.into(),
                Some(
                    json!({ "changes": [{ "op": "update", "code": o.l2, "version": v, "feature": feature(Value::Null, json!({ "name": format!("批改{n}") })) }] }),
                ),
                None,
            )
        }
        "/api/grids/{code}/history" => (format!("/api/grids/{}/history", o.l2), None, None),
        "/api/grids/{code}/people" => (format!("/api/grids/{}/people", o.l1), None, None),
        "/api/grids/{code}/households" => (format!("/api/grids/{}/households", o.l2), None, None),
        "/api/grids/{code}/staff" => (
            format!("/api/grids/{}/staff", o.l2),
            Some(
                json!({ "chief": { "code": "ST1", "name": "赵网格" }, "members": [{ "code": "ST2", "name": "钱网格" }] }),
            ),
            None,
        ),
        "/api/people/{code}" if row.method == Method::GET => {
            (format!("/api/people/{}", o.person), None, None)
        }
        "/api/people/{code}" if row.method == Method::PUT => (
            format!("/api/people/{}", o.person),
            Some(
                json!({ "code": o.person, "building_code": o.building, "name": "张伟", "sex": "M", "membership": "full" }),
            ),
            None,
        ),
        "/api/people/{code}" => {
            // A resident made for this deletion, in the object's building.
            let code = format!("TMP{n}");
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/people/{code}"),
                    Some(&json!({ "code": code, "building_code": o.building, "name": "临时", "membership": "none" })),
                    None,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            (format!("/api/people/{code}"), None, None)
        }
        "/api/buildings/{code}" => (format!("/api/buildings/{}", o.building), None, None),
        "/api/stations/{code}" if row.method == Method::GET => {
            ("/api/stations/S1".into(), None, None)
        }
        "/api/stations/{code}/service" => (
            "/api/stations/S1/service".into(),
            Some(
                json!({ "opening_hours": format!("周一至周五 8:30-17:{:02}", n % 60), "phone": "0839-3300000" }),
            ),
            None,
        ),
        "/api/stations/{code}" => {
            let code = format!("ST{n}");
            let station = feature(
                json!({ "type": "Point", "coordinates": [o.lon + 0.001, o.lat] }),
                json!({ "name": "便民服务站", "kind": "convenience" }),
            );
            if row.method == Method::DELETE {
                let (st, _, b) = admin
                    .send(
                        Method::PUT,
                        &format!("/api/stations/{code}"),
                        Some(&station),
                        None,
                    )
                    .await;
                assert_eq!(st, 200, "{b}");
            }
            let body = (row.method == Method::PUT).then_some(station);
            (format!("/api/stations/{code}"), body, None)
        }
        "/api/import/{layer}" => (
            "/api/import/stations".into(),
            Some(json!({ "type": "FeatureCollection", "features": [] })),
            None,
        ),
        "/api/accounts" => (
            row.route.into(),
            Some(
                json!({ "username": format!("new{n}"), "display_name": "新账号", "role": "viewer",
                         "scope": { "kind": "region", "region": "510802102" } }),
            ),
            None,
        ),
        "/tiles/{file}" => ("/tiles/grids2.json".into(), None, None),
        "/tiles/{layer}/{z}/{x}/{y}" => ("/tiles/grids2/13/6596/3303.mvt".into(), None, None),
        "/api/accounts/{username}" => (
            "/api/accounts/viewer".into(),
            Some(json!({ "display_name": format!("查看者{n}") })),
            None,
        ),
        "/api/patrols" => (format!("/api/patrols?week={}", seed().week), None, None),
        "/api/patrols/{id}" if row.method == Method::PUT => {
            let (_, b, _, _) = patrol_side(&o);
            (
                format!("/api/patrols/{}", uuid::Uuid::new_v4()),
                Some(patrol_in(b, &o.l2)),
                None,
            )
        }
        "/api/patrols/{id}" => (
            format!("/api/patrols/{}", seed().patrols[patrol_side(&o).0]),
            None,
            None,
        ),
        "/api/patrols/{id}/end" => {
            let id = open_patrol(s, &o).await;
            let end = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
            (
                format!("/api/patrols/{id}/end"),
                Some(json!({ "ended_at": end, "chunks": 1 })),
                None,
            )
        }
        "/api/patrols/{id}/chunks" => (
            format!("/api/patrols/{}/chunks", seed().patrols[patrol_side(&o).0]),
            None,
            None,
        ),
        "/api/patrols/{id}/chunks/{seq}" => {
            let id = open_patrol(s, &o).await;
            let track = patrol_in(patrol_side(&o).1, &o.l2)["track"].clone();
            (
                format!("/api/patrols/{id}/chunks/0"),
                Some(json!({ "id": uuid::Uuid::new_v4(), "points": track })),
                None,
            )
        }
        "/api/compliance" | "/api/compliance/overdue" | "/api/compliance/export" => {
            (format!("{}?week={}", row.route, seed().week), None, None)
        }
        "/api/compliance/summary" => (
            format!("/api/compliance/summary?by=community&week={}", seed().week),
            None,
            None,
        ),
        "/api/incidents" | "/api/incidents/counts" | "/api/incidents/report" => {
            (row.route.to_string(), None, None)
        }
        "/api/incidents/{id}" if row.method == Method::PUT => (
            format!("/api/incidents/{}", uuid::Uuid::new_v4()),
            Some(incident_at(o.lon - 0.001, o.lat)),
            None,
        ),
        "/api/incidents/{id}" => (
            format!("/api/incidents/{}", seed().incidents[patrol_side(&o).0]),
            None,
            None,
        ),
        "/api/incidents/{id}/next" => (
            format!(
                "/api/incidents/{}/next",
                seed().incidents[patrol_side(&o).0]
            ),
            None,
            None,
        ),
        "/api/incidents/{id}/transitions" => (
            format!(
                "/api/incidents/{}/transitions",
                seed().incidents[patrol_side(&o).0]
            ),
            Some(
                json!({ "id": uuid::Uuid::new_v4(), "to": "assigned", "assignee": patrol_side(&o).3 }),
            ),
            None,
        ),
        "/api/incidents/{id}/photos/{photo}" if row.method == Method::PUT => {
            let k = patrol_side(&o).0;
            let path = format!(
                "/api/incidents/{}/photos/{}",
                seed().incidents[k],
                uuid::Uuid::new_v4()
            );
            let r = client
                .raw(Method::PUT, &path)
                .body(common::patrols::jpeg(n as u8))
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            return (status, r.text().await.unwrap_or_default());
        }
        "/api/incidents/{id}/photos/{photo}" => {
            let k = patrol_side(&o).0;
            (
                format!(
                    "/api/incidents/{}/photos/{}",
                    seed().incidents[k],
                    seed().photos[k]
                ),
                None,
                None,
            )
        }
        "/api/party/cells"
        | "/api/party/findings"
        | "/api/party/report"
        | "/api/party/orgs"
        | "/api/party/associations"
        | "/api/party/units"
        | "/api/party/reassign" => (format!("{}?year=2024", row.route), None, None),
        "/api/party/dual-members" => (format!("{}?year=2024&grid={}", row.route, o.l1), None, None),
        "/api/party/preview" => {
            let e = etag(o.l2.clone()).await;
            let v: i64 = e.trim_matches('"').parse().unwrap_or(0);
            (
                row.route.into(),
                Some(
                    json!({ "changes": [{ "op": "update", "code": o.l2, "version": v, "feature": feature(Value::Null, json!({ "name": format!("预览{n}") })) }] }),
                ),
                None,
            )
        }
        "/api/party/orgs/{code}" if row.method == Method::DELETE => {
            // A functional organisation made for this dissolution, at the object's building.
            let code = format!("FN{n}");
            let body = json!({ "name": "功能党支部", "kind": "functional", "attached_to": { "kind": "building", "code": o.building } });
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/party/orgs/{code}"),
                    Some(&body),
                    None,
                )
                .await;
            assert_eq!(st, 201, "{b}");
            (format!("/api/party/orgs/{code}"), None, None)
        }
        "/api/party/orgs/{code}" if row.method == Method::PUT => (
            format!("/api/party/orgs/{}-XZ", o.l2),
            Some(json!({ "name": format!("党小组{n}"), "kind": "grid_group" })),
            None,
        ),
        "/api/party/orgs/{code}" => (format!("/api/party/orgs/{}-XZ", o.l2), None, None),
        "/api/party/orgs/{code}/officers" => (
            format!("/api/party/orgs/{}-XZ/officers", o.l2),
            Some(json!({ "officers": [{ "person_code": o.person, "role": "group_leader" }] })),
            None,
        ),
        "/api/party/orgs/{code}/members" => {
            let code = format!("FM{n}");
            let body = json!({ "name": "功能党小组", "kind": "functional", "form": "group", "attached_to": { "kind": "building", "code": o.building } });
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/party/orgs/{code}"),
                    Some(&body),
                    None,
                )
                .await;
            assert_eq!(st, 201, "{b}");
            (
                format!("/api/party/orgs/{code}/members"),
                Some(json!({ "members": [] })),
                None,
            )
        }
        "/api/party/associations/{code}" => {
            let code = format!("AS{n}");
            let body = json!({ "name": "志愿服务队", "kind": "volunteer", "community_code": C });
            if row.method == Method::DELETE {
                let (st, _, b) = admin
                    .send(
                        Method::PUT,
                        &format!("/api/party/associations/{code}"),
                        Some(&body),
                        None,
                    )
                    .await;
                assert_eq!(st, 200, "{b}");
            }
            let body = (row.method == Method::PUT).then_some(body);
            (format!("/api/party/associations/{code}"), body, None)
        }
        "/api/party/units/{code}" => {
            let code = format!("UN{n}");
            let body =
                json!({ "name": "市供电公司", "community_code": C, "registered_on": "2020-05-01" });
            if row.method == Method::DELETE {
                let (st, _, b) = admin
                    .send(
                        Method::PUT,
                        &format!("/api/party/units/{code}"),
                        Some(&body),
                        None,
                    )
                    .await;
                assert_eq!(st, 200, "{b}");
            }
            let body = (row.method == Method::PUT).then_some(body);
            (format!("/api/party/units/{code}"), body, None)
        }
        "/api/party/dual-members/{person}" => {
            let body = json!({ "registered_on": "2021-03-01" });
            if row.method == Method::DELETE {
                let (st, _, b) = admin
                    .send(
                        Method::PUT,
                        &format!("/api/party/dual-members/{}", o.person),
                        Some(&body),
                        None,
                    )
                    .await;
                assert_eq!(st, 200, "{b}");
            }
            let body = (row.method == Method::PUT).then_some(body);
            (format!("/api/party/dual-members/{}", o.person), body, None)
        }
        "/api/party/projects/{code}" => {
            let code = format!("VP{n}");
            let body = json!({ "name": "关爱空巢老人", "community_code": C, "year": 2024 });
            if row.method == Method::DELETE {
                let (st, _, b) = admin
                    .send(
                        Method::PUT,
                        &format!("/api/party/projects/{code}"),
                        Some(&body),
                        None,
                    )
                    .await;
                assert_eq!(st, 200, "{b}");
            }
            let body = (row.method == Method::PUT).then_some(body);
            (format!("/api/party/projects/{code}"), body, None)
        }
        "/api/party/posts/{person}/{year}" => (
            format!("/api/party/posts/{}/2024", o.person),
            Some(json!({ "posts": [{ "post": "楼栋信息员" }] })),
            None,
        ),
        "/api/assess/{year}" | "/api/assess/{year}/scorecard" | "/api/assess/{year}/settings"
            if row.method == Method::GET =>
        {
            (row.route.replace("{year}", "2024"), None, None)
        }
        "/api/assess/{year}/export" => ("/api/assess/2024/export?format=xlsx".into(), None, None),
        "/api/assess/{year}/print/{community}" => {
            (format!("/api/assess/2024/print/{C}"), None, None)
        }
        "/api/assess/{year}/settings" => (
            "/api/assess/2024/settings".into(),
            Some(json!({
                "weight_members": 0.3, "weight_residents": 0.4, "weight_street": 0.3,
                "grade_good": 90.0, "grade_fair": 80.0, "grade_average": 60.0 + (n % 5) as f64,
                "warn_layer_below": 60.0, "talk_below": 60.0, "notice_from": 90.0,
                "weight_patrol": 25.0, "weight_visits": 20.0, "weight_incidents": 20.0,
                "weight_coverage": 15.0, "weight_findings": 10.0, "weight_dual": 10.0,
                "points_per_finding": 5.0
            })),
            None,
        ),
        "/api/assess/{year}/reports/{community}" => (
            format!("/api/assess/2024/reports/{C}"),
            Some(json!({ "document": format!("述职报告{n}"), "summary": "全年工作" })),
            None,
        ),
        "/api/assess/{year}/ratings/{community}" => (
            format!("/api/assess/2024/ratings/{C}"),
            Some(
                json!({ "ratings": [{ "layer": "street", "score": (n % 100) as f64, "raters": 5 }] }),
            ),
            None,
        ),
        "/api/assess/{year}/lists/{community}" => (
            format!("/api/assess/2024/lists/{C}"),
            Some(json!({ "projects": [format!("项目{n}")] })),
            None,
        ),
        "/api/assess/{year}/pledges/{person}" => (
            format!("/api/assess/2024/pledges/{}", o.person),
            Some(
                json!({ "community_code": C, "pledges": [{ "kind": "annual", "target": format!("目标{n}"), "annual": "met" }] }),
            ),
            None,
        ),
        "/api/assess/{year}/units/{code}" => {
            let code = format!("AU{n}");
            let body = json!({ "name": "市自来水公司", "community_code": C, "registered_on": "2020-05-01" });
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/party/units/{code}"),
                    Some(&body),
                    None,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            (
                format!("/api/assess/2024/units/{code}"),
                Some(json!({ "score": 88.0, "note": "积极" })),
                None,
            )
        }
        "/api/assess/{year}/dual-members/{person}" => {
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/party/dual-members/{}", o.person),
                    Some(&json!({ "registered_on": "2021-03-01" })),
                    None,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            (
                format!("/api/assess/2024/dual-members/{}", o.person),
                Some(json!({ "ratings": [{ "by": "community", "score": (n % 100) as f64 }] })),
                None,
            )
        }
        "/api/assess/{year}/projects/{code}" => {
            let code = format!("AP{n}");
            let body = json!({ "name": "社区清洁日", "community_code": C, "year": 2024 });
            let (st, _, b) = admin
                .send(
                    Method::PUT,
                    &format!("/api/party/projects/{code}"),
                    Some(&body),
                    None,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            (
                format!("/api/assess/2024/projects/{code}"),
                Some(json!({ "completed_on": "2024-06-01" })),
                None,
            )
        }
        "/ogc" | "/ogc/api" | "/ogc/conformance" | "/ogc/collections" => {
            (row.route.to_string(), None, None)
        }
        "/ogc/collections/{id}" => ("/ogc/collections/grids2".into(), None, None),
        "/ogc/collections/{id}/queryables" => {
            ("/ogc/collections/grids2/queryables".into(), None, None)
        }
        "/ogc/collections/{id}/items" => (
            "/ogc/collections/grids2/items?limit=1000".into(),
            None,
            None,
        ),
        "/ogc/collections/{id}/items/{feature}" => {
            let (_, grid) = admin.get(&format!("/api/grids/{}", o.l2)).await;
            (
                format!("/ogc/collections/grids2/items/{}", grid["id"]),
                None,
                None,
            )
        }
        other => panic!("the matrix has no request for {} {other}", row.method),
    };
    let mut req = client.raw(row.method.clone(), &path);
    if let Some(b) = &body {
        req = req.json(b);
    }
    if let Some(m) = &if_match {
        req = req.header("If-Match", m);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The marker of the object in a list answer.
fn marker(route: &str, who: Who) -> String {
    let o = if who.inside()
        || matches!(
            who,
            Who::AdminOut | Who::PlannerOut | Who::ViewerOut | Who::Anonymous
        ) {
        inside_obj()
    } else {
        outside_obj()
    };
    match route {
        "/api/communities" => format!("\"code\":\"{C}\""),
        "/api/grids" => format!("\"code\":\"{}\"", o.l2),
        "/api/buildings" => format!("\"code\":\"{}\"", o.building),
        "/api/stations" => "\"code\":\"S1\"".into(),
        "/api/accounts" => "\"username\":\"chief\"".into(),
        "/api/audit" => "\"entity_key\":\"chief\"".into(),
        "/api/search" => format!("\"code\":\"{}\"", o.building),
        "/api/coverage" => format!("\"code\":\"{}\"", o.l2),
        "/api/coverage/buildings" => format!("\"code\":\"{}\"", o.building),
        "/api/coverage/report" => format!(",{},", o.l2),
        "/api/patrols" => format!("\"id\":\"{}\"", seed().patrols[patrol_side(&o).0]),
        "/api/incidents" => format!("\"id\":\"{}\"", seed().incidents[patrol_side(&o).0]),
        "/api/compliance" | "/api/incidents/counts" => format!("\"grid\":\"{}\"", o.l2),
        // Grids that missed last week's patrol: the seeded patrols are this week's (or,
        // just after midnight on a Monday, last week's), so look at the grid beside.
        "/api/compliance/overdue" => format!("\"grid\":\"{}2\"", &o.l2[..o.l2.len() - 1]),
        "/api/compliance/summary" => format!("\"key\":\"{C}\""),
        "/api/compliance/export" | "/api/incidents/report" => format!(",{},", o.l2),
        "/api/party/cells" | "/api/party/findings" => format!("\"code\":\"{}\"", o.l2),
        "/api/party/orgs" => format!("\"code\":\"{}-XZ\"", o.l2),
        "/api/assess/{year}" | "/api/assess/{year}/scorecard" => format!("\"code\":\"{C}\""),
        "/ogc/collections/{id}/items" => format!("\"code\":\"{}\"", o.l2),
        other => panic!("no list marker for {other}"),
    }
}

#[tokio::test]
async fn every_route_every_role_in_and_out_of_scope() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    seed_patrols(&s, &db).await;
    // The matrix covers every route there is: a new route must be added to it.
    let declared: BTreeSet<(String, String)> = wangge::http::api()
        .rules()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p))
        .collect();
    let covered: BTreeSet<(String, String)> = rows()
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    assert_eq!(declared, covered, "routes and the access matrix differ");
    // POST /api/grids is exercised with a grid that would break the partition: allowed
    // callers get 422, refused ones 401/403.
    let mut failures = vec![];
    let mut n = 0;
    for who in Who::ALL {
        let client = match who.username() {
            Some(u) => s.sign_in(u).await,
            None => s.anonymous(),
        };
        for row in rows() {
            n += 1;
            let expect = row.expect[who.col()];
            let (status, text) = if row.route == "/api/grids" && row.method == Method::POST {
                let o = if who.inside() {
                    inside_obj()
                } else {
                    outside_obj()
                };
                let body = feature(
                    rect(105.70, 32.40, 105.705, 32.405),
                    json!({ "code": format!("{}99", o.l1), "name": "新分格", "level": 2, "parent_code": o.l1 }),
                );
                let r = client
                    .raw(Method::POST, "/api/grids")
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let st = r.status().as_u16();
                (st, r.text().await.unwrap_or_default())
            } else if row.route == "/api/auth/logout" {
                // Sign out a session of its own, so the matrix's session stays valid.
                let c = match who.username() {
                    Some(u) => s.sign_in(u).await,
                    None => s.anonymous(),
                };
                call(&s, &c, &row, who, n).await
            } else {
                call(&s, &client, &row, who, n).await
            };
            let ok = match expect {
                // Allowed writes must also have been well formed: the matrix sends valid bodies.
                A => !denied(status) && status != 400 && status != 415 && status < 500,
                D => denied(status),
                In | Out => {
                    if denied(status) {
                        false
                    } else {
                        text.contains(&marker(row.route, who)) == (expect == In)
                    }
                }
            };
            if !ok {
                failures.push(format!(
                    "{who:?} {} {}: expected {expect:?}, got {status}: {}",
                    row.method,
                    row.route,
                    text.chars().take(200).collect::<String>()
                ));
            }
            assert!(
                status < 500,
                "{who:?} {} {} gave {status}: {text}",
                row.method,
                row.route
            );
            // No personal data to anyone but admins and chiefs in their own grids; no party
            // data to patrol staff.
            let sees_personal = matches!(who, Who::Admin | Who::Chief);
            if !sees_personal && row.route != "/api/auth/login" {
                for p in PERSONAL {
                    assert!(
                        !text.contains(p),
                        "{who:?} {} {} leaked {p}: {text}",
                        row.method,
                        row.route
                    );
                }
            }
            if matches!(who, Who::Chief | Who::ChiefOut) && row.method == Method::GET {
                // The chief of grid C01 never sees residents of C02 or of the other community.
                for p in ["李娜", "刘洋", "13800000003", "13800000004"] {
                    assert!(!text.contains(p), "chief saw {p} via {}: {text}", row.route);
                }
            }
            if matches!(who, Who::Patrol | Who::PatrolOut) {
                for p in PARTY {
                    assert!(
                        !text.contains(p),
                        "patrol saw party data {p} via {}: {text}",
                        row.route
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_route_without_a_rule_is_closed() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let api = wangge::http::api().with_unruled(
        axum::Router::new().route("/api/unruled", axum::routing::get(|| async { "secret" })),
    );
    let router = wangge::http::finish(api, s.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/unruled"))
        .bearer_auth(s.token.clone().expect("admin token"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "no_rule");
    // The same server still serves ruled routes.
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/grids"))
        .bearer_auth(s.token.clone().expect("admin token"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn sign_in_is_throttled_and_says_nothing_about_accounts() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| {
        c.login_delay_scale = 0.2;
        c.trusted_proxies = vec![wangge::config::IpBlock::parse("127.0.0.1").expect("ip")];
    })
    .await;
    load_fixture(&mut s).await;
    let anon = s.anonymous();
    let attempt = |user: &'static str, pw: &'static str| {
        let anon = anon.clone();
        async move {
            let t = Instant::now();
            let (st, _, b) = anon
                .send(
                    Method::POST,
                    "/api/auth/login",
                    Some(&json!({ "username": user, "password": pw, "token": true })),
                    None,
                )
                .await;
            (st, b, t.elapsed())
        }
    };
    // A wrong password and an unknown account get the same answer.
    let (st1, b1, _) = attempt("viewer", "wrong password 1").await;
    let (st2, b2, _) = attempt("nobody-here", "wrong password 1").await;
    assert_eq!((st1, st2), (401, 401));
    assert_eq!(b1, b2);
    // Failures of the account from this address add up: after 3, each attempt waits longer
    // (0.2 × 0.5 s, 1 s, 2 s, 4 s here), and from 10 on the account is locked for it.
    let mut waits = vec![];
    let mut locked_at = None;
    for i in 0..12 {
        let (st, b, took) = attempt("viewer", "wrong password 2").await;
        if st == 429 {
            assert_eq!(b["error"], "locked");
            locked_at = Some(i);
            break;
        }
        assert_eq!(st, 401);
        waits.push(took);
    }
    assert_eq!(
        locked_at,
        Some(9),
        "locked after 10 failures of the account from this address (1 before the loop)"
    );
    assert!(
        waits[6] >= Duration::from_millis(790),
        "the 8th failure waited only {:?}",
        waits[6]
    );
    assert!(waits[6] > waits[0] * 3, "no slow-down: {waits:?}");
    // While locked, even the right password is refused from this address.
    let (st, _, _) = attempt("viewer", PASSWORD).await;
    assert_eq!(st, 429);
    // Another account from the same address is not affected.
    let (st, _, _) = attempt("planner", PASSWORD).await;
    assert_eq!(st, 200);
    // The owner, from another address, is let in: the lock is per account and address
    // (this test's server trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the client).
    let from = |ip: &'static str, pw: &'static str| {
        anon.raw(Method::POST, "/api/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": "viewer", "password": pw, "token": true }))
            .send()
    };
    let r = from("203.0.113.9", PASSWORD).await.expect("login");
    assert_eq!(r.status().as_u16(), 200, "the owner from elsewhere");
    let r = from("127.0.0.1", PASSWORD).await.expect("login");
    assert_eq!(
        r.status().as_u16(),
        429,
        "still locked from the attacker's address"
    );
}

#[tokio::test]
async fn sessions_expire_and_are_revoked() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.session_ttl_s = 2).await;
    load_fixture(&mut s).await;
    let viewer = s.sign_in("viewer").await;
    assert_eq!(viewer.get("/api/auth/me").await.0, 200);
    tokio::time::sleep(Duration::from_millis(7_100)).await;
    assert_eq!(
        viewer.get("/api/auth/me").await.0,
        401,
        "expired after 2 s (plus the 5 s session cache)"
    );

    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    // Logout revokes at once.
    let v = s.sign_in("viewer").await;
    assert_eq!(v.get("/api/grids").await.0, 200);
    assert_eq!(
        v.send(Method::POST, "/api/auth/logout", None, None).await.0,
        204
    );
    assert_eq!(v.get("/api/grids").await.0, 401);
    // Tokens are stored hashed.
    let token = s.sign_in("planner").await.token.expect("token");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE token_hash = convert_to($1, 'UTF8')",
    )
    .bind(&token)
    .fetch_one(&db.pool().await)
    .await
    .expect("query");
    assert_eq!(stored, 0);
    // A new password or disabling signs the account out everywhere.
    let p = s.sign_in("planner").await;
    let (st, _, b) = s
        .send(
            Method::PUT,
            "/api/accounts/planner",
            Some(&json!({ "password": "another long password" })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(p.get("/api/grids").await.0, 401);
    let v = s.sign_in("viewer").await;
    let (st, _, _) = s
        .send(
            Method::PUT,
            "/api/accounts/viewer",
            Some(&json!({ "disabled": true })),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v.get("/api/grids").await.0, 401);
    let (st, _, _) = s
        .anonymous()
        .send(
            Method::POST,
            "/api/auth/login",
            Some(&json!({ "username": "viewer", "password": PASSWORD })),
            None,
        )
        .await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_and_responses_carry_security_headers() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.body_limit = 1024 * 1024).await;
    load_fixture(&mut s).await;
    let jar = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let r = jar
        .post(format!("{}/api/auth/login", s.base))
        .json(&json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 200);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("wangge_session=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Strict")));
    let body: Value = r.json().await.expect("json");
    assert!(
        body.get("token").is_none(),
        "a cookie sign-in does not hand the token to scripts"
    );
    let csrf = body["csrf_token"].as_str().expect("csrf token").to_string();
    let r = jar
        .get(format!("{}/api/grids", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 200);
    for h in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(r.headers().contains_key(h), "missing {h}");
    }
    let station = feature(
        json!({ "type": "Point", "coordinates": [105.704, 32.403] }),
        json!({ "name": "便民服务站", "kind": "convenience" }),
    );
    let r = jar
        .put(format!("{}/api/stations/CS1", s.base))
        .json(&station)
        .send()
        .await
        .expect("put");
    let status = r.status().as_u16();
    assert_eq!(status, 403, "{:?}", r.text().await);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "csrf");
    let r = jar
        .put(format!("{}/api/stations/CS1", s.base))
        .header("x-csrf-token", "forged")
        .json(&station)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 403);
    let r = jar
        .put(format!("{}/api/stations/CS1", s.base))
        .header("x-csrf-token", &csrf)
        .json(&station)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    // A body over the limit is refused with a JSON 413.
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = s
        .raw(Method::POST, "/api/grids/batch")
        .header("content-type", "application/json")
        .body(format!("{{\"changes\":[\"{huge}\"]}}"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "too_large");
}

#[tokio::test]
async fn every_kind_of_change_is_audited_and_the_log_is_append_only() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let code = format!("{C}0202");
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&feature(Value::Null, json!({ "name": "审计网格" }))),
            Some("\"1\""),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _, b) = s
        .send(Method::PUT, "/api/people/P2", Some(&json!({ "building_code": "B00", "name": "王芳", "phone": "13900000000", "membership": "none" })), None)
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}/staff"),
            Some(&json!({ "chief": { "code": "ST9", "name": "孙网格" } })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _, b) = s
        .send(
            Method::PUT,
            "/api/stations/S9",
            Some(&feature(
                json!({ "type": "Point", "coordinates": [105.716, 32.406] }),
                json!({ "name": "助老站", "kind": "elderly_care" }),
            )),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _, b) = s
        .send(Method::POST, "/api/accounts", Some(&json!({ "username": "auditor", "display_name": "审计", "role": "viewer", "scope": { "kind": "region", "region": "510802102" } })), None)
        .await;
    assert_eq!(st, 201, "{b}");
    assert!(
        b["password"].as_str().is_some_and(|p| p.len() >= 10),
        "a generated password is returned once"
    );
    let (_, log) = s.get("/api/audit?limit=50").await;
    let entries = log["entries"].as_array().expect("entries");
    let find = |entity: &str, key: &str| {
        entries
            .iter()
            .find(|e| e["entity"] == entity && e["entity_key"] == key && e["actor"] == "admin")
            .cloned()
            .unwrap_or_else(|| panic!("no audit entry for {entity} {key}: {log}"))
    };
    let g = find("grid", &code);
    assert_eq!(g["before"]["name"], "第2网格第2分格");
    assert_eq!(g["after"]["name"], "审计网格");
    let p = find("person", "P2");
    assert_eq!(p["before"]["phone"], "13800000002");
    assert_eq!(p["after"]["phone"], "13900000000");
    let st_ = find("staff", &code);
    assert_eq!(st_["after"][0]["code"], "ST9");
    let station = find("station", "S9");
    assert!(station["before"].is_null() && station["after"]["kind"] == "elderly_care");
    let acct = find("account", "auditor");
    assert!(
        !acct.to_string().contains("argon2"),
        "no password hash in the log"
    );
    // The outsider's region sees none of it.
    let outsider = s.sign_in("outsider").await;
    let (_, log) = outsider.get("/api/audit").await;
    assert!(!log.to_string().contains("审计网格"));
    // The log refuses edits even from the database owner.
    let pool = db.pool().await;
    let e = sqlx::query("UPDATE audit_log SET actor = 'x'")
        .execute(&pool)
        .await;
    assert!(e.is_err());
    let e = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(e.is_err());
}
