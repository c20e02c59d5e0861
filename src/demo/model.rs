//! The data of one generated town, shared by the generator's phases: the town's identity,
//! its communities and grids, residents and staff, and service stations. Types only: each
//! phase (`town`, `people`, `stations`, `party`) fills or reads them, so no phase needs to
//! import another to see what it made.

use super::geom::Pt;
use super::lattice::Lattice;
use super::layout::Compound;

/// Reference year for ages.
pub(crate) const REF_YEAR: u32 = 2024;

/// What makes one town different from another: identity, size and look.
#[derive(Debug, Clone)]
pub(crate) struct TownSpec {
    /// Tile number (0 is the real town).
    pub tile: usize,
    /// 9-digit town code.
    pub code: String,
    /// Town name, e.g. 盘龙镇.
    pub name: String,
    /// (12-digit code, name) of each community, in code order.
    pub communities: Vec<(String, String)>,
    /// Target number of households in the whole town.
    pub households: f64,
    /// Rotation of the street lattice, radians.
    pub angle: f64,
    /// Name of the diagonal avenue.
    pub avenue: String,
    /// Place word used in company names.
    pub place: String,
}

impl TownSpec {
    /// Town name without the trailing 镇.
    pub(crate) fn short(&self) -> &str {
        self.name.strip_suffix('镇').unwrap_or(&self.name)
    }
}

/// A first- or second-level grid: a connected union of whole blocks.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// 14- or 16-digit code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Block ids, ascending.
    pub blocks: Vec<usize>,
    /// Second-level grids (empty for second-level grids themselves).
    pub children: Vec<Grid>,
    /// Households living in the grid.
    pub households: u32,
}

/// A community (社区): a connected union of whole blocks split into first-level grids.
#[derive(Debug, Clone)]
pub(crate) struct Community {
    /// 12-digit code.
    pub code: String,
    /// Name, e.g. 陵江社区.
    pub name: String,
    /// Block ids, ascending.
    pub blocks: Vec<usize>,
    /// First-level grids.
    pub grids: Vec<Grid>,
}

/// Everything generated for one town, in local metres.
pub(crate) struct Town {
    /// Identity and parameters.
    pub spec: TownSpec,
    /// Streets, pieces and blocks.
    pub lat: Lattice,
    /// Communities in code order.
    pub communities: Vec<Community>,
    /// Compounds in code order.
    pub compounds: Vec<Compound>,
    /// (community, first-level, second-level) index of every block.
    pub block_grid: Vec<(usize, usize, usize)>,
    /// Service stations and facilities.
    pub stations: Vec<Station>,
    /// Residents.
    pub people: People,
    /// Grid staff assignments.
    pub staff: Vec<StaffRow>,
}

/// Party membership of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// Full (正式) member.
    Full,
    /// Probationary (预备) member.
    Probationary,
    /// Not a member.
    None,
}

impl Membership {
    /// Contract spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Membership::Full => "full",
            Membership::Probationary => "probationary",
            Membership::None => "none",
        }
    }
}

/// One resident.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// Compound index in the town.
    pub compound: u32,
    /// Building index in the compound.
    pub building: u32,
    /// Full name.
    pub name: String,
    /// Male?
    pub male: bool,
    /// Year of birth.
    pub birth_year: u32,
    /// 11-digit mobile number (none for young children).
    pub phone: Option<u64>,
    /// Index into the town's employer list.
    pub work_unit: Option<u32>,
    /// Household label, e.g. 2-301.
    pub household: (u32, u32, u32),
    /// Party membership.
    pub membership: Membership,
}

impl Person {
    /// Age in [`REF_YEAR`].
    pub(crate) fn age(&self) -> u32 {
        REF_YEAR - self.birth_year
    }
}

/// The residents of a town and the employers they name.
#[derive(Debug, Clone, Default)]
pub(crate) struct People {
    /// Residents in building order.
    pub persons: Vec<Person>,
    /// Employer names.
    pub employers: Vec<String>,
}

/// One staff assignment row.
#[derive(Debug, Clone)]
pub(crate) struct StaffRow {
    /// Staff code, `{community}-Wnn`.
    pub code: String,
    /// Index of the linked person in the town.
    pub person: usize,
    /// Member of the community's two committees (两委).
    pub committee: bool,
    /// Grid code.
    pub grid: String,
    /// `chief` or `member`.
    pub role: &'static str,
    /// Duty phone (工作电话), one per staff code: a Guangyuan landline, never a resident's
    /// personal number.
    pub duty_phone: String,
}

/// A service station or facility.
#[derive(Debug, Clone)]
pub(crate) struct Station {
    /// Code, `{community}-Snn`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Contract kind, e.g. `party_mass_centre`, `clinic`.
    pub kind: &'static str,
    /// Index of the community whose block holds it.
    pub community: usize,
    /// Working service programmes.
    pub programmes: u32,
    /// Position, local metres.
    pub pos: Pt,
}
