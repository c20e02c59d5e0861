//! The read routes: coverage per community and grid, per-building minutes, isochrones.

use super::sums::{group, grouped_json};
use super::{
    ask, counted, counted_off_network, heavy, model, Ask, CoverageQuery, MAX_LISTED, MAX_MINUTES,
};
use crate::domain::StationKind;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::extract::Queried;
use crate::spatial::index::Snapshot;
use crate::spatial::isochrone::isochrone;
use crate::spatial::isochrone::DEFAULT_WIDTH_M;
use crate::spatial::walk::CoverageReport;
use crate::spatial::walk::Dijkstra;
use crate::spatial::walk::KindSelection;
use crate::spatial::walk::WalkSetting;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

pub(super) fn setting_json(a: &Ask) -> Value {
    let (mode, kinds) = match &a.sel {
        KindSelection::AnyOf(k) => ("any", k),
        KindSelection::AllOf(k) => ("all", k),
    };
    json!({
        "kinds": kinds, "mode": mode, "minutes": a.walk.minutes,
        "speed_m_per_min": a.walk.speed_m_per_min, "cutoff_m": a.walk.cutoff_m(),
    })
}

/// Minutes to the nearest station of each asked kind, for one building row.
fn minutes_to(report: &CoverageReport, walk: &WalkSetting, row: usize) -> Value {
    let mut m = serde_json::Map::new();
    for (k, kind) in report.kinds.iter().enumerate() {
        let v = report
            .nearest_m(k, row)
            .map(|d| json!((walk.minutes_for(d) * 10.0).round() / 10.0))
            .unwrap_or(Value::Null);
        m.insert(kind.clone(), v);
    }
    Value::Object(m)
}

fn building_feature(snap: &Snapshot, id: i64, props: Value) -> Option<Value> {
    let b = snap.buildings.get(id)?;
    let mut p = json!({
        "id": b.id, "code": b.code, "households": b.households, "residents": b.residents,
        "grid_code": snap.grids.get(b.grid_id).map(|g| &g.code),
    });
    if let (Some(o), Value::Object(extra)) = (p.as_object_mut(), props) {
        o.extend(extra);
    }
    Some(json!({
        "type": "Feature", "id": b.id,
        "geometry": geojson::Geometry::from(&b.geom),
        "properties": p,
    }))
}

/// `GET /api/coverage`: residents and households covered per community and grid, and the
/// uncovered buildings as GeoJSON with their minutes to the nearest station of each kind.
pub async fn coverage(Queried(st, caller, q): Queried<CoverageQuery>) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let a = ask(&q, &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let started = Instant::now();
    let out = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let off = counted_off_network(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let g = group(&m, &report, &a.sel, &keep, &off);
        let mut body = grouped_json(&snap, &g);
        let mut uncovered = vec![];
        let covered = report.covered_rows(&a.sel);
        for (row, b) in m.buildings.iter().enumerate() {
            if keep[row] && !covered[row] && uncovered.len() < MAX_LISTED {
                uncovered.extend(building_feature(
                    &snap,
                    b.id,
                    json!({ "minutes_to": minutes_to(&report, &a.walk, row) }),
                ));
            }
        }
        let uncovered_total = g.all.buildings - g.all.buildings_covered;
        for &(id, _) in &off {
            if uncovered.len() >= MAX_LISTED {
                break;
            }
            uncovered.extend(building_feature(
                &snap,
                id,
                json!({ "off_network": true, "minutes_to": {} }),
            ));
        }
        body["uncovered_total"] = json!(uncovered_total);
        body["uncovered_listed"] = json!(uncovered.len());
        body["uncovered"] = json!({ "type": "FeatureCollection", "features": uncovered });
        body["setting"] = setting_json(&a);
        body["setting"]["max_access_m"] = json!(m.max_access_m);
        body
    })
    .await?;
    let mut out = out;
    out["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

/// `GET /api/coverage/buildings`: every visible building with its minutes to the nearest
/// station of each of the fifteen kinds (null beyond an hour's walk or the asked horizon).
pub async fn buildings(Queried(st, caller, q): Queried<CoverageQuery>) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let mut a = ask(
        &CoverageQuery {
            kind: None,
            kinds: None,
            mode: Some("any".into()),
            ..q.clone()
        },
        &snap,
    )?;
    a.sel = KindSelection::AnyOf(
        StationKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
    );
    // A horizon of three times the asked walk (at least 30 minutes) so "minutes to" means
    // something beyond the circle too.
    let horizon = WalkSetting {
        minutes: (a.walk.minutes * 3.0).clamp(30.0, MAX_MINUTES),
        speed_m_per_min: a.walk.speed_m_per_min,
    };
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let body = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, horizon.cutoff_m());
        let features: Vec<Value> = m
            .buildings
            .iter()
            .enumerate()
            .filter(|(row, _)| keep[*row])
            .filter_map(|(row, b)| {
                let mut f = building_feature(
                    &snap,
                    b.id,
                    json!({ "minutes_to": minutes_to(&report, &horizon, row) }),
                )?;
                // Points are enough for a per-building table: the anchor.
                if let Some(bb) = snap.buildings.get(b.id) {
                    f["geometry"] =
                        json!({ "type": "Point", "coordinates": [bb.anchor.x(), bb.anchor.y()] });
                }
                Some(f)
            })
            .collect();
        json!({
            "type": "FeatureCollection", "features": features,
            "horizon_minutes": horizon.minutes, "speed_m_per_min": horizon.speed_m_per_min,
        })
    })
    .await?;
    Ok(Json(body))
}

/// Query of `GET /api/coverage/isochrone`: a station, or a point (a what-if station).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsoQuery {
    station: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    minutes: Option<f64>,
    speed: Option<f64>,
}

/// `GET /api/coverage/isochrone?station=CODE&minutes=` or `?lon=&lat=&minutes=`: the area
/// reachable on foot within the time, built from the reachable parts of the network (each
/// walked street piece widened by 40 m), not a circle. A point (WGS 84: the planner's what-if
/// station before it is saved) is walked from where a station there would be: its nearest
/// street within the model's access distance; it must lie in a community of the caller's
/// regions.
pub async fn isochrone_route(Queried(st, caller, q): Queried<IsoQuery>) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let a = ask(
        &CoverageQuery {
            minutes: q.minutes,
            speed: q.speed,
            ..CoverageQuery::default()
        },
        &snap,
    )?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let (start, from) = match (&q.station, q.lon, q.lat) {
        (Some(code), None, None) => {
            let s = m
                .stations
                .iter()
                .find(|s| &s.code == code)
                .filter(|s| {
                    snap.stations
                        .items
                        .iter()
                        .find(|x| x.id == s.id)
                        .and_then(|x| snap.place_of_station(x))
                        .is_some_and(|p| caller.regions.contains(&p.region_id))
                })
                .ok_or_else(|| ApiError::not_found(format!("station {code} not found")))?;
            (s.snap, json!({ "station": code }))
        }
        (None, Some(lon), Some(lat)) => {
            let p = crate::http::params::lon_lat(lon, lat)?.0;
            snap.communities
                .locate(p)
                .map(|c| snap.place_of_community(c))
                .filter(|place| caller.regions.contains(&place.region_id))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "lon",
                        "the point is outside every community of your regions",
                    )
                })?;
            let s = m.snap(p).ok_or_else(|| {
                ApiError::invalid(
                    "lon",
                    format!(
                        "no street within {:.0} m of the point to walk from",
                        m.max_access_m
                    ),
                )
            })?;
            (s, json!({ "station": null, "at": [lon, lat] }))
        }
        _ => {
            return Err(ApiError::invalid(
                "station",
                "give a station (station=CODE) or a point (lon= and lat=), not both",
            ))
        }
    };
    let cutoff = a.walk.cutoff_m();
    let poly = heavy(move || {
        let mut dij = Dijkstra::new(&m.net);
        isochrone(&m.net, &mut dij, &[start], cutoff, DEFAULT_WIDTH_M)
    })
    .await?;
    let mut props = from;
    props["minutes"] = json!(a.walk.minutes);
    props["cutoff_m"] = json!(cutoff);
    props["band_m"] = json!(DEFAULT_WIDTH_M);
    Ok(Json(json!({
        "type": "Feature",
        "geometry": geojson::Geometry::from(&poly),
        "properties": props,
    })))
}
