//! Vector tiles over HTTP: `GET /tiles/{layer}/{z}/{x}/{y}.mvt` and the TileJSON at
//! `GET /tiles/{layer}.json`. Tiles honour the caller's scope (see `maptiles`).

use super::error::{ApiError, ApiResult};
use super::extract::{Ctx, Path};
use super::AppState;
use crate::spatial::tiles::TileId;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

fn unknown(layer: &str) -> ApiError {
    let names: Vec<&str> = crate::maptiles::LAYERS.iter().map(|(n, _)| *n).collect();
    ApiError::not_found(format!(
        "no tile layer {layer:?}; layers: {}",
        names.join(", ")
    ))
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt`.
pub async fn tile(
    Ctx { st, caller }: Ctx,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let tile = TileId::parse(&z, &x, &y).map_err(|e| ApiError::invalid("tile", e.to_string()))?;
    let snap = st.registry.snapshot();
    let tiles = st.tiles.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        tiles.sync(&snap);
        tiles.tile(&layer, tile, &caller).ok_or(layer)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|layer| unknown(&layer))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
    );
    // Edits must show at once: the browser asks every time; the server's cache is exact.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(resp)
}

/// The tile URL template of `layer`: under `WANGGE_PUBLIC_URL` when set, else relative to
/// the site. Never from the request's `Host`, which the client chooses.
pub fn tile_url(public_url: Option<&str>, layer: &str) -> String {
    let base = public_url.map_or("", |u| u.trim_end_matches('/'));
    format!("{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt")
}

/// `GET /tiles/{layer}.json`: TileJSON 3.0.0 for a layer.
pub async fn tilejson(State(st): State<AppState>, Path(file): Path<String>) -> ApiResult<Response> {
    let layer = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found("TileJSON lives at /tiles/{layer}.json"))?;
    let url = tile_url(st.config.public_url.as_deref(), layer);
    st.tiles.sync(&st.registry.snapshot());
    let doc = st
        .tiles
        .tilejson(layer, &url)
        .ok_or_else(|| unknown(layer))?;
    let mut resp = axum::Json(doc).into_response();
    // Its bounds follow the caller's data: not for shared caches.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(resp)
}
