//! Partition checks: do the children of a community or first-level grid cover it with no
//! gap and no overlap beyond a tolerance? Overlay work is done in a local metric
//! projection so that areas are in square metres and the tolerance means what it says.
//! Each overlay is a sweep (`geo`'s boolean operations), O(n log n) in its positions; the
//! check looks at the work's deadline between overlays.

use super::geodesy::LocalProjection;
use crate::work::{checkpoint, Expired};
use geo::{Area, BooleanOps, MultiPolygon};
use serde::Serialize;

/// One piece of a failed partition: a gap, an overlap between two children, or a part of a
/// child outside the parent.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// `gap`, `overlap` or `outside`.
    pub kind: &'static str,
    /// Indexes of the children involved (none for a gap, two for an overlap).
    pub children: Vec<usize>,
    /// Area in square metres.
    pub area_m2: f64,
    /// The offending area in lon/lat.
    #[serde(skip)]
    pub geometry: MultiPolygon<f64>,
}

/// The result of checking that children partition their parent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PartitionReport {
    /// Total area of the parent not covered by any child, m².
    pub gap_m2: f64,
    /// Total area covered by two children at once, m².
    pub overlap_m2: f64,
    /// Total area of children outside the parent, m².
    pub outside_m2: f64,
    /// The pieces, largest first.
    pub faults: Vec<Fault>,
}

impl PartitionReport {
    /// Whether every kind of fault stays within the tolerance (m², per kind, summed).
    pub fn is_within(&self, tolerance_m2: f64) -> bool {
        self.gap_m2 <= tolerance_m2
            && self.overlap_m2 <= tolerance_m2
            && self.outside_m2 <= tolerance_m2
    }
}

/// Pieces smaller than this (m²) are floating-point noise of the overlay and not reported.
const NOISE_M2: f64 = 1e-6;

/// Checks that `children` partition `parent`; stops with [`Expired`] when the work's
/// deadline passes.
pub fn check_partition(
    parent: &MultiPolygon<f64>,
    children: &[MultiPolygon<f64>],
) -> Result<PartitionReport, Expired> {
    let proj = LocalProjection::around(parent);
    let parent_m = proj.project_shape(parent);
    let kids: Vec<MultiPolygon<f64>> = children.iter().map(|c| proj.project_shape(c)).collect();
    let mut report = PartitionReport::default();
    let mut push = |kind: &'static str, children: Vec<usize>, piece: MultiPolygon<f64>| {
        let area = piece.unsigned_area();
        if area > NOISE_M2 {
            match kind {
                "gap" => report.gap_m2 += area,
                "overlap" => report.overlap_m2 += area,
                _ => report.outside_m2 += area,
            }
            report.faults.push(Fault {
                kind,
                children,
                area_m2: area,
                geometry: proj.unproject_shape(&piece),
            });
        }
    };

    checkpoint()?;
    let union = geo::unary_union(kids.iter());
    checkpoint()?;
    for piece in parent_m.difference(&union) {
        push("gap", vec![], MultiPolygon(vec![piece]));
    }
    for (i, k) in kids.iter().enumerate() {
        checkpoint()?;
        let out = k.difference(&parent_m);
        if !out.0.is_empty() {
            push("outside", vec![i], out);
        }
    }
    let boxes: Vec<_> = kids.iter().map(geo::BoundingRect::bounding_rect).collect();
    for i in 0..kids.len() {
        checkpoint()?;
        for j in i + 1..kids.len() {
            let (Some(a), Some(b)) = (boxes[i], boxes[j]) else {
                continue;
            };
            if a.max().x < b.min().x
                || b.max().x < a.min().x
                || a.max().y < b.min().y
                || b.max().y < a.min().y
            {
                continue;
            }
            let inter = kids[i].intersection(&kids[j]);
            if !inter.0.is_empty() {
                push("overlap", vec![i, j], inter);
            }
        }
    }
    report
        .faults
        .sort_by(|a, b| b.area_m2.total_cmp(&a.area_m2));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]
            .into()
    }

    /// The check of a parent rectangle split into a left child reaching `x1`, `y1` (the
    /// exact left half reaches 105.71, 32.41) and the exact right half.
    fn with_left(x1: f64, y1: f64) -> PartitionReport {
        let parent = rect(105.70, 32.40, 105.72, 32.41);
        let kids = [
            rect(105.70, 32.40, x1, y1),
            rect(105.71, 32.40, 105.72, 32.41),
        ];
        check_partition(&parent, &kids).expect("no deadline")
    }

    #[test]
    fn exact_halves_partition_their_parent() {
        let r = with_left(105.71, 32.41);
        assert!(r.is_within(1e-3), "{r:?}");
        assert!(r.faults.is_empty());
    }

    #[test]
    fn a_gap_is_measured_and_located() {
        // A strip of 0.0001° (about 9.4 m) by 0.01° (about 1,109 m) is left uncovered.
        let r = with_left(105.7099, 32.41);
        assert!(!r.is_within(1.0));
        assert!((r.gap_m2 - 10_400.0).abs() < 300.0, "{}", r.gap_m2);
        assert_eq!(r.faults[0].kind, "gap");
        let b = geo::BoundingRect::bounding_rect(&r.faults[0].geometry).expect("gap has a box");
        assert!((b.min().x - 105.7099).abs() < 1e-9 && (b.max().x - 105.71).abs() < 1e-9);
    }

    #[test]
    fn an_overlap_names_both_children() {
        let r = with_left(105.7101, 32.41);
        assert_eq!(r.faults[0].kind, "overlap");
        assert_eq!(r.faults[0].children, vec![0, 1]);
        assert!(r.gap_m2 < 1e-3);
    }

    #[test]
    fn a_sliver_within_tolerance_passes() {
        // 1e-9° wide: about 0.1 mm × 1.1 km ≈ 0.1 m².
        let r = with_left(105.709_999_999, 32.41);
        assert!(r.gap_m2 > 0.0 && r.is_within(1.0), "{r:?}");
    }

    #[test]
    fn a_child_sticking_out_is_reported() {
        let r = with_left(105.71, 32.411);
        assert!(r.outside_m2 > 900.0);
        assert!(!r.is_within(1.0));
    }
}
