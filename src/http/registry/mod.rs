//! Routes of the grid registry: locate, communities, buildings, stations, search, imports
//! and the web app's settings here; grids read in `grids` and written (one at a time or as
//! a batch) in `writes`. Handlers are thin: parse, call the index or the store, shape the
//! answer.

mod grids;
mod writes;

pub(crate) use grids::GridView;
pub use grids::{
    get_grid, grid_history, list_grids, AtQuery, GridsQuery, LeanGridCache, LeanGrids,
    MAX_GRID_SHAPES,
};
pub use writes::{batch, create_grid, delete_grid, update_grid, Batch, BatchItem, GridFeature};
pub(crate) use writes::{check_sizes, checked_batch, geometry_work, Stop};

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Ctx, Json, Path, Queried};
use super::{params, AppState};
use crate::domain::access::{Caller, Place, Visibility};
use crate::domain::registry::Grid;
use crate::domain::{GridLevel, StationKind};
use crate::spatial::index::Snapshot;
use crate::store::import::Layer;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use writes::nothing_to_change;

/// Most buildings returned by one `GET /api/buildings`.
const MAX_BUILDINGS: usize = 50_000;

fn geometry(mp: &geo::MultiPolygon<f64>) -> Value {
    serde_json::to_value(geojson::Geometry::from(mp)).unwrap_or(Value::Null)
}

fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// The id of the community with this code, if a code is given; 404 for an unknown code.
fn community_id(snap: &Snapshot, code: Option<&str>) -> ApiResult<Option<i64>> {
    match code {
        None => Ok(None),
        Some(code) => snap
            .communities
            .by_code(code)
            .map(|c| Some(c.id))
            .ok_or_else(|| ApiError::not_found(format!("community {code} not found"))),
    }
}

/// A grid's code as its ETag.
fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// Reads `If-Match`: `"3"`, `W/"3"` or `3`. Writes to a grid must say which version they
/// change, so a missing header is a 428.
fn if_match(headers: &HeaderMap) -> ApiResult<i32> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "send If-Match with the grid's version (its ETag) so that concurrent edits are not lost",
        ));
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse::<i32>().ok())
        .ok_or_else(|| ApiError::bad_request("If-Match must be a grid version such as \"3\""))
}

/// Query of `GET /api/locate`.
#[derive(Deserialize)]
pub struct LocateQuery {
    lon: f64,
    lat: f64,
    at: Option<String>,
}

/// A grid as `locate` names it, with its chief as the caller may see them.
fn brief(g: &Grid, snap: &Snapshot, caller: &Caller) -> Value {
    let detail = snap
        .place_of_grid(g)
        .map_or(Visibility::Hidden, |p| caller.visibility(&p))
        .staff();
    let chief = snap.staff.chief(g.id).and_then(|c| c.shown(detail));
    json!({
        "id": g.id, "code": g.code, "name": g.name, "level": g.level.number(), "version": g.version,
        "chief": chief,
    })
}

/// `GET /api/locate?lon=..&lat=..[&at=..]`: the community and grids containing a point.
pub async fn locate(Queried(st, caller, q): Queried<LocateQuery>) -> ApiResult<Json<Value>> {
    let p = params::lon_lat(q.lon, q.lat)?;
    let snap = st.registry.snapshot();
    let (community, grid1, grid2) = match &q.at {
        None => {
            let loc = snap.locate(p);
            (
                loc.community.cloned(),
                loc.grid1.map(|g| brief(g, &snap, &caller)),
                loc.grid2.map(|g| brief(g, &snap, &caller)),
            )
        }
        Some(at) => {
            let at = params::at(at)?;
            let found = st.store.locate_at(p, at).await?;
            let g2 = found.iter().find(|g| g.level == GridLevel::Second);
            let g1 = match g2 {
                Some(g2) => found.iter().find(|g| Some(g.id) == g2.parent_id),
                None => found.iter().find(|g| g.level == GridLevel::First),
            };
            let cid = g2.or(g1).map(|g| g.community_id);
            (
                cid.and_then(|id| snap.communities.get(id).cloned()),
                g1.map(|g| brief(g, &snap, &caller)),
                g2.map(|g| brief(g, &snap, &caller)),
            )
        }
    };
    // The deciding grid (the second-level one, else the first-level one) must be visible.
    let deciding = grid2
        .as_ref()
        .or(grid1.as_ref())
        .and_then(|v| v["id"].as_i64());
    let hidden = deciding
        .and_then(|id| snap.grids.get(id))
        .and_then(|g| snap.place_of_grid(g))
        .or_else(|| community.as_ref().map(|c| snap.place_of_community(c)))
        .is_none_or(|p| caller.visibility(&p) == Visibility::Hidden);
    if grid1.is_none() && grid2.is_none() || hidden {
        let community = if hidden { None } else { community };
        return Err(ApiError::not_found(format!(
            "no grid contains the point ({}, {})",
            q.lon, q.lat
        ))
        .with(
            "community",
            json!(community.map(|c| json!({ "code": c.code, "name": c.name }))),
        ));
    }
    let chief = grid2
        .as_ref()
        .and_then(|g| g.get("chief").cloned())
        .filter(|c| !c.is_null())
        .or_else(|| grid1.as_ref().and_then(|g| g.get("chief").cloned()));
    Ok(Json(json!({
        "point": [q.lon, q.lat],
        "community": community.map(|c| json!({ "id": c.id, "code": c.code, "name": c.name })),
        "grid1": grid1,
        "grid2": grid2,
        "chief": chief,
    })))
}

/// First-level grids per community, counted once (not once per community).
pub(crate) fn first_level_counts(snap: &Snapshot) -> HashMap<i64, usize> {
    let mut first_level: HashMap<i64, usize> = HashMap::new();
    for g in snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::First)
    {
        *first_level.entry(g.community_id).or_default() += 1;
    }
    first_level
}

/// How much of a community the caller sees: a grid-scoped account sees its own community
/// even when its scope is a grid.
pub(crate) fn community_visibility(
    snap: &Snapshot,
    caller: &Caller,
    c: &crate::domain::registry::Community,
) -> Visibility {
    let vis = caller.visibility(&snap.place_of_community(c));
    if vis == Visibility::Hidden
        && caller
            .grids
            .iter()
            .any(|g| snap.grids.get(*g).is_some_and(|g| g.community_id == c.id))
    {
        Visibility::Addresses
    } else {
        vis
    }
}

/// A community's list properties as a caller of visibility `vis` sees them.
pub(crate) fn community_properties(
    snap: &Snapshot,
    c: &crate::domain::registry::Community,
    first_level: &HashMap<i64, usize>,
    vis: Visibility,
) -> Value {
    let f = snap.figures.community(c.id);
    let grids = first_level.get(&c.id).copied().unwrap_or(0);
    let mut p = json!({
        "id": c.id, "code": c.code, "name": c.name,
        "households": f.households, "residents": f.residents,
        "buildings": f.buildings,
        "grids": grids,
    });
    if vis.party_aggregates() {
        p["party_members"] = json!(f.party_members);
    }
    p
}

/// `GET /api/communities`.
pub async fn communities(Ctx { st, caller }: Ctx) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    let first_level = first_level_counts(&snap);
    let features = snap
        .communities
        .items
        .iter()
        .map(|c| (c, community_visibility(&snap, &caller, c)))
        .filter(|(_, vis)| *vis != Visibility::Hidden)
        .map(|(c, vis)| {
            json!({
                "type": "Feature", "id": c.id, "geometry": geometry(&c.geom),
                "properties": community_properties(&snap, c, &first_level, vis),
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// Query of `GET /api/buildings`.
#[derive(Deserialize)]
pub struct BBoxQuery {
    bbox: Option<String>,
    community: Option<String>,
    /// A grid code: its buildings (a first-level grid's include its children's).
    grid: Option<String>,
}

/// `GET /api/buildings?bbox=&community=`.
pub async fn buildings(Queried(st, caller, q): Queried<BBoxQuery>) -> ApiResult<Json<Value>> {
    let bbox = q.bbox.as_deref().map(params::bbox).transpose()?;
    let snap = st.registry.snapshot();
    let community = community_id(&snap, q.community.as_deref())?;
    let grid = match q.grid.as_deref() {
        None => None,
        Some(code) => Some(
            snap.grids
                .by_code(code)
                .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?
                .id,
        ),
    };
    let iter: Box<dyn Iterator<Item = &crate::domain::registry::Building>> = match &bbox {
        Some(b) => Box::new(snap.buildings.in_bbox(b)),
        None => Box::new(snap.buildings.items.iter()),
    };
    let mut features = Vec::new();
    for b in iter {
        let g2 = snap.grids.get(b.grid_id);
        if community.is_some() && g2.map(|g| g.community_id) != community {
            continue;
        }
        if grid.is_some() && g2.map(|g| g.id) != grid && g2.and_then(|g| g.parent_id) != grid {
            continue;
        }
        let vis = building_visibility(&snap, &caller, b);
        if vis == Visibility::Hidden {
            continue;
        }
        if features.len() == MAX_BUILDINGS {
            return Err(ApiError::invalid(
                "bbox",
                format!("more than {MAX_BUILDINGS} buildings match; narrow the bbox"),
            ));
        }
        let f = json!({
            "type": "Feature", "id": b.id, "geometry": geometry(&b.geom),
            "properties": building_properties(&snap, b, vis),
        });
        features.push(f);
    }
    Ok(Json(collection(features)))
}

/// How much of a building the caller sees.
pub(crate) fn building_visibility(
    snap: &Snapshot,
    caller: &Caller,
    b: &crate::domain::registry::Building,
) -> Visibility {
    snap.place_of_building(b)
        .map_or(Visibility::Hidden, |p| caller.visibility(&p))
}

/// A building's list properties as a caller of visibility `vis` (not hidden) sees them.
pub(crate) fn building_properties(
    snap: &Snapshot,
    b: &crate::domain::registry::Building,
    vis: Visibility,
) -> Value {
    let g2 = snap.grids.get(b.grid_id);
    let mut p = json!({
        "id": b.id, "code": b.code, "name": b.name, "address": b.address,
        "grid_code": g2.map(|g| &g.code),
        "compound_code": b.compound.as_ref().map(|c| &c.0),
        "compound_name": b.compound.as_ref().map(|c| &c.1),
        "households": b.households, "residents": b.residents,
        "employees": b.employees,
    });
    if vis == Visibility::Full {
        p["party_members"] = json!(b.party_members);
    }
    p
}

/// A station's list properties (the same for every caller of its region).
pub(crate) fn station_properties(snap: &Snapshot, s: &crate::domain::registry::Station) -> Value {
    json!({
        "id": s.id, "code": s.code, "name": s.name, "kind": s.kind.as_str(),
        "kind_name": s.kind.name_zh(), "programmes": s.programmes,
        "community_code": s.community_id.and_then(|c| snap.communities.get(c)).map(|c| &c.code),
    })
}

/// Query of `GET /api/stations`.
#[derive(Deserialize)]
pub struct StationsQuery {
    kind: Option<String>,
    bbox: Option<String>,
    community: Option<String>,
}

/// Stations listed one by one by `GET /api/stations` without a `community`; past it the
/// answer has per-community counts instead (a city has about ten thousand).
pub const MAX_STATIONS: usize = 2_000;

/// `GET /api/stations?kind=&bbox=&community=`: the stations the caller sees, of a kind, in
/// a box, of one community. Without `community`, past [`MAX_STATIONS`] the features are
/// left out (`stations_omitted` says how many) and `communities` counts them per community
/// and kind: ask per community or per box for the detail.
pub async fn stations(Queried(st, caller, q): Queried<StationsQuery>) -> ApiResult<Json<Value>> {
    let why = |k| {
        let kinds = StationKind::ALL.map(StationKind::as_str).join(", ");
        format!("unknown station kind {k:?}; kinds: {kinds}")
    };
    let kind = params::optional(q.kind.as_deref(), "kind", StationKind::parse, why)?;
    let bbox = q.bbox.as_deref().map(params::bbox).transpose()?;
    let snap = st.registry.snapshot();
    let community = q
        .community
        .as_deref()
        .map(|code| super::patrols::community_in_region(&snap, &caller, code))
        .transpose()?;
    let listed: Vec<(&crate::domain::registry::Station, Place)> = snap
        .stations
        .query(kind, bbox.as_ref())
        .filter_map(|s| Some((s, snap.place_of_station(s)?)))
        .filter(|(_, p)| {
            caller.regions.contains(&p.region_id) && community.is_none_or(|c| p.community_id == c)
        })
        .collect();
    if community.is_none() && listed.len() > MAX_STATIONS {
        let mut per: std::collections::BTreeMap<i64, std::collections::BTreeMap<&str, usize>> =
            Default::default();
        for (s, p) in &listed {
            *per.entry(p.community_id)
                .or_default()
                .entry(s.kind.as_str())
                .or_default() += 1;
        }
        let communities: Vec<Value> = per
            .iter()
            .filter_map(|(id, kinds)| {
                let c = snap.communities.get(*id)?;
                Some(json!({
                    "community_code": c.code, "name": c.name,
                    "stations": kinds.values().sum::<usize>(), "by_kind": kinds,
                }))
            })
            .collect();
        let mut fc = collection(vec![]);
        fc["stations_omitted"] = json!(listed.len());
        fc["communities"] = json!(communities);
        return Ok(Json(fc));
    }
    let features = listed
        .into_iter()
        .map(|(s, _)| {
            json!({
                "type": "Feature", "id": s.id,
                "geometry": { "type": "Point", "coordinates": [s.point.x(), s.point.y()] },
                "properties": station_properties(&snap, s),
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// `POST /api/import/{layer}`: a GeoJSON FeatureCollection for one layer, all or nothing.
pub async fn import(
    Ctx { st, caller }: Ctx,
    Path(layer): Path<String>,
    Json(fc): Json<geojson::FeatureCollection>,
) -> ApiResult<Json<Value>> {
    let layer = Layer::parse(&layer).ok_or_else(|| {
        ApiError::not_found(format!(
            "no layer {layer:?}; layers: regions, communities, grids, compounds, buildings, stations"
        ))
    })?;
    // Whole layers cross regions: only administrators of the top region may import.
    let regions = st.store.regions().await?;
    if !regions.iter().all(|r| caller.regions.contains(&r.id)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only administrators of the top-level region may import whole layers",
        ));
    }
    if fc.features.is_empty() {
        return Err(nothing_to_change(
            "features",
            "the collection holds no features: nothing to import",
        ));
    }
    check_sizes(
        &st,
        fc.features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.geometry.as_ref().map(|g| (Some(i), g))),
    )?;
    let done = st
        .store
        .import_layer(
            layer,
            fc,
            st.config.tolerance_m2,
            &actor(&caller),
            &|_, _| {},
        )
        .await?;
    st.after_change().await;
    Ok(Json(json!(done)))
}

/// Query of `GET /api/search`.
#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    limit: Option<usize>,
}

/// `GET /api/search?q=`: grids (code or name), communities and buildings (code, name or
/// address) the caller may see, best matches first (exact code, then prefix, then text);
/// several words match an item holding each of them.
pub async fn search(Queried(st, caller, q): Queried<SearchQuery>) -> ApiResult<Json<Value>> {
    use geo::BoundingRect;
    let needle = q.q.trim().to_lowercase();
    if needle.is_empty() {
        return Err(ApiError::invalid("q", "q must not be empty"));
    }
    if needle.chars().count() > 100 {
        return Err(ApiError::invalid("q", "q has at most 100 characters"));
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let snap = st.registry.snapshot();
    let seen = |p: Option<Place>| p.is_some_and(|p| caller.visibility(&p) != Visibility::Hidden);
    let community: &dyn Fn(u32) -> bool = &|i| {
        seen(Some(
            snap.place_of_community(&snap.communities.items[i as usize]),
        ))
    };
    let grid: &dyn Fn(u32) -> bool = &|i| seen(snap.place_of_grid(&snap.grids.items[i as usize]));
    let building: &dyn Fn(u32) -> bool =
        &|i| seen(snap.place_of_building(&snap.buildings.items[i as usize]));
    // Ranked by the snapshot's text index: exact code, code prefix, then code or text
    // containing the query; ties by code length, then communities, grids, buildings.
    let hits = crate::spatial::search::search(
        &[
            (&snap.communities.text, community),
            (&snap.grids.text, grid),
            (&snap.buildings.text, building),
        ],
        &needle,
        limit,
    );
    let bbox = |mp: &geo::MultiPolygon<f64>| {
        mp.bounding_rect()
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
    };
    let results: Vec<Value> = hits
        .into_iter()
        .map(|(layer, i)| {
            let i = i as usize;
            match layer {
                0 => {
                    let c = &snap.communities.items[i];
                    json!({ "kind": "community", "code": c.code, "name": c.name, "bbox": bbox(&c.geom) })
                }
                1 => {
                    let g = &snap.grids.items[i];
                    json!({ "kind": "grid", "level": g.level.number(), "code": g.code, "name": g.name, "bbox": bbox(&g.geom) })
                }
                _ => {
                    let b = &snap.buildings.items[i];
                    json!({ "kind": "building", "code": b.code, "name": b.name, "address": b.address, "bbox": bbox(&b.geom) })
                }
            }
        })
        .collect();
    Ok(Json(json!({ "q": q.q, "results": results })))
}

/// `GET /config.json`: the web app's deployment settings (public: read before sign-in).
pub async fn web_config(State(st): State<AppState>) -> Json<Value> {
    let basemap = st.config.basemap_url.as_ref().map(|url| {
        json!({
            "type": "raster", "tiles": [url], "tileSize": 256, "maxzoom": 19,
            "attribution": st.config.basemap_attribution.clone().unwrap_or_default(),
        })
    });
    Json(json!({ "basemap": basemap }))
}
