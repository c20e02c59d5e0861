//! OGC API - Features (issue 16) against a real PostGIS: the landing page, conformance,
//! collections and queryables; paging that adds up to the JSON list; `bbox`, `datetime`,
//! CRS (EPSG:4490's latitude-first axis order, EPSG:3857 metres); CQL2 text and JSON
//! filters, each operator matching and not; every collection read by every fixture role
//! shows what the JSON route shows it; compounds, streets, party cells and patrol tracks
//! paged, boxed and filtered; and GDAL's OAPIF driver (`ogrinfo`, `ogr2ogr`).

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every collection the OGC routes serve, in the order `/ogc/collections` lists them.
const COLLECTIONS: [&str; 10] = [
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

/// The fixture district, served with absolute links.
async fn fixture() -> (TestDb, TestServer) {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_public(&db).await;
    load_fixture(&mut s).await;
    (db, s)
}

/// The link of a relation in a document.
fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a Value> {
    doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)
}

/// A GET of an OGC path (`/ogc…`) or of a link's href, with status, headers and body.
async fn fetch(c: &Client, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let path = path.strip_prefix(&c.base).unwrap_or(path);
    let r = c.raw(Method::GET, path).send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// Features by id: their properties and geometry.
fn by_id(fc: &Value) -> BTreeMap<String, (Value, Value)> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["id"].to_string(),
                (f["properties"].clone(), f["geometry"].clone()),
            )
        })
        .collect()
}

/// Every feature of an items URL, following `next` links, with the number of pages.
async fn all_pages(c: &Client, first: &str) -> (Vec<Value>, usize) {
    let mut out = vec![];
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let (st, h, page) = fetch(c, &url).await;
        assert_eq!(st, 200, "{url}: {page}");
        assert_eq!(h["content-type"], "application/geo+json");
        let returned = page["features"].as_array().expect("features").len();
        assert_eq!(page["numberReturned"], returned);
        out.extend(page["features"].as_array().cloned().unwrap_or_default());
        pages += 1;
        assert!(pages < 100, "paging does not end");
        next = link(&page, "next").and_then(|l| l["href"].as_str().map(String::from));
    }
    (out, pages)
}

#[tokio::test]
async fn landing_conformance_collections_queryables_and_the_api_document() {
    let (_db, s) = fixture().await;
    let (st, _, landing) = fetch(&s, "/ogc").await;
    assert_eq!(st, 200, "{landing}");
    for rel in ["self", "service-desc", "data", "conformance"] {
        assert!(
            link(&landing, rel).is_some(),
            "landing has {rel}: {landing}"
        );
    }
    assert_eq!(
        link(&landing, "service-desc").expect("service-desc")["type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let (_, _, conf) = fetch(&s, "/ogc/conformance").await;
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-1/1.0/conf/geojson",
        "ogcapi-features-1/1.0/conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
        "ogcapi-features-3/1.0/conf/filter",
        "ogcapi-features-3/1.0/conf/features-filter",
        "cql2/1.0/conf/basic-cql2",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
    ] {
        assert!(
            classes.iter().any(|c| c.ends_with(want)),
            "conformance lists {want}"
        );
    }
    let (_, _, cols) = fetch(&s, "/ogc/collections").await;
    let ids: Vec<&str> = cols["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, COLLECTIONS);
    let (st, _, g2) = fetch(&s, "/ogc/collections/grids2").await;
    assert_eq!(st, 200);
    let bbox = &g2["extent"]["spatial"]["bbox"][0];
    assert_eq!(bbox, &json!([105.70, 32.40, 105.73, 32.41]), "{g2}");
    let crs: Vec<&str> = g2["crs"]
        .as_array()
        .expect("crs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(crs[0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    assert!(crs.contains(&"http://www.opengis.net/def/crs/EPSG/0/4490"));
    assert!(crs.contains(&"http://www.opengis.net/def/crs/EPSG/0/3857"));
    let (st, h, q) = fetch(&s, "/ogc/collections/grids2/queryables").await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "application/schema+json");
    assert_eq!(q["properties"]["residents"]["type"], "integer");
    assert_eq!(
        q["properties"]["geometry"]["x-ogc-role"],
        "primary-geometry"
    );
    let (st, h, api) = fetch(&s, "/ogc/api").await;
    assert_eq!(st, 200);
    assert_eq!(
        h["content-type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    assert!(api["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.0")));
    let limit = api["paths"]["/collections/grids2/items"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit")
        .clone();
    assert_eq!(limit["schema"]["default"], 100);
    assert_eq!(limit["schema"]["maximum"], 10_000);
    // Unknown collection, and no token: as the JSON routes answer.
    assert_eq!(fetch(&s, "/ogc/collections/roads").await.0, 404);
    for path in ["/ogc", "/ogc/collections/grids2/items"] {
        assert_eq!(fetch(&s.anonymous(), path).await.0, 401, "{path}");
    }
    // A role that may not read a layer does not see its collection.
    let planner = s.sign_in("planner").await;
    let (_, _, cols) = fetch(&planner, "/ogc/collections").await;
    assert!(!cols.to_string().contains("\"incidents\""), "{cols}");
    assert_eq!(
        fetch(&planner, "/ogc/collections/incidents/items").await.0,
        403
    );
}

#[tokio::test]
async fn paging_follows_next_links_to_the_json_list() {
    let (_db, s) = fixture().await;
    let (feats, pages) = all_pages(&s, "/ogc/collections/grids2/items?limit=2").await;
    assert_eq!(pages, 3, "five grids at two a page");
    let (st, json) = s.get("/api/grids?level=2").await;
    assert_eq!(st, 200);
    assert_eq!(
        by_id(&json!({ "features": feats })),
        by_id(&json),
        "the pages add up to /api/grids?level=2"
    );
    // Counts, and the second page's prev link back to the first.
    let (_, _, p2) = fetch(&s, "/ogc/collections/grids2/items?limit=2&offset=2").await;
    assert_eq!(p2["numberMatched"], 5);
    assert_eq!(p2["numberReturned"], 2);
    let prev = link(&p2, "prev").expect("prev")["href"]
        .as_str()
        .expect("href")
        .to_string();
    let (_, _, p1) = fetch(&s, &prev).await;
    assert_eq!(p1["features"][0]["id"], feats[0]["id"]);
    assert!(link(&p1, "prev").is_none());
    // One feature, and bad parameters named.
    let id = &feats[0]["id"];
    let (st, _, one) = fetch(&s, &format!("/ogc/collections/grids2/items/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(one["properties"], feats[0]["properties"]);
    assert_eq!(
        fetch(&s, "/ogc/collections/grids2/items/999999").await.0,
        404
    );
    for (q, name) in [
        ("limit=x", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=100,20,115,35", "bbox"),
        ("crs=EPSG:2000", "crs"),
        ("colour=red", "colour"),
    ] {
        let (st, _, e) = fetch(&s, &format!("/ogc/collections/grids2/items?{q}")).await;
        assert_eq!(st, 400, "{q}: {e}");
        assert_eq!(e["field"], name, "{q}: {e}");
    }
    // A limit above the maximum is lowered to it.
    let (st, _, big) = fetch(&s, "/ogc/collections/grids2/items?limit=20000000").await;
    assert_eq!(st, 200);
    assert_eq!(big["numberReturned"], 5);
}

#[tokio::test]
async fn bbox_datetime_and_crs() {
    let (_db, s) = fixture().await;
    // The west half (community C's first grid): C0101 and C0102 only.
    let west = "105.701,32.401,105.709,32.409";
    let (_, _, page) = fetch(&s, &format!("/ogc/collections/grids2/items?bbox={west}")).await;
    let (_, json) = s.get(&format!("/api/grids?level=2&bbox={west}")).await;
    assert_eq!(by_id(&page), by_id(&json));
    assert_eq!(page["numberMatched"], 2);
    let (_, _, b) = fetch(&s, &format!("/ogc/collections/buildings/items?bbox={west}")).await;
    let (_, json) = s.get(&format!("/api/buildings?bbox={west}")).await;
    assert_eq!(by_id(&b), by_id(&json));
    assert_eq!(b["numberMatched"], 2);
    // The same box in EPSG:4490, latitude first.
    let (_, _, lat_first) = fetch(
        &s,
        "/ogc/collections/grids2/items?bbox=32.401,105.701,32.409,105.709&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490",
    )
    .await;
    assert_eq!(by_id(&lat_first), by_id(&page));
    // Answers in EPSG:4490 swap the axes; in EPSG:3857 they are metres.
    let (_, h, st1) = fetch(&s, "/ogc/collections/stations/items").await;
    assert_eq!(
        h["content-crs"],
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    );
    assert_eq!(
        st1["features"][0]["geometry"]["coordinates"],
        json!([105.703, 32.403])
    );
    let (_, h, st2) = fetch(
        &s,
        "/ogc/collections/stations/items?crs=http://www.opengis.net/def/crs/EPSG/0/4490",
    )
    .await;
    assert_eq!(
        h["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    );
    assert_eq!(
        st2["features"][0]["geometry"]["coordinates"],
        json!([32.403, 105.703])
    );
    let (_, h, st3) = fetch(&s, "/ogc/collections/stations/items?crs=EPSG:3857").await;
    assert_eq!(
        h["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/3857>"
    );
    let xy = &st3["features"][0]["geometry"]["coordinates"];
    let (x, y) = (xy[0].as_f64().expect("x"), xy[1].as_f64().expect("y"));
    // The same point projected by the spherical Mercator formulas, to the centimetre.
    assert!((x - 11_766_804.14).abs() < 0.05, "{x}");
    assert!((y - 3_816_327.67).abs() < 0.05, "{y}");
    // datetime: the grids as they were before a rename.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let code = format!("{C}0101");
    let (_, etag, _) = s
        .send(Method::GET, &format!("/api/grids/{code}"), None, None)
        .await;
    let (st, _, b) = s
        .send(
            Method::PUT,
            &format!("/api/grids/{code}"),
            Some(&feature(Value::Null, json!({ "name": "改名后" }))),
            etag.as_deref(),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let at = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let q =
        |extra: &str| format!("/ogc/collections/grids2/items?filter=code%3D%27{code}%27{extra}");
    let (_, _, now) = fetch(&s, &q("")).await;
    assert_eq!(now["features"][0]["properties"]["name"], "改名后");
    let (st, _, then) = fetch(&s, &q(&format!("&datetime={}", at.replace('+', "%2B")))).await;
    assert_eq!(st, 200, "{then}");
    assert_eq!(then["features"][0]["properties"]["name"], "第1网格第1分格");
    let (_, json_then) = s
        .get(&format!("/api/grids?level=2&at={}", at.replace('+', "%2B")))
        .await;
    let (_, _, all_then) = fetch(
        &s,
        &format!(
            "/ogc/collections/grids2/items?datetime={}",
            at.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(by_id(&all_then), by_id(&json_then));
    let (st, _, e) = fetch(
        &s,
        "/ogc/collections/stations/items?datetime=2024-01-01T00:00:00Z",
    )
    .await;
    assert_eq!((st, e["field"].as_str()), (400, Some("datetime")));
}

/// The codes of the second-level grids a filter selects.
async fn selected(s: &TestServer, filter: &str, lang: &str) -> Result<Vec<String>, Value> {
    let url = format!(
        "/ogc/collections/grids2/items?filter-lang={lang}&filter={}",
        wangge::http::ogc::encode(filter)
    );
    let (st, _, page) = fetch(s, &url).await;
    if st != 200 {
        return Err(json!({ "status": st, "body": page }));
    }
    let mut codes: Vec<String> = page["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str().map(String::from))
        .collect();
    codes.sort();
    Ok(codes)
}

#[tokio::test]
async fn cql2_text_and_json_filters() {
    let (_db, s) = fixture().await;
    let c = |g: &str| format!("{C}{g}");
    let c2 = format!("{C2}0101");
    // Each operator, text and JSON: one filter that matches, one that does not.
    let cases: Vec<(String, Value, Vec<String>)> = vec![
        (format!("code = '{}'", c("0101")), json!({"op":"=","args":[{"property":"code"},c("0101")]}), vec![c("0101")]),
        ("code = 'nothing'".into(), json!({"op":"=","args":[{"property":"code"},"nothing"]}), vec![]),
        (format!("code <> '{c2}'"), json!({"op":"<>","args":[{"property":"code"},c2]}), vec![c("0101"), c("0102"), c("0201"), c("0202")]),
        ("level < 2".into(), json!({"op":"<","args":[{"property":"level"},2]}), vec![]),
        ("version >= 1".into(), json!({"op":">=","args":[{"property":"version"},1]}), vec![c("0101"), c("0102"), c("0201"), c("0202"), c2.clone()]),
        ("name LIKE '走马岭%'".into(), json!({"op":"like","args":[{"property":"name"},"走马岭%"]}), vec![c2.clone()]),
        ("name LIKE '%第9分格'".into(), json!({"op":"like","args":[{"property":"name"},"%第9分格"]}), vec![]),
        (format!("code IN ('{}', '{c2}')", c("0102")), json!({"op":"in","args":[{"property":"code"},[c("0102"), c2]]}), vec![c("0102"), c2.clone()]),
        ("code IN ('x', 'y')".into(), json!({"op":"in","args":[{"property":"code"},["x","y"]]}), vec![]),
        ("buildings BETWEEN 1 AND 1".into(), json!({"op":"between","args":[{"property":"buildings"},1,1]}), vec![c("0101"), c("0102"), c("0201"), c("0202"), c2.clone()]),
        ("buildings BETWEEN 2 AND 9".into(), json!({"op":"between","args":[{"property":"buildings"},2,9]}), vec![]),
        (format!("parent_code = '{}' AND NOT code = '{}'", c("01"), c("0101")),
            json!({"op":"and","args":[{"op":"=","args":[{"property":"parent_code"},c("01")]},{"op":"not","args":[{"op":"=","args":[{"property":"code"},c("0101")]}]}]}), vec![c("0102")]),
        (format!("code = '{}' OR code = '{c2}'", c("0201")),
            json!({"op":"or","args":[{"op":"=","args":[{"property":"code"},c("0201")]},{"op":"=","args":[{"property":"code"},c2]}]}), vec![c("0201"), c2.clone()]),
        ("S_INTERSECTS(geometry, POINT(105.705 32.4075))".into(),
            json!({"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[105.705,32.4075]}]}), vec![c("0102")]),
        ("S_INTERSECTS(geometry, POINT(106 33))".into(),
            json!({"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[106,33]}]}), vec![]),
        ("S_WITHIN(geometry, BBOX(105.699, 32.399, 105.7101, 32.4101))".into(),
            json!({"op":"s_within","args":[{"property":"geometry"},{"bbox":[105.699,32.399,105.7101,32.4101]}]}), vec![c("0101"), c("0102")]),
        ("S_WITHIN(geometry, POLYGON((105.70 32.40, 105.71 32.40, 105.71 32.405, 105.70 32.40)))".into(),
            json!({"op":"s_within","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[105.70,32.40],[105.71,32.40],[105.71,32.405],[105.70,32.40]]]}]}), vec![]),
    ];
    for (text, js, want) in &cases {
        assert_eq!(
            selected(&s, text, "cql2-text").await.as_ref(),
            Ok(want),
            "{text}"
        );
        assert_eq!(
            selected(&s, &js.to_string(), "cql2-json").await.as_ref(),
            Ok(want),
            "{js}"
        );
    }
    // On another collection's queryables too.
    let (_, _, b) = fetch(
        &s,
        "/ogc/collections/buildings/items?filter=residents%20%3E%2030%20AND%20address%20LIKE%20%271%25%27",
    )
    .await;
    assert_eq!(b["numberMatched"], 2, "{b}");
    // Bad filters are named.
    for (f, lang, what) in [
        ("colour = 'red'", "cql2-text", "colour"),
        (
            r#"{"op":"=","args":[{"property":"colour"},1]}"#,
            "cql2-json",
            "colour",
        ),
        ("code = ", "cql2-text", "bad filter"),
        ("code == 'x'", "cql2-text", "bad filter"),
        (r#"{"op":"frob","args":[]}"#, "cql2-json", "frob"),
        ("T_AFTER(code, 'x')", "cql2-text", "bad filter"),
    ] {
        let e = selected(&s, f, lang).await.expect_err(f);
        assert_eq!(e["status"], 400, "{f}: {e}");
        assert_eq!(e["body"]["field"], "filter", "{f}: {e}");
        assert!(
            e["body"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(what)),
            "{f}: {e}"
        );
    }
    let e = selected(&s, "colour = 'red'", "cql2-text")
        .await
        .expect_err("unknown");
    assert_eq!(e["body"]["property"], "colour");
    let long = format!("code IN ({})", vec!["'x'"; 3000].join(","));
    let e = selected(&s, &long, "cql2-text").await.expect_err("long");
    assert!(
        e["body"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too large")),
        "{e}"
    );
}

#[tokio::test]
async fn every_role_reads_what_its_json_routes_show_it() {
    let (_db, s) = fixture().await;
    let routes = [
        ("communities", "/api/communities"),
        ("grids1", "/api/grids?level=1"),
        ("grids2", "/api/grids?level=2"),
        ("buildings", "/api/buildings?bbox=105.6,32.3,105.8,32.5"),
        ("stations", "/api/stations"),
        ("incidents", "/api/incidents"),
        ("party_cells", "/api/party/cells"),
        ("patrol_tracks", "/api/patrols"),
    ];
    for who in [
        "admin", "planner", "chief", "patrol", "viewer", "chief2", "outsider",
    ] {
        let c = s.sign_in(who).await;
        for (id, json_route) in routes {
            let (st_json, json) = c.get(json_route).await;
            let (st, _, page) =
                fetch(&c, &format!("/ogc/collections/{id}/items?limit=10000")).await;
            if st_json != 200 {
                assert_eq!((st, st_json), (403, 403), "{who} {id}: {page}");
                continue;
            }
            assert_eq!(st, 200, "{who} {id}: {page}");
            assert_eq!(
                by_id(&page),
                by_id(&json),
                "{who} reads {id} as {json_route}"
            );
            // Party members are a queryable only of those who see them somewhere.
            let (_, _, q) = fetch(&c, &format!("/ogc/collections/{id}/queryables")).await;
            let (st_party, _, _) = fetch(
                &c,
                &format!("/ogc/collections/{id}/items?filter=party_members%3E0"),
            )
            .await;
            let party_queryable = q["properties"].get("party_members").is_some();
            assert_eq!(party_queryable, st_party == 200, "{who} {id}");
            if who == "patrol" {
                assert!(!party_queryable, "{who} {id}: {q}");
            }
            if who == "viewer" || who == "patrol" {
                let text = page.to_string();
                for secret in ["1380000000", "张伟", "王芳", "phone"] {
                    assert!(!text.contains(secret), "{who} {id} carries {secret}");
                }
            }
        }
    }
}

/// Features of a page by id, as a map of their properties.
fn ids(features: &[Value]) -> BTreeMap<String, Value> {
    features
        .iter()
        .map(|f| (f["id"].to_string(), f["properties"].clone()))
        .collect()
}

#[tokio::test]
async fn streets_and_party_cells_page_box_and_filter() {
    let (_db, s) = fixture().await;
    // Streets: the walking network's edges, paged one by one to the whole list.
    let (_, _, all) = fetch(&s, "/ogc/collections/streets/items?limit=10000").await;
    let total = all["numberMatched"].as_u64().expect("numberMatched") as usize;
    assert!(total >= 2, "{all}");
    let everything = all["features"].as_array().expect("features").clone();
    let (paged, pages) = all_pages(&s, "/ogc/collections/streets/items?limit=1").await;
    assert_eq!(pages, total);
    assert_eq!(ids(&paged), ids(&everything));
    assert!(everything
        .iter()
        .all(|f| f["geometry"]["type"] == "LineString" && f["properties"]["highway"].is_string()));
    // A box east of the footway holds only the residential street.
    let (_, _, east) = fetch(
        &s,
        "/ogc/collections/streets/items?bbox=105.72,32.40,105.74,32.41",
    )
    .await;
    let east = east["features"].as_array().expect("features").clone();
    assert!(!east.is_empty());
    assert!(
        east.iter()
            .all(|f| f["properties"]["highway"] == "residential"),
        "{east:?}"
    );
    // A filter by name keeps the named street and drops the footway.
    let (st, _, named) = fetch(
        &s,
        "/ogc/collections/streets/items?limit=10000&filter=name%3D%27%E7%94%B2%E8%B7%AF%27",
    )
    .await;
    assert_eq!(st, 200, "{named}");
    let named = named["features"].as_array().expect("features").clone();
    assert!(!named.is_empty() && named.len() < total);
    assert!(named.iter().all(|f| f["properties"]["name"] == "甲路"));
    let (_, _, q) = fetch(&s, "/ogc/collections/streets/queryables").await;
    assert_eq!(q["properties"]["geometry"]["format"], "geometry-linestring");
    // Party cells: paged one by one to the JSON route's list, for an admin and a chief.
    for who in ["admin", "chief"] {
        let c = s.sign_in(who).await;
        let (_, json) = c.get("/api/party/cells").await;
        let (paged, pages) = all_pages(&c, "/ogc/collections/party_cells/items?limit=1").await;
        let want = json["features"].as_array().expect("features").clone();
        assert!(!want.is_empty(), "{who}: {json}");
        assert_eq!(pages, want.len(), "{who}");
        assert_eq!(ids(&paged), ids(&want), "{who}");
        // A level filter equals the JSON route's level.
        let (st, _, second) = fetch(
            &c,
            "/ogc/collections/party_cells/items?limit=10000&filter=level%3D2",
        )
        .await;
        assert_eq!(st, 200, "{who}: {second}");
        let (_, json2) = c.get("/api/party/cells?level=2").await;
        assert_eq!(by_id(&second), by_id(&json2), "{who}");
    }
    // The west half of community C: its first grid and that grid's two cells.
    let west = "105.701,32.401,105.709,32.409";
    let (_, _, boxed) = fetch(
        &s,
        &format!("/ogc/collections/party_cells/items?bbox={west}&level=2"),
    )
    .await;
    let (_, json) = s.get(&format!("/api/grids?level=2&bbox={west}")).await;
    assert_eq!(
        by_id(&boxed).keys().collect::<Vec<_>>(),
        by_id(&json).keys().collect::<Vec<_>>()
    );
    assert_eq!(boxed["numberMatched"], 2);
    // Roles that may not read party data get 403, as on the JSON route.
    for who in ["viewer", "patrol"] {
        let c = s.sign_in(who).await;
        assert_eq!(c.get("/api/party/cells").await.0, 403, "{who}");
        assert_eq!(
            fetch(&c, "/ogc/collections/party_cells/items").await.0,
            403,
            "{who}"
        );
        let (_, _, cols) = fetch(&c, "/ogc/collections").await;
        assert!(
            !cols.to_string().contains("\"party_cells\""),
            "{who}: {cols}"
        );
    }
}

#[tokio::test]
async fn patrol_tracks_are_the_weeks_patrols() {
    let (_db, s) = fixture().await;
    // Two walks of the patrol in grid C0101 side by side, started twenty minutes ago (within this week).
    let start = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .max(wangge::domain::patrol::IsoWeek::of(chrono::Utc::now()).start());
    for (i, b) in [
        (105.701, 32.401, 105.704, 32.4035),
        (105.706, 32.401, 105.709, 32.4035),
    ]
    .into_iter()
    .enumerate()
    {
        let patrol = s.sign_in("patrol").await;
        let w = common::patrols::walk(b, start + chrono::Duration::seconds(i as i64), 20, 1);
        let body = common::patrols::whole(&[&format!("{C}0101")], &w, json!([]));
        let (st, _, v) = patrol
            .send(
                Method::PUT,
                &format!("/api/patrols/{}", uuid::Uuid::new_v4()),
                Some(&body),
                None,
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    // Paged one by one, they are the JSON list's, for an admin, the grid's chief and the
    // patrol.
    for who in ["admin", "chief", "patrol"] {
        let c = s.sign_in(who).await;
        let (_, json) = c.get("/api/patrols").await;
        let (paged, pages) = all_pages(&c, "/ogc/collections/patrol_tracks/items?limit=1").await;
        let want = json["features"].as_array().expect("features").clone();
        assert_eq!(want.len(), 2, "{who}: {json}");
        assert_eq!(pages, 2, "{who}");
        assert_eq!(ids(&paged), ids(&want), "{who}");
        let (_, _, page) = fetch(&c, "/ogc/collections/patrol_tracks/items").await;
        assert_eq!(by_id(&page), by_id(&json), "{who}");
    }
    // A box holds the walk inside it only; a filter by account keeps both or none.
    let (_, _, boxed) = fetch(
        &s,
        "/ogc/collections/patrol_tracks/items?bbox=105.7005,32.4005,105.7045,32.404",
    )
    .await;
    assert_eq!(boxed["numberMatched"], 1, "{boxed}");
    for (filter, n) in [("account%3D%27patrol%27", 2), ("account%3D%27nobody%27", 0)] {
        let (st, _, page) = fetch(
            &s,
            &format!("/ogc/collections/patrol_tracks/items?filter={filter}"),
        )
        .await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["numberMatched"], n, "{filter}: {page}");
    }
    // One track by its id.
    let id = boxed["features"][0]["id"].as_str().expect("id").to_string();
    let (st, _, one) = fetch(&s, &format!("/ogc/collections/patrol_tracks/items/{id}")).await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["id"], id.as_str());
}

#[tokio::test]
async fn compounds_show_where_their_community_does() {
    let (_db, s) = fixture().await;
    let area = |x0: f64, x1: f64| json!({ "type": "Polygon", "coordinates": [[[x0, 32.401], [x1, 32.401], [x1, 32.404], [x0, 32.404], [x0, 32.401]]] });
    let fc = json!({ "type": "FeatureCollection", "features": [
        { "type": "Feature", "geometry": area(105.701, 105.704), "properties": { "code": "CP1", "name": "锦绣花园", "kind": "residential", "occupancy_rate": 0.8, "built_year": 2020, "community_code": C } },
        { "type": "Feature", "geometry": area(105.716, 105.719), "properties": { "code": "CP2", "name": "恒信商务大厦", "kind": "commercial", "community_code": C } },
        { "type": "Feature", "geometry": area(105.722, 105.725), "properties": { "code": "CP3", "name": "走马岭小区", "kind": "residential", "community_code": C2 } },
    ]});
    s.state
        .store
        .import_layer(
            wangge::store::import::Layer::Compounds,
            serde_json::from_value(fc).expect("GeoJSON"),
            1.0,
            &wangge::store::audit::Actor::system("test"),
            &|_, _| {},
        )
        .await
        .expect("import");
    s.state.registry.refresh().await.expect("refresh");
    // Each role sees the compounds of the communities its communities route shows it.
    for who in ["admin", "chief", "viewer", "chief2", "outsider"] {
        let c = s.sign_in(who).await;
        let (_, comms) = c.get("/api/communities").await;
        let shown: Vec<&str> = comms["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|f| f["properties"]["code"].as_str())
            .collect();
        let want: Vec<&str> = [("CP1", C), ("CP2", C), ("CP3", C2)]
            .into_iter()
            .filter(|(_, comm)| shown.contains(comm))
            .map(|(code, _)| code)
            .collect();
        let (paged, _) = all_pages(&c, "/ogc/collections/compounds/items?limit=1").await;
        let mut got: Vec<&str> = paged
            .iter()
            .filter_map(|f| f["properties"]["code"].as_str())
            .collect();
        got.sort_unstable();
        assert_eq!(got, want, "{who}");
    }
    // A box and a filter.
    let codes = |page: &Value| -> Vec<String> {
        page["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|f| f["properties"]["code"].as_str().map(String::from))
            .collect()
    };
    let (_, _, west) = fetch(
        &s,
        "/ogc/collections/compounds/items?bbox=105.700,32.400,105.705,32.405",
    )
    .await;
    assert_eq!(codes(&west), ["CP1"], "{west}");
    assert_eq!(west["features"][0]["properties"]["built_year"], 2020);
    let (st, _, commercial) = fetch(
        &s,
        "/ogc/collections/compounds/items?filter=kind%3D%27commercial%27",
    )
    .await;
    assert_eq!(st, 200, "{commercial}");
    assert_eq!(codes(&commercial), ["CP2"]);
    let (_, _, q) = fetch(&s, "/ogc/collections/compounds/queryables").await;
    assert_eq!(q["properties"]["occupancy_rate"]["type"], "number");
}

/// Runs a GDAL program with the bearer token of `c`, returning its output (standard output,
/// then standard error).
async fn gdal(c: &Client, program: &str, args: Vec<String>) -> String {
    let token = c.token.clone().expect("a token");
    let program = program.to_string();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(&program)
            .args(&args)
            .env(
                "GDAL_HTTP_HEADERS",
                format!("Authorization: Bearer {token}"),
            )
            .env("CPL_DEBUG", "OFF")
            .output()
            .unwrap_or_else(|e| panic!("{program} (apt install gdal-bin): {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    })
    .await
    .expect("gdal")
}

#[tokio::test]
async fn gdal_lists_copies_and_filters() {
    let (_db, s) = fixture().await;
    let url = format!("OAPIF:{}/ogc", s.base);
    // ogrinfo: every collection with the feature count the items give.
    let listing = gdal(
        &s,
        "ogrinfo",
        vec![
            "--debug".into(),
            "on".into(),
            "-ro".into(),
            "-so".into(),
            "-al".into(),
            url.clone(),
        ],
    )
    .await;
    for id in COLLECTIONS {
        let (_, _, page) = fetch(&s, &format!("/ogc/collections/{id}/items?limit=1")).await;
        let count = page["numberMatched"].as_u64().expect("numberMatched");
        let block = listing
            .split("Layer name: ")
            .find(|b| b.starts_with(id))
            .unwrap_or_else(|| panic!("ogrinfo lists {id}:\n{listing}"));
        assert!(
            block.contains(&format!("Feature Count: {count}")),
            "{id} has {count} features:\n{listing}"
        );
    }
    // ogr2ogr: grids2 copied page by page to a GeoPackage equals the JSON list.
    let dir = std::env::temp_dir().join(format!("wangge-ogc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let gpkg = dir.join("grids2.gpkg");
    let geojson = dir.join("grids2.geojson");
    let copy = gdal(
        &s,
        "ogr2ogr",
        vec![
            "--debug".into(),
            "on".into(),
            "-f".into(),
            "GPKG".into(),
            gpkg.display().to_string(),
            url.clone(),
            "grids2".into(),
            "-oo".into(),
            "PAGE_SIZE=2".into(),
        ],
    )
    .await;
    assert!(
        copy.contains("items?limit=2") && copy.contains("offset=4"),
        "ogr2ogr pages through the collection two at a time:\n{copy}"
    );
    gdal(
        &s,
        "ogr2ogr",
        vec![
            "-f".into(),
            "GeoJSON".into(),
            geojson.display().to_string(),
            gpkg.display().to_string(),
        ],
    )
    .await;
    let copied: Value =
        serde_json::from_str(&std::fs::read_to_string(&geojson).expect("read")).expect("json");
    let (_, json) = s.get("/api/grids?level=2").await;
    let key = |fc: &Value| -> BTreeMap<String, (String, String)> {
        fc["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| {
                let p = &f["properties"];
                (
                    p["code"].as_str().unwrap_or_default().to_string(),
                    (
                        p["name"].as_str().unwrap_or_default().to_string(),
                        p["residents"].to_string(),
                    ),
                )
            })
            .collect()
    };
    assert_eq!(
        key(&copied),
        key(&json),
        "the GeoPackage holds /api/grids?level=2"
    );
    // A -where filter is sent to the server as a CQL2 filter.
    let found = gdal(
        &s,
        "ogrinfo",
        vec![
            "-ro".into(),
            "-al".into(),
            "-q".into(),
            "--debug".into(),
            "on".into(),
            "-where".into(),
            format!("code = '{C2}0101'"),
            url,
            "grids2".into(),
        ],
    )
    .await;
    assert!(
        found.contains(&format!("code (String) = {C2}0101")),
        "{found}"
    );
    assert!(
        !found.contains(&format!("code (String) = {C}0101")),
        "{found}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn qgis_opens_and_counts_every_collection() {
    let (_db, s) = fixture().await;
    let mut want = BTreeMap::new();
    let ids = [
        "communities",
        "grids1",
        "grids2",
        "buildings",
        "stations",
        "incidents",
    ];
    for id in ids {
        let (_, _, page) = fetch(&s, &format!("/ogc/collections/{id}/items?limit=1")).await;
        want.insert(
            id.to_string(),
            page["numberMatched"].as_u64().expect("count"),
        );
    }
    let script = root().join("tests/qgis/oapif_count.py");
    let base = format!("{}/ogc", s.base);
    let token = s.token.clone().expect("token");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/python3")
            .arg(script)
            .arg(base)
            .arg(token)
            .args(ids)
            .env("QT_QPA_PLATFORM", "offscreen")
            .output()
            .expect("python3 with QGIS (apt install python3-qgis)")
    })
    .await
    .expect("qgis");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeMap<String, u64> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect();
    assert_eq!(
        got, want,
        "QGIS reads every feature of every collection:\n{text}"
    );
    assert!(text.contains(&format!("grids2 5 {C}0101")), "{text}");
}
