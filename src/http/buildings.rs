//! One building's and one station's panel as the caller may see them: the building with
//! its grid, community, staff, households and this week's patrol visits; the station with
//! its community, grid, programmes, opening hours and service phone; and the write of a
//! station's opening hours and phone. What each caller sees is decided by
//! `domain::access` ([`Caller::household_detail`], [`Caller::visibility`]); names never
//! leave the store for a caller who may not see them.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path};
use super::AppState;
use crate::domain::access::{Area, Caller, Visibility};
use crate::domain::patrol::{IsoWeek, Reached};
use crate::domain::registry::{Building, Grid};
use crate::spatial::index::Snapshot;
use crate::store::buildings::{BuildingVisit, StationService};
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A grid's code and name, or null.
fn grid_ref(g: Option<&Grid>) -> Value {
    g.map_or(Value::Null, |g| json!({ "code": g.code, "name": g.name }))
}

/// The facts of a building every caller who sees it may read: the same counts as the
/// building's map feature, with its grid, parent grid and community named.
fn building_facts(snap: &Snapshot, b: &Building, vis: Visibility) -> Value {
    let grid = snap.grids.get(b.grid_id);
    let parent = grid
        .and_then(|g| g.parent_id)
        .and_then(|id| snap.grids.get(id));
    let community = grid.and_then(|g| snap.communities.get(g.community_id));
    let mut v = json!({
        "code": b.code, "name": b.name, "address": b.address,
        "compound": b.compound.as_ref().map(|(code, name)| json!({ "code": code, "name": name })),
        "grid": grid_ref(grid), "parent_grid": grid_ref(parent),
        "community": community.map(|c| json!({ "code": c.code, "name": c.name })),
        "households": b.households, "residents": b.residents, "employees": b.employees,
        "visibility": vis,
        "staff": snap.staff.shown(b.grid_id, vis.staff()),
    });
    if vis == Visibility::Full {
        v["party_members"] = json!(b.party_members);
    }
    v
}

/// `GET /api/buildings/{code}`: a building with its grid, community and the grid's staff;
/// with households' addresses its households one by one (the head's name with residents'
/// personal data); for those who read the patrols of its grid, this week's visits (who,
/// when, how many households, and the households visited in all, at most the building's
/// total as the compliance count has it: a household named by two visits counts once).
/// Those who see both the households and the visits see, on each household, the visits
/// that named it this week (`visited`: empty when none did) and each visit's `doors`;
/// the others see counts only. A building the caller may not see is a 404.
pub async fn get_building(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found(format!("building {code} not found"));
    let snap = st.registry.snapshot();
    let b = snap.buildings.by_code(&code).ok_or_else(not_found)?;
    let place = snap.place_of_building(b).ok_or_else(not_found)?;
    let detail = caller.household_detail(&place);
    if detail.visibility == Visibility::Hidden {
        return Err(not_found());
    }
    let mut body = building_facts(&snap, b, detail.visibility);
    let week = IsoWeek::of(chrono::Utc::now());
    let mut visits = if detail.visits {
        st.store
            .building_visits(b.id, week.start(), week.end())
            .await?
    } else {
        vec![]
    };
    body["household_list"] = if detail.households {
        let mut list = json!(st.store.building_households(b.id, detail.names).await?);
        if detail.visits {
            mark_visited(&mut list, &visits);
        }
        list
    } else {
        // Door labels are addresses: a caller who may not see them sees counts only.
        visits.iter_mut().for_each(|v| v.doors = None);
        Value::Null
    };
    body["visits"] = if detail.visits {
        let mut reached = Reached::default();
        for v in &visits {
            reached.add(v.households, v.doors.as_deref());
        }
        json!({
            "week": week, "from": week.start(), "to": week.end(),
            "households_visited": reached.count(b.households),
            "households": b.households,
            "patrols": visits,
        })
    } else {
        Value::Null
    };
    Ok(Json(body))
}

/// Marks each household of a building's `list` with the visits that named it
/// (`visited: [{patrol_id, by, staff_code, started_at, ended_at}]`, earliest first).
fn mark_visited(list: &mut Value, visits: &[BuildingVisit]) {
    let Some(rows) = list["households"].as_array_mut() else {
        return;
    };
    for row in rows {
        let label = row["label"].as_str().unwrap_or_default();
        let by: Vec<Value> = visits
            .iter()
            .filter(|v| {
                v.doors
                    .as_ref()
                    .is_some_and(|d| d.iter().any(|d| d == label))
            })
            .map(|v| {
                json!({
                    "patrol_id": v.patrol_id, "by": v.by, "staff_code": v.staff_code,
                    "started_at": v.started_at, "ended_at": v.ended_at,
                })
            })
            .collect();
        row["visited"] = Value::Array(by);
    }
}

/// The station `code` and where it sits, if the caller's region holds it.
fn station_in_region<'a>(
    snap: &'a Snapshot,
    caller: &Caller,
    code: &str,
) -> ApiResult<(
    &'a crate::domain::registry::Station,
    crate::domain::access::Place,
)> {
    snap.stations
        .items
        .iter()
        .find(|s| s.code == code)
        .and_then(|s| Some((s, snap.place_of_station(s)?)))
        .filter(|(_, p)| caller.regions.contains(&p.region_id))
        .ok_or_else(|| ApiError::not_found(format!("station {code} not found")))
}

/// `GET /api/stations/{code}`: a station with its kind, programmes, address, opening hours
/// and service phone, the community it serves and the grid it stands in (when the caller
/// sees that grid). Stations are public within the region, as the stations list has them.
pub async fn get_station(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let (s, place) = station_in_region(&snap, &caller, &code)?;
    let service = st.store.station_service(&code).await?.unwrap_or_default();
    let community = snap.communities.get(place.community_id);
    let grid = snap
        .locate_grid2(s.point.0)
        .and_then(|id| snap.grids.get(id))
        .filter(|g| {
            snap.place_of_grid(g)
                .is_some_and(|p| caller.visibility(&p) != Visibility::Hidden)
        });
    Ok(Json(json!({
        "code": s.code, "name": s.name, "kind": s.kind.as_str(), "kind_name": s.kind.name_zh(),
        "programmes": s.programmes,
        "address": service.address, "opening_hours": service.opening_hours, "phone": service.phone,
        "community": community.map(|c| json!({ "code": c.code, "name": c.name })),
        "grid": grid_ref(grid),
        "lon": s.point.x(), "lat": s.point.y(),
    })))
}

/// `PUT /api/stations/{code}/service`: sets a station's opening hours and service phone
/// (those who change stations, within their reach). The body holds both, each a text or
/// null (an empty text clears it as null does); nothing else.
pub async fn put_station_service(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(facts): Json<StationService>,
) -> ApiResult<Json<Value>> {
    let region_id = {
        let snap = st.registry.snapshot();
        let (_, place) = station_in_region(&snap, &caller, &code)?;
        if !caller.may_change(Area::Stations, &place) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this station is outside your reach",
            ));
        }
        place.region_id
    };
    let saved = st
        .store
        .put_station_service(&code, &facts, Some(region_id), &actor(&caller))
        .await?;
    Ok(Json(json!({
        "code": code, "opening_hours": saved.opening_hours, "phone": saved.phone,
    })))
}
