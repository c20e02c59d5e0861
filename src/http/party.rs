//! Routes of the party organisations: cells and their members, functional organisations,
//! officers, social organisations, 双报到 units, members, projects and posts; the rule
//! findings (JSON, a report, and GeoJSON for the map); the boundary-change preview; and the
//! full re-assignment of members from the index.
//!
//! Visibility: party data never reaches patrol or viewer accounts (the gate); at `Counts`
//! (planners, chiefs outside their grids) answers carry numbers only, never a person's name
//! or code; names need `Full`. Handlers assemble facts from the index and the store and
//! leave every rule to `domain::party`.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::params;
use super::registry::{checked_batch, geometry_work, Batch, Stop};
use super::AppState;
use crate::domain::access::{Area, Caller, Place, Role, Visibility};
use crate::domain::party::{
    self, check_year, AssociationKind, CellFacts, CommunityFacts, Facts, Finding, OfficerRole,
    OrgForm, OrgKind, RuleId, SubjectKind,
};
use crate::domain::registry::Grid;
use crate::domain::GridLevel;
use crate::spatial::assign::{self, Overlay, Proposed, Refusal, NEW_ID_BASE};
use crate::spatial::index::Snapshot;
use crate::spatial::shape::point_from_geojson;
use crate::store::grids::GridChange;
use crate::store::party::{
    AssociationInput, AttachKind, DualKey, Org, OrgInput, Owned, ProjectInput, UnitInput,
};
use crate::store::{ParentFault, StoreError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use geo::{InteriorPoint, MultiPolygon, Point};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// The current year in China, the default year of the 双报到 rules.
fn this_year() -> i32 {
    chrono::Utc::now().with_timezone(&params::china()).year()
}

fn year_of(q: Option<i32>) -> ApiResult<i32> {
    let y = q.unwrap_or_else(this_year);
    check_year(y, "year").map_err(|e| ApiError::invalid(&e.field, e.message))?;
    Ok(y)
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("{what} is outside your reach"),
    )
}

fn interior(mp: &MultiPolygon<f64>) -> Option<Point<f64>> {
    mp.interior_point()
}

fn coords(p: Option<Point<f64>>) -> Value {
    p.map_or(Value::Null, |p| json!([p.x(), p.y()]))
}

fn point_feature(p: Option<Point<f64>>, properties: Value) -> Value {
    json!({
        "type": "Feature",
        "geometry": p.map(|p| json!({ "type": "Point", "coordinates": [p.x(), p.y()] })),
        "properties": properties,
    })
}

fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// How much the caller sees of a grid (by id) or, without one, of a community.
fn visibility(snap: &Snapshot, caller: &Caller, grid: Option<i64>, community: i64) -> Visibility {
    let place = grid
        .and_then(|g| snap.grids.get(g))
        .and_then(|g| snap.place_of_grid(g))
        .or_else(|| {
            snap.communities
                .get(community)
                .map(|c| snap.place_of_community(c))
        });
    place.map_or(Visibility::Hidden, |p| caller.visibility(&p))
}

/// Communities the caller sees (optionally one, by code: 404 when unknown or hidden).
fn communities(snap: &Snapshot, caller: &Caller, code: Option<&str>) -> ApiResult<Vec<i64>> {
    let seen = |id: i64| visibility(snap, caller, None, id) != Visibility::Hidden;
    match code {
        Some(code) => match snap.communities.by_code(code) {
            Some(c) if seen(c.id) => Ok(vec![c.id]),
            _ => Err(ApiError::not_found(format!("community {code} not found"))),
        },
        None => Ok(snap
            .communities
            .items
            .iter()
            .filter(|c| seen(c.id))
            .map(|c| c.id)
            .collect()),
    }
}

/// The place of a community, for reach checks.
fn community_place(snap: &Snapshot, id: i64) -> Option<Place> {
    snap.communities.get(id).map(|c| snap.place_of_community(c))
}

/// Cell facts of current grids: members from the stored assignments, organisations,
/// chiefs and staff; first-level counts rolled up from all their children.
async fn cell_facts(st: &AppState, snap: &Snapshot, grids: &[&Grid]) -> ApiResult<Vec<CellFacts>> {
    let ids: Vec<i64> = grids.iter().map(|g| g.id).collect();
    let mut l2: Vec<i64> = grids
        .iter()
        .filter(|g| g.level == GridLevel::Second)
        .map(|g| g.id)
        .collect();
    for g in grids.iter().filter(|g| g.level == GridLevel::First) {
        l2.extend(snap.grids.children(g.id).map(|c| c.id));
    }
    l2.sort_unstable();
    l2.dedup();
    let counts = st.store.cell_counts(Some(&l2)).await?;
    let orgs = st.store.cell_orgs(Some(&ids)).await?;
    let chiefs = st.store.grid_chiefs(Some(&ids)).await?;
    Ok(cells_of(snap, grids, &counts, &orgs, &chiefs))
}

fn cells_of(
    snap: &Snapshot,
    grids: &[&Grid],
    counts: &HashMap<i64, (i64, i64)>,
    orgs: &HashMap<i64, Org>,
    chiefs: &HashMap<i64, party::ChiefFacts>,
) -> Vec<CellFacts> {
    let mut cells: Vec<CellFacts> = grids
        .iter()
        .map(|g| {
            let (members, full) = counts.get(&g.id).copied().unwrap_or_default();
            CellFacts {
                grid_id: g.id,
                code: g.code.clone(),
                name: g.name.clone(),
                level: g.level,
                parent_id: g.parent_id,
                community_id: g.community_id,
                org: orgs.get(&g.id).map(Org::facts),
                members,
                full,
                chief: chiefs.get(&g.id).cloned(),
                staff_members: snap
                    .staff
                    .of_grid(g.id)
                    .iter()
                    .filter(|a| a.role == "member")
                    .count() as i64,
                point: interior(&g.geom),
            }
        })
        .collect();
    // First-level cells count every child, listed or not.
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for c in cells.iter().filter(|c| c.level == GridLevel::First) {
        let mut s = (0, 0);
        for k in snap.grids.children(c.grid_id) {
            let (m, f) = counts.get(&k.id).copied().unwrap_or_default();
            s.0 += m;
            s.1 += f;
        }
        sums.insert(c.grid_id, s);
    }
    for c in cells.iter_mut().filter(|c| c.level == GridLevel::First) {
        let (m, f) = sums.get(&c.grid_id).copied().unwrap_or_default();
        c.members = m;
        c.full = f;
    }
    cells
}

/// Everything the rules look at in the given communities.
async fn facts(st: &AppState, snap: &Snapshot, communities: &[i64], year: i32) -> ApiResult<Facts> {
    let wanted: HashSet<i64> = communities.iter().copied().collect();
    let grids: Vec<&Grid> = snap
        .grids
        .items
        .iter()
        .filter(|g| wanted.contains(&g.community_id))
        .collect();
    let cells = cell_facts(st, snap, &grids).await?;
    let data = st.store.party_rule_data(communities, year).await?;
    let community_point = |id: i64| snap.communities.interior_point(id);
    let mut associations = data.associations;
    for a in &mut associations {
        a.point = a.point.or_else(|| community_point(a.community_id));
    }
    let mut units = data.units;
    for u in &mut units {
        u.point = u.point.or_else(|| community_point(u.community_id));
    }
    let mut members = data.members;
    for m in &mut members {
        m.point = m.point.or_else(|| community_point(m.community_id));
    }
    Ok(Facts {
        year,
        cells,
        compounds: data.compounds,
        buildings: data.buildings,
        associations,
        units,
        members,
        communities: communities
            .iter()
            .filter_map(|id| snap.communities.get(*id))
            .map(|c| CommunityFacts {
                id: c.id,
                code: c.code.clone(),
                name: c.name.clone(),
                welfare_orgs: data.welfare_orgs.get(&c.id).copied().unwrap_or(0),
                point: interior(&c.geom),
            })
            .collect(),
    })
}

/// A finding as the caller may see it.
fn finding_json(snap: &Snapshot, f: &Finding, vis: Visibility) -> Value {
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

/// The rule findings of every community for one year, evaluated once per state of the data
/// and shared by every request until something changes: the findings list, the report, the
/// map layer and the export all read it. Writes of anything the rules look at (grids,
/// buildings, people, staff, party data) record a change in the change log, whose number
/// keys the evaluation, so every server process notices a write of any other.
#[derive(Debug)]
pub struct Evaluated {
    /// The change number of the data evaluated (at least).
    seq: i64,
    /// The year.
    year: i32,
    /// Every finding of every community, in report order (rule, subject code).
    findings: Vec<Finding>,
    /// Members, full members and welfare organisations per community id.
    communities: HashMap<i64, (i64, i64, i64)>,
    /// The places findings sit at, (grid, community): visibility is decided once per place.
    places: Vec<(Option<i64>, i64)>,
    /// Each finding's place, by position in `places`.
    place_of: Vec<u32>,
}

/// Evaluations kept: the years asked for lately.
const EVALUATIONS_KEPT: usize = 4;
/// Time one evaluation of the whole zone's rules may take on the work pool.
const EVALUATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// The latest evaluations (see [`Evaluated`]), one per year, and a lock so that requests
/// arriving together while none is current wait for one evaluation rather than each
/// starting its own.
#[derive(Default, Debug)]
pub struct FindingsCache {
    kept: std::sync::Mutex<Vec<Arc<Evaluated>>>,
    evaluating: tokio::sync::Mutex<()>,
}

impl FindingsCache {
    fn current(&self, seq: i64, year: i32) -> Option<Arc<Evaluated>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|e| e.year == year && e.seq == seq)
            .cloned()
    }

    fn keep(&self, e: Arc<Evaluated>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|k| k.year != e.year);
        kept.insert(0, e);
        kept.truncate(EVALUATIONS_KEPT);
    }
}

/// Layers of the change log whose changes the rules look at.
const PARTY_LAYERS: [&str; 7] = [
    "all",
    "communities",
    "grids",
    "buildings",
    "people",
    "staff",
    "party",
];

/// The evaluation of `year` for the current data, from the cache or made now (and kept).
/// The number of the latest change the rules look at is read from the database before the
/// facts, so the facts are at least as new as the number they are kept under; the index is
/// brought up to that number first, since grids and staff come from it.
async fn evaluated(st: &AppState, year: i32) -> ApiResult<(Arc<Snapshot>, Arc<Evaluated>)> {
    let cache = &st.party_findings;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if st.registry.snapshot().seq < seq {
        st.after_change().await;
    }
    let snap = st.registry.snapshot();
    if let Some(e) = cache.current(seq, year) {
        return Ok((snap, e));
    }
    let _one = cache.evaluating.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    let snap = st.registry.snapshot();
    if let Some(e) = cache.current(seq, year) {
        return Ok((snap, e));
    }
    let ids: Vec<i64> = snap.communities.items.iter().map(|c| c.id).collect();
    let facts = facts(st, &snap, &ids, year).await?;
    let e = crate::work::heavy(EVALUATION_BUDGET, move || {
        let mut findings = party::evaluate(&facts);
        crate::work::checkpoint()?;
        findings.sort_by(|a, b| (a.rule, &a.subject.code).cmp(&(b.rule, &b.subject.code)));
        let mut communities: HashMap<i64, (i64, i64, i64)> = facts
            .communities
            .iter()
            .map(|c| (c.id, (0, 0, c.welfare_orgs)))
            .collect();
        for c in facts.cells.iter().filter(|c| c.level == GridLevel::First) {
            let e = communities.entry(c.community_id).or_default();
            e.0 += c.members;
            e.1 += c.full;
        }
        let mut places: Vec<(Option<i64>, i64)> = Vec::new();
        let mut place_at: HashMap<(Option<i64>, i64), u32> = HashMap::new();
        let place_of = findings
            .iter()
            .map(|f| {
                *place_at
                    .entry((f.grid_id, f.community_id))
                    .or_insert_with(|| {
                        places.push((f.grid_id, f.community_id));
                        (places.len() - 1) as u32
                    })
            })
            .collect();
        Ok(Evaluated {
            seq,
            year,
            findings,
            communities,
            places,
            place_of,
        })
    })
    .await?;
    let e = Arc::new(e);
    // Kept only when the index had caught up with the change log (else made again next time).
    if snap.seq >= seq {
        cache.keep(Arc::clone(&e));
    }
    Ok((snap, e))
}

/// Keeps the evaluations of the years asked for lately up to date in the background (checked
/// every `every`), so that a request after a change rarely waits for one. At start it makes
/// this year's and those of the latest years with volunteer records ([`EVALUATIONS_KEPT`] in
/// all): the annual assessment (一述三评, the 双报到 ratings) looks back at the year just ended
/// each January, and a year without records has nothing to assess. This year's is always kept
/// up to date; any other year is evaluated when first asked (about 3 s at scale 100) and kept
/// while it is among the years asked for last.
pub fn spawn_findings_keeper(st: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut years = vec![this_year()];
        match st.store.party_record_years(EVALUATIONS_KEPT as i64).await {
            Ok(recorded) => {
                for y in recorded {
                    if years.len() < EVALUATIONS_KEPT && !years.contains(&y) {
                        years.push(y);
                    }
                }
            }
            Err(e) => tracing::warn!("reading the years of volunteer records failed: {e}"),
        }
        loop {
            for y in &years {
                if let Err(e) = evaluated(&st, *y).await {
                    tracing::warn!("evaluating the party rules of {y} failed: {}", e.message);
                }
            }
            if let Err(e) = member_counts(&st).await {
                tracing::warn!("counting the party members failed: {}", e.message);
            }
            if let Err(e) = active_orgs(&st).await {
                tracing::warn!("reading the party organisations failed: {}", e.message);
            }
            if let Err(e) = dual_keys(&st, this_year()).await {
                tracing::warn!("reading the 双报到 members failed: {}", e.message);
            }
            tokio::time::sleep(every).await;
            let kept = st
                .party_findings
                .kept
                .lock()
                .map(|k| k.iter().map(|e| e.year).collect::<Vec<_>>());
            if let Ok(k) = kept {
                years = k;
            }
            if !years.contains(&this_year()) {
                years.push(this_year());
            }
        }
    });
}

/// A finding shown: one of the evaluation's (by position) or one made for this caller (the
/// per-community sum of member findings that a `Counts` caller sees instead of names).
enum Shown {
    At(usize),
    Made(Box<Finding>),
}

/// What one caller sees of an evaluation, in report order.
struct View {
    evaluated: Arc<Evaluated>,
    shown: Vec<(Shown, Visibility)>,
}

impl View {
    fn finding<'a>(&'a self, s: &'a Shown) -> &'a Finding {
        match s {
            Shown::At(i) => &self.evaluated.findings[*i],
            Shown::Made(f) => f,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Finding, Visibility)> {
        self.shown.iter().map(|(s, v)| (self.finding(s), *v))
    }
}

/// The findings the caller may see, each with its visibility. At `Counts`, findings about
/// one member are summed per community, so that no name or code leaves. Visibility is
/// decided once per grid (or community), not once per finding.
fn visible_findings(snap: &Snapshot, caller: &Caller, evaluated: Arc<Evaluated>) -> View {
    let mut shown = Vec::new();
    let mut counted: BTreeMap<i64, i64> = BTreeMap::new();
    let mut year = None;
    let seen: Vec<Visibility> = evaluated
        .places
        .iter()
        .map(|(g, c)| visibility(snap, caller, *g, *c))
        .collect();
    for (i, f) in evaluated.findings.iter().enumerate() {
        let vis = seen[evaluated.place_of[i] as usize];
        match vis {
            Visibility::Hidden | Visibility::Addresses => {}
            Visibility::Counts if f.subject.kind == SubjectKind::Member => {
                *counted.entry(f.community_id).or_default() += 1;
                year = f.numbers.get("year").cloned();
            }
            _ => shown.push((Shown::At(i), vis)),
        }
    }
    let mut view = View { evaluated, shown };
    if counted.is_empty() {
        return view;
    }
    for (community, n) in counted {
        let Some(c) = snap.communities.get(community) else {
            continue;
        };
        let mut numbers = serde_json::Map::new();
        numbers.insert("members_without_post".into(), json!(n));
        numbers.insert("year".into(), year.clone().unwrap_or(Value::Null));
        view.shown.push((
            Shown::Made(Box::new(Finding {
                rule: RuleId::MemberWithoutPost,
                subject: party::Subject {
                    kind: SubjectKind::Community,
                    id: c.id,
                    code: c.code.clone(),
                    name: c.name.clone(),
                },
                community_id: c.id,
                grid_id: None,
                point: snap.communities.interior_point(c.id),
                numbers,
                person: None,
                message: format!("{}有{n}名报到党员本年度未认领志愿服务岗位", c.name),
            })),
            Visibility::Counts,
        ));
    }
    let mut order: Vec<(Shown, Visibility)> = std::mem::take(&mut view.shown);
    order.sort_by(|a, b| {
        let (fa, fb) = (view.finding(&a.0), view.finding(&b.0));
        (fa.rule, &fa.subject.code).cmp(&(fb.rule, &fb.subject.code))
    });
    view.shown = order;
    view
}

/// Findings listed in one answer unless `limit` says otherwise, and at most.
const FINDINGS_PAGE: i64 = 500;
const FINDINGS_PAGE_MAX: i64 = 5_000;

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

fn rule_of(q: &Option<String>) -> ApiResult<Option<RuleId>> {
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
fn after_of(q: &Option<String>) -> ApiResult<Option<(RuleId, String)>> {
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
const RULES: usize = RuleId::ALL.len();

/// The rules counted at least once, from counts by rule.
fn rule_counts(counts: &[usize; RULES]) -> BTreeMap<RuleId, usize> {
    RuleId::ALL
        .iter()
        .filter(|r| counts[**r as usize] > 0)
        .map(|r| (*r, counts[*r as usize]))
        .collect()
}

/// Findings per rule (every rule, zeros included) of what is counted.
fn by_rule_json(by_rule: &BTreeMap<RuleId, usize>) -> Vec<Value> {
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
pub async fn findings(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Response> {
    let year = year_of(q.year)?;
    let rule = rule_of(&q.rule)?;
    let after = after_of(&q.after)?;
    let limit = super::patrols::list_limit(q.limit, FINDINGS_PAGE, FINDINGS_PAGE_MAX)? as usize;
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
const FINDING_COLUMNS: [&str; 11] = [
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
fn findings_csv(
    snap: Arc<Snapshot>,
    view: View,
    keep: impl Fn(&Finding) -> bool + Send + 'static,
    year: i32,
) -> Response {
    use axum::http::{header as h, HeaderValue};
    const ROWS: usize = 1_000;
    let header = {
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let _ = w.write_record(FINDING_COLUMNS);
        w.into_inner().unwrap_or_default()
    };
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
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(w.into_inner().unwrap_or_default()))
    });
    let body = futures::stream::iter(std::iter::once(Ok(bytes::Bytes::from(header))).chain(chunks));
    let mut r = axum::body::Body::from_stream(body).into_response();
    r.headers_mut().insert(
        h::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"party-findings-{year}.csv\""
    )) {
        r.headers_mut().insert(h::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /api/party/report?community=&year=&limit=`: per rule and per community, the
/// organisations, members and findings counted; the findings themselves are listed (the
/// first `limit`, default 500, in report order, with `next` to go on from in
/// `/api/party/findings`) as `findings`, and counted whole in `count`.
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let limit = super::patrols::list_limit(q.limit, FINDINGS_PAGE, FINDINGS_PAGE_MAX)? as usize;
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
        "thresholds": {
            "min_full_for_branch": party::MIN_FULL_FOR_BRANCH,
            "max_branch_members": party::MAX_BRANCH_MEMBERS,
            "committee_from_members": party::COMMITTEE_FROM_MEMBERS,
            "committee_min_seats": party::COMMITTEE_MIN_SEATS,
            "compound_min_full": party::COMPOUND_MIN_FULL,
            "compound_min_residents": party::COMPOUND_MIN_RESIDENTS,
            "building_min_employees": party::BUILDING_MIN_EMPLOYEES,
            "association_min_full": party::ASSOCIATION_MIN_FULL,
            "new_compound_occupancy": party::NEW_COMPOUND_OCCUPANCY,
            "new_compound_max_age_years": party::NEW_COMPOUND_MAX_AGE_YEARS,
            "min_welfare_orgs": party::MIN_WELFARE_ORGS,
            "min_unit_projects": party::MIN_UNIT_PROJECTS,
            "min_member_posts": party::MIN_MEMBER_POSTS,
        },
        "by_rule": by_rule_json(&rule_counts(&by_rule)),
        "communities": communities,
        "count": count,
        "limit": limit,
        "next": next,
        "findings": listed,
    })))
}

/// Query of the cells layer.
#[derive(Deserialize)]
pub struct CellsQuery {
    community: Option<String>,
    level: Option<i64>,
}

/// `GET /api/party/cells?community=&level=`: the grids as party cells, for the map: members,
/// full members, organisation, committee, staff and the cell's findings.
pub async fn cells(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CellsQuery>,
) -> ApiResult<Json<Value>> {
    let level = match q.level {
        None => None,
        Some(n) => Some(
            GridLevel::from_number(n)
                .ok_or_else(|| ApiError::invalid("level", "level must be 1 or 2"))?,
        ),
    };
    let snap = st.registry.snapshot();
    let ids: HashSet<i64> = communities(&snap, &caller, q.community.as_deref())?
        .into_iter()
        .collect();
    let grids: Vec<&Grid> = snap
        .grids
        .items
        .iter()
        .filter(|g| ids.contains(&g.community_id) && level.is_none_or(|l| g.level == l))
        .filter(|g| visibility(&snap, &caller, Some(g.id), g.community_id) != Visibility::Hidden)
        .collect();
    if q.community.is_none() && grids.len() > MAX_CELLS {
        let grids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        return community_cells(&st, grids).await;
    }
    let cells = cell_facts(&st, &snap, &grids).await?;
    let findings = party::cell_findings(&cells);
    let mut rules: HashMap<i64, Vec<RuleId>> = HashMap::new();
    for f in &findings {
        if let Some(g) = f.grid_id {
            rules.entry(g).or_default().push(f.rule);
        }
    }
    let features = grids
        .iter()
        .zip(&cells)
        .map(|(g, c)| {
            let rules = rules.remove(&g.id).unwrap_or_default();
            json!({
                "type": "Feature", "id": g.id,
                "geometry": geojson::Geometry::from(&g.geom),
                "properties": {
                    "code": g.code, "name": g.name, "level": g.level.number(),
                    "parent_code": g.parent_id.and_then(|p| snap.grids.get(p)).map(|p| &p.code),
                    "community_code": snap.communities.get(g.community_id).map(|c| &c.code),
                    "org_code": c.org.as_ref().map(|o| &o.code),
                    "org_name": c.org.as_ref().map(|o| &o.name),
                    "members": c.members, "full_members": c.full,
                    "probationary_members": c.members - c.full,
                    "committee_seats": c.org.as_ref().map_or(0, |o| o.seats),
                    "has_committee": c.org.as_ref().is_some_and(|o| o.has_committee()),
                    "chief": snap.staff.chief(g.id).map(|s| &s.name),
                    "grid_members": c.staff_members,
                    "findings": rules,
                    "status": if rules.is_empty() { "ok" } else { "failing" },
                }
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// Cells listed one by one by `GET /api/party/cells` without a `community`; past it the
/// answer has the communities instead (see [`community_cells`]).
pub const MAX_CELLS: usize = 1_000;

/// A city's cells summed per community, as the communities' shapes with their members,
/// full members, cells and cells failing a rule (this year's evaluation), `level: 0` and
/// `kind: "community"`; `cells_omitted` says how many cells were left out (ask per community).
async fn community_cells(st: &AppState, grids: Vec<i64>) -> ApiResult<Json<Value>> {
    let (snap, evaluated) = evaluated(st, this_year()).await?;
    let shown: HashSet<i64> = grids.iter().copied().collect();
    // (members, full, cells, failing cells) per community, of the cells the caller sees.
    let mut per: BTreeMap<i64, (i64, i64, i64, HashSet<i64>)> = BTreeMap::new();
    for id in &grids {
        if let Some(g) = snap.grids.get(*id) {
            per.entry(g.community_id).or_default().2 += 1;
        }
    }
    for f in &evaluated.findings {
        if matches!(
            f.subject.kind,
            SubjectKind::Branch | SubjectKind::Group | SubjectKind::Grid
        ) {
            if let Some(g) = f.grid_id.filter(|g| shown.contains(g)) {
                per.entry(f.community_id).or_default().3.insert(g);
            }
        }
    }
    for (id, (members, full, _)) in &evaluated.communities {
        if let Some(e) = per.get_mut(id) {
            e.0 = *members;
            e.1 = *full;
        }
    }
    let features: Vec<Value> = per
        .iter()
        .filter_map(|(id, (members, full, cells, failing))| {
            let c = snap.communities.get(*id)?;
            Some(json!({
                "type": "Feature", "id": c.id,
                "geometry": geojson::Geometry::from(&c.geom),
                "properties": {
                    "code": c.code, "name": c.name, "level": 0, "kind": "community",
                    "members": members, "full_members": full,
                    "cells": cells, "failing_cells": failing.len(),
                    "status": if failing.is_empty() { "ok" } else { "failing" },
                },
            }))
        })
        .collect();
    let mut fc = collection(features);
    fc["cells_omitted"] = json!(grids.len());
    fc["year"] = json!(evaluated.year);
    Ok(Json(fc))
}

/// Query of the organisations list.
#[derive(Deserialize)]
pub struct OrgsQuery {
    community: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

/// Organisations, social organisations and 双报到 units listed in one answer unless
/// `limit` says otherwise, and at most: a city has tens of thousands.
pub const LIST_PAGE: i64 = 500;
/// See [`LIST_PAGE`].
pub const LIST_PAGE_MAX: i64 = 2_000;

/// The `after` of a list paged by code: the `next` of the page before.
fn after_code(after: &Option<String>) -> ApiResult<Option<&str>> {
    match after.as_deref() {
        Some(a) if a.is_empty() || a.len() > 64 => Err(ApiError::invalid(
            "after",
            "after is the next of a previous page (a code of 1 to 64 bytes)",
        )),
        a => Ok(a),
    }
}

/// The page of a list after `after` that holds `limit` more: the page as a store request,
/// and whether more follow it.
fn page_of(after: Option<&str>, limit: i64) -> crate::store::party::Page<'_> {
    crate::store::party::Page {
        after,
        // One more than asked, to tell whether a next page exists.
        limit: Some(limit + 1),
    }
}

/// The code of a community by id, for per-community sums.
fn community_code(snap: &Snapshot, id: i64) -> Option<&str> {
    snap.communities.get(id).map(|c| c.code.as_str())
}

/// The place of an organisation: its grid for a cell or a building's organisation, its
/// community otherwise.
fn org_visibility(snap: &Snapshot, caller: &Caller, o: &Org) -> Visibility {
    let building = match &o.attached {
        Some(a) if a.kind == AttachKind::Building => Some(a.code.as_str()),
        _ => None,
    };
    placed_visibility(snap, caller, o.grid_id, building, o.community_id)
}

/// [`org_visibility`] from an organisation's grid, building and community.
fn placed_visibility(
    snap: &Snapshot,
    caller: &Caller,
    grid: Option<i64>,
    building: Option<&str>,
    community: i64,
) -> Visibility {
    let grid = grid.or_else(|| {
        building
            .and_then(|b| snap.buildings.by_code(b))
            .map(|b| b.grid_id)
    });
    visibility(snap, caller, grid, community)
}

/// Members (all, full) of each organisation, from the counts of the cells it spans; a
/// functional organisation's members are its own list (full unknown: -1).
async fn org_counts(
    st: &AppState,
    snap: &Snapshot,
    orgs: &[Org],
) -> ApiResult<HashMap<i64, (i64, i64)>> {
    // A committee spans its community's second-level grids: grouped once, not looked
    // for among every grid of the city for each committee of a page.
    let mut second: HashMap<i64, Vec<i64>> = HashMap::new();
    if orgs.iter().any(|o| o.kind == OrgKind::CommunityCommittee) {
        for g in snap
            .grids
            .items
            .iter()
            .filter(|g| g.level == GridLevel::Second)
        {
            second.entry(g.community_id).or_default().push(g.id);
        }
    }
    let spans = |o: &Org| -> Vec<i64> {
        match (o.kind, o.grid_id) {
            (OrgKind::GridGroup, Some(g)) => vec![g],
            (OrgKind::GridBranch, Some(g)) => snap.grids.children(g).map(|k| k.id).collect(),
            (OrgKind::CommunityCommittee, _) => {
                second.get(&o.community_id).cloned().unwrap_or_default()
            }
            _ => vec![],
        }
    };
    let counts = member_counts(st).await?;
    Ok(orgs
        .iter()
        .map(|o| {
            let n = match o.kind {
                OrgKind::Functional => (o.functional_members, -1),
                _ => spans(o).iter().fold((0, 0), |a, g| {
                    let (m, f) = counts.get(g).copied().unwrap_or_default();
                    (a.0 + m, a.1 + f)
                }),
            };
            (o.id, n)
        })
        .collect())
}

fn org_json(o: &Org, counts: Option<(i64, i64)>) -> Value {
    let mut v = json!(o);
    let (members, full) = counts.unwrap_or((o.functional_members, -1));
    v["members"] = json!(members);
    if full >= 0 {
        v["full_members"] = json!(full);
    }
    v["has_committee"] = json!(o.facts().has_committee());
    v
}

/// Party members (all, full) of every cell by second-level grid id, counted once per state
/// of the data and kept ([`MemberCounts`]).
type CellCounts = HashMap<i64, (i64, i64)>;

/// The member counts of every cell, counted with one `GROUP BY` over the whole zone once
/// per state of the change log (the latest change of [`PARTY_LAYERS`]: people, their
/// party assignments, grids...) instead of joining the members of a page's cells on every
/// list request (114 ms of PostgreSQL for the ~300 cells of a city's first page).
///
/// The list of organisations is kept the same way: every active organisation read whole
/// once per state (`orgs`), so that a page is cut from memory rather than read with its
/// officers and members counted in sub-queries on each request.
#[derive(Default, Debug)]
pub struct MemberCounts {
    kept: std::sync::Mutex<Option<(i64, Arc<CellCounts>)>>,
    counting: tokio::sync::Mutex<()>,
    orgs: std::sync::Mutex<Option<(i64, Arc<Vec<Org>>)>>,
    reading: tokio::sync::Mutex<()>,
    /// The keys of every 双报到 member of the zone for one year (by code, byte order).
    dual: std::sync::Mutex<Option<KeptDual>>,
    dual_reading: tokio::sync::Mutex<()>,
}

impl MemberCounts {
    fn current(&self, seq: i64) -> Option<Arc<CellCounts>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|(s, _)| *s == seq)
            .map(|(_, c)| Arc::clone(c))
    }

    fn current_dual(&self, seq: i64, year: i32) -> Option<Arc<Vec<DualKey>>> {
        let kept = self.dual.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|(s, y, _)| *s == seq && *y == year)
            .map(|(_, _, k)| Arc::clone(k))
    }

    fn current_orgs(&self, seq: i64) -> Option<Arc<Vec<Org>>> {
        let kept = self.orgs.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|(s, _)| *s == seq)
            .map(|(_, o)| Arc::clone(o))
    }
}

/// The member counts of every cell for the current data, kept or counted now (and kept).
/// The change number is read before the counts, so the counts are at least as new as it.
async fn member_counts(st: &AppState) -> ApiResult<Arc<CellCounts>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(c) = cache.current(seq) {
        return Ok(c);
    }
    let _one = cache.counting.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(c) = cache.current(seq) {
        return Ok(c);
    }
    let counts = Arc::new(st.store.cell_counts(None).await?);
    *cache.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, Arc::clone(&counts)));
    Ok(counts)
}

/// The keys of every 双报到 member of the zone for `year` (by code, byte order), kept or
/// read now (and kept), like [`member_counts`]: the zone's 158,000 members take a second
/// of PostgreSQL to read at city scale.
async fn dual_keys(st: &AppState, year: i32) -> ApiResult<Arc<Vec<DualKey>>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(k) = cache.current_dual(seq, year) {
        return Ok(k);
    }
    let _one = cache.dual_reading.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(k) = cache.current_dual(seq, year) {
        return Ok(k);
    }
    let all: Vec<i64> = st
        .registry
        .snapshot()
        .communities
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    let mut keys = st.store.dual_member_keys(&all, year).await?;
    keys.sort_by(|a, b| a.1.cmp(&b.1));
    let keys = Arc::new(keys);
    *cache.dual.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, year, Arc::clone(&keys)));
    Ok(keys)
}

/// The 双报到 keys kept: change number, year, keys.
type KeptDual = (i64, i32, Arc<Vec<DualKey>>);

/// Every active organisation for the current data (by code, byte order), kept or read now
/// (and kept), like [`member_counts`].
async fn active_orgs(st: &AppState) -> ApiResult<Arc<Vec<Org>>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(o) = cache.current_orgs(seq) {
        return Ok(o);
    }
    let _one = cache.reading.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(o) = cache.current_orgs(seq) {
        return Ok(o);
    }
    let orgs = Arc::new(st.store.party_orgs_active().await?);
    *cache.orgs.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, Arc::clone(&orgs)));
    Ok(orgs)
}

/// `GET /api/party/orgs?community=&kind=&limit=&after=`: active organisations with member
/// counts, one page at a time by code: `limit` (default 500, at most 2,000) from `after`
/// (the `next` of the page before, null on the last); `total` and the per-community sums
/// (`communities`: organisations by kind) cover everything asked.
pub async fn orgs(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<OrgsQuery>,
) -> ApiResult<Json<Value>> {
    let kind = match &q.kind {
        None => None,
        Some(k) => Some(OrgKind::parse(k).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                "kind is community_committee, grid_branch, grid_group or functional",
            )
        })?),
    };
    let limit = super::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids: HashSet<i64> = communities(&snap, &caller, q.community.as_deref())?
        .into_iter()
        .collect();
    // Every active organisation is kept in memory per state of the data (see
    // [`MemberCounts`]); the caller's are picked from it, in code order (byte order,
    // whatever the database's collation).
    let all = active_orgs(&st).await?;
    let mut keys: Vec<&Org> = all
        .iter()
        .filter(|o| {
            ids.contains(&o.community_id)
                && kind.is_none_or(|x| o.kind == x)
                && org_visibility(&snap, &caller, o) != Visibility::Hidden
        })
        .collect();
    keys.sort_by(|a, b| a.code.cmp(&b.code));
    let mut per: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for k in &keys {
        if let Some(c) = community_code(&snap, k.community_id) {
            *per.entry(c)
                .or_default()
                .entry(k.kind.as_str())
                .or_default() += 1;
        }
    }
    let from = after.map_or(0, |a| keys.partition_point(|k| k.code.as_str() <= a));
    let to = (from + limit as usize).min(keys.len());
    let shown: Vec<Org> = keys[from..to].iter().map(|o| (*o).clone()).collect();
    let next = (to < keys.len()).then(|| keys[to - 1].code.clone());
    let counts = org_counts(&st, &snap, &shown).await?;
    Ok(Json(json!({
        "orgs": shown.iter().map(|o| org_json(o, counts.get(&o.id).copied())).collect::<Vec<_>>(),
        "total": keys.len(),
        "next": next,
        "communities": per.iter().map(|(c, kinds)| json!({
            "community_code": c, "orgs": kinds.values().sum::<i64>(), "by_kind": kinds,
        })).collect::<Vec<_>>(),
    })))
}

async fn visible_org(st: &AppState, caller: &Caller, code: &str) -> ApiResult<(Org, Visibility)> {
    let snap = st.registry.snapshot();
    let not_found = || ApiError::not_found(format!("party organisation {code} not found"));
    let org = st.store.party_org(code).await?.ok_or_else(not_found)?;
    let vis = org_visibility(&snap, caller, &org);
    if vis == Visibility::Hidden {
        return Err(not_found());
    }
    Ok((org, vis))
}

/// `GET /api/party/orgs/{code}`: one organisation; officers and members by name with full
/// visibility, as counts otherwise.
pub async fn org(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let (org, vis) = visible_org(&st, &caller, &code).await?;
    let snap = st.registry.snapshot();
    let counts = org_counts(&st, &snap, std::slice::from_ref(&org)).await?;
    let mut v = org_json(&org, counts.get(&org.id).copied());
    let officers = st.store.party_officers(org.id).await?;
    if vis == Visibility::Full {
        v["officers"] = json!(officers);
        v["member_list"] = json!(st.store.party_org_members(&org).await?);
    } else {
        let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &officers {
            *roles.entry(o.role.as_str()).or_default() += 1;
        }
        v["officer_roles"] = json!(roles);
    }
    Ok(Json(v))
}

/// What a functional organisation is attached to, as sent.
#[derive(Deserialize)]
pub struct AttachBody {
    kind: String,
    code: String,
}

/// Body of `PUT /api/party/orgs/{code}`.
#[derive(Deserialize)]
pub struct OrgBody {
    name: String,
    kind: String,
    form: Option<String>,
    community_code: Option<String>,
    attached_to: Option<AttachBody>,
}

/// Refuses a write unless the caller may change party data at every place given (a place
/// that could not be found is left to the store, which answers 404 or 422).
fn check_reach(caller: &Caller, places: &[Option<Place>]) -> ApiResult<()> {
    if places
        .iter()
        .flatten()
        .all(|p| caller.may_change(Area::Party, p))
    {
        Ok(())
    } else {
        Err(forbidden("this party record"))
    }
}

async fn owned_place(st: &AppState, what: Owned, code: &str) -> ApiResult<Option<Place>> {
    let snap = st.registry.snapshot();
    Ok(st
        .store
        .community_of(what, code)
        .await?
        .and_then(|c| community_place(&snap, c)))
}

fn code_place(snap: &Snapshot, code: &str) -> Option<Place> {
    snap.communities
        .by_code(code)
        .map(|c| snap.place_of_community(c))
}

/// `PUT /api/party/orgs/{code}`: creates a 大党委 or a functional organisation, or renames
/// any organisation (cells are created with their grids).
pub async fn put_org(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<OrgBody>,
) -> ApiResult<Response> {
    let kind = OrgKind::parse(&b.kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "kind is community_committee, grid_branch, grid_group or functional",
        )
    })?;
    let form = match &b.form {
        None => None,
        Some(f) => Some(
            OrgForm::parse(f)
                .ok_or_else(|| ApiError::invalid("form", "form is committee, branch or group"))?,
        ),
    };
    let attach = match &b.attached_to {
        None => None,
        Some(a) => Some((
            AttachKind::parse(&a.kind).ok_or_else(|| {
                ApiError::invalid(
                    "attached_to.kind",
                    "attached_to.kind is compound, building or association",
                )
            })?,
            a.code.clone(),
        )),
    };
    let snap = st.registry.snapshot();
    let mut places = vec![];
    let existing = st.store.party_org(&code).await?;
    if let Some(o) = &existing {
        places.push(match o.grid_id.and_then(|g| snap.grids.get(g)) {
            Some(g) => snap.place_of_grid(g),
            None => community_place(&snap, o.community_id),
        });
    }
    if let Some(c) = &b.community_code {
        places.push(code_place(&snap, c));
    }
    if let Some((k, c)) = &attach {
        let what = match k {
            AttachKind::Compound => Owned::Compound,
            AttachKind::Building => Owned::Building,
            AttachKind::Association => Owned::Association,
        };
        places.push(owned_place(&st, what, c).await?);
    }
    check_reach(&caller, &places)?;
    let input = OrgInput {
        code,
        name: b.name,
        kind,
        form,
        community_code: b.community_code,
        attach,
    };
    let org = st.store.put_party_org(&input, &actor(&caller)).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(org_json(&org, None))).into_response())
}

async fn org_for_write(st: &AppState, caller: &Caller, code: &str) -> ApiResult<Org> {
    let snap = st.registry.snapshot();
    let org = st
        .store
        .party_org(code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("party organisation {code} not found")))?;
    let place = match org.grid_id.and_then(|g| snap.grids.get(g)) {
        Some(g) => snap.place_of_grid(g),
        None => community_place(&snap, org.community_id),
    };
    if place.is_none_or(|p| caller.visibility(&p) == Visibility::Hidden) {
        return Err(ApiError::not_found(format!(
            "party organisation {code} not found"
        )));
    }
    check_reach(caller, &[place])?;
    Ok(org)
}

/// `DELETE /api/party/orgs/{code}`: dissolves a functional organisation.
pub async fn delete_org(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    org_for_write(&st, &caller, &code).await?;
    st.store.dissolve_party_org(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One officer as sent.
#[derive(Deserialize)]
pub struct OfficerBody {
    person_code: String,
    role: String,
}

/// Body of `PUT /api/party/orgs/{code}/officers`.
#[derive(Deserialize)]
pub struct OfficersBody {
    officers: Vec<OfficerBody>,
}

/// `PUT /api/party/orgs/{code}/officers`: replaces the officers.
pub async fn put_officers(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<OfficersBody>,
) -> ApiResult<Json<Value>> {
    org_for_write(&st, &caller, &code).await?;
    let mut list = Vec::with_capacity(b.officers.len());
    for (i, o) in b.officers.iter().enumerate() {
        let role = OfficerRole::parse(&o.role).ok_or_else(|| {
            ApiError::invalid(
                &format!("officers[{i}].role"),
                "role is secretary, deputy_secretary, committee, part_time_committee or group_leader",
            )
        })?;
        list.push((o.person_code.clone(), role));
    }
    let officers = st
        .store
        .set_party_officers(&code, &list, &actor(&caller))
        .await?;
    Ok(Json(json!({ "code": code, "officers": officers })))
}

/// Body of `PUT /api/party/orgs/{code}/members`.
#[derive(Deserialize)]
pub struct MembersBody {
    members: Vec<String>,
}

/// `PUT /api/party/orgs/{code}/members`: replaces the members of a functional organisation.
pub async fn put_members(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<MembersBody>,
) -> ApiResult<Json<Value>> {
    org_for_write(&st, &caller, &code).await?;
    let n = st
        .store
        .set_functional_members(&code, &b.members, &actor(&caller))
        .await?;
    Ok(Json(json!({ "code": code, "members": n })))
}

/// Query of a list paged by code, of one community or all the caller sees.
#[derive(Deserialize)]
pub struct CommunityQuery {
    community: Option<String>,
    year: Option<i32>,
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /api/party/associations?community=&limit=&after=`: social organisations with
/// member counts, one page at a time by code (as `/api/party/orgs`); `total` and the
/// per-community sums (`communities`: organisations and members) cover everything asked.
pub async fn associations(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CommunityQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let sums = st.store.association_counts(&ids).await?;
    let mut list = st.store.associations(&ids, page_of(after, limit)).await?;
    let next = (list.len() > limit as usize).then(|| {
        list.truncate(limit as usize);
        list.last().map(|a| a.code.clone())
    });
    let features = list
        .iter()
        .map(|a| {
            let p = a.point.or_else(|| {
                snap.communities
                    .get(a.community_id)
                    .and_then(|c| interior(&c.geom))
            });
            let mut v = json!(a);
            v["public_welfare"] = json!(a.kind.is_public_welfare());
            point_feature(p, v)
        })
        .collect();
    let mut fc = collection(features);
    fc["total"] = json!(sums.iter().map(|s| s.1).sum::<i64>());
    fc["next"] = json!(next.flatten());
    fc["communities"] = sums
        .iter()
        .filter_map(|(c, n, members)| {
            Some(json!({ "community_code": community_code(&snap, *c)?, "associations": n, "members": members }))
        })
        .collect();
    Ok(Json(fc))
}

fn location(v: &Option<geojson::Geometry>) -> ApiResult<Option<Point<f64>>> {
    v.as_ref()
        .map(|g| point_from_geojson(g).map_err(|e| ApiError::shape(&e, None)))
        .transpose()
}

/// Body of `PUT /api/party/associations/{code}`.
#[derive(Deserialize)]
pub struct AssociationBody {
    name: String,
    kind: String,
    community_code: String,
    founded_year: Option<i32>,
    location: Option<geojson::Geometry>,
    members: Option<Vec<String>>,
}

/// `PUT /api/party/associations/{code}`: creates or replaces a social organisation.
pub async fn put_association(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<AssociationBody>,
) -> ApiResult<Json<Value>> {
    let kind = AssociationKind::parse(&b.kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "kind is service, public_welfare, volunteer or other",
        )
    })?;
    let point = location(&b.location)?;
    let snap = st.registry.snapshot();
    let places = [
        owned_place(&st, Owned::Association, &code).await?,
        code_place(&snap, &b.community_code),
    ];
    check_reach(&caller, &places)?;
    let input = AssociationInput {
        code: code.clone(),
        name: b.name,
        kind,
        community_code: b.community_code,
        founded_year: b.founded_year,
        point,
        members: b.members,
    };
    st.store.put_association(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": code })))
}

/// `DELETE /api/party/associations/{code}`.
pub async fn delete_association(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let place = owned_place(&st, Owned::Association, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("social organisation {code} not found")))?;
    check_reach(&caller, &[Some(place)])?;
    st.store.delete_association(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/party/units?community=&year=&limit=&after=`: 双报到 units with their projects
/// of the year, one page at a time by code (as `/api/party/orgs`); `total` and the
/// per-community sums (`communities`: units, their members and projects) cover everything
/// asked.
pub async fn units(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CommunityQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let limit = super::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let sums = st.store.unit_counts(&ids, year).await?;
    let mut list = st
        .store
        .dual_units(&ids, year, page_of(after, limit))
        .await?;
    let next = (list.len() > limit as usize).then(|| {
        list.truncate(limit as usize);
        list.last().map(|u| u.code.clone())
    });
    let features = list
        .iter()
        .map(|u| {
            let p = u.point.or_else(|| {
                snap.communities
                    .get(u.community_id)
                    .and_then(|c| interior(&c.geom))
            });
            point_feature(p, json!(u))
        })
        .collect();
    let mut fc = collection(features);
    fc["year"] = json!(year);
    fc["total"] = json!(sums.iter().map(|s| s.1).sum::<i64>());
    fc["next"] = json!(next.flatten());
    fc["communities"] = sums
        .iter()
        .filter_map(|(c, n, members, projects)| {
            Some(json!({ "community_code": community_code(&snap, *c)?, "units": n, "members": members, "projects": projects }))
        })
        .collect();
    Ok(Json(fc))
}

fn date(s: &str, field: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("{field} is a date YYYY-MM-DD, got {s:?}")))
}

/// Body of `PUT /api/party/units/{code}`.
#[derive(Deserialize)]
pub struct UnitBody {
    name: String,
    party_org_name: Option<String>,
    community_code: String,
    registered_on: String,
    location: Option<geojson::Geometry>,
}

/// `PUT /api/party/units/{code}`: registers (or changes) a 双报到 unit.
pub async fn put_unit(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<UnitBody>,
) -> ApiResult<Json<Value>> {
    let registered_on = date(&b.registered_on, "registered_on")?;
    let point = location(&b.location)?;
    let snap = st.registry.snapshot();
    let places = [
        owned_place(&st, Owned::Unit, &code).await?,
        code_place(&snap, &b.community_code),
    ];
    check_reach(&caller, &places)?;
    let input = UnitInput {
        code: code.clone(),
        name: b.name,
        party_org_name: b.party_org_name,
        community_code: b.community_code,
        registered_on,
        point,
    };
    st.store.put_dual_unit(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": code })))
}

/// `DELETE /api/party/units/{code}`.
pub async fn delete_unit(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let place = owned_place(&st, Owned::Unit, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("双报到 unit {code} not found")))?;
    check_reach(&caller, &[Some(place)])?;
    st.store.delete_dual_unit(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Query of the 双报到 members.
#[derive(Deserialize)]
pub struct DualQuery {
    community: Option<String>,
    grid: Option<String>,
    year: Option<i32>,
    after: Option<String>,
    limit: Option<i64>,
}

/// 双报到 members named in one answer unless `limit` says otherwise, and at most.
const DUAL_PAGE: i64 = 500;
const DUAL_PAGE_MAX: i64 = 5_000;

/// `GET /api/party/dual-members?community=&grid=&year=&limit=&after=`: registered members
/// and their posts of the year (of one grid and its children, if asked); by name with full
/// visibility, as counts per community otherwise. The counts cover everything asked; the
/// names come one page at a time, by person code: `limit` (default 500, at most 5,000) from
/// `after` (the `next` of the page before, null on the last), `named` says how many in all.
pub async fn dual_members(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<DualQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let grid = match &q.grid {
        None => None,
        Some(code) => Some(
            snap.grids
                .by_code(code)
                .filter(|g| {
                    visibility(&snap, &caller, Some(g.id), g.community_id) != Visibility::Hidden
                })
                .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?
                .id,
        ),
    };
    let in_grid = |g: Option<i64>| match grid {
        None => true,
        Some(want) => g.is_some_and(|g| {
            g == want || snap.grids.get(g).and_then(|x| x.parent_id) == Some(want)
        }),
    };
    let limit = super::patrols::list_limit(q.limit, DUAL_PAGE, DUAL_PAGE_MAX)? as usize;
    if q.after
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 64)
    {
        return Err(ApiError::invalid(
            "after",
            "after is the next of a previous page (a person's code)",
        ));
    }
    // Every member's key counts; only the page's members are read whole. The keys of the
    // whole zone are kept per state of the data and year ([`dual_keys`]), in the codes'
    // byte order (whatever the database's collation), and the caller's picked from them.
    let all = dual_keys(&st, year).await?;
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    let mut page: Vec<i64> = Vec::new();
    let (mut total_named, mut more) = (0usize, false);
    let mut last = None;
    let mut counts: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for (person, code, community, grid_id, has_post) in
        all.iter().filter(|k| wanted.contains(&k.2) && in_grid(k.3))
    {
        let e = counts.entry(*community).or_default();
        e.0 += 1;
        e.1 += usize::from(*has_post);
        if visibility(&snap, &caller, *grid_id, *community) == Visibility::Full {
            total_named += 1;
            if q.after
                .as_ref()
                .is_some_and(|a| code.as_str() <= a.as_str())
            {
                continue;
            }
            if page.len() < limit {
                page.push(*person);
                last = Some(code);
            } else {
                more = true;
            }
        }
    }
    let next = last.filter(|_| more).cloned();
    let mut named = if page.is_empty() {
        Vec::new()
    } else {
        st.store.dual_members_of(&ids, year, Some(&page)).await?
    };
    named.sort_by(|a, b| a.code.cmp(&b.code));
    // By community code, as before.
    let counts: BTreeMap<&str, (usize, usize)> = counts
        .iter()
        .filter_map(|(id, n)| Some((snap.communities.get(*id)?.code.as_str(), *n)))
        .collect();
    Ok(Json(json!({
        "year": year,
        "communities": counts.iter().map(|(c, (n, p))| json!({ "community_code": c, "members": n, "with_posts": p })).collect::<Vec<_>>(),
        "named": total_named,
        "members": named,
        "next": next,
    })))
}

/// Body of `PUT /api/party/dual-members/{person}`.
#[derive(Deserialize)]
pub struct DualBody {
    unit_code: Option<String>,
    community_code: Option<String>,
    registered_on: String,
}

async fn person_place(st: &AppState, person: &str) -> ApiResult<Option<Place>> {
    owned_place(st, Owned::Person, person).await
}

/// `PUT /api/party/dual-members/{person}`: registers an in-service member with the
/// community where they live (or the one given).
pub async fn put_dual_member(
    State(st): State<AppState>,
    caller: Caller,
    Path(person): Path<String>,
    Json(b): Json<DualBody>,
) -> ApiResult<Json<Value>> {
    let registered_on = date(&b.registered_on, "registered_on")?;
    let snap = st.registry.snapshot();
    let mut places = vec![person_place(&st, &person).await?];
    if let Some(c) = &b.community_code {
        places.push(code_place(&snap, c));
    }
    if let Some(u) = &b.unit_code {
        places.push(owned_place(&st, Owned::Unit, u).await?);
    }
    check_reach(&caller, &places)?;
    st.store
        .put_dual_member(
            &person,
            b.unit_code.as_deref(),
            b.community_code.as_deref(),
            registered_on,
            &actor(&caller),
        )
        .await?;
    Ok(Json(json!({ "person_code": person })))
}

/// `DELETE /api/party/dual-members/{person}`: ends a registration.
pub async fn delete_dual_member(
    State(st): State<AppState>,
    caller: Caller,
    Path(person): Path<String>,
) -> ApiResult<Response> {
    let place = person_place(&st, &person).await?;
    check_reach(&caller, &[place])?;
    st.store
        .delete_dual_member(&person, &actor(&caller))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `PUT /api/party/projects/{code}`.
#[derive(Deserialize)]
pub struct ProjectBody {
    name: String,
    community_code: Option<String>,
    unit_code: Option<String>,
    year: i32,
}

/// `PUT /api/party/projects/{code}`: a volunteer project of a unit (or of the community).
pub async fn put_project(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<ProjectBody>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let mut places = vec![owned_place(&st, Owned::Project, &code).await?];
    if let Some(c) = &b.community_code {
        places.push(code_place(&snap, c));
    }
    if let Some(u) = &b.unit_code {
        places.push(owned_place(&st, Owned::Unit, u).await?);
    }
    check_reach(&caller, &places)?;
    let input = ProjectInput {
        code: code.clone(),
        name: b.name,
        community_code: b.community_code,
        unit_code: b.unit_code,
        year: b.year,
    };
    st.store.put_project(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": code })))
}

/// `DELETE /api/party/projects/{code}`.
pub async fn delete_project(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let place = owned_place(&st, Owned::Project, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("volunteer project {code} not found")))?;
    check_reach(&caller, &[Some(place)])?;
    st.store.delete_project(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One post as sent.
#[derive(Deserialize)]
pub struct PostBody {
    post: String,
    project_code: Option<String>,
}

/// Body of `PUT /api/party/posts/{person}/{year}`.
#[derive(Deserialize)]
pub struct PostsBody {
    posts: Vec<PostBody>,
}

/// `PUT /api/party/posts/{person}/{year}`: replaces the volunteer posts a member holds in a
/// year.
pub async fn put_posts(
    State(st): State<AppState>,
    caller: Caller,
    Path((person, year)): Path<(String, i32)>,
    Json(b): Json<PostsBody>,
) -> ApiResult<Json<Value>> {
    check_year(year, "year").map_err(|e| ApiError::invalid(&e.field, e.message))?;
    let place = person_place(&st, &person).await?;
    if place.is_none() && caller.role != Role::Admin {
        return Err(forbidden("this person"));
    }
    check_reach(&caller, &[place])?;
    let posts: Vec<(String, Option<String>)> = b
        .posts
        .into_iter()
        .map(|p| (p.post, p.project_code))
        .collect();
    st.store
        .set_posts(&person, year, &posts, &actor(&caller))
        .await?;
    Ok(Json(
        json!({ "person_code": person, "year": year, "posts": posts.len() }),
    ))
}

/// `POST /api/party/reassign`: re-computes every member's cell from the index (their home
/// building's anchor → second-level grid → parent) and writes the cells that differ from
/// the stored ones within the caller's reach.
pub async fn reassign(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let homes = st.store.party_member_homes().await?;
    let cells = assign::assign_members(&snap, &homes);
    let stored: HashMap<i64, i64> = st.store.party_assignments().await?.into_iter().collect();
    let mut fixes = Vec::new();
    let mut outside = 0usize;
    let mut beyond = 0usize;
    for ((person, _), cell) in homes.iter().zip(&cells) {
        let Some(cell) = cell else {
            outside += 1;
            continue;
        };
        if stored.get(person) == Some(&cell.group) {
            continue;
        }
        let place = snap
            .grids
            .get(cell.group)
            .and_then(|g| snap.place_of_grid(g));
        if place.is_some_and(|p| caller.may_change(Area::Party, &p)) {
            fixes.push((*person, cell.group));
        } else {
            beyond += 1;
        }
    }
    let differing = fixes.len();
    let fixed = st.store.repair_assignments(&fixes, &actor(&caller)).await?;
    Ok(Json(json!({
        "members": homes.len(),
        "differing": differing,
        "fixed": fixed,
        "outside_every_grid": outside,
        "beyond_reach": beyond,
    })))
}

fn proposal(c: &GridChange) -> Proposed {
    match c {
        GridChange::Create(g) => Proposed::Create {
            code: g.code.clone(),
            name: g.name.clone(),
            level: g.level,
            parent_code: g.parent_code.clone(),
            geom: g.geom.clone(),
        },
        GridChange::Update {
            code,
            version,
            name,
            geom,
        } => Proposed::Update {
            code: code.clone(),
            version: *version,
            name: name.clone(),
            geom: geom.clone(),
        },
        GridChange::Delete { code, version } => Proposed::Delete {
            code: code.clone(),
            version: *version,
        },
    }
}

/// The refusal of the grid store for the same batch.
fn refusal(r: Refusal) -> StoreError {
    match r {
        Refusal::NotFound(code) => StoreError::NotFound(format!("grid {code}")),
        Refusal::Stale {
            code,
            current,
            given,
        } => StoreError::StaleVersion {
            code,
            current,
            given,
        },
        Refusal::Conflict(m) => StoreError::Conflict(m),
        Refusal::Items(items) => StoreError::Items(items),
    }
}

/// The body the API would answer for a store error.
fn error_body(e: StoreError) -> Value {
    let e = ApiError::from(e);
    let mut body = serde_json::Map::new();
    body.insert("status".into(), json!(e.status.as_u16()));
    body.insert("error".into(), json!(e.code));
    body.insert("message".into(), json!(e.message));
    body.extend(e.extra);
    Value::Object(body)
}

/// `POST /api/party/preview`: what a batch of grid changes (the body of
/// `POST /api/grids/batch`) would do, without writing: buildings that change grid, members
/// who move from cell to cell, cells' new counts, rules that start, stop or change failing,
/// and whether the commit would be accepted. Computed on the index with the batch laid over
/// it, with the store's own checks.
pub async fn preview(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<Batch>,
) -> ApiResult<Json<Value>> {
    let changes = checked_batch(&st, b).await?;
    let snap = st.registry.snapshot();
    // Every grid the batch names must be visible to the caller.
    let mut may_commit = true;
    for (i, c) in changes.iter().enumerate() {
        let place = match c {
            GridChange::Create(g) => match g.level {
                GridLevel::First => code_place(&snap, &g.parent_code),
                GridLevel::Second => snap
                    .grids
                    .by_code(&g.parent_code)
                    .and_then(|p| snap.place_of_grid(p)),
            },
            GridChange::Update { code, .. } | GridChange::Delete { code, .. } => {
                snap.grids.by_code(code).and_then(|g| snap.place_of_grid(g))
            }
        };
        if let Some(p) = place {
            if caller.visibility(&p) == Visibility::Hidden {
                return Err(
                    ApiError::not_found("a grid of the batch was not found".to_string())
                        .with("index", json!(i)),
                );
            }
            may_commit &= caller.may_change(Area::Boundaries, &p);
        }
    }
    let batch: Vec<Proposed> = changes.iter().map(proposal).collect();
    let overlay = Overlay::new(&snap, &batch).map_err(|r| ApiError::from(refusal(r)))?;
    // The partition checks and the buildings' new grids are the heavy part: on the work
    // pool, within the geometry budget, answered by building id.
    let (faults, moved, orphaned) = {
        let (snap, tolerance_m2) = (std::sync::Arc::clone(&snap), st.config.tolerance_m2);
        geometry_work(&st, usize::MAX, move || {
            let overlay =
                Overlay::new(&snap, &batch).map_err(|r| Stop::Refused(refusal(r).into()))?;
            let faults = overlay.partition_faults(tolerance_m2)?;
            let bm = overlay.building_moves()?;
            let moved: Vec<(i64, i64)> = bm.moves.iter().map(|(b, g)| (b.id, *g)).collect();
            let orphaned: Vec<i64> = bm.orphans.iter().map(|b| b.id).collect();
            Ok((faults, moved, orphaned))
        })
        .await?
    };
    let bm = assign::BuildingMoves {
        moves: moved
            .iter()
            .filter_map(|(id, g)| snap.buildings.get(*id).map(|b| (b, *g)))
            .collect(),
        orphans: orphaned
            .iter()
            .filter_map(|id| snap.buildings.get(*id))
            .collect(),
    };
    let verdict = if !faults.is_empty() {
        Some(StoreError::Partition {
            tolerance_m2: st.config.tolerance_m2,
            faults: faults
                .into_iter()
                .map(|(parent_code, child_codes, fault)| ParentFault {
                    parent_code,
                    child_codes,
                    fault,
                })
                .collect(),
        })
    } else if !bm.orphans.is_empty() {
        let mut codes: Vec<String> = bm.orphans.iter().map(|b| b.code.clone()).collect();
        codes.sort();
        codes.truncate(100);
        Some(StoreError::Orphans { codes })
    } else {
        None
    };
    let commit = match verdict {
        None => json!({ "ok": true, "may_commit": may_commit }),
        Some(e) => json!({ "ok": false, "may_commit": may_commit, "error": error_body(e) }),
    };
    let body = preview_body(&st, &snap, &caller, &overlay, &bm.moves).await?;
    let mut body = body;
    body["commit"] = commit;
    body["buildings"]["orphans"] = json!(bm.orphans.iter().map(|b| &b.code).collect::<Vec<_>>());
    Ok(Json(body))
}

/// The grid as the batch leaves it, or as it is now.
fn grid_code(overlay: &Overlay, snap: &Snapshot, id: i64) -> Option<String> {
    overlay
        .grid(id)
        .or_else(|| snap.grids.get(id))
        .map(|g| g.code.clone())
}

/// How much the caller sees of a cell before or after: a new grid is seen as its parent.
fn cell_visibility(overlay: &Overlay, snap: &Snapshot, caller: &Caller, id: i64) -> Visibility {
    let g = overlay.grid(id).or_else(|| snap.grids.get(id));
    match g {
        Some(g) if g.id >= NEW_ID_BASE => visibility(snap, caller, g.parent_id, g.community_id),
        Some(g) => visibility(snap, caller, Some(g.id), g.community_id),
        None => Visibility::Hidden,
    }
}

/// Members moving from one cell to another.
#[derive(Default)]
struct Flow {
    buildings: usize,
    members: i64,
    full: i64,
    people: Vec<Value>,
}

async fn preview_body(
    st: &AppState,
    snap: &Snapshot,
    caller: &Caller,
    overlay: &Overlay<'_>,
    moves: &[(&crate::domain::registry::Building, i64)],
) -> ApiResult<Value> {
    let moved_ids: Vec<i64> = moves.iter().map(|(b, _)| b.id).collect();
    let per_building = st.store.building_member_counts(&moved_ids).await?;
    // Cells touched: both ends of every move, every grid the batch changes, their parents,
    // and every child of those parents (branches count all their groups).
    let mut t1: BTreeSet<i64> = BTreeSet::new();
    let mut t2: BTreeSet<i64> = BTreeSet::new();
    let touch = |g: &Grid, t1: &mut BTreeSet<i64>, t2: &mut BTreeSet<i64>| match g.level {
        GridLevel::First => {
            t1.insert(g.id);
        }
        GridLevel::Second => {
            t2.insert(g.id);
            t1.extend(g.parent_id);
        }
    };
    for (b, to) in moves {
        for id in [b.grid_id, *to] {
            if let Some(g) = overlay.grid(id).or_else(|| snap.grids.get(id)) {
                touch(g, &mut t1, &mut t2);
            }
        }
    }
    for id in overlay.changed() {
        if let Some(g) = snap.grids.get(*id) {
            touch(g, &mut t1, &mut t2);
        }
    }
    for g in overlay.created() {
        touch(g, &mut t1, &mut t2);
    }
    let parents: Vec<i64> = t1.iter().copied().collect();
    for p in &parents {
        t2.extend(snap.grids.children(*p).map(|c| c.id));
        t2.extend(
            overlay
                .grids()
                .filter(|g| g.parent_id == Some(*p))
                .map(|g| g.id),
        );
    }
    let existing: Vec<i64> = t1
        .iter()
        .chain(&t2)
        .copied()
        .filter(|id| *id < NEW_ID_BASE)
        .collect();
    let l2_existing: Vec<i64> = t2.iter().copied().filter(|id| *id < NEW_ID_BASE).collect();
    let counts = st.store.cell_counts(Some(&l2_existing)).await?;
    let orgs = st.store.cell_orgs(Some(&existing)).await?;
    let chiefs = st.store.grid_chiefs(Some(&existing)).await?;
    let mut after_counts = counts.clone();
    for (b, to) in moves {
        let (m, f) = per_building.get(&b.id).copied().unwrap_or_default();
        let from = after_counts.entry(b.grid_id).or_default();
        from.0 -= m;
        from.1 -= f;
        let dest = after_counts.entry(*to).or_default();
        dest.0 += m;
        dest.1 += f;
    }
    let before_grids: Vec<&Grid> = t1
        .iter()
        .chain(&t2)
        .filter_map(|id| snap.grids.get(*id))
        .collect();
    let after_grids: Vec<&Grid> = t1
        .iter()
        .chain(&t2)
        .filter_map(|id| overlay.grid(*id))
        .collect();
    let before = cells_of(snap, &before_grids, &counts, &orgs, &chiefs);
    let mut after = cells_of(snap, &after_grids, &after_counts, &orgs, &chiefs);
    // First-level cells after the batch count their children as the batch leaves them.
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for g in overlay.grids().filter(|g| g.level == GridLevel::Second) {
        if let Some(p) = g.parent_id.filter(|p| t1.contains(p)) {
            let (m, f) = after_counts.get(&g.id).copied().unwrap_or_default();
            let e = sums.entry(p).or_default();
            e.0 += m;
            e.1 += f;
        }
    }
    for c in after.iter_mut().filter(|c| c.level == GridLevel::First) {
        let (m, f) = sums.get(&c.grid_id).copied().unwrap_or_default();
        c.members = m;
        c.full = f;
    }
    // Cells of grids created by the batch have no organisation, chief or staff yet.
    for c in after.iter_mut().filter(|c| c.grid_id >= NEW_ID_BASE) {
        c.org = None;
        c.chief = None;
        c.staff_members = 0;
    }
    let old_findings = party::cell_findings(&before);
    let new_findings = party::cell_findings(&after);
    let rule_changes: Vec<Value> = party::diff(&old_findings, &new_findings)
        .into_iter()
        .filter_map(|(change, f)| {
            let vis = cell_visibility(overlay, snap, caller, f.subject.id);
            (vis >= Visibility::Counts).then(|| {
                let mut v = finding_json(snap, f, vis);
                v["change"] = json!(change);
                v["grid_code"] = json!(grid_code(overlay, snap, f.subject.id));
                v
            })
        })
        .collect();

    let cells_before: HashMap<i64, &CellFacts> = before.iter().map(|c| (c.grid_id, c)).collect();
    let cells_after: HashMap<i64, &CellFacts> = after.iter().map(|c| (c.grid_id, c)).collect();
    let mut cell_rows = Vec::new();
    for id in t1.iter().chain(&t2) {
        let (b, a) = (cells_before.get(id), cells_after.get(id));
        let pair = |f: fn(&CellFacts) -> i64| json!([b.map(|c| f(c)), a.map(|c| f(c))]);
        let changed = match (b, a) {
            (Some(b), Some(a)) => b.members != a.members || b.full != a.full,
            _ => true,
        };
        if !changed || cell_visibility(overlay, snap, caller, *id) < Visibility::Counts {
            continue;
        }
        let any = a.or(b);
        cell_rows.push(json!({
            "code": grid_code(overlay, snap, *id),
            "level": any.map(|c| c.level.number()),
            "name": any.map(|c| &c.name),
            "status": match (b, a) { (None, _) => "created", (_, None) => "deleted", _ => "changed" },
            "members": pair(|c| c.members),
            "full_members": pair(|c| c.full),
        }));
    }

    // Members moving, grouped by (from cell, to cell); names only with full visibility of
    // both ends.
    let people = st.store.members_in_buildings(&moved_ids).await?;
    let mut by_building: HashMap<i64, Vec<&crate::store::party::MemberRow>> = HashMap::new();
    for p in &people {
        if let Some(b) = p.building_id {
            by_building.entry(b).or_default().push(p);
        }
    }
    let mut flows: BTreeMap<(i64, i64), Flow> = BTreeMap::new();
    let mut building_rows = Vec::new();
    let mut map = Vec::new();
    for (b, to) in moves {
        let (m, f) = per_building.get(&b.id).copied().unwrap_or_default();
        let from_vis = cell_visibility(overlay, snap, caller, b.grid_id);
        let to_vis = cell_visibility(overlay, snap, caller, *to);
        let vis = from_vis.min(to_vis);
        let e = flows.entry((b.grid_id, *to)).or_default();
        e.buildings += 1;
        e.members += m;
        e.full += f;
        if vis == Visibility::Full {
            for p in by_building.get(&b.id).into_iter().flatten() {
                e.people.push(json!({ "code": p.code, "name": p.name, "membership": p.membership, "building_code": p.building_code }));
            }
        }
        let row = json!({
            "code": b.code, "name": b.name,
            "from_grid": grid_code(overlay, snap, b.grid_id),
            "to_grid": grid_code(overlay, snap, *to),
            "members": if vis >= Visibility::Counts { json!(m) } else { Value::Null },
        });
        map.push(point_feature(
            Some(b.anchor),
            json!({ "kind": "building_move", "code": b.code, "from_grid": row["from_grid"], "to_grid": row["to_grid"], "members": row["members"] }),
        ));
        building_rows.push(row);
    }
    let branch_of = |id: i64| {
        overlay
            .grid(id)
            .or_else(|| snap.grids.get(id))
            .and_then(|g| g.parent_id)
            .and_then(|p| grid_code(overlay, snap, p))
    };
    let mut members_moved = 0i64;
    let flow_rows: Vec<Value> = flows
        .into_iter()
        .map(|((from, to), flow)| {
            members_moved += flow.members;
            json!({
                "from": { "group": grid_code(overlay, snap, from), "branch": branch_of(from) },
                "to": { "group": grid_code(overlay, snap, to), "branch": branch_of(to) },
                "buildings": flow.buildings, "members": flow.members, "full_members": flow.full,
                "people": flow.people,
            })
        })
        .collect();
    for r in &rule_changes {
        let p = r["point"]
            .as_array()
            .and_then(|a| Some(Point::new(a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
        map.push(point_feature(
            p,
            json!({ "kind": "finding", "change": r["change"], "rule": r["rule"], "title": r["title"], "message": r["message"], "grid_code": r["grid_code"] }),
        ));
    }
    for g in overlay.created() {
        map.push(json!({
            "type": "Feature",
            "geometry": geojson::Geometry::from(&g.geom),
            "properties": { "kind": "grid", "change": "create", "code": g.code, "level": g.level.number() },
        }));
    }
    for id in overlay.changed() {
        let change = if overlay.grid(*id).is_some() {
            "update"
        } else {
            "delete"
        };
        if let Some(g) = overlay.grid(*id).or_else(|| snap.grids.get(*id)) {
            map.push(json!({
                "type": "Feature",
                "geometry": geojson::Geometry::from(&g.geom),
                "properties": { "kind": "grid", "change": change, "code": g.code, "level": g.level.number() },
            }));
        }
    }
    Ok(json!({
        "buildings": { "moved": building_rows.len(), "moves": building_rows },
        "members": { "moved": members_moved, "flows": flow_rows },
        "cells": cell_rows,
        "rules": rule_changes,
        "map": collection(map),
    }))
}
