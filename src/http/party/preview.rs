//! Routes that follow grid changes: the boundary-change preview and the full
//! re-assignment of members from the index.

use super::facts::cells_of;
use super::findings::finding_json;
use super::{collection, point_feature, visibility};
use crate::domain::access::{Area, Caller, Visibility};
use crate::domain::party::preview::{self, BuildingMove};
use crate::domain::party::CellFacts;
use crate::domain::registry::{Building, Grid, GridChange};
use crate::domain::GridLevel;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Json};
use crate::http::registry::{checked_batch, geometry_work, Batch, Stop};
use crate::http::AppState;
use crate::spatial::assign::{self, Overlay, Refusal, NEW_ID_BASE};
use crate::spatial::index::Snapshot;
use crate::spatial::topology::Fault;
use crate::store::party::MemberRow;
use crate::store::{ParentFault, StoreError};
use geo::Point;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// `POST /api/party/reassign`: re-computes every member's cell from the index (their home
/// building's anchor → second-level grid → parent) and writes the cells that differ from
/// the stored ones within the caller's reach.
pub async fn reassign(Ctx { st, caller }: Ctx) -> ApiResult<Json<Value>> {
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

/// The refusal of the grid store for the same batch.
pub(super) fn refusal(r: Refusal) -> StoreError {
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
pub(super) fn error_body(e: StoreError) -> Value {
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
pub async fn preview(Ctx { st, caller }: Ctx, Json(b): Json<Batch>) -> ApiResult<Json<Value>> {
    let changes = checked_batch(&st, b).await?;
    let snap = st.registry.snapshot();
    let may_commit = may_commit(&snap, &caller, &changes)?;
    let overlay = Overlay::new(&snap, &changes).map_err(|r| ApiError::from(refusal(r)))?;
    // The partition checks and the buildings' new grids are the heavy part: on the work
    // pool, within the geometry budget, answered by building id.
    let (faults, moved, orphaned) = {
        let (snap, tolerance_m2) = (Arc::clone(&snap), st.config.tolerance_m2);
        geometry_work(&st, usize::MAX, move || {
            let overlay =
                Overlay::new(&snap, &changes).map_err(|r| Stop::Refused(refusal(r).into()))?;
            let faults = overlay.partition_faults(tolerance_m2)?;
            let bm = overlay.building_moves()?;
            let moved: Vec<(i64, i64)> = bm.moves.iter().map(|(b, g)| (b.id, *g)).collect();
            let orphaned: Vec<i64> = bm.orphans.iter().map(|b| b.id).collect();
            Ok((faults, moved, orphaned))
        })
        .await?
    };
    let moves: Vec<(&Building, i64)> = moved
        .iter()
        .filter_map(|(id, g)| snap.buildings.get(*id).map(|b| (b, *g)))
        .collect();
    let orphans: Vec<&Building> = orphaned
        .iter()
        .filter_map(|id| snap.buildings.get(*id))
        .collect();
    let commit = match verdict(st.config.tolerance_m2, faults, &orphans) {
        None => json!({ "ok": true, "may_commit": may_commit }),
        Some(e) => json!({ "ok": false, "may_commit": may_commit, "error": error_body(e) }),
    };
    let mut body = preview_body(&st, &snap, &caller, &overlay, &moves).await?;
    body["commit"] = commit;
    body["buildings"]["orphans"] = json!(orphans.iter().map(|b| &b.code).collect::<Vec<_>>());
    Ok(Json(body))
}

/// Whether the caller may commit the batch (every grid it names within reach); a grid of
/// the batch the caller does not see is a 404, as if it did not exist.
fn may_commit(snap: &Snapshot, caller: &Caller, changes: &[GridChange]) -> ApiResult<bool> {
    let mut may_commit = true;
    for (i, c) in changes.iter().enumerate() {
        if let Some(p) = snap.place_of_change(c) {
            if caller.visibility(&p) == Visibility::Hidden {
                return Err(
                    ApiError::not_found("a grid of the batch was not found".to_string())
                        .with("index", json!(i)),
                );
            }
            may_commit &= caller.may_change(Area::Boundaries, &p);
        }
    }
    Ok(may_commit)
}

/// The refusal the grid store would give for the batch, if any: partition faults first,
/// then buildings left outside every grid (the first 100 codes).
fn verdict(
    tolerance_m2: f64,
    faults: Vec<(String, Vec<String>, Fault)>,
    orphans: &[&Building],
) -> Option<StoreError> {
    if !faults.is_empty() {
        return Some(StoreError::Partition {
            tolerance_m2,
            faults: faults
                .into_iter()
                .map(|(parent_code, child_codes, fault)| ParentFault {
                    parent_code,
                    child_codes,
                    fault,
                })
                .collect(),
        });
    }
    if orphans.is_empty() {
        return None;
    }
    let mut codes: Vec<String> = orphans.iter().map(|b| b.code.clone()).collect();
    codes.sort();
    codes.truncate(100);
    Some(StoreError::Orphans { codes })
}

/// The grid as the batch leaves it, or as it is now.
pub(super) fn grid_code(overlay: &Overlay, id: i64) -> Option<String> {
    overlay.grid_or_current(id).map(|g| g.code.clone())
}

/// How much the caller sees of a cell before or after: a new grid is seen as its parent.
pub(super) fn cell_visibility(
    overlay: &Overlay,
    snap: &Snapshot,
    caller: &Caller,
    id: i64,
) -> Visibility {
    match overlay.grid_or_current(id) {
        Some(g) if g.id >= NEW_ID_BASE => visibility(snap, caller, g.parent_id, g.community_id),
        Some(g) => visibility(snap, caller, Some(g.id), g.community_id),
        None => Visibility::Hidden,
    }
}

/// The preview's answer but for the commit verdict: buildings moved, members' flows,
/// cells' counts before and after, rules' changes, and a map of it all.
async fn preview_body(
    st: &AppState,
    snap: &Snapshot,
    caller: &Caller,
    overlay: &Overlay<'_>,
    moves: &[(&Building, i64)],
) -> ApiResult<Value> {
    let moved_ids: Vec<i64> = moves.iter().map(|(b, _)| b.id).collect();
    let per_building = st.store.building_member_counts(&moved_ids).await?;
    let counted: Vec<BuildingMove> = moves
        .iter()
        .map(|(b, to)| {
            let (members, full) = per_building.get(&b.id).copied().unwrap_or_default();
            BuildingMove {
                building: b.id,
                from: b.grid_id,
                to: *to,
                members,
                full,
            }
        })
        .collect();
    let (t1, t2) = overlay.touched_cells(counted.iter().map(|m| (m.from, m.to)));
    let (before, after) = cells_before_after(st, snap, overlay, (&t1, &t2), &counted).await?;
    let rules = rule_rows(snap, caller, overlay, &before, &after);
    let cells = cell_rows(snap, caller, overlay, t1.iter().chain(&t2), &before, &after);
    let people = st.store.members_in_buildings(&moved_ids).await?;
    let moved = MovedRows::new(snap, caller, overlay, moves, &counted, &people);
    let mut map = moved.map;
    map.extend(rules.iter().map(finding_feature));
    map.extend(grid_features(snap, overlay));
    Ok(json!({
        "buildings": { "moved": moved.buildings.len(), "moves": moved.buildings },
        "members": { "moved": moved.members, "flows": moved.flows },
        "cells": cells,
        "rules": rules,
        "map": collection(map),
    }))
}

/// The touched cells `(first-level, second-level)` before the batch and after it, with
/// their members, organisations, chiefs and staff.
async fn cells_before_after(
    st: &AppState,
    snap: &Snapshot,
    overlay: &Overlay<'_>,
    (t1, t2): (&BTreeSet<i64>, &BTreeSet<i64>),
    moves: &[BuildingMove],
) -> ApiResult<(Vec<CellFacts>, Vec<CellFacts>)> {
    let touched = || t1.iter().chain(t2).copied();
    let existing: Vec<i64> = touched().filter(|id| *id < NEW_ID_BASE).collect();
    let l2_existing: Vec<i64> = t2.iter().copied().filter(|id| *id < NEW_ID_BASE).collect();
    let counts = st.store.cell_counts(Some(&l2_existing)).await?;
    let orgs = st.store.cell_orgs(Some(&existing)).await?;
    let chiefs = st.store.grid_chiefs(Some(&existing)).await?;
    let after_counts = preview::counts_after(&counts, moves);
    let before_grids: Vec<&Grid> = touched().filter_map(|id| snap.grids.get(id)).collect();
    let after_grids: Vec<&Grid> = touched().filter_map(|id| overlay.grid(id)).collect();
    let before = cells_of(snap, &before_grids, &counts, &orgs, &chiefs);
    let mut after = cells_of(snap, &after_grids, &after_counts, &orgs, &chiefs);
    // First-level cells after the batch count their children as the batch leaves them.
    let children = overlay
        .grids()
        .filter(|g| g.level == GridLevel::Second)
        .filter_map(|g| g.parent_id.filter(|p| t1.contains(p)).map(|p| (p, g.id)));
    preview::sum_children(&mut after, children, &after_counts);
    preview::forget_new(&mut after, |id| id >= NEW_ID_BASE);
    Ok((before, after))
}

/// The rules that start, stop or change failing in cells the caller sees (at least as
/// counts), as findings with their change and grid code.
fn rule_rows(
    snap: &Snapshot,
    caller: &Caller,
    overlay: &Overlay,
    before: &[CellFacts],
    after: &[CellFacts],
) -> Vec<Value> {
    preview::rule_changes(before, after)
        .into_iter()
        .filter_map(|(change, f)| {
            let vis = cell_visibility(overlay, snap, caller, f.subject.id);
            (vis >= Visibility::Counts).then(|| {
                let mut v = finding_json(snap, &f, vis);
                v["change"] = json!(change);
                v["grid_code"] = json!(grid_code(overlay, f.subject.id));
                v
            })
        })
        .collect()
}

/// The cells whose counts change, that the caller sees (at least as counts).
fn cell_rows<'a>(
    snap: &Snapshot,
    caller: &Caller,
    overlay: &Overlay,
    ids: impl Iterator<Item = &'a i64>,
    before: &[CellFacts],
    after: &[CellFacts],
) -> Vec<Value> {
    preview::changed_cells(ids.copied(), before, after)
        .into_iter()
        .filter(|c| cell_visibility(overlay, snap, caller, c.grid_id) >= Visibility::Counts)
        .map(|c| {
            let pair = |f: fn(&CellFacts) -> i64| json!([c.before.map(f), c.after.map(f)]);
            let any = c.after.or(c.before);
            json!({
                "code": grid_code(overlay, c.grid_id),
                "level": any.map(|c| c.level.number()),
                "name": any.map(|c| &c.name),
                "status": c.status(),
                "members": pair(|c| c.members),
                "full_members": pair(|c| c.full),
            })
        })
        .collect()
}

/// The buildings that move, the members' flows between cells and the moves on the map.
struct MovedRows {
    buildings: Vec<Value>,
    flows: Vec<Value>,
    members: i64,
    map: Vec<Value>,
}

impl MovedRows {
    /// The rows of `moves` (with their members counted in `counted`, in the same order);
    /// members are named only when the caller sees both ends in full.
    fn new(
        snap: &Snapshot,
        caller: &Caller,
        overlay: &Overlay,
        moves: &[(&Building, i64)],
        counted: &[BuildingMove],
        people: &[MemberRow],
    ) -> Self {
        let mut by_building: HashMap<i64, Vec<&MemberRow>> = HashMap::new();
        for p in people {
            if let Some(b) = p.building_id {
                by_building.entry(b).or_default().push(p);
            }
        }
        let mut named: BTreeMap<(i64, i64), Vec<Value>> = BTreeMap::new();
        let mut buildings = Vec::new();
        let mut map = Vec::new();
        for ((b, _), m) in moves.iter().zip(counted) {
            let from_vis = cell_visibility(overlay, snap, caller, m.from);
            let to_vis = cell_visibility(overlay, snap, caller, m.to);
            let vis = from_vis.min(to_vis);
            let names = named.entry((m.from, m.to)).or_default();
            if vis == Visibility::Full {
                for p in by_building.get(&b.id).into_iter().flatten() {
                    names.push(json!({ "code": p.code, "name": p.name, "membership": p.membership, "building_code": p.building_code }));
                }
            }
            let row = json!({
                "code": b.code, "name": b.name,
                "from_grid": grid_code(overlay, m.from),
                "to_grid": grid_code(overlay, m.to),
                "members": if vis >= Visibility::Counts { json!(m.members) } else { Value::Null },
            });
            map.push(point_feature(
                Some(b.anchor),
                json!({ "kind": "building_move", "code": b.code, "from_grid": row["from_grid"], "to_grid": row["to_grid"], "members": row["members"] }),
            ));
            buildings.push(row);
        }
        let branch_of = |id: i64| {
            overlay
                .grid_or_current(id)
                .and_then(|g| g.parent_id)
                .and_then(|p| grid_code(overlay, p))
        };
        let mut members = 0i64;
        let flows = preview::flows(counted)
            .into_iter()
            .map(|((from, to), flow)| {
                members += flow.members;
                json!({
                    "from": { "group": grid_code(overlay, from), "branch": branch_of(from) },
                    "to": { "group": grid_code(overlay, to), "branch": branch_of(to) },
                    "buildings": flow.buildings, "members": flow.members, "full_members": flow.full,
                    "people": named.remove(&(from, to)).unwrap_or_default(),
                })
            })
            .collect();
        MovedRows {
            buildings,
            flows,
            members,
            map,
        }
    }
}

/// A rule's change on the map, at its finding's point.
fn finding_feature(r: &Value) -> Value {
    let p = r["point"]
        .as_array()
        .and_then(|a| Some(Point::new(a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
    point_feature(
        p,
        json!({ "kind": "finding", "change": r["change"], "rule": r["rule"], "title": r["title"], "message": r["message"], "grid_code": r["grid_code"] }),
    )
}

/// The grids the batch creates, re-draws or deletes, on the map.
fn grid_features(snap: &Snapshot, overlay: &Overlay) -> Vec<Value> {
    let feature = |g: &Grid, change: &str| {
        json!({
            "type": "Feature",
            "geometry": geojson::Geometry::from(&g.geom),
            "properties": { "kind": "grid", "change": change, "code": g.code, "level": g.level.number() },
        })
    };
    let mut out: Vec<Value> = overlay.created().map(|g| feature(g, "create")).collect();
    for id in overlay.changed() {
        let change = if overlay.grid(*id).is_some() {
            "update"
        } else {
            "delete"
        };
        if let Some(g) = overlay.grid(*id).or_else(|| snap.grids.get(*id)) {
            out.push(feature(g, change));
        }
    }
    out
}
