//! Vector tiles: a pure-Rust Mapbox Vector Tile (2.1) producer, an in-memory R-tree tile
//! source, TileJSON documents and a tile cache that never serves a stale tile.
//!
//! Owns everything between "these features, this tile" and "these bytes". It must not
//! hold HTTP routes, SQL or scope rules: handlers pass a scope predicate and a cache
//! variant, and `store/` feeds features in.
//!
//! How the pieces fit a server:
//! - at start, build one [`TileSource`] per layer from PostGIS and publish each behind an
//!   `ArcSwap`; keep one [`TileCache`] for all layers;
//! - a tile request: [`TileId::parse`] the path (a bad address is an error value, never
//!   a panic), build a [`TileKey`] whose variant names the caller's scope, then
//!   [`TileCache::get_or_render`] with a closure that loads the source snapshot *inside*
//!   and calls [`TileSource::render`] with the caller's scope predicate. Rendering is CPU
//!   work of tens of microseconds per tile; from async code, use `get` first and run a
//!   miss in `spawn_blocking` with [`TileCache::generation`] taken before loading the
//!   snapshot. Serve the bytes as `application/vnd.mapbox-vector-tile`; an empty tile is a
//!   0-byte body, which MapLibre accepts (200 or 204);
//! - an edit: [`TileSource::with_changes`], store the new source, then
//!   [`TileCache::invalidate_bbox`] with [`Edit::dirty`]. From then on no request gets
//!   a stale tile (see [`TileCache`] for the argument);
//! - TileJSON: [`TileSource::tilejson`] with the absolute tile URL template.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use geo::polygon;
//! use wangge::spatial::tiles::{
//!     Feature, SourceFeature, TileCache, TileId, TileKey, TileSource, CacheConfig,
//! };
//!
//! let grid = Feature {
//!     id: Some(1),
//!     geometry: polygon![(x: 105.70, y: 32.40), (x: 105.71, y: 32.40), (x: 105.71, y: 32.41)].into(),
//!     properties: vec![("code".into(), "A01".into())],
//! };
//! let source = TileSource::new("grids", vec![SourceFeature::new(grid).with_scope(["c1"])]);
//! let cache = TileCache::new(CacheConfig::default());
//! // Client input is validated: `TileId::new(30, 0, 0)` is an error, not a panic.
//! let tile = TileId::new(14, 13_002, 6_631).expect("valid tile");
//! let key = TileKey::new("grids", tile, "scope:c1");
//! let bytes = cache
//!     .get_or_render(&key, || {
//!         Ok::<_, std::convert::Infallible>(Bytes::from(
//!             source.render(tile, &|f: &SourceFeature| f.in_scope("c1")),
//!         ))
//!     })
//!     .expect("infallible");
//! assert!(!bytes.is_empty());
//! ```

mod cache;
mod clip;
mod decode;
mod mvt;
mod prepare;
mod source;
mod tilejson;
mod tilemath;

pub use cache::{CacheConfig, CacheStats, Generation, TileCache, TileKey};
pub use decode::{decode_tile, DecodeError, DecodedFeature, DecodedGeometry, DecodedLayer};
pub use mvt::{
    encode_tile, EncodeOptions, Feature, GeomType, Layer, Value, DEFAULT_BUFFER, DEFAULT_EXTENT,
    MAX_EXTENT,
};
pub use source::{all_features, render_layers, Edit, FeatureFilter, SourceFeature, TileSource};
pub use tilejson::{field_type, TileJson, VectorLayer};
pub use tilemath::{
    lonlat_rect_to_world, lonlat_to_mercator, lonlat_to_world, mercator_to_lonlat,
    mercator_to_world, tiles_covering, world_to_lonlat, world_to_mercator, TileId, TileRange,
    EARTH_RADIUS, MAX_LATITUDE, MAX_ZOOM, MERCATOR_HALF_SIDE,
};

/// Errors from tile addressing and source edits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The zoom level is above what we serve.
    #[error("zoom {z} is out of range (0..={max})")]
    ZoomOutOfRange {
        /// Requested zoom.
        z: u32,
        /// Highest zoom accepted.
        max: u8,
    },
    /// x or y is not below `2^z`.
    #[error("tile {z}/{x}/{y} does not exist (x and y must be below 2^{z})")]
    TileOutOfRange {
        /// Zoom.
        z: u32,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// The path segments are not plain decimal tile numbers.
    #[error("malformed tile address {input:?} (expected z/x/y with decimal numbers)")]
    Malformed {
        /// The offending address, truncated.
        input: String,
    },
    /// An edit named a feature without an id, so it cannot be matched or replaced.
    #[error("a feature without an id cannot be upserted into a tile source")]
    MissingFeatureId,
}
