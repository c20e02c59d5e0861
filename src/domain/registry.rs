//! The registry's records as plain data: what the store reads and the index holds.

use super::access::StaffDetail;
use super::{CompoundKind, GridLevel, RegionKind, StationKind};
use chrono::{DateTime, Utc};
use geo::{MultiPolygon, Point};
use serde::Serialize;

/// A development zone, town or street office.
#[derive(Debug, Clone)]
pub struct Region {
    /// Database id.
    pub id: i64,
    /// Statistical code, or a synthetic one for a zone without one.
    pub code: String,
    /// Name.
    pub name: String,
    /// Zone, town or street office.
    pub kind: RegionKind,
    /// The region above, if any.
    pub parent_id: Option<i64>,
}

/// A community (社区).
#[derive(Debug, Clone)]
pub struct Community {
    /// Database id.
    pub id: i64,
    /// 12-digit statistical code.
    pub code: String,
    /// Name, e.g. 陵江社区.
    pub name: String,
    /// The town or street office it belongs to.
    pub region_id: i64,
    /// Boundary.
    pub geom: MultiPolygon<f64>,
}

/// One version of a grid.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Stable id across versions.
    pub id: i64,
    /// Code: community code + two digits per level.
    pub code: String,
    /// Name.
    pub name: String,
    /// 1 or 2.
    pub level: GridLevel,
    /// The first-level grid above a second-level grid.
    pub parent_id: Option<i64>,
    /// The community the grid is in.
    pub community_id: i64,
    /// Version number, starting at 1; the ETag of the grid.
    pub version: i32,
    /// When this version took effect.
    pub valid_from: DateTime<Utc>,
    /// When it was replaced, if it was.
    pub valid_to: Option<DateTime<Utc>>,
    /// Boundary.
    pub geom: MultiPolygon<f64>,
}

impl Grid {
    /// The grid, if it is at `version` (the version a change was based on); otherwise the
    /// version it is at.
    pub fn at_version(self, version: i32) -> Result<Grid, i32> {
        if self.version == version {
            Ok(self)
        } else {
            Err(self.version)
        }
    }
}

/// Why a batch that deletes first-level grids alone is refused: the codes of (up to 20 of)
/// the second-level grids it would leave without a parent.
pub fn orphaned_grids_message(codes: &[&str]) -> String {
    format!(
        "deleting a first-level grid needs its second-level grids deleted in the same batch: {} would be left without a parent",
        codes.join(", ")
    )
}

/// A building (楼栋).
#[derive(Debug, Clone)]
pub struct Building {
    /// Database id.
    pub id: i64,
    /// External code.
    pub code: String,
    /// Name, if any.
    pub name: Option<String>,
    /// Street address, if any.
    pub address: Option<String>,
    /// The compound it is in.
    pub compound_id: Option<i64>,
    /// The compound's code and name, if any.
    pub compound: Option<(String, String)>,
    /// Households living in it.
    pub households: i32,
    /// Residents living in it.
    pub residents: i32,
    /// People working in it.
    pub employees: i32,
    /// Party members living in it (counted from people).
    pub party_members: i32,
    /// Footprint.
    pub geom: MultiPolygon<f64>,
    /// The point on its surface that decides its grid.
    pub anchor: Point<f64>,
    /// The second-level grid containing the anchor.
    pub grid_id: i64,
}

/// A compound (小区/院落).
#[derive(Debug, Clone)]
pub struct Compound {
    /// Database id.
    pub id: i64,
    /// External code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Residential, commercial or other.
    pub kind: CompoundKind,
    /// Share of homes occupied, 0..1.
    pub occupancy_rate: Option<f64>,
    /// Community.
    pub community_id: i64,
}

/// A service station or facility.
#[derive(Debug, Clone)]
pub struct Station {
    /// Database id.
    pub id: i64,
    /// External code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: StationKind,
    /// Community it serves, if recorded.
    pub community_id: Option<i64>,
    /// Working service programmes.
    pub programmes: Option<i32>,
    /// Location.
    pub point: Point<f64>,
}

/// A grid chief or member and the grid they look after. Serialised as is it leaves the
/// personal phone out; [`StaffAssignment::shown`] gives what a caller may see.
#[derive(Debug, Clone, Serialize)]
pub struct StaffAssignment {
    /// The grid's id.
    #[serde(skip)]
    pub grid_id: i64,
    /// Staff code.
    pub code: String,
    /// Name (public: shown on grid notice boards).
    pub name: String,
    /// Duty phone (工作电话, public: shown on grid notice boards).
    pub duty_phone: Option<String>,
    /// Personal phone (personal data).
    #[serde(skip)]
    pub phone: Option<String>,
    /// `chief` or `member`.
    pub role: String,
}

/// A staff member as one caller is shown them.
#[derive(Debug, Clone, Serialize)]
pub struct StaffShown<'a> {
    /// Staff code.
    pub code: &'a str,
    /// Name.
    pub name: &'a str,
    /// `chief` or `member`.
    pub role: &'a str,
    /// Duty phone.
    pub duty_phone: Option<&'a str>,
    /// Personal phone, only with [`StaffDetail::Personal`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
}

impl StaffAssignment {
    /// What a caller with this [`StaffDetail`] of the grid sees of the staff member, if
    /// anything.
    pub fn shown(&self, detail: StaffDetail) -> Option<StaffShown<'_>> {
        (detail != StaffDetail::None).then(|| StaffShown {
            code: &self.code,
            name: &self.name,
            role: &self.role,
            duty_phone: self.duty_phone.as_deref(),
            phone: match detail {
                StaffDetail::Personal => self.phone.as_deref(),
                _ => None,
            },
        })
    }
}

/// Households, residents and party members in an area.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    /// Buildings.
    pub buildings: i64,
    /// Households.
    pub households: i64,
    /// Residents.
    pub residents: i64,
    /// Party members (full and probationary).
    pub party_members: i64,
    /// Employees working in the buildings.
    pub employees: i64,
}

impl Figures {
    /// Adds one building.
    pub fn add_building(&mut self, b: &Building) {
        self.buildings += 1;
        self.households += i64::from(b.households);
        self.residents += i64::from(b.residents);
        self.party_members += i64::from(b.party_members);
        self.employees += i64::from(b.employees);
    }

    /// Adds another area's figures.
    pub fn add(&mut self, o: &Figures) {
        self.buildings += o.buildings;
        self.households += o.households;
        self.residents += o.residents;
        self.party_members += o.party_members;
        self.employees += o.employees;
    }
}

/// A grid a batch creates.
#[derive(Debug, Clone)]
pub struct NewGrid {
    /// Code: the parent's code and two digits.
    pub code: String,
    /// Name.
    pub name: String,
    /// 1 or 2.
    pub level: GridLevel,
    /// Community code for a first-level grid, first-level grid code for a second-level one.
    pub parent_code: String,
    /// Boundary, already validated.
    pub geom: MultiPolygon<f64>,
}

/// One change of a grid batch (one item of `POST /api/grids/batch`): what the grid store
/// writes and what the boundary-change preview lays over the index.
#[derive(Debug, Clone)]
pub enum GridChange {
    /// Create a grid.
    Create(NewGrid),
    /// Re-draw and/or rename a grid; `version` is the version the change was based on.
    Update {
        /// The grid's code.
        code: String,
        /// The version the client saw.
        version: i32,
        /// A new name, if any.
        name: Option<String>,
        /// A new boundary, if any.
        geom: Option<MultiPolygon<f64>>,
    },
    /// Delete a grid (its history stays).
    Delete {
        /// The grid's code.
        code: String,
        /// The version the client saw.
        version: i32,
    },
}

impl GridChange {
    /// The code of the grid the change names.
    pub fn code(&self) -> &str {
        match self {
            Self::Create(g) => &g.code,
            Self::Update { code, .. } | Self::Delete { code, .. } => code,
        }
    }

    /// Refuses a batch that names a grid twice, as `(index, reason)` of the second mention.
    pub fn check_unique(batch: &[GridChange]) -> Result<(), (usize, String)> {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in batch.iter().enumerate() {
            if !seen.insert(c.code()) {
                return Err((
                    i,
                    format!("grid {} appears more than once in the batch", c.code()),
                ));
            }
        }
        Ok(())
    }
}

/// A building whose second-level grid changed.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// Building id.
    pub building_id: i64,
    /// Its grid before.
    pub from_grid: i64,
    /// Its grid after.
    pub to_grid: i64,
}
