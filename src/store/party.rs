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

use super::audit::{self, Actor, Entry};
use super::grids::Move;
use super::{wkb, DbContext, Store, StoreError};
use crate::domain::hierarchy::check_name;
use crate::domain::party::{
    self, check_code, check_officers, check_year, AssociationFacts, AssociationKind, BuildingFacts,
    ChiefFacts, CompoundFacts, DualMemberFacts, OfficerRole, OrgFacts, OrgForm, OrgKind, UnitFacts,
};
use crate::domain::{CompoundKind, FieldError, GridLevel, Membership};
use chrono::{DateTime, NaiveDate, Utc};
use geo::Point;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};

/// Rows per statement in bulk loads.
const CHUNK: usize = 5_000;

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
#[derive(Debug, Clone, Serialize)]
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

/// Everything the party rules read from the database, besides the cells.
#[derive(Debug, Clone, Default)]
pub struct RuleData {
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
    /// Public-welfare organisations per community.
    pub welfare_orgs: HashMap<i64, i64>,
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

fn org_from_row(r: &PgRow) -> Result<Org, StoreError> {
    let what = "reading party organisations";
    let kind: String = r.try_get("kind").ctx(what)?;
    let form: String = r.try_get("form").ctx(what)?;
    let attach_kind: Option<String> = r.try_get("attach_kind").ctx(what)?;
    let attached = match attach_kind.as_deref().and_then(AttachKind::parse) {
        Some(kind) => Some(Attached {
            kind,
            code: r
                .try_get::<Option<String>, _>("attach_code")
                .ctx(what)?
                .unwrap_or_default(),
            name: r.try_get("attach_name").ctx(what)?,
        }),
        None => None,
    };
    Ok(Org {
        id: r.try_get("id").ctx(what)?,
        code: r.try_get("code").ctx(what)?,
        name: r.try_get("name").ctx(what)?,
        kind: OrgKind::parse(&kind).unwrap_or(OrgKind::Functional),
        form: OrgForm::parse(&form).unwrap_or(OrgForm::Branch),
        community_id: r.try_get("community_id").ctx(what)?,
        community_code: r.try_get("community_code").ctx(what)?,
        grid_id: r.try_get("grid_id").ctx(what)?,
        grid_code: r.try_get("grid_code").ctx(what)?,
        attached,
        founded_at: r.try_get("founded_at").ctx(what)?,
        dissolved_at: r.try_get("dissolved_at").ctx(what)?,
        seats: r.try_get("seats").ctx(what)?,
        has_secretary: r.try_get("has_secretary").ctx(what)?,
        has_leader: r.try_get("has_leader").ctx(what)?,
        functional_members: r.try_get("functional_members").ctx(what)?,
    })
}

const MEMBER: &str = "SELECT p.id, p.code, d.name, p.membership, p.home_building_id, b.code AS building_code, \
     (SELECT v.code FROM grid_versions v WHERE v.grid_id = a.grid_id AND v.valid_to IS NULL) AS grid_code, a.since \
     FROM people p JOIN person_details d ON d.person_id = p.id \
     LEFT JOIN buildings b ON b.id = p.home_building_id LEFT JOIN party_assignments a ON a.person_id = p.id";

fn member_from_row(r: &PgRow) -> Result<MemberRow, StoreError> {
    let what = "reading party members";
    let m: String = r.try_get("membership").ctx(what)?;
    Ok(MemberRow {
        person_id: r.try_get("id").ctx(what)?,
        code: r.try_get("code").ctx(what)?,
        name: r.try_get("name").ctx(what)?,
        membership: membership(&m),
        building_id: r.try_get("home_building_id").ctx(what)?,
        building_code: r.try_get("building_code").ctx(what)?,
        grid_code: r.try_get("grid_code").ctx(what)?,
        since: r.try_get("since").ctx(what)?,
    })
}

impl Store {
    /// The years that have volunteer projects or posts on record, latest first, at most
    /// `limit` of them (the years whose party rules an office may ask for).
    pub async fn party_record_years(&self, limit: i64) -> Result<Vec<i32>, StoreError> {
        sqlx::query_scalar(
            "SELECT year FROM (SELECT year FROM volunteer_projects UNION SELECT year FROM volunteer_posts) y \
             ORDER BY year DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading the years of volunteer records")
    }

    /// Every active party organisation, by code (byte order).
    pub async fn party_orgs_active(&self) -> Result<Vec<Org>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ORG} WHERE o.dissolved_at IS NULL ORDER BY o.code COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading party organisations")?;
        rows.iter().map(org_from_row).collect()
    }

    /// Active party organisations of the given communities counted per (community, kind).
    pub async fn party_org_counts(
        &self,
        communities: &[i64],
    ) -> Result<HashMap<(i64, String), i64>, StoreError> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT community_id, kind, count(*) FROM party_orgs \
             WHERE dissolved_at IS NULL AND community_id = ANY($1) GROUP BY 1, 2",
        )
        .bind(communities)
        .fetch_all(&self.pool)
        .await
        .ctx("counting party organisations")?;
        Ok(rows.into_iter().map(|(c, k, n)| ((c, k), n)).collect())
    }

    /// One organisation by code (dissolved ones too).
    pub async fn party_org(&self, code: &str) -> Result<Option<Org>, StoreError> {
        let row = sqlx::query(&format!("{ORG} WHERE o.code = $1"))
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading a party organisation")?;
        row.as_ref().map(org_from_row).transpose()
    }

    /// The officers of an organisation, secretary first.
    pub async fn party_officers(&self, org_id: i64) -> Result<Vec<Officer>, StoreError> {
        let rows: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT p.code, d.name, f.role, f.since FROM party_officers f JOIN people p ON p.id = f.person_id \
             JOIN person_details d ON d.person_id = p.id WHERE f.org_id = $1 \
             ORDER BY array_position(ARRAY['secretary','deputy_secretary','committee','part_time_committee','group_leader'], f.role), p.code",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading officers")?;
        Ok(rows
            .into_iter()
            .map(|(person_code, name, role, since)| Officer {
                person_code,
                name,
                role: OfficerRole::parse(&role).unwrap_or(OfficerRole::Committee),
                since,
            })
            .collect())
    }

    /// The members of an organisation: of a group its cell, of a branch its groups' cells,
    /// of a committee every cell of the community, of a functional organisation its list.
    pub async fn party_org_members(&self, org: &Org) -> Result<Vec<MemberRow>, StoreError> {
        let (filter, id) = match org.kind {
            OrgKind::GridGroup => ("a.grid_id = $1", org.grid_id),
            OrgKind::GridBranch => (
                "a.grid_id IN (SELECT id FROM current_grids WHERE parent_id = $1)",
                org.grid_id,
            ),
            OrgKind::CommunityCommittee => (
                "a.grid_id IN (SELECT id FROM current_grids WHERE community_id = $1)",
                Some(org.community_id),
            ),
            OrgKind::Functional => (
                "p.id IN (SELECT person_id FROM functional_members WHERE org_id = $1)",
                Some(org.id),
            ),
        };
        let rows = sqlx::query(&format!("{MEMBER} WHERE {filter} ORDER BY p.code"))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .ctx("reading party members")?;
        rows.iter().map(member_from_row).collect()
    }

    /// Party members (full and probationary counts) per cell, for the given second-level
    /// grids or all.
    pub async fn cell_counts(
        &self,
        grids: Option<&[i64]>,
    ) -> Result<HashMap<i64, (i64, i64)>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT a.grid_id, count(*), count(*) FILTER (WHERE p.membership = 'full') \
             FROM party_assignments a JOIN people p ON p.id = a.person_id \
             WHERE $1::bigint[] IS NULL OR a.grid_id = ANY($1) GROUP BY 1",
        )
        .bind(grids)
        .fetch_all(&self.pool)
        .await
        .ctx("counting party members")?;
        Ok(rows.into_iter().map(|(g, m, f)| (g, (m, f))).collect())
    }

    /// Party members (all, full) living in each of the given buildings.
    pub async fn building_member_counts(
        &self,
        buildings: &[i64],
    ) -> Result<HashMap<i64, (i64, i64)>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT home_building_id, count(*), count(*) FILTER (WHERE membership = 'full') \
             FROM people WHERE home_building_id = ANY($1) AND membership <> 'none' GROUP BY 1",
        )
        .bind(buildings)
        .fetch_all(&self.pool)
        .await
        .ctx("counting party members")?;
        Ok(rows.into_iter().map(|(b, m, f)| (b, (m, f))).collect())
    }

    /// The party members living in the given buildings.
    pub async fn members_in_buildings(
        &self,
        buildings: &[i64],
    ) -> Result<Vec<MemberRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{MEMBER} WHERE p.home_building_id = ANY($1) AND p.membership <> 'none' ORDER BY p.code"
        ))
        .bind(buildings)
        .fetch_all(&self.pool)
        .await
        .ctx("reading party members")?;
        rows.iter().map(member_from_row).collect()
    }

    /// The active cell organisation of each grid.
    pub async fn cell_orgs(&self, grids: Option<&[i64]>) -> Result<HashMap<i64, Org>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ORG} WHERE o.dissolved_at IS NULL AND o.grid_id IS NOT NULL \
             AND ($1::bigint[] IS NULL OR o.grid_id = ANY($1))"
        ))
        .bind(grids)
        .fetch_all(&self.pool)
        .await
        .ctx("reading party cells")?;
        rows.iter()
            .map(|r| org_from_row(r).map(|o| (o.grid_id.unwrap_or_default(), o)))
            .collect()
    }

    /// The chief of each grid, with the chief's membership and committee seat.
    pub async fn grid_chiefs(
        &self,
        grids: Option<&[i64]>,
    ) -> Result<HashMap<i64, ChiefFacts>, StoreError> {
        let rows: Vec<(i64, String, String, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.grid_id, s.code, s.name, p.membership, s.committee FROM staff_assignments a \
             JOIN staff s ON s.id = a.staff_id LEFT JOIN people p ON p.id = s.person_id \
             WHERE a.until IS NULL AND a.role = 'chief' AND ($1::bigint[] IS NULL OR a.grid_id = ANY($1))",
        )
        .bind(grids)
        .fetch_all(&self.pool)
        .await
        .ctx("reading grid chiefs")?;
        Ok(rows
            .into_iter()
            .map(|(g, code, name, m, committee)| {
                (
                    g,
                    ChiefFacts {
                        code,
                        name,
                        membership: m.as_deref().map(membership),
                        committee,
                    },
                )
            })
            .collect())
    }

    /// The facts of compounds, buildings with employees, social organisations and 双报到
    /// registrations of the given communities, for `year`.
    pub async fn party_rule_data(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<RuleData, StoreError> {
        let what = "reading facts for the party rules";
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        let rows = sqlx::query(
            "WITH cs AS (SELECT * FROM compounds WHERE community_id = ANY($1)), \
             bs AS (SELECT b.compound_id, sum(b.residents)::bigint AS residents, min(b.id) AS first \
                 FROM buildings b JOIN cs ON cs.id = b.compound_id GROUP BY 1), \
             fm AS (SELECT b.compound_id, count(*) AS n_full FROM people p JOIN buildings b ON b.id = p.home_building_id \
                 JOIN cs ON cs.id = b.compound_id WHERE p.membership = 'full' GROUP BY 1) \
             SELECT c.id, c.code, c.name, c.kind, c.occupancy_rate, c.built_year, c.community_id, \
               COALESCE(bs.residents, 0) AS residents, COALESCE(fm.n_full, 0) AS n_full, fb.grid_id, \
               c.id IN (SELECT compound_id FROM party_orgs WHERE compound_id IS NOT NULL AND dissolved_at IS NULL) AS has_org, \
               ST_AsBinary(COALESCE(ST_PointOnSurface(c.geom), fb.anchor)) AS point \
             FROM cs c LEFT JOIN bs ON bs.compound_id = c.id LEFT JOIN fm ON fm.compound_id = c.id \
             LEFT JOIN buildings fb ON fb.id = bs.first ORDER BY c.code",
        )
        .bind(communities)
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        let mut data = RuleData::default();
        for r in &rows {
            let kind: String = r.try_get("kind").ctx(what)?;
            data.compounds.push(CompoundFacts {
                id: r.try_get("id").ctx(what)?,
                code: r.try_get("code").ctx(what)?,
                name: r.try_get("name").ctx(what)?,
                kind: CompoundKind::parse(&kind).unwrap_or(CompoundKind::Other),
                occupancy: r.try_get("occupancy_rate").ctx(what)?,
                built_year: r.try_get("built_year").ctx(what)?,
                community_id: r.try_get("community_id").ctx(what)?,
                grid_id: r.try_get("grid_id").ctx(what)?,
                residents: r.try_get("residents").ctx(what)?,
                full: r.try_get("n_full").ctx(what)?,
                has_org: r.try_get("has_org").ctx(what)?,
                point: point(r.try_get("point").ctx(what)?, what)?,
            });
        }
        let rows = sqlx::query(
            "SELECT b.id, b.code, COALESCE(b.name, b.code) AS name, b.employees::bigint AS employees, \
               COALESCE(c.kind = 'commercial', false) AS commercial, g.community_id, b.grid_id, \
               (b.id IN (SELECT building_id FROM party_orgs WHERE building_id IS NOT NULL AND dissolved_at IS NULL) \
                OR COALESCE(b.compound_id IN (SELECT compound_id FROM party_orgs \
                  WHERE compound_id IS NOT NULL AND dissolved_at IS NULL), false)) AS has_org, \
               ST_AsBinary(b.anchor) AS point \
             FROM buildings b JOIN grids g ON g.id = b.grid_id LEFT JOIN compounds c ON c.id = b.compound_id \
             WHERE b.employees > 0 AND g.community_id = ANY($1) ORDER BY b.code",
        )
        .bind(communities)
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        for r in &rows {
            data.buildings.push(BuildingFacts {
                id: r.try_get("id").ctx(what)?,
                code: r.try_get("code").ctx(what)?,
                name: r.try_get("name").ctx(what)?,
                employees: r.try_get("employees").ctx(what)?,
                commercial: r.try_get("commercial").ctx(what)?,
                community_id: r.try_get("community_id").ctx(what)?,
                grid_id: r.try_get("grid_id").ctx(what)?,
                has_org: r.try_get("has_org").ctx(what)?,
                point: point(r.try_get("point").ctx(what)?, what)?,
            });
        }
        for a in associations_in(&mut conn, communities, Some(year), Page::ALL).await? {
            data.associations.push(AssociationFacts {
                id: a.id,
                code: a.code,
                name: a.name,
                kind: a.kind,
                community_id: a.community_id,
                full: a.full_members,
                has_org: a.party_org.is_some(),
                point: a.point,
            });
        }
        for u in units_in(&mut conn, communities, year, Page::ALL).await? {
            data.units.push(UnitFacts {
                id: u.id,
                code: u.code,
                name: u.name,
                community_id: u.community_id,
                projects: u.projects.len() as i64,
                point: u.point,
            });
        }
        let rows = sqlx::query(
            "SELECT p.id, p.code, d.name, m.community_id, b.grid_id, \
               (SELECT count(*) FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2) AS posts, \
               (SELECT count(*) FROM association_members am JOIN associations a ON a.id = am.association_id \
                 WHERE am.person_id = p.id AND a.kind = ANY($3)) AS welfare_orgs, \
               ST_AsBinary(b.anchor) AS point \
             FROM dual_members m JOIN people p ON p.id = m.person_id JOIN person_details d ON d.person_id = p.id \
             LEFT JOIN buildings b ON b.id = p.home_building_id \
             WHERE m.community_id = ANY($1) AND extract(year FROM m.registered_on) <= $2 ORDER BY p.code",
        )
        .bind(communities)
        .bind(year)
        .bind(welfare_kinds())
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        for r in &rows {
            data.members.push(DualMemberFacts {
                person_id: r.try_get("id").ctx(what)?,
                code: r.try_get("code").ctx(what)?,
                name: r.try_get("name").ctx(what)?,
                community_id: r.try_get("community_id").ctx(what)?,
                grid_id: r.try_get("grid_id").ctx(what)?,
                posts: r.try_get("posts").ctx(what)?,
                welfare_orgs: r.try_get("welfare_orgs").ctx(what)?,
                point: point(r.try_get("point").ctx(what)?, what)?,
            });
        }
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT community_id, count(*) FROM associations WHERE community_id = ANY($1) AND kind = ANY($2) \
             AND (founded_year IS NULL OR founded_year <= $3) GROUP BY 1",
        )
        .bind(communities)
        .bind(welfare_kinds())
        .bind(year)
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        data.welfare_orgs = rows.into_iter().collect();
        Ok(data)
    }

    /// Social organisations of the given communities, one page by code (byte order).
    pub async fn associations(
        &self,
        communities: &[i64],
        page: Page<'_>,
    ) -> Result<Vec<Association>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        associations_in(&mut conn, communities, None, page).await
    }

    /// Social organisations and their members counted per community:
    /// (community, organisations, members).
    pub async fn association_counts(
        &self,
        communities: &[i64],
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT a.community_id, count(DISTINCT a.id), count(m.person_id) \
             FROM associations a LEFT JOIN association_members m ON m.association_id = a.id \
             WHERE a.community_id = ANY($1) GROUP BY 1 ORDER BY 1",
        )
        .bind(communities)
        .fetch_all(&self.pool)
        .await
        .ctx("counting social organisations")
    }

    /// 双报到 units of the given communities with their projects of `year`, one page by
    /// code (byte order).
    pub async fn dual_units(
        &self,
        communities: &[i64],
        year: i32,
        page: Page<'_>,
    ) -> Result<Vec<Unit>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        units_in(&mut conn, communities, year, page).await
    }

    /// 双报到 units registered by `year` counted per community, with their members and
    /// their projects of the year: (community, units, members, projects).
    pub async fn unit_counts(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<(i64, i64, i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT u.community_id, count(*), \
               COALESCE(sum((SELECT count(*) FROM dual_members m WHERE m.unit_id = u.id)), 0)::bigint, \
               COALESCE(sum((SELECT count(*) FROM volunteer_projects v WHERE v.unit_id = u.id AND v.year = $2)), 0)::bigint \
             FROM dual_units u WHERE u.community_id = ANY($1) AND extract(year FROM u.registered_on) <= $2 \
             GROUP BY 1 ORDER BY 1",
        )
        .bind(communities)
        .bind(year)
        .fetch_all(&self.pool)
        .await
        .ctx("counting 双报到 units")
    }

    /// 双报到 members of the given communities with their posts of `year`.
    /// The 双报到 members of these communities as (person id, person code, community id,
    /// home grid, whether they hold a post in `year`): what counting and paging need, without
    /// the details of each.
    pub async fn dual_member_keys(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<DualKey>, StoreError> {
        sqlx::query_as(
            "SELECT p.id, p.code, m.community_id, b.grid_id, \
               EXISTS (SELECT 1 FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2) \
             FROM dual_members m JOIN people p ON p.id = m.person_id \
             LEFT JOIN buildings b ON b.id = p.home_building_id \
             WHERE m.community_id = ANY($1)",
        )
        .bind(communities)
        .bind(year)
        .fetch_all(&self.pool)
        .await
        .ctx("reading 双报到 members")
    }

    /// The 双报到 members of these communities (of these people only, if given), by code.
    pub async fn dual_members(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<DualMember>, StoreError> {
        self.dual_members_of(communities, year, None).await
    }

    /// Like [`Self::dual_members`], of the people `only` (ids) when given.
    pub async fn dual_members_of(
        &self,
        communities: &[i64],
        year: i32,
        only: Option<&[i64]>,
    ) -> Result<Vec<DualMember>, StoreError> {
        let what = "reading 双报到 members";
        let rows = sqlx::query(
            "SELECT p.id, p.code, d.name, u.code AS unit_code, m.community_id, c.code AS community_code, \
               b.grid_id, m.registered_on, \
               ARRAY(SELECT v.post FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2 ORDER BY v.post) AS posts \
             FROM dual_members m JOIN people p ON p.id = m.person_id JOIN person_details d ON d.person_id = p.id \
             JOIN communities c ON c.id = m.community_id LEFT JOIN dual_units u ON u.id = m.unit_id \
             LEFT JOIN buildings b ON b.id = p.home_building_id \
             WHERE m.community_id = ANY($1) AND ($3::bigint[] IS NULL OR p.id = ANY($3)) ORDER BY p.code",
        )
        .bind(communities)
        .bind(year)
        .bind(only)
        .fetch_all(&self.pool)
        .await
        .ctx(what)?;
        rows.iter()
            .map(|r| {
                Ok(DualMember {
                    person_id: r.try_get("id").ctx(what)?,
                    code: r.try_get("code").ctx(what)?,
                    name: r.try_get("name").ctx(what)?,
                    unit_code: r.try_get("unit_code").ctx(what)?,
                    community_id: r.try_get("community_id").ctx(what)?,
                    community_code: r.try_get("community_code").ctx(what)?,
                    grid_id: r.try_get("grid_id").ctx(what)?,
                    registered_on: r.try_get("registered_on").ctx(what)?,
                    posts: r.try_get("posts").ctx(what)?,
                })
            })
            .collect()
    }

    /// Every party member with a home building, as (person id, building id), by person id:
    /// the input of a full re-assignment.
    pub async fn party_member_homes(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT id, home_building_id FROM people WHERE membership <> 'none' \
             AND home_building_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading party members' homes")
    }

    /// The stored cell of every party member, by person id.
    pub async fn party_assignments(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as("SELECT person_id, grid_id FROM party_assignments ORDER BY person_id")
            .fetch_all(&self.pool)
            .await
            .ctx("reading party assignments")
    }

    /// The same assignment as [`crate::spatial::assign::assign_members`], computed by
    /// PostGIS with a spatial join: each member's home building anchor against the current
    /// second-level grids (lowest id on a shared boundary). The baseline of the benchmark and
    /// the reference of the tests.
    pub async fn assign_members_in_postgis(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        sqlx::query_as(
            "SELECT p.id, g.id FROM people p JOIN buildings b ON b.id = p.home_building_id \
             LEFT JOIN LATERAL (SELECT c.id FROM current_grids c WHERE c.level = 2 \
               AND ST_Covers(c.geom, b.anchor) ORDER BY c.id LIMIT 1) g ON true \
             WHERE p.membership <> 'none' ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("assigning members in PostGIS")
    }

    /// Writes the cells the index computed where they differ from the stored ones (and the
    /// member's building still is where the index has it); returns how many were fixed.
    pub async fn repair_assignments(
        &self,
        fixes: &[(i64, i64)],
        actor: &Actor,
    ) -> Result<usize, StoreError> {
        if fixes.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let (people, grids): (Vec<i64>, Vec<i64>) = fixes.iter().copied().unzip();
        let fixed: Vec<String> = sqlx::query_scalar(
            "WITH f AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS f(person_id, grid_id)), \
             ins AS (INSERT INTO party_assignments (person_id, grid_id) \
               SELECT f.person_id, f.grid_id FROM f JOIN people p ON p.id = f.person_id \
               WHERE p.membership <> 'none' \
               ON CONFLICT (person_id) DO UPDATE SET grid_id = EXCLUDED.grid_id, since = now() \
               WHERE party_assignments.grid_id <> EXCLUDED.grid_id RETURNING person_id) \
             SELECT p.code FROM ins JOIN people p ON p.id = ins.person_id ORDER BY 1",
        )
        .bind(&people)
        .bind(&grids)
        .fetch_all(&mut *tx)
        .await
        .ctx("repairing party assignments")?;
        if !fixed.is_empty() {
            audit::write(
                &mut tx,
                actor,
                Entry {
                    action: "repair",
                    entity: "party_assignments",
                    key: "all",
                    before: None,
                    // Counts only: an entry without a region is read by every region's
                    // administrators.
                    after: Some(json!({ "members_fixed": fixed.len() })),
                    region_id: None,
                },
            )
            .await?;
        }
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing repaired assignments")?;
        Ok(fixed.len())
    }
}

async fn associations_in(
    conn: &mut PgConnection,
    communities: &[i64],
    year: Option<i32>,
    page: Page<'_>,
) -> Result<Vec<Association>, StoreError> {
    let what = "reading social organisations";
    let rows = sqlx::query(
        "SELECT a.id, a.code, a.name, a.kind, a.community_id, c.code AS community_code, a.founded_year, \
           (SELECT count(*) FROM association_members m WHERE m.association_id = a.id) AS members, \
           (SELECT count(*) FROM association_members m JOIN people p ON p.id = m.person_id \
             WHERE m.association_id = a.id AND p.membership = 'full') AS full_members, \
           (SELECT o.code FROM party_orgs o WHERE o.association_id = a.id AND o.dissolved_at IS NULL ORDER BY o.id LIMIT 1) AS party_org, \
           ST_AsBinary(a.geom) AS point \
         FROM associations a JOIN communities c ON c.id = a.community_id \
         WHERE a.community_id = ANY($1) AND ($2::int IS NULL OR a.founded_year IS NULL OR a.founded_year <= $2) \
           AND ($3::text IS NULL OR a.code COLLATE \"C\" > $3) \
         ORDER BY a.code COLLATE \"C\" LIMIT $4",
    )
    .bind(communities)
    .bind(year)
    .bind(page.after)
    .bind(page.limit)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind").ctx(what)?;
            Ok(Association {
                id: r.try_get("id").ctx(what)?,
                code: r.try_get("code").ctx(what)?,
                name: r.try_get("name").ctx(what)?,
                kind: AssociationKind::parse(&kind).unwrap_or(AssociationKind::Other),
                community_id: r.try_get("community_id").ctx(what)?,
                community_code: r.try_get("community_code").ctx(what)?,
                founded_year: r.try_get("founded_year").ctx(what)?,
                members: r.try_get("members").ctx(what)?,
                full_members: r.try_get("full_members").ctx(what)?,
                party_org: r.try_get("party_org").ctx(what)?,
                point: point(r.try_get("point").ctx(what)?, what)?,
            })
        })
        .collect()
}

async fn units_in(
    conn: &mut PgConnection,
    communities: &[i64],
    year: i32,
    page: Page<'_>,
) -> Result<Vec<Unit>, StoreError> {
    let what = "reading 双报到 units";
    let rows = sqlx::query(
        "SELECT u.id, u.code, u.name, u.party_org_name, u.community_id, c.code AS community_code, \
           u.registered_on, (SELECT count(*) FROM dual_members m WHERE m.unit_id = u.id) AS members, \
           ST_AsBinary(u.geom) AS point \
         FROM dual_units u JOIN communities c ON c.id = u.community_id \
         WHERE u.community_id = ANY($1) AND extract(year FROM u.registered_on) <= $2 \
           AND ($3::text IS NULL OR u.code COLLATE \"C\" > $3) \
         ORDER BY u.code COLLATE \"C\" LIMIT $4",
    )
    .bind(communities)
    .bind(year)
    .bind(page.after)
    .bind(page.limit)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let ids = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<i64>, _>>()
        .ctx(what)?;
    let projects: Vec<(i64, String, String, i32)> = sqlx::query_as(
        "SELECT v.unit_id, v.code, v.name, v.year FROM volunteer_projects v \
         WHERE v.unit_id = ANY($1) AND v.year = $2 ORDER BY v.code",
    )
    .bind(&ids)
    .bind(year)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut by_unit: HashMap<i64, Vec<Project>> = HashMap::new();
    for (u, code, name, year) in projects {
        by_unit
            .entry(u)
            .or_default()
            .push(Project { code, name, year });
    }
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id").ctx(what)?;
            Ok(Unit {
                id,
                code: r.try_get("code").ctx(what)?,
                name: r.try_get("name").ctx(what)?,
                party_org_name: r.try_get("party_org_name").ctx(what)?,
                community_id: r.try_get("community_id").ctx(what)?,
                community_code: r.try_get("community_code").ctx(what)?,
                registered_on: r.try_get("registered_on").ctx(what)?,
                projects: by_unit.remove(&id).unwrap_or_default(),
                members: r.try_get("members").ctx(what)?,
                point: point(r.try_get("point").ctx(what)?, what)?,
            })
        })
        .collect()
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

async fn region_of(tx: &mut PgConnection, community_id: i64) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar("SELECT region_id FROM communities WHERE id = $1")
        .bind(community_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding a region")
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
    let row = sqlx::query(&format!("{ORG} WHERE o.code = $1 FOR UPDATE OF o"))
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading a party organisation")?;
    row.as_ref().map(org_from_row).transpose()
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
    sqlx::query_as(sql)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding what an organisation is attached to")?
        .ok_or_else(|| {
            FieldError::new(
                "attached_to.code",
                format!("no {kind:?} {code}").to_lowercase(),
            )
            .into()
        })
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

/// Appends an audit entry for a change in a community (the entry's region is the
/// community's).
async fn log(
    tx: &mut PgConnection,
    actor: &Actor,
    community: i64,
    mut entry: Entry<'_>,
) -> Result<(), StoreError> {
    entry.region_id = region_of(tx, community).await?;
    audit::write(tx, actor, entry).await
}

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

    /// Creates or changes a party organisation. Cells follow their grids: they may be
    /// renamed, not created; a 大党委 is one per community; a functional organisation is
    /// attached to exactly one compound, building or association (in whose community it is).
    pub async fn put_party_org(&self, input: &OrgInput, actor: &Actor) -> Result<Org, StoreError> {
        check_code(&input.code, "code")?;
        check_name(&input.name, "name")?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = org_in(&mut tx, &input.code).await?;
        let is_cell = matches!(input.kind, OrgKind::GridBranch | OrgKind::GridGroup);
        if input.kind != OrgKind::Functional && input.attach.is_some() {
            return Err(FieldError::new(
                "attached_to",
                "only a functional organisation is attached to a compound, building or association",
            )
            .into());
        }
        if let Some(form) = input.form {
            let fits = match input.kind {
                OrgKind::Functional => form != OrgForm::Committee,
                OrgKind::CommunityCommittee => form == OrgForm::Committee,
                OrgKind::GridBranch => form == OrgForm::Branch,
                OrgKind::GridGroup => form == OrgForm::Group,
            };
            if !fits {
                return Err(FieldError::new("form", "this form does not fit the kind").into());
            }
        }
        let community = match &before {
            Some(o) if o.dissolved_at.is_some() => {
                return Err(StoreError::Conflict(format!(
                    "party organisation {} is dissolved; give a new organisation a new code",
                    o.code
                )))
            }
            Some(o) if o.kind != input.kind => {
                return Err(StoreError::Conflict(format!(
                    "party organisation {} is a {}, not a {}",
                    o.code,
                    o.kind.as_str(),
                    input.kind.as_str()
                )))
            }
            Some(o) => {
                let (compound, building, association) = match &input.attach {
                    Some((k, c)) => {
                        let (id, cid) = attachment(&mut tx, *k, c).await?;
                        if cid != o.community_id {
                            return Err(FieldError::new(
                                "attached_to",
                                "a functional organisation stays in its community",
                            )
                            .into());
                        }
                        (
                            (*k == AttachKind::Compound).then_some(id),
                            (*k == AttachKind::Building).then_some(id),
                            (*k == AttachKind::Association).then_some(id),
                        )
                    }
                    None => (None, None, None),
                };
                let keep = input.attach.is_none();
                sqlx::query(
                    "UPDATE party_orgs SET name = $2, form = COALESCE($3, form), \
                       compound_id = CASE WHEN $7 THEN compound_id ELSE $4 END, \
                       building_id = CASE WHEN $7 THEN building_id ELSE $5 END, \
                       association_id = CASE WHEN $7 THEN association_id ELSE $6 END WHERE id = $1",
                )
                .bind(o.id)
                .bind(input.name.trim())
                .bind(input.form.map(OrgForm::as_str))
                .bind(compound)
                .bind(building)
                .bind(association)
                .bind(keep)
                .execute(&mut *tx)
                .await
                .ctx("changing a party organisation")?;
                o.community_id
            }
            None if is_cell => {
                return Err(StoreError::Conflict(
                    "grid branches and groups are created with their grid; create the grid instead"
                        .into(),
                ))
            }
            None => {
                let (community, form, compound, building, association) = match input.kind {
                    OrgKind::CommunityCommittee => {
                        let code = input.community_code.as_deref().ok_or_else(|| {
                            FieldError::new("community_code", "a 大党委 needs its community")
                        })?;
                        let c = community_id(&mut tx, code, "community_code").await?;
                        (c, OrgForm::Committee, None, None, None)
                    }
                    _ => {
                        let (k, code) = input.attach.as_ref().ok_or_else(|| {
                            FieldError::new(
                                "attached_to",
                                "a functional organisation is attached to a compound, building or association",
                            )
                        })?;
                        let (id, c) = attachment(&mut tx, *k, code).await?;
                        (
                            c,
                            input.form.unwrap_or(OrgForm::Branch),
                            (*k == AttachKind::Compound).then_some(id),
                            (*k == AttachKind::Building).then_some(id),
                            (*k == AttachKind::Association).then_some(id),
                        )
                    }
                };
                let res = sqlx::query(
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, compound_id, building_id, association_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&input.code)
                .bind(input.name.trim())
                .bind(input.kind.as_str())
                .bind(form.as_str())
                .bind(community)
                .bind(compound)
                .bind(building)
                .bind(association)
                .execute(&mut *tx)
                .await;
                conflict_on_reference(res, "creating a party organisation", || {
                    "the community already has a 大党委".to_string()
                })?;
                community
            }
        };
        let after = org_in(&mut tx, &input.code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("party organisation {}", input.code)))?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "party_org",
                key: &input.code,
                before: before.map(|b| json!(b)),
                after: Some(json!(after)),
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a party organisation")?;
        Ok(after)
    }

    /// Dissolves a functional organisation: its members leave it; its row and officers stay
    /// as history. Cells are dissolved with their grid, a 大党委 not at all.
    pub async fn dissolve_party_org(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let org = active_org(&mut tx, code).await?;
        if org.kind != OrgKind::Functional {
            return Err(StoreError::Conflict(format!(
                "{code} is a {}: only functional organisations are dissolved this way (cells go with their grid)",
                org.kind.as_str()
            )));
        }
        sqlx::query("DELETE FROM functional_members WHERE org_id = $1")
            .bind(org.id)
            .execute(&mut *tx)
            .await
            .ctx("dissolving a party organisation")?;
        sqlx::query("UPDATE party_orgs SET dissolved_at = now() WHERE id = $1")
            .bind(org.id)
            .execute(&mut *tx)
            .await
            .ctx("dissolving a party organisation")?;
        log(
            &mut tx,
            actor,
            org.community_id,
            Entry {
                action: "dissolve",
                entity: "party_org",
                key: code,
                before: Some(json!(org)),
                after: None,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a dissolution")?;
        Ok(())
    }

    /// Replaces the officers of an organisation. Officers are full members; the roles must
    /// fit the organisation's form.
    pub async fn set_party_officers(
        &self,
        code: &str,
        officers: &[(String, OfficerRole)],
        actor: &Actor,
    ) -> Result<Vec<Officer>, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let org = active_org(&mut tx, code).await?;
        let roles: Vec<OfficerRole> = officers.iter().map(|o| o.1).collect();
        check_officers(org.form, &roles)?;
        let mut ids = Vec::with_capacity(officers.len());
        let mut seen = HashSet::new();
        for (i, (person, _)) in officers.iter().enumerate() {
            let field = format!("officers[{i}].person_code");
            let (id, m) = person_of(&mut tx, person, &field).await?;
            if !party::may_hold_office(m) {
                return Err(FieldError::new(
                    field,
                    format!("{person} is not a full party member and cannot hold office"),
                )
                .into());
            }
            if !seen.insert(id) {
                return Err(FieldError::new(field, format!("{person} is listed twice")).into());
            }
            ids.push(id);
        }
        let before = officer_codes(&mut tx, org.id).await?;
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        sqlx::query(
            "DELETE FROM party_officers f WHERE f.org_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM unnest($2::bigint[], $3::text[]) AS n(person_id, role) \
              WHERE n.person_id = f.person_id AND n.role = f.role)",
        )
        .bind(org.id)
        .bind(&ids)
        .bind(&role_names)
        .execute(&mut *tx)
        .await
        .ctx("replacing officers")?;
        sqlx::query(
            "INSERT INTO party_officers (org_id, person_id, role) \
             SELECT $1, n.person_id, n.role FROM unnest($2::bigint[], $3::text[]) AS n(person_id, role) \
             ON CONFLICT (org_id, person_id) DO NOTHING",
        )
        .bind(org.id)
        .bind(&ids)
        .bind(&role_names)
        .execute(&mut *tx)
        .await
        .ctx("replacing officers")?;
        let after = officer_codes(&mut tx, org.id).await?;
        log(
            &mut tx,
            actor,
            org.community_id,
            Entry {
                action: "assign",
                entity: "party_officers",
                key: code,
                before: Some(json!(before)),
                after: Some(json!(after)),
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing officers")?;
        self.party_officers(org.id).await
    }

    /// Replaces the members of a functional organisation. Each must be a party member and
    /// in no other functional organisation.
    pub async fn set_functional_members(
        &self,
        code: &str,
        people: &[String],
        actor: &Actor,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let org = active_org(&mut tx, code).await?;
        if org.kind != OrgKind::Functional {
            return Err(StoreError::Conflict(format!(
                "{code} is a {}: its members are those living in its grids",
                org.kind.as_str()
            )));
        }
        let mut ids = Vec::with_capacity(people.len());
        let mut seen = HashSet::new();
        for (i, p) in people.iter().enumerate() {
            let field = format!("members[{i}]");
            let (id, m) = person_of(&mut tx, p, &field).await?;
            if !m.is_member() {
                return Err(FieldError::new(field, format!("{p} is not a party member")).into());
            }
            if !seen.insert(id) {
                return Err(FieldError::new(field, format!("{p} is listed twice")).into());
            }
            ids.push(id);
        }
        let elsewhere: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.code, o.code FROM functional_members f JOIN people p ON p.id = f.person_id \
             JOIN party_orgs o ON o.id = f.org_id WHERE f.person_id = ANY($1) AND f.org_id <> $2 ORDER BY p.code LIMIT 10",
        )
        .bind(&ids)
        .bind(org.id)
        .fetch_all(&mut *tx)
        .await
        .ctx("checking functional memberships")?;
        if !elsewhere.is_empty() {
            let list: Vec<String> = elsewhere
                .iter()
                .map(|(p, o)| format!("{p} (in {o})"))
                .collect();
            return Err(StoreError::Conflict(format!(
                "a member belongs to one functional organisation at most: {}",
                list.join(", ")
            )));
        }
        let before: Vec<String> = member_codes(&mut tx, org.id).await?;
        sqlx::query(
            "DELETE FROM functional_members WHERE org_id = $1 AND NOT (person_id = ANY($2))",
        )
        .bind(org.id)
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .ctx("replacing functional members")?;
        sqlx::query(
            "INSERT INTO functional_members (person_id, org_id) SELECT unnest($2::bigint[]), $1 \
             ON CONFLICT (person_id) DO NOTHING",
        )
        .bind(org.id)
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .ctx("replacing functional members")?;
        let after = member_codes(&mut tx, org.id).await?;
        log(
            &mut tx,
            actor,
            org.community_id,
            Entry {
                action: "assign",
                entity: "functional_members",
                key: code,
                before: Some(json!(before)),
                after: Some(json!(after)),
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing functional members")?;
        Ok(ids.len())
    }

    /// Creates or replaces a social organisation (and its members, when given).
    pub async fn put_association(
        &self,
        a: &AssociationInput,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_code(&a.code, "code")?;
        check_name(&a.name, "name")?;
        if let Some(y) = a.founded_year {
            check_year(y, "founded_year").or_else(|_| {
                if (1900..2000).contains(&y) {
                    Ok(())
                } else {
                    Err(FieldError::new(
                        "founded_year",
                        "a year between 1900 and 2100",
                    ))
                }
            })?;
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let community = community_id(&mut tx, &a.community_code, "community_code").await?;
        let before = association_json(&mut tx, &a.code).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO associations (code, name, kind, community_id, founded_year, geom) \
             VALUES ($1, $2, $3, $4, $5, ST_GeomFromWKB($6, 4326)) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, \
               community_id = EXCLUDED.community_id, founded_year = EXCLUDED.founded_year, geom = EXCLUDED.geom \
             RETURNING id",
        )
        .bind(&a.code)
        .bind(a.name.trim())
        .bind(a.kind.as_str())
        .bind(community)
        .bind(a.founded_year)
        .bind(a.point.map(wkb::encode_point))
        .fetch_one(&mut *tx)
        .await
        .ctx("writing a social organisation")?;
        if let Some(members) = &a.members {
            let mut ids = Vec::with_capacity(members.len());
            for (i, p) in members.iter().enumerate() {
                ids.push(person_of(&mut tx, p, &format!("members[{i}]")).await?.0);
            }
            sqlx::query("DELETE FROM association_members WHERE association_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("replacing association members")?;
            sqlx::query(
                "INSERT INTO association_members (association_id, person_id) SELECT $1, unnest($2::bigint[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .ctx("replacing association members")?;
        }
        let after = association_json(&mut tx, &a.code).await?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "association",
                key: &a.code,
                before,
                after,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a social organisation")
    }

    /// Deletes a social organisation (refused while a party organisation is attached to it).
    pub async fn delete_association(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = association_json(&mut tx, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("social organisation {code}")))?;
        let community: i64 =
            sqlx::query_scalar("SELECT community_id FROM associations WHERE code = $1")
                .bind(code)
                .fetch_one(&mut *tx)
                .await
                .ctx("finding a social organisation")?;
        let res = sqlx::query("DELETE FROM associations WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await;
        conflict_on_reference(res, "deleting a social organisation", || {
            format!("a party organisation is (or was) attached to {code}; it is kept for history")
        })?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: "delete",
                entity: "association",
                key: code,
                before: Some(before),
                after: None,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a deletion")
    }

    /// Creates or replaces a 双报到 unit.
    pub async fn put_dual_unit(&self, u: &UnitInput, actor: &Actor) -> Result<(), StoreError> {
        check_code(&u.code, "code")?;
        check_name(&u.name, "name")?;
        if let Some(n) = &u.party_org_name {
            check_name(n, "party_org_name")?;
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let community = community_id(&mut tx, &u.community_code, "community_code").await?;
        let before = unit_json(&mut tx, &u.code).await?;
        sqlx::query(
            "INSERT INTO dual_units (code, name, party_org_name, community_id, registered_on, geom) \
             VALUES ($1, $2, $3, $4, $5, ST_GeomFromWKB($6, 4326)) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, party_org_name = EXCLUDED.party_org_name, \
               community_id = EXCLUDED.community_id, registered_on = EXCLUDED.registered_on, geom = EXCLUDED.geom",
        )
        .bind(&u.code)
        .bind(u.name.trim())
        .bind(u.party_org_name.as_deref().map(str::trim))
        .bind(community)
        .bind(u.registered_on)
        .bind(u.point.map(wkb::encode_point))
        .execute(&mut *tx)
        .await
        .ctx("writing a 双报到 unit")?;
        let after = unit_json(&mut tx, &u.code).await?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "dual_unit",
                key: &u.code,
                before,
                after,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a 双报到 unit")
    }

    /// Deletes a 双报到 unit with its projects (its members stay registered on their own).
    pub async fn delete_dual_unit(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = unit_json(&mut tx, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("双报到 unit {code}")))?;
        let community: i64 =
            sqlx::query_scalar("DELETE FROM dual_units WHERE code = $1 RETURNING community_id")
                .bind(code)
                .fetch_one(&mut *tx)
                .await
                .ctx("deleting a 双报到 unit")?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: "delete",
                entity: "dual_unit",
                key: code,
                before: Some(before),
                after: None,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a deletion")
    }

    /// Registers (or changes the registration of) an in-service party member with a
    /// community: the one given, else the community of their home.
    pub async fn put_dual_member(
        &self,
        person: &str,
        unit_code: Option<&str>,
        community_code: Option<&str>,
        registered_on: NaiveDate,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let (pid, m) = person_of(&mut tx, person, "person_code").await?;
        if !m.is_member() {
            return Err(
                FieldError::new("person_code", format!("{person} is not a party member")).into(),
            );
        }
        let unit: Option<i64> = match unit_code {
            None => None,
            Some(u) => Some(
                sqlx::query_scalar("SELECT id FROM dual_units WHERE code = $1")
                    .bind(u)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding a unit")?
                    .ok_or_else(|| FieldError::new("unit_code", format!("no 双报到 unit {u}")))?,
            ),
        };
        let community = match community_code {
            Some(c) => community_id(&mut tx, c, "community_code").await?,
            None => sqlx::query_scalar(
                "SELECT g.community_id FROM people p JOIN buildings b ON b.id = p.home_building_id \
                 JOIN grids g ON g.id = b.grid_id WHERE p.id = $1",
            )
            .bind(pid)
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding a person's community")?
            .ok_or_else(|| {
                FieldError::new(
                    "community_code",
                    "the person has no home building: name the community",
                )
            })?,
        };
        let before: Option<serde_json::Value> = dual_json(&mut tx, pid).await?;
        sqlx::query(
            "INSERT INTO dual_members (person_id, unit_id, community_id, registered_on) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id) DO UPDATE SET unit_id = EXCLUDED.unit_id, community_id = EXCLUDED.community_id, \
               registered_on = EXCLUDED.registered_on",
        )
        .bind(pid)
        .bind(unit)
        .bind(community)
        .bind(registered_on)
        .execute(&mut *tx)
        .await
        .ctx("registering a 双报到 member")?;
        let after = dual_json(&mut tx, pid).await?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "dual_member",
                key: person,
                before,
                after,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a 双报到 member")
    }

    /// Ends a member's 双报到 registration.
    pub async fn delete_dual_member(&self, person: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let (pid, _) = person_of(&mut tx, person, "person_code").await?;
        let before = dual_json(&mut tx, pid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("双报到 member {person}")))?;
        let community: i64 = sqlx::query_scalar(
            "DELETE FROM dual_members WHERE person_id = $1 RETURNING community_id",
        )
        .bind(pid)
        .fetch_one(&mut *tx)
        .await
        .ctx("ending a 双报到 registration")?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: "delete",
                entity: "dual_member",
                key: person,
                before: Some(before),
                after: None,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a deletion")
    }

    /// Creates or replaces a volunteer project.
    pub async fn put_project(&self, p: &ProjectInput, actor: &Actor) -> Result<(), StoreError> {
        check_code(&p.code, "code")?;
        check_name(&p.name, "name")?;
        check_year(p.year, "year")?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let unit: Option<(i64, i64)> = match &p.unit_code {
            None => None,
            Some(u) => Some(
                sqlx::query_as("SELECT id, community_id FROM dual_units WHERE code = $1")
                    .bind(u)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding a unit")?
                    .ok_or_else(|| FieldError::new("unit_code", format!("no 双报到 unit {u}")))?,
            ),
        };
        let community = match (&p.community_code, unit) {
            (Some(c), _) => community_id(&mut tx, c, "community_code").await?,
            (None, Some((_, c))) => c,
            (None, None) => {
                return Err(FieldError::new(
                    "community_code",
                    "a project needs a community or a unit",
                )
                .into())
            }
        };
        let before = project_json(&mut tx, &p.code).await?;
        sqlx::query(
            "INSERT INTO volunteer_projects (code, name, community_id, unit_id, year) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, community_id = EXCLUDED.community_id, \
               unit_id = EXCLUDED.unit_id, year = EXCLUDED.year",
        )
        .bind(&p.code)
        .bind(p.name.trim())
        .bind(community)
        .bind(unit.map(|u| u.0))
        .bind(p.year)
        .execute(&mut *tx)
        .await
        .ctx("writing a volunteer project")?;
        let after = project_json(&mut tx, &p.code).await?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "volunteer_project",
                key: &p.code,
                before,
                after,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a volunteer project")
    }

    /// Deletes a volunteer project (posts taken on it stay, without the link).
    pub async fn delete_project(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = project_json(&mut tx, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("volunteer project {code}")))?;
        let community: i64 = sqlx::query_scalar(
            "DELETE FROM volunteer_projects WHERE code = $1 RETURNING community_id",
        )
        .bind(code)
        .fetch_one(&mut *tx)
        .await
        .ctx("deleting a volunteer project")?;
        log(
            &mut tx,
            actor,
            community,
            Entry {
                action: "delete",
                entity: "volunteer_project",
                key: code,
                before: Some(before),
                after: None,
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing a deletion")
    }

    /// Replaces the volunteer posts a member holds in `year` (post name, project code).
    pub async fn set_posts(
        &self,
        person: &str,
        year: i32,
        posts: &[(String, Option<String>)],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year, "year")?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let (pid, m) = person_of(&mut tx, person, "person_code").await?;
        if !m.is_member() {
            return Err(
                FieldError::new("person_code", format!("{person} is not a party member")).into(),
            );
        }
        let mut names = Vec::with_capacity(posts.len());
        let mut projects = Vec::with_capacity(posts.len());
        let mut seen = HashSet::new();
        for (i, (post, project)) in posts.iter().enumerate() {
            check_name(post, &format!("posts[{i}].post"))?;
            if !seen.insert(post.trim().to_string()) {
                return Err(FieldError::new(
                    format!("posts[{i}].post"),
                    "the same post is listed twice",
                )
                .into());
            }
            names.push(post.trim().to_string());
            projects.push(match project {
                None => None,
                Some(c) => Some(
                    sqlx::query_scalar::<_, i64>(
                        "SELECT id FROM volunteer_projects WHERE code = $1 AND year = $2",
                    )
                    .bind(c)
                    .bind(year)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding a project")?
                    .ok_or_else(|| {
                        FieldError::new(
                            format!("posts[{i}].project_code"),
                            format!("no volunteer project {c} in {year}"),
                        )
                    })?,
                ),
            });
        }
        let community: Option<i64> = sqlx::query_scalar(
            "SELECT COALESCE(m.community_id, g.community_id) FROM people p \
             LEFT JOIN dual_members m ON m.person_id = p.id LEFT JOIN buildings b ON b.id = p.home_building_id \
             LEFT JOIN grids g ON g.id = b.grid_id WHERE p.id = $1",
        )
        .bind(pid)
        .fetch_one(&mut *tx)
        .await
        .ctx("finding a person's community")?;
        let before: Vec<String> = sqlx::query_scalar(
            "SELECT post FROM volunteer_posts WHERE person_id = $1 AND year = $2 ORDER BY post",
        )
        .bind(pid)
        .bind(year)
        .fetch_all(&mut *tx)
        .await
        .ctx("reading posts")?;
        sqlx::query("DELETE FROM volunteer_posts WHERE person_id = $1 AND year = $2")
            .bind(pid)
            .bind(year)
            .execute(&mut *tx)
            .await
            .ctx("replacing posts")?;
        sqlx::query(
            "INSERT INTO volunteer_posts (person_id, year, post, project_id) \
             SELECT $1, $2, n.post, n.project FROM unnest($3::text[], $4::bigint[]) AS n(post, project)",
        )
        .bind(pid)
        .bind(year)
        .bind(&names)
        .bind(&projects)
        .execute(&mut *tx)
        .await
        .ctx("replacing posts")?;
        let key = format!("{person}/{year}");
        let region_id = match community {
            Some(c) => region_of(&mut tx, c).await?,
            None => None,
        };
        names.sort();
        audit::write(
            &mut tx,
            actor,
            Entry {
                action: "assign",
                entity: "volunteer_posts",
                key: &key,
                before: Some(json!(before)),
                after: Some(json!(names)),
                region_id,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing posts")
    }
}

async fn officer_codes(
    tx: &mut PgConnection,
    org_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    sqlx::query_as(
        "SELECT p.code, f.role FROM party_officers f JOIN people p ON p.id = f.person_id \
         WHERE f.org_id = $1 ORDER BY f.role, p.code",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading officers")
}

async fn member_codes(tx: &mut PgConnection, org_id: i64) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT p.code FROM functional_members f JOIN people p ON p.id = f.person_id \
         WHERE f.org_id = $1 ORDER BY p.code",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading functional members")
}

async fn association_json(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    sqlx::query_scalar(
        "SELECT json_build_object('code', a.code, 'name', a.name, 'kind', a.kind, 'community_code', c.code, \
           'founded_year', a.founded_year, 'members', \
           ARRAY(SELECT p.code FROM association_members m JOIN people p ON p.id = m.person_id \
                 WHERE m.association_id = a.id ORDER BY p.code)) \
         FROM associations a JOIN communities c ON c.id = a.community_id WHERE a.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a social organisation")
}

async fn unit_json(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    sqlx::query_scalar(
        "SELECT json_build_object('code', u.code, 'name', u.name, 'party_org_name', u.party_org_name, \
           'community_code', c.code, 'registered_on', u.registered_on) \
         FROM dual_units u JOIN communities c ON c.id = u.community_id WHERE u.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a 双报到 unit")
}

async fn dual_json(
    tx: &mut PgConnection,
    person_id: i64,
) -> Result<Option<serde_json::Value>, StoreError> {
    sqlx::query_scalar(
        "SELECT json_build_object('unit_code', u.code, 'community_code', c.code, 'registered_on', m.registered_on) \
         FROM dual_members m JOIN communities c ON c.id = m.community_id LEFT JOIN dual_units u ON u.id = m.unit_id \
         WHERE m.person_id = $1",
    )
    .bind(person_id)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a 双报到 registration")
}

async fn project_json(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    sqlx::query_scalar(
        "SELECT json_build_object('code', v.code, 'name', v.name, 'community_code', c.code, \
           'unit_code', u.code, 'year', v.year) \
         FROM volunteer_projects v JOIN communities c ON c.id = v.community_id \
         LEFT JOIN dual_units u ON u.id = v.unit_id WHERE v.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a volunteer project")
}

/// The step of the grid-change transaction that keeps the party cells in line: dissolves
/// the cells of deleted grids, creates cells for new grids (and a 大党委 for a community
/// that has none), and reports the members whose cell changed with their building (the
/// triggers of migration 0005 have already moved them). Call it after the buildings are
/// re-assigned.
pub(crate) async fn after_grid_changes(
    tx: &mut PgConnection,
    moves: &[Move],
    touched: &[i64],
    actor: &Actor,
) -> Result<CellsFollowed, StoreError> {
    let what = "keeping party cells with the grids";
    let dissolved: Vec<String> = sqlx::query_scalar(
        "UPDATE party_orgs o SET dissolved_at = now() WHERE o.grid_id = ANY($1) AND o.dissolved_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM grid_versions v WHERE v.grid_id = o.grid_id AND v.valid_to IS NULL) \
         RETURNING o.code",
    )
    .bind(touched)
    .fetch_all(&mut *tx)
    .await
    .ctx(what)?;
    let missing: Vec<(i64, String, String, i16, i64)> = sqlx::query_as(
        "SELECT g.id, g.code, g.name, g.level, g.community_id FROM current_grids g \
         WHERE g.id = ANY($1) AND NOT EXISTS \
           (SELECT 1 FROM party_orgs o WHERE o.grid_id = g.id AND o.dissolved_at IS NULL) ORDER BY g.id",
    )
    .bind(touched)
    .fetch_all(&mut *tx)
    .await
    .ctx(what)?;
    let mut created = Vec::new();
    if !missing.is_empty() {
        let mut codes = Vec::new();
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut forms = Vec::new();
        let mut communities = Vec::new();
        let mut grids = Vec::new();
        for (id, code, name, level, community) in &missing {
            let level = GridLevel::from_number(*level as i64).unwrap_or(GridLevel::Second);
            let kind = OrgKind::of_level(level);
            codes.push(party::cell_org_code(code, level));
            names.push(party::cell_org_name(name, level));
            kinds.push(kind.as_str());
            forms.push(match level {
                GridLevel::First => OrgForm::Branch.as_str(),
                GridLevel::Second => OrgForm::Group.as_str(),
            });
            communities.push(*community);
            grids.push(*id);
        }
        // A code of a dissolved cell (of an earlier grid with this code) gets the grid id.
        created = sqlx::query_scalar(
            "INSERT INTO party_orgs (code, name, kind, form, community_id, grid_id) \
             SELECT CASE WHEN EXISTS (SELECT 1 FROM party_orgs x WHERE x.code = n.code) \
                    THEN n.code || '-' || n.grid ELSE n.code END, n.name, n.kind, n.form, n.community, n.grid \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
               AS n(code, name, kind, form, community, grid) RETURNING code",
        )
        .bind(&codes)
        .bind(&names)
        .bind(&kinds)
        .bind(&forms)
        .bind(&communities)
        .bind(&grids)
        .fetch_all(&mut *tx)
        .await
        .ctx(what)?;
    }
    let lacking: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT c.id, c.code, c.name FROM communities c WHERE c.id IN \
           (SELECT community_id FROM grids WHERE id = ANY($1)) \
         AND NOT EXISTS (SELECT 1 FROM party_orgs o WHERE o.community_id = c.id \
           AND o.kind = 'community_committee' AND o.dissolved_at IS NULL) ORDER BY c.id",
    )
    .bind(touched)
    .fetch_all(&mut *tx)
    .await
    .ctx(what)?;
    for (id, code, name) in lacking {
        let c: String = sqlx::query_scalar(
            "INSERT INTO party_orgs (code, name, kind, form, community_id) \
             VALUES (CASE WHEN EXISTS (SELECT 1 FROM party_orgs x WHERE x.code = $1) THEN $1 || '-' || $4 ELSE $1 END, \
                     $2, $3, 'committee', $4) RETURNING code",
        )
        .bind(party::committee_code(&code))
        .bind(party::committee_name(&name))
        .bind(OrgKind::CommunityCommittee.as_str())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .ctx(what)?;
        created.push(c);
    }
    let moved_buildings: Vec<i64> = moves.iter().map(|m| m.building_id).collect();
    let moved: Vec<String> = if moved_buildings.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT p.code FROM people p JOIN party_assignments a ON a.person_id = p.id \
             WHERE p.home_building_id = ANY($1) ORDER BY p.code",
        )
        .bind(&moved_buildings)
        .fetch_all(&mut *tx)
        .await
        .ctx(what)?
    };
    let followed = CellsFollowed {
        members_moved: moved.len(),
        created,
        dissolved,
    };
    if !moved.is_empty() || !followed.dissolved.is_empty() {
        let region_id: Option<i64> = sqlx::query_scalar(
            "SELECT c.region_id FROM grids g JOIN communities c ON c.id = g.community_id \
             WHERE g.id = ANY($1) ORDER BY g.id LIMIT 1",
        )
        .bind(touched)
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?;
        audit::write(
            tx,
            actor,
            Entry {
                action: "follow",
                entity: "party_cells",
                key: "grid change",
                before: None,
                after: Some(json!({
                    "members_moved": moved, "created": followed.created, "dissolved": followed.dissolved,
                })),
                region_id,
            },
        )
        .await?;
    }
    Ok(followed)
}

/// Most problems listed in one refusal of an import.
const MAX_PROBLEMS: usize = 100;

/// Tables whose `code` an import may refer to.
#[derive(Clone, Copy)]
enum Table {
    Communities,
    People,
    Compounds,
    Buildings,
    Associations,
    PartyOrgs,
    DualUnits,
    Projects,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Communities => "communities",
            Self::People => "people",
            Self::Compounds => "compounds",
            Self::Buildings => "buildings",
            Self::Associations => "associations",
            Self::PartyOrgs => "party_orgs",
            Self::DualUnits => "dual_units",
            Self::Projects => "volunteer_projects",
        }
    }
}

/// Indexes (0-based) of the codes that no row of `table` has; `None` codes are skipped.
async fn missing(
    tx: &mut PgConnection,
    table: Table,
    codes: &[Option<&str>],
) -> Result<Vec<usize>, StoreError> {
    let codes: Vec<Option<String>> = codes.iter().map(|c| c.map(str::to_string)).collect();
    // The table name is one of a fixed set, never client input.
    let found: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT t.i FROM unnest($1::text[]) WITH ORDINALITY AS t(c, i) \
         WHERE t.c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} x WHERE x.code = t.c) ORDER BY t.i LIMIT {MAX_PROBLEMS}",
        table.name()
    ))
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await
    .ctx("checking references")?;
    Ok(found.into_iter().map(|i| (i - 1) as usize).collect())
}

/// Problems of an import, by section and item.
#[derive(Default)]
struct Problems(Vec<(usize, String)>);

impl Problems {
    fn add(&mut self, section: &str, i: usize, msg: impl std::fmt::Display) {
        if self.0.len() < MAX_PROBLEMS {
            self.0.push((i, format!("{section}[{i}]: {msg}")));
        }
    }

    async fn refs(
        &mut self,
        tx: &mut PgConnection,
        section: &str,
        field: &str,
        table: Table,
        codes: &[Option<&str>],
    ) -> Result<(), StoreError> {
        for i in missing(tx, table, codes).await? {
            let code = codes.get(i).copied().flatten().unwrap_or_default();
            self.add(section, i, format!("{field}: no {} {code}", table.name()));
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), StoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Items(std::mem::take(&mut self.0)))
        }
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn lon_lat(l: Option<[f64; 2]>) -> (Option<f64>, Option<f64>) {
    (l.map(|l| l[0]), l.map(|l| l[1]))
}

impl Store {
    /// Imports the party data of a district (`party.json`, see [`party::PartyFile`]) in one
    /// transaction: every problem is reported with its section and index, and nothing is
    /// written unless all pass. Returns the number of records written.
    pub async fn import_party_json(
        &self,
        actor: &Actor,
        input: impl std::io::Read,
    ) -> Result<usize, StoreError> {
        let f: party::PartyFile = serde_json::from_reader(std::io::BufReader::new(input))
            .map_err(|e| StoreError::Items(vec![(0, format!("party.json: {e}"))]))?;
        let mut p = Problems::default();
        for (i, a) in f.associations.iter().enumerate() {
            if AssociationKind::parse(&a.kind).is_none() {
                p.add(
                    "associations",
                    i,
                    "kind: service, public_welfare, volunteer or other",
                );
            }
            if let Err(e) = check_code(&a.code, "code").and(check_name(&a.name, "name")) {
                p.add("associations", i, e);
            }
        }
        for (i, o) in f.orgs.iter().enumerate() {
            let kind = OrgKind::parse(&o.kind);
            if kind.is_none() || OrgForm::parse(&o.form).is_none() {
                p.add("orgs", i, "kind or form unknown");
            }
            if let Err(e) = check_code(&o.code, "code").and(check_name(&o.name, "name")) {
                p.add("orgs", i, e);
            }
            let attach = o.attached_to.as_ref().map(|a| AttachKind::parse(&a.kind));
            match (kind, attach) {
                (Some(OrgKind::Functional), Some(Some(_))) => {}
                (Some(OrgKind::Functional), _) => {
                    p.add("orgs", i, "attached_to: compound, building or association")
                }
                (Some(OrgKind::CommunityCommittee), None) if o.community_code.is_some() => {}
                (Some(OrgKind::CommunityCommittee), _) => p.add(
                    "orgs",
                    i,
                    "a 大党委 needs community_code and no attached_to",
                ),
                _ => {}
            }
        }
        for (i, o) in f.officers.iter().enumerate() {
            if OfficerRole::parse(&o.role).is_none() {
                p.add("officers", i, "role unknown");
            }
        }
        for (i, u) in f.units.iter().enumerate() {
            if parse_date(&u.registered_on).is_none() {
                p.add("units", i, "registered_on: YYYY-MM-DD");
            }
            if let Err(e) = check_code(&u.code, "code").and(check_name(&u.name, "name")) {
                p.add("units", i, e);
            }
        }
        for (i, d) in f.dual_members.iter().enumerate() {
            if parse_date(&d.registered_on).is_none() {
                p.add("dual_members", i, "registered_on: YYYY-MM-DD");
            }
        }
        for (i, v) in f.projects.iter().enumerate() {
            if let Err(e) = check_year(v.year, "year").and(check_code(&v.code, "code")) {
                p.add("projects", i, e);
            }
        }
        for (i, v) in f.posts.iter().enumerate() {
            if let Err(e) = check_year(v.year, "year").and(check_name(&v.post, "post")) {
                p.add("posts", i, e);
            }
        }
        p.check()?;

        let what = "importing party data";
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let c = &mut *tx;
        // Social organisations and their members.
        let communities: Vec<Option<&str>> = f
            .associations
            .iter()
            .map(|a| Some(a.community_code.as_str()))
            .collect();
        p.refs(
            c,
            "associations",
            "community_code",
            Table::Communities,
            &communities,
        )
        .await?;
        let (am_assoc, am_people): (Vec<&str>, Vec<&str>) = f
            .associations
            .iter()
            .flat_map(|a| a.members.iter().map(move |m| (a.code.as_str(), m.as_str())))
            .unzip();
        let people: Vec<Option<&str>> = am_people.iter().map(|x| Some(*x)).collect();
        for i in missing(c, Table::People, &people).await? {
            p.add(
                "associations.members",
                i,
                format!("no person {}", am_people[i]),
            );
        }
        p.check()?;
        let (lon, lat): (Vec<Option<f64>>, Vec<Option<f64>>) =
            f.associations.iter().map(|a| lon_lat(a.location)).unzip();
        for r in chunks(f.associations.len()) {
            let a = &f.associations[r.clone()];
            sqlx::query(
                "INSERT INTO associations (code, name, kind, community_id, founded_year, geom) \
                 SELECT t.code, t.name, t.kind, c.id, t.year, \
                   CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::float8[], $7::float8[]) \
                   AS t(code, name, kind, community, year, lon, lat) JOIN communities c ON c.code = t.community",
            )
            .bind(a.iter().map(|x| x.code.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|x| x.name.trim()).collect::<Vec<_>>())
            .bind(a.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|x| x.community_code.as_str()).collect::<Vec<_>>())
            .bind(a.iter().map(|x| x.founded_year).collect::<Vec<_>>())
            .bind(&lon[r.clone()])
            .bind(&lat[r])
            .execute(&mut *c)
            .await
            .map_err(|e| duplicate(e, "associations", what))?;
        }
        for r in chunks(am_assoc.len()) {
            sqlx::query(
                "INSERT INTO association_members (association_id, person_id) \
                 SELECT a.id, p.id FROM unnest($1::text[], $2::text[]) AS t(a, p) \
                 JOIN associations a ON a.code = t.a JOIN people p ON p.code = t.p ON CONFLICT DO NOTHING",
            )
            .bind(&am_assoc[r.clone()])
            .bind(&am_people[r])
            .execute(&mut *c)
            .await
            .ctx(what)?;
        }

        // Organisations: 大党委 (one may exist already, made with the grids), functional
        // organisations, new names of cells.
        let committees: Vec<(usize, &party::OrgRecord)> = f
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.kind == OrgKind::CommunityCommittee.as_str())
            .collect();
        let codes: Vec<Option<&str>> = committees
            .iter()
            .map(|(_, o)| o.community_code.as_deref())
            .collect();
        for i in missing(c, Table::Communities, &codes).await? {
            p.add("orgs", committees[i].0, "community_code: no such community");
        }
        let functional: Vec<(usize, &party::OrgRecord, AttachKind, &str)> = f
            .orgs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let a = o.attached_to.as_ref()?;
                Some((i, o, AttachKind::parse(&a.kind)?, a.code.as_str()))
            })
            .filter(|(_, o, _, _)| o.kind == OrgKind::Functional.as_str())
            .collect();
        for (kind, table) in [
            (AttachKind::Compound, Table::Compounds),
            (AttachKind::Building, Table::Buildings),
            (AttachKind::Association, Table::Associations),
        ] {
            let these: Vec<&(usize, &party::OrgRecord, AttachKind, &str)> =
                functional.iter().filter(|x| x.2 == kind).collect();
            let codes: Vec<Option<&str>> = these.iter().map(|x| Some(x.3)).collect();
            for i in missing(c, table, &codes).await? {
                p.add(
                    "orgs",
                    these[i].0,
                    format!("attached_to: no {}", table.name()),
                );
            }
        }
        let cells: Vec<(usize, &party::OrgRecord)> = f
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.kind == OrgKind::GridBranch.as_str() || o.kind == OrgKind::GridGroup.as_str()
            })
            .collect();
        let codes: Vec<Option<&str>> = cells.iter().map(|(_, o)| Some(o.code.as_str())).collect();
        for i in missing(c, Table::PartyOrgs, &codes).await? {
            p.add(
                "orgs",
                cells[i].0,
                "a cell is made with its grid: no such cell",
            );
        }
        p.check()?;
        for (_, o) in &committees {
            let res = sqlx::query(
                "INSERT INTO party_orgs (code, name, kind, form, community_id) \
                 SELECT $1, $2, 'community_committee', 'committee', c.id FROM communities c WHERE c.code = $3 \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name",
            )
            .bind(&o.code)
            .bind(o.name.trim())
            .bind(&o.community_code)
            .execute(&mut *c)
            .await;
            conflict_on_reference(res, what, || {
                format!("orgs: the community of {} already has a 大党委", o.code)
            })?;
        }
        for (_, o, kind, attach) in &functional {
            let sql = match kind {
                AttachKind::Compound => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, compound_id) \
                     SELECT $1, $2, 'functional', $3, x.community_id, x.id FROM compounds x WHERE x.code = $4"
                }
                AttachKind::Building => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, building_id) \
                     SELECT $1, $2, 'functional', $3, g.community_id, x.id FROM buildings x \
                     JOIN grids g ON g.id = x.grid_id WHERE x.code = $4"
                }
                AttachKind::Association => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, association_id) \
                     SELECT $1, $2, 'functional', $3, x.community_id, x.id FROM associations x WHERE x.code = $4"
                }
            };
            let res = sqlx::query(sql)
                .bind(&o.code)
                .bind(o.name.trim())
                .bind(&o.form)
                .bind(attach)
                .execute(&mut *c)
                .await;
            conflict_on_reference(res, what, || {
                format!("orgs: {} is already used, or its form does not fit", o.code)
            })?;
        }
        for (_, o) in &cells {
            sqlx::query("UPDATE party_orgs SET name = $2 WHERE code = $1")
                .bind(&o.code)
                .bind(o.name.trim())
                .execute(&mut *c)
                .await
                .ctx(what)?;
        }

        // Officers: full members, in roles that fit the organisation's form.
        let orgs: Vec<Option<&str>> = f
            .officers
            .iter()
            .map(|o| Some(o.org_code.as_str()))
            .collect();
        let people: Vec<Option<&str>> = f
            .officers
            .iter()
            .map(|o| Some(o.person_code.as_str()))
            .collect();
        p.refs(c, "officers", "org_code", Table::PartyOrgs, &orgs)
            .await?;
        p.refs(c, "officers", "person_code", Table::People, &people)
            .await?;
        p.check()?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT t.i, o.form, p.membership FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(o, p, i) \
             JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p ORDER BY t.i",
        )
        .bind(f.officers.iter().map(|o| o.org_code.as_str()).collect::<Vec<_>>())
        .bind(f.officers.iter().map(|o| o.person_code.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *c)
        .await
        .ctx(what)?;
        let mut by_org: HashMap<&str, (OrgForm, Vec<OfficerRole>)> = HashMap::new();
        for (i, form, m) in rows {
            let i = (i - 1) as usize;
            let o = &f.officers[i];
            if !party::may_hold_office(membership(&m)) {
                p.add(
                    "officers",
                    i,
                    format!("{} is not a full member", o.person_code),
                );
            }
            let e = by_org
                .entry(o.org_code.as_str())
                .or_insert((OrgForm::parse(&form).unwrap_or(OrgForm::Branch), vec![]));
            e.1.extend(OfficerRole::parse(&o.role));
        }
        for (code, (form, roles)) in &by_org {
            if let Err(e) = check_officers(*form, roles) {
                let i = f
                    .officers
                    .iter()
                    .position(|o| o.org_code == *code)
                    .unwrap_or(0);
                p.add("officers", i, format!("{code}: {e}"));
            }
        }
        p.check()?;
        for r in chunks(f.officers.len()) {
            let o = &f.officers[r];
            let res = sqlx::query(
                "INSERT INTO party_officers (org_id, person_id, role) \
                 SELECT o.id, p.id, t.role FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, p, role) \
                 JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p",
            )
            .bind(o.iter().map(|x| x.org_code.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|x| x.person_code.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|x| x.role.as_str()).collect::<Vec<_>>())
            .execute(&mut *c)
            .await;
            conflict_on_reference(res, what, || {
                "officers: a person holds two offices in one organisation, or it has two secretaries"
                    .to_string()
            })?;
        }

        // Members of functional organisations.
        let orgs: Vec<Option<&str>> = f
            .functional_members
            .iter()
            .map(|o| Some(o.org_code.as_str()))
            .collect();
        let people: Vec<Option<&str>> = f
            .functional_members
            .iter()
            .map(|o| Some(o.person_code.as_str()))
            .collect();
        p.refs(c, "functional_members", "org_code", Table::PartyOrgs, &orgs)
            .await?;
        p.refs(
            c,
            "functional_members",
            "person_code",
            Table::People,
            &people,
        )
        .await?;
        p.check()?;
        for r in chunks(f.functional_members.len()) {
            let m = &f.functional_members[r];
            let res = sqlx::query(
                "INSERT INTO functional_members (person_id, org_id) \
                 SELECT p.id, o.id FROM unnest($1::text[], $2::text[]) AS t(o, p) \
                 JOIN party_orgs o ON o.code = t.o AND o.kind = 'functional' JOIN people p ON p.code = t.p",
            )
            .bind(m.iter().map(|x| x.org_code.as_str()).collect::<Vec<_>>())
            .bind(m.iter().map(|x| x.person_code.as_str()).collect::<Vec<_>>())
            .execute(&mut *c)
            .await;
            conflict_on_reference(res, what, || {
                "functional_members: a member is in two functional organisations".to_string()
            })?;
        }

        // 双报到 units, members, projects and posts.
        let codes: Vec<Option<&str>> = f
            .units
            .iter()
            .map(|u| Some(u.community_code.as_str()))
            .collect();
        p.refs(c, "units", "community_code", Table::Communities, &codes)
            .await?;
        p.check()?;
        let (lon, lat): (Vec<Option<f64>>, Vec<Option<f64>>) =
            f.units.iter().map(|u| lon_lat(u.location)).unzip();
        for r in chunks(f.units.len()) {
            let u = &f.units[r.clone()];
            sqlx::query(
                "INSERT INTO dual_units (code, name, party_org_name, community_id, registered_on, geom) \
                 SELECT t.code, t.name, t.org, c.id, t.day, \
                   CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::float8[], $7::float8[]) \
                   AS t(code, name, org, community, day, lon, lat) JOIN communities c ON c.code = t.community",
            )
            .bind(u.iter().map(|x| x.code.as_str()).collect::<Vec<_>>())
            .bind(u.iter().map(|x| x.name.trim()).collect::<Vec<_>>())
            .bind(u.iter().map(|x| x.party_org_name.as_deref()).collect::<Vec<_>>())
            .bind(u.iter().map(|x| x.community_code.as_str()).collect::<Vec<_>>())
            .bind(u.iter().filter_map(|x| parse_date(&x.registered_on)).collect::<Vec<_>>())
            .bind(&lon[r.clone()])
            .bind(&lat[r])
            .execute(&mut *c)
            .await
            .map_err(|e| duplicate(e, "units", what))?;
        }
        let d = &f.dual_members;
        p.refs(
            c,
            "dual_members",
            "person_code",
            Table::People,
            &d.iter()
                .map(|x| Some(x.person_code.as_str()))
                .collect::<Vec<_>>(),
        )
        .await?;
        p.refs(
            c,
            "dual_members",
            "unit_code",
            Table::DualUnits,
            &d.iter().map(|x| x.unit_code.as_deref()).collect::<Vec<_>>(),
        )
        .await?;
        p.refs(
            c,
            "dual_members",
            "community_code",
            Table::Communities,
            &d.iter()
                .map(|x| Some(x.community_code.as_str()))
                .collect::<Vec<_>>(),
        )
        .await?;
        p.check()?;
        for r in chunks(d.len()) {
            let d = &d[r];
            sqlx::query(
                "INSERT INTO dual_members (person_id, unit_id, community_id, registered_on) \
                 SELECT p.id, u.id, c.id, t.day FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) \
                   AS t(p, u, c, day) JOIN people p ON p.code = t.p JOIN communities c ON c.code = t.c \
                 LEFT JOIN dual_units u ON u.code = t.u",
            )
            .bind(d.iter().map(|x| x.person_code.as_str()).collect::<Vec<_>>())
            .bind(d.iter().map(|x| x.unit_code.as_deref()).collect::<Vec<_>>())
            .bind(d.iter().map(|x| x.community_code.as_str()).collect::<Vec<_>>())
            .bind(d.iter().filter_map(|x| parse_date(&x.registered_on)).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(|e| duplicate(e, "dual_members", what))?;
        }
        let v = &f.projects;
        p.refs(
            c,
            "projects",
            "community_code",
            Table::Communities,
            &v.iter()
                .map(|x| Some(x.community_code.as_str()))
                .collect::<Vec<_>>(),
        )
        .await?;
        p.refs(
            c,
            "projects",
            "unit_code",
            Table::DualUnits,
            &v.iter().map(|x| x.unit_code.as_deref()).collect::<Vec<_>>(),
        )
        .await?;
        p.check()?;
        for r in chunks(v.len()) {
            let v = &v[r];
            sqlx::query(
                "INSERT INTO volunteer_projects (code, name, community_id, unit_id, year) \
                 SELECT t.code, t.name, c.id, u.id, t.year FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) \
                   AS t(code, name, c, u, year) JOIN communities c ON c.code = t.c LEFT JOIN dual_units u ON u.code = t.u",
            )
            .bind(v.iter().map(|x| x.code.as_str()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.name.trim()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.community_code.as_str()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.unit_code.as_deref()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.year).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(|e| duplicate(e, "projects", what))?;
        }
        let v = &f.posts;
        p.refs(
            c,
            "posts",
            "person_code",
            Table::People,
            &v.iter()
                .map(|x| Some(x.person_code.as_str()))
                .collect::<Vec<_>>(),
        )
        .await?;
        p.refs(
            c,
            "posts",
            "project_code",
            Table::Projects,
            &v.iter()
                .map(|x| x.project_code.as_deref())
                .collect::<Vec<_>>(),
        )
        .await?;
        p.check()?;
        for r in chunks(v.len()) {
            let v = &v[r];
            sqlx::query(
                "INSERT INTO volunteer_posts (person_id, year, post, project_id) \
                 SELECT p.id, t.year, t.post, v.id FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) \
                   AS t(p, year, post, v) JOIN people p ON p.code = t.p LEFT JOIN volunteer_projects v ON v.code = t.v",
            )
            .bind(v.iter().map(|x| x.person_code.as_str()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.year).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.post.trim()).collect::<Vec<_>>())
            .bind(v.iter().map(|x| x.project_code.as_deref()).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(|e| duplicate(e, "posts", what))?;
        }
        let total = f.associations.len()
            + am_assoc.len()
            + f.orgs.len()
            + f.officers.len()
            + f.functional_members.len()
            + f.units.len()
            + f.dual_members.len()
            + f.projects.len()
            + f.posts.len();
        audit::write(
            c,
            actor,
            Entry {
                action: "import",
                entity: "party",
                key: "party",
                before: None,
                after: Some(json!({ "count": total })),
                region_id: None,
            },
        )
        .await?;
        super::changes::record(&mut tx, "party", &[]).await?;
        tx.commit().await.ctx("committing party data")?;
        Ok(total)
    }
}

/// Ranges of at most [`CHUNK`] rows.
fn chunks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n).step_by(CHUNK).map(move |s| s..(s + CHUNK).min(n))
}

/// A duplicate key in an import section is a conflict that names the section.
fn duplicate(e: sqlx::Error, section: &str, what: &'static str) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!(
            "{section}: a code is listed twice or already exists: {}",
            d.message()
        )),
        source => StoreError::Db { what, source },
    }
}
