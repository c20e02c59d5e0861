//! `GET /api/assess/{year}`: the assessment of a year of each community the caller reads
//! (一述三评 with grade and warnings, 四诺两考, the 双报到 circular and talk list, the
//! year-start lists), and `GET /api/assess/{year}/settings`.

use super::{names, readable, year_of};
use crate::domain::access::Caller;
use crate::domain::assess::dual::{circular, member_mean, Notice, Rater};
use crate::domain::assess::pledges::{Met, Pledge, Tally};
use crate::domain::assess::rating::{assess, Grade, Rating};
use crate::domain::assess::Settings;
use crate::http::error::ApiResult;
use crate::http::extract::{Ctx, Json, Path, Queried};
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use crate::store::assess::{ListRow, MemberRatingRow, PledgeRow, ReportRow};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Query of a year's assessment: one community, by code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    community: Option<String>,
}

/// Everything stored of a year's assessment for some communities, grouped by community.
#[derive(Default)]
pub(super) struct YearData {
    pub(super) settings: Settings,
    pub(super) settings_set: bool,
    pub(super) reports: HashMap<i64, ReportRow>,
    pub(super) ratings: HashMap<i64, Vec<Rating>>,
    pub(super) pledges: HashMap<i64, Vec<PledgeRow>>,
    pub(super) units: HashMap<i64, Vec<Notice>>,
    pub(super) talk: HashMap<i64, Vec<Notice>>,
    pub(super) members: HashMap<i64, Vec<MemberRatingRow>>,
    pub(super) lists: HashMap<i64, Vec<ListRow>>,
}

/// Reads a year's assessment of `ids`.
pub(super) async fn load(st: &AppState, ids: &[i64], year: i32) -> ApiResult<YearData> {
    let s = &st.store;
    let ((settings, settings_set), reports, ratings, pledges, units, members, lists) = tokio::try_join!(
        s.assess_settings(year),
        s.assess_reports(ids, year),
        s.assess_ratings(ids, year),
        s.assess_pledges(ids, year),
        s.assess_units(ids, year),
        s.assess_member_ratings(ids, year),
        s.assess_lists(ids, year),
    )?;
    let mut d = YearData {
        settings,
        settings_set,
        ..YearData::default()
    };
    d.reports = reports.into_iter().map(|r| (r.community_id, r)).collect();
    for r in ratings {
        if let Some(x) = r.rating() {
            d.ratings.entry(r.community_id).or_default().push(x);
        }
    }
    for p in pledges {
        d.pledges.entry(p.community_id).or_default().push(p);
    }
    let mut by_community: HashMap<i64, Vec<_>> = HashMap::new();
    for u in units {
        by_community
            .entry(u.community_id)
            .or_default()
            .push(u.unit());
    }
    for (c, us) in by_community {
        let (all, talk) = circular(&us, &settings);
        d.units.insert(c, all);
        d.talk.insert(c, talk);
    }
    for m in members {
        d.members.entry(m.community_id).or_default().push(m);
    }
    for l in lists {
        d.lists.entry(l.community_id).or_default().push(l);
    }
    Ok(d)
}

/// A notice (a line of the circular) as JSON, with its reasons' sentences.
fn notice_json(n: &Notice) -> Value {
    json!({
        "code": n.unit.code, "name": n.unit.name, "score": n.unit.score,
        "claimed": n.unit.claimed, "completed": n.unit.completed,
        "standing": n.standing, "standing_name": n.standing.zh(),
        "reasons": n.reasons.iter().map(|r| {
            let mut v = json!(r);
            v["message"] = json!(r.message());
            v
        }).collect::<Vec<_>>(),
    })
}

/// The pledges of a community: a tally, and each member's pledges when names are shown.
fn pledges_json(rows: &[PledgeRow], named: bool) -> (Value, usize) {
    let pledges: Vec<Pledge> = rows.iter().filter_map(PledgeRow::pledge).collect();
    let tally = Tally::of(&pledges);
    let mut members: BTreeMap<&str, (&str, Vec<Value>)> = BTreeMap::new();
    if named {
        for r in rows {
            let Some(p) = r.pledge() else { continue };
            members
                .entry(&r.person_code)
                .or_insert((&r.name, vec![]))
                .1
                .push(json!({
                    "kind": p.kind, "kind_name": p.kind.zh(), "target": p.target,
                    "annual": p.annual, "annual_name": p.annual.map(Met::zh), "annual_note": p.annual_note,
                    "term": p.term, "term_name": p.term.map(Met::zh), "term_note": p.term_note,
                }));
        }
    }
    let members: Vec<Value> = members
        .into_iter()
        .map(|(code, (name, pledges))| json!({ "person_code": code, "name": name, "pledges": pledges }))
        .collect();
    let v = json!({
        "tally": tally,
        "members": if named { json!(members) } else { Value::Null },
    });
    (v, tally.annual_not_met())
}

/// The 双报到 members' ratings: each member when names are shown, else the counts.
fn members_json(rows: &[MemberRatingRow], named: bool, s: &Settings) -> Value {
    let mut by_person: BTreeMap<&str, (&MemberRatingRow, Option<f64>, Option<f64>)> =
        BTreeMap::new();
    for r in rows {
        let e = by_person.entry(&r.person_code).or_insert((r, None, None));
        match r.rater() {
            Some(Rater::Community) => e.1 = Some(r.score),
            Some(Rater::Unit) => e.2 = Some(r.score),
            None => {}
        }
    }
    let mut poor = 0;
    let mut list = vec![];
    for (code, (r, community, unit)) in &by_person {
        let scores: Vec<f64> = [*community, *unit].into_iter().flatten().collect();
        let mean = member_mean(&scores);
        let is_poor = mean.is_some_and(|m| m < s.talk_below);
        poor += usize::from(is_poor);
        if named {
            list.push(json!({
                "person_code": code, "name": r.name, "unit_code": r.unit_code,
                "community_score": community, "unit_score": unit, "mean": mean, "poor": is_poor,
            }));
        }
    }
    json!({
        "rated": by_person.len(),
        "poor": poor,
        "list": if named { json!(list) } else { Value::Null },
    })
}

/// One community's assessment of the year as JSON.
pub(super) fn community_json(snap: &Snapshot, caller: &Caller, d: &YearData, id: i64) -> Value {
    let Some(c) = snap.communities.get(id) else {
        return Value::Null;
    };
    let named = names(snap, caller, id);
    let report = d.reports.get(&id);
    let ratings = d.ratings.get(&id).map(Vec::as_slice).unwrap_or(&[]);
    let (pledges, not_met) =
        pledges_json(d.pledges.get(&id).map(Vec::as_slice).unwrap_or(&[]), named);
    let outcome = assess(report.is_some(), ratings, not_met, &d.settings);
    let mut lists: BTreeMap<&str, Vec<&str>> = ["projects", "posts", "activities"]
        .into_iter()
        .map(|l| (l, vec![]))
        .collect();
    for l in d.lists.get(&id).into_iter().flatten() {
        lists.entry(&l.list).or_default().push(&l.item);
    }
    let report = report.map(|r| {
        json!({
            "secretary": if named { r.secretary.clone() } else { None },
            "document": r.document, "summary": r.summary, "reported_on": r.reported_on,
        })
    });
    json!({
        "code": c.code,
        "name": c.name,
        "report": report,
        "ratings": ratings.iter().map(|r| json!({
            "layer": r.layer, "layer_name": r.layer.zh(), "weight": r.layer.weight(&d.settings),
            "score": r.score, "raters": r.raters,
        })).collect::<Vec<_>>(),
        "score": outcome.score,
        "grade": outcome.grade,
        "grade_name": outcome.grade.map(Grade::zh),
        "warnings": outcome.warnings.iter().map(|w| {
            let mut v = json!(w);
            v["message"] = json!(w.message());
            v
        }).collect::<Vec<_>>(),
        "pledges": pledges,
        "units": d.units.get(&id).into_iter().flatten().map(notice_json).collect::<Vec<_>>(),
        "talk": d.talk.get(&id).into_iter().flatten().map(notice_json).collect::<Vec<_>>(),
        "members": members_json(d.members.get(&id).map(Vec::as_slice).unwrap_or(&[]), named, &d.settings),
        "lists": lists,
    })
}

/// `GET /api/assess/{year}?community=`: the year's assessment of each community the caller
/// reads (or of one), in code order, with the settings it was judged by.
pub async fn year(
    Path(year): Path<i32>,
    Queried(st, caller, q): Queried<YearQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let snap = st.registry.snapshot();
    let ids = readable(&snap, &caller, q.community.as_deref())?;
    let d = load(&st, &ids, year).await?;
    let communities: Vec<Value> = ids
        .iter()
        .map(|id| community_json(&snap, &caller, &d, *id))
        .filter(|v| !v.is_null())
        .collect();
    Ok(Json(json!({
        "year": year,
        "settings": d.settings,
        "settings_set": d.settings_set,
        "communities": communities,
    })))
}

/// `GET /api/assess/{year}/settings`: the settings of the year, whether they were set, and
/// the defaults.
pub async fn settings(Path(year): Path<i32>, Ctx { st, .. }: Ctx) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let (s, set) = st.store.assess_settings(year).await?;
    Ok(Json(json!({
        "year": year, "settings": s, "set": set, "defaults": Settings::default(),
    })))
}
