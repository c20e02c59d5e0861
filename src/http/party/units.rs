//! Routes of the 双报到 units and their volunteer projects.

use super::{
    after_code, check_record_write, collection, communities, community_code, cut_page, date,
    location, page_of, point_feature, point_or_community, year_of, CommunityQuery, LIST_PAGE,
    LIST_PAGE_MAX,
};
use crate::http::accounts::actor;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Queried, Write};
use crate::store::party::{Owned, ProjectInput, UnitInput};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /api/party/units?community=&year=&limit=&after=`: 双报到 units with their projects
/// of the year, one page at a time by code (as `/api/party/orgs`); `total` and the
/// per-community sums (`communities`: units, their members and projects) cover everything
/// asked.
pub async fn units(Queried(st, caller, q): Queried<CommunityQuery>) -> ApiResult<Json<Value>> {
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

impl UnitBody {
    /// The 双报到 unit `code` as the store writes it (its date and place read).
    fn input(self, code: String) -> ApiResult<UnitInput> {
        let registered_on = date(&self.registered_on, "registered_on")?;
        let point = location(&self.location)?;
        Ok(UnitInput {
            code,
            name: self.name,
            party_org_name: self.party_org_name,
            community_code: self.community_code,
            registered_on,
            point,
        })
    }
}

/// `PUT /api/party/units/{code}`: registers (or changes) a 双报到 unit.
pub async fn put_unit(Write(st, caller, code, b): Write<UnitBody>) -> ApiResult<Json<Value>> {
    let input = b.input(code)?;
    let at = (Owned::Unit, input.code.as_str());
    check_record_write(&st, &caller, at, Some(&input.community_code), None).await?;
    st.store.put_dual_unit(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": input.code })))
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
pub async fn put_project(Write(st, caller, code, b): Write<ProjectBody>) -> ApiResult<Json<Value>> {
    let (community, unit) = (b.community_code.as_deref(), b.unit_code.as_deref());
    check_record_write(&st, &caller, (Owned::Project, &code), community, unit).await?;
    let ProjectBody {
        name,
        community_code,
        unit_code,
        year,
    } = b;
    let input = ProjectInput {
        code,
        name,
        community_code,
        unit_code,
        year,
    };
    st.store.put_project(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": input.code })))
}
