//! Routes of the party organisations: the list, one organisation, and writes of
//! organisations, their officers and functional members.

use super::kept::{active_orgs, member_counts};
use super::{
    after_code, check_reach, code_place, communities, community_code, community_place, owned_place,
    visibility, LIST_PAGE, LIST_PAGE_MAX,
};
use crate::domain::access::{Caller, Visibility};
use crate::domain::party::{OfficerRole, OrgForm, OrgKind};
use crate::domain::GridLevel;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Named, Queried, Write};
use crate::http::params;
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use crate::store::party::{AttachKind, Org, OrgInput, Owned};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Query of the organisations list.
#[derive(Deserialize)]
pub struct OrgsQuery {
    community: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

/// The place of an organisation: its grid for a cell or a building's organisation, its
/// community otherwise.
pub(super) fn org_visibility(snap: &Snapshot, caller: &Caller, o: &Org) -> Visibility {
    let building = match &o.attached {
        Some(a) if a.kind == AttachKind::Building => Some(a.code.as_str()),
        _ => None,
    };
    placed_visibility(snap, caller, o.grid_id, building, o.community_id)
}

/// [`org_visibility`] from an organisation's grid, building and community.
pub(super) fn placed_visibility(
    snap: &Snapshot,
    caller: &Caller,
    grid: Option<i64>,
    building: Option<&str>,
    community: i64,
) -> Visibility {
    let grid = grid.or_else(|| {
        building
            .and_then(|b| snap.buildings.by_code(b))
            .map(|b| b.grid_id)
    });
    visibility(snap, caller, grid, community)
}

/// Members (all, full) of each organisation, from the counts of the cells it spans; a
/// functional organisation's members are its own list (full unknown: -1).
pub(super) async fn org_counts(
    st: &AppState,
    snap: &Snapshot,
    orgs: &[Org],
) -> ApiResult<HashMap<i64, (i64, i64)>> {
    // A committee spans its community's second-level grids: grouped once, not looked
    // for among every grid of the city for each committee of a page.
    let mut second: HashMap<i64, Vec<i64>> = HashMap::new();
    if orgs.iter().any(|o| o.kind == OrgKind::CommunityCommittee) {
        for g in snap
            .grids
            .items
            .iter()
            .filter(|g| g.level == GridLevel::Second)
        {
            second.entry(g.community_id).or_default().push(g.id);
        }
    }
    let spans = |o: &Org| -> Vec<i64> {
        match (o.kind, o.grid_id) {
            (OrgKind::GridGroup, Some(g)) => vec![g],
            (OrgKind::GridBranch, Some(g)) => snap.grids.children(g).map(|k| k.id).collect(),
            (OrgKind::CommunityCommittee, _) => {
                second.get(&o.community_id).cloned().unwrap_or_default()
            }
            _ => vec![],
        }
    };
    let counts = member_counts(st).await?;
    Ok(orgs
        .iter()
        .map(|o| {
            let n = match o.kind {
                OrgKind::Functional => (o.functional_members, -1),
                _ => spans(o).iter().fold((0, 0), |a, g| {
                    let (m, f) = counts.get(g).copied().unwrap_or_default();
                    (a.0 + m, a.1 + f)
                }),
            };
            (o.id, n)
        })
        .collect())
}

pub(super) fn org_json(o: &Org, counts: Option<(i64, i64)>) -> Value {
    let mut v = json!(o);
    let (members, full) = counts.unwrap_or((o.functional_members, -1));
    v["members"] = json!(members);
    if full >= 0 {
        v["full_members"] = json!(full);
    }
    v["has_committee"] = json!(o.facts().has_committee());
    v
}

/// `GET /api/party/orgs?community=&kind=&limit=&after=`: active organisations with member
/// counts, one page at a time by code: `limit` (default 500, at most 2,000) from `after`
/// (the `next` of the page before, null on the last); `total` and the per-community sums
/// (`communities`: organisations by kind) cover everything asked.
pub async fn orgs(Queried(st, caller, q): Queried<OrgsQuery>) -> ApiResult<Json<Value>> {
    let kind = params::optional(q.kind.as_deref(), "kind", OrgKind::parse, |_| KINDS.into())?;
    let limit = crate::http::patrols::list_limit(q.limit, LIST_PAGE, LIST_PAGE_MAX)?;
    let after = after_code(&q.after)?;
    let snap = st.registry.snapshot();
    let ids: HashSet<i64> = communities(&snap, &caller, q.community.as_deref())?
        .into_iter()
        .collect();
    // Every active organisation is kept in memory per state of the data (see
    // [`MemberCounts`]); the caller's are picked from it, in code order (byte order,
    // whatever the database's collation).
    let all = active_orgs(&st).await?;
    let mut keys: Vec<&Org> = all
        .iter()
        .filter(|o| {
            ids.contains(&o.community_id)
                && kind.is_none_or(|x| o.kind == x)
                && org_visibility(&snap, &caller, o) != Visibility::Hidden
        })
        .collect();
    keys.sort_by(|a, b| a.code.cmp(&b.code));
    let mut per: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for k in &keys {
        if let Some(c) = community_code(&snap, k.community_id) {
            *per.entry(c)
                .or_default()
                .entry(k.kind.as_str())
                .or_default() += 1;
        }
    }
    let from = after.map_or(0, |a| keys.partition_point(|k| k.code.as_str() <= a));
    let to = (from + limit as usize).min(keys.len());
    let shown: Vec<Org> = keys[from..to].iter().map(|o| (*o).clone()).collect();
    let next = (to < keys.len()).then(|| keys[to - 1].code.clone());
    let counts = org_counts(&st, &snap, &shown).await?;
    Ok(Json(json!({
        "orgs": shown.iter().map(|o| org_json(o, counts.get(&o.id).copied())).collect::<Vec<_>>(),
        "total": keys.len(),
        "next": next,
        "communities": per.iter().map(|(c, kinds)| json!({
            "community_code": c, "orgs": kinds.values().sum::<i64>(), "by_kind": kinds,
        })).collect::<Vec<_>>(),
    })))
}

pub(super) async fn visible_org(
    st: &AppState,
    caller: &Caller,
    code: &str,
) -> ApiResult<(Org, Visibility)> {
    let snap = st.registry.snapshot();
    let not_found = || ApiError::not_found(format!("party organisation {code} not found"));
    let org = st.store.party_org(code).await?.ok_or_else(not_found)?;
    let vis = org_visibility(&snap, caller, &org);
    if vis == Visibility::Hidden {
        return Err(not_found());
    }
    Ok((org, vis))
}

/// `GET /api/party/orgs/{code}`: one organisation; officers and members by name with full
/// visibility, as counts otherwise.
pub async fn org(Named(st, caller, code): Named) -> ApiResult<Json<Value>> {
    let (org, vis) = visible_org(&st, &caller, &code).await?;
    let snap = st.registry.snapshot();
    let counts = org_counts(&st, &snap, std::slice::from_ref(&org)).await?;
    let mut v = org_json(&org, counts.get(&org.id).copied());
    let officers = st.store.party_officers(org.id).await?;
    if vis == Visibility::Full {
        v["officers"] = json!(officers);
        v["member_list"] = json!(st.store.party_org_members(&org).await?);
    } else {
        let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &officers {
            *roles.entry(o.role.as_str()).or_default() += 1;
        }
        v["officer_roles"] = json!(roles);
    }
    Ok(Json(v))
}

/// What an organisation's `kind` may be.
const KINDS: &str = "kind is community_committee, grid_branch, grid_group or functional";

/// What a functional organisation is attached to, as sent.
#[derive(Deserialize)]
pub struct AttachBody {
    kind: String,
    code: String,
}

/// Body of `PUT /api/party/orgs/{code}`.
#[derive(Deserialize)]
pub struct OrgBody {
    name: String,
    kind: String,
    form: Option<String>,
    community_code: Option<String>,
    attached_to: Option<AttachBody>,
}

/// `PUT /api/party/orgs/{code}`: creates a 大党委 or a functional organisation, or renames
/// any organisation (cells are created with their grids).
pub async fn put_org(Write(st, caller, code, b): Write<OrgBody>) -> ApiResult<Response> {
    let kind = OrgKind::parse(&b.kind).ok_or_else(|| ApiError::invalid("kind", KINDS))?;
    let why = |_| "form is committee, branch or group".to_string();
    let form = params::optional(b.form.as_deref(), "form", OrgForm::parse, why)?;
    let attach = match &b.attached_to {
        None => None,
        Some(a) => Some((
            AttachKind::parse(&a.kind).ok_or_else(|| {
                ApiError::invalid(
                    "attached_to.kind",
                    "attached_to.kind is compound, building or association",
                )
            })?,
            a.code.clone(),
        )),
    };
    let snap = st.registry.snapshot();
    let mut places = vec![];
    let existing = st.store.party_org(&code).await?;
    if let Some(o) = &existing {
        places.push(match o.grid_id.and_then(|g| snap.grids.get(g)) {
            Some(g) => snap.place_of_grid(g),
            None => community_place(&snap, o.community_id),
        });
    }
    if let Some(c) = &b.community_code {
        places.push(code_place(&snap, c));
    }
    if let Some((k, c)) = &attach {
        let what = match k {
            AttachKind::Compound => Owned::Compound,
            AttachKind::Building => Owned::Building,
            AttachKind::Association => Owned::Association,
        };
        places.push(owned_place(&st, what, c).await?);
    }
    check_reach(&caller, &places)?;
    let input = OrgInput {
        code,
        name: b.name,
        kind,
        form,
        community_code: b.community_code,
        attach,
    };
    let org = st.store.put_party_org(&input, &actor(&caller)).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(org_json(&org, None))).into_response())
}

pub(super) async fn org_for_write(st: &AppState, caller: &Caller, code: &str) -> ApiResult<Org> {
    let snap = st.registry.snapshot();
    let org = st
        .store
        .party_org(code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("party organisation {code} not found")))?;
    let place = match org.grid_id.and_then(|g| snap.grids.get(g)) {
        Some(g) => snap.place_of_grid(g),
        None => community_place(&snap, org.community_id),
    };
    if place.is_none_or(|p| caller.visibility(&p) == Visibility::Hidden) {
        return Err(ApiError::not_found(format!(
            "party organisation {code} not found"
        )));
    }
    check_reach(caller, &[place])?;
    Ok(org)
}

/// `DELETE /api/party/orgs/{code}`: dissolves a functional organisation.
pub async fn delete_org(Named(st, caller, code): Named) -> ApiResult<Response> {
    org_for_write(&st, &caller, &code).await?;
    st.store.dissolve_party_org(&code, &actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One officer as sent.
#[derive(Deserialize)]
pub struct OfficerBody {
    person_code: String,
    role: String,
}

/// Body of `PUT /api/party/orgs/{code}/officers`.
#[derive(Deserialize)]
pub struct OfficersBody {
    officers: Vec<OfficerBody>,
}

/// `PUT /api/party/orgs/{code}/officers`: replaces the officers.
pub async fn put_officers(
    Write(st, caller, code, b): Write<OfficersBody>,
) -> ApiResult<Json<Value>> {
    org_for_write(&st, &caller, &code).await?;
    let mut list = Vec::with_capacity(b.officers.len());
    for (i, o) in b.officers.iter().enumerate() {
        let role = OfficerRole::parse(&o.role).ok_or_else(|| {
            ApiError::invalid(
                &format!("officers[{i}].role"),
                "role is secretary, deputy_secretary, committee, part_time_committee or group_leader",
            )
        })?;
        list.push((o.person_code.clone(), role));
    }
    let officers = st
        .store
        .set_party_officers(&code, &list, &actor(&caller))
        .await?;
    Ok(Json(json!({ "code": code, "officers": officers })))
}

/// Body of `PUT /api/party/orgs/{code}/members`.
#[derive(Deserialize)]
pub struct MembersBody {
    members: Vec<String>,
}

/// `PUT /api/party/orgs/{code}/members`: replaces the members of a functional organisation.
pub async fn put_members(Write(st, caller, code, b): Write<MembersBody>) -> ApiResult<Json<Value>> {
    org_for_write(&st, &caller, &code).await?;
    let n = st
        .store
        .set_functional_members(&code, &b.members, &actor(&caller))
        .await?;
    Ok(Json(json!({ "code": code, "members": n })))
}
