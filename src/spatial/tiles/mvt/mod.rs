//! Mapbox Vector Tile (spec 2.1) encoder: turns lon/lat `geo` features into the protobuf
//! bytes of one tile.
//!
//! Owns projection into tile pixels, clipping (with a buffer), per-zoom simplification,
//! quantization, winding, command encoding and the protobuf wire format (written by hand;
//! no code generation). It must not choose which features belong in a tile (that is the
//! caller's or [`super::TileSource`]'s job) and must not cache.

//!
//! This file holds the encoder's input types and [`encode_tile`]; `layer` encodes one
//! layer's features, `tags` interns keys and values, `wire` has the protobuf primitives.

mod layer;
mod tags;
#[cfg(test)]
mod tests;
mod wire;

use geo::Geometry;

use super::clip::Pt;
use super::tilemath::TileId;

pub(crate) use layer::LayerEncoder;
pub(crate) use tags::TagTables;

/// Default tile extent (pixels per tile side in tile coordinates).
pub const DEFAULT_EXTENT: u32 = 4096;
/// Default clip buffer around the tile, in tile coordinates.
pub const DEFAULT_BUFFER: u32 = 64;
/// Largest extent accepted; larger values are clamped so coordinates stay in `i32`.
pub const MAX_EXTENT: u32 = 1 << 16;

/// An attribute value (the MVT `Value` message). `Null` properties are omitted on encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string.
    String(String),
    /// Signed integer (`int_value`, or `sint_value` when negative).
    Int(i64),
    /// Unsigned integer (`uint_value`).
    UInt(u64),
    /// 64-bit float (`double_value`).
    Double(f64),
    /// 32-bit float (`float_value`).
    Float(f32),
    /// Boolean (`bool_value`).
    Bool(bool),
    /// Absent value: the property is left out of the tile.
    Null,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
/// `From` for the plain types a value variant holds (widening where the variant is wider).
macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        })*
    };
}

value_from!(
    i64 => Int,
    i32 => Int,
    u64 => UInt,
    u32 => UInt,
    f64 => Double,
    f32 => Float,
    bool => Bool,
);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<&serde_json::Value> for Value {
    /// JSON numbers become `Int`/`UInt`/`Double`; arrays and objects are kept as JSON text.
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    n.as_f64().map_or(Value::Null, Value::Double)
                }
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            other => Value::String(other.to_string()),
        }
    }
}

/// One feature to encode: geometry in lon/lat degrees (WGS 84).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Feature id (should be unique within the layer).
    pub id: Option<u64>,
    /// Geometry in lon/lat; collections keep only their highest-dimension parts.
    pub geometry: Geometry<f64>,
    /// Attributes; keys should be unique within a feature; `Null` values are omitted.
    pub properties: Vec<(String, Value)>,
}

/// One named layer of a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Layer name (unique within a tile).
    pub name: String,
    /// Tile coordinate extent; 4096 by default, clamped to `1..=MAX_EXTENT`.
    pub extent: u32,
    /// Features to encode.
    pub features: Vec<Feature>,
}

impl Layer {
    /// An empty layer with the default extent.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            extent: DEFAULT_EXTENT,
            features: Vec::new(),
        }
    }
}

/// Encoding knobs shared by all layers of a tile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeOptions {
    /// Clip buffer around the tile in tile coordinates (default 64); clamped to the extent.
    pub buffer: u32,
    /// Douglas–Peucker tolerance in tile coordinates (default 1.0); 0 disables it.
    pub simplify_tolerance: f64,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            buffer: DEFAULT_BUFFER,
            simplify_tolerance: 1.0,
        }
    }
}

/// MVT geometry type (the `GeomType` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeomType {
    /// Unknown or absent.
    Unknown = 0,
    /// Point or multi-point.
    Point = 1,
    /// Line string or multi-line string.
    LineString = 2,
    /// Polygon or multi-polygon.
    Polygon = 3,
}

/// Encodes `layers` for `tile`. Layers with no surviving features are left out, so a
/// tile with nothing in it is an empty (0-byte) body, which MVT clients accept.
pub fn encode_tile(tile: TileId, layers: &[Layer], opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    for layer in layers {
        let mut enc = LayerEncoder::new(&layer.name, layer.extent, tile, opts);
        for f in &layer.features {
            enc.add(f, &mut scratch);
        }
        enc.finish_into(&mut out);
    }
    out
}

/// Reusable buffers; one per thread of encoding work.
#[derive(Default)]
pub(crate) struct Scratch {
    pts: Vec<Pt>,
    tmp: Vec<Pt>,
    parts: Vec<Vec<Pt>>,
    keep: Vec<bool>,
    stack: Vec<(usize, usize)>,
    q: Vec<(i32, i32)>,
    q_multi: Vec<(i32, i32)>,
    /// The current feature's geometry commands, already varint-encoded.
    geom: Vec<u8>,
    tags: Vec<u32>,
    /// Source-wide tag id → (stamp, layer-local id); valid only where the stamp matches
    /// the current layer's, so nothing is cleared between tiles.
    key_remap: Vec<(u32, u32)>,
    val_remap: Vec<(u32, u32)>,
    stamp: u32,
}
