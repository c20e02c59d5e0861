//! Routes of the 双报到 units and their volunteer projects.

use super::{
    after_code, check_reach, code_place, collection, communities, community_code, cut_page, date,
    given_places, location, owned_place, page_of, point_feature, point_or_community,
    reach_existing, year_of, CommunityQuery, LIST_PAGE, LIST_PAGE_MAX,
};
use crate::http::accounts::actor;
use crate::http::error::ApiResult;
use crate::http::extract::{Ctx, Json, Path, Query};
use crate::store::party::{Owned, ProjectInput, UnitInput};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /api/party/units?community=&year=&limit=&after=`: 双报到 units with their projects
/// of the year, one page at a time by code (as `/api/party/orgs`); `total` and the
/// per-community sums (`communities`: units, their members and projects) cover everything
/// asked.
pub async fn units(
    Ctx { st, caller }: Ctx,
    Query(q): Query<CommunityQuery>,
) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let limit = crate::http::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let sums = st.store.unit_counts(&ids, year).await?;
    let mut list = st
        .store
        .dual_units(&ids, year, page_of(after, limit))
        .await?;
    let next = cut_page(&mut list, limit, |u| &u.code);
    let features = list
        .iter()
        .map(|u| {
            let p = point_or_community(&snap, u.point, u.community_id);
            point_feature(p, json!(u))
        })
        .collect();
    let mut fc = collection(features);
    fc["year"] = json!(year);
    fc["total"] = json!(sums.iter().map(|s| s.1).sum::<i64>());
    fc["next"] = json!(next);
    fc["communities"] = sums
        .iter()
        .filter_map(|(c, n, members, projects)| {
            Some(json!({ "community_code": community_code(&snap, *c)?, "units": n, "members": members, "projects": projects }))
        })
        .collect();
    Ok(Json(fc))
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
    Ctx { st, caller }: Ctx,
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
pub async fn delete_unit(Ctx { st, caller }: Ctx, Path(code): Path<String>) -> ApiResult<Response> {
    reach_existing(&st, &caller, Owned::Unit, &code).await?;
    st.store.delete_dual_unit(&code, &actor(&caller)).await?;
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
    Ctx { st, caller }: Ctx,
    Path(code): Path<String>,
    Json(b): Json<ProjectBody>,
) -> ApiResult<Json<Value>> {
    let mut places = vec![owned_place(&st, Owned::Project, &code).await?];
    let (community, unit) = (b.community_code.as_deref(), b.unit_code.as_deref());
    places.extend(given_places(&st, community, unit).await?);
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
    Ctx { st, caller }: Ctx,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    reach_existing(&st, &caller, Owned::Project, &code).await?;
    st.store.delete_project(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
