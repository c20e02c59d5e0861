//! The protobuf and MVT wire primitives: rounding and quantizing to tile pixels, ring area,
//! command and zigzag encoding, and varints.

use super::super::clip::Pt;

/// Rounds half away from zero, like `f64::round`, without the libm call that baseline
/// x86-64 makes for it. `as` saturates, and the clip rectangle keeps values far inside
/// `i32` anyway.
#[inline]
pub(super) fn round_i32(v: f64) -> i32 {
    if v >= 0.0 {
        (v + 0.5) as i32
    } else {
        (v - 0.5) as i32
    }
}

#[inline]
pub(super) fn quantize(p: Pt) -> (i32, i32) {
    (round_i32(p.0), round_i32(p.1))
}

pub(super) fn quantize_dedup(pts: &[Pt], out: &mut Vec<(i32, i32)>) {
    out.clear();
    for &p in pts {
        let q = quantize(p);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
}

/// Twice the surveyor's-formula area of a ring in tile coordinates.
pub(super) fn ring_area2(r: &[(i32, i32)]) -> i64 {
    let mut s: i64 = 0;
    let mut prev = r[r.len() - 1];
    for &p in r {
        s += i64::from(prev.0) * i64::from(p.1) - i64::from(p.0) * i64::from(prev.1);
        prev = p;
    }
    s
}

#[inline]
pub(super) fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

#[inline]
pub(super) fn zigzag(n: i32) -> u32 {
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
