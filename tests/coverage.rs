//! The ten-minute service circle through the real server on the demo district: coverage
//! per community and grid, walking (not straight-line) distances, isochrones, what-if
//! scenarios that equal the coverage after saving them, siting whose gains add up exactly,
//! CSV and XLSX reports, scope, and clear errors.

mod common;

use common::*;
use geo::{Contains, Distance, Haversine, Point};
use reqwest::Method;
use serde_json::{json, Value};
use wangge::domain::access::{Role, ScopeKind};

async fn demo() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Demo).await;
    let mut s = TestServer::start(&db).await;
    s.add_account("admin", Role::Admin, "GYKFQ", ScopeKind::Region, &[], &[])
        .await;
    s.add_account(
        "planner",
        Role::Planner,
        "510802102",
        ScopeKind::Region,
        &[],
        &[],
    )
    .await;
    s.add_account(
        "chief",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &["51080210200101"],
    )
    .await;
    s.add_account(
        "patrol",
        Role::Patrol,
        "510802102",
        ScopeKind::Grids,
        &[],
        &["5108021020010101"],
    )
    .await;
    s.become_admin().await;
    (db, s)
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn coverage_adds_up_and_follows_the_streets() {
    let (_db, s) = demo().await;
    let planner = s.sign_in("planner").await;
    let (st, c) = planner
        .get("/api/coverage?kind=elderly_care&minutes=10")
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["setting"]["cutoff_m"], 500.0);
    let t = &c["totals"];
    let (res, cov) = (n(&t["residents"]), n(&t["residents_covered"]));
    assert!(res > 50_000, "{t}");
    // The demo is built with real gaps.
    assert!(cov > 0 && cov < res, "{t}");
    // Grids and communities add up to the total.
    let sum = |k: &str, f: &str| {
        c[k].as_array()
            .expect(k)
            .iter()
            .map(|g| n(&g[f]))
            .sum::<i64>()
    };
    assert_eq!(sum("grids2", "residents"), res);
    assert_eq!(sum("grids2", "residents_covered"), cov);
    assert_eq!(sum("communities", "residents_covered"), cov);
    assert_eq!(
        sum("grids1", "households_covered"),
        n(&t["households_covered"])
    );
    // Uncovered buildings are listed with their minutes to the nearest station.
    let unc = c["uncovered"]["features"].as_array().expect("uncovered");
    assert_eq!(
        unc.len() as i64,
        n(&t["buildings"]) - n(&t["buildings_covered"])
    );
    assert!(unc
        .iter()
        .all(|f| f["properties"]["minutes_to"]["elderly_care"]
            .as_f64()
            .is_none_or(|m| m > 10.0)));

    // Per-building minutes for every kind; walking is never shorter than a straight line,
    // and for many buildings it is clearly longer (straight-line buffers would overstate).
    let (st, b) = planner.get("/api/coverage/buildings?minutes=10").await;
    assert_eq!(st, 200);
    let (_, stations) = planner.get("/api/stations?kind=elderly_care").await;
    let pts: Vec<Point<f64>> = stations["features"]
        .as_array()
        .expect("stations")
        .iter()
        .map(|f| {
            Point::new(
                f["geometry"]["coordinates"][0].as_f64().unwrap_or(0.0),
                f["geometry"]["coordinates"][1].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    assert!(!pts.is_empty());
    let (mut longer, mut checked) = (0, 0);
    for f in b["features"].as_array().expect("features") {
        let Some(min) = f["properties"]["minutes_to"]["elderly_care"].as_f64() else {
            continue;
        };
        let c = &f["geometry"]["coordinates"];
        let p = Point::new(c[0].as_f64().unwrap_or(0.0), c[1].as_f64().unwrap_or(0.0));
        let crow = pts
            .iter()
            .map(|q| Haversine.distance(p, *q))
            .fold(f64::MAX, f64::min);
        let walk = min * 50.0;
        assert!(
            walk + 5.0 >= crow,
            "walking {walk} m shorter than the straight line {crow} m"
        );
        checked += 1;
        if walk > crow * 1.2 + 20.0 {
            longer += 1;
        }
    }
    assert!(
        checked > 500 && longer > checked / 10,
        "{longer} of {checked} clearly longer on foot"
    );

    // "Any of" a set covers at least as much as each kind; "all of" at most.
    let (_, any) = planner
        .get("/api/coverage?kinds=elderly_care,clinic&mode=any")
        .await;
    let (_, all) = planner
        .get("/api/coverage?kinds=elderly_care,clinic&mode=all")
        .await;
    let (_, cl) = planner.get("/api/coverage?kind=clinic").await;
    let rc = |v: &Value| n(&v["totals"]["residents_covered"]);
    assert!(rc(&any) >= cov.max(rc(&cl)) && rc(&all) <= cov.min(rc(&cl)));
    // The 5- and 15-minute circles bracket the 10-minute one.
    let (_, five) = planner
        .get("/api/coverage?kind=elderly_care&minutes=5")
        .await;
    let (_, fifteen) = planner
        .get("/api/coverage?kind=elderly_care&minutes=15")
        .await;
    assert_eq!(five["setting"]["cutoff_m"], 300.0);
    assert!(rc(&five) <= cov && cov <= rc(&fifteen));
    // Default: all of the "1+8".
    let (_, def) = planner.get("/api/coverage").await;
    assert_eq!(def["setting"]["mode"], "all");
    assert_eq!(def["setting"]["kinds"].as_array().map(Vec::len), Some(9));

    // Errors are clear.
    for bad in [
        "/api/coverage?kind=spa",
        "/api/coverage?minutes=0",
        "/api/coverage?minutes=999",
        "/api/coverage?mode=some&kinds=clinic",
        "/api/coverage?speed=-3",
    ] {
        let (st, e) = planner.get(bad).await;
        assert_eq!(st, 422, "{bad}: {e}");
    }
    // A grid chief sees the town's coverage as counts (like every aggregate outside its
    // grids) and can narrow it to a community.
    let chief = s.sign_in("chief").await;
    let (_, cc) = chief.get("/api/coverage?kind=elderly_care").await;
    assert_eq!(cc["totals"], c["totals"]);
    let (_, one) = chief
        .get("/api/coverage?kind=elderly_care&community=510802102001")
        .await;
    let (_, com) = chief.get("/api/communities").await;
    let lj = com["features"]
        .as_array()
        .expect("communities")
        .iter()
        .find(|f| f["properties"]["code"] == "510802102001")
        .expect("陵江")
        .clone();
    assert_eq!(
        n(&one["totals"]["residents"]),
        n(&lj["properties"]["residents"])
    );
    // `scope` narrows the count to a community or a grid of either level: the totals are
    // that place's line of the town-wide answer.
    let (_, by_scope) = chief
        .get("/api/coverage?kind=elderly_care&scope=510802102001")
        .await;
    assert_eq!(by_scope["totals"], one["totals"]);
    for level in ["grids1", "grids2"] {
        let rows = c[level].as_array().expect(level);
        // A grid with some covered and some uncovered residents, so that both counts matter.
        let g = rows
            .iter()
            .find(|g| {
                n(&g["residents_covered"]) > 0 && n(&g["residents_covered"]) < n(&g["residents"])
            })
            .unwrap_or(&rows[0]);
        let code = g["code"].as_str().expect("grid code");
        let (st, sc) = planner
            .get(&format!(
                "/api/coverage?kind=elderly_care&minutes=10&scope={code}"
            ))
            .await;
        assert_eq!(st, 200, "{sc}");
        for f in [
            "residents",
            "residents_covered",
            "households",
            "households_covered",
        ] {
            assert_eq!(n(&sc["totals"][f]), n(&g[f]), "{level} {code} {f}");
        }
        assert_eq!(
            sc[level].as_array().map(Vec::len),
            Some(1),
            "{level} {code}"
        );
    }
    let (st, e) = planner
        .get("/api/coverage?kind=clinic&scope=510802102001&community=510802102001")
        .await;
    assert_eq!((st, e["field"].as_str()), (422, Some("scope")), "{e}");
    assert_eq!(planner.get("/api/coverage?scope=nowhere").await.0, 404);
    // Patrol accounts have no coverage analysis.
    let patrol = s.sign_in("patrol").await;
    assert_eq!(patrol.get("/api/coverage").await.0, 403);
}

#[tokio::test]
async fn isochrones_follow_the_network() {
    let (_db, s) = demo().await;
    let (_, stations) = s.get("/api/stations?kind=party_mass_centre").await;
    let f = &stations["features"][0];
    let code = f["properties"]["code"].as_str().expect("code");
    let p = Point::new(
        f["geometry"]["coordinates"][0].as_f64().unwrap_or(0.0),
        f["geometry"]["coordinates"][1].as_f64().unwrap_or(0.0),
    );
    let (st, iso) = s
        .get(&format!(
            "/api/coverage/isochrone?station={code}&minutes=10"
        ))
        .await;
    assert_eq!(st, 200, "{iso}");
    let g: geojson::Geometry = serde_json::from_value(iso["geometry"].clone()).expect("geometry");
    let mp: geo::MultiPolygon<f64> = g.try_into().expect("multipolygon");
    // Near the station, within the 500 m walk, and smaller than the 500 m circle.
    use geo::{BoundingRect, GeodesicArea};
    let area = mp.geodesic_area_unsigned();
    let circle = std::f64::consts::PI * 500.0 * 500.0;
    assert!(area > 10_000.0 && area < circle, "isochrone area {area} m²");
    let r = mp.bounding_rect().expect("bbox");
    let corners = [
        geo::coord! { x: r.min().x, y: r.min().y },
        geo::coord! { x: r.max().x, y: r.max().y },
    ];
    for c in corners {
        assert!(
            Haversine.distance(p, Point(c)) < 800.0,
            "isochrone reaches too far"
        );
    }
    let near = mp.0.iter().any(|poly| poly.contains(&p)) || mp.0.iter().any(|poly| {
        use geo::ClosestPoint;
        matches!(poly.closest_point(&p), geo::Closest::SinglePoint(q) | geo::Closest::Intersection(q) if Haversine.distance(p, q) < 60.0)
    });
    assert!(near, "the isochrone starts at its station");
    let (st, _) = s.get("/api/coverage/isochrone?station=NOPE").await;
    assert_eq!(st, 404);

    // A what-if station is a point: walked from the same street as a station there, so at
    // the station's own position the area is the station's.
    let (lon, lat) = (p.x(), p.y());
    let (st, at) = s
        .get(&format!(
            "/api/coverage/isochrone?lon={lon}&lat={lat}&minutes=10"
        ))
        .await;
    assert_eq!(st, 200, "{at}");
    assert_eq!(at["geometry"], iso["geometry"], "the same walk");
    assert_eq!(at["properties"]["station"], Value::Null);
    assert_eq!(at["properties"]["at"], json!([lon, lat]));
    assert_eq!(at["properties"]["cutoff_m"], iso["properties"]["cutoff_m"]);
    // Exactly one of a station and a point; a point inside the caller's communities, near a
    // street, on the globe.
    for (q, field) in [
        (format!("station={code}&lon={lon}&lat={lat}"), "station"),
        ("minutes=10".to_string(), "station"),
        (format!("lon={lon}"), "station"),
        ("lon=10.0&lat=50.0".to_string(), "lon"),
        (format!("lon=200&lat={lat}"), "lon"),
        (format!("lon={lon}&lat=NaN"), "lat"),
    ] {
        let (st, e) = s.get(&format!("/api/coverage/isochrone?{q}")).await;
        assert_eq!((st, e["field"].as_str()), (422, Some(field)), "{q}: {e}");
    }
}

#[tokio::test]
async fn what_if_equals_the_coverage_after_saving_it() {
    let (db, s) = demo().await;
    let (_, before) = s.get("/api/coverage?kind=elderly_care").await;
    let unc = &before["uncovered"]["features"];
    let target = unc[0]["properties"]["code"]
        .as_str()
        .expect("an uncovered building")
        .to_string();
    let (_, b) = s.get("/api/buildings?bbox=105.0,32.0,106.5,33.0").await;
    let bf = b["features"]
        .as_array()
        .expect("buildings")
        .iter()
        .find(|f| f["properties"]["code"] == target.as_str())
        .expect("building")
        .clone();
    let ring = &bf["geometry"]["coordinates"][0][0];
    let (lon, lat) = (
        ring[0][0].as_f64().unwrap_or(0.0),
        ring[0][1].as_f64().unwrap_or(0.0),
    );
    let (_, el) = s.get("/api/stations?kind=elderly_care").await;
    let moved = el["features"][0]["properties"]["code"]
        .as_str()
        .expect("station")
        .to_string();
    let removed = el["features"][1]["properties"]["code"]
        .as_str()
        .expect("station")
        .to_string();
    let body = json!({
        "kind": "elderly_care", "minutes": 10,
        "changes": [
            { "op": "add", "kind": "elderly_care", "lon": lon, "lat": lat, "code": "WI-TEST-1", "name": "新助老站" },
            { "op": "move", "code": moved, "lon": lon + 0.004, "lat": lat - 0.003 },
            { "op": "remove", "code": removed },
        ]
    });
    let (st, _, sc) = s
        .send(Method::POST, "/api/coverage/scenario", Some(&body), None)
        .await;
    assert_eq!(st, 200, "{sc}");
    assert!(
        sc["newly_covered"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c == target.as_str()),
        "{sc}"
    );
    assert_eq!(
        n(&sc["before"]["residents_covered"]),
        n(&before["totals"]["residents_covered"])
    );
    assert_eq!(
        n(&sc["change"]["residents_covered"]),
        n(&sc["after"]["residents_covered"]) - n(&sc["before"]["residents_covered"])
    );
    // Nothing was saved.
    let (_, again) = s.get("/api/coverage?kind=elderly_care").await;
    assert_eq!(again["totals"], before["totals"]);
    // Saving makes it real: the coverage then equals the scenario's "after" exactly.
    let (st, _, saved) = s
        .send(
            Method::POST,
            "/api/coverage/scenario/save",
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 200, "{saved}");
    let (_, after) = s.get("/api/coverage?kind=elderly_care").await;
    assert_eq!(
        after["totals"], sc["after"],
        "saved coverage differs from the scenario"
    );
    // So do its figures per community and grid: the scenario regroups only the rows near
    // its changes, the coverage after saving regroups every building.
    for key in ["communities", "grids1", "grids2"] {
        assert!(
            after[key].as_array().is_some_and(|a| !a.is_empty()),
            "{key}: {after}"
        );
        assert_eq!(
            after[key], sc["after_detail"][key],
            "{key}: saved coverage differs from the scenario"
        );
    }
    let pool = db.pool().await;
    let k: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stations WHERE code = 'WI-TEST-1' OR code = $1")
            .bind(&removed)
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(k, 1, "added one, removed one");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity = 'station'")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert!(audited >= 3, "{audited} station changes audited");
    // Planners may save; grid chiefs may only look.
    let chief = s.sign_in("chief").await;
    let (st, _, _) = chief
        .send(
            Method::POST,
            "/api/coverage/scenario/save",
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 403);
    // Bad scenarios are refused with the index of the bad change.
    let bad = json!({ "kind": "elderly_care", "changes": [ { "op": "add", "kind": "elderly_care", "lon": 105.7, "lat": 32.4 }, { "op": "teleport" } ] });
    let (st, _, e) = s
        .send(Method::POST, "/api/coverage/scenario", Some(&bad), None)
        .await;
    assert_eq!((st, n(&e["index"])), (422, 1), "{e}");
}

#[tokio::test]
async fn siting_gains_add_up_exactly() {
    let (_db, s) = demo().await;
    let body = json!({ "kind": "elderly_care", "k": 3, "minutes": 10 });
    let (st, _, r) = s
        .send(Method::POST, "/api/coverage/siting", Some(&body), None)
        .await;
    assert_eq!(st, 200, "{r}");
    let picks = r["picks"].as_array().expect("picks");
    assert_eq!(picks.len(), 3);
    let gains: Vec<i64> = picks.iter().map(|p| n(&p["gain_residents"])).collect();
    assert!(gains.iter().all(|g| *g > 0), "{gains:?}");
    assert!(
        gains.windows(2).all(|w| w[0] >= w[1]),
        "greedy gains do not grow: {gains:?}"
    );
    let before = n(&r["residents_covered_before"]);
    assert_eq!(
        before + gains.iter().sum::<i64>(),
        n(&r["residents_covered_after"])
    );
    // Building the proposed stations gives exactly the promised coverage.
    let changes: Vec<Value> = picks
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "op": "add", "kind": "elderly_care", "lon": p["lon"], "lat": p["lat"], "code": format!("SITE-{i}") }))
        .collect();
    let (st, _, saved) = s
        .send(
            Method::POST,
            "/api/coverage/scenario/save",
            Some(&json!({ "kind": "elderly_care", "changes": changes })),
            None,
        )
        .await;
    assert_eq!(st, 200, "{saved}");
    let (_, after) = s.get("/api/coverage?kind=elderly_care").await;
    assert_eq!(
        n(&after["totals"]["residents_covered"]),
        n(&r["residents_covered_after"])
    );
    // Candidate sites can be given; bad ones are refused.
    let (st, _, r2) = s
        .send(Method::POST, "/api/coverage/siting", Some(&json!({ "kind": "clinic", "k": 1, "candidates": [[105.70, 32.40], [105.71, 32.41]] })), None)
        .await;
    assert_eq!(st, 200, "{r2}");
    assert!(r2["picks"].as_array().is_some_and(|p| p.len() <= 1));
    let (st, _, _) = s
        .send(
            Method::POST,
            "/api/coverage/siting",
            Some(&json!({ "kind": "clinic", "k": 0 })),
            None,
        )
        .await;
    assert_eq!(st, 422);
    let (st, _, _) = s
        .send(
            Method::POST,
            "/api/coverage/siting",
            Some(&json!({ "kind": "clinic", "k": 1, "candidates": [[500, 1]] })),
            None,
        )
        .await;
    assert_eq!(st, 422);
}

#[tokio::test]
async fn reports_download_as_csv_and_xlsx() {
    let (_db, s) = demo().await;
    let r = s
        .raw(
            Method::GET,
            "/api/coverage/report?kinds=elderly_care,clinic&format=csv",
        )
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/csv"));
    let text = r.text().await.expect("text");
    let mut lines = text.lines();
    let header = lines.next().expect("header").trim_start_matches('\u{feff}');
    assert!(
        header.starts_with("community_code,community,grid1_code,grid2_code"),
        "{header}"
    );
    assert!(
        header.ends_with("elderly_care_residents_pct,clinic_residents_pct"),
        "{header}"
    );
    let (_, grids) = s.get("/api/grids?level=2").await;
    assert_eq!(
        lines.count(),
        grids["features"].as_array().map(Vec::len).unwrap_or(0)
    );
    let r = s
        .raw(Method::GET, "/api/coverage/report?kind=clinic&format=xlsx")
        .send()
        .await
        .expect("xlsx");
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await.expect("bytes");
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");
    // Another reader, GDAL's XLSX driver, finds the same table as the CSV download.
    let from_gdal = xlsx_as_csv(&bytes);
    let csv_of = |data: &[u8]| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(data)
            .into_records()
            .map(|r| r.expect("row").iter().map(str::to_string).collect())
            .collect()
    };
    let from_gdal = csv_of(from_gdal.as_bytes());
    let ours = s
        .raw(Method::GET, "/api/coverage/report?kind=clinic&format=csv")
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let from_csv = csv_of(ours.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(from_gdal.len(), from_csv.len(), "rows");
    assert!(from_csv.len() > 10);
    for (a, b) in from_gdal.iter().zip(&from_csv) {
        assert_eq!(a.len(), b.len(), "{a:?} {b:?}");
        for (x, y) in a.iter().zip(b) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!((x - y).abs() < 1e-9, "{a:?} {b:?}"),
                _ => assert_eq!(x, y, "{a:?} {b:?}"),
            }
        }
    }
    let (st, _) = s.get("/api/coverage/report?format=pdf").await;
    assert_eq!(st, 422);
}

/// With `lang`, the report is for people: a title row (kind, minutes, speed, scope, date),
/// column names in Chinese or English and a file name saying what it is; the figures are
/// those of the plain table.
#[tokio::test]
async fn reports_for_people_say_what_they_are() {
    let (_db, s) = demo().await;
    let get = |path: String| {
        let s = &s;
        async move {
            let r = s.raw(Method::GET, &path).send().await.expect("report");
            assert_eq!(r.status().as_u16(), 200, "{path}");
            let name = r.headers()["content-disposition"]
                .to_str()
                .unwrap_or("")
                .to_string();
            let text = r.text().await.expect("text");
            (name, text.trim_start_matches('\u{feff}').to_string())
        }
    };
    let q = "/api/coverage/report?kind=elderly_care&minutes=10&format=csv";
    let (_, plain) = get(q.to_string()).await;
    let (name, zh) = get(format!("{q}&lang=zh")).await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let file = format!("十分钟服务圈_助老养老站_10分钟_{today}.csv");
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    assert!(
        name.ends_with(&format!("filename*=UTF-8''{encoded}")),
        "{name}"
    );
    let mut lines = zh.lines();
    let title = lines.next().expect("title");
    assert!(
        title.starts_with("十分钟服务圈 · 助老养老站 · 10分钟 · 步行")
            && title.contains("范围：全部"),
        "{title}"
    );
    assert!(title.ends_with(&today.to_string()), "{title}");
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("社区代码,社区,一级网格代码,二级网格代码"),
        "{header}"
    );
    assert!(header.ends_with("助老养老站人口覆盖率(%)"), "{header}");
    let figures: Vec<&str> = lines.collect();
    assert_eq!(figures, plain.lines().skip(1).collect::<Vec<_>>());
    assert!(figures.len() > 10);

    let (name, en) = get(format!("{q}&lang=en&scope={C}")).await;
    assert!(
        name.contains("service-circle_elderly-care_10min_"),
        "{name}"
    );
    let mut lines = en.lines();
    let title = lines.next().expect("title");
    assert!(
        title.starts_with("Ten-minute service circle · elderly care · 10 min"),
        "{title}"
    );
    assert!(
        !title.contains("scope: all"),
        "a community's report names it: {title}"
    );
    assert!(lines
        .next()
        .expect("header")
        .starts_with("Community code,Community,"));

    let (st, e) = s.get(&format!("{q}&lang=fr")).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("lang")), "{e}");
    let r = s
        .raw(Method::GET, &format!("{q}&lang=zh").replace("csv", "xlsx"))
        .send()
        .await
        .expect("xlsx");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(&r.bytes().await.expect("bytes")[..2], b"PK");
}

#[tokio::test]
async fn without_a_network_coverage_says_so() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    // The fixture has streets: take them away (and log the change, as an import would).
    let pool = db.pool().await;
    for q in [
        "DELETE FROM network_edges",
        "DELETE FROM network_nodes",
        "INSERT INTO changes (layer) VALUES ('network')",
    ] {
        sqlx::query(q).execute(&pool).await.expect(q);
    }
    s.state.registry.refresh().await.expect("refresh");
    let (st, e) = s.get("/api/coverage?kind=clinic").await;
    assert_eq!((st, e["error"].as_str()), (409, Some("no_network")), "{e}");
    // Importing streets makes it work (through the same path as the CLI).
    let fc = collection(vec![
        feature(
            json!({ "type": "LineString", "coordinates": [[105.70, 32.4025], [105.705, 32.4025], [105.72, 32.4025]] }),
            json!({ "highway": "residential", "name": "甲路" }),
        ),
        feature(
            json!({ "type": "LineString", "coordinates": [[105.705, 32.40], [105.705, 32.4025], [105.705, 32.41]] }),
            json!({ "highway": "footway" }),
        ),
    ]);
    let fc: geojson::FeatureCollection = serde_json::from_value(fc).expect("fc");
    let edges = s
        .state
        .store
        .import_network(
            &wangge::store::audit::Actor::system("test"),
            wangge::import::NetworkSource::Lines(&fc),
        )
        .await
        .expect("import streets");
    assert_eq!(
        edges, 4,
        "the two streets meet at a shared vertex and are split there"
    );
    s.state.registry.refresh().await.expect("refresh");
    let (st, c) = s.get("/api/coverage?kind=party_mass_centre").await;
    assert_eq!(st, 200, "{c}");
    // S1 (the fixture's centre) is about 200 m from B00 along 甲路: covered.
    assert!(n(&c["totals"]["residents_covered"]) >= 27, "{c}");
}
