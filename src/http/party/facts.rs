//! The facts the party rules look at, gathered from the index and the store: cells with
//! their members, organisations, chiefs and staff, and everything else of some communities.

use super::interior;
use crate::domain::party::{CellFacts, CommunityFacts, Facts};
use crate::domain::registry::Grid;
use crate::domain::{party, GridLevel};
use crate::http::error::ApiResult;
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use crate::store::party::Org;
use std::collections::{HashMap, HashSet};

/// Cell facts of current grids: members from the stored assignments, organisations,
/// chiefs and staff; first-level counts rolled up from all their children.
pub(super) async fn cell_facts(
    st: &AppState,
    snap: &Snapshot,
    grids: &[&Grid],
) -> ApiResult<Vec<CellFacts>> {
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

pub(super) fn cells_of(
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
pub(super) async fn facts(
    st: &AppState,
    snap: &Snapshot,
    communities: &[i64],
    year: i32,
) -> ApiResult<Facts> {
    let wanted: HashSet<i64> = communities.iter().copied().collect();
    let grids: Vec<&Grid> = snap
        .grids
        .items
        .iter()
        .filter(|g| wanted.contains(&g.community_id))
        .collect();
    let cells = cell_facts(st, snap, &grids).await?;
    let (mut facts, welfare_orgs) = st.store.party_rule_data(communities, year).await?;
    let community_point = |id: i64| snap.communities.interior_point(id);
    for a in &mut facts.associations {
        a.point = a.point.or_else(|| community_point(a.community_id));
    }
    for u in &mut facts.units {
        u.point = u.point.or_else(|| community_point(u.community_id));
    }
    for m in &mut facts.members {
        m.point = m.point.or_else(|| community_point(m.community_id));
    }
    facts.cells = cells;
    facts.communities = communities
        .iter()
        .filter_map(|id| snap.communities.get(*id))
        .map(|c| CommunityFacts {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            welfare_orgs: welfare_orgs.get(&c.id).copied().unwrap_or(0),
            point: interior(&c.geom),
        })
        .collect();
    Ok(facts)
}
