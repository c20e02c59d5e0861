//! The monthly incident report (issue 14), against a real PostGIS: counts by category and by
//! status at the month's end, the median time to finish and the share overdue, per grid and
//! per community, only of the caller's grids; CSV and XLSX (read back by GDAL), in Chinese
//! or English for people; and bad queries refused by name.
//!
//! Incidents are reported and moved through the API; their times are then set in the past
//! (the server stamps each step with its own clock, and a month cannot be waited for).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::patrols::*;
use common::*;
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;
use wangge::domain::incident_month::Month;

/// The month before the current one (Asia/Shanghai), all of it in the past.
fn last_month() -> Month {
    let this = Month::of(Utc::now());
    let mut m = Month::of(this.start() - Duration::days(1));
    if m == this {
        m = Month::of(this.start() - Duration::days(20));
    }
    m
}

/// Reports an incident at `lon, lat` and takes `steps` (status, assignee) as the
/// chief, then moves its history to `reported_at` with the steps `hours` after it.
async fn incident(
    s: &TestServer,
    pool: &sqlx::PgPool,
    (lon, lat): (f64, f64),
    category: &str,
    reported_at: DateTime<Utc>,
    steps: &[(&str, i64)],
) -> Uuid {
    let chief = s.sign_in("chief").await;
    let id = Uuid::new_v4();
    let body = json!({ "category": category, "description": "月报测试", "lon": lon, "lat": lat,
                       "reported_at": reported_at.to_rfc3339() });
    let (st, _, v) = chief
        .send(
            Method::PUT,
            &format!("/api/incidents/{id}"),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    for (to, _) in steps {
        let mut b = json!({ "id": Uuid::new_v4(), "to": to });
        if *to == "assigned" {
            b["assignee"] = json!("PS1");
        }
        let (st, _, v) = chief
            .send(
                Method::POST,
                &format!("/api/incidents/{id}/transitions"),
                Some(&b),
                None,
            )
            .await;
        assert_eq!(st, 201, "{to}: {v}");
    }
    sqlx::query("UPDATE incident_events SET at = $2 WHERE incident_id = $1 AND step = 0")
        .bind(id)
        .bind(reported_at)
        .execute(pool)
        .await
        .expect("backdate the report");
    for (n, (_, hours)) in steps.iter().enumerate() {
        sqlx::query("UPDATE incident_events SET at = $3 WHERE incident_id = $1 AND step = $2")
            .bind(id)
            .bind(i32::try_from(n + 1).expect("few steps"))
            .bind(reported_at + Duration::hours(*hours))
            .execute(pool)
            .await
            .expect("backdate a step");
    }
    id
}

/// The CSV rows (BOM and title row taken off when `titled`), by grid code (a community's
/// row under its community code).
async fn rows(c: &Client, q: &str) -> (Vec<String>, HashMap<String, HashMap<String, String>>) {
    let r = c
        .raw(Method::GET, &format!("/api/incidents/report?{q}"))
        .send()
        .await
        .expect("report");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("text");
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    let header = records.remove(0);
    let by_key = records
        .into_iter()
        .map(|r| {
            let row: HashMap<String, String> = header.iter().cloned().zip(r).collect();
            let key = if row["level"] == "community" {
                row["community_code"].clone()
            } else {
                row["grid_code"].clone()
            };
            (key, row)
        })
        .collect();
    (header, by_key)
}

#[tokio::test]
async fn a_month_is_counted_per_grid_and_community_from_its_histories() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    add_patrol2(&s).await;
    staff_patrols(&s, &db.pool().await).await;
    let pool = db.pool().await;
    let m = last_month();
    let day = |d: i64| m.start() + Duration::days(d) + Duration::hours(2);
    let (c0101, c0102) = ((105.703, 32.402), (105.703, 32.407));
    // In time: assigned, started, resolved and verified within a day (finished after 20 h).
    incident(
        &s,
        &pool,
        c0101,
        "environment",
        day(1),
        &[
            ("assigned", 2),
            ("in_progress", 3),
            ("resolved", 10),
            ("verified", 20),
        ],
    )
    .await;
    // A hazard assigned after 30 h (limit 24 h), still assigned at the month's end: overdue, open.
    incident(
        &s,
        &pool,
        c0101,
        "safety_hazard",
        day(3),
        &[("assigned", 30)],
    )
    .await;
    // Dismissed after 6 h as a duplicate: finished, in time.
    incident(&s, &pool, c0102, "dispute", day(5), &[("closed", 6)]).await;
    // Reported two hours before the month ends and assigned an hour after: at the cut-off it
    // was still waiting, within its 24 h.
    incident(
        &s,
        &pool,
        c0102,
        "other",
        m.end() - Duration::hours(2),
        &[("assigned", 3)],
    )
    .await;
    // The month before is not this month's.
    incident(
        &s,
        &pool,
        c0101,
        "other",
        m.start() - Duration::days(3),
        &[],
    )
    .await;

    let (header, r) = rows(&s.client, &format!("month={m}")).await;
    assert_eq!(header[0], "level");
    assert_eq!(header.len(), 24);
    let g = &r[&format!("{C}0101")];
    let f = |row: &HashMap<String, String>, k: &str| row[k].clone();
    assert_eq!(f(g, "level"), "grid");
    assert_eq!(f(g, "grid1_code"), format!("{C}01"));
    assert_eq!(f(g, "reported"), "2");
    assert_eq!(
        (f(g, "environment"), f(g, "safety_hazard"), f(g, "other")),
        ("1".into(), "1".into(), "0".into())
    );
    assert_eq!(
        (f(g, "status_verified"), f(g, "status_assigned")),
        ("1".into(), "1".into())
    );
    assert_eq!((f(g, "open"), f(g, "finished")), ("1".into(), "1".into()));
    assert_eq!(f(g, "median_hours_to_finish"), "20");
    assert_eq!(
        (f(g, "overdue"), f(g, "overdue_pct")),
        ("1".into(), "50".into())
    );
    let g = &r[&format!("{C}0102")];
    assert_eq!(f(g, "reported"), "2");
    assert_eq!((f(g, "dispute"), f(g, "other")), ("1".into(), "1".into()));
    assert_eq!(
        (
            f(g, "status_closed"),
            f(g, "status_reported"),
            f(g, "status_assigned")
        ),
        ("1".into(), "1".into(), "0".into()),
        "a step after the cut-off is not seen"
    );
    assert_eq!(
        (
            f(g, "finished"),
            f(g, "median_hours_to_finish"),
            f(g, "overdue")
        ),
        ("1".into(), "6".into(), "0".into())
    );
    // A grid with no incidents is listed with zeros and no median or share.
    let g = &r[&format!("{C}0201")];
    assert_eq!(
        (
            f(g, "reported"),
            f(g, "median_hours_to_finish"),
            f(g, "overdue_pct")
        ),
        ("0".into(), String::new(), String::new())
    );
    // The community sums its grids: 4 reported, finished after 20 h and 6 h (median 13).
    let c = &r[C];
    assert_eq!(f(c, "level"), "community");
    assert_eq!(
        (f(c, "reported"), f(c, "finished"), f(c, "open")),
        ("4".into(), "2".into(), "2".into())
    );
    assert_eq!(
        (
            f(c, "median_hours_to_finish"),
            f(c, "overdue"),
            f(c, "overdue_pct")
        ),
        ("13".into(), "1".into(), "25".into())
    );
    assert!(
        r.contains_key(C2) && r.contains_key(&format!("{C2}0101")),
        "every community in scope"
    );

    // Patrol staff of grid C0201 see their grid and its community's sum of it, nothing else.
    let p2 = s.sign_in("patrol2").await;
    let (_, mine) = rows(&p2, &format!("month={m}")).await;
    let mut keys: Vec<&String> = mine.keys().collect();
    keys.sort();
    assert_eq!(keys, [&C.to_string(), &format!("{C}0201")]);
    assert_eq!(
        mine[C]["reported"], "0",
        "only its own grid's incidents are summed"
    );
    // One community at a time, and one grid.
    let (_, one) = rows(&s.client, &format!("month={m}&community={C2}")).await;
    assert_eq!(one.len(), 2);
    let (_, one) = rows(&s.client, &format!("month={m}&grid={C}0102")).await;
    assert_eq!(one[C]["reported"], "2");
    assert_eq!(one.len(), 2);
}

#[tokio::test]
async fn for_people_in_chinese_or_english_and_as_xlsx_with_the_same_figures() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    staff_patrols(&s, &db.pool().await).await;
    let pool = db.pool().await;
    let m = last_month();
    incident(
        &s,
        &pool,
        (105.703, 32.402),
        "environment",
        m.start() + Duration::days(2),
        &[("closed", 5)],
    )
    .await;

    let r = s
        .raw(
            Method::GET,
            &format!("/api/incidents/report?month={m}&lang=zh&community={C}"),
        )
        .send()
        .await
        .expect("zh");
    assert_eq!(r.status().as_u16(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert!(disposition.contains(&format!("{m}.csv")), "{disposition}");
    let text = r.text().await.expect("text");
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let title = lines.next().expect("title");
    assert!(
        title.starts_with(&format!("事件月报 · {m} · 范围：陵江社区 · 截至 ")),
        "{title}"
    );
    assert!(lines
        .next()
        .expect("header")
        .starts_with("层级,社区编码,社区,一级网格编码,网格编码,网格,上报件数,矛盾纠纷"));
    assert!(lines
        .next()
        .expect("community")
        .starts_with(&format!("社区,{C},陵江社区,,,,1,")));

    let r = s
        .raw(
            Method::GET,
            &format!("/api/incidents/report?month={m}&lang=en"),
        )
        .send()
        .await
        .expect("en");
    let text = r.text().await.expect("text");
    assert!(
        text.trim_start_matches('\u{feff}').starts_with(&format!(
            "Monthly incident report · {m} · scope: all · up to "
        )),
        "{text}"
    );

    // The XLSX holds the same table as the CSV (GDAL's XLSX driver reads it back).
    let xlsx = s
        .raw(
            Method::GET,
            &format!("/api/incidents/report?month={m}&format=xlsx"),
        )
        .send()
        .await
        .expect("xlsx");
    assert_eq!(xlsx.status().as_u16(), 200);
    assert!(xlsx.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains(&format!("incidents-{m}.xlsx")));
    let bytes = xlsx.bytes().await.expect("bytes");
    let gdal = xlsx_as_csv(&bytes);
    let ours = s
        .raw(Method::GET, &format!("/api/incidents/report?month={m}"))
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let cells = |t: &str| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(t.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| {
                r.expect("row")
                    .iter()
                    .map(|c| c.parse::<f64>().map_or(c.to_string(), |v| v.to_string()))
                    .collect()
            })
            .collect()
    };
    assert_eq!(cells(&gdal), cells(&ours));
    assert!(
        cells(&ours).len() >= 8,
        "two communities and their six grids"
    );
}

#[tokio::test]
async fn bad_queries_are_refused_by_name() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let next = Month::of(Utc::now()).next();
    for (q, field) in [
        ("month=2026-13", "month"),
        ("month=nov", "month"),
        (&format!("month={next}") as &str, "month"),
        ("format=pdf", "format"),
        ("lang=fr", "lang"),
    ] {
        let (st, e) = s.get(&format!("/api/incidents/report?{q}")).await;
        assert_eq!((st, e["field"].as_str()), (422, Some(field)), "{q}: {e}");
    }
    let (st, e) = s.get("/api/incidents/report?community=999").await;
    assert_eq!(st, 404, "{e}");
    let (st, e) = s.get("/api/incidents/report?weeks=3").await;
    assert!(st == 400 || st == 422, "an unknown parameter is named: {e}");
    assert!(e.to_string().contains("weeks"), "{e}");
    // The current month is read up to now.
    let (st, _) = s.get("/api/incidents/report").await;
    assert_eq!(st, 200);
}
