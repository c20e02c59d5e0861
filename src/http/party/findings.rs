//! Routes of the rule findings: the list (JSON, GeoJSON, CSV) and the report.

use super::evaluation::{evaluated, visible_findings, View};
use super::{collection, communities, coords, point_feature, year_of};
use crate::domain::access::Visibility;
use crate::domain::party;
use crate::domain::party::{Finding, OrgKind, RuleId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Queried};
use crate::http::xlsx::csv_stream;
use crate::spatial::index::Snapshot;
use axum::response::{IntoResponse, Response};
use geo::Point;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A finding as the caller may see it.
pub(super) fn finding_json(snap: &Snapshot, f: &Finding, vis: Visibility) -> Value {
    let full = vis == Visibility::Full;
    let community = snap.communities.get(f.community_id);
    json!({
        "rule": f.rule,
        "title": f.rule.title(),
        "subject": f.subject,
        "community_code": community.map(|c| &c.code),
        "community_name": community.map(|c| &c.name),
        "grid_code": f.grid_id.and_then(|g| snap.grids.get(g)).map(|g| &g.code),
        "numbers": f.numbers,
        "person": if full { f.person.clone() } else { None },
        "message": f.message,
        "point": coords(f.point),
    })
}

/// Findings listed in one answer unless `limit` says otherwise, and at most.
pub(super) const FINDINGS_PAGE: i64 = 500;

pub(super) const FINDINGS_PAGE_MAX: i64 = 5_000;

/// Query of the findings and the report.
#[derive(Deserialize)]
pub struct FindingsQuery {
    community: Option<String>,
    rule: Option<String>,
    year: Option<i32>,
    format: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

pub(super) fn rule_of(q: &Option<String>) -> ApiResult<Option<RuleId>> {
    match q {
        None => Ok(None),
        Some(r) => Ok(Some(RuleId::parse(r).ok_or_else(|| {
            ApiError::invalid(
                "rule",
                format!(
                    "unknown rule {r:?}; rules: {}",
                    RuleId::ALL.map(RuleId::as_str).join(", ")
                ),
            )
        })?)),
    }
}

/// The position to list from: `after` is the `next` of the previous page, `RULE/CODE`.
pub(super) fn after_of(q: &Option<String>) -> ApiResult<Option<(RuleId, String)>> {
    let Some(a) = q else { return Ok(None) };
    let bad = || {
        ApiError::invalid(
            "after",
            format!("after is the next of a previous page (RULE/CODE), got {a:?}"),
        )
    };
    let (rule, code) = a.split_once('/').ok_or_else(bad)?;
    let rule = RuleId::parse(rule).ok_or_else(bad)?;
    Ok(Some((rule, code.to_string())))
}

/// The number of rules (a rule's position in counts by rule is `rule as usize`).
pub(super) const RULES: usize = RuleId::ALL.len();

/// The rules counted at least once, from counts by rule.
pub(super) fn rule_counts(counts: &[usize; RULES]) -> BTreeMap<RuleId, usize> {
    RuleId::ALL
        .iter()
        .filter(|r| counts[**r as usize] > 0)
        .map(|r| (*r, counts[*r as usize]))
        .collect()
}

/// Findings per rule (every rule, zeros included) of what is counted.
pub(super) fn by_rule_json(by_rule: &BTreeMap<RuleId, usize>) -> Vec<Value> {
    RuleId::ALL
        .iter()
        .map(|r| json!({ "rule": r, "title": r.title(), "count": by_rule.get(r).copied().unwrap_or(0) }))
        .collect()
}

/// `GET /api/party/findings?community=&rule=&year=&after=&limit=&format=json|geojson|csv`:
/// the broken rules the caller may see. The answer counts them all by rule and by community
/// (with a point to draw each community's count) and lists one page, in report order:
/// `limit` (default 500, at most 5,000) findings from `after` (the `next` of the page
/// before). `geojson` gives the page as map points; `csv` streams every finding.
pub async fn findings(Queried(st, caller, q): Queried<FindingsQuery>) -> ApiResult<Response> {
    let year = year_of(q.year)?;
    let rule = rule_of(&q.rule)?;
    let after = after_of(&q.after)?;
    let limit =
        crate::http::patrols::list_limit(q.limit, FINDINGS_PAGE, FINDINGS_PAGE_MAX)? as usize;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "geojson" | "csv") {
        return Err(ApiError::invalid(
            "format",
            format!("format is json, geojson or csv, not {format:?}"),
        ));
    }
    let snap = st.registry.snapshot();
    let wanted = communities(&snap, &caller, q.community.as_deref())?;
    let one = q
        .community
        .as_ref()
        .map(|_| wanted.first().copied().unwrap_or(-1));
    let (snap, evaluated) = evaluated(&st, year).await?;
    let view = visible_findings(&snap, &caller, evaluated);
    let keep = move |f: &Finding| {
        rule.is_none_or(|r| f.rule == r) && one.is_none_or(|c| f.community_id == c)
    };
    if format == "csv" {
        return Ok(findings_csv(snap, view, keep, year));
    }
    // Counted in arrays by rule (a city's zone has 190,000 findings to count).
    let mut by_rule = [0usize; RULES];
    let mut by_community: HashMap<i64, [usize; RULES]> = HashMap::new();
    let mut count = 0usize;
    let mut page: Vec<(&Finding, Visibility)> = Vec::new();
    let mut more = false;
    for (f, vis) in view.iter() {
        if one.is_some_and(|c| f.community_id != c) {
            continue;
        }
        by_rule[f.rule as usize] += 1;
        if rule.is_some_and(|r| f.rule != r) {
            continue;
        }
        by_community.entry(f.community_id).or_insert([0; RULES])[f.rule as usize] += 1;
        count += 1;
        let past = after
            .as_ref()
            .is_none_or(|(r, c)| (f.rule, f.subject.code.as_str()) > (*r, c.as_str()));
        if past {
            if page.len() < limit {
                page.push((f, vis));
            } else {
                more = true;
            }
        }
    }
    let next = if more {
        page.last()
            .map(|(f, _)| json!(format!("{}/{}", f.rule.as_str(), f.subject.code)))
    } else {
        None
    };
    let shown: Vec<Value> = page
        .iter()
        .map(|(f, vis)| finding_json(&snap, f, *vis))
        .collect();
    let by_rule = rule_counts(&by_rule);
    let by_community: BTreeMap<i64, [usize; RULES]> = by_community.into_iter().collect();
    let communities: Vec<Value> = by_community
        .iter()
        .filter_map(|(id, rules)| {
            let c = snap.communities.get(*id)?;
            let n: usize = rules.iter().sum();
            Some(json!({
                "code": c.code, "name": c.name, "count": n,
                "point": coords(snap.communities.interior_point(c.id)),
                "by_rule": rule_counts(rules).iter().map(|(r, n)| (r.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            }))
        })
        .collect();
    if format == "geojson" {
        let features: Vec<Value> = shown
            .into_iter()
            .map(|mut f| {
                let p = f
                    .get("point")
                    .and_then(|p| p.as_array())
                    .and_then(|a| Some(Point::new(a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
                if let Some(o) = f.as_object_mut() {
                    o.remove("point");
                }
                point_feature(p, f)
            })
            .collect();
        let mut fc = collection(features);
        fc["year"] = json!(year);
        fc["count"] = json!(count);
        fc["next"] = next.unwrap_or(Value::Null);
        return Ok(Json(fc).into_response());
    }
    Ok(Json(json!({
        "year": year,
        "count": count,
        "by_rule": by_rule_json(&by_rule),
        "communities": communities,
        "limit": limit,
        "next": next,
        "findings": shown,
    }))
    .into_response())
}

/// Columns of the findings export.
pub(super) const FINDING_COLUMNS: [&str; 11] = [
    "rule",
    "title",
    "subject_kind",
    "subject_code",
    "subject_name",
    "community_code",
    "community_name",
    "grid_code",
    "person",
    "message",
    "lon_lat",
];

/// Every finding of a view as CSV, written as it is sent (a thousand rows at a time).
pub(super) fn findings_csv(
    snap: Arc<Snapshot>,
    view: View,
    keep: impl Fn(&Finding) -> bool + Send + 'static,
    year: i32,
) -> Response {
    const ROWS: usize = 1_000;
    let n = view.shown.len();
    let chunks = (0..n).step_by(ROWS).map(move |from| {
        let mut w = csv::Writer::from_writer(Vec::new());
        for (s, vis) in &view.shown[from..(from + ROWS).min(n)] {
            let f = view.finding(s);
            if !keep(f) {
                continue;
            }
            let community = snap.communities.get(f.community_id);
            let grid = f.grid_id.and_then(|g| snap.grids.get(g));
            let person = if *vis == Visibility::Full {
                f.person.clone().unwrap_or_default()
            } else {
                String::new()
            };
            let kind = serde_json::to_value(f.subject.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let point = f
                .point
                .map(|p| format!("{:.6},{:.6}", p.x(), p.y()))
                .unwrap_or_default();
            let row: [&str; 11] = [
                f.rule.as_str(),
                f.rule.title(),
                &kind,
                &f.subject.code,
                &f.subject.name,
                community.map_or("", |c| c.code.as_str()),
                community.map_or("", |c| c.name.as_str()),
                grid.map_or("", |g| g.code.as_str()),
                &person,
                &f.message,
                &point,
            ];
            let _ = w.write_record(row);
        }
        w.into_inner().unwrap_or_default()
    });
    csv_stream(&format!("party-findings-{year}"), &FINDING_COLUMNS, chunks)
}

/// `GET /api/party/report?community=&year=&limit=`: per rule and per community, the
/// organisations, members and findings counted; the findings themselves are listed (the
/// first `limit`, default 500, in report order, with `next` to go on from in
/// `/api/party/findings`) as `findings`, and counted whole in `count`.
pub async fn report(Queried(st, caller, q): Queried<FindingsQuery>) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let limit =
        crate::http::patrols::list_limit(q.limit, FINDINGS_PAGE, FINDINGS_PAGE_MAX)? as usize;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let (snap, evaluated) = evaluated(&st, year).await?;
    let view = visible_findings(&snap, &caller, evaluated);
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    let orgs = st.store.party_org_counts(&ids).await?;
    let mut by_rule = [0usize; RULES];
    let mut by_community: HashMap<i64, [usize; RULES]> = HashMap::new();
    let mut count = 0usize;
    let mut listed = Vec::new();
    let mut next = None;
    for (f, vis) in view.iter() {
        if !wanted.contains(&f.community_id) {
            continue;
        }
        count += 1;
        by_rule[f.rule as usize] += 1;
        by_community.entry(f.community_id).or_insert([0; RULES])[f.rule as usize] += 1;
        if listed.len() < limit {
            listed.push(finding_json(&snap, f, vis));
            if listed.len() == limit {
                next = Some(format!("{}/{}", f.rule.as_str(), f.subject.code));
            }
        }
    }
    if count <= limit {
        next = None;
    }
    let communities: Vec<Value> = ids
        .iter()
        .filter_map(|id| snap.communities.get(*id))
        .map(|c| {
            let (members, full, welfare) = view
                .evaluated
                .communities
                .get(&c.id)
                .copied()
                .unwrap_or_default();
            let count = |k: OrgKind| {
                orgs.get(&(c.id, k.as_str().to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            json!({
                "code": c.code, "name": c.name,
                "point": coords(snap.communities.interior_point(c.id)),
                "members": members,
                "full_members": full,
                "organisations": {
                    "community_committee": count(OrgKind::CommunityCommittee),
                    "grid_branches": count(OrgKind::GridBranch),
                    "grid_groups": count(OrgKind::GridGroup),
                    "functional": count(OrgKind::Functional),
                },
                "welfare_orgs": welfare,
                "findings": by_community.get(&c.id).map(|n| {
                    rule_counts(n).into_iter().map(|(r, n)| (r.as_str(), n)).collect::<BTreeMap<&str, usize>>()
                }).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(json!({
        "year": year,
        "thresholds": party::thresholds(),
        "by_rule": by_rule_json(&rule_counts(&by_rule)),
        "communities": communities,
        "count": count,
        "limit": limit,
        "next": next,
        "findings": listed,
    })))
}
