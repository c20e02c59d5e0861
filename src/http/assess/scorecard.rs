//! `GET /api/assess/{year}/scorecard?by=community|grid&community=`: the objective
//! scorecard of each community (or first-level grid) for a year and its rank. The measures
//! are read from the store (patrols, visits, incidents, 双报到 units), the coverage model
//! (ten-minute coverage of the 1+8 kinds) and the party rules' evaluation (findings of the
//! year), then summed per place on the work pool. Places are ranked among all those of the
//! caller's region (the figures are aggregates); only those the caller reads are listed.

use super::{readable, year_of};
use crate::domain::access::{Caller, Role, ScopeKind};
use crate::domain::assess::scorecard::{
    rank, scorecard as card_of, KindCoverage, Measures, Scorecard, Share,
};
use crate::domain::assess::Settings;
use crate::domain::patrol::Category;
use crate::domain::{GridLevel, StationKind};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Queried};
use crate::http::{params, AppState};
use crate::spatial::index::Snapshot;
use crate::spatial::walk::{KindSelection, LifeCircle};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Time allowed to sum a district's scorecards on the work pool.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Findings read per page from the party rules when counting them per grid.
const FINDINGS_PAGE: i64 = 5_000;

/// Query of the scorecards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardQuery {
    by: Option<String>,
    community: Option<String>,
}

/// A place's scorecard and rank.
#[derive(Debug, Clone)]
pub(super) struct Card {
    /// The community or grid id.
    pub(super) id: i64,
    /// Its code.
    pub(super) code: String,
    /// Its name.
    pub(super) name: String,
    /// Its community.
    pub(super) community_id: i64,
    /// What was measured.
    pub(super) measures: Measures,
    /// The scorecard.
    pub(super) card: Scorecard,
    /// Its rank among the places of the region (none: nothing measured).
    pub(super) rank: Option<usize>,
}

/// The Mondays (China's time) of `year`'s weeks that have begun by `today`.
fn weeks_elapsed(year: i32, today: NaiveDate) -> u64 {
    let Some(jan1) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return 0;
    };
    let back = i64::from(jan1.weekday().num_days_from_monday());
    let first = if back == 0 {
        jan1
    } else {
        jan1 + Duration::days(7 - back)
    };
    let mut n = 0;
    let mut d = first;
    while d.year() == year && d <= today {
        n += 1;
        d += Duration::days(7);
    }
    n
}

/// The region's view of the street office: counts of findings are read as an administrator
/// of the caller's regions sees them (aggregates; nothing of it is answered but numbers).
fn office_view(caller: &Caller) -> Caller {
    Caller {
        role: Role::Admin,
        scope_kind: ScopeKind::Region,
        ..caller.clone()
    }
}

/// Party rule findings of `year` per community, or per first-level grid.
async fn findings(
    st: &AppState,
    caller: &Caller,
    year: i32,
    by_grid: bool,
) -> ApiResult<HashMap<String, u64>> {
    let office = office_view(caller);
    let mut out: HashMap<String, u64> = HashMap::new();
    if !by_grid {
        let q = serde_json::from_value(json!({ "year": year, "limit": 1 }))
            .map_err(|e| ApiError::internal(&e))?;
        let Json(r) = crate::http::party::report(Queried(st.clone(), office, q)).await?;
        for c in r["communities"].as_array().into_iter().flatten() {
            let n: u64 = c["findings"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            if let Some(code) = c["code"].as_str() {
                out.insert(code.to_string(), n);
            }
        }
        return Ok(out);
    }
    let mut after: Option<String> = None;
    loop {
        let q =
            serde_json::from_value(json!({ "year": year, "limit": FINDINGS_PAGE, "after": after }))
                .map_err(|e| ApiError::internal(&e))?;
        let resp = crate::http::party::findings(Queried(st.clone(), office.clone(), q)).await?;
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let page: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(&e))?;
        for f in page["findings"].as_array().into_iter().flatten() {
            // A finding of a second-level grid counts for its first-level grid.
            if let Some(g) = f["grid_code"].as_str() {
                let l1 = g.get(..14).unwrap_or(g);
                *out.entry(l1.to_string()).or_default() += 1;
            }
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    Ok(out)
}

/// Where each place's measures are summed: the community, or the first-level grid.
fn place_of_grid(snap: &Snapshot, grid: i64, by_grid: bool) -> Option<i64> {
    let g = snap.grids.get(grid)?;
    if !by_grid {
        return Some(g.community_id);
    }
    match g.level {
        GridLevel::First => Some(g.id),
        GridLevel::Second => g.parent_id,
    }
}

/// What the store holds for the measures of a year.
struct Read {
    weeks: HashMap<i64, i64>,
    visits: HashMap<i64, i32>,
    incidents: Vec<crate::store::assess::IncidentTimes>,
    dual: HashMap<i64, Share>,
    findings: HashMap<String, u64>,
}

/// The scorecards of every place of the caller's region for `year`, ranked.
pub(super) async fn cards(
    st: &AppState,
    caller: &Caller,
    year: i32,
    by_grid: bool,
    settings: Settings,
) -> ApiResult<Vec<Card>> {
    let snap = st.registry.snapshot();
    let regions = caller.regions.clone();
    let communities: Vec<i64> = snap
        .communities
        .items
        .iter()
        .filter(|c| regions.contains(&c.region_id))
        .map(|c| c.id)
        .collect();
    let s = &st.store;
    let (weeks, visits, incidents, units) = tokio::try_join!(
        s.assess_patrol_weeks(year, st.config.patrols.min_share_inside),
        s.assess_visits(year),
        s.assess_incidents(year),
        s.assess_units(&communities, year),
    )?;
    let mut dual: HashMap<i64, Share> = HashMap::new();
    for u in units {
        dual.entry(u.community_id).or_default().add(Share {
            of: u64::from(u.completed > 0),
            total: 1,
        });
    }
    let read = Read {
        weeks: weeks.into_iter().map(|w| (w.grid_id, w.weeks)).collect(),
        visits: visits
            .into_iter()
            .map(|v| (v.building_id, v.households))
            .collect(),
        incidents,
        dual,
        findings: findings(st, caller, year, by_grid).await?,
    };
    let model = st.coverage.model(&snap).await.ok();
    let today = chrono::Utc::now()
        .with_timezone(&params::china())
        .date_naive();
    let elapsed = weeks_elapsed(year, today);
    let region: HashSet<i64> = communities.into_iter().collect();
    crate::work::heavy(BUDGET, move || {
        Ok(sum_up(
            &snap,
            model.as_deref(),
            &read,
            &region,
            by_grid,
            elapsed,
            &settings,
        ))
    })
    .await
    .map_err(ApiError::from)
}

/// Sums the measures per place and makes the ranked scorecards (on the work pool).
fn sum_up(
    snap: &Snapshot,
    model: Option<&crate::coverage::CoverageModel>,
    read: &Read,
    region: &HashSet<i64>,
    by_grid: bool,
    elapsed: u64,
    settings: &Settings,
) -> Vec<Card> {
    let mut places: HashMap<i64, Measures> = HashMap::new();
    let mut names: Vec<(i64, String, String, i64)> = vec![];
    if by_grid {
        for g in snap
            .grids
            .items
            .iter()
            .filter(|g| g.level == GridLevel::First)
        {
            if region.contains(&g.community_id) {
                names.push((g.id, g.code.clone(), g.name.clone(), g.community_id));
            }
        }
    } else {
        for c in snap
            .communities
            .items
            .iter()
            .filter(|c| region.contains(&c.id))
        {
            names.push((c.id, c.code.clone(), c.name.clone(), c.id));
        }
    }
    for (id, code, _, _) in &names {
        let m = places.entry(*id).or_default();
        m.findings = Some(read.findings.get(code).copied().unwrap_or(0));
        if !by_grid {
            m.dual = read.dual.get(id).copied().unwrap_or_default();
        }
        m.coverage = model.map(|_| vec![]);
    }
    for g in snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::Second)
    {
        let Some(m) = place_of_grid(snap, g.id, by_grid).and_then(|p| places.get_mut(&p)) else {
            continue;
        };
        let done = read.weeks.get(&g.id).copied().unwrap_or(0).max(0) as u64;
        m.patrol.add(Share {
            of: done.min(elapsed),
            total: elapsed,
        });
    }
    for b in &snap.buildings.items {
        let Some(m) = place_of_grid(snap, b.grid_id, by_grid).and_then(|p| places.get_mut(&p))
        else {
            continue;
        };
        let households = b.households.max(0) as u64;
        let visited = read.visits.get(&b.id).copied().unwrap_or(0).max(0) as u64;
        m.visits.add(Share {
            of: visited.min(households),
            total: households,
        });
    }
    for i in &read.incidents {
        let Some(m) = place_of_grid(snap, i.grid_id, by_grid).and_then(|p| places.get_mut(&p))
        else {
            continue;
        };
        let within =
            Category::parse(&i.category).map_or(Duration::days(7), Category::resolve_within);
        let on_time = i.done_at.is_some_and(|d| d <= i.reported_at + within);
        m.incidents.add(Share {
            of: u64::from(on_time),
            total: 1,
        });
    }
    if let Some(model) = model {
        coverage(snap, model, by_grid, &mut places);
    }
    let mut cards: Vec<Card> = names
        .into_iter()
        .map(|(id, code, name, community_id)| {
            let measures = places.remove(&id).unwrap_or_default();
            let card = card_of(&measures, settings);
            Card {
                id,
                code,
                name,
                community_id,
                measures,
                card,
                rank: None,
            }
        })
        .collect();
    let ranks: HashMap<String, Option<usize>> = rank(
        &cards
            .iter()
            .map(|c| (c.code.clone(), c.card.total))
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .collect();
    for c in &mut cards {
        c.rank = ranks.get(&c.code).copied().flatten();
    }
    cards.sort_by(|a, b| match (a.rank, b.rank) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.code.cmp(&b.code)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.code.cmp(&b.code),
    });
    cards
}

/// Residents within the ten-minute walk of each 1+8 kind, per place.
fn coverage(
    snap: &Snapshot,
    model: &crate::coverage::CoverageModel,
    by_grid: bool,
    places: &mut HashMap<i64, Measures>,
) {
    let kinds: Vec<String> = StationKind::ONE_PLUS_EIGHT
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let report = model.coverage(
        &model.stations,
        &KindSelection::AnyOf(kinds.clone()),
        LifeCircle::TenMinute.distance_m(),
    );
    let rows = model.rows_shared();
    let place_of_row: Vec<Option<i64>> = rows
        .ids
        .iter()
        .map(|b| {
            model
                .snap
                .buildings
                .get(*b)
                .and_then(|b| place_of_grid(snap, b.grid_id, by_grid))
        })
        .collect();
    // Buildings with no street within reach count, never covered (as `/api/coverage` does).
    let mut off: HashMap<i64, u64> = HashMap::new();
    for b in model
        .off_network
        .iter()
        .filter_map(|b| model.snap.buildings.get(*b))
    {
        if let Some(p) = place_of_grid(snap, b.grid_id, by_grid) {
            *off.entry(p).or_default() += b.residents.max(0) as u64;
        }
    }
    for kind in &kinds {
        let mut per: HashMap<i64, Share> = off
            .iter()
            .map(|(p, n)| (*p, Share { of: 0, total: *n }))
            .collect();
        let distances = report
            .kind_index(kind)
            .map(|k| report.kind_distances(k))
            .unwrap_or(&[]);
        for (row, place) in place_of_row.iter().enumerate() {
            let Some(p) = place else { continue };
            let residents = u64::from(rows.residents.get(row).copied().unwrap_or(0));
            let covered = distances.get(row).is_some_and(|d| d.is_finite());
            per.entry(*p).or_default().add(Share {
                of: if covered { residents } else { 0 },
                total: residents,
            });
        }
        for (p, m) in places.iter_mut() {
            if let Some(list) = m.coverage.as_mut() {
                list.push(KindCoverage {
                    kind: kind.clone(),
                    residents: per.get(p).copied().unwrap_or_default(),
                });
            }
        }
    }
}

/// A card as JSON.
pub(super) fn card_json(snap: &Snapshot, c: &Card, of: usize) -> Value {
    json!({
        "code": c.code,
        "name": c.name,
        "community_code": snap.communities.get(c.community_id).map(|x| &x.code),
        "rank": c.rank,
        "of": of,
        "total": c.card.total,
        "indicators": c.card.lines,
        "measures": c.measures,
    })
}

/// `GET /api/assess/{year}/scorecard?by=community|grid&community=`: the scorecards of the
/// communities (or first-level grids) the caller reads, in rank order, each with its rank
/// among the places of the region (`of`: how many were ranked).
pub async fn scorecard(
    Path(year): Path<i32>,
    Queried(st, caller, q): Queried<ScorecardQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let by = params::one_of(q.by.as_deref(), "by", ("community", "grid"))?;
    let by_grid = by == "grid";
    let snap = st.registry.snapshot();
    let shown: HashSet<i64> = readable(&snap, &caller, q.community.as_deref())?
        .into_iter()
        .collect();
    let (settings, _) = st.store.assess_settings(year).await?;
    let cards = cards(&st, &caller, year, by_grid, settings).await?;
    let of = cards.iter().filter(|c| c.rank.is_some()).count();
    let places: Vec<Value> = cards
        .iter()
        .filter(|c| shown.contains(&c.community_id))
        .map(|c| card_json(&snap, c, of))
        .collect();
    Ok(Json(json!({
        "year": year,
        "by": by,
        "weeks": weeks_elapsed(year, chrono::Utc::now().with_timezone(&params::china()).date_naive()),
        "places": places,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_begun_in_a_year() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        // 2024-01-01 is a Monday: 53 Mondays in 2024 (the last on 30 December).
        assert_eq!(weeks_elapsed(2024, d(2025, 6, 1)), 53);
        assert_eq!(weeks_elapsed(2024, d(2024, 1, 1)), 1);
        assert_eq!(weeks_elapsed(2024, d(2024, 1, 14)), 2);
        // 2025-01-01 is a Wednesday: the first Monday is 6 January.
        assert_eq!(weeks_elapsed(2025, d(2025, 1, 5)), 0);
        assert_eq!(weeks_elapsed(2025, d(2026, 1, 1)), 52);
        assert_eq!(weeks_elapsed(2030, d(2026, 1, 1)), 0);
    }
}
