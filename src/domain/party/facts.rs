//! The plain facts the rules look at: cells, compounds, buildings, associations, units,
//! 双报到 members and communities, gathered by callers from the index and the store.

use super::kinds::AssociationKind;
use super::{COMMITTEE_MIN_SEATS, NEW_COMPOUND_MAX_AGE_YEARS};
use crate::domain::{CompoundKind, GridLevel, Membership};
use geo::Point;
use std::collections::HashMap;

/// A grid's chief as the chief rule needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiefFacts {
    /// Staff code.
    pub code: String,
    /// Name (public on grid notice boards).
    pub name: String,
    /// Party membership of the linked resident record; `None` when there is no link.
    pub membership: Option<Membership>,
    /// Member of the community's two committees (两委).
    pub committee: bool,
}

/// The party organisation of a cell as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Committee seats held (secretary, deputies, committee and part-time members).
    pub seats: i64,
    /// Whether it has a secretary.
    pub has_secretary: bool,
}

impl OrgFacts {
    /// Whether the organisation has a committee: a secretary and at least
    /// [`COMMITTEE_MIN_SEATS`] seats.
    pub fn has_committee(&self) -> bool {
        self.has_secretary && self.seats >= COMMITTEE_MIN_SEATS
    }
}

/// A grid cell: a first-level grid with its branch, or a second-level grid with its group.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFacts {
    /// Grid id.
    pub grid_id: i64,
    /// Grid code.
    pub code: String,
    /// Grid name.
    pub name: String,
    /// Level.
    pub level: GridLevel,
    /// First-level parent of a second-level grid.
    pub parent_id: Option<i64>,
    /// Community.
    pub community_id: i64,
    /// The cell's organisation, if it has one.
    pub org: Option<OrgFacts>,
    /// Party members (full and probationary) assigned to the cell.
    pub members: i64,
    /// Full members among them.
    pub full: i64,
    /// The grid chief.
    pub chief: Option<ChiefFacts>,
    /// Grid members (网格员) besides the chief.
    pub staff_members: i64,
    /// A point inside the grid, for the map.
    pub point: Option<Point<f64>>,
}

/// Adds the members of every second-level cell to its first-level parent (which must have
/// no members of its own counted yet).
pub fn roll_up(cells: &mut [CellFacts]) {
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for c in cells.iter().filter(|c| c.level == GridLevel::Second) {
        if let Some(p) = c.parent_id {
            let e = sums.entry(p).or_default();
            e.0 += c.members;
            e.1 += c.full;
        }
    }
    for c in cells.iter_mut().filter(|c| c.level == GridLevel::First) {
        let (m, f) = sums.get(&c.grid_id).copied().unwrap_or_default();
        c.members = m;
        c.full = f;
    }
}

/// A compound as the functional-organisation rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompoundFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: CompoundKind,
    /// Occupancy, 0..1.
    pub occupancy: Option<f64>,
    /// Year built.
    pub built_year: Option<i32>,
    /// Community.
    pub community_id: i64,
    /// The second-level grid of its first building, if any.
    pub grid_id: Option<i64>,
    /// Residents of its buildings.
    pub residents: i64,
    /// Full party members living in its buildings.
    pub full: i64,
    /// Whether an active functional organisation is attached to it.
    pub has_org: bool,
    /// A point inside it.
    pub point: Option<Point<f64>>,
}

/// A building with employees, for the commercial-building rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name (or code).
    pub name: String,
    /// Employees.
    pub employees: i64,
    /// Whether the building's compound is commercial.
    pub commercial: bool,
    /// Community.
    pub community_id: i64,
    /// Its second-level grid.
    pub grid_id: i64,
    /// Whether a functional organisation is attached to it or to its compound.
    pub has_org: bool,
    /// Its anchor.
    pub point: Option<Point<f64>>,
}

/// A social organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: AssociationKind,
    /// Community.
    pub community_id: i64,
    /// Full party members among its members.
    pub full: i64,
    /// Whether a functional organisation is attached to it.
    pub has_org: bool,
    /// Its point, or the community's.
    pub point: Option<Point<f64>>,
}

/// A 双报到 unit and its projects of the year.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community it registered with.
    pub community_id: i64,
    /// Volunteer projects it took on in the year checked.
    pub projects: i64,
    /// Its point, or the community's.
    pub point: Option<Point<f64>>,
}

/// A 双报到 member and their posts of the year.
#[derive(Debug, Clone, PartialEq)]
pub struct DualMemberFacts {
    /// Person id.
    pub person_id: i64,
    /// Person code.
    pub code: String,
    /// Name (full visibility only).
    pub name: String,
    /// Community registered with.
    pub community_id: i64,
    /// The grid of their home, if any.
    pub grid_id: Option<i64>,
    /// Volunteer posts taken in the year checked.
    pub posts: i64,
    /// Public-welfare or volunteer organisations they belong to.
    pub welfare_orgs: i64,
    /// Their home building's anchor, or the community's point.
    pub point: Option<Point<f64>>,
}

/// A community and its public-welfare organisations.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Public-welfare and volunteer organisations registered.
    pub welfare_orgs: i64,
    /// A point inside it.
    pub point: Option<Point<f64>>,
}

/// Everything the rules look at, for one year.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The year checked (双报到 projects and posts, age of compounds).
    pub year: i32,
    /// Grid cells, first-level counts rolled up.
    pub cells: Vec<CellFacts>,
    /// Compounds.
    pub compounds: Vec<CompoundFacts>,
    /// Buildings with employees.
    pub buildings: Vec<BuildingFacts>,
    /// Social organisations.
    pub associations: Vec<AssociationFacts>,
    /// 双报到 units.
    pub units: Vec<UnitFacts>,
    /// 双报到 members.
    pub members: Vec<DualMemberFacts>,
    /// Communities.
    pub communities: Vec<CommunityFacts>,
}

/// Whether a compound is new (新建住宅区) in `year`.
pub fn is_new_compound(built_year: Option<i32>, year: i32) -> bool {
    built_year.is_some_and(|b| b <= year && year - b <= NEW_COMPOUND_MAX_AGE_YEARS)
}
