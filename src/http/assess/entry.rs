//! Entry of the assessment (administrators, within their region): the settings of a year,
//! a secretary's report, the ratings of the layers, a committee member's pledges, the
//! community's rating of a 双报到 unit, the ratings of a 双报到 member, a project's
//! completion, and the year-start lists. Every list a client sends is bounded; a bad value
//! is a 422 naming its field, and nothing is written.

use super::{check_reach, year_of};
use crate::domain::assess::dual::Rater;
use crate::domain::assess::pledges::{Met, Pledge, PledgeKind};
use crate::domain::assess::rating::{Layer, Rating};
use crate::domain::assess::Settings;
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Write};
use crate::store::assess::{Owner, ReportInput};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most items of one year-start list.
pub const MAX_LIST_ITEMS: usize = 200;

fn answer(year: i32, key: &str) -> Json<Value> {
    Json(json!({ "year": year, "key": key }))
}

fn parse_date(s: &Option<String>, field: &str) -> ApiResult<Option<NaiveDate>> {
    s.as_deref()
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid(field, format!("a date YYYY-MM-DD, not {d:?}")))
        })
        .transpose()
}

fn one_of<T>(s: &str, field: &str, parse: fn(&str) -> Option<T>, names: &str) -> ApiResult<T> {
    parse(s).ok_or_else(|| ApiError::invalid(field, format!("one of {names}, not {s:?}")))
}

/// `PUT /api/assess/{year}/settings`: the settings of the year (every field; see
/// `GET .../settings` for the defaults). They apply to every community, so only an
/// administrator whose region holds every community may set them.
pub async fn put_settings(
    Write(st, caller, year, s): Write<Settings, i32>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let snap = st.registry.snapshot();
    if !snap
        .communities
        .items
        .iter()
        .all(|c| caller.regions.contains(&c.region_id))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the assessment's settings apply to every community: they are set by an administrator of the whole zone",
        ));
    }
    st.store
        .put_assess_settings(year, &s, &actor(&caller))
        .await?;
    Ok(answer(year, &year.to_string()))
}

/// Body of `PUT /api/assess/{year}/reports/{community}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    secretary: Option<String>,
    document: String,
    summary: String,
    reported_on: Option<String>,
}

/// `PUT /api/assess/{year}/reports/{community}`: the secretary's report (述职) on the year.
pub async fn put_report(
    Write(st, caller, (year, community), b): Write<ReportBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let reported_on = parse_date(&b.reported_on, "reported_on")?;
    check_reach(&st, &caller, Owner::Community(&community)).await?;
    let input = ReportInput {
        secretary: b.secretary,
        document: b.document,
        summary: b.summary,
        reported_on,
    };
    st.store
        .put_assess_report(&community, year, &input, &actor(&caller))
        .await?;
    Ok(answer(year, &community))
}

/// One layer's rating in a body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    layer: String,
    score: f64,
    raters: i32,
}

/// Body of `PUT /api/assess/{year}/ratings/{community}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingsBody {
    ratings: Vec<RatingBody>,
}

/// `PUT /api/assess/{year}/ratings/{community}`: the satisfaction ratings of the layers
/// (those given replace those stored; at most one per layer).
pub async fn put_ratings(
    Write(st, caller, (year, community), b): Write<RatingsBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    if b.ratings.len() > Layer::ALL.len() {
        return Err(ApiError::invalid(
            "ratings",
            format!("at most {} layers", Layer::ALL.len()),
        ));
    }
    let ratings = b
        .ratings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("ratings[{i}].layer");
            Ok(Rating {
                layer: one_of(&r.layer, &field, Layer::parse, "members, residents, street")?,
                score: r.score,
                raters: r.raters,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    check_reach(&st, &caller, Owner::Community(&community)).await?;
    st.store
        .put_assess_ratings(&community, year, &ratings, &actor(&caller))
        .await?;
    Ok(answer(year, &community))
}

/// One pledge in a body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PledgeBody {
    kind: String,
    target: String,
    annual: Option<String>,
    annual_note: Option<String>,
    term: Option<String>,
    term_note: Option<String>,
}

/// Body of `PUT /api/assess/{year}/pledges/{person}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PledgesBody {
    community_code: String,
    pledges: Vec<PledgeBody>,
}

const MET: &str = "met, partly, not_met";

/// `PUT /api/assess/{year}/pledges/{person}`: the four pledges of a member of a community's
/// two committees, with their annual and term assessments (replacing those stored).
pub async fn put_pledges(
    Write(st, caller, (year, person), b): Write<PledgesBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    if b.pledges.len() > PledgeKind::ALL.len() {
        return Err(ApiError::invalid(
            "pledges",
            format!(
                "at most {} pledges, one of each kind",
                PledgeKind::ALL.len()
            ),
        ));
    }
    let pledges = b
        .pledges
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |f: &str| format!("pledges[{i}].{f}");
            let met = |v: &Option<String>, f: &str| {
                v.as_deref()
                    .map(|s| one_of(s, &at(f), Met::parse, MET))
                    .transpose()
            };
            Ok(Pledge {
                kind: one_of(
                    &p.kind,
                    &at("kind"),
                    PledgeKind::parse,
                    "term, annual, resignation, integrity",
                )?,
                annual: met(&p.annual, "annual")?,
                term: met(&p.term, "term")?,
                target: p.target,
                annual_note: p.annual_note,
                term_note: p.term_note,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    check_reach(&st, &caller, Owner::Community(&b.community_code)).await?;
    st.store
        .put_assess_pledges(&person, &b.community_code, year, &pledges, &actor(&caller))
        .await?;
    Ok(answer(year, &person))
}

/// Body of `PUT /api/assess/{year}/units/{code}`: the community's rating, or `null` to
/// withdraw it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRatingBody {
    score: Option<f64>,
    note: Option<String>,
}

/// `PUT /api/assess/{year}/units/{code}`: the community's rating of a 双报到 unit.
pub async fn put_unit_rating(
    Write(st, caller, (year, unit), b): Write<UnitRatingBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    check_reach(&st, &caller, Owner::Unit(&unit)).await?;
    let rating = b.score.map(|s| (s, b.note));
    st.store
        .put_unit_rating(&unit, year, rating, &actor(&caller))
        .await?;
    Ok(answer(year, &unit))
}

/// One rating of a member in a body: `by` is `community` or `unit`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingBody {
    by: String,
    score: f64,
    note: Option<String>,
}

/// Body of `PUT /api/assess/{year}/dual-members/{person}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingsBody {
    ratings: Vec<MemberRatingBody>,
}

/// `PUT /api/assess/{year}/dual-members/{person}`: the ratings of a 双报到 member by the
/// community and by their unit (replacing those stored).
pub async fn put_member_ratings(
    Write(st, caller, (year, person), b): Write<MemberRatingsBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    if b.ratings.len() > 2 {
        return Err(ApiError::invalid(
            "ratings",
            "at most 2 ratings: by the community and by the unit",
        ));
    }
    let ratings = b
        .ratings
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let by = one_of(
                &r.by,
                &format!("ratings[{i}].by"),
                Rater::parse,
                "community, unit",
            )?;
            Ok((by, r.score, r.note))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    check_reach(&st, &caller, Owner::DualMember(&person)).await?;
    st.store
        .put_member_ratings(&person, year, &ratings, &actor(&caller))
        .await?;
    Ok(answer(year, &person))
}

/// Body of `PUT /api/assess/{year}/projects/{code}`: when the project was completed, or
/// `null` to withdraw the completion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionBody {
    completed_on: Option<String>,
    note: Option<String>,
}

/// `PUT /api/assess/{year}/projects/{code}`: a volunteer project of the year completed.
pub async fn put_completion(
    Write(st, caller, (year, project), b): Write<CompletionBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let on = parse_date(&b.completed_on, "completed_on")?;
    check_reach(&st, &caller, Owner::Project(&project)).await?;
    st.store
        .put_completion(&project, year, on.map(|d| (d, b.note)), &actor(&caller))
        .await?;
    Ok(answer(year, &project))
}

/// Body of `PUT /api/assess/{year}/lists/{community}`: the lists to replace.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListsBody {
    projects: Option<Vec<String>>,
    posts: Option<Vec<String>>,
    activities: Option<Vec<String>>,
}

/// `PUT /api/assess/{year}/lists/{community}`: the year-start lists (项目清单, 岗位清单,
/// activity plan); each list given replaces the stored one.
pub async fn put_lists(
    Write(st, caller, (year, community), b): Write<ListsBody, (i32, String)>,
) -> ApiResult<Json<Value>> {
    let year = year_of(year)?;
    let lists: Vec<(&str, Vec<String>)> = [
        ("projects", b.projects),
        ("posts", b.posts),
        ("activities", b.activities),
    ]
    .into_iter()
    .filter_map(|(l, items)| Some((l, items?)))
    .collect();
    if let Some((l, items)) = lists.iter().find(|(_, i)| i.len() > MAX_LIST_ITEMS) {
        return Err(ApiError::invalid(
            l,
            format!("at most {MAX_LIST_ITEMS} items, got {}", items.len()),
        ));
    }
    check_reach(&st, &caller, Owner::Community(&community)).await?;
    st.store
        .put_year_lists(&community, year, &lists, &actor(&caller))
        .await?;
    Ok(answer(year, &community))
}
