//! Issue 14, privacy of staff: nothing a viewer or a patrol account can reach carries a
//! personal phone number (a resident's, or a grid chief's or member's own) or a resident's
//! name. The scan signs in as a viewer of the demo district's town, and as patrol staff of
//! one grid who has sent a patrol and an incident with a photo, and walks every GET route
//! of the route table (`wangge::http::api`) the account's role passes, its path parameters
//! filled from the demo data; every tile layer (`wangge::maptiles::LAYERS`) at several
//! zooms over the district, its properties decoded; CSV and XLSX exports; and the web app's
//! page. A route added to the table that these roles may call and that the scan does not
//! know how to fill fails the test, so none is forgotten. The same scan run on an
//! administrator's answers must find personal numbers and names, so a scan that finds
//! nothing proves something.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use uuid::Uuid;
use wangge::domain::access::{allows, Role, Rule, ScopeKind};
use wangge::domain::stations::StationKind;
use wangge::spatial::tiles::{decode_tile, tiles_covering};

/// The demo's town (all six communities): the viewer's scope.
const TOWN: &str = "510802102";
/// A first-level grid of the demo, for the administrator's answers.
const GRID: &str = "51080210200101";
/// The patrol account's grid (second level, in `GRID`).
const PATROL_GRID: &str = "5108021020010101";

/// Routes a viewer's role passes whose every answer is beyond counts (households'
/// addresses): each grid refuses the viewer.
const COUNTS_ONLY: [&str; 1] = ["/api/grids/{code}/households"];

/// The collections of the OGC routes.
const OGC_COLLECTIONS: [&str; 10] = [
    "communities",
    "grids1",
    "grids2",
    "compounds",
    "buildings",
    "stations",
    "incidents",
    "streets",
    "party_cells",
    "patrol_tracks",
];

/// Personal data that must not reach a viewer: every personal phone number (residents'
/// and staff's own) and every resident's name that can be told apart from public text.
struct Secrets {
    /// Personal phone numbers, as digits.
    phones: HashSet<String>,
    /// Residents' names.
    names: HashSet<String>,
    /// The shortest and longest name, in characters.
    name_chars: (usize, usize),
}

/// Public text of the registry: place names and addresses, stations, streets, and staff
/// names (posted on the grids' notice boards).
const PUBLIC_TEXT: &str = "SELECT name FROM regions UNION SELECT name FROM communities \
     UNION SELECT name FROM grid_versions UNION SELECT name FROM compounds \
     UNION SELECT name FROM buildings WHERE name IS NOT NULL \
     UNION SELECT address FROM buildings WHERE address IS NOT NULL \
     UNION SELECT name FROM stations UNION SELECT address FROM stations WHERE address IS NOT NULL \
     UNION SELECT name FROM network_edges WHERE name IS NOT NULL UNION SELECT name FROM staff";

impl Secrets {
    /// Reads them from the database. A resident's name is left out when it is also a
    /// staff member's name (public on the notice board) or a piece of a public text (a
    /// name such as 石盘 inside 石盘街 cannot be told from the street, nor 付刚 from the
    /// chief 付刚伟): what is left is personal wherever it shows.
    async fn load(pool: &PgPool) -> Self {
        let phones: HashSet<String> = sqlx::query_scalar(
            "SELECT phone FROM person_details WHERE phone IS NOT NULL \
             UNION SELECT phone FROM staff WHERE phone IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .expect("personal phones")
        .into_iter()
        .collect();
        let staff: HashSet<String> = sqlx::query_scalar("SELECT name FROM staff")
            .fetch_all(pool)
            .await
            .expect("staff names")
            .into_iter()
            .collect();
        let residents: HashSet<String> =
            sqlx::query_scalar("SELECT DISTINCT name FROM person_details")
                .fetch_all(pool)
                .await
                .expect("residents' names")
                .into_iter()
                .collect();
        let longest = residents
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let public: Vec<String> = sqlx::query_scalar(PUBLIC_TEXT)
            .fetch_all(pool)
            .await
            .expect("public text");
        let mut pieces = HashSet::new();
        for t in &public {
            pieces.extend(pieces_of(t, 1, longest));
        }
        let names: HashSet<String> = residents
            .into_iter()
            .filter(|n| !staff.contains(n) && !pieces.contains(n))
            .collect();
        let chars = names.iter().map(|n| n.chars().count());
        let name_chars = (chars.clone().min().unwrap_or(1), chars.max().unwrap_or(0));
        Self {
            phones,
            names,
            name_chars,
        }
    }

    /// The personal phone numbers and names found in a text. A phone number counts when
    /// a run of digits is exactly someone's number; a name wherever its characters stand
    /// together.
    fn found(&self, text: &str) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() >= 7 && self.phones.contains(*run))
            .map(String::from)
            .collect();
        let (short, long) = self.name_chars;
        out.extend(
            pieces_of(text, short, long)
                .into_iter()
                .filter(|p| self.names.contains(p)),
        );
        out
    }
}

/// Every run of `short` to `long` consecutive characters of a text that holds no ASCII (a
/// name is written in Chinese characters).
fn pieces_of(text: &str, short: usize, long: usize) -> HashSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = HashSet::new();
    for start in 0..chars.len() {
        if chars[start].is_ascii() {
            continue;
        }
        for len in short.max(1)..=long {
            let Some(piece) = chars.get(start..start + len) else {
                break;
            };
            if piece.last().is_some_and(char::is_ascii) {
                break;
            }
            out.insert(piece.iter().collect());
        }
    }
    out
}

/// What the demo holds that path and query parameters are filled from.
struct Demo {
    /// Every community code.
    communities: Vec<String>,
    /// Every grid code (first and second level), with a point inside the grid.
    grids: Vec<(String, f64, f64)>,
    /// Every station code, one per kind first.
    stations: Vec<String>,
    /// In every second-level grid, the building with the most households and the first by
    /// code (the one the patrol account visits), for the building panel's route.
    buildings: Vec<String>,
    /// Some residents' names and personal numbers, asked for by search.
    lookups: Vec<String>,
    /// The district's extent.
    bbox: (f64, f64, f64, f64),
    /// The patrol, incident and photo the patrol account made.
    made: Option<Made>,
}

/// What the patrol account sends before the walk, so routes of one patrol or incident
/// have something to show.
#[derive(Clone, Copy)]
struct Made {
    /// A whole patrol.
    patrol: Uuid,
    /// An incident it reported.
    incident: Uuid,
    /// The incident's photo.
    photo: Uuid,
}

impl Demo {
    async fn load(pool: &PgPool) -> Self {
        let communities = sqlx::query_scalar("SELECT code FROM communities ORDER BY code")
            .fetch_all(pool)
            .await
            .expect("communities");
        let grids: Vec<(String, f64, f64)> = sqlx::query_as(
            "SELECT code, ST_X(p), ST_Y(p) FROM current_grids, ST_PointOnSurface(geom) p ORDER BY code",
        )
        .fetch_all(pool)
        .await
        .expect("grids");
        let stations = sqlx::query_scalar(
            "SELECT code FROM stations ORDER BY row_number() OVER (PARTITION BY kind ORDER BY code), code",
        )
        .fetch_all(pool)
        .await
        .expect("stations");
        let buildings = sqlx::query_scalar(
            "SELECT code FROM (SELECT code, \
               row_number() OVER (PARTITION BY grid_id ORDER BY code) AS first, \
               row_number() OVER (PARTITION BY grid_id ORDER BY households DESC, code) AS biggest \
             FROM buildings) b WHERE first = 1 OR biggest = 1 ORDER BY code",
        )
        .fetch_all(pool)
        .await
        .expect("buildings");
        let lookups: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT d.name, d.phone FROM person_details d JOIN people p ON p.id = d.person_id \
             ORDER BY p.code LIMIT 5",
        )
        .fetch_all(pool)
        .await
        .expect("residents");
        let bbox: (f64, f64, f64, f64) = sqlx::query_as(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) \
             FROM (SELECT ST_Extent(geom)::geometry e FROM buildings) b",
        )
        .fetch_one(pool)
        .await
        .expect("extent");
        Self {
            communities,
            grids,
            stations,
            buildings,
            lookups: lookups
                .into_iter()
                .flat_map(|(n, p)| [Some(n), p])
                .flatten()
                .collect(),
            bbox,
            made: None,
        }
    }

    fn bbox_param(&self) -> String {
        let (x0, y0, x1, y1) = self.bbox;
        format!("{x0},{y0},{x1},{y1}")
    }

    /// The requests made of one GET route of the table. A route this does not know fails
    /// the test: the scan must be taught how to fill it.
    fn urls(&self, route: &str) -> Vec<String> {
        let made = || self.made.expect("the patrol account's patrol and incident");
        let bbox = self.bbox_param();
        let grids = || self.grids.iter().map(|(c, _, _)| c.as_str());
        let kinds = StationKind::ALL.map(StationKind::as_str);
        match route {
            "/api/health" | "/api/health/ready" | "/config.json" | "/api/auth/me" => {
                vec![route.to_string()]
            }
            "/api/search" => ["网格", "社区", "号", "栋", TOWN]
                .into_iter()
                .map(String::from)
                .chain(grids().map(String::from))
                .chain(self.communities.iter().cloned())
                .chain(self.lookups.iter().cloned())
                .map(|q| format!("{route}?q={q}&limit=50"))
                .collect(),
            "/api/locate" => self
                .grids
                .iter()
                .map(|(_, x, y)| format!("{route}?lon={x}&lat={y}"))
                .collect(),
            "/api/communities" | "/api/stations" => std::iter::once(route.to_string())
                .chain(
                    self.communities
                        .iter()
                        .map(|c| format!("{route}?community={c}")),
                )
                .collect(),
            "/api/grids" => [
                String::new(),
                "?level=1".into(),
                "?level=2".into(),
                format!("?bbox={bbox}"),
            ]
            .into_iter()
            .chain(self.communities.iter().map(|c| format!("?community={c}")))
            .map(|q| format!("{route}{q}"))
            .collect(),
            "/api/grids/{code}" | "/api/grids/{code}/history" | "/api/grids/{code}/households" => {
                grids().map(|c| route.replace("{code}", c)).collect()
            }
            "/api/buildings" => std::iter::once(format!("{route}?bbox={bbox}"))
                .chain(
                    self.communities
                        .iter()
                        .map(|c| format!("{route}?community={c}")),
                )
                .chain(grids().map(|g| format!("{route}?grid={g}")))
                .collect(),
            "/api/buildings/{code}" => self
                .buildings
                .iter()
                .map(|b| route.replace("{code}", b))
                .collect(),
            "/api/stations/{code}" => self
                .stations
                .iter()
                .map(|c| route.replace("{code}", c))
                .collect(),
            "/api/coverage" | "/api/coverage/buildings" | "/api/coverage/report" => {
                let scopes = self
                    .communities
                    .iter()
                    .map(|c| format!("&scope={c}"))
                    .chain([String::new()]);
                let mut out = vec![];
                for s in scopes {
                    out.push(format!("{route}?minutes=10{s}"));
                    out.push(format!("{route}?kind=clinic&minutes=5{s}"));
                }
                if route.ends_with("report") {
                    out.push(format!("{route}?minutes=10&format=xlsx"));
                    out.push(format!("{route}?kinds={}&format=xlsx", kinds.join(",")));
                }
                if route == "/api/coverage" {
                    out.extend(kinds.iter().map(|k| format!("{route}?kind={k}")));
                }
                out
            }
            "/api/coverage/isochrone" => self
                .stations
                .iter()
                .take(kinds.len())
                .map(|s| format!("{route}?station={s}&minutes=10"))
                .collect(),
            "/tiles/{file}" => wangge::maptiles::LAYERS
                .iter()
                .map(|(l, _)| format!("/tiles/{l}.json"))
                .collect(),
            "/tiles/{layer}/{z}/{x}/{y}" => {
                let (x0, y0, x1, y1) = self.bbox;
                let area =
                    geo::Rect::new(geo::coord! { x: x0, y: y0 }, geo::coord! { x: x1, y: y1 });
                let mut out = vec![];
                for (layer, from) in wangge::maptiles::LAYERS {
                    for z in [from, 14, 16] {
                        for t in tiles_covering(area, z as u8).expect("tiles") {
                            out.push(format!("/tiles/{layer}/{}/{}/{}.mvt", t.z(), t.x(), t.y()));
                        }
                    }
                }
                out
            }
            "/api/patrols" | "/api/compliance" | "/api/compliance/overdue"
            | "/api/compliance/summary" | "/api/incidents" | "/api/incidents/counts" => {
                std::iter::once(route.to_string())
                    .chain(grids().map(|g| format!("{route}?grid={g}")))
                    .collect()
            }
            "/api/compliance/export" | "/api/incidents/report" => ["csv", "xlsx"]
                .map(|f| format!("{route}?format={f}"))
                .into(),
            "/api/patrols/{id}" | "/api/patrols/{id}/chunks" => {
                vec![route.replace("{id}", &made().patrol.to_string())]
            }
            "/api/incidents/{id}" | "/api/incidents/{id}/next" => {
                vec![route.replace("{id}", &made().incident.to_string())]
            }
            "/api/incidents/{id}/photos/{photo}" => vec![route
                .replace("{id}", &made().incident.to_string())
                .replace("{photo}", &made().photo.to_string())],
            "/api/assess/{year}" | "/api/assess/{year}/settings" => ["2024", "2025", "2026"]
                .map(|y| route.replace("{year}", y))
                .into(),
            "/api/assess/{year}/scorecard" => ["community", "grid"]
                .map(|by| format!("{}?by={by}", route.replace("{year}", "2024")))
                .into(),
            "/api/assess/{year}/export" => vec![format!(
                "{}?format=xlsx",
                route.replace("{year}", "2024")
            )],
            "/api/assess/{year}/print/{community}" => self
                .communities
                .iter()
                .map(|c| route.replace("{year}", "2024").replace("{community}", c))
                .collect(),
            // OGC API - Features (issue 16): every collection, whole and by feature.
            "/ogc" | "/ogc/api" | "/ogc/conformance" | "/ogc/collections" => {
                vec![route.to_string()]
            }
            "/ogc/collections/{id}"
            | "/ogc/collections/{id}/queryables"
            | "/ogc/collections/{id}/items" => OGC_COLLECTIONS
                .iter()
                .map(|c| route.replace("{id}", c) + if route.ends_with("items") { "?limit=10000" } else { "" })
                .collect(),
            "/ogc/collections/{id}/items/{feature}" => OGC_COLLECTIONS
                .iter()
                .flat_map(|c| (1..=5).map(move |i| format!("/ogc/collections/{c}/items/{i}")))
                .chain(std::iter::once(format!(
                    "/ogc/collections/incidents/items/{}",
                    made().incident
                )))
                .collect(),
            other => panic!(
                "GET {other} is open to viewers or patrols, but the privacy scan does not know how to fill \
                 it: add it to Demo::urls in tests/privacy.rs"
            ),
        }
    }
}

/// One answer as text: the body as sent, and for JSON also as parsed (escapes undone);
/// the properties of a vector tile; the text of every part of an XLSX file.
fn text_of(path: &str, content_type: &str, bytes: &[u8]) -> String {
    if path.ends_with(".mvt") && !content_type.contains("json") {
        let mut text = String::new();
        for layer in decode_tile(bytes).expect("a valid tile") {
            for f in layer.features {
                for (k, v) in f.properties {
                    text.push_str(&format!("{k}={v:?};"));
                }
            }
        }
        return text;
    }
    if content_type.contains("spreadsheetml") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
        let mut text = String::new();
        for i in 0..zip.len() {
            let mut part = zip.by_index(i).expect("a part of the XLSX file");
            part.read_to_string(&mut text).expect("XML text");
        }
        return text;
    }
    let raw = String::from_utf8_lossy(bytes).into_owned();
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => format!("{raw}\n{v}"),
        Err(_) => raw,
    }
}

/// GETs a path and returns its status and its text.
async fn fetch(c: &Client, path: &str) -> (u16, String) {
    let r = c.raw(Method::GET, path).send().await.expect("request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = r.bytes().await.expect("body");
    (status, text_of(path, &content_type, &bytes))
}

/// Whether a role passes a route's rule.
fn passes(role: Role, rule: Rule) -> bool {
    match rule {
        Rule::Public | Rule::SignedIn => true,
        Rule::Allow(area, action) => allows(role, area, action),
    }
}

/// What one account's walk found: per route the requests made and those answered 200,
/// and every answer that held personal data.
#[derive(Default)]
struct Walked {
    answered: BTreeMap<String, (usize, usize)>,
    leaks: Vec<String>,
}

/// Walks every GET route of the table `role` passes, and the web app's page, scanning
/// each answer.
async fn walk(c: &Client, role: Role, demo: &Demo, secrets: &Secrets) -> Walked {
    let mut out = Walked::default();
    for (method, route, rule) in wangge::http::api().rules() {
        if method != Method::GET || !passes(role, rule) {
            continue;
        }
        for path in demo.urls(&route) {
            let (status, mut text) = fetch(c, &path).await;
            // A search answer repeats what was typed: that is not a leak.
            if let Some(q) = path
                .split_once("?q=")
                .and_then(|(_, q)| q.split('&').next())
            {
                text = text.replace(&format!("\"q\":\"{q}\""), "");
            }
            let seen = out.answered.entry(route.clone()).or_default();
            seen.0 += 1;
            seen.1 += usize::from(status == 200);
            let found = secrets.found(&text);
            if !found.is_empty() {
                out.leaks.push(format!("{path} ({status}): {found:?}"));
            }
        }
    }
    // The web app's page, and a link into it.
    for path in ["/", "/index.html", "/grids/51080210200101"] {
        let (status, text) = fetch(c, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(text.contains("wangge"), "{path} is the app's page: {text}");
        let found = secrets.found(&text);
        if !found.is_empty() {
            out.leaks.push(format!("{path}: {found:?}"));
        }
    }
    out
}

/// Links the patrol account to a grid member of its grid, and as that member sends a
/// whole patrol of the grid and reports an incident with a photo.
async fn patrol_sends(s: &TestServer, pool: &PgPool, demo: &Demo) -> Made {
    sqlx::query(
        "UPDATE accounts SET staff_id = (SELECT a.staff_id FROM staff_assignments a \
           JOIN current_grids g ON g.id = a.grid_id \
           WHERE g.code = $1 AND a.until IS NULL ORDER BY a.role DESC LIMIT 1) \
         WHERE username = 'patrol'",
    )
    .bind(PATROL_GRID)
    .execute(pool)
    .await
    .expect("link the patrol account to a grid member");
    let building: String = sqlx::query_scalar(
        "SELECT b.code FROM buildings b JOIN current_grids g ON g.id = b.grid_id \
         WHERE g.code = $1 ORDER BY b.code LIMIT 1",
    )
    .bind(PATROL_GRID)
    .fetch_one(pool)
    .await
    .expect("a building of the patrol's grid");
    let (_, x, y) = demo
        .grids
        .iter()
        .find(|(g, _, _)| g == PATROL_GRID)
        .expect("the patrol's grid")
        .clone();
    let p = s.sign_in("patrol").await;
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let track = patrols::walk((x - 3e-4, y - 3e-4, x + 3e-4, y + 3e-4), start, 60, 3);
    let body = patrols::whole(
        &[PATROL_GRID],
        &track,
        serde_json::json!([{ "building": building, "households": 1 }]),
    );
    let made = Made {
        patrol: Uuid::new_v4(),
        incident: Uuid::new_v4(),
        photo: Uuid::new_v4(),
    };
    let (st, _, b) = p
        .send(
            Method::PUT,
            &format!("/api/patrols/{}", made.patrol),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let report = serde_json::json!({ "category": "safety_hazard", "description": "楼道堆放杂物",
        "lon": x, "lat": y, "reported_at": (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339() });
    let (st, _, b) = p
        .send(
            Method::PUT,
            &format!("/api/incidents/{}", made.incident),
            Some(&report),
            None,
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let r = p
        .raw(
            Method::PUT,
            &format!("/api/incidents/{}/photos/{}", made.incident, made.photo),
        )
        .header("content-type", "application/octet-stream")
        .body(patrols::jpeg(1))
        .send()
        .await
        .expect("upload a photo");
    assert_eq!(r.status().as_u16(), 201, "the incident's photo");
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_a_viewer_or_a_patrol_reaches_holds_a_personal_phone_or_a_residents_name() {
    let db = TestDb::new(Template::Demo).await;
    let pool = db.pool().await;
    // The web app's page, as the server serves it (the source page when the app is not
    // built: the built one differs only in its script tags).
    let web = ["web/dist", "web"]
        .map(|d| root().join(d))
        .into_iter()
        .find(|d| d.join("index.html").exists())
        .expect("web/index.html");
    let mut s = TestServer::start_with(&db, |c| c.web_dir = web).await;
    use ScopeKind::*;
    s.add_account("admin", Role::Admin, "GYKFQ", Region, &[], &[])
        .await;
    s.add_account("viewer", Role::Viewer, TOWN, Region, &[], &[])
        .await;
    s.add_account("patrol", Role::Patrol, TOWN, Grids, &[], &[PATROL_GRID])
        .await;
    s.become_admin().await;
    s.wait_for_coverage().await;
    let secrets = Secrets::load(&pool).await;
    assert!(
        secrets.phones.len() > 50_000,
        "the demo's residents have phones"
    );
    assert!(
        secrets.names.len() > 5_000,
        "the demo's residents have names"
    );
    let mut demo = Demo::load(&pool).await;
    demo.made = Some(patrol_sends(&s, &pool, &demo).await);

    // The scan finds what it looks for: an administrator sees the grid's staff with their
    // own numbers, and its residents by name.
    for path in [
        format!("/api/grids/{GRID}"),
        format!("/api/grids/{GRID}/people"),
    ] {
        let (status, text) = fetch(&s.client, &path).await;
        assert_eq!(status, 200, "{path}");
        let found = secrets.found(&text);
        assert!(
            found.iter().any(|f| f.chars().all(|c| c.is_ascii_digit())),
            "the scan finds no personal phone in the admin's {path}: {}",
            text.chars().take(300).collect::<String>()
        );
        if path.ends_with("people") {
            assert!(
                found.iter().any(|f| !f.chars().all(|c| c.is_ascii_digit())),
                "the scan finds no resident's name in the admin's {path}"
            );
        }
    }

    for (who, role) in [("viewer", Role::Viewer), ("patrol", Role::Patrol)] {
        let c = s.sign_in(who).await;
        let walked = walk(&c, role, &demo, &secrets).await;
        assert!(
            walked.leaks.is_empty(),
            "the {who} reaches personal data:\n{}",
            walked.leaks.join("\n")
        );
        // Every route was walked, and each answered at least once, so what was scanned
        // is the data and not refusals; except, for a viewer, the routes that show more
        // than counts, which refuse it every grid.
        let refused: &[&str] = if role == Role::Viewer {
            &COUNTS_ONLY
        } else {
            &[]
        };
        let unanswered: Vec<_> = walked
            .answered
            .iter()
            .filter(|(r, (_, ok))| (*ok == 0) != refused.contains(&r.as_str()))
            .collect();
        assert!(
            unanswered.is_empty(),
            "routes that never answered the {who} 200 (or answered, of {refused:?}): {unanswered:?}"
        );
        for route in ["/tiles/{layer}/{z}/{x}/{y}", "/api/grids/{code}"] {
            assert!(walked.answered.contains_key(route), "{who}: {route}");
        }
        if role == Role::Patrol {
            assert!(walked
                .answered
                .contains_key("/api/incidents/{id}/photos/{photo}"));
        }
    }
}
