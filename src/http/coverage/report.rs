//! The coverage report: one row per second-level grid, as CSV or XLSX.

use super::sums::{group, Grouped};
use super::{ask, counted, counted_off_network, heavy, model, CoverageQuery};
use crate::domain::access::Caller;
use crate::domain::GridLevel;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::Query;
use crate::http::xlsx::download;
use crate::http::xlsx::Cell;
use crate::http::AppState;
use crate::spatial::walk::KindSelection;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;

/// `GET /api/coverage/report?format=csv|xlsx`: one row per second-level grid, with the
/// share of residents and households covered for the selection and for each kind.
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<CoverageQuery>,
) -> ApiResult<Response> {
    let format = q.format.clone().unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "xlsx" {
        return Err(ApiError::invalid("format", "format must be csv or xlsx"));
    }
    let snap = st.registry.snapshot();
    let a = ask(&q, &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let (header, rows) = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let off = counted_off_network(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let g = group(&m, &report, &a.sel, &keep, &off);
        let per_kind: Vec<Grouped> = a
            .kinds
            .iter()
            .map(|k| group(&m, &report, &KindSelection::one(k.as_str()), &keep, &off))
            .collect();
        let mut header: Vec<String> = [
            "community_code",
            "community",
            "grid1_code",
            "grid2_code",
            "grid2",
            "buildings",
            "residents",
            "residents_covered",
            "residents_pct",
            "households",
            "households_covered",
            "households_pct",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        for k in &a.kinds {
            header.push(format!("{}_residents_pct", k.as_str()));
        }
        let pct = |c: u64, t: u64| {
            if t == 0 {
                Cell::Empty
            } else {
                Cell::Number((1000.0 * c as f64 / t as f64).round() / 10.0)
            }
        };
        let mut rows = vec![];
        for (id, t) in &g.grids {
            let Some(gr) = snap.grids.get(*id).filter(|x| x.level == GridLevel::Second) else {
                continue;
            };
            let c = snap.communities.get(gr.community_id);
            let parent = gr.parent_id.and_then(|p| snap.grids.get(p));
            let mut row = vec![
                Cell::Text(c.map(|c| c.code.clone()).unwrap_or_default()),
                Cell::Text(c.map(|c| c.name.clone()).unwrap_or_default()),
                Cell::Text(parent.map(|p| p.code.clone()).unwrap_or_default()),
                Cell::Text(gr.code.clone()),
                Cell::Text(gr.name.clone()),
                Cell::Number(t.buildings as f64),
                Cell::Number(t.residents as f64),
                Cell::Number(t.residents_covered as f64),
                pct(t.residents_covered, t.residents),
                Cell::Number(t.households as f64),
                Cell::Number(t.households_covered as f64),
                pct(t.households_covered, t.households),
            ];
            for pk in &per_kind {
                let kt = pk.grids.get(id).copied().unwrap_or_default();
                row.push(pct(kt.residents_covered, kt.residents));
            }
            rows.push(row);
        }
        (header, rows)
    })
    .await?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    download(&format, "coverage", "coverage", &header, &rows)
}
