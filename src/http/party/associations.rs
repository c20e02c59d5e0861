//! Routes of the social organisations: the list, and writes.

use super::{
    after_code, check_record_write, collection, communities, community_code, cut_page, location,
    page_of, point_feature, point_or_community, CommunityQuery, LIST_PAGE, LIST_PAGE_MAX,
};
use crate::domain::party::AssociationKind;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Queried, Write};
use crate::store::party::{AssociationInput, Owned};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /api/party/associations?community=&limit=&after=`: social organisations with
/// member counts, one page at a time by code (as `/api/party/orgs`); `total` and the
/// per-community sums (`communities`: organisations and members) cover everything asked.
pub async fn associations(
    Queried(st, caller, q): Queried<CommunityQuery>,
) -> ApiResult<Json<Value>> {
    let limit = crate::http::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let sums = st.store.association_counts(&ids).await?;
    let mut list = st.store.associations(&ids, page_of(after, limit)).await?;
    let next = cut_page(&mut list, limit, |a| &a.code);
    let features = list
        .iter()
        .map(|a| {
            let p = point_or_community(&snap, a.point, a.community_id);
            let mut v = json!(a);
            v["public_welfare"] = json!(a.kind.is_public_welfare());
            point_feature(p, v)
        })
        .collect();
    let mut fc = collection(features);
    fc["total"] = json!(sums.iter().map(|s| s.1).sum::<i64>());
    fc["next"] = json!(next);
    fc["communities"] = sums
        .iter()
        .filter_map(|(c, n, members)| {
            Some(json!({ "community_code": community_code(&snap, *c)?, "associations": n, "members": members }))
        })
        .collect();
    Ok(Json(fc))
}

/// Body of `PUT /api/party/associations/{code}`.
#[derive(Deserialize)]
pub struct AssociationBody {
    name: String,
    kind: String,
    community_code: String,
    founded_year: Option<i32>,
    location: Option<geojson::Geometry>,
    members: Option<Vec<String>>,
}

impl AssociationBody {
    /// The social organisation `code` as the store writes it (its kind and place read).
    fn input(self, code: String) -> ApiResult<AssociationInput> {
        let why = "kind is service, public_welfare, volunteer or other";
        let kind =
            AssociationKind::parse(&self.kind).ok_or_else(|| ApiError::invalid("kind", why))?;
        let point = location(&self.location)?;
        Ok(AssociationInput {
            code,
            name: self.name,
            kind,
            community_code: self.community_code,
            founded_year: self.founded_year,
            point,
            members: self.members,
        })
    }
}

/// `PUT /api/party/associations/{code}`: creates or replaces a social organisation.
pub async fn put_association(
    Write(st, caller, code, b): Write<AssociationBody>,
) -> ApiResult<Json<Value>> {
    let input = b.input(code)?;
    let at = (Owned::Association, input.code.as_str());
    check_record_write(&st, &caller, at, Some(&input.community_code), None).await?;
    st.store.put_association(&input, &actor(&caller)).await?;
    Ok(Json(json!({ "code": input.code })))
}
