//! Routes of the grid registry: locate, communities, grids (read, write, batch, history),
//! buildings, stations, imports. Handlers are thin: parse, call the index or the store,
//! shape the answer.

use super::accounts::actor;
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::params;
use super::AppState;
use crate::domain::access::{Area, Caller, Place, Visibility};
use crate::domain::registry::{Figures, Grid};
use crate::domain::{GridLevel, StationKind};
use crate::spatial::geodesy::area_m2;
use crate::spatial::index::Snapshot;
use crate::spatial::shape::{check_size, off_runtime, read_area, AreaError, ShapeLimits};
use crate::store::grids::{Applied, GridChange, NewGrid};
use crate::store::import::Layer;
use crate::work::Expired;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

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

struct GridView<'a> {
    snap: &'a Snapshot,
    caller: &'a Caller,
    /// Grids by id, from the same point in time as the grid shown.
    peers: Option<&'a HashMap<i64, &'a Grid>>,
    figures: Option<&'a HashMap<i64, Figures>>,
}

impl GridView<'_> {
    fn parent_code(&self, g: &Grid) -> Option<String> {
        match g.parent_id {
            Some(p) => match self.peers {
                Some(m) => m.get(&p).map(|x| x.code.clone()),
                None => self.snap.grids.get(p).map(|x| x.code.clone()),
            },
            None => self
                .snap
                .communities
                .get(g.community_id)
                .map(|c| c.code.clone()),
        }
    }

    fn figures(&self, g: &Grid) -> Figures {
        match self.figures {
            Some(m) => m.get(&g.id).copied().unwrap_or_default(),
            None => self.snap.figures.grid(g.id),
        }
    }

    fn visibility(&self, g: &Grid) -> Visibility {
        self.snap
            .place_of_grid(g)
            .map_or(Visibility::Hidden, |p| self.caller.visibility(&p))
    }

    fn properties(&self, g: &Grid) -> serde_json::Map<String, Value> {
        self.properties_as(g, self.visibility(g).party_aggregates())
    }

    /// The list properties of a grid, with the party members or without.
    fn properties_as(&self, g: &Grid, party: bool) -> serde_json::Map<String, Value> {
        let f = self.figures(g);
        let community = self.snap.communities.get(g.community_id);
        let chief = self.snap.staff.chief(g.id);
        let mut p = serde_json::Map::new();
        p.insert("id".into(), json!(g.id));
        p.insert("code".into(), json!(g.code));
        p.insert("name".into(), json!(g.name));
        p.insert("level".into(), json!(g.level.number()));
        p.insert("parent_code".into(), json!(self.parent_code(g)));
        p.insert("community_code".into(), json!(community.map(|c| &c.code)));
        p.insert("version".into(), json!(g.version));
        p.insert("households".into(), json!(f.households));
        p.insert("residents".into(), json!(f.residents));
        if party {
            p.insert("party_members".into(), json!(f.party_members));
        }
        p.insert("buildings".into(), json!(f.buildings));
        p.insert("chief".into(), json!(chief.map(|c| &c.name)));
        p
    }

    fn feature(&self, g: &Grid) -> Value {
        json!({ "type": "Feature", "id": g.id, "geometry": geometry(&g.geom), "properties": self.properties(g) })
    }

    fn detail(&self, g: &Grid) -> Value {
        let mut p = self.properties(g);
        let f = self.figures(g);
        let community = self.snap.communities.get(g.community_id);
        p.insert("community_name".into(), json!(community.map(|c| &c.name)));
        p.insert(
            "area_m2".into(),
            json!((area_m2(&g.geom) * 10.0).round() / 10.0),
        );
        p.insert("employees".into(), json!(f.employees));
        p.insert("valid_from".into(), json!(g.valid_from));
        p.insert("valid_to".into(), json!(g.valid_to));
        if self.visibility(g).party_aggregates() {
            p.insert(
                "party_organisation".into(),
                json!(match g.level {
                    GridLevel::First => format!("{}党支部", g.name),
                    GridLevel::Second => format!("{}党小组", g.name),
                }),
            );
        }
        let detail = self.visibility(g).staff();
        p.insert("staff".into(), json!(self.snap.staff.shown(g.id, detail)));
        let children: Vec<&str> = match self.peers {
            Some(m) => {
                let mut v: Vec<&str> = m
                    .values()
                    .filter(|c| {
                        c.parent_id == Some(g.id) && self.visibility(c) != Visibility::Hidden
                    })
                    .map(|c| c.code.as_str())
                    .collect();
                v.sort_unstable();
                v
            }
            None => self
                .snap
                .grids
                .children(g.id)
                .map(|c| c.code.as_str())
                .collect(),
        };
        p.insert("children".into(), json!(children));
        json!({ "type": "Feature", "id": g.id, "geometry": geometry(&g.geom), "properties": p })
    }
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
pub async fn locate(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<LocateQuery>,
) -> ApiResult<Json<Value>> {
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

/// `GET /api/communities`.
pub async fn communities(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let snap = st.registry.snapshot();
    // First-level grids per community, counted once (not once per community).
    let mut first_level: HashMap<i64, usize> = HashMap::new();
    for g in snap
        .grids
        .items
        .iter()
        .filter(|g| g.level == GridLevel::First)
    {
        *first_level.entry(g.community_id).or_default() += 1;
    }
    let features = snap
        .communities
        .items
        .iter()
        .filter_map(|c| {
            let vis = caller.visibility(&snap.place_of_community(c));
            // A grid-scoped account sees its own community even when its scope is a grid.
            let vis = if vis == Visibility::Hidden
                && caller
                    .grids
                    .iter()
                    .any(|g| snap.grids.get(*g).is_some_and(|g| g.community_id == c.id))
            {
                Visibility::Addresses
            } else {
                vis
            };
            (vis != Visibility::Hidden).then_some((c, vis))
        })
        .map(|(c, vis)| {
            let f = snap.figures.community(c.id);
            let grids = first_level.get(&c.id).copied().unwrap_or(0);
            let mut v = json!({
                "type": "Feature", "id": c.id, "geometry": geometry(&c.geom),
                "properties": {
                    "id": c.id, "code": c.code, "name": c.name,
                    "households": f.households, "residents": f.residents,
                    "buildings": f.buildings,
                    "grids": grids,
                }
            });
            if vis.party_aggregates() {
                v["properties"]["party_members"] = json!(f.party_members);
            }
            v
        })
        .collect();
    Ok(Json(collection(features)))
}

/// Query of `GET /api/grids`.
#[derive(Deserialize)]
pub struct GridsQuery {
    level: Option<i64>,
    community: Option<String>,
    bbox: Option<String>,
    at: Option<String>,
}

/// `GET /api/grids?level=&community=&bbox=&at=`.
pub async fn list_grids(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<GridsQuery>,
) -> ApiResult<Response> {
    let level = match q.level {
        None => None,
        Some(n) => Some(
            GridLevel::from_number(n)
                .ok_or_else(|| ApiError::invalid("level", "level must be 1 or 2"))?,
        ),
    };
    let bbox = q.bbox.as_deref().map(params::bbox).transpose()?;
    let snap = st.registry.snapshot();
    let community = community_id(&snap, q.community.as_deref())?;
    let keep = |g: &Grid| {
        level.is_none_or(|l| g.level == l)
            && community.is_none_or(|c| g.community_id == c)
            && bbox.as_ref().is_none_or(|b| {
                use geo::BoundingRect;
                g.geom.bounding_rect().is_some_and(|r| {
                    r.min().x <= b.max_x
                        && r.max().x >= b.min_x
                        && r.min().y <= b.max_y
                        && r.max().y >= b.min_y
                })
            })
    };
    let past = match &q.at {
        None => None,
        Some(at) => {
            let at = params::at(at)?;
            Some((
                st.store.grids(Some(at)).await?,
                st.store.grid_figures_at(at).await?,
            ))
        }
    };
    let peers: Option<HashMap<i64, &Grid>> = past
        .as_ref()
        .map(|(grids, _)| grids.iter().map(|g| (g.id, g)).collect());
    let view = GridView {
        snap: &snap,
        caller: &caller,
        peers: peers.as_ref(),
        figures: past.as_ref().map(|(_, figures)| figures),
    };
    let grids = match &past {
        None => &snap.grids.items,
        Some((grids, _)) => grids,
    };
    // A whole city's grids with their shapes are megabytes: past the bound, without a
    // community or a box to narrow them, the list comes without shapes (the map draws
    // grids from the vector tiles; shapes come per community, per box or per grid). The
    // shapes left out are not turned into JSON at all.
    let narrowed = q.community.is_some() || q.bbox.is_some();
    if past.is_none() && !narrowed {
        let shown: Vec<(usize, Visibility)> = grids
            .iter()
            .enumerate()
            .filter(|(_, g)| keep(g))
            .map(|(i, g)| (i, view.visibility(g)))
            .filter(|(_, v)| *v != Visibility::Hidden)
            .collect();
        if shown.len() > MAX_GRID_SHAPES {
            let features = lean_grids(&st, &snap, &caller).await?;
            return Ok(features.body(&shown));
        }
    }
    let shown: Vec<&Grid> = grids
        .iter()
        .filter(|g| keep(g) && view.visibility(g) != Visibility::Hidden)
        .collect();
    let lean = !narrowed && shown.len() > MAX_GRID_SHAPES;
    let features: Vec<Value> = shown
        .iter()
        .map(|g| {
            if lean {
                json!({ "type": "Feature", "id": g.id, "geometry": null, "properties": view.properties(g) })
            } else {
                view.feature(g)
            }
        })
        .collect();
    let mut fc = collection(features);
    if lean {
        fc["geometry_omitted"] = json!(true);
    }
    Ok(Json(fc).into_response())
}

/// Grids listed with their shapes by `GET /api/grids` without a `community` or `bbox`.
pub const MAX_GRID_SHAPES: usize = 1_000;

/// Every current grid's feature without its shape, as the list past [`MAX_GRID_SHAPES`]
/// gives it, serialised once for a state of the layers it reads (grids, communities,
/// figures, staff) in both forms a caller may see: with the party members and without.
/// A whole-zone list is then the visible grids' bytes joined, instead of a JSON map built
/// and written for each of a city's 7,679 grids on every request. The answer's bytes are
/// those the features built one by one give (`serde_json` writes keys in sorted order).
#[derive(Debug)]
pub struct LeanGrids {
    /// The layers serialised; kept so that their addresses identify them.
    layers: LeanLayers,
    /// Per grid (by position in the grid layer): the feature with party members.
    with_party: Vec<Box<[u8]>>,
    /// The same without them.
    without_party: Vec<Box<[u8]>>,
}

type LeanLayers = (
    Arc<crate::spatial::index::GridLayer>,
    Arc<crate::spatial::index::CommunityLayer>,
    Arc<crate::spatial::index::FigureLayer>,
    Arc<crate::spatial::index::StaffLayer>,
);

fn lean_layers(snap: &Snapshot) -> LeanLayers {
    (
        Arc::clone(&snap.grids),
        Arc::clone(&snap.communities),
        Arc::clone(&snap.figures),
        Arc::clone(&snap.staff),
    )
}

fn same_layers(a: &LeanLayers, b: &LeanLayers) -> bool {
    Arc::ptr_eq(&a.0, &b.0)
        && Arc::ptr_eq(&a.1, &b.1)
        && Arc::ptr_eq(&a.2, &b.2)
        && Arc::ptr_eq(&a.3, &b.3)
}

impl LeanGrids {
    /// Serialises every grid of the snapshot (CPU work: on the work pool). The caller is
    /// not read: both forms are made for everyone.
    fn new(snap: &Snapshot, caller: &Caller) -> Result<Self, Expired> {
        let view = GridView {
            snap,
            caller,
            peers: None,
            figures: None,
        };
        let feature = |g: &Grid, party: bool| -> Box<[u8]> {
            let v = json!({ "type": "Feature", "id": g.id, "geometry": null, "properties": view.properties_as(g, party) });
            serde_json::to_vec(&v)
                .unwrap_or_default()
                .into_boxed_slice()
        };
        let mut with_party = Vec::with_capacity(snap.grids.items.len());
        let mut without_party = Vec::with_capacity(snap.grids.items.len());
        for (i, g) in snap.grids.items.iter().enumerate() {
            crate::work::checkpoint_every(i, 256)?;
            with_party.push(feature(g, true));
            without_party.push(feature(g, false));
        }
        Ok(Self {
            layers: lean_layers(snap),
            with_party,
            without_party,
        })
    }

    /// The collection of the grids at these positions, each as the caller sees it.
    fn body(&self, shown: &[(usize, Visibility)]) -> Response {
        const HEAD: &[u8] = b"{\"features\":[";
        const TAIL: &[u8] = b"],\"geometry_omitted\":true,\"type\":\"FeatureCollection\"}";
        let pick = |(i, v): &(usize, Visibility)| -> &[u8] {
            if v.party_aggregates() {
                &self.with_party[*i]
            } else {
                &self.without_party[*i]
            }
        };
        let size = HEAD.len() + TAIL.len() + shown.iter().map(|s| pick(s).len() + 1).sum::<usize>();
        let mut body = Vec::with_capacity(size);
        body.extend_from_slice(HEAD);
        for (k, s) in shown.iter().enumerate() {
            if k > 0 {
                body.push(b',');
            }
            body.extend_from_slice(pick(s));
        }
        body.extend_from_slice(TAIL);
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    }
}

/// The kept [`LeanGrids`] and a lock so that requests arriving together after a change
/// wait for one serialisation rather than each making its own.
#[derive(Debug, Default)]
pub struct LeanGridCache {
    kept: std::sync::Mutex<Option<Arc<LeanGrids>>>,
    making: tokio::sync::Mutex<()>,
}

impl LeanGridCache {
    fn current(&self, layers: &LeanLayers) -> Option<Arc<LeanGrids>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|k| same_layers(&k.layers, layers))
            .cloned()
    }
}

/// Time serialising every grid may take on the work pool.
const LEAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// The lean features of the snapshot's grids, kept or made now on the work pool.
async fn lean_grids(
    st: &AppState,
    snap: &Arc<Snapshot>,
    caller: &Caller,
) -> ApiResult<Arc<LeanGrids>> {
    let cache = &st.lean_grids;
    let layers = lean_layers(snap);
    if let Some(k) = cache.current(&layers) {
        return Ok(k);
    }
    let _one = cache.making.lock().await;
    if let Some(k) = cache.current(&layers) {
        return Ok(k);
    }
    let (s, c) = (Arc::clone(snap), caller.clone());
    let made = Arc::new(crate::work::heavy(LEAN_BUDGET, move || LeanGrids::new(&s, &c)).await?);
    *cache.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&made));
    Ok(made)
}

/// Query with only `at`.
#[derive(Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

/// `GET /api/grids/{code}[?at=]`: one grid with its figures, staff and children; its
/// version is the ETag.
pub async fn get_grid(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> ApiResult<Response> {
    let snap = st.registry.snapshot();
    let (body, version) = match &q.at {
        None => {
            let g = snap
                .grids
                .by_code(&code)
                .ok_or_else(|| ApiError::not_found(format!("grid {code} not found")))?;
            let view = GridView {
                snap: &snap,
                caller: &caller,
                peers: None,
                figures: None,
            };
            if view.visibility(g) == Visibility::Hidden {
                return Err(ApiError::not_found(format!("grid {code} not found")));
            }
            (view.detail(g), g.version)
        }
        Some(at) => {
            let at = params::at(at)?;
            let grids = st.store.grids(Some(at)).await?;
            let g = grids
                .iter()
                .find(|g| g.code == code)
                .ok_or_else(|| ApiError::not_found(format!("grid {code} did not exist at {at}")))?;
            let figures = st.store.grid_figures_at(at).await?;
            let peers: HashMap<i64, &Grid> = grids.iter().map(|g| (g.id, g)).collect();
            let view = GridView {
                snap: &snap,
                caller: &caller,
                peers: Some(&peers),
                figures: Some(&figures),
            };
            if view.visibility(g) == Visibility::Hidden {
                return Err(ApiError::not_found(format!(
                    "grid {code} did not exist at {at}"
                )));
            }
            (view.detail(g), g.version)
        }
    };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(header::ETAG, etag(version));
    Ok(resp)
}

/// `GET /api/grids/{code}/history`: every version, oldest first.
pub async fn grid_history(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let versions = st.store.grid_history(&code).await?;
    let snap = st.registry.snapshot();
    let visible = versions
        .last()
        .and_then(|g| snap.place_of_grid(g))
        .is_some_and(|p| caller.visibility(&p) != Visibility::Hidden);
    if !visible {
        return Err(ApiError::not_found(format!("grid {code} not found")));
    }
    let features = versions
        .iter()
        .map(|g| {
            json!({
                "type": "Feature", "geometry": geometry(&g.geom),
                "properties": {
                    "id": g.id, "code": g.code, "name": g.name, "level": g.level.number(),
                    "version": g.version, "valid_from": g.valid_from, "valid_to": g.valid_to,
                    "area_m2": (area_m2(&g.geom) * 10.0).round() / 10.0,
                }
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// A grid as a client sends it.
#[derive(Deserialize)]
pub struct GridFeature {
    /// GeoJSON's `type`: `Feature` if given.
    #[serde(rename = "type")]
    kind: Option<String>,
    geometry: Option<geojson::Geometry>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

fn prop_str(p: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    p.get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_string())
}

fn required(p: &serde_json::Map<String, Value>, key: &str) -> ApiResult<String> {
    prop_str(p, key).filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::invalid(
            &format!("properties.{key}"),
            format!("properties.{key} is required"),
        )
    })
}

/// Why checking a request's geometries stopped: a refusal to answer, or the work's time
/// ran out.
pub(crate) enum Stop {
    /// The request is refused with this answer.
    Refused(ApiError),
    /// The work's deadline passed, or the request went away.
    Expired,
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Refused(e)
    }
}

impl From<Expired> for Stop {
    fn from(_: Expired) -> Self {
        Stop::Expired
    }
}

/// Refuses a request whose geometries exceed the caps, before any work on them: each
/// geometry (with its index in the request, if it has one) against the caps of one
/// geometry, and their sum against the cap of one request. Returns the sum.
pub(crate) fn check_sizes<'a>(
    st: &AppState,
    geometries: impl IntoIterator<Item = (Option<usize>, &'a geojson::Geometry)>,
) -> ApiResult<usize> {
    let caps = &st.config.geometry;
    let limits = caps.limits();
    let mut total = 0usize;
    for (index, g) in geometries {
        check_size(g, &limits).map_err(|e| {
            let limit = match e.kind {
                "too_many_rings" => caps.max_rings,
                _ => caps.max_vertices,
            };
            ApiError::shape(&e, index).with("limit", json!(limit))
        })?;
        total = total.saturating_add(crate::spatial::shape::vertex_count(g));
    }
    if total > caps.max_request_vertices {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_vertices",
            format!(
                "the geometries of one request have at most {} positions in all, these have {total}; send fewer or simpler geometries",
                caps.max_request_vertices
            ),
        )
        .with("limit", json!(caps.max_request_vertices))
        .with("vertices", json!(total)));
    }
    Ok(total)
}

/// Runs a request's geometry work on about `vertices` positions off the async workers,
/// within the geometry budget (503 `too_slow` past it, `busy` when the pool stays full).
pub(crate) async fn geometry_work<T, F>(st: &AppState, vertices: usize, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Stop> + Send + 'static,
{
    off_runtime(vertices, st.config.geometry.budget(), move || match f() {
        Ok(v) => Ok(Ok(v)),
        Err(Stop::Refused(e)) => Ok(Err(e)),
        Err(Stop::Expired) => Err(Expired),
    })
    .await?
}

fn read_geom(
    g: &Option<geojson::Geometry>,
    index: Option<usize>,
    limits: &ShapeLimits,
) -> Result<Option<geo::MultiPolygon<f64>>, Stop> {
    match g {
        None => Ok(None),
        Some(g) => match read_area(g, limits) {
            Ok(mp) => Ok(Some(mp)),
            Err(AreaError::Shape(e)) => Err(ApiError::shape(&e, index).into()),
            Err(AreaError::Expired(_)) => Err(Stop::Expired),
        },
    }
}

/// The 422 for a write that says nothing: `field` is where the change was expected.
fn nothing_to_change(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_change",
        message,
    )
    .with("field", json!(field))
}

/// Refuses a grid update that is not one Feature (`at` is the JSON path of the feature) or
/// gives neither a geometry nor a name.
fn check_update(f: Option<&GridFeature>, at: &str) -> ApiResult<()> {
    let path = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    if let Some(k) = f
        .and_then(|f| f.kind.as_deref())
        .filter(|k| *k != "Feature")
    {
        return Err(ApiError::invalid(
            &path("type"),
            format!("a grid is sent as one GeoJSON Feature, not a {k}"),
        ));
    }
    let says_something = f.is_some_and(|f| {
        f.geometry.is_some() || f.properties.get("name").is_some_and(|n| !n.is_null())
    });
    if says_something {
        Ok(())
    } else {
        Err(nothing_to_change(
            &if f.is_none() {
                at.to_string()
            } else {
                path("geometry")
            },
            "the update changes nothing: give a geometry and/or properties.name",
        ))
    }
}

fn new_grid(f: &GridFeature, index: Option<usize>, limits: &ShapeLimits) -> Result<NewGrid, Stop> {
    let level = f
        .properties
        .get("level")
        .and_then(|v| v.as_i64())
        .and_then(GridLevel::from_number)
        .ok_or_else(|| ApiError::invalid("properties.level", "properties.level must be 1 or 2"))?;
    let geom = read_geom(&f.geometry, index, limits)?.ok_or_else(|| {
        ApiError::invalid(
            "geometry",
            "a grid needs a Polygon or MultiPolygon geometry",
        )
    })?;
    Ok(NewGrid {
        code: required(&f.properties, "code")?,
        name: required(&f.properties, "name")?,
        level,
        parent_code: required(&f.properties, "parent_code")?,
        geom,
    })
}

fn applied_body(st: &AppState, caller: &Caller, a: &Applied) -> Value {
    let snap = st.registry.snapshot();
    let view = GridView {
        snap: &snap,
        caller,
        peers: None,
        figures: None,
    };
    json!({
        "grids": a.grids.iter().map(|g| view.feature(g)).collect::<Vec<_>>(),
        "deleted": a.deleted,
        "buildings_moved": a.moves.len(),
        "moves": a.moves,
        "party": a.party,
        "changed": a.changed(),
        "change": a.changed().then_some(a.seq),
    })
}

/// Refuses changes to grids outside the caller's reach, before anything is written.
fn check_reach(st: &AppState, caller: &Caller, batch: &[GridChange]) -> ApiResult<()> {
    let snap = st.registry.snapshot();
    for (i, c) in batch.iter().enumerate() {
        let place = match c {
            GridChange::Create(g) => match g.level {
                GridLevel::First => snap
                    .communities
                    .by_code(&g.parent_code)
                    .map(|c| snap.place_of_community(c)),
                GridLevel::Second => snap
                    .grids
                    .by_code(&g.parent_code)
                    .and_then(|p| snap.place_of_grid(p)),
            },
            GridChange::Update { code, .. } | GridChange::Delete { code, .. } => {
                snap.grids.by_code(code).and_then(|g| snap.place_of_grid(g))
            }
        };
        // Unknown codes are left to the store, which answers 404 or 422.
        if let Some(p) = place {
            if !caller.may_change(Area::Boundaries, &p) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this change touches grids outside your region",
                )
                .with("index", json!(i)));
            }
        }
    }
    Ok(())
}

async fn apply(st: &AppState, caller: &Caller, batch: Vec<GridChange>) -> ApiResult<Applied> {
    check_reach(st, caller, &batch)?;
    let applied = st
        .store
        .apply_grid_changes_within(
            batch,
            st.config.tolerance_m2,
            &actor(caller),
            st.config.geometry.budget(),
        )
        .await?;
    if applied.changed() {
        st.after_change().await;
    }
    Ok(applied)
}

/// `POST /api/grids`: create one grid.
pub async fn create_grid(
    State(st): State<AppState>,
    caller: Caller,
    Json(f): Json<GridFeature>,
) -> ApiResult<Response> {
    let vertices = check_sizes(&st, f.geometry.as_ref().map(|g| (None, g)))?;
    let limits = st.config.geometry.limits();
    let g = geometry_work(&st, vertices, move || new_grid(&f, None, &limits)).await?;
    let a = apply(&st, &caller, vec![GridChange::Create(g)]).await?;
    let version = a.grids.first().map(|g| g.version).unwrap_or(1);
    let mut resp = (
        StatusCode::CREATED,
        axum::Json(applied_body(&st, &caller, &a)),
    )
        .into_response();
    resp.headers_mut().insert(header::ETAG, etag(version));
    Ok(resp)
}

/// `PUT /api/grids/{code}`: re-draw and/or rename a grid; needs `If-Match`.
pub async fn update_grid(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    Json(f): Json<GridFeature>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    check_update(Some(&f), "")?;
    if let Some(c) = prop_str(&f.properties, "code") {
        if c != code {
            return Err(ApiError::invalid(
                "properties.code",
                "a grid's code cannot be changed",
            ));
        }
    }
    let vertices = check_sizes(&st, f.geometry.as_ref().map(|g| (None, g)))?;
    let limits = st.config.geometry.limits();
    let name = prop_str(&f.properties, "name");
    let geom = geometry_work(&st, vertices, move || read_geom(&f.geometry, None, &limits)).await?;
    let a = apply(
        &st,
        &caller,
        vec![GridChange::Update {
            code,
            version,
            name,
            geom,
        }],
    )
    .await?;
    let new_version = a.grids.first().map(|g| g.version).unwrap_or(version + 1);
    let mut resp = axum::Json(applied_body(&st, &caller, &a)).into_response();
    resp.headers_mut().insert(header::ETAG, etag(new_version));
    Ok(resp)
}

/// `DELETE /api/grids/{code}`: needs `If-Match`.
pub async fn delete_grid(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let version = if_match(&headers)?;
    let a = apply(&st, &caller, vec![GridChange::Delete { code, version }]).await?;
    Ok(Json(applied_body(&st, &caller, &a)))
}

/// One change of a batch.
#[derive(Deserialize)]
pub struct BatchItem {
    op: String,
    code: Option<String>,
    version: Option<i32>,
    #[serde(default)]
    feature: Option<GridFeature>,
}

/// Body of `POST /api/grids/batch`.
#[derive(Deserialize)]
pub struct Batch {
    changes: Vec<BatchItem>,
}

/// `POST /api/grids/batch`: several creations, re-draws and deletions in one atomic
/// change, as a boundary adjustment between neighbours needs.
pub async fn batch(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<Batch>,
) -> ApiResult<Json<Value>> {
    let out = checked_batch(&st, b).await?;
    let a = apply(&st, &caller, out).await?;
    Ok(Json(applied_body(&st, &caller, &a)))
}

/// The changes of a batch body, checked as far as they can be without the database, the
/// geometries within the caps and off the async workers (also used by the party preview,
/// which takes the same body).
pub(crate) async fn checked_batch(st: &AppState, b: Batch) -> ApiResult<Vec<GridChange>> {
    let geometries = b.changes.iter().enumerate().filter_map(|(i, c)| {
        c.feature
            .as_ref()
            .and_then(|f| f.geometry.as_ref())
            .map(|g| (Some(i), g))
    });
    let vertices = check_sizes(st, geometries)?;
    let limits = st.config.geometry.limits();
    geometry_work(st, vertices, move || batch_changes(&b, &limits)).await
}

fn batch_changes(b: &Batch, limits: &ShapeLimits) -> Result<Vec<GridChange>, Stop> {
    if b.changes.is_empty() {
        return Err(nothing_to_change(
            "changes",
            "the batch changes nothing: it needs at least one change",
        )
        .into());
    }
    if b.changes.len() > 10_000 {
        return Err(ApiError::invalid("changes", "a batch has at most 10,000 changes").into());
    }
    let mut out = Vec::with_capacity(b.changes.len());
    for (i, item) in b.changes.iter().enumerate() {
        let at = |e: ApiError| e.with("index", json!(i));
        let version = || {
            item.version.ok_or_else(|| {
                at(ApiError::invalid(
                    &format!("changes[{i}].version"),
                    "the version the change is based on is required",
                ))
            })
        };
        let code = || {
            item.code
                .clone()
                .or_else(|| {
                    item.feature
                        .as_ref()
                        .and_then(|f| prop_str(&f.properties, "code"))
                })
                .ok_or_else(|| {
                    at(ApiError::invalid(
                        &format!("changes[{i}].code"),
                        "code is required",
                    ))
                })
        };
        out.push(match item.op.as_str() {
            "create" => {
                let f = item.feature.as_ref().ok_or_else(|| {
                    at(ApiError::invalid(
                        &format!("changes[{i}].feature"),
                        "a create needs a feature",
                    ))
                })?;
                GridChange::Create(new_grid(f, Some(i), limits).map_err(|e| match e {
                    Stop::Refused(e) => Stop::Refused(at(e)),
                    Stop::Expired => Stop::Expired,
                })?)
            }
            "update" => {
                let f = item.feature.as_ref();
                check_update(f, &format!("changes[{i}].feature")).map_err(at)?;
                GridChange::Update {
                    code: code()?,
                    version: version()?,
                    name: f.and_then(|f| prop_str(&f.properties, "name")),
                    geom: match f {
                        Some(f) => read_geom(&f.geometry, Some(i), limits)?,
                        None => None,
                    },
                }
            }
            "delete" => GridChange::Delete {
                code: code()?,
                version: version()?,
            },
            other => {
                return Err(at(ApiError::invalid(
                    &format!("changes[{i}].op"),
                    format!("op must be create, update or delete, not {other:?}"),
                ))
                .into())
            }
        });
    }
    Ok(out)
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
pub async fn buildings(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<BBoxQuery>,
) -> ApiResult<Json<Value>> {
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
        let vis = snap
            .place_of_building(b)
            .map_or(Visibility::Hidden, |p| caller.visibility(&p));
        if vis == Visibility::Hidden {
            continue;
        }
        if features.len() == MAX_BUILDINGS {
            return Err(ApiError::invalid(
                "bbox",
                format!("more than {MAX_BUILDINGS} buildings match; narrow the bbox"),
            ));
        }
        let mut f = json!({
            "type": "Feature", "id": b.id, "geometry": geometry(&b.geom),
            "properties": {
                "id": b.id, "code": b.code, "name": b.name, "address": b.address,
                "grid_code": g2.map(|g| &g.code),
                "compound_code": b.compound.as_ref().map(|c| &c.0),
                "compound_name": b.compound.as_ref().map(|c| &c.1),
                "households": b.households, "residents": b.residents,
                "employees": b.employees,
            }
        });
        if vis == Visibility::Full {
            f["properties"]["party_members"] = json!(b.party_members);
        }
        features.push(f);
    }
    Ok(Json(collection(features)))
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
pub async fn stations(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<StationsQuery>,
) -> ApiResult<Json<Value>> {
    let kind = match &q.kind {
        None => None,
        Some(k) => Some(StationKind::parse(k).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                format!(
                    "unknown station kind {k:?}; kinds: {}",
                    StationKind::ALL.map(|k| k.as_str()).join(", ")
                ),
            )
        })?),
    };
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
                "properties": {
                    "id": s.id, "code": s.code, "name": s.name, "kind": s.kind.as_str(),
                    "kind_name": s.kind.name_zh(), "programmes": s.programmes,
                    "community_code": s.community_id.and_then(|c| snap.communities.get(c)).map(|c| &c.code),
                }
            })
        })
        .collect();
    Ok(Json(collection(features)))
}

/// `POST /api/import/{layer}`: a GeoJSON FeatureCollection for one layer, all or nothing.
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
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
/// address) the caller may see, best matches first (exact code, then prefix, then text).
pub async fn search(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
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
