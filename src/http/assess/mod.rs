//! Routes of the annual assessment (考评), one part a file: a year's assessment of every
//! community the caller reads (`year`), the objective scorecards and ranking (`scorecard`,
//! on the work pool), the entry of settings, reports, ratings, pledges, 双报到 ratings,
//! completions and year-start lists (`entry`), and the XLSX export and printable page
//! (`export`). This file holds what they share: the year, the communities a caller reads,
//! the reach of a write.
//!
//! Who reads what: the street office's administrators every community of their region; a
//! grid chief the communities of their grids, a viewer those of their scope (read-only).
//! Persons are named (pledges, ratings of 双报到 members, the secretary) only to callers who
//! see the community in full; others get the counts. Entry is for administrators, within
//! their region. Rules are `domain::assess`.

mod entry;
mod export;
mod scorecard;
mod year;

pub use entry::{
    put_completion, put_lists, put_member_ratings, put_pledges, put_ratings, put_report,
    put_settings, put_unit_rating,
};
pub use export::{export, print};
pub use scorecard::{scorecard, ScorecardQuery};
pub use year::{settings, year, YearQuery};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::domain::access::{Area, Caller, Role, ScopeKind, Visibility};
use crate::spatial::index::Snapshot;
use crate::store::assess::Owner;
use axum::http::StatusCode;

/// Checks the year of the path.
fn year_of(year: i32) -> ApiResult<i32> {
    crate::domain::assess::check_year(year).map_err(|e| ApiError::invalid(&e.field, e.message))?;
    Ok(year)
}

/// Whether the caller reads the assessment of community `id`: administrators their region,
/// chiefs the communities of their grids (or of their scope), viewers their scope.
fn reads(snap: &Snapshot, caller: &Caller, id: i64) -> bool {
    let Some(c) = snap.communities.get(id) else {
        return false;
    };
    let place = snap.place_of_community(c);
    match caller.role {
        Role::Admin => caller.visibility(&place) != Visibility::Hidden,
        Role::GridChief | Role::Viewer => {
            caller.in_scope(&place)
                || (caller.scope_kind == ScopeKind::Grids
                    && caller
                        .grids
                        .iter()
                        .any(|g| snap.grids.get(*g).is_some_and(|g| g.community_id == id)))
        }
        Role::Planner | Role::Patrol => false,
    }
}

/// Whether the caller sees persons' names in community `id`'s assessment.
fn names(snap: &Snapshot, caller: &Caller, id: i64) -> bool {
    snap.communities
        .get(id)
        .is_some_and(|c| caller.visibility(&snap.place_of_community(c)) == Visibility::Full)
}

/// The communities the caller reads (one, by code, when asked: 404 when unknown or not
/// readable), in code order.
fn readable(snap: &Snapshot, caller: &Caller, code: Option<&str>) -> ApiResult<Vec<i64>> {
    match code {
        Some(code) => match snap.communities.by_code(code) {
            Some(c) if reads(snap, caller, c.id) => Ok(vec![c.id]),
            _ => Err(ApiError::not_found(format!("community {code} not found"))),
        },
        None => {
            let mut v: Vec<(&str, i64)> = snap
                .communities
                .items
                .iter()
                .filter(|c| reads(snap, caller, c.id))
                .map(|c| (c.code.as_str(), c.id))
                .collect();
            v.sort_unstable();
            Ok(v.into_iter().map(|(_, id)| id).collect())
        }
    }
}

/// Checks that the caller may write the assessment of what `owner` names: 404 when it does
/// not exist or is hidden, 403 when it is seen but out of reach.
async fn check_reach(st: &AppState, caller: &Caller, owner: Owner<'_>) -> ApiResult<i64> {
    let what = match owner {
        Owner::Community(c) => format!("community {c}"),
        Owner::Unit(c) => format!("双报到 unit {c}"),
        Owner::DualMember(c) => format!("双报到 member {c}"),
        Owner::Project(c) => format!("volunteer project {c}"),
    };
    let snap = st.registry.snapshot();
    let place = match st.store.assess_owner(owner).await? {
        Some(id) => snap.communities.get(id).map(|c| snap.place_of_community(c)),
        None => None,
    };
    let Some(place) = place.filter(|p| caller.visibility(p) != Visibility::Hidden) else {
        return Err(ApiError::not_found(format!("{what} not found")));
    };
    if !caller.may_change(Area::Assessment, &place) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{what} is outside your reach"),
        ));
    }
    Ok(place.community_id)
}
