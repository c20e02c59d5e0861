//! Conversion between the coordinate systems phones in China report and WGS 84, which is
//! what wangge stores. GCJ-02 (国测局, used by AMap/Tencent and Google's China tiles) shifts
//! WGS 84 by a published obfuscation polynomial of up to several hundred metres; BD-09
//! (Baidu) adds a further rotation and offset to GCJ-02. Outside China's bounding box the
//! three are the same.
//!
//! The forward formulas are the de-facto standard ones (the same constants every SDK
//! and open re-implementation uses). The inverses have no closed form: they are solved by
//! fixed-point iteration to below a micrometre, so that a point converted to WGS 84 and
//! back lands where it started.
//!
//! Must not: guess the system of a coordinate. The client says which one it sends.

use crate::domain::patrol::Crs;
use geo::Coord;
use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid that GCJ-02 is defined on.
const A: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const EE: f64 = 0.006_693_421_622_965_943;
/// BD-09's angle scale.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Stop iterating an inverse when the step is below this many degrees (≈ 0.01 mm).
const EPS: f64 = 1e-10;

/// Converts a lon/lat pair sent in `crs` to WGS 84.
pub fn to_wgs84(crs: Crs, c: Coord<f64>) -> Coord<f64> {
    match crs {
        Crs::Wgs84 => c,
        Crs::Gcj02 => gcj02_to_wgs84(c),
        Crs::Bd09 => bd09_to_wgs84(c),
    }
}

/// Converts a WGS 84 lon/lat pair to `crs`.
pub fn from_wgs84(crs: Crs, c: Coord<f64>) -> Coord<f64> {
    match crs {
        Crs::Wgs84 => c,
        Crs::Gcj02 => wgs84_to_gcj02(c),
        Crs::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(c)),
    }
}

/// Whether GCJ-02 leaves a point alone: outside the rough box around China.
pub fn out_of_china(c: Coord<f64>) -> bool {
    !(72.004..=137.8347).contains(&c.x) || !(0.8293..=55.8271).contains(&c.y)
}

fn shift_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn shift_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS 84 → GCJ-02.
pub fn wgs84_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    if out_of_china(c) {
        return c;
    }
    let dlat = shift_lat(c.x - 105.0, c.y - 35.0);
    let dlon = shift_lon(c.x - 105.0, c.y - 35.0);
    let rad = c.y / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = dlat * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = dlon * 180.0 / (A / sqrt_magic * rad.cos() * PI);
    Coord {
        x: c.x + dlon,
        y: c.y + dlat,
    }
}

/// Solves `forward(w) = target` for `w`, starting from `start`. The shifts vary slowly
/// (their derivative is far below 1), so plain fixed-point steps converge in a few rounds.
fn invert(
    target: Coord<f64>,
    start: Coord<f64>,
    forward: impl Fn(Coord<f64>) -> Coord<f64>,
) -> Coord<f64> {
    let mut w = start;
    for _ in 0..30 {
        let f = forward(w);
        let d = Coord {
            x: f.x - target.x,
            y: f.y - target.y,
        };
        w = Coord {
            x: w.x - d.x,
            y: w.y - d.y,
        };
        if d.x.abs() < EPS && d.y.abs() < EPS {
            break;
        }
    }
    w
}

/// GCJ-02 → WGS 84, to better than a millimetre.
pub fn gcj02_to_wgs84(c: Coord<f64>) -> Coord<f64> {
    if out_of_china(c) {
        return c;
    }
    invert(c, c, wgs84_to_gcj02)
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(c: Coord<f64>) -> Coord<f64> {
    let (x, y) = (c.x, c.y);
    let z = (x * x + y * y).sqrt() + 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000_003 * (x * X_PI).cos();
    Coord {
        x: z * theta.cos() + 0.0065,
        y: z * theta.sin() + 0.006,
    }
}

/// BD-09 → GCJ-02: Baidu's published approximate inverse, refined to the exact one.
pub fn bd09_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    let (x, y) = (c.x - 0.0065, c.y - 0.006);
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * X_PI).cos();
    let approx = Coord {
        x: z * theta.cos(),
        y: z * theta.sin(),
    };
    invert(c, approx, gcj02_to_bd09)
}

/// BD-09 → WGS 84.
pub fn bd09_to_wgs84(c: Coord<f64>) -> Coord<f64> {
    gcj02_to_wgs84(bd09_to_gcj02(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::geodesy::distance_m;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    /// A published pair of positions: the input's lon and lat, then the output's.
    type Pair = [f64; 4];

    /// Asserts that `conv` takes each input of `pairs` within `tol` metres of its published
    /// output; returns each input with what `conv` made of it.
    fn near_published(
        what: &str,
        pairs: &[Pair],
        conv: fn(Coord<f64>) -> Coord<f64>,
        tol: f64,
    ) -> Vec<(Coord<f64>, Coord<f64>)> {
        let mut out = Vec::new();
        for &[x, y, gx, gy] in pairs {
            let got = conv(c(x, y));
            let err = distance_m(got, c(gx, gy));
            assert!(err < tol, "{what} of ({x}, {y}): {got:?} is {err} m off");
            out.push((c(x, y), got));
        }
        out
    }

    /// Forward conversions published with the open implementations every Chinese map
    /// client copies (wandergis/coordtransform and its ports, googollee/eviltransform's
    /// WGS-84 → GCJ-02 tests). eviltransform's BD-09 vectors are left out: they follow
    /// another BD-09 variant and differ from these by about 10 m.
    #[test]
    fn forward_pairs_match_published_values() {
        let wgs_to_gcj = [
            [116.404, 39.915, 116.41024449916938, 39.91640428150164],
            // eviltransform: Shanghai, Shenzhen, Beijing.
            [121.5272106, 31.1774276, 121.531541859215, 31.17530398364597],
            [113.912316, 22.543847, 113.9171764808363, 22.540796131694766],
            [116.377817, 39.911954, 116.38404722455657, 39.91334545536069],
        ];
        near_published("wgs84→gcj02", &wgs_to_gcj, wgs84_to_gcj02, 0.01);
        let got = gcj02_to_bd09(c(116.404, 39.915));
        assert!(distance_m(got, c(116.41036949371029, 39.92133699351021)) < 0.01);
        // Baidu's own approximate inverse gives these; the exact one is within a decimetre.
        let bd_to_gcj = [
            [116.404, 39.915, 116.39762729119315, 39.90865673957631],
            [
                118.76519558159015,
                30.946576225978003,
                118.75866025417945,
                30.940779294367676,
            ],
            [
                114.06611219325782,
                22.548514883102943,
                114.05956013578918,
                22.542860065931386,
            ],
        ];
        for (from, got) in near_published("bd09→gcj02", &bd_to_gcj, bd09_to_gcj02, 0.1) {
            assert!(distance_m(gcj02_to_bd09(got), from) < 1e-3, "round trip");
        }
    }

    /// Inverse pairs published by the same projects use a one-step approximation accurate
    /// to a metre or two; the exact inverse must agree with them to that and map back
    /// onto its input to well under a millimetre.
    #[test]
    fn inverse_pairs_agree_and_round_trip() {
        // The Gate of Heavenly Peace (天安门) as commonly quoted, rounded to a few metres.
        let gcj_to_wgs = [
            (
                (116.404, 39.915),
                (116.39775550083061, 39.91359571849836),
                2.0,
            ),
            ((116.397519, 39.907599), (116.391275, 39.906217), 3.0),
        ];
        for ((x, y), (wx, wy), within) in gcj_to_wgs {
            let got = gcj02_to_wgs84(c(x, y));
            let err = distance_m(got, c(wx, wy));
            assert!(err < within, "gcj02→wgs84 of ({x}, {y}) is {err} m off");
            let back = wgs84_to_gcj02(got);
            assert!(distance_m(back, c(x, y)) < 1e-3, "round trip");
        }
        // BD-09 → WGS 84 as the same one-step approximation gives it (geocraft's tests).
        let bd_to_wgs = [((116.404, 39.915), (116.3913836995125, 39.907253214522164))];
        for ((x, y), (wx, wy)) in bd_to_wgs {
            let got = bd09_to_wgs84(c(x, y));
            let err = distance_m(got, c(wx, wy));
            assert!(err < 2.0, "bd09→wgs84 of ({x}, {y}) is {err} m off");
            let back = from_wgs84(Crs::Bd09, got);
            assert!(distance_m(back, c(x, y)) < 1e-3, "round trip");
        }
    }

    #[test]
    fn round_trips_over_the_country_and_leaves_the_rest_alone() {
        for i in 0..40 {
            for j in 0..40 {
                let p = c(73.0 + f64::from(i) * 1.6, 18.0 + f64::from(j) * 0.9);
                for crs in [Crs::Gcj02, Crs::Bd09] {
                    let there = from_wgs84(crs, p);
                    let back = to_wgs84(crs, there);
                    assert!(
                        distance_m(p, back) < 1e-3,
                        "{crs:?} round trip at {p:?}: {back:?}"
                    );
                }
            }
        }
        // The offset near Guangyuan is a few hundred metres, as phones show it.
        let guangyuan = c(105.70, 32.40);
        let d = distance_m(guangyuan, wgs84_to_gcj02(guangyuan));
        assert!((100.0..800.0).contains(&d), "offset {d} m");
        let tokyo = c(139.69, 35.69);
        assert_eq!(wgs84_to_gcj02(tokyo), tokyo);
        assert_eq!(to_wgs84(Crs::Gcj02, tokyo), tokyo);
    }
}
