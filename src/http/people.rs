//! Residents, grid staff and stations: reads and single-record edits, each checked against
//! the caller's reach over the place the record belongs to.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Ctx, Json, Named, Path, Write};
use super::AppState;
use crate::domain::access::{Area, Caller, Place, StaffRefusal, StaffTouch, Visibility};
use crate::domain::StationKind;
use crate::spatial::shape::point_from_geojson;
use crate::store::people::{Person, StaffInput, StationInput};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("{what} is outside your reach"),
    )
}

/// The place of a grid by code, or 404 when the caller may not see it at `min` level.
fn grid_place(
    st: &AppState,
    caller: &Caller,
    code: &str,
    min: Visibility,
) -> ApiResult<(i64, Place)> {
    let snap = st.registry.snapshot();
    let g = snap
        .grids
        .by_code(code)
        .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?;
    let place = snap
        .place_of_grid(g)
        .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?;
    let vis = caller.visibility(&place);
    if vis == Visibility::Hidden {
        return Err(ApiError::not_found(format!("grid {code} not found")));
    }
    if vis < min {
        return Err(forbidden(&format!("residents' details of grid {code}")));
    }
    Ok((g.id, place))
}

fn building_place(st: &AppState, code: &str) -> ApiResult<Place> {
    let snap = st.registry.snapshot();
    snap.buildings
        .by_code(code)
        .and_then(|b| snap.place_of_building(b))
        .ok_or_else(|| ApiError::invalid("building_code", format!("no building {code}")))
}

/// `GET /api/grids/{code}/people`: residents with personal data (full visibility only).
pub async fn grid_people(Named(st, caller, code): Named) -> ApiResult<Json<Value>> {
    let (id, _) = grid_place(&st, &caller, &code, Visibility::Full)?;
    let people = st.store.people_of_grid(id).await?;
    Ok(Json(json!({ "grid": code, "people": people })))
}

/// `GET /api/grids/{code}/households`: buildings, addresses and household labels, no
/// personal or party data (for patrol staff visiting households).
pub async fn grid_households(Named(st, caller, code): Named) -> ApiResult<Json<Value>> {
    let (id, _) = grid_place(&st, &caller, &code, Visibility::Addresses)?;
    let buildings = st.store.households_of_grid(id).await?;
    Ok(Json(json!({ "grid": code, "buildings": buildings })))
}

/// `GET /api/people/{code}`.
pub async fn get_person(Named(st, caller, code): Named) -> ApiResult<Json<Person>> {
    let not_found = || ApiError::not_found(format!("person {code} not found"));
    let (p, _) = st.store.person(&code).await?.ok_or_else(not_found)?;
    let place = p
        .building_code
        .as_deref()
        .map(|b| building_place(&st, b))
        .transpose()?;
    match place {
        Some(pl) if caller.visibility(&pl) == Visibility::Full => Ok(Json(p)),
        None if caller.role == crate::domain::access::Role::Admin => Ok(Json(p)),
        _ => Err(not_found()),
    }
}

/// Checks that the caller may edit people at the old and new home of a person.
async fn check_person_reach(
    st: &AppState,
    caller: &Caller,
    code: &str,
    new_building: Option<&str>,
) -> ApiResult<()> {
    let mut places = vec![];
    if let Some(b) = new_building {
        places.push(building_place(st, b)?);
    }
    if let Some((old, _)) = st.store.person(code).await? {
        match old.building_code.as_deref() {
            Some(b) => places.push(building_place(st, b)?),
            None if caller.role != crate::domain::access::Role::Admin => {
                return Err(forbidden("this person"))
            }
            None => {}
        }
    }
    if places.is_empty() && caller.role != crate::domain::access::Role::Admin {
        return Err(forbidden("a person without a home building"));
    }
    if places.iter().all(|p| caller.may_change(Area::People, p)) {
        Ok(())
    } else {
        Err(forbidden("this person's home"))
    }
}

/// `PUT /api/people/{code}`: creates or replaces a resident.
pub async fn put_person(
    Ctx { st, caller }: Ctx,
    Path(code): Path<String>,
    Json(mut p): Json<Person>,
) -> ApiResult<Json<Person>> {
    p.code = code.clone();
    check_person_reach(&st, &caller, &code, p.building_code.as_deref()).await?;
    let saved = st.store.put_person(&p, &actor(&caller)).await?;
    st.after_change().await;
    Ok(Json(saved))
}

/// `DELETE /api/people/{code}`.
pub async fn delete_person(Named(st, caller, code): Named) -> ApiResult<Response> {
    if st.store.person(&code).await?.is_none() {
        return Err(ApiError::not_found(format!("person {code} not found")));
    }
    check_person_reach(&st, &caller, &code, None).await?;
    st.store.delete_person(&code, &actor(&caller)).await?;
    st.after_change().await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `PUT /api/grids/{code}/staff`: the grid's whole staff. `chief` (a record or
/// `null`) and `members` (a list) may each be left out, meaning none, but not both.
#[derive(Deserialize)]
pub struct StaffBody {
    #[serde(default, deserialize_with = "present")]
    chief: Option<Option<StaffInput>>,
    members: Option<Vec<StaffInput>>,
}

/// Tells a field given as `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A 403 naming the field of the request at fault.
fn forbidden_at(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).with("field", json!(field))
}

/// `PUT /api/grids/{code}/staff`: sets the grid chief and members. Every record named is
/// checked against the caller's reach ([`Caller::may_write_staff`]) before anything is
/// written; naming the staff the grid already has answers `"changed": false`.
pub async fn put_staff(Write(st, caller, code, b): Write<StaffBody>) -> ApiResult<Json<Value>> {
    let (_, place) = grid_place(&st, &caller, &code, Visibility::Counts)?;
    if !caller.may_change(Area::Staff, &place) {
        return Err(forbidden(&format!("staff of grid {code}")));
    }
    if b.chief.is_none() && b.members.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_change",
            "the body changes nothing: give chief (a staff record or null) and/or members (a list)",
        )
        .with("field", json!("members")));
    }
    let chief = b.chief.flatten();
    let members = b.members.unwrap_or_default();
    let check = |path: &str, s: &StaffInput, t: &StaffTouch| {
        caller.may_write_staff(&place, t).map_err(|r| match r {
            StaffRefusal::ServesElsewhere => forbidden_at(
                &format!("{path}.code"),
                format!(
                    "{path}: staff member {} serves a grid outside your reach, so you may not {} them; nothing was changed",
                    s.code,
                    if t.serves_here { "change" } else { "assign" }
                ),
            ),
            StaffRefusal::Resident => forbidden_at(
                &format!("{path}.person_code"),
                format!(
                    "{path}: resident {} lives outside your reach; nothing was changed",
                    s.person_code.as_deref().unwrap_or_default()
                ),
            ),
        })
    };
    let outcome = st
        .store
        .set_grid_staff(&code, chief.as_ref(), &members, &actor(&caller), &check)
        .await?;
    if outcome.changed {
        st.after_change().await;
    }
    let snap = st.registry.snapshot();
    let staff = snap
        .grids
        .by_code(&code)
        .map(|g| snap.staff.shown(g.id, caller.visibility(&place).staff()))
        .unwrap_or_default();
    Ok(Json(
        json!({ "grid": code, "changed": outcome.changed, "staff": staff }),
    ))
}

/// A station as a client sends it.
#[derive(Deserialize)]
pub struct StationFeature {
    geometry: Option<geojson::Geometry>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

/// The places a station touches: the community it is filed under (the one named, else
/// the one its point lies in) and the community its point lies in, if that is another.
fn station_places(
    st: &AppState,
    point: geo::Point<f64>,
    community: Option<&str>,
) -> ApiResult<Vec<Place>> {
    let snap = st.registry.snapshot();
    let at_point = snap.communities.locate(point.0);
    let named = match community {
        Some(code) => Some(snap.communities.by_code(code).ok_or_else(|| {
            ApiError::invalid("properties.community_code", format!("no community {code}"))
        })?),
        None => None,
    };
    let filed = named.or(at_point).ok_or_else(|| {
        ApiError::invalid(
            "geometry",
            "a station must lie in a community (or name one in properties.community_code)",
        )
    })?;
    Ok([Some(filed), at_point]
        .into_iter()
        .flatten()
        .map(|c| snap.place_of_community(c))
        .collect())
}

/// `PUT /api/stations/{code}`: creates or moves/changes a station.
pub async fn put_station(
    Write(st, caller, code, f): Write<StationFeature>,
) -> ApiResult<Json<Value>> {
    let g = f
        .geometry
        .as_ref()
        .ok_or_else(|| ApiError::invalid("geometry", "a station needs a Point geometry"))?;
    let point = point_from_geojson(g).map_err(|e| ApiError::shape(&e, None))?;
    let prop = |k: &str| {
        f.properties
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let kind = prop("kind")
        .and_then(|k| StationKind::parse(&k))
        .ok_or_else(|| {
            ApiError::invalid(
                "properties.kind",
                "properties.kind must be a known station kind",
            )
        })?;
    let name = prop("name")
        .ok_or_else(|| ApiError::invalid("properties.name", "properties.name is required"))?;
    let community = prop("community_code");
    // The community named and the one the point lies in are both checked, so a station
    // cannot be filed under one's own community while standing in someone else's.
    let places = station_places(&st, point, community.as_deref())?;
    let old = existing_station_place(&st, &code);
    if places
        .iter()
        .chain(old.as_ref())
        .any(|p| !caller.may_change(Area::Stations, p))
    {
        return Err(forbidden("this station"));
    }
    let programmes = match f.properties.get("programmes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (0..=1000).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("properties.programmes", "a whole number from 0 to 1000")
                })? as i32,
        ),
    };
    let input = StationInput {
        code: code.clone(),
        name,
        kind,
        community_code: community,
        programmes,
        address: prop("address"),
        point,
    };
    let id = st.store.put_station(&input, &actor(&caller)).await?;
    st.after_change().await;
    Ok(Json(json!({ "id": id, "code": code })))
}

/// The place of the station `code` as it stands, if there is one.
fn existing_station_place(st: &AppState, code: &str) -> Option<Place> {
    let snap = st.registry.snapshot();
    let s = snap.stations.items.iter().find(|s| s.code == code)?;
    snap.place_of_station(s)
}

/// `DELETE /api/stations/{code}`.
pub async fn delete_station(Named(st, caller, code): Named) -> ApiResult<Response> {
    let place = existing_station_place(&st, &code)
        .ok_or_else(|| ApiError::not_found(format!("station {code} not found")))?;
    if !caller.may_change(Area::Stations, &place) {
        return Err(forbidden("this station"));
    }
    st.store.delete_station(&code, &actor(&caller)).await?;
    st.after_change().await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
