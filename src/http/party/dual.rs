//! Routes of the 双报到 members and their volunteer posts.

use super::kept::dual_keys;
use super::{
    check_reach, check_record_write, communities, date, forbidden, person_place, visibility,
    year_of,
};
use crate::domain::access::{Role, Visibility};
use crate::domain::party::check_year;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Named, Queried, Write};
use crate::store::party::Owned;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Query of the 双报到 members.
#[derive(Deserialize)]
pub struct DualQuery {
    community: Option<String>,
    grid: Option<String>,
    year: Option<i32>,
    after: Option<String>,
    limit: Option<i64>,
}

/// 双报到 members named in one answer unless `limit` says otherwise, and at most.
pub(super) const DUAL_PAGE: i64 = 500;

pub(super) const DUAL_PAGE_MAX: i64 = 5_000;

/// `GET /api/party/dual-members?community=&grid=&year=&limit=&after=`: registered members
/// and their posts of the year (of one grid and its children, if asked); by name with full
/// visibility, as counts per community otherwise. The counts cover everything asked; the
/// names come one page at a time, by person code: `limit` (default 500, at most 5,000) from
/// `after` (the `next` of the page before, null on the last), `named` says how many in all.
pub async fn dual_members(Queried(st, caller, q): Queried<DualQuery>) -> ApiResult<Json<Value>> {
    let year = year_of(q.year)?;
    let snap = st.registry.snapshot();
    let ids = communities(&snap, &caller, q.community.as_deref())?;
    let grid = match &q.grid {
        None => None,
        Some(code) => Some(
            snap.grids
                .by_code(code)
                .filter(|g| {
                    visibility(&snap, &caller, Some(g.id), g.community_id) != Visibility::Hidden
                })
                .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?
                .id,
        ),
    };
    let in_grid = |g: Option<i64>| match grid {
        None => true,
        Some(want) => g.is_some_and(|g| {
            g == want || snap.grids.get(g).and_then(|x| x.parent_id) == Some(want)
        }),
    };
    let limit = crate::http::patrols::list_limit(q.limit, DUAL_PAGE, DUAL_PAGE_MAX)? as usize;
    if q.after
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 64)
    {
        return Err(ApiError::invalid(
            "after",
            "after is the next of a previous page (a person's code)",
        ));
    }
    // Every member's key counts; only the page's members are read whole. The keys of the
    // whole zone are kept per state of the data and year ([`dual_keys`]), in the codes'
    // byte order (whatever the database's collation), and the caller's picked from them.
    let all = dual_keys(&st, year).await?;
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    let mut page: Vec<i64> = Vec::new();
    let (mut total_named, mut more) = (0usize, false);
    let mut last = None;
    let mut counts: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for (person, code, community, grid_id, has_post) in
        all.iter().filter(|k| wanted.contains(&k.2) && in_grid(k.3))
    {
        let e = counts.entry(*community).or_default();
        e.0 += 1;
        e.1 += usize::from(*has_post);
        if visibility(&snap, &caller, *grid_id, *community) == Visibility::Full {
            total_named += 1;
            if q.after
                .as_ref()
                .is_some_and(|a| code.as_str() <= a.as_str())
            {
                continue;
            }
            if page.len() < limit {
                page.push(*person);
                last = Some(code);
            } else {
                more = true;
            }
        }
    }
    let next = last.filter(|_| more).cloned();
    let mut named = if page.is_empty() {
        Vec::new()
    } else {
        st.store.dual_members_of(&ids, year, Some(&page)).await?
    };
    named.sort_by(|a, b| a.code.cmp(&b.code));
    // By community code, as before.
    let counts: BTreeMap<&str, (usize, usize)> = counts
        .iter()
        .filter_map(|(id, n)| Some((snap.communities.get(*id)?.code.as_str(), *n)))
        .collect();
    Ok(Json(json!({
        "year": year,
        "communities": counts.iter().map(|(c, (n, p))| json!({ "community_code": c, "members": n, "with_posts": p })).collect::<Vec<_>>(),
        "named": total_named,
        "members": named,
        "next": next,
    })))
}

/// Body of `PUT /api/party/dual-members/{person}`.
#[derive(Deserialize)]
pub struct DualBody {
    unit_code: Option<String>,
    community_code: Option<String>,
    registered_on: String,
}

/// `PUT /api/party/dual-members/{person}`: registers an in-service member with the
/// community where they live (or the one given).
pub async fn put_dual_member(
    Write(st, caller, person, b): Write<DualBody>,
) -> ApiResult<Json<Value>> {
    let registered_on = date(&b.registered_on, "registered_on")?;
    let (community, unit) = (b.community_code.as_deref(), b.unit_code.as_deref());
    check_record_write(&st, &caller, (Owned::Person, &person), community, unit).await?;
    st.store
        .put_dual_member(
            &person,
            b.unit_code.as_deref(),
            b.community_code.as_deref(),
            registered_on,
            &actor(&caller),
        )
        .await?;
    Ok(Json(json!({ "person_code": person })))
}

/// `DELETE /api/party/dual-members/{person}`: ends a registration.
pub async fn delete_dual_member(Named(st, caller, person): Named) -> ApiResult<Response> {
    let place = person_place(&st, &person).await?;
    check_reach(&caller, &[place])?;
    st.store
        .delete_dual_member(&person, &actor(&caller))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One post as sent.
#[derive(Deserialize)]
pub struct PostBody {
    post: String,
    project_code: Option<String>,
}

/// Body of `PUT /api/party/posts/{person}/{year}`.
#[derive(Deserialize)]
pub struct PostsBody {
    posts: Vec<PostBody>,
}

/// `PUT /api/party/posts/{person}/{year}`: replaces the volunteer posts a member holds in a
/// year.
pub async fn put_posts(
    Write(st, caller, (person, year), b): Write<PostsBody, (String, i32)>,
) -> ApiResult<Json<Value>> {
    check_year(year, "year").map_err(|e| ApiError::invalid(&e.field, e.message))?;
    let place = person_place(&st, &person).await?;
    if place.is_none() && caller.role != Role::Admin {
        return Err(forbidden("this person"));
    }
    check_reach(&caller, &[place])?;
    let posts: Vec<(String, Option<String>)> = b
        .posts
        .into_iter()
        .map(|p| (p.post, p.project_code))
        .collect();
    st.store
        .set_posts(&person, year, &posts, &actor(&caller))
        .await?;
    Ok(Json(
        json!({ "person_code": person, "year": year, "posts": posts.len() }),
    ))
}
