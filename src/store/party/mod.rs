//! Party organisations in PostGIS: the cells that follow the grids, functional organisations
//! and their officers and members, social organisations, 双报到 units, members, projects and
//! posts; the facts the party rules look at; and the step of the grid-change transaction that
//! keeps the cells in line with the grids.
//!
//! Every member's cell (`party_assignments`) is kept equal to their home building's grid by
//! triggers (migration 0005) in the transaction of the write that changes it; this module
//! reads it, repairs it from the index's answer if asked, and never writes it otherwise.
//!
//! Must not: know about HTTP, or decide who may see what (callers pass the communities).

/// Implements `FromRow` for types read whole from a query: each field listed before `;`
/// from the column of its name, each after it as its expression (over the row, named by
/// `|r|`) makes it.
macro_rules! from_row {
    ($($t:ident |$r:ident| { $($field:ident),*; $($other:ident: $value:expr),* })*) => {$(
        impl sqlx::FromRow<'_, PgRow> for $t {
            fn from_row($r: &PgRow) -> sqlx::Result<Self> {
                Ok($t {
                    $($field: $r.try_get(stringify!($field))?,)*
                    $($other: $value,)*
                })
            }
        }
    )*};
}

mod cells;
mod follow;
mod import;
mod orgs;
mod units;

pub(crate) use follow::after_grid_changes;

use super::audit::{Actor, Entry};
use super::write::Write;
use super::{read_all, wkb, DbContext, Store, StoreError};
use crate::domain::hierarchy::check_name;
use crate::domain::party::{
    self, check_code, check_officers, check_year, AssociationFacts, AssociationKind, BuildingFacts,
    ChiefFacts, CompoundFacts, DualMemberFacts, OfficerRole, OrgFacts, OrgForm, OrgKind, UnitFacts,
};
use crate::domain::registry::Move;
use crate::domain::{CompoundKind, FieldError, GridLevel, Membership};
use crate::store::changes::ChangeLayer;
use chrono::{DateTime, NaiveDate, Utc};
use geo::Point;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};

/// What a functional organisation is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachKind {
    /// A compound (居民小区/院落).
    Compound,
    /// A building (商务楼宇).
    Building,
    /// A social organisation (服务协会/社团).
    Association,
}

impl AttachKind {
    /// Parses the name used in requests.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compound" => Some(Self::Compound),
            "building" => Some(Self::Building),
            "association" => Some(Self::Association),
            _ => None,
        }
    }

    /// The name used in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compound => "compound",
            Self::Building => "building",
            Self::Association => "association",
        }
    }
}

/// What a functional organisation is attached to, as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Attached {
    /// Compound, building or association.
    pub kind: AttachKind,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: Option<String>,
}

/// A party organisation as stored, with its committee seats.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    /// Id.
    #[serde(skip)]
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: OrgKind,
    /// Form.
    pub form: OrgForm,
    /// Community id.
    #[serde(skip)]
    pub community_id: i64,
    /// Community code.
    pub community_code: String,
    /// The grid of a cell.
    #[serde(skip)]
    pub grid_id: Option<i64>,
    /// The grid's code.
    pub grid_code: Option<String>,
    /// What a functional organisation is attached to.
    pub attached: Option<Attached>,
    /// Founded.
    pub founded_at: DateTime<Utc>,
    /// Dissolved, if it was.
    pub dissolved_at: Option<DateTime<Utc>>,
    /// Committee seats held.
    pub seats: i64,
    /// Whether it has a secretary.
    pub has_secretary: bool,
    /// Whether it has a group leader.
    pub has_leader: bool,
    /// Members of a functional organisation.
    pub functional_members: i64,
}

impl Org {
    /// The facts the cell rules need.
    pub fn facts(&self) -> OrgFacts {
        OrgFacts {
            code: self.code.clone(),
            name: self.name.clone(),
            seats: self.seats,
            has_secretary: self.has_secretary,
        }
    }
}

/// An officer of an organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Officer {
    /// Person code.
    pub person_code: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: OfficerRole,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// A party member as listed to those who may see names.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRow {
    /// Person id.
    #[serde(skip)]
    pub person_id: i64,
    /// Person code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Full or probationary.
    pub membership: Membership,
    /// Home building id.
    #[serde(skip)]
    pub building_id: Option<i64>,
    /// Home building code.
    pub building_code: Option<String>,
    /// The cell (second-level grid) code.
    pub grid_code: Option<String>,
    /// In the cell since.
    pub since: Option<DateTime<Utc>>,
}

/// A social organisation as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Association {
    /// Id.
    #[serde(skip)]
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: AssociationKind,
    /// Community id.
    #[serde(skip)]
    pub community_id: i64,
    /// Community code.
    pub community_code: String,
    /// Founded.
    pub founded_year: Option<i32>,
    /// Members.
    pub members: i64,
    /// Full party members among them.
    pub full_members: i64,
    /// Code of its active functional organisation.
    pub party_org: Option<String>,
    /// Location.
    #[serde(skip)]
    pub point: Option<Point<f64>>,
}

/// A 双报到 unit with its projects of a year and registered members.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    /// Id.
    #[serde(skip)]
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Its party organisation's name.
    pub party_org_name: Option<String>,
    /// Community id.
    #[serde(skip)]
    pub community_id: i64,
    /// Community code.
    pub community_code: String,
    /// Registered with the community on.
    pub registered_on: NaiveDate,
    /// Projects of the year asked for.
    pub projects: Vec<Project>,
    /// Members registered through the unit.
    pub members: i64,
    /// Location.
    #[serde(skip)]
    pub point: Option<Point<f64>>,
}

/// A volunteer project.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Project {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Year.
    pub year: i32,
}

/// A 双报到 member's key: person id, person code, community id, home grid, holds a post.
pub type DualKey = (i64, String, i64, Option<i64>, bool);

/// A 双报到 member with their posts of a year (names: full visibility only).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DualMember {
    /// Person id.
    #[serde(skip)]
    pub person_id: i64,
    /// Person code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Unit code.
    pub unit_code: Option<String>,
    /// Community id.
    #[serde(skip)]
    pub community_id: i64,
    /// Community code.
    pub community_code: String,
    /// Their home's grid.
    #[serde(skip)]
    pub grid_id: Option<i64>,
    /// Registered on.
    pub registered_on: NaiveDate,
    /// Posts of the year asked for.
    pub posts: Vec<String>,
}

/// What happened to the party cells in a grid-change transaction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CellsFollowed {
    /// Party members whose cell changed with their building.
    pub members_moved: usize,
    /// Codes of cell organisations created for new grids.
    pub created: Vec<String>,
    /// Codes of cell organisations dissolved with their grid.
    pub dissolved: Vec<String>,
}

fn point(w: Option<Vec<u8>>, what: &'static str) -> Result<Option<Point<f64>>, StoreError> {
    w.map(|w| wkb::decode_point(&w)).transpose().ctx(what)
}

fn membership(s: &str) -> Membership {
    Membership::parse(s).unwrap_or(Membership::None)
}

fn welfare_kinds() -> Vec<&'static str> {
    AssociationKind::ALL
        .into_iter()
        .filter(|k| k.is_public_welfare())
        .map(AssociationKind::as_str)
        .collect()
}

const ORG: &str = "SELECT o.id, o.code, o.name, o.kind, o.form, o.community_id, c.code AS community_code, \
     o.grid_id, (SELECT v.code FROM grid_versions v WHERE v.grid_id = o.grid_id ORDER BY v.version DESC LIMIT 1) AS grid_code, \
     CASE WHEN o.compound_id IS NOT NULL THEN 'compound' WHEN o.building_id IS NOT NULL THEN 'building' \
          WHEN o.association_id IS NOT NULL THEN 'association' END AS attach_kind, \
     COALESCE(cp.code, b.code, a.code) AS attach_code, COALESCE(cp.name, b.name, a.name) AS attach_name, \
     o.founded_at, o.dissolved_at, \
     (SELECT count(*) FROM party_officers f WHERE f.org_id = o.id AND f.role <> 'group_leader') AS seats, \
     EXISTS (SELECT 1 FROM party_officers f WHERE f.org_id = o.id AND f.role = 'secretary') AS has_secretary, \
     EXISTS (SELECT 1 FROM party_officers f WHERE f.org_id = o.id AND f.role = 'group_leader') AS has_leader, \
     (SELECT count(*) FROM functional_members m WHERE m.org_id = o.id) AS functional_members \
     FROM party_orgs o JOIN communities c ON c.id = o.community_id \
     LEFT JOIN compounds cp ON cp.id = o.compound_id LEFT JOIN buildings b ON b.id = o.building_id \
     LEFT JOIN associations a ON a.id = o.association_id";

/// The point of a row's WKB column `point`, if it has one.
fn wkb_point(r: &PgRow) -> sqlx::Result<Option<Point<f64>>> {
    let point: Option<Vec<u8>> = r.try_get("point")?;
    let point = point.map(|w| wkb::decode_point(&w)).transpose();
    point.map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// What a row of [`ORG`] says its organisation is attached to, if anything.
fn attached(r: &PgRow) -> sqlx::Result<Option<Attached>> {
    let kind: Option<&str> = r.try_get("attach_kind")?;
    let Some(kind) = kind.and_then(AttachKind::parse) else {
        return Ok(None);
    };
    let code: Option<String> = r.try_get("attach_code")?;
    Ok(Some(Attached {
        kind,
        code: code.unwrap_or_default(),
        name: r.try_get("attach_name")?,
    }))
}

from_row! {
    Org |r| {
        id, code, name, community_id, community_code, grid_id, grid_code, founded_at,
        dissolved_at, seats, has_secretary, has_leader, functional_members;
        kind: OrgKind::parse(r.try_get("kind")?).unwrap_or(OrgKind::Functional),
        form: OrgForm::parse(r.try_get("form")?).unwrap_or(OrgForm::Branch),
        attached: attached(r)?
    }
}

const MEMBER: &str = "SELECT p.id, p.code, d.name, p.membership, p.home_building_id, b.code AS building_code, \
     (SELECT v.code FROM grid_versions v WHERE v.grid_id = a.grid_id AND v.valid_to IS NULL) AS grid_code, a.since \
     FROM people p JOIN person_details d ON d.person_id = p.id \
     LEFT JOIN buildings b ON b.id = p.home_building_id LEFT JOIN party_assignments a ON a.person_id = p.id";

/// A row of [`MEMBER`].
#[derive(sqlx::FromRow)]
struct MemberFields {
    id: i64,
    code: String,
    name: String,
    membership: String,
    home_building_id: Option<i64>,
    building_code: Option<String>,
    grid_code: Option<String>,
    since: Option<DateTime<Utc>>,
}

impl From<MemberFields> for MemberRow {
    fn from(r: MemberFields) -> Self {
        MemberRow {
            membership: membership(&r.membership),
            person_id: r.id,
            code: r.code,
            name: r.name,
            building_id: r.home_building_id,
            building_code: r.building_code,
            grid_code: r.grid_code,
            since: r.since,
        }
    }
}

/// One page of a list by code: the codes past `after` (byte order), at most `limit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page<'a> {
    /// The last code of the page before.
    pub after: Option<&'a str>,
    /// How many at most (all when none).
    pub limit: Option<i64>,
}

impl Page<'_> {
    /// The whole list.
    pub const ALL: Page<'static> = Page {
        after: None,
        limit: None,
    };
}

/// A party organisation as an administrator writes it.
#[derive(Debug, Clone)]
pub struct OrgInput {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind (cells exist with their grids: they may only be renamed).
    pub kind: OrgKind,
    /// Branch or group, for a functional organisation (branch if not given).
    pub form: Option<OrgForm>,
    /// The community of a 大党委.
    pub community_code: Option<String>,
    /// What a functional organisation is attached to, and its code.
    pub attach: Option<(AttachKind, String)>,
}

/// A social organisation as written.
#[derive(Debug, Clone)]
pub struct AssociationInput {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: AssociationKind,
    /// Community code.
    pub community_code: String,
    /// Year founded.
    pub founded_year: Option<i32>,
    /// Location.
    pub point: Option<Point<f64>>,
    /// Person codes of its members, if they are to be replaced.
    pub members: Option<Vec<String>>,
}

/// A 双报到 unit as written.
#[derive(Debug, Clone)]
pub struct UnitInput {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Its party organisation's name.
    pub party_org_name: Option<String>,
    /// Community code.
    pub community_code: String,
    /// Registration date.
    pub registered_on: NaiveDate,
    /// Location.
    pub point: Option<Point<f64>>,
}

/// A volunteer project as written.
#[derive(Debug, Clone)]
pub struct ProjectInput {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community code (defaults to the unit's).
    pub community_code: Option<String>,
    /// The unit taking it on, if any.
    pub unit_code: Option<String>,
    /// Year.
    pub year: i32,
}

/// Things of the party data whose community decides who may change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// A compound, by code.
    Compound,
    /// A building, by code.
    Building,
    /// A social organisation, by code.
    Association,
    /// A 双报到 unit, by code.
    Unit,
    /// A volunteer project, by code.
    Project,
    /// A person, by code: the community of their home, or of their 双报到 registration.
    Person,
}

async fn community_id(tx: &mut PgConnection, code: &str, field: &str) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT id FROM communities WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding a community")?
        .ok_or_else(|| FieldError::new(field, format!("no community {code}")).into())
}

/// A person by code: id and membership, or a field error.
async fn person_of(
    tx: &mut PgConnection,
    code: &str,
    field: &str,
) -> Result<(i64, Membership), StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, membership FROM people WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding a person")?;
    row.map(|(id, m)| (id, membership(&m)))
        .ok_or_else(|| FieldError::new(field, format!("no person {code}")).into())
}

async fn org_in(tx: &mut PgConnection, code: &str) -> Result<Option<Org>, StoreError> {
    let sql = format!("{ORG} WHERE o.code = $1 FOR UPDATE OF o");
    let q = sqlx::query_as::<_, Org>(&sql).bind(code);
    q.fetch_optional(tx)
        .await
        .ctx("reading a party organisation")
}

async fn active_org(tx: &mut PgConnection, code: &str) -> Result<Org, StoreError> {
    match org_in(tx, code).await? {
        Some(o) if o.dissolved_at.is_none() => Ok(o),
        Some(_) => Err(StoreError::Conflict(format!(
            "party organisation {code} is dissolved"
        ))),
        None => Err(StoreError::NotFound(format!("party organisation {code}"))),
    }
}

/// The organisation `code`, in office and functional; another kind is refused (409) with
/// `why` it cannot take this write.
async fn active_functional(
    tx: &mut PgConnection,
    code: &str,
    why: &str,
) -> Result<Org, StoreError> {
    let org = active_org(tx, code).await?;
    if org.kind != OrgKind::Functional {
        return Err(StoreError::Conflict(format!(
            "{code} is a {}: {why}",
            org.kind.as_str()
        )));
    }
    Ok(org)
}

/// The id and community of what a functional organisation is attached to.
async fn attachment(
    tx: &mut PgConnection,
    kind: AttachKind,
    code: &str,
) -> Result<(i64, i64), StoreError> {
    let sql = match kind {
        AttachKind::Compound => "SELECT id, community_id FROM compounds WHERE code = $1",
        AttachKind::Building => {
            "SELECT b.id, g.community_id FROM buildings b JOIN grids g ON g.id = b.grid_id WHERE b.code = $1"
        }
        AttachKind::Association => "SELECT id, community_id FROM associations WHERE code = $1",
    };
    let missing = || {
        FieldError::new(
            "attached_to.code",
            format!("no {kind:?} {code}").to_lowercase(),
        )
    };
    let what = "finding what an organisation is attached to";
    id_and_community(tx, sql, code, what, missing).await
}

/// The id and community of the row that `sql` finds by `code` (`$1`), or the request's
/// error that `missing` makes when there is none.
async fn id_and_community(
    tx: &mut PgConnection,
    sql: &str,
    code: &str,
    what: &'static str,
    missing: impl FnOnce() -> FieldError,
) -> Result<(i64, i64), StoreError> {
    sqlx::query_as(sql)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?
        .ok_or_else(|| missing().into())
}

fn conflict_on_reference<T>(
    res: Result<T, sqlx::Error>,
    what: &'static str,
    message: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    match res {
        Err(sqlx::Error::Database(e))
            if e.is_foreign_key_violation() || e.is_unique_violation() =>
        {
            Err(StoreError::Conflict(message()))
        }
        other => other.ctx(what),
    }
}

/// The change record of every party write: the party layer, no ids (the keepers re-read
/// the party data whole).
const PARTY: (ChangeLayer, &[i64]) = (ChangeLayer::Party, &[]);

impl Store {
    /// The community of a thing by code, for reach checks before a write (`None`: unknown).
    pub async fn community_of(&self, what: Owned, code: &str) -> Result<Option<i64>, StoreError> {
        let sql = match what {
            Owned::Compound => "SELECT community_id FROM compounds WHERE code = $1",
            Owned::Building => {
                "SELECT g.community_id FROM buildings b JOIN grids g ON g.id = b.grid_id WHERE b.code = $1"
            }
            Owned::Association => "SELECT community_id FROM associations WHERE code = $1",
            Owned::Unit => "SELECT community_id FROM dual_units WHERE code = $1",
            Owned::Project => "SELECT community_id FROM volunteer_projects WHERE code = $1",
            Owned::Person => {
                "SELECT COALESCE(g.community_id, m.community_id) FROM people p \
                 LEFT JOIN buildings b ON b.id = p.home_building_id LEFT JOIN grids g ON g.id = b.grid_id \
                 LEFT JOIN dual_members m ON m.person_id = p.id WHERE p.code = $1"
            }
        };
        let found: Option<Option<i64>> = sqlx::query_scalar(sql)
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .ctx("finding a community")?;
        Ok(found.flatten())
    }
}
