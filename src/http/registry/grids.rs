//! Routes that read grids: the list (full or lean shapes, kept per state of the index),
//! one grid as it is or was, and its history.

use super::{collection, community_id, etag, geometry};
use crate::domain::access::{Caller, Visibility};
use crate::domain::registry::{Figures, Grid};
use crate::domain::GridLevel;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Json, Named, Path, Queried, Query};
use crate::http::kept::lock;
use crate::http::{params, AppState};
use crate::spatial::geodesy::area_m2;
use crate::spatial::index::Snapshot;
use crate::work::Expired;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Grids as one caller is shown them: their properties, figures and party counts as far as
/// the caller's visibility allows.
pub(crate) struct GridView<'a> {
    pub(crate) snap: &'a Snapshot,
    pub(crate) caller: &'a Caller,
    /// Grids by id, from the same point in time as the grid shown.
    pub(crate) peers: Option<&'a HashMap<i64, &'a Grid>>,
    pub(crate) figures: Option<&'a HashMap<i64, Figures>>,
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

    pub(crate) fn visibility(&self, g: &Grid) -> Visibility {
        self.snap
            .place_of_grid(g)
            .map_or(Visibility::Hidden, |p| self.caller.visibility(&p))
    }

    pub(crate) fn properties(&self, g: &Grid) -> serde_json::Map<String, Value> {
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

    pub(super) fn feature(&self, g: &Grid) -> Value {
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

/// Query of `GET /api/grids`.
#[derive(Deserialize)]
pub struct GridsQuery {
    level: Option<i64>,
    community: Option<String>,
    bbox: Option<String>,
    at: Option<String>,
}

/// `GET /api/grids?level=&community=&bbox=&at=`.
pub async fn list_grids(Queried(st, caller, q): Queried<GridsQuery>) -> ApiResult<Response> {
    let level = params::grid_level(q.level)?;
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

pub(super) type LeanLayers = (
    Arc<crate::spatial::index::GridLayer>,
    Arc<crate::spatial::index::CommunityLayer>,
    Arc<crate::spatial::index::FigureLayer>,
    Arc<crate::spatial::index::StaffLayer>,
);

pub(super) fn lean_layers(snap: &Snapshot) -> LeanLayers {
    (
        Arc::clone(&snap.grids),
        Arc::clone(&snap.communities),
        Arc::clone(&snap.figures),
        Arc::clone(&snap.staff),
    )
}

pub(super) fn same_layers(a: &LeanLayers, b: &LeanLayers) -> bool {
    Arc::ptr_eq(&a.0, &b.0)
        && Arc::ptr_eq(&a.1, &b.1)
        && Arc::ptr_eq(&a.2, &b.2)
        && Arc::ptr_eq(&a.3, &b.3)
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
        lock(&self.kept)
            .as_ref()
            .filter(|k| same_layers(&k.layers, layers))
            .cloned()
    }
}

/// Time serialising every grid may take on the work pool.
pub(super) const LEAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// The lean features of the snapshot's grids, kept or made now on the work pool.
pub(super) async fn lean_grids(
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
    *lock(&cache.kept) = Some(Arc::clone(&made));
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
    Ctx { st, caller }: Ctx,
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
pub async fn grid_history(Named(st, caller, code): Named) -> ApiResult<Json<Value>> {
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
