//! The ten-minute service circle over the live registry: the walking network of the
//! current snapshot with every building and station snapped to it once, rebuilt only when
//! the network, the buildings or the stations change. Queries (coverage, what-if
//! scenarios, isochrones, siting) run on a fresh `Accessibility` engine over the cached
//! snaps, so they share nothing mutable and need no lock.
//!
//! Buildings and stations snap to the largest connected piece of the network, where every
//! walk can reach every other; a building away from every street is still served by its
//! straight access leg to the nearest street of that piece.

use crate::domain::StationKind;
use crate::spatial::access::{self, Accessibility, CoverageReport, KindSelection, WalkSetting};
use crate::spatial::index::Snapshot;
use crate::spatial::network::{Network, Snap};
use geo::Coord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A station as the engine sees it.
#[derive(Debug, Clone)]
pub struct SnappedStation {
    /// Station id (0 for a what-if station that does not exist yet).
    pub id: i64,
    /// Station code.
    pub code: String,
    /// Kind.
    pub kind: StationKind,
    /// Location.
    pub point: Coord<f64>,
    /// Where it joins the network.
    pub snap: Snap,
}

/// The engine's inputs at one snapshot.
pub struct CoverageModel {
    /// The snapshot sequence number the model was built from.
    pub seq: i64,
    /// The walking network.
    pub net: Arc<Network>,
    /// Buildings in row order, with their snaps.
    pub buildings: Vec<access::Building>,
    /// Row of each building id.
    pub rows: HashMap<i64, usize>,
    /// Stations with their snaps.
    pub stations: Vec<SnappedStation>,
    parts: [usize; 3],
}

impl std::fmt::Debug for CoverageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CoverageModel(seq {}, {} buildings, {} stations)",
            self.seq,
            self.buildings.len(),
            self.stations.len()
        )
    }
}

fn parts(s: &Snapshot) -> [usize; 3] {
    [
        s.network.as_ref().map_or(0, |n| Arc::as_ptr(n) as usize),
        Arc::as_ptr(&s.buildings) as usize,
        Arc::as_ptr(&s.stations) as usize,
    ]
}

impl CoverageModel {
    /// Snaps every building and station of a snapshot to its network; `None` without one.
    pub fn build(snap: &Snapshot) -> Option<Self> {
        let net = Arc::clone(snap.network.as_ref()?);
        let main = |e| net.edge_component(e) == 0;
        let mut buildings = Vec::with_capacity(snap.buildings.items.len());
        let mut rows = HashMap::with_capacity(snap.buildings.items.len());
        for b in &snap.buildings.items {
            if let Some(s) = net.snap_where(b.anchor.0, main) {
                rows.insert(b.id, buildings.len());
                buildings.push(access::Building {
                    id: b.id,
                    residents: b.residents.max(0) as u32,
                    households: b.households.max(0) as u32,
                    snap: s,
                });
            }
        }
        let stations = snap
            .stations
            .items
            .iter()
            .filter_map(|s| {
                net.snap_where(s.point.0, main).map(|sn| SnappedStation {
                    id: s.id,
                    code: s.code.clone(),
                    kind: s.kind,
                    point: s.point.0,
                    snap: sn,
                })
            })
            .collect();
        Some(Self {
            seq: snap.seq,
            parts: parts(snap),
            net,
            buildings,
            rows,
            stations,
        })
    }

    /// A fresh engine over the buildings.
    pub fn engine(&self) -> Accessibility<'_> {
        Accessibility::new(&self.net, &self.buildings)
    }

    /// Snaps a point to the network (as stations are snapped).
    pub fn snap(&self, p: Coord<f64>) -> Option<Snap> {
        self.net.snap_where(p, |e| self.net.edge_component(e) == 0)
    }

    /// Coverage of the given stations for the kinds of a selection.
    pub fn coverage(
        &self,
        stations: &[SnappedStation],
        sel: &KindSelection,
        cutoff_m: f64,
    ) -> CoverageReport {
        let kinds: Vec<String> = match sel {
            KindSelection::AnyOf(k) | KindSelection::AllOf(k) => k.clone(),
        };
        let sources: Vec<access::Station> = stations
            .iter()
            .map(|s| access::Station {
                id: s.id,
                kind: s.kind.as_str().to_string(),
                snap: s.snap,
            })
            .collect();
        self.engine().coverage_for_kinds(&sources, &kinds, cutoff_m)
    }
}

/// Keeps one model in step with the registry.
#[derive(Default)]
pub struct CoverageService {
    current: Mutex<Option<Arc<CoverageModel>>>,
}

impl std::fmt::Debug for CoverageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoverageService")
    }
}

impl CoverageService {
    /// The model for a snapshot: the cached one if the network, buildings and stations are
    /// the same, else a new one. `None` when no walking network is stored.
    pub fn model(&self, snap: &Snapshot) -> Option<Arc<CoverageModel>> {
        let want = parts(snap);
        let mut cur = self.current.lock().ok()?;
        if let Some(m) = cur.as_ref() {
            if m.parts == want {
                return Some(Arc::clone(m));
            }
        }
        let m = Arc::new(CoverageModel::build(snap)?);
        *cur = Some(Arc::clone(&m));
        Some(m)
    }
}

/// The walking setting for minutes and an optional speed: GB 50180's presets for 5, 10 and
/// 15 minutes without a speed (300, 500, 1,000 m), else minutes × speed (default 50 m/min).
pub fn walk_setting(minutes: Option<f64>, speed: Option<f64>) -> WalkSetting {
    let minutes = minutes.unwrap_or(10.0);
    match speed {
        Some(s) => WalkSetting {
            minutes,
            speed_m_per_min: s,
        },
        None => {
            let preset = [5.0, 10.0, 15.0]
                .iter()
                .zip([300.0, 500.0, 1000.0])
                .find(|(m, _)| (**m - minutes).abs() < 1e-9)
                .map(|(_, d)| d / minutes);
            WalkSetting {
                minutes,
                speed_m_per_min: preset.unwrap_or(WalkSetting::DEFAULT.speed_m_per_min),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_gb_50180() {
        assert_eq!(walk_setting(Some(5.0), None).cutoff_m(), 300.0);
        assert_eq!(walk_setting(Some(10.0), None).cutoff_m(), 500.0);
        assert_eq!(walk_setting(None, None).cutoff_m(), 500.0);
        assert_eq!(walk_setting(Some(15.0), None).cutoff_m(), 1000.0);
        assert_eq!(walk_setting(Some(12.0), None).cutoff_m(), 600.0);
        assert_eq!(walk_setting(Some(10.0), Some(80.0)).cutoff_m(), 800.0);
    }
}
