//! Routes of the party organisations, one subject a file: the cells layer (`cells`), the
//! rule findings as a list, report and export (`findings`, evaluated once per state of the
//! data in `evaluation` from the facts of `facts`), organisations with their officers and
//! members (`orgs`), social organisations (`associations`), 双报到 units and projects
//! (`units`), 双报到 members and posts (`dual`), the boundary-change preview and the full
//! re-assignment (`preview`), and the counts and lists kept per state of the data (`kept`).
//! This file holds what they share: years, visibility and reach, pages, points.
//!
//! Visibility: party data never reaches patrol or viewer accounts (the gate); at `Counts`
//! (planners, chiefs outside their grids) answers carry numbers only, never a person's name
//! or code; names need `Full`. Handlers assemble facts from the index and the store and
//! leave every rule to `domain::party`.

mod associations;
mod cells;
mod delete;
mod dual;
mod evaluation;
mod facts;
mod findings;
mod kept;
mod orgs;
mod preview;
mod units;

pub use associations::{associations, put_association, AssociationBody};
pub use cells::{cell_properties, cells, visible_cells, CellsQuery, MAX_CELLS};
pub use delete::{Deleter, DELETE_ASSOCIATION, DELETE_PROJECT, DELETE_UNIT};
pub use dual::{
    delete_dual_member, dual_members, put_dual_member, put_posts, DualBody, DualQuery, PostBody,
    PostsBody,
};
pub use evaluation::{spawn_findings_keeper, Evaluated, FindingsCache};
pub use findings::{findings, report, FindingsQuery};
pub use kept::MemberCounts;
pub use orgs::{
    delete_org, org, orgs, put_members, put_officers, put_org, AttachBody, MembersBody,
    OfficerBody, OfficersBody, OrgBody, OrgsQuery,
};
pub use preview::{preview, reassign};
pub use units::{put_project, put_unit, units, ProjectBody, UnitBody};

use super::error::{ApiError, ApiResult};
use super::{params, AppState};
use crate::domain::access::{Area, Caller, Place, Visibility};
use crate::domain::party::check_year;
use crate::spatial::index::Snapshot;
use crate::spatial::shape::point_from_geojson;
use crate::store::party::Owned;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use geo::{InteriorPoint, MultiPolygon, Point};
use serde::Deserialize;
use serde_json::{json, Value};

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

/// Checks that the caller may write the record `key` of `what`: reach its place as it
/// stands (if it exists) and the community and the 双报到 unit it is given, where given (a
/// record moved there must be within the caller's reach too).
async fn check_record_write(
    st: &AppState,
    caller: &Caller,
    (what, key): (Owned, &str),
    community: Option<&str>,
    unit: Option<&str>,
) -> ApiResult<()> {
    let own = owned_place(st, what, key).await?;
    let snap = st.registry.snapshot();
    let unit = match unit {
        Some(u) => owned_place(st, Owned::Unit, u).await?,
        None => None,
    };
    check_reach(
        caller,
        &[own, community.and_then(|c| code_place(&snap, c)), unit],
    )
}

fn code_place(snap: &Snapshot, code: &str) -> Option<Place> {
    snap.communities
        .by_code(code)
        .map(|c| snap.place_of_community(c))
}

/// Query of a list paged by code, of one community or all the caller sees.
#[derive(Deserialize)]
pub struct CommunityQuery {
    community: Option<String>,
    year: Option<i32>,
    limit: Option<i64>,
    after: Option<String>,
}

fn location(v: &Option<geojson::Geometry>) -> ApiResult<Option<Point<f64>>> {
    v.as_ref()
        .map(|g| point_from_geojson(g).map_err(|e| ApiError::shape(&e, None)))
        .transpose()
}

fn date(s: &str, field: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("{field} is a date YYYY-MM-DD, got {s:?}")))
}

async fn person_place(st: &AppState, person: &str) -> ApiResult<Option<Place>> {
    owned_place(st, Owned::Person, person).await
}

/// Cuts a list read with one row more than `limit` (see [`page_of`]) to its page; the
/// `next` of the page (the code of its last row) when more follow.
fn cut_page<T>(list: &mut Vec<T>, limit: i64, code: impl Fn(&T) -> &str) -> Option<String> {
    let limit = limit as usize;
    if list.len() <= limit {
        return None;
    }
    list.truncate(limit);
    list.last().map(|x| code(x).to_string())
}

/// A record's point, or its community's when it has none.
fn point_or_community(
    snap: &Snapshot,
    point: Option<Point<f64>>,
    community: i64,
) -> Option<Point<f64>> {
    point.or_else(|| {
        snap.communities
            .get(community)
            .and_then(|c| interior(&c.geom))
    })
}
