//! The annual assessment (issue 15) against a real PostGIS: the scorecard's indicators
//! computed from patrols, visits and incidents seeded for a year and checked against values
//! worked out by hand, its coverage and findings against the routes that measure them, the
//! grades of 一述三评 at their thresholds, the ranking, the 双报到 circular and talk list,
//! who may enter and read what, bad input named with nothing written, the XLSX export read
//! back by GDAL and the printable page.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// The year assessed: a whole year in the past (52 weeks begin in it: Mondays 6 January to
/// 29 December 2025).
const YEAR: i32 = 2025;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a time")
        .with_timezone(&Utc)
}

async fn id_of(pool: &PgPool, sql: &str, code: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(code)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql} {code}: {e}"))
}

/// A complete patrol started at `t` counting `share` for `grid`, with visits.
/// One seeded patrol: start time, grid code suffix, share walked, complete, visits.
type Walk<'a> = (&'a str, &'a str, f64, bool, &'a [(&'a str, i32)]);

async fn patrol(
    pool: &PgPool,
    t: &str,
    grid: &str,
    share: f64,
    complete: bool,
    visits: &[(&str, i32)],
) {
    let account = id_of(pool, "SELECT id FROM accounts WHERE username = $1", "admin").await;
    let g = id_of(pool, "SELECT id FROM current_grids WHERE code = $1", grid).await;
    let id = Uuid::new_v4();
    let start = at(t);
    sqlx::query(
        "INSERT INTO patrols (id, account_id, started_at, ended_at, chunks, crs, body_hash, complete, track) \
         VALUES ($1, $2, $3, $4, 1, 'wgs84', '\\x00', $5, \
           ST_GeomFromText('LINESTRING(105.701 32.401, 105.702 32.402)', 4326))",
    )
    .bind(id)
    .bind(account)
    .bind(start)
    .bind(start + Duration::hours(1))
    .bind(complete)
    .execute(pool)
    .await
    .expect("patrol");
    sqlx::query("INSERT INTO patrol_grids (patrol_id, grid_id, length_inside_m, share_inside) VALUES ($1, $2, 100, $3)")
        .bind(id)
        .bind(g)
        .bind(share)
        .execute(pool)
        .await
        .expect("patrol grid");
    for (b, n) in visits {
        let b = id_of(pool, "SELECT id FROM buildings WHERE code = $1", b).await;
        sqlx::query(
            "INSERT INTO patrol_visits (patrol_id, building_id, households) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(b)
        .bind(n)
        .execute(pool)
        .await
        .expect("visit");
    }
}

/// An incident of `category` in `grid` reported at `t`, dealt with (`to`) `after` later.
async fn incident(
    pool: &PgPool,
    grid: &str,
    category: &str,
    t: &str,
    done: Option<(&str, Duration)>,
) {
    let account = id_of(pool, "SELECT id FROM accounts WHERE username = $1", "admin").await;
    let g = id_of(pool, "SELECT id FROM current_grids WHERE code = $1", grid).await;
    let id = Uuid::new_v4();
    let reported = at(t);
    let status = done.map_or("reported", |d| d.0);
    sqlx::query(
        "INSERT INTO incidents (id, grid_id, category, description, geom, crs, reported_at, account_id, \
           status, status_at, body_hash) \
         VALUES ($1, $2, $3, '问题', ST_SetSRID(ST_MakePoint(105.702, 32.402), 4326), 'wgs84', $4, $5, $6, $4, '\\x00')",
    )
    .bind(id)
    .bind(g)
    .bind(category)
    .bind(reported)
    .bind(account)
    .bind(status)
    .execute(pool)
    .await
    .expect("incident");
    if let Some((to, after)) = done {
        sqlx::query(
            "INSERT INTO incident_events (id, incident_id, step, from_status, to_status, at, actor, body_hash) \
             VALUES ($1, $2, 1, 'in_progress', $3, $4, 'admin', '\\x00')",
        )
        .bind(Uuid::new_v4())
        .bind(id)
        .bind(to)
        .bind(reported + after)
        .execute(pool)
        .await
        .expect("event");
    }
}

/// Patrols, visits and incidents of the fixture's community C for `YEAR`, worked out below.
async fn seed_measures(pool: &PgPool) {
    let c = |s: &str| format!("{C}{s}");
    // C0101: three weeks patrolled (one twice), B00 visited 4 then 12 households (10 live there).
    // Not counted: incomplete; in a week whose Monday is in 2024; below the 30 % share.
    // C0201: one week counted, B10 visited 5 households of 20.
    let patrols: [Walk; 8] = [
        ("2025-01-07T02:00:00Z", "0101", 0.9, true, &[("B00", 4)]),
        ("2025-01-09T02:00:00Z", "0101", 0.9, true, &[]),
        ("2025-03-11T02:00:00Z", "0101", 0.8, true, &[("B00", 12)]),
        ("2025-07-01T02:00:00Z", "0101", 0.5, true, &[]),
        ("2025-08-05T02:00:00Z", "0101", 0.9, false, &[("B01", 11)]),
        ("2024-12-31T02:00:00Z", "0101", 0.9, true, &[]),
        ("2025-09-02T02:00:00Z", "0201", 0.1, true, &[]),
        ("2025-10-07T02:00:00Z", "0201", 0.5, true, &[("B10", 5)]),
    ];
    for (t, grid, share, complete, visits) in patrols {
        patrol(pool, t, &c(grid), share, complete, visits).await;
    }
    // Incidents: C0101 a dispute resolved in 48 h (limit 72 h), a hazard resolved in 60 h
    // (limit 48 h), an environment case never dealt with; C0201 a request closed in a day;
    // one of 2024, not of the year.
    incident(
        pool,
        &c("0101"),
        "dispute",
        "2025-03-01T00:00:00Z",
        Some(("resolved", Duration::hours(48))),
    )
    .await;
    incident(
        pool,
        &c("0101"),
        "safety_hazard",
        "2025-04-01T00:00:00Z",
        Some(("resolved", Duration::hours(60))),
    )
    .await;
    incident(
        pool,
        &c("0102"),
        "environment",
        "2025-05-01T00:00:00Z",
        None,
    )
    .await;
    incident(
        pool,
        &c("0201"),
        "other",
        "2025-06-01T00:00:00Z",
        Some(("closed", Duration::hours(24))),
    )
    .await;
    incident(
        pool,
        &c("0201"),
        "dispute",
        "2024-06-01T00:00:00Z",
        Some(("resolved", Duration::hours(1))),
    )
    .await;
}

/// Two 双报到 units of C with a project each for `YEAR`, the first completed.
async fn seed_dual(s: &TestServer) {
    for (unit, project) in [("DU1", "DP1"), ("DU2", "DP2")] {
        let (st, _, b) = s
            .send(
                Method::PUT,
                &format!("/api/party/units/{unit}"),
                Some(&json!({ "name": format!("{unit}单位"), "community_code": C, "registered_on": "2020-05-01" })),
                None,
            )
            .await;
        assert_eq!(st, 200, "{b}");
        let (st, _, b) = s
            .send(
                Method::PUT,
                &format!("/api/party/projects/{project}"),
                Some(&json!({ "name": "关爱老人", "unit_code": unit, "community_code": C, "year": YEAR })),
                None,
            )
            .await;
        assert_eq!(st, 200, "{b}");
    }
    let put = |path: String, body: Value| async move {
        let (st, _, b) = s.send(Method::PUT, &path, Some(&body), None).await;
        assert_eq!(st, 200, "{path}: {b}");
    };
    put(
        format!("/api/assess/{YEAR}/projects/DP1"),
        json!({ "completed_on": "2025-09-30", "note": "已完成" }),
    )
    .await;
    put(
        format!("/api/assess/{YEAR}/units/DU1"),
        json!({ "score": 95.0 }),
    )
    .await;
    put(
        format!("/api/assess/{YEAR}/units/DU2"),
        json!({ "score": 50.0, "note": "参与少" }),
    )
    .await;
}

fn line<'a>(card: &'a Value, indicator: &str) -> &'a Value {
    card["indicators"]
        .as_array()
        .expect("indicators")
        .iter()
        .find(|l| l["indicator"] == indicator)
        .unwrap_or_else(|| panic!("no {indicator} in {card}"))
}

fn place<'a>(r: &'a Value, code: &str) -> &'a Value {
    r["places"]
        .as_array()
        .expect("places")
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {r}"))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The findings of `YEAR` per community as the party report counts them.
async fn findings_of(s: &TestServer, code: &str) -> f64 {
    let (st, r) = s.get(&format!("/api/party/report?year={YEAR}")).await;
    assert_eq!(st, 200, "{r}");
    let c = r["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .find(|c| c["code"] == code)
        .expect("the community");
    c["findings"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_f64).sum())
        .unwrap_or(0.0)
}

/// The mean over the nine 1+8 kinds of the community's residents covered, as
/// `/api/coverage` measures each kind.
async fn coverage_of(s: &TestServer, code: &str) -> f64 {
    let mut sum = 0.0;
    for k in wangge::domain::StationKind::ONE_PLUS_EIGHT {
        let (st, r) = s
            .get(&format!("/api/coverage?kind={}&minutes=10", k.as_str()))
            .await;
        assert_eq!(st, 200, "{r}");
        let c = r["communities"]
            .as_array()
            .expect("communities")
            .iter()
            .find(|c| c["code"] == code)
            .unwrap_or_else(|| panic!("{code} in {r}"));
        sum += 100.0 * f(&c["residents_covered"]) / f(&c["residents"]);
    }
    sum / 9.0
}

#[tokio::test]
async fn the_scorecard_measures_what_the_product_measures() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let pool = db.pool().await;
    seed_measures(&pool).await;
    seed_dual(&s).await;
    s.wait_for_coverage().await;
    let (st, r) = s.get(&format!("/api/assess/{YEAR}/scorecard")).await;
    assert_eq!(st, 200, "{r}");
    let c = place(&r, C);
    // Patrols: 4 second-level grids × 52 weeks; C0101 3 weeks, C0201 1.
    assert_eq!(c["measures"]["patrol"], json!({ "of": 4, "total": 208 }));
    assert_eq!(f(&line(c, "patrol")["score"]), round2(400.0 / 208.0));
    // Visits: B00 10 of 10 (12 capped), B10 5 of 20; households 10 + 11 + 20 + 21.
    assert_eq!(c["measures"]["visits"], json!({ "of": 15, "total": 62 }));
    assert_eq!(f(&line(c, "visits")["score"]), round2(1500.0 / 62.0));
    // Incidents of the year: the dispute and the request on time, of four.
    assert_eq!(c["measures"]["incidents"], json!({ "of": 2, "total": 4 }));
    assert_eq!(f(&line(c, "incidents")["score"]), 50.0);
    // 双报到: one unit of two completed a project.
    assert_eq!(c["measures"]["dual"], json!({ "of": 1, "total": 2 }));
    assert_eq!(f(&line(c, "dual")["score"]), 50.0);
    // Findings and coverage as the party report and the coverage route measure them.
    let findings = findings_of(&s, C).await;
    assert_eq!(f(&line(c, "findings")["value"]), findings);
    let findings_score = (100.0 - 5.0 * findings).max(0.0);
    assert_eq!(f(&line(c, "findings")["score"]), findings_score);
    let coverage = coverage_of(&s, C).await;
    assert_eq!(f(&line(c, "coverage")["score"]), round2(coverage));
    assert!(coverage > 0.0, "the party centre covers B00");
    // The total: the weighted mean of the six (weights 25, 20, 20, 15, 10, 10).
    let total = round2(
        (25.0 * round2(400.0 / 208.0)
            + 20.0 * round2(1500.0 / 62.0)
            + 20.0 * 50.0
            + 15.0 * round2(coverage)
            + 10.0 * findings_score
            + 10.0 * 50.0)
            / 100.0,
    );
    assert_eq!(f(&c["total"]), total);
    for l in c["indicators"].as_array().expect("lines") {
        assert!(l["source"].as_str().is_some_and(|s| !s.is_empty()), "{l}");
        assert!(l["weight"].as_f64().is_some(), "{l}");
    }
    // C2: no patrol of its 52 grid-weeks, none of its 5 households visited, no incident,
    // no unit: patrol, visits, coverage and findings count.
    let c2 = place(&r, C2);
    assert_eq!(c2["measures"]["patrol"], json!({ "of": 0, "total": 52 }));
    assert_eq!(line(c2, "incidents")["score"], Value::Null);
    assert_eq!(line(c2, "dual")["score"], Value::Null);
    let f2 = (100.0 - 5.0 * findings_of(&s, C2).await).max(0.0);
    let cov2 = round2(coverage_of(&s, C2).await);
    let total2 = round2((15.0 * cov2 + 10.0 * f2) / 70.0);
    assert_eq!(f(&c2["total"]), total2);
    // Ranked by total, highest first; `of` counts the ranked places.
    let (first, second) = if total >= total2 { (c, c2) } else { (c2, c) };
    assert_eq!(first["rank"], 1);
    assert_eq!(second["rank"], if total == total2 { 1 } else { 2 });
    assert_eq!(c["of"], 2);
    // Per first-level grid: C01 has 2 × 52 grid-weeks, 3 patrolled; B00 and B01's 21
    // households, 10 visited; three incidents, one on time.
    let (st, g) = s
        .get(&format!("/api/assess/{YEAR}/scorecard?by=grid"))
        .await;
    assert_eq!(st, 200, "{g}");
    let g1 = place(&g, &format!("{C}01"));
    assert_eq!(g1["measures"]["patrol"], json!({ "of": 3, "total": 104 }));
    assert_eq!(g1["measures"]["visits"], json!({ "of": 10, "total": 21 }));
    assert_eq!(g1["measures"]["incidents"], json!({ "of": 1, "total": 3 }));
    let g2 = place(&g, &format!("{C}02"));
    assert_eq!(g2["measures"]["incidents"], json!({ "of": 1, "total": 1 }));
    assert_eq!(g2["community_code"], C);
    // Heavier settings of a year change the weights and so the total.
    let mut settings = s.get(&format!("/api/assess/{YEAR}/settings")).await.1["defaults"].clone();
    settings["weight_patrol"] = json!(0.0);
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/assess/{YEAR}/settings"),
            Some(&settings),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (_, r) = s
        .get(&format!("/api/assess/{YEAR}/scorecard?community={C}"))
        .await;
    let reweighted = round2(
        (20.0 * round2(1500.0 / 62.0)
            + 20.0 * 50.0
            + 15.0 * round2(coverage)
            + 10.0 * findings_score
            + 10.0 * 50.0)
            / 75.0,
    );
    assert_eq!(f(&place(&r, C)["total"]), reweighted);
    assert_eq!(r["places"].as_array().map(Vec::len), Some(1));
}

/// Puts a body as `who`, returning status and answer.
async fn put(c: &Client, path: &str, body: Value) -> (u16, Value) {
    let (st, _, b) = c.send(Method::PUT, path, Some(&body), None).await;
    (st, b)
}

fn community<'a>(r: &'a Value, code: &str) -> &'a Value {
    r["communities"]
        .as_array()
        .expect("communities")
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {r}"))
}

#[tokio::test]
async fn grades_warnings_pledges_and_the_talk_list() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    seed_dual(&s).await;
    let admin = s.sign_in("admin").await;
    let y = |p: &str| format!("/api/assess/{YEAR}/{p}");
    // Nothing entered: every layer unrated and no report are warnings, no grade.
    let (_, r) = admin.get(&format!("/api/assess/{YEAR}")).await;
    let c = community(&r, C);
    assert_eq!(c["grade"], Value::Null);
    let reasons: Vec<&str> = c["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["no_report", "not_rated", "not_rated", "not_rated"]
    );
    // 0.3 × 92 + 0.4 × 85 + 0.3 × 88 = 88: 较好 under the defaults (好 from 90).
    let ratings = json!({ "ratings": [
        { "layer": "members", "score": 92.0, "raters": 40 },
        { "layer": "residents", "score": 85.0, "raters": 25 },
        { "layer": "street", "score": 88.0, "raters": 7 },
    ] });
    assert_eq!(
        put(&admin, &y(&format!("ratings/{C}")), ratings.clone())
            .await
            .0,
        200
    );
    let (st, b) = put(
        &admin,
        &y(&format!("reports/{C}")),
        json!({ "secretary": "张伟", "document": "2025年度述职报告全文", "summary": "完成三项重点工作", "reported_on": "2026-01-10" }),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let pledges = json!({ "community_code": C, "pledges": [
        { "kind": "term", "target": "完成小区改造", "term": "partly", "term_note": "进行中" },
        { "kind": "annual", "target": "新增志愿者50名", "annual": "not_met", "annual_note": "完成30名" },
        { "kind": "resignation", "target": "考评为差即辞职" },
        { "kind": "integrity", "target": "廉洁自律", "annual": "met" },
    ] });
    assert_eq!(put(&admin, &y("pledges/P1"), pledges).await.0, 200);
    let (_, r) = admin
        .get(&format!("/api/assess/{YEAR}?community={C}"))
        .await;
    let c = community(&r, C);
    assert_eq!(c["score"], 88.0);
    assert_eq!(c["grade"], "fair");
    assert_eq!(c["grade_name"], "较好");
    assert_eq!(c["report"]["secretary"], "张伟");
    assert_eq!(c["pledges"]["tally"]["annual"], json!([1, 0, 1, 2]));
    assert_eq!(c["pledges"]["tally"]["term"], json!([0, 1, 0, 3]));
    assert_eq!(c["pledges"]["members"][0]["name"], "张伟");
    let warnings = c["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{c}");
    assert_eq!(warnings[0]["reason"], "pledges_not_met");
    assert_eq!(warnings[0]["count"], 1);
    // At the threshold the grade changes: 好 from 88.
    let mut settings = admin.get(&y("settings")).await.1["defaults"].clone();
    settings["grade_good"] = json!(88.0);
    assert_eq!(put(&admin, &y("settings"), settings).await.0, 200);
    let (_, r) = admin.get(&format!("/api/assess/{YEAR}")).await;
    assert_eq!(community(&r, C)["grade_name"], "好");
    assert_eq!(r["settings_set"], true);
    // A low layer is a warning, and under 60 overall the grade is 差.
    let low = json!({ "ratings": [
        { "layer": "members", "score": 50.0, "raters": 40 },
        { "layer": "residents", "score": 60.0, "raters": 25 },
        { "layer": "street", "score": 55.0, "raters": 7 },
    ] });
    assert_eq!(put(&admin, &y(&format!("ratings/{C}")), low).await.0, 200);
    let (_, r) = admin.get(&format!("/api/assess/{YEAR}")).await;
    let c = community(&r, C);
    assert_eq!(c["grade_name"], "差");
    let reasons: Vec<&str> = c["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["layer_low", "layer_low", "poor_grade", "pledges_not_met"]
    );
    // The 双报到 circular: DU1 commended (95, completed), DU2 called in (50, nothing done).
    let units = c["units"].as_array().expect("units");
    assert_eq!(units[0]["code"], "DU1");
    assert_eq!(units[0]["standing"], "commended");
    let talk = c["talk"].as_array().expect("talk");
    assert_eq!(talk.len(), 1);
    assert_eq!(talk[0]["code"], "DU2");
    let why: Vec<&str> = talk[0]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|w| w["reason"].as_str())
        .collect();
    assert_eq!(why, ["rated_low", "no_project_completed"]);
    // Year-start lists are kept in order.
    let (st, b) = put(
        &admin,
        &y(&format!("lists/{C}")),
        json!({ "projects": ["关爱空巢老人", "清洁家园"], "posts": ["楼栋信息员"], "activities": ["三月学雷锋"] }),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (_, r) = admin.get(&format!("/api/assess/{YEAR}")).await;
    assert_eq!(
        community(&r, C)["lists"]["projects"],
        json!(["关爱空巢老人", "清洁家园"])
    );
    // The entries are audited.
    let (_, audit) = admin.get("/api/audit?limit=100").await;
    let text = audit.to_string();
    for entity in [
        "assess_ratings",
        "assess_report",
        "assess_pledges",
        "assess_settings",
    ] {
        assert!(text.contains(entity), "{entity} audited: {text}");
    }
}

#[tokio::test]
async fn who_enters_and_who_reads_and_bad_input_is_named() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let admin = s.sign_in("admin").await;
    let ratings_path = format!("/api/assess/{YEAR}/ratings/{C}");
    let good = json!({ "ratings": [{ "layer": "street", "score": 80.0, "raters": 5 }] });
    assert_eq!(put(&admin, &ratings_path, good.clone()).await.0, 200);
    assert_eq!(
        put(
            &admin,
            &format!("/api/assess/{YEAR}/pledges/P1"),
            json!({ "community_code": C, "pledges": [{ "kind": "annual", "target": "目标" }] })
        )
        .await
        .0,
        200
    );
    // Only administrators enter, within their region.
    for who in ["chief", "viewer", "planner", "patrol"] {
        let c = s.sign_in(who).await;
        let (st, b) = put(&c, &ratings_path, good.clone()).await;
        assert_eq!(st, 403, "{who}: {b}");
    }
    let (st, b) = put(&s.sign_in("outsider").await, &ratings_path, good.clone()).await;
    assert_eq!(st, 404, "another town's administrator: {b}");
    let defaults = admin.get(&format!("/api/assess/{YEAR}/settings")).await.1["defaults"].clone();
    let (st, b) = put(
        &s.sign_in("outsider").await,
        &format!("/api/assess/{YEAR}/settings"),
        defaults,
    )
    .await;
    assert_eq!(
        st, 403,
        "settings for every community, by another town's administrator: {b}"
    );
    // The community's own chief (of grid C01) and the town's viewer read it, without names;
    // the other town's viewer does not see it; planners and patrols are refused.
    for who in ["chief", "viewer"] {
        let (st, r) = s
            .sign_in(who)
            .await
            .get(&format!("/api/assess/{YEAR}"))
            .await;
        assert_eq!(st, 200, "{who}: {r}");
        let c = community(&r, C);
        assert_eq!(c["ratings"][0]["score"], 80.0, "{who}");
        assert_eq!(c["pledges"]["members"], Value::Null, "{who}");
        assert_eq!(c["pledges"]["tally"]["pledges"], 1, "{who}");
        assert!(!r.to_string().contains("张伟"), "{who} sees no name");
    }
    let (st, r) = s
        .sign_in("chief")
        .await
        .get(&format!("/api/assess/{YEAR}"))
        .await;
    assert_eq!(st, 200);
    assert!(
        r["communities"].as_array().is_some_and(|c| c.len() == 1),
        "a chief reads only the community of their grids: {r}"
    );
    let (st, r) = s
        .sign_in("viewer_out")
        .await
        .get(&format!("/api/assess/{YEAR}"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(r["communities"], json!([]));
    for who in ["planner", "patrol"] {
        let (st, _) = s
            .sign_in(who)
            .await
            .get(&format!("/api/assess/{YEAR}"))
            .await;
        assert_eq!(st, 403, "{who}");
    }
    let (st, _) = s
        .sign_in("viewer_out")
        .await
        .get(&format!("/api/assess/{YEAR}/print/{C}"))
        .await;
    assert_eq!(st, 404);
    // Bad input: a 422 naming the field, and nothing written.
    let cases = [
        (
            ratings_path.clone(),
            json!({ "ratings": [{ "layer": "street", "score": 120.0, "raters": 5 }] }),
            "ratings[0].score",
        ),
        (
            ratings_path.clone(),
            json!({ "ratings": [{ "layer": "boss", "score": 70.0, "raters": 5 }] }),
            "ratings[0].layer",
        ),
        (
            ratings_path.clone(),
            json!({ "ratings": [{ "layer": "street", "score": 70.0, "raters": 0 }] }),
            "ratings[0].raters",
        ),
        (
            ratings_path.clone(),
            json!({ "ratings": [
                { "layer": "street", "score": 70.0, "raters": 5 },
                { "layer": "street", "score": 60.0, "raters": 5 },
            ] }),
            "ratings[1].layer",
        ),
        (
            ratings_path.clone(),
            json!({ "ratings": [
                { "layer": "street", "score": 70.0, "raters": 5 }, { "layer": "members", "score": 70.0, "raters": 5 },
                { "layer": "residents", "score": 70.0, "raters": 5 }, { "layer": "street", "score": 70.0, "raters": 5 },
            ] }),
            "ratings",
        ),
        (
            format!("/api/assess/{YEAR}/pledges/P1"),
            json!({ "community_code": C, "pledges": [{ "kind": "annual", "target": "甲" }, { "kind": "annual", "target": "乙" }] }),
            "pledges[1].kind",
        ),
        (
            format!("/api/assess/{YEAR}/pledges/P1"),
            json!({ "community_code": C, "pledges": [{ "kind": "annual", "target": "甲", "annual": "done" }] }),
            "pledges[0].annual",
        ),
        (
            format!("/api/assess/{YEAR}/lists/{C}"),
            json!({ "projects": vec!["项目"; 201] }),
            "projects",
        ),
        (
            format!("/api/assess/{YEAR}/reports/{C}"),
            json!({ "document": "", "summary": "摘要" }),
            "document",
        ),
        (
            format!("/api/assess/{YEAR}/reports/{C}"),
            json!({ "document": "全文", "summary": "摘要", "reported_on": "2026-13-01" }),
            "reported_on",
        ),
        (
            format!("/api/assess/1999/ratings/{C}"),
            good.clone(),
            "year",
        ),
    ];
    for (path, body, field) in cases {
        let (st, b) = put(&admin, &path, body).await;
        assert_eq!(st, 422, "{path}: {b}");
        assert_eq!(b["field"], field, "{path}: {b}");
    }
    let mut settings =
        admin.get(&format!("/api/assess/{YEAR}/settings")).await.1["defaults"].clone();
    settings["weight_street"] = json!(0.5);
    let (st, b) = put(&admin, &format!("/api/assess/{YEAR}/settings"), settings).await;
    assert_eq!(
        (st, b["field"].as_str()),
        (422, Some("weight_members")),
        "{b}"
    );
    let (st, b) = put(
        &admin,
        &format!("/api/assess/{YEAR}/settings"),
        json!({ "weight_members": 0.3 }),
    )
    .await;
    assert_eq!(st, 422, "a partial settings body: {b}");
    let (_, r) = admin.get(&format!("/api/assess/{YEAR}")).await;
    let c = community(&r, C);
    assert_eq!(
        c["ratings"].as_array().map(Vec::len),
        Some(1),
        "nothing half-written: {c}"
    );
    assert_eq!(c["ratings"][0]["score"], 80.0);
    assert_eq!(c["pledges"]["tally"]["pledges"], 1);
    assert_eq!(r["settings_set"], false);
    // A project claimed for another year is not completed in this one.
    let (st, _, b) = s
        .send(
            Method::PUT,
            "/api/party/projects/OLD1",
            Some(&json!({ "name": "旧项目", "community_code": C, "year": 2024 })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = put(
        &admin,
        &format!("/api/assess/{YEAR}/projects/OLD1"),
        json!({ "completed_on": "2025-03-01" }),
    )
    .await;
    assert_eq!((st, b["field"].as_str()), (422, Some("year")), "{b}");
    let (st, b) = put(
        &admin,
        &format!("/api/assess/{YEAR}/units/NOPE"),
        json!({ "score": 80.0 }),
    )
    .await;
    assert_eq!(st, 404, "{b}");
}

#[tokio::test]
async fn the_year_exports_as_a_workbook_and_prints_per_community() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    seed_dual(&s).await;
    let admin = s.sign_in("admin").await;
    let ratings = json!({ "ratings": [
        { "layer": "members", "score": 95.0, "raters": 40 },
        { "layer": "residents", "score": 90.0, "raters": 25 },
        { "layer": "street", "score": 92.0, "raters": 7 },
    ] });
    assert_eq!(
        put(&admin, &format!("/api/assess/{YEAR}/ratings/{C}"), ratings)
            .await
            .0,
        200
    );
    let r = admin
        .raw(
            Method::GET,
            &format!("/api/assess/{YEAR}/export?format=xlsx"),
        )
        .send()
        .await
        .expect("export");
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await.expect("bytes").to_vec();
    // GDAL's first sheet: the summary, a row per community.
    let csv = xlsx_as_csv(&bytes);
    assert!(csv.contains(&format!("\"{C}\",陵江社区,好")), "{csv}");
    assert!(
        csv.contains("好"),
        "the grade 好 (0.3 × 95 + 0.4 × 90 + 0.3 × 92 = 92.1): {csv}"
    );
    // Every sheet: ogrinfo lists the summary and one layer per community.
    let path = std::env::temp_dir().join(format!("wangge-assess-{}.xlsx", Uuid::new_v4()));
    std::fs::write(&path, &bytes).expect("write");
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-oo", "HEADERS=FORCE"])
        .arg(&path)
        .output()
        .expect("ogrinfo runs (gdal-bin installed)");
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains("Layer name: 考评汇总"), "{info}");
    let (_, communities) = admin.get("/api/communities").await;
    let names: Vec<String> = communities["features"]
        .as_array()
        .or_else(|| communities.as_array())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c["properties"]["name"]
                .as_str()
                .or_else(|| c["name"].as_str())
                .map(String::from)
        })
        .collect();
    assert!(!names.is_empty(), "{communities}");
    for n in &names {
        assert!(
            info.contains(&format!("Layer name: {n}")),
            "a sheet for {n}: {info}"
        );
    }
    assert!(
        info.contains("一述三评") && info.contains("双报到通报"),
        "{info}"
    );
    assert!(info.contains("DU2"), "{info}");
    // The printable page: HTML with print CSS, the grade and the circular.
    let r = admin
        .raw(Method::GET, &format!("/api/assess/{YEAR}/print/{C}"))
        .send()
        .await
        .expect("print");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html")));
    let page = r.text().await.expect("page");
    assert!(page.contains("@media print"), "{page}");
    assert!(page.contains("<td>定级</td><td>好</td>"), "{page}");
    assert!(page.contains("DU2"), "{page}");
}
