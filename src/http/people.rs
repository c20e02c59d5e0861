//! Residents, grid staff and stations: reads and single-record edits, each checked against
//! the caller's reach over the place the record belongs to.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path};
use super::AppState;
use crate::domain::access::{Area, Caller, Place, Visibility};
use crate::domain::StationKind;
use crate::spatial::shape::point_from_geojson;
use crate::store::people::{Person, StaffInput, StationInput};
use axum::extract::State;
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
pub async fn grid_people(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let (id, _) = grid_place(&st, &caller, &code, Visibility::Full)?;
    let people = st.store.people_of_grid(id).await?;
    Ok(Json(json!({ "grid": code, "people": people })))
}

/// `GET /api/grids/{code}/households`: buildings, addresses and household labels, no
/// personal or party data (for patrol staff visiting households).
pub async fn grid_households(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let (id, _) = grid_place(&st, &caller, &code, Visibility::Addresses)?;
    let buildings = st.store.households_of_grid(id).await?;
    Ok(Json(json!({ "grid": code, "buildings": buildings })))
}

/// `GET /api/people/{code}`.
pub async fn get_person(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Person>> {
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
    State(st): State<AppState>,
    caller: Caller,
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
pub async fn delete_person(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    if st.store.person(&code).await?.is_none() {
        return Err(ApiError::not_found(format!("person {code} not found")));
    }
    check_person_reach(&st, &caller, &code, None).await?;
    st.store.delete_person(&code, &actor(&caller)).await?;
    st.after_change().await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `PUT /api/grids/{code}/staff`.
#[derive(Deserialize)]
pub struct StaffBody {
    chief: Option<StaffInput>,
    #[serde(default)]
    members: Vec<StaffInput>,
}

/// `PUT /api/grids/{code}/staff`: sets the grid chief and members.
pub async fn put_staff(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(b): Json<StaffBody>,
) -> ApiResult<Json<Value>> {
    let (_, place) = grid_place(&st, &caller, &code, Visibility::Counts)?;
    if !caller.may_change(Area::Staff, &place) {
        return Err(forbidden(&format!("staff of grid {code}")));
    }
    st.store
        .set_grid_staff(&code, b.chief.as_ref(), &b.members, &actor(&caller))
        .await?;
    st.after_change().await;
    let snap = st.registry.snapshot();
    let staff = snap
        .grids
        .by_code(&code)
        .map(|g| snap.staff.of_grid(g.id).to_vec())
        .unwrap_or_default();
    Ok(Json(json!({ "grid": code, "staff": staff })))
}

/// A station as a client sends it.
#[derive(Deserialize)]
pub struct StationFeature {
    geometry: Option<geojson::Geometry>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

fn station_place(
    st: &AppState,
    point: geo::Point<f64>,
    community: Option<&str>,
) -> ApiResult<Place> {
    let snap = st.registry.snapshot();
    let c = match community {
        Some(code) => snap.communities.by_code(code),
        None => snap.communities.locate(point.0),
    };
    c.map(|c| snap.place_of_community(c)).ok_or_else(|| {
        ApiError::invalid(
            "geometry",
            "a station must lie in a community (or name one in properties.community_code)",
        )
    })
}

/// `PUT /api/stations/{code}`: creates or moves/changes a station.
pub async fn put_station(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(f): Json<StationFeature>,
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
    let place = station_place(&st, point, community.as_deref())?;
    let snap = st.registry.snapshot();
    let old = snap
        .stations
        .items
        .iter()
        .find(|s| s.code == code)
        .and_then(|s| snap.place_of_station(s));
    if !caller.may_change(Area::Stations, &place)
        || old.is_some_and(|p| !caller.may_change(Area::Stations, &p))
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

/// `DELETE /api/stations/{code}`.
pub async fn delete_station(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let snap = st.registry.snapshot();
    let place = snap
        .stations
        .items
        .iter()
        .find(|s| s.code == code)
        .and_then(|s| snap.place_of_station(s))
        .ok_or_else(|| ApiError::not_found(format!("station {code} not found")))?;
    if !caller.may_change(Area::Stations, &place) {
        return Err(forbidden("this station"));
    }
    st.store.delete_station(&code, &actor(&caller)).await?;
    st.after_change().await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
