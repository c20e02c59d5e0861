//! Mapbox Vector Tile (spec 2.1) encoder: turns lon/lat `geo` features into the protobuf
//! bytes of one tile.
//!
//! Owns projection into tile pixels, clipping (with a buffer), per-zoom simplification,
//! quantization, winding, command encoding and the protobuf wire format (written by hand;
//! no code generation). It must not choose which features belong in a tile (that is the
//! caller's or [`super::TileSource`]'s job) and must not cache.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use geo::{Coord, Geometry, LineString};

use super::clip::{self, ClipRect, Pt};
use super::prepare::{collect_lines, collect_points, collect_polygons, max_dim, Kind, Prepared};
use super::tilemath::{lonlat_to_world, TileId};

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
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::UInt(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::UInt(u64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
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

/// Multiply-rotate hasher (as in rustc's FxHash) for the per-tile key and value tables:
/// their contents come from our own data, not from clients, so SipHash's flooding
/// resistance buys nothing there, and it was the largest single cost after geometry in
/// a profile of cold rendering.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Attribute tables shared by a whole source: each distinct key and value once, values
/// already in protobuf form, so per-tile encoding only renumbers them.
#[derive(Debug, Default, Clone)]
pub(crate) struct TagTables {
    keys: Vec<Box<str>>,
    values: Vec<Box<[u8]>>,
    key_ix: HashMap<Box<str>, u32>,
    val_ix: HashMap<Box<[u8]>, u32>,
}

impl TagTables {
    /// Interns a feature's properties (nulls dropped) as flattened (key, value) id pairs.
    pub(crate) fn intern(&mut self, props: &[(String, Value)]) -> Box<[u32]> {
        let mut out = Vec::with_capacity(props.len() * 2);
        let mut buf = Vec::new();
        for (k, v) in props {
            if matches!(v, Value::Null) {
                continue;
            }
            buf.clear();
            write_value(v, &mut buf);
            let ki = match self.key_ix.get(k.as_str()) {
                Some(&i) => i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push(k.as_str().into());
                    self.key_ix.insert(k.as_str().into(), i);
                    i
                }
            };
            let vi = match self.val_ix.get(buf.as_slice()) {
                Some(&i) => i,
                None => {
                    let i = self.values.len() as u32;
                    self.values.push(buf.as_slice().into());
                    self.val_ix.insert(buf.as_slice().into(), i);
                    i
                }
            };
            out.push(ki);
            out.push(vi);
        }
        out.into_boxed_slice()
    }
}

#[derive(Hash, PartialEq, Eq)]
enum ValueKey<'a> {
    S(&'a str),
    I(i64),
    U(u64),
    D(u64),
    F(u32),
    B(bool),
}

/// A value of the layer's value table: borrowed from a feature or pre-encoded.
enum ValueOut<'a> {
    Value(&'a Value),
    Encoded(&'a [u8]),
}

/// Accumulates the features of one layer; [`LayerEncoder::finish_into`] writes it out.
pub(crate) struct LayerEncoder<'a> {
    name: &'a str,
    extent: u32,
    scale: f64,
    ox: f64,
    oy: f64,
    rect: ClipRect,
    tolerance: f64,
    /// Squared tolerance in world units for prepared geometry; negative keeps all.
    tol2_world: f64,
    keys: FxMap<&'a str, u32>,
    values: FxMap<ValueKey<'a>, u32>,
    key_list: Vec<&'a str>,
    value_list: Vec<ValueOut<'a>>,
    stamp: u32,
    features: Vec<u8>,
    count: usize,
    cx: i32,
    cy: i32,
}

impl<'a> LayerEncoder<'a> {
    /// Starts a layer for `tile`.
    pub(crate) fn new(name: &'a str, extent: u32, tile: TileId, opts: &EncodeOptions) -> Self {
        let extent = extent.clamp(1, MAX_EXTENT);
        let e = f64::from(extent);
        let buffer = f64::from(opts.buffer.min(extent));
        let tolerance = if opts.simplify_tolerance.is_finite() {
            opts.simplify_tolerance.max(0.0)
        } else {
            0.0
        };
        let scale = f64::from(tile.tiles_per_side()) * e;
        Self {
            name,
            extent,
            scale,
            ox: f64::from(tile.x()) * e,
            oy: f64::from(tile.y()) * e,
            rect: ClipRect {
                min_x: -buffer,
                min_y: -buffer,
                max_x: e + buffer,
                max_y: e + buffer,
            },
            tolerance,
            tol2_world: if tolerance > 0.0 {
                (tolerance / scale).powi(2)
            } else {
                -1.0
            },
            keys: FxMap::default(),
            values: FxMap::default(),
            key_list: Vec::new(),
            value_list: Vec::new(),
            stamp: 0,
            features: Vec::new(),
            count: 0,
            cx: 0,
            cy: 0,
        }
    }

    /// Starts a layer whose features carry tags interned in `tables`
    /// (see [`LayerEncoder::add_prepared`]); `expected` sizes the output buffer.
    pub(crate) fn new_shared(
        name: &'a str,
        extent: u32,
        tile: TileId,
        opts: &EncodeOptions,
        tables: &TagTables,
        expected: usize,
        s: &mut Scratch,
    ) -> Self {
        let mut enc = Self::new(name, extent, tile, opts);
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.key_remap.clear();
            s.val_remap.clear();
            s.stamp = 1;
        }
        if s.key_remap.len() < tables.keys.len() {
            s.key_remap.resize(tables.keys.len(), (0, 0));
        }
        if s.val_remap.len() < tables.values.len() {
            s.val_remap.resize(tables.values.len(), (0, 0));
        }
        enc.stamp = s.stamp;
        enc.features.reserve(expected * 96);
        enc
    }

    #[inline]
    fn px(&self, c: Coord<f64>) -> Pt {
        let w = lonlat_to_world(c);
        (w.x * self.scale - self.ox, w.y * self.scale - self.oy)
    }

    fn project_into(&self, ls: &LineString<f64>, out: &mut Vec<Pt>) {
        out.clear();
        out.extend(
            ls.0.iter()
                .map(|&c| self.px(c))
                .filter(|p| p.0.is_finite() && p.1.is_finite()),
        );
    }

    /// Keeps the vertices significant at this zoom and moves them to tile pixels.
    #[inline]
    fn filter_project(&self, path: &[[f64; 3]], out: &mut Vec<Pt>) {
        out.clear();
        let (t2, sc, ox, oy) = (self.tol2_world, self.scale, self.ox, self.oy);
        out.extend(
            path.iter()
                .filter(|v| v[2] > t2)
                .map(|v| (v[0] * sc - ox, v[1] * sc - oy)),
        );
    }

    /// Encodes one lon/lat feature: clip, then simplify. Features that clip away entirely
    /// are skipped.
    pub(crate) fn add(&mut self, feature: &'a Feature, s: &mut Scratch) {
        s.geom.clear();
        self.cx = 0;
        self.cy = 0;
        let geom = &feature.geometry;
        let ty = match max_dim(geom) {
            Some(0) => {
                s.q_multi.clear();
                collect_points(geom, &mut |c| {
                    let p = self.px(c);
                    if self.rect.contains(p) {
                        s.q_multi.push(quantize(p));
                    }
                });
                self.write_points(s);
                GeomType::Point
            }
            Some(1) => {
                collect_lines(geom, &mut |ls| {
                    let mut pts = std::mem::take(&mut s.pts);
                    self.project_into(ls, &mut pts);
                    self.add_line(&mut pts, true, s);
                    s.pts = pts;
                });
                GeomType::LineString
            }
            Some(_) => {
                collect_polygons(geom, &mut |poly| {
                    let mut pts = std::mem::take(&mut s.pts);
                    for (i, ring) in std::iter::once(poly.exterior())
                        .chain(poly.interiors())
                        .enumerate()
                    {
                        self.project_into(ring, &mut pts);
                        if !self.emit_ring(&mut pts, i == 0, true, s) && i == 0 {
                            break;
                        }
                    }
                    s.pts = pts;
                });
                GeomType::Polygon
            }
            None => return,
        };
        if s.geom.is_empty() {
            return;
        }
        s.tags.clear();
        for (k, v) in &feature.properties {
            let Some(vk) = value_key(v) else { continue };
            let ki = match self.keys.get(k.as_str()) {
                Some(&i) => i,
                None => {
                    let i = self.key_list.len() as u32;
                    self.keys.insert(k.as_str(), i);
                    self.key_list.push(k.as_str());
                    i
                }
            };
            let vi = match self.values.get(&vk) {
                Some(&i) => i,
                None => {
                    let i = self.value_list.len() as u32;
                    self.values.insert(vk, i);
                    self.value_list.push(ValueOut::Value(v));
                    i
                }
            };
            s.tags.push(ki);
            s.tags.push(vi);
        }
        self.write_feature(feature.id, ty, s);
    }

    /// Encodes one prepared feature (world units, precomputed significance): simplify by
    /// filtering, then clip. `tags` are (key, value) id pairs from `tables`, which must be
    /// the tables this encoder was started with.
    pub(crate) fn add_prepared(
        &mut self,
        id: Option<u64>,
        tags: &[u32],
        prepared: &Prepared,
        tables: &'a TagTables,
        s: &mut Scratch,
    ) {
        s.geom.clear();
        self.cx = 0;
        self.cy = 0;
        let ty = match prepared.kind {
            Kind::Points => {
                s.q_multi.clear();
                for c in prepared.coords.iter() {
                    let p = (c[0] * self.scale - self.ox, c[1] * self.scale - self.oy);
                    if self.rect.contains(p) {
                        s.q_multi.push(quantize(p));
                    }
                }
                self.write_points(s);
                GeomType::Point
            }
            Kind::Lines => {
                let mut pts = std::mem::take(&mut s.pts);
                for (_, path) in prepared.paths() {
                    self.filter_project(path, &mut pts);
                    self.add_line(&mut pts, false, s);
                }
                s.pts = pts;
                GeomType::LineString
            }
            Kind::Polygons => {
                let mut pts = std::mem::take(&mut s.pts);
                // Interior rings follow their exterior; a vanished exterior drops them.
                let mut keep_polygon = false;
                for (exterior, ring) in prepared.paths() {
                    if !exterior && !keep_polygon {
                        continue;
                    }
                    self.filter_project(ring, &mut pts);
                    let drawn = self.emit_ring(&mut pts, exterior, false, s);
                    if exterior {
                        keep_polygon = drawn;
                    }
                }
                s.pts = pts;
                GeomType::Polygon
            }
        };
        if s.geom.is_empty() {
            return;
        }
        s.tags.clear();
        for kv in tags.chunks_exact(2) {
            let (kg, vg) = (kv[0] as usize, kv[1] as usize);
            let (Some(k), Some(v)) = (tables.keys.get(kg), tables.values.get(vg)) else {
                continue;
            };
            let (Some(ks), Some(vs)) = (s.key_remap.get_mut(kg), s.val_remap.get_mut(vg)) else {
                continue;
            };
            if ks.0 != self.stamp {
                *ks = (self.stamp, self.key_list.len() as u32);
                self.key_list.push(k);
            }
            if vs.0 != self.stamp {
                *vs = (self.stamp, self.value_list.len() as u32);
                self.value_list.push(ValueOut::Encoded(v));
            }
            let (ki, vi) = (ks.1, vs.1);
            s.tags.push(ki);
            s.tags.push(vi);
        }
        self.write_feature(id, ty, s);
    }

    fn write_points(&mut self, s: &mut Scratch) {
        if !s.q_multi.is_empty() {
            let pts = std::mem::take(&mut s.q_multi);
            self.write_move_to(&pts, &mut s.geom);
            s.q_multi = pts;
        }
    }

    /// Writes the feature message from `s.geom` and `s.tags`.
    fn write_feature(&mut self, id: Option<u64>, ty: GeomType, s: &Scratch) {
        let tags_len: usize = s.tags.iter().map(|&t| varint_len(u64::from(t))).sum();
        let geom_len = s.geom.len();
        let mut body = 2 + 1 + varint_len(geom_len as u64) + geom_len;
        if let Some(id) = id {
            body += 1 + varint_len(id);
        }
        if !s.tags.is_empty() {
            body += 1 + varint_len(tags_len as u64) + tags_len;
        }
        let buf = &mut self.features;
        buf.reserve(body + 4);
        buf.push(0x12);
        put_varint(buf, body as u64);
        if let Some(id) = id {
            buf.push(0x08);
            put_varint(buf, id);
        }
        if !s.tags.is_empty() {
            buf.push(0x12);
            put_varint(buf, tags_len as u64);
            for &t in &s.tags {
                put_varint(buf, u64::from(t));
            }
        }
        buf.push(0x18);
        buf.push(ty as u8);
        buf.push(0x22);
        put_varint(buf, geom_len as u64);
        buf.extend_from_slice(&s.geom);
        self.count += 1;
    }

    /// Clips (and, if `simplify`, simplifies) one projected line, writing its parts.
    fn add_line(&mut self, pts: &mut Vec<Pt>, simplify: bool, s: &mut Scratch) {
        if pts.len() < 2 {
            return;
        }
        let (x0, y0, x1, y1) = clip::bbox(pts);
        let r = self.rect;
        if x0 >= r.min_x && y0 >= r.min_y && x1 <= r.max_x && y1 <= r.max_y {
            self.emit_line(pts, simplify, s);
        } else if !(x1 < r.min_x || y1 < r.min_y || x0 > r.max_x || y0 > r.max_y) {
            let mut parts = std::mem::take(&mut s.parts);
            parts.clear();
            clip::clip_line(pts, &r, &mut parts);
            for part in parts.iter_mut() {
                self.emit_line(part, simplify, s);
            }
            s.parts = parts;
        }
    }

    fn emit_line(&mut self, pts: &mut Vec<Pt>, simplify: bool, s: &mut Scratch) {
        if simplify {
            clip::simplify(pts, self.tolerance, &mut s.keep, &mut s.stack);
        }
        quantize_dedup(pts, &mut s.q);
        if s.q.len() < 2 {
            return;
        }
        let q = std::mem::take(&mut s.q);
        self.write_move_to(&q[..1], &mut s.geom);
        self.write_line_to(&q[1..], &mut s.geom);
        s.q = q;
    }

    /// Clips, simplifies, quantizes and writes one projected ring; false when it vanished.
    fn emit_ring(
        &mut self,
        pts: &mut Vec<Pt>,
        exterior: bool,
        simplify: bool,
        s: &mut Scratch,
    ) -> bool {
        let ok = self.ring_to_q(pts, exterior, simplify, s);
        if ok {
            let q = std::mem::take(&mut s.q);
            self.write_move_to(&q[..1], &mut s.geom);
            self.write_line_to(&q[1..], &mut s.geom);
            put_varint(&mut s.geom, u64::from(command(7, 1)));
            s.q = q;
        }
        ok
    }

    fn ring_to_q(
        &self,
        pts: &mut Vec<Pt>,
        exterior: bool,
        simplify: bool,
        s: &mut Scratch,
    ) -> bool {
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        if pts.len() < 3 {
            return false;
        }
        let (x0, y0, x1, y1) = clip::bbox(pts);
        let r = self.rect;
        if x1 < r.min_x || y1 < r.min_y || x0 > r.max_x || y0 > r.max_y {
            return false;
        }
        if !(x0 >= r.min_x && y0 >= r.min_y && x1 <= r.max_x && y1 <= r.max_y) {
            clip::clip_ring(pts, &r, &mut s.tmp);
            if pts.len() < 3 {
                return false;
            }
        }
        if simplify && self.tolerance > 0.0 {
            pts.push(pts[0]);
            clip::simplify(pts, self.tolerance, &mut s.keep, &mut s.stack);
            pts.pop();
        }
        quantize_dedup(pts, &mut s.q);
        if s.q.len() > 1 && s.q.first() == s.q.last() {
            s.q.pop();
        }
        if s.q.len() < 3 {
            return false;
        }
        let a = ring_area2(&s.q);
        if a == 0 {
            return false;
        }
        // MVT: exterior rings have positive surveyor's area in y-down tile space.
        if (a > 0) != exterior {
            s.q.reverse();
        }
        true
    }

    fn write_move_to(&mut self, pts: &[(i32, i32)], out: &mut Vec<u8>) {
        put_varint(out, u64::from(command(1, pts.len() as u32)));
        self.write_params(pts, out);
    }

    fn write_line_to(&mut self, pts: &[(i32, i32)], out: &mut Vec<u8>) {
        put_varint(out, u64::from(command(2, pts.len() as u32)));
        self.write_params(pts, out);
    }

    fn write_params(&mut self, pts: &[(i32, i32)], out: &mut Vec<u8>) {
        out.reserve(pts.len() * 4);
        for &(x, y) in pts {
            put_varint(out, u64::from(zigzag(x.wrapping_sub(self.cx))));
            put_varint(out, u64::from(zigzag(y.wrapping_sub(self.cy))));
            self.cx = x;
            self.cy = y;
        }
    }

    /// Appends the layer message (field 3 of `Tile`) to `out`, unless it has no features.
    pub(crate) fn finish_into(self, out: &mut Vec<u8>) {
        if self.count == 0 {
            return;
        }
        let mut tail =
            Vec::with_capacity(self.key_list.len() * 12 + self.value_list.len() * 12 + 8);
        for k in &self.key_list {
            tail.push(0x1A);
            put_varint(&mut tail, k.len() as u64);
            tail.extend_from_slice(k.as_bytes());
        }
        let mut v = Vec::new();
        for val in &self.value_list {
            let bytes: &[u8] = match val {
                ValueOut::Encoded(b) => b,
                ValueOut::Value(val) => {
                    v.clear();
                    write_value(val, &mut v);
                    &v
                }
            };
            tail.push(0x22);
            put_varint(&mut tail, bytes.len() as u64);
            tail.extend_from_slice(bytes);
        }
        tail.push(0x28);
        put_varint(&mut tail, u64::from(self.extent));
        tail.push(0x78);
        tail.push(2);
        let name_len = self.name.len();
        let body = 1 + varint_len(name_len as u64) + name_len + self.features.len() + tail.len();
        out.reserve(body + 6);
        out.push(0x1A);
        put_varint(out, body as u64);
        out.push(0x0A);
        put_varint(out, name_len as u64);
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&self.features);
        out.extend_from_slice(&tail);
    }
}

fn value_key(v: &Value) -> Option<ValueKey<'_>> {
    Some(match v {
        Value::String(s) => ValueKey::S(s),
        Value::Int(i) => ValueKey::I(*i),
        Value::UInt(u) => ValueKey::U(*u),
        Value::Double(d) => ValueKey::D(d.to_bits()),
        Value::Float(f) => ValueKey::F(f.to_bits()),
        Value::Bool(b) => ValueKey::B(*b),
        Value::Null => return None,
    })
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => {
            out.push(0x0A);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Float(f) => {
            out.push(0x15);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Double(d) => {
            out.push(0x19);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Int(i) if *i >= 0 => {
            out.push(0x20);
            put_varint(out, *i as u64);
        }
        Value::Int(i) => {
            out.push(0x30);
            put_varint(out, ((*i << 1) ^ (*i >> 63)) as u64);
        }
        Value::UInt(u) => {
            out.push(0x28);
            put_varint(out, *u);
        }
        Value::Bool(b) => {
            out.push(0x38);
            out.push(u8::from(*b));
        }
        Value::Null => {}
    }
}

/// Rounds half away from zero, like `f64::round`, without the libm call that baseline
/// x86-64 makes for it. `as` saturates, and the clip rectangle keeps values far inside
/// `i32` anyway.
#[inline]
fn round_i32(v: f64) -> i32 {
    if v >= 0.0 {
        (v + 0.5) as i32
    } else {
        (v - 0.5) as i32
    }
}

#[inline]
fn quantize(p: Pt) -> (i32, i32) {
    (round_i32(p.0), round_i32(p.1))
}

fn quantize_dedup(pts: &[Pt], out: &mut Vec<(i32, i32)>) {
    out.clear();
    for &p in pts {
        let q = quantize(p);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
}

/// Twice the surveyor's-formula area of a ring in tile coordinates.
fn ring_area2(r: &[(i32, i32)]) -> i64 {
    let mut s: i64 = 0;
    let mut prev = r[r.len() - 1];
    for &p in r {
        s += i64::from(prev.0) * i64::from(p.1) - i64::from(p.0) * i64::from(prev.1);
        prev = p;
    }
    s
}

#[inline]
fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

#[inline]
fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

#[inline]
pub(crate) fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    let mut tmp = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        tmp[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    tmp[n] = v as u8;
    buf.extend_from_slice(&tmp[..=n]);
}

#[cfg(test)]
mod tests {
    use super::super::decode::{decode_tile, DecodedGeometry};
    use super::*;
    use geo::{point, polygon, Rect};

    fn tile() -> TileId {
        TileId::new(15, 26_389, 13_276).expect("valid tile")
    }

    fn lonlat_of_px(t: TileId, x: f64, y: f64) -> Coord<f64> {
        let n = f64::from(t.tiles_per_side());
        let w = Coord {
            x: (f64::from(t.x()) + x / 4096.0) / n,
            y: (f64::from(t.y()) + y / 4096.0) / n,
        };
        super::super::tilemath::world_to_lonlat(w)
    }

    #[test]
    fn rounding_matches_std() {
        for v in [
            0.0, 0.4, 0.5, 1.5, 2.5, -0.4, -0.5, -1.5, -2.6, 4160.49, -64.5, 1e12, -1e12,
        ] {
            assert_eq!(round_i32(v), v.round() as i32, "{v}");
        }
        assert_eq!(round_i32(f64::NAN), 0);
    }

    #[test]
    fn spec_example_command_encoding() {
        assert_eq!(command(1, 1), 9);
        assert_eq!(command(2, 3), 26);
        assert_eq!(command(7, 1), 15);
        assert_eq!(zigzag(25), 50);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(i32::MIN), u32::MAX);
    }

    #[test]
    fn empty_tile_is_empty_body() {
        let t = tile();
        let mut layer = Layer::new("grids");
        layer.features.push(Feature {
            id: Some(1),
            geometry: point!(x: 0.0, y: 0.0).into(),
            properties: vec![],
        });
        assert!(
            encode_tile(t, &[layer, Layer::new("empty")], &EncodeOptions::default()).is_empty()
        );
    }

    #[test]
    fn polygon_winding_and_properties_round_trip() {
        let t = tile();
        let c = |x, y| lonlat_of_px(t, x, y);
        // Counter-clockwise in lon/lat with a hole that is also counter-clockwise.
        let (a, b, cc, d) = (
            c(100.0, 100.0),
            c(1100.0, 100.0),
            c(1100.0, 1100.0),
            c(100.0, 1100.0),
        );
        let (h1, h2, h3, h4) = (
            c(400.0, 400.0),
            c(600.0, 400.0),
            c(600.0, 600.0),
            c(400.0, 600.0),
        );
        let poly = polygon!(
            exterior: [a, b, cc, d, a],
            interiors: [[h1, h4, h3, h2, h1]],
        );
        let mut layer = Layer::new("grids");
        layer.features.push(Feature {
            id: Some(7),
            geometry: poly.into(),
            properties: vec![
                ("name".into(), "一网格".into()),
                ("n".into(), Value::Int(-3)),
                ("gone".into(), Value::Null),
                ("ok".into(), true.into()),
            ],
        });
        let bytes = encode_tile(t, &[layer], &EncodeOptions::default());
        let layers = decode_tile(&bytes).expect("decodes");
        assert_eq!(layers.len(), 1);
        let f = &layers[0].features[0];
        assert_eq!(f.id, Some(7));
        assert_eq!(f.properties.len(), 3);
        assert!(f.properties.contains(&("n".to_string(), Value::Int(-3))));
        let DecodedGeometry::Polygons(polys) = &f.geometry else {
            panic!("not a polygon: {:?}", f.geometry)
        };
        assert_eq!(polys.len(), 1);
        assert_eq!(polys[0].len(), 2);
        assert_eq!(
            polys[0][0],
            vec![(100, 100), (1100, 100), (1100, 1100), (100, 1100)]
        );
        assert_eq!(ring_area2(&polys[0][1]), -2 * 200 * 200);
    }

    #[test]
    fn clipped_and_degenerate_features() {
        let t = tile();
        let c = |x, y| lonlat_of_px(t, x, y);
        let big = Rect::new(c(-1000.0, -1000.0), c(5000.0, 5000.0)).to_polygon();
        let tiny = Rect::new(c(10.0, 10.0), c(10.2, 10.2)).to_polygon();
        let line = LineString::from(vec![c(-500.0, 2000.0), c(4500.0, 2000.0)]);
        let mut layer = Layer::new("l");
        for (i, g) in [Geometry::from(big), tiny.into(), line.into()]
            .into_iter()
            .enumerate()
        {
            layer.features.push(Feature {
                id: Some(i as u64),
                geometry: g,
                properties: vec![],
            });
        }
        let layers =
            decode_tile(&encode_tile(t, &[layer], &EncodeOptions::default())).expect("decodes");
        let fs = &layers[0].features;
        assert_eq!(fs.len(), 2, "tiny polygon collapses");
        let DecodedGeometry::Polygons(p) = &fs[0].geometry else {
            panic!("polygon expected")
        };
        assert_eq!(p[0][0].len(), 4);
        assert!(p[0][0]
            .iter()
            .all(|&(x, y)| x == -64 || x == 4160 || y == -64 || y == 4160));
        let DecodedGeometry::Lines(l) = &fs[1].geometry else {
            panic!("line expected")
        };
        assert_eq!(l[0], vec![(-64, 2000), (4160, 2000)]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let t = TileId::new(24, 0, 0).expect("valid");
        let mut layer = Layer::new("x");
        layer.extent = u32::MAX;
        for g in [
            Geometry::from(point!(x: f64::NAN, y: 1.0)),
            LineString::from(vec![(f64::INFINITY, 0.0), (0.0, f64::NAN)]).into(),
            polygon![(x: -180.0, y: 90.0), (x: 180.0, y: 90.0), (x: 0.0, y: -90.0)].into(),
            Geometry::GeometryCollection(geo::GeometryCollection(vec![])),
        ] {
            layer.features.push(Feature {
                id: None,
                geometry: g,
                properties: vec![("k".into(), Value::Double(f64::NAN))],
            });
        }
        let opts = EncodeOptions {
            buffer: u32::MAX,
            simplify_tolerance: f64::NAN,
        };
        let bytes = encode_tile(t, &[layer], &opts);
        decode_tile(&bytes).expect("still valid protobuf");
    }
}
