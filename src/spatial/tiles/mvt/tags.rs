//! Attribute tables: each distinct key and value stored once (values already in protobuf
//! form), a fast hasher for the per-tile tables, and the protobuf encoding of a value.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::wire::put_varint;
use super::Value;

/// Multiply-rotate hasher (as in rustc's FxHash) for the per-tile key and value tables:
/// their contents come from our own data, not from clients, so SipHash's flooding
/// resistance buys nothing there, and it was the largest single cost after geometry in
/// a profile of cold rendering.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

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

pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Attribute tables shared by a whole source: each distinct key and value once, values
/// already in protobuf form, so per-tile encoding only renumbers them.
#[derive(Debug, Default, Clone)]
pub(crate) struct TagTables {
    pub(super) keys: Vec<Box<str>>,
    pub(super) values: Vec<Box<[u8]>>,
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
            let ki = intern_in(&mut self.keys, &mut self.key_ix, k.as_str());
            let vi = intern_in(&mut self.values, &mut self.val_ix, buf.as_slice());
            out.push(ki);
            out.push(vi);
        }
        out.into_boxed_slice()
    }
}

/// The id of `x` in a table (its position in `list`), added when it is new.
fn intern_in<T: ?Sized + Eq + Hash>(
    list: &mut Vec<Box<T>>,
    ix: &mut HashMap<Box<T>, u32>,
    x: &T,
) -> u32
where
    for<'a> Box<T>: From<&'a T>,
{
    if let Some(&i) = ix.get(x) {
        return i;
    }
    let i = list.len() as u32;
    list.push(x.into());
    ix.insert(x.into(), i);
    i
}

#[derive(Hash, PartialEq, Eq)]
pub(super) enum ValueKey<'a> {
    S(&'a str),
    I(i64),
    U(u64),
    D(u64),
    F(u32),
    B(bool),
}

/// A value of the layer's value table: borrowed from a feature or pre-encoded.
pub(super) enum ValueOut<'a> {
    Value(&'a Value),
    Encoded(&'a [u8]),
}

pub(super) fn value_key(v: &Value) -> Option<ValueKey<'_>> {
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

pub(super) fn write_value(v: &Value, out: &mut Vec<u8>) {
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
