//! Encoding one layer: projecting features into tile pixels, clipping, simplifying,
//! quantizing and winding, then writing the features and the layer's key and value tables.

use geo::{Coord, LineString};

use super::super::clip::{self, ClipRect, Pt};
use super::super::prepare::{
    collect_lines, collect_points, collect_polygons, max_dim, Kind, Prepared,
};
use super::super::tilemath::{lonlat_to_world, TileId};
use super::tags::{value_key, write_value, FxMap, TagTables, ValueKey, ValueOut};
use super::wire::{command, put_varint, quantize, quantize_dedup, ring_area2, varint_len, zigzag};
use super::{EncodeOptions, Feature, GeomType, Scratch, MAX_EXTENT};

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
                for c in &prepared.coords {
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
            for part in &mut parts {
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
