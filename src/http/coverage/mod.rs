//! The ten-minute service circle over HTTP: who can reach which kind of station within N
//! minutes on foot along the walking network, per community and grid; per-building minutes;
//! isochrones; unsaved what-if scenarios (and saving them); siting; CSV and XLSX reports.
//!
//! Kinds: `kind=K` for one kind, or `kinds=K1,K2&mode=any|all` (covered when any one, or
//! every one, of the kinds is within reach). Without either, the nine kinds of the "1+8"
//! system with `mode=all`. Time: `minutes` (default 10) and `speed` in metres per minute;
//! without a speed, 5, 10 and 15 minutes are GB 50180's 300, 500 and 1,000 m, other minutes
//! use 50 m/min. Only buildings the caller may see are counted; `scope` (a community, first-
//! or second-level grid code) narrows the count to that place (`community` is the older
//! name for a community scope).
//!
//! This file parses what a request asks (kinds, minutes, scope) and counts which buildings
//! the caller may see; the routes are in `read`, `scenario`, `siting` and `report`, the
//! grouped figures in `sums`.

mod read;
mod report;
mod scenario;
mod siting;
mod sums;
#[cfg(test)]
mod tests;

use super::error::ApiError;
use super::error::ApiResult;
use super::AppState;
use crate::coverage::walk_setting;
use crate::coverage::CoverageError;
use crate::coverage::CoverageModel;
use crate::domain::access::Caller;
use crate::domain::access::Visibility;
use crate::domain::StationKind;
use crate::spatial::index::Snapshot;
use crate::spatial::walk::KindSelection;
use crate::spatial::walk::WalkSetting;
use axum::http::StatusCode;
pub use read::{buildings, coverage, isochrone_route, IsoQuery};
pub use report::report;
pub use scenario::{save_scenario, scenario, ScenarioBody, ScenarioChange};
use serde::Deserialize;
use serde_json::json;
pub use siting::{siting, SitingBody};
use std::sync::Arc;

/// Longest walk asked about, in minutes.
const MAX_MINUTES: f64 = 60.0;
/// Time a coverage computation may take (a whole city's nine kinds take well under 1 s).
const BUDGET: std::time::Duration = std::time::Duration::from_secs(30);
/// Candidate sites considered by one siting question (each costs a walk search).
const MAX_CANDIDATES: usize = 5_000;
/// Uncovered buildings listed in one answer (`uncovered_total` says how many there are;
/// the report lists them all).
const MAX_LISTED: usize = 2_000;
/// Grids of one level listed with their figures in one answer; past this (a city seen
/// whole) the level is left out and the client asks per community with `scope`.
const MAX_GRIDS_LISTED: usize = 1_000;

/// The shared query of the coverage routes.
#[derive(Deserialize, Default, Clone)]
pub struct CoverageQuery {
    kind: Option<String>,
    kinds: Option<String>,
    mode: Option<String>,
    minutes: Option<f64>,
    speed: Option<f64>,
    community: Option<String>,
    /// A community, first-level or second-level grid code: only its buildings count.
    scope: Option<String>,
    format: Option<String>,
    /// The report for people: `zh` or `en` headers, a title row and a file name saying
    /// what it is. Without it the report is the plain table other tools read.
    lang: Option<String>,
}

struct Ask {
    kinds: Vec<StationKind>,
    sel: KindSelection,
    walk: WalkSetting,
    /// The community of the scope (or of the `community` filter).
    community: Option<i64>,
    /// The grid of the scope, when it is a grid: its buildings (and its children's) count.
    grid: Option<i64>,
}

fn parse_kind(s: &str) -> ApiResult<StationKind> {
    StationKind::parse(s.trim()).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            format!(
                "unknown station kind {s:?}; kinds: {}",
                StationKind::ALL
                    .map(super::super::domain::stations::StationKind::as_str)
                    .join(", ")
            ),
        )
    })
}

fn ask(q: &CoverageQuery, snap: &Snapshot) -> ApiResult<Ask> {
    let kinds: Vec<StationKind> = match (&q.kind, &q.kinds) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("kinds", "give kind or kinds, not both"))
        }
        (Some(k), None) => vec![parse_kind(k)?],
        (None, Some(ks)) => ks
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_kind)
            .collect::<ApiResult<_>>()?,
        (None, None) => StationKind::ONE_PLUS_EIGHT.to_vec(),
    };
    if kinds.is_empty() {
        return Err(ApiError::invalid("kinds", "name at least one kind"));
    }
    let names: Vec<String> = kinds.iter().map(|k| k.as_str().to_string()).collect();
    let default_mode = if q.kind.is_none() && q.kinds.is_none() {
        "all"
    } else {
        "any"
    };
    let sel = match q.mode.as_deref().unwrap_or(default_mode) {
        "any" => KindSelection::AnyOf(names),
        "all" => KindSelection::AllOf(names),
        other => {
            return Err(ApiError::invalid(
                "mode",
                format!("mode must be any or all, not {other:?}"),
            ))
        }
    };
    let minutes = q.minutes.unwrap_or(10.0);
    if !minutes.is_finite() || minutes <= 0.0 || minutes > MAX_MINUTES {
        return Err(ApiError::invalid(
            "minutes",
            format!("minutes must be more than 0 and at most {MAX_MINUTES}"),
        ));
    }
    if let Some(s) = q.speed {
        if !s.is_finite() || !(10.0..=200.0).contains(&s) {
            return Err(ApiError::invalid(
                "speed",
                "speed is metres per minute, from 10 to 200",
            ));
        }
    }
    let (community, grid) = match (&q.scope, &q.community) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "scope",
                "give scope or community, not both",
            ))
        }
        (None, None) => (None, None),
        (Some(code), None) | (None, Some(code)) => {
            if let Some(c) = snap.communities.by_code(code) {
                (Some(c.id), None)
            } else if let Some(g) = snap.grids.by_code(code).filter(|_| q.scope.is_some()) {
                (Some(g.community_id), Some(g.id))
            } else {
                let field = if q.scope.is_some() {
                    "scope"
                } else {
                    "community"
                };
                return Err(ApiError::not_found(format!(
                    "{field} {code}: no community{} has this code",
                    if q.scope.is_some() { " or grid" } else { "" }
                )));
            }
        }
    };
    Ok(Ask {
        kinds,
        sel,
        walk: walk_setting(Some(minutes), q.speed),
        community,
        grid,
    })
}

async fn model(st: &AppState, snap: &Snapshot) -> ApiResult<Arc<CoverageModel>> {
    st.coverage.model(snap).await.map_err(|e| match e {
        CoverageError::NoNetwork => {
            ApiError::new(StatusCode::CONFLICT, "no_network", e.to_string())
        }
        CoverageError::WarmingUp { retry_after_s, .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "warming_up", e.to_string())
                .with("retry_after_s", json!(retry_after_s))
        }
    })
}

/// Runs a coverage computation on the heavy-work pool (never on the async workers) within
/// [`BUDGET`]; the engine's searches stop early when the budget passes or the request goes
/// away, and their partial answer is thrown away here.
async fn heavy<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    Ok(crate::work::heavy(BUDGET, move || {
        let v = f();
        crate::work::checkpoint()?;
        Ok(v)
    })
    .await?)
}

/// Which grids (by position in the model's grid layer) count for this caller and scope;
/// a building counts when its grid does.
fn grid_filter(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<bool> {
    let snap = &m.snap;
    snap.grids
        .items
        .iter()
        .map(|g| {
            a.community.is_none_or(|c| g.community_id == c)
                && a.grid
                    .is_none_or(|id| g.id == id || g.parent_id == Some(id))
                && snap
                    .place_of_grid(g)
                    .is_some_and(|p| caller.visibility(&p) != Visibility::Hidden)
        })
        .collect()
}

/// Which building rows count for this caller (and scope).
fn counted(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<bool> {
    let ok = grid_filter(m, caller, a);
    m.row_grid
        .iter()
        .map(|&g| ok.get(g as usize).copied().unwrap_or(false))
        .collect()
}

/// The buildings off the network that count for this caller (and scope), with their grid
/// positions.
fn counted_off_network(m: &CoverageModel, caller: &Caller, a: &Ask) -> Vec<(i64, u32)> {
    let ok = grid_filter(m, caller, a);
    m.off_network
        .iter()
        .zip(&m.off_grid)
        .filter(|(_, &g)| ok.get(g as usize).copied().unwrap_or(false))
        .map(|(&id, &g)| (id, g))
        .collect()
}
