//! Siting: the K sites that would cover the most uncovered residents, greedily.

use super::{ask, heavy, model, CoverageQuery, MAX_CANDIDATES};
use crate::coverage::CoverageModel;
use crate::domain::access::Caller;
use crate::domain::access::Visibility;
use crate::domain::StationKind;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::{Ctx, Json};
use crate::spatial::index::Snapshot;
use crate::spatial::network::Snap;
use crate::spatial::siting::node_candidates;
use crate::spatial::siting::site;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Body of `POST /api/coverage/siting`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitingBody {
    kind: String,
    k: usize,
    minutes: Option<f64>,
    speed: Option<f64>,
    community: Option<String>,
    scope: Option<String>,
    /// `"nodes"` (every street junction), or a list of `[lon, lat]` candidate sites.
    candidates: Option<Value>,
}

/// The candidate sites a body gives: `None` for every street junction (`"nodes"` or no
/// `candidates`), else the listed `[lon, lat]` points.
fn given_candidates(candidates: &Option<Value>) -> ApiResult<Option<Vec<geo::Coord<f64>>>> {
    match candidates {
        None => Ok(None),
        Some(Value::String(s)) if s == "nodes" => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > MAX_CANDIDATES {
                return Err(ApiError::invalid(
                    "candidates",
                    format!("at most {MAX_CANDIDATES} candidate sites"),
                ));
            }
            let mut out = vec![];
            for (i, it) in items.iter().enumerate() {
                let xy = it
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
                let (x, y) = xy.ok_or_else(|| {
                    ApiError::invalid(&format!("candidates[{i}]"), "a candidate is [lon, lat]")
                })?;
                out.push(crate::http::params::lon_lat(x, y)?.0);
            }
            Ok(Some(out))
        }
        Some(_) => Err(ApiError::invalid(
            "candidates",
            "candidates is \"nodes\" or a list of [lon, lat]",
        )),
    }
}

/// Candidates: the given points, or the street junctions inside the caller's area (and
/// the scope's community `community`), each with its snap. Run on the pool: a city has a
/// million junctions.
fn candidate_sites(
    m: &CoverageModel,
    snap: &Snapshot,
    caller: &Caller,
    community: Option<i64>,
    given: Option<Vec<geo::Coord<f64>>>,
) -> ApiResult<Vec<(geo::Coord<f64>, Snap)>> {
    let keep_point = |p: geo::Coord<f64>| {
        snap.communities.locate(p).is_some_and(|c| {
            community.is_none_or(|id| id == c.id)
                && caller.visibility(&snap.place_of_community(c)) != Visibility::Hidden
                || caller
                    .grids
                    .iter()
                    .any(|g| snap.grids.get(*g).is_some_and(|g| g.community_id == c.id))
        })
    };
    let out: Vec<(geo::Coord<f64>, Snap)> = match given {
        None => node_candidates(&m.net)
            .into_iter()
            .map(|s| (s.on_edge, s))
            .filter(|(p, _)| keep_point(*p))
            .collect(),
        Some(points) => points
            .into_iter()
            .filter_map(|p| m.snap(p).map(|s| (p, s)))
            .collect(),
    };
    if out.len() > MAX_CANDIDATES {
        return Err(ApiError::invalid(
            "scope",
            format!(
                "{} candidate junctions in your area, more than {MAX_CANDIDATES}: choose a community or grid as scope",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The greedy picks among `candidates` for `kind` within `cutoff_m`, keeping the existing
/// stations, as the answer's JSON.
fn picks_json(
    m: &CoverageModel,
    candidates: &[(geo::Coord<f64>, Snap)],
    kind: StationKind,
    k: usize,
    cutoff_m: f64,
) -> Value {
    let existing: Vec<_> = m
        .stations
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.snap)
        .collect();
    let snaps: Vec<_> = candidates.iter().map(|(_, s)| *s).collect();
    let mut engine = m.engine();
    let r = site(&mut engine, &existing, &snaps, k, cutoff_m);
    let picks: Vec<Value> = r
        .picks
        .iter()
        .map(|p| {
            let (pt, _) = candidates[p.candidate];
            json!({
                "lon": pt.x, "lat": pt.y, "candidate": p.candidate,
                "gain_residents": p.gain_residents, "gain_households": p.gain_households,
                "gain_buildings": p.gain_buildings,
            })
        })
        .collect();
    json!({
        "kind": kind.as_str(), "k": k, "cutoff_m": cutoff_m, "candidates": candidates.len(),
        "picks": picks,
        "residents_covered_before": r.residents_covered_before,
        "residents_covered_after": r.residents_covered_after,
        "residents_total": r.residents_total,
    })
}

/// `POST /api/coverage/siting`: the K sites that cover the most uncovered residents
/// (greedy maximal covering, each pick with its marginal gain), keeping existing stations.
pub async fn siting(Ctx { st, caller }: Ctx, Json(b): Json<SitingBody>) -> ApiResult<Json<Value>> {
    if b.k == 0 || b.k > 50 {
        return Err(ApiError::invalid("k", "k must be from 1 to 50"));
    }
    let snap = st.registry.snapshot();
    let a = ask(
        &CoverageQuery {
            kind: Some(b.kind.clone()),
            minutes: b.minutes,
            speed: b.speed,
            community: b.community.clone(),
            scope: b.scope.clone(),
            ..CoverageQuery::default()
        },
        &snap,
    )?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let given = given_candidates(&b.candidates)?;
    let (m2, community) = (Arc::clone(&m), a.community);
    let candidates =
        heavy(move || candidate_sites(&m2, &snap, &caller, community, given)).await??;
    if candidates.is_empty() {
        return Err(ApiError::invalid(
            "candidates",
            "no candidate site inside your area",
        ));
    }
    let (kind, k, cutoff_m) = (a.kinds[0], b.k, a.walk.cutoff_m());
    let started = Instant::now();
    let mut body = heavy(move || picks_json(&m, &candidates, kind, k, cutoff_m)).await?;
    body["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(body))
}
