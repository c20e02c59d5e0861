//! Walking accessibility on a [`Network`]: multi-source Dijkstra with a cutoff, distances
//! from snapped sources to snapped targets (buildings), and coverage per station kind.
//!
//! Owns the distance rules: a source or target reaches the network by its straight access
//! leg to its snapped point, then walks along edges; a target on the same edge as a source
//! may also walk directly along that edge. Owns no geometry construction (see
//! `spatial::isochrone`) and no storage. Grid aggregation is the caller's: a
//! [`CoverageReport`] gives per-building answers and totals over any subset.
//!
//! This file holds the walking settings (GB 50180's life circles); the search is in
//! `dijkstra`, the targets on edges in `targets`, the answers in `report` and the engine
//! that ties them together in `engine`.

mod dijkstra;
mod engine;
mod report;
mod targets;
#[cfg(test)]
mod tests;

pub(crate) use dijkstra::{search, BucketQueue};
pub use dijkstra::{snap_seeds, Dijkstra, Seed};
pub use engine::Accessibility;
pub use report::{Building, BuildingRows, CoverageReport, CoverageTotals, KindSelection, Station};
pub use targets::TargetIndex;

#[cfg(doc)]
use crate::spatial::network::Network;

/// Walking distances (metres) for GB 50180-2018's life circles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeCircle {
    /// Five-minute circle: 300 m.
    FiveMinute,
    /// Ten-minute circle: 500 m.
    TenMinute,
    /// Fifteen-minute circle: 1,000 m (the standard's upper bound of 800-1,000 m).
    FifteenMinute,
}

impl LifeCircle {
    /// Walking minutes of the circle.
    pub fn minutes(self) -> f64 {
        match self {
            Self::FiveMinute => 5.0,
            Self::TenMinute => 10.0,
            Self::FifteenMinute => 15.0,
        }
    }
    /// Walking distance of the circle in metres.
    pub fn distance_m(self) -> f64 {
        match self {
            Self::FiveMinute => 300.0,
            Self::TenMinute => 500.0,
            Self::FifteenMinute => 1000.0,
        }
    }
}

/// Walking time setting: minutes at a walking speed; gives the cutoff in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalkSetting {
    /// Minutes on foot.
    pub minutes: f64,
    /// Walking speed in metres per minute (published practice: about 50-80).
    pub speed_m_per_min: f64,
}

impl WalkSetting {
    /// The default: ten minutes at GB 50180's 500 m (50 m/min).
    pub const DEFAULT: WalkSetting = WalkSetting {
        minutes: 10.0,
        speed_m_per_min: 50.0,
    };

    /// A GB 50180 preset: 5/10/15 minutes ↔ 300/500/1,000 m.
    pub fn preset(circle: LifeCircle) -> Self {
        Self {
            minutes: circle.minutes(),
            speed_m_per_min: circle.distance_m() / circle.minutes(),
        }
    }
    /// Cutoff in metres (minutes × speed, rounded to the micrometre so that presets give
    /// exactly 300/500/1,000 m).
    pub fn cutoff_m(&self) -> f64 {
        (self.minutes * self.speed_m_per_min * 1e6).round() / 1e6
    }
    /// Minutes needed to walk `metres` at this speed.
    pub fn minutes_for(&self, metres: f64) -> f64 {
        metres / self.speed_m_per_min
    }
}
