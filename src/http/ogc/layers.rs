//! The collections of the OGC routes and their features as one caller may see them: the
//! same visibility and properties as the JSON list routes, read from the in-process index
//! (incidents, patrol tracks and the facts of party cells, which the index does not hold,
//! from the store, bounded as their list routes bound them).

use crate::domain::access::{allows, Action, Area, Caller, Visibility};
use crate::domain::registry::Grid;
use crate::domain::GridLevel;
use crate::http::error::ApiResult;
use crate::http::registry::{self, GridView};
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use chrono::{DateTime, Utc};
use geo::{Geometry, Intersects, Rect};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A collection of the OGC routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Communities (社区).
    Communities,
    /// First-level grids.
    Grids1,
    /// Second-level grids.
    Grids2,
    /// Buildings.
    Buildings,
    /// Service stations.
    Stations,
    /// Incidents found on patrol.
    Incidents,
    /// Streets of the walking network.
    Streets,
    /// Grids as party cells.
    PartyCells,
    /// The tracks of the week's patrols.
    PatrolTracks,
    /// Compounds (小区) with a drawn area.
    Compounds,
}

/// The JSON type of a queryable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// An integer.
    Integer,
    /// A number.
    Number,
}

impl Kind {
    /// Its JSON Schema type.
    pub fn schema_type(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
        }
    }
}

const GRID_PROPS: &[(&str, Kind)] = &[
    ("id", Kind::Integer),
    ("code", Kind::Text),
    ("name", Kind::Text),
    ("level", Kind::Integer),
    ("parent_code", Kind::Text),
    ("community_code", Kind::Text),
    ("version", Kind::Integer),
    ("households", Kind::Integer),
    ("residents", Kind::Integer),
    ("party_members", Kind::Integer),
    ("buildings", Kind::Integer),
    ("chief", Kind::Text),
];

impl Layer {
    /// Every collection, in the order the collections list gives them.
    pub const ALL: [Layer; 10] = [
        Layer::Communities,
        Layer::Grids1,
        Layer::Grids2,
        Layer::Compounds,
        Layer::Buildings,
        Layer::Stations,
        Layer::Incidents,
        Layer::Streets,
        Layer::PartyCells,
        Layer::PatrolTracks,
    ];

    /// Its id in paths.
    pub fn id(self) -> &'static str {
        match self {
            Layer::Communities => "communities",
            Layer::Grids1 => "grids1",
            Layer::Grids2 => "grids2",
            Layer::Buildings => "buildings",
            Layer::Stations => "stations",
            Layer::Incidents => "incidents",
            Layer::Streets => "streets",
            Layer::PartyCells => "party_cells",
            Layer::PatrolTracks => "patrol_tracks",
            Layer::Compounds => "compounds",
        }
    }

    /// The collection with this id.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.id() == id)
    }

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Layer::Communities => "Communities (社区)",
            Layer::Grids1 => "First-level grids (一级网格)",
            Layer::Grids2 => "Second-level grids (二级网格)",
            Layer::Buildings => "Buildings (楼栋)",
            Layer::Stations => "Service stations (服务站点)",
            Layer::Incidents => "Incidents found on patrol (巡查事件)",
            Layer::Streets => "Streets (街巷)",
            Layer::PartyCells => "Party cells (党建网格)",
            Layer::PatrolTracks => "Patrol tracks of this week (巡查轨迹)",
            Layer::Compounds => "Compounds (小区)",
        }
    }

    /// Whether features have a history that `datetime` can ask about.
    pub fn has_history(self) -> bool {
        matches!(self, Layer::Grids1 | Layer::Grids2)
    }

    /// The JSON Schema format of its features' geometry (queryables).
    pub fn geometry_format(self) -> &'static str {
        match self {
            Layer::Stations | Layer::Incidents => "geometry-point",
            Layer::Streets | Layer::PatrolTracks => "geometry-linestring",
            _ => "geometry-multipolygon",
        }
    }

    /// The area of the access table its JSON list route (for streets, its tile route)
    /// reads.
    fn area(self) -> Area {
        match self {
            Layer::Communities
            | Layer::Grids1
            | Layer::Grids2
            | Layer::Buildings
            | Layer::Streets
            | Layer::Compounds => Area::Map,
            Layer::Stations => Area::Stations,
            Layer::Incidents => Area::Incidents,
            Layer::PartyCells => Area::Party,
            Layer::PatrolTracks => Area::Patrols,
        }
    }

    /// Whether the caller's role reads this collection at all.
    pub fn readable(self, caller: &Caller) -> bool {
        allows(caller.role, self.area(), Action::Read)
    }

    /// Its queryable properties (`geometry` aside) and their types: those the JSON list
    /// route's features may carry.
    pub fn queryables(self) -> &'static [(&'static str, Kind)] {
        match self {
            Layer::Communities => &[
                ("id", Kind::Integer),
                ("code", Kind::Text),
                ("name", Kind::Text),
                ("households", Kind::Integer),
                ("residents", Kind::Integer),
                ("buildings", Kind::Integer),
                ("grids", Kind::Integer),
                ("party_members", Kind::Integer),
            ],
            Layer::Grids1 | Layer::Grids2 => GRID_PROPS,
            Layer::Buildings => &[
                ("id", Kind::Integer),
                ("code", Kind::Text),
                ("name", Kind::Text),
                ("address", Kind::Text),
                ("grid_code", Kind::Text),
                ("compound_code", Kind::Text),
                ("compound_name", Kind::Text),
                ("households", Kind::Integer),
                ("residents", Kind::Integer),
                ("employees", Kind::Integer),
                ("party_members", Kind::Integer),
            ],
            Layer::Stations => &[
                ("id", Kind::Integer),
                ("code", Kind::Text),
                ("name", Kind::Text),
                ("kind", Kind::Text),
                ("kind_name", Kind::Text),
                ("programmes", Kind::Integer),
                ("community_code", Kind::Text),
            ],
            Layer::Incidents => &[
                ("id", Kind::Text),
                ("grid", Kind::Text),
                ("community", Kind::Text),
                ("category", Kind::Text),
                ("category_label", Kind::Text),
                ("description", Kind::Text),
                ("status", Kind::Text),
                ("reported_at", Kind::Text),
                ("reported_by", Kind::Text),
                ("lon", Kind::Number),
                ("lat", Kind::Number),
            ],
            Layer::Streets => &[
                ("highway", Kind::Text),
                ("name", Kind::Text),
                ("source", Kind::Text),
            ],
            Layer::PartyCells => &[
                ("code", Kind::Text),
                ("name", Kind::Text),
                ("level", Kind::Integer),
                ("parent_code", Kind::Text),
                ("community_code", Kind::Text),
                ("org_code", Kind::Text),
                ("org_name", Kind::Text),
                ("members", Kind::Integer),
                ("full_members", Kind::Integer),
                ("probationary_members", Kind::Integer),
                ("committee_seats", Kind::Integer),
                ("chief", Kind::Text),
                ("grid_members", Kind::Integer),
                ("status", Kind::Text),
            ],
            Layer::Compounds => &[
                ("code", Kind::Text),
                ("name", Kind::Text),
                ("kind", Kind::Text),
                ("occupancy_rate", Kind::Number),
                ("built_year", Kind::Integer),
                ("community_code", Kind::Text),
            ],
            Layer::PatrolTracks => &[
                ("id", Kind::Text),
                ("account", Kind::Text),
                ("started_at", Kind::Text),
                ("ended_at", Kind::Text),
                ("crs", Kind::Text),
                ("notes", Kind::Text),
                ("points", Kind::Integer),
            ],
        }
    }

    /// The queryables a caller may filter on: without the party members for a caller who
    /// sees them nowhere (`party` false).
    pub fn queryables_for(self, party: bool) -> impl Iterator<Item = (&'static str, Kind)> {
        self.queryables()
            .iter()
            .copied()
            .filter(move |(n, _)| party || *n != "party_members")
    }

    /// Whether `name` is a queryable of the caller (or the geometry).
    pub fn knows(self, name: &str, party: bool) -> bool {
        name == "geometry" || self.queryables_for(party).any(|(n, _)| n == name)
    }
}

/// Whether the caller sees the party members of some community (else no feature of any
/// layer carries them for it), as the JSON routes' visibility decides.
pub fn sees_party(snap: &Snapshot, caller: &Caller) -> bool {
    snap.communities
        .items
        .iter()
        .any(|c| registry::community_visibility(snap, caller, c).party_aggregates())
}

/// A feature's id: a number for the index's layers, a UUID for incidents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum FeatureId {
    /// A database id.
    Number(i64),
    /// A UUID as text.
    Text(String),
}

impl FeatureId {
    /// Whether a path's `featureId` names it.
    pub fn is(&self, s: &str) -> bool {
        match self {
            FeatureId::Number(n) => s.parse::<i64>().ok() == Some(*n),
            FeatureId::Text(t) => t == s,
        }
    }
}

/// One feature, geometry in WGS 84 longitude and latitude.
#[derive(Debug, Clone)]
pub struct Feat {
    /// Its id.
    pub id: FeatureId,
    /// Its geometry.
    pub geometry: Geometry<f64>,
    /// Its properties as the JSON list route gives them to the caller.
    pub properties: Map<String, Value>,
}

/// What narrows a scan before properties are built: a box in WGS 84, one id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scan {
    /// Only features whose geometry meets this box.
    pub bbox: Option<Rect<f64>>,
    /// Only the feature with this (numeric) id.
    pub only: Option<i64>,
}

impl Scan {
    fn keeps<T: Intersects<Rect<f64>>>(&self, id: i64, g: &T) -> bool {
        self.only.is_none_or(|o| o == id) && self.bbox.is_none_or(|b| g.intersects(&b))
    }
}

/// Grids of one time, for the `datetime` of a collection with history.
pub struct PastGrids {
    /// The grids valid then.
    pub grids: Vec<Grid>,
    /// Their figures then.
    pub figures: HashMap<i64, crate::domain::registry::Figures>,
}

/// Reads what a layer needs beyond the snapshot: the grids valid at `at`, or the incidents
/// of the caller's scope.
pub async fn load(
    st: &AppState,
    caller: &Caller,
    layer: Layer,
    at: Option<DateTime<Utc>>,
) -> ApiResult<Extra> {
    Ok(match (layer, at) {
        (Layer::Grids1 | Layer::Grids2, Some(at)) => Extra::Past(PastGrids {
            grids: st.store.grids(Some(at)).await?,
            figures: st.store.grid_figures_at(at).await?,
        }),
        (Layer::Incidents, _) => {
            let rows = crate::http::incidents::list_for(
                st,
                caller,
                &crate::http::incidents::IncidentQuery::all(),
            )
            .await?;
            Extra::Features(
                rows.iter()
                    .map(|r| Feat {
                        id: FeatureId::Text(r.id.to_string()),
                        geometry: geo::Point::new(r.lon, r.lat).into(),
                        properties: object(serde_json::to_value(r).unwrap_or(Value::Null)),
                    })
                    .collect(),
            )
        }
        (Layer::PartyCells, _) => {
            let snap = st.registry.snapshot();
            let grids = crate::http::party::visible_cells(&snap, caller, None, None)?;
            let properties = crate::http::party::cell_properties(st, &snap, &grids).await?;
            Extra::Features(
                grids
                    .iter()
                    .zip(properties)
                    .map(|(g, p)| Feat {
                        id: FeatureId::Number(g.id),
                        geometry: g.geom.clone().into(),
                        properties: object(p),
                    })
                    .collect(),
            )
        }
        (Layer::Compounds, _) => {
            // A compound shows where its community does (the map's community visibility).
            let snap = st.registry.snapshot();
            let seen: Vec<i64> = snap
                .communities
                .items
                .iter()
                .filter(|c| registry::community_visibility(&snap, caller, c) != Visibility::Hidden)
                .map(|c| c.id)
                .collect();
            let mut out = Vec::new();
            for c in st.store.compound_areas(&seen).await? {
                let mut properties = Map::new();
                properties.insert("code".into(), Value::from(c.code.as_str()));
                properties.insert("name".into(), Value::from(c.name.as_str()));
                properties.insert("kind".into(), Value::from(c.kind.as_str()));
                properties.insert("occupancy_rate".into(), Value::from(c.occupancy_rate));
                properties.insert("built_year".into(), Value::from(c.built_year));
                let community = snap
                    .communities
                    .get(c.community_id)
                    .map(|x| x.code.as_str());
                properties.insert("community_code".into(), Value::from(community));
                out.push(Feat {
                    id: FeatureId::Number(c.id),
                    geometry: c.area()?.into(),
                    properties,
                });
            }
            Extra::Features(out)
        }
        (Layer::PatrolTracks, _) => {
            let q = crate::http::patrols::ReportQuery::default();
            let patrols = crate::http::patrols::listed(st, caller, &q).await?;
            Extra::Features(
                patrols
                    .into_iter()
                    .filter_map(|mut p| {
                        let track = p.track.take()?;
                        let geometry = serde_json::from_value::<geojson::Geometry>(track)
                            .ok()
                            .and_then(|g| Geometry::<f64>::try_from(g).ok())?;
                        Some(Feat {
                            id: FeatureId::Text(p.id.to_string()),
                            geometry,
                            properties: object(serde_json::to_value(&p).unwrap_or(Value::Null)),
                        })
                    })
                    .collect(),
            )
        }
        _ => Extra::None,
    })
}

/// What [`load`] read.
pub enum Extra {
    /// Nothing: the snapshot holds the layer.
    None,
    /// Grids of a past time.
    Past(PastGrids),
    /// The caller's features read from the store (incidents, party cells, patrol tracks;
    /// a patrol without a track yet is left out).
    Features(Vec<Feat>),
}

/// The layer's features the caller sees, in id order, narrowed by `scan` (CPU work: run on
/// the work pool for large layers).
pub fn features(
    snap: &Snapshot,
    caller: &Caller,
    layer: Layer,
    extra: Extra,
    scan: Scan,
) -> Result<Vec<Feat>, crate::work::Expired> {
    let mut out = match layer {
        Layer::Communities => communities(snap, caller, scan),
        Layer::Grids1 => grids(snap, caller, GridLevel::First, &extra, scan)?,
        Layer::Grids2 => grids(snap, caller, GridLevel::Second, &extra, scan)?,
        Layer::Buildings => buildings(snap, caller, scan)?,
        Layer::Stations => stations(snap, caller, scan),
        Layer::Streets => streets(snap, scan)?,
        Layer::Incidents | Layer::PartyCells | Layer::PatrolTracks | Layer::Compounds => {
            match extra {
                Extra::Features(v) => v
                    .into_iter()
                    .filter(|f| match (&f.id, scan.only) {
                        (FeatureId::Number(n), Some(o)) => *n == o,
                        _ => true,
                    })
                    .filter(|f| scan.bbox.is_none_or(|b| f.geometry.intersects(&b)))
                    .collect(),
                _ => Vec::new(),
            }
        }
    };
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn communities(snap: &Snapshot, caller: &Caller, scan: Scan) -> Vec<Feat> {
    let first_level = registry::first_level_counts(snap);
    snap.communities
        .items
        .iter()
        .filter(|c| scan.keeps(c.id, &c.geom))
        .map(|c| (c, registry::community_visibility(snap, caller, c)))
        .filter(|(_, vis)| *vis != Visibility::Hidden)
        .map(|(c, vis)| Feat {
            id: FeatureId::Number(c.id),
            geometry: c.geom.clone().into(),
            properties: object(registry::community_properties(snap, c, &first_level, vis)),
        })
        .collect()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn grids(
    snap: &Snapshot,
    caller: &Caller,
    level: GridLevel,
    extra: &Extra,
    scan: Scan,
) -> Result<Vec<Feat>, crate::work::Expired> {
    let past = match extra {
        Extra::Past(p) => Some(p),
        _ => None,
    };
    let peers: Option<HashMap<i64, &Grid>> =
        past.map(|p| p.grids.iter().map(|g| (g.id, g)).collect());
    let view = GridView {
        snap,
        caller,
        peers: peers.as_ref(),
        figures: past.map(|p| &p.figures),
    };
    let all = past.map_or(&snap.grids.items, |p| &p.grids);
    let mut out = Vec::new();
    for (i, g) in all.iter().enumerate() {
        crate::work::checkpoint_every(i, 256)?;
        if g.level != level
            || !scan.keeps(g.id, &g.geom)
            || view.visibility(g) == Visibility::Hidden
        {
            continue;
        }
        out.push(Feat {
            id: FeatureId::Number(g.id),
            geometry: g.geom.clone().into(),
            properties: view.properties(g),
        });
    }
    Ok(out)
}

fn buildings(
    snap: &Snapshot,
    caller: &Caller,
    scan: Scan,
) -> Result<Vec<Feat>, crate::work::Expired> {
    let mut out = Vec::new();
    // With a box, the R-tree gives the candidates (a city has hundreds of thousands).
    let candidates: Box<dyn Iterator<Item = &crate::domain::registry::Building>> = match scan.bbox {
        Some(r) => Box::new(snap.buildings.in_bbox(&crate::spatial::index::BBox {
            min_x: r.min().x,
            min_y: r.min().y,
            max_x: r.max().x,
            max_y: r.max().y,
        })),
        None => Box::new(snap.buildings.items.iter()),
    };
    for (i, b) in candidates.enumerate() {
        crate::work::checkpoint_every(i, 1024)?;
        if !scan.keeps(b.id, &b.geom) {
            continue;
        }
        let vis = registry::building_visibility(snap, caller, b);
        if vis == Visibility::Hidden {
            continue;
        }
        out.push(Feat {
            id: FeatureId::Number(b.id),
            geometry: b.geom.clone().into(),
            properties: object(registry::building_properties(snap, b, vis)),
        });
    }
    Ok(out)
}

fn stations(snap: &Snapshot, caller: &Caller, scan: Scan) -> Vec<Feat> {
    snap.stations
        .items
        .iter()
        .filter(|s| scan.keeps(s.id, &s.point))
        .filter(|s| {
            snap.place_of_station(s)
                .is_some_and(|p| caller.regions.contains(&p.region_id))
        })
        .map(|s| Feat {
            id: FeatureId::Number(s.id),
            geometry: s.point.into(),
            properties: object(registry::station_properties(snap, s)),
        })
        .collect()
}

/// Streets of the walking network, as the streets tiles give them: public to every signed-in
/// account, with their kind of way, name and (for OpenStreetMap data) source.
fn streets(snap: &Snapshot, scan: Scan) -> Result<Vec<Feat>, crate::work::Expired> {
    let Some(net) = &snap.network else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in 0..net.edge_count() as u32 {
        crate::work::checkpoint_every(e as usize, 1024)?;
        let line = net.edge_line(e);
        let id = net.edge_id(e);
        if !scan.keeps(id, &line) {
            continue;
        }
        let mut properties = Map::new();
        properties.insert("highway".into(), Value::from(net.edge_highway(e)));
        if let Some(n) = net.edge_name(e) {
            properties.insert("name".into(), Value::from(n));
        }
        if snap.network_osm {
            properties.insert("source".into(), Value::from("osm"));
        }
        out.push(Feat {
            id: FeatureId::Number(id),
            geometry: line.into(),
            properties,
        });
    }
    Ok(out)
}
