//! The party cells layer: the grids as cells with their members, organisation and
//! findings, or the communities' sums when a city has too many cells to list.

use super::evaluation::evaluated;
use super::facts::cell_facts;
use super::{collection, communities, this_year, visibility};
use crate::domain::access::{Caller, Visibility};
use crate::domain::party;
use crate::domain::party::{RuleId, SubjectKind};
use crate::domain::registry::Grid;
use crate::domain::GridLevel;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Queried};
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Query of the cells layer.
#[derive(Deserialize)]
pub struct CellsQuery {
    community: Option<String>,
    level: Option<i64>,
}

/// `GET /api/party/cells?community=&level=`: the grids as party cells, for the map: members,
/// full members, organisation, committee, staff and the cell's findings.
pub async fn cells(Queried(st, caller, q): Queried<CellsQuery>) -> ApiResult<Json<Value>> {
    let level = crate::http::params::grid_level(q.level)?;
    let snap = st.registry.snapshot();
    let grids = visible_cells(&snap, &caller, q.community.as_deref(), level)?;
    if q.community.is_none() && grids.len() > MAX_CELLS {
        let grids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        return community_cells(&st, grids).await;
    }
    let properties = cell_properties(&st, &snap, &grids).await?;
    let features = grids
        .iter()
        .zip(properties)
        .map(|(g, properties)| {
            json!({
                "type": "Feature", "id": g.id,
                "geometry": geojson::Geometry::from(&g.geom),
                "properties": properties,
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// The grids of the caller's reach (and of `community`, `level` when given) that it may
/// see as party cells, in the index's order.
pub fn visible_cells<'a>(
    snap: &'a Snapshot,
    caller: &Caller,
    community: Option<&str>,
    level: Option<GridLevel>,
) -> ApiResult<Vec<&'a Grid>> {
    let ids: HashSet<i64> = communities(snap, caller, community)?.into_iter().collect();
    Ok(snap
        .grids
        .items
        .iter()
        .filter(|g| ids.contains(&g.community_id) && level.is_none_or(|l| g.level == l))
        .filter(|g| visibility(snap, caller, Some(g.id), g.community_id) != Visibility::Hidden)
        .collect())
}

/// The properties of each grid as a party cell (members, full members, organisation,
/// committee, staff and the cell's findings), in the order of `grids`.
pub async fn cell_properties(
    st: &AppState,
    snap: &Snapshot,
    grids: &[&Grid],
) -> ApiResult<Vec<Value>> {
    let cells = cell_facts(st, snap, grids).await?;
    let findings = party::cell_findings(&cells);
    let mut rules: HashMap<i64, Vec<RuleId>> = HashMap::new();
    for f in &findings {
        if let Some(g) = f.grid_id {
            rules.entry(g).or_default().push(f.rule);
        }
    }
    Ok(grids
        .iter()
        .zip(&cells)
        .map(|(g, c)| {
            let rules = rules.remove(&g.id).unwrap_or_default();
            json!({
                "code": g.code, "name": g.name, "level": g.level.number(),
                "parent_code": g.parent_id.and_then(|p| snap.grids.get(p)).map(|p| &p.code),
                "community_code": snap.communities.get(g.community_id).map(|c| &c.code),
                "org_code": c.org.as_ref().map(|o| &o.code),
                "org_name": c.org.as_ref().map(|o| &o.name),
                "members": c.members, "full_members": c.full,
                "probationary_members": c.members - c.full,
                "committee_seats": c.org.as_ref().map_or(0, |o| o.seats),
                "has_committee": c.org.as_ref().is_some_and(crate::domain::party::OrgFacts::has_committee),
                "chief": snap.staff.chief(g.id).map(|s| &s.name),
                "grid_members": c.staff_members,
                "findings": rules,
                "status": if rules.is_empty() { "ok" } else { "failing" },
            })
        })
        .collect())
}

/// Cells listed one by one by `GET /api/party/cells` without a `community`; past it the
/// answer has the communities instead (see [`community_cells`]).
pub const MAX_CELLS: usize = 1_000;

/// A city's cells summed per community, as the communities' shapes with their members,
/// full members, cells and cells failing a rule (this year's evaluation), `level: 0` and
/// `kind: "community"`; `cells_omitted` says how many cells were left out (ask per community).
pub(super) async fn community_cells(st: &AppState, grids: Vec<i64>) -> ApiResult<Json<Value>> {
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
