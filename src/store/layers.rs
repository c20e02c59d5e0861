//! Reading the registry's layers: what the in-process index is built from, and the
//! "as of" lookups that the index (which holds only the present) cannot answer.

use super::{read_all, wkb, DbContext, Store, StoreError};
use crate::domain::registry::{
    Building, Community, Figures, Grid, Region, StaffAssignment, Station,
};
use crate::domain::{GridLevel, RegionKind, StationKind};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::QueryAs;
use sqlx::Postgres;

/// The columns of a grid version (a [`GridRow`]), and the tables they come from.
const GRID_COLUMNS: &str =
    "g.id, v.code, v.name, g.level, v.parent_id, g.community_id, v.version, \
     v.valid_from, v.valid_to, ST_AsBinary(v.geom) AS wkb \
     FROM grids g JOIN grid_versions v ON v.grid_id = g.id";

/// A row of [`GRID_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(crate) struct GridRow {
    id: i64,
    code: String,
    name: String,
    level: i16,
    parent_id: Option<i64>,
    community_id: i64,
    version: i32,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    wkb: Vec<u8>,
}

impl GridRow {
    /// The grid version of the row.
    pub(crate) fn grid(self) -> Result<Grid, StoreError> {
        Ok(Grid {
            geom: wkb::decode_area(&self.wkb).ctx("reading grids")?,
            level: GridLevel::from_number(i64::from(self.level)).unwrap_or(GridLevel::Second),
            id: self.id,
            code: self.code,
            name: self.name,
            parent_id: self.parent_id,
            community_id: self.community_id,
            version: self.version,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        })
    }
}

/// The grid versions `query` (on [`GRID_COLUMNS`]) finds (`what` names the read in errors).
async fn grids_of<'q>(
    query: QueryAs<'q, Postgres, GridRow, PgArguments>,
    pool: &'q PgPool,
    what: &'static str,
) -> Result<Vec<Grid>, StoreError> {
    read_all::<_, _, Result<_, _>>(query, pool, what, GridRow::grid).await?
}

/// A row of the regions.
#[derive(sqlx::FromRow)]
struct RegionRow {
    id: i64,
    code: String,
    name: String,
    kind: String,
    parent_id: Option<i64>,
}

impl From<RegionRow> for Region {
    fn from(r: RegionRow) -> Self {
        Region {
            kind: RegionKind::parse(&r.kind).unwrap_or(RegionKind::Town),
            id: r.id,
            code: r.code,
            name: r.name,
            parent_id: r.parent_id,
        }
    }
}

/// A row of the communities.
#[derive(sqlx::FromRow)]
struct CommunityRow {
    id: i64,
    code: String,
    name: String,
    region_id: i64,
    wkb: Vec<u8>,
}

impl CommunityRow {
    fn community(self) -> Result<Community, StoreError> {
        Ok(Community {
            geom: wkb::decode_area(&self.wkb).ctx("reading communities")?,
            id: self.id,
            code: self.code,
            name: self.name,
            region_id: self.region_id,
        })
    }
}

/// A compound (小区) with its drawn area, as the OGC collection serves it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompoundArea {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Residential, commercial or other.
    pub kind: String,
    /// Share of homes lived in, 0 to 1.
    pub occupancy_rate: Option<f64>,
    /// Year built.
    pub built_year: Option<i32>,
    /// Its community.
    pub community_id: i64,
    /// Its area as WKB.
    pub wkb: Vec<u8>,
}

impl CompoundArea {
    /// Its area.
    pub fn area(&self) -> Result<geo::MultiPolygon<f64>, StoreError> {
        wkb::decode_area(&self.wkb).ctx("reading compounds")
    }
}

/// A row of the buildings, with their compounds and party-member counts.
#[derive(sqlx::FromRow)]
struct BuildingRow {
    id: i64,
    code: String,
    name: Option<String>,
    address: Option<String>,
    compound_id: Option<i64>,
    compound_code: Option<String>,
    compound_name: Option<String>,
    households: i32,
    residents: i32,
    employees: i32,
    party: i32,
    wkb: Vec<u8>,
    anchor: Vec<u8>,
    grid_id: i64,
}

impl BuildingRow {
    fn building(self) -> Result<Building, StoreError> {
        Ok(Building {
            geom: wkb::decode_area(&self.wkb).ctx("reading buildings")?,
            anchor: wkb::decode_point(&self.anchor).ctx("reading buildings")?,
            compound: self.compound_code.zip(self.compound_name),
            id: self.id,
            code: self.code,
            name: self.name,
            address: self.address,
            compound_id: self.compound_id,
            households: self.households,
            residents: self.residents,
            employees: self.employees,
            party_members: self.party,
            grid_id: self.grid_id,
        })
    }
}

/// A row of the stations.
#[derive(sqlx::FromRow)]
struct StationRow {
    id: i64,
    code: String,
    name: String,
    kind: String,
    community_id: Option<i64>,
    programmes: Option<i32>,
    wkb: Vec<u8>,
}

impl StationRow {
    fn station(self) -> Result<Station, StoreError> {
        Ok(Station {
            point: wkb::decode_point(&self.wkb).ctx("reading stations")?,
            kind: StationKind::parse(&self.kind).unwrap_or(StationKind::Convenience),
            id: self.id,
            code: self.code,
            name: self.name,
            community_id: self.community_id,
            programmes: self.programmes,
        })
    }
}

/// A row of the current staff assignments.
#[derive(sqlx::FromRow)]
struct AssignmentRow {
    grid_id: i64,
    code: String,
    name: String,
    duty_phone: Option<String>,
    phone: Option<String>,
    role: String,
}

impl From<AssignmentRow> for StaffAssignment {
    fn from(r: AssignmentRow) -> Self {
        StaffAssignment {
            grid_id: r.grid_id,
            code: r.code,
            name: r.name,
            duty_phone: r.duty_phone,
            phone: r.phone,
            role: r.role,
        }
    }
}

impl Store {
    /// The compounds of `community_ids` that have a drawn area, by id.
    pub async fn compound_areas(
        &self,
        community_ids: &[i64],
    ) -> Result<Vec<CompoundArea>, StoreError> {
        let q = sqlx::query_as::<_, CompoundArea>(
            "SELECT id, code, name, kind, occupancy_rate, built_year, community_id, \
             ST_AsBinary(geom) AS wkb FROM compounds \
             WHERE geom IS NOT NULL AND community_id = ANY($1) ORDER BY id",
        )
        .bind(community_ids);
        read_all(q, &self.pool, "reading compounds", |c| c).await
    }

    /// All regions.
    pub async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let q = sqlx::query_as::<_, RegionRow>(
            "SELECT id, code, name, kind, parent_id FROM regions ORDER BY id",
        );
        read_all(q, &self.pool, "reading regions", Region::from).await
    }

    /// All communities.
    pub async fn communities(&self) -> Result<Vec<Community>, StoreError> {
        let q = sqlx::query_as(
            "SELECT id, code, name, region_id, ST_AsBinary(geom) AS wkb FROM communities ORDER BY id",
        );
        let each = CommunityRow::community;
        read_all::<_, _, Result<_, _>>(q, &self.pool, "reading communities", each).await?
    }

    /// The grids as they are now, or as they were at `at`.
    pub async fn grids(&self, at: Option<DateTime<Utc>>) -> Result<Vec<Grid>, StoreError> {
        let sql = match at {
            None => format!("SELECT {GRID_COLUMNS} WHERE v.valid_to IS NULL ORDER BY g.id"),
            Some(_) => format!(
                "SELECT {GRID_COLUMNS} WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) ORDER BY g.id"
            ),
        };
        let q = sqlx::query_as(&sql);
        let q = match at {
            Some(t) => q.bind(t),
            None => q,
        };
        grids_of(q, &self.pool, "reading grids").await
    }

    /// Every version of the grid with this code, oldest first.
    pub async fn grid_history(&self, code: &str) -> Result<Vec<Grid>, StoreError> {
        let sql = format!(
            "SELECT {GRID_COLUMNS} WHERE g.id IN (SELECT grid_id FROM grid_versions WHERE code = $1) \
             ORDER BY v.valid_from, v.version"
        );
        grids_of(
            sqlx::query_as(&sql).bind(code),
            &self.pool,
            "reading grid history",
        )
        .await
    }

    /// Buildings (all, or those with the given ids), with their party-member counts.
    pub async fn buildings(&self, ids: Option<&[i64]>) -> Result<Vec<Building>, StoreError> {
        let q = sqlx::query_as(
            "SELECT b.id, b.code, b.name, b.address, b.compound_id, b.households, b.residents, \
             b.employees, COALESCE(p.n, 0)::int AS party, ST_AsBinary(b.geom) AS wkb, \
             ST_AsBinary(b.anchor) AS anchor, b.grid_id, c.code AS compound_code, c.name AS compound_name \
             FROM buildings b LEFT JOIN (SELECT home_building_id, count(*) AS n FROM people \
             WHERE membership <> 'none' GROUP BY 1) p ON p.home_building_id = b.id \
             LEFT JOIN compounds c ON c.id = b.compound_id \
             WHERE ($1::bigint[] IS NULL OR b.id = ANY($1)) ORDER BY b.id",
        );
        let each = BuildingRow::building;
        read_all::<_, _, Result<_, _>>(q.bind(ids), &self.pool, "reading buildings", each).await?
    }

    /// Which second-level grid each building is in, for buildings in the given grids.
    pub async fn building_grids(&self, grid_ids: &[i64]) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as("SELECT id, grid_id FROM buildings WHERE grid_id = ANY($1)")
            .bind(grid_ids)
            .fetch_all(&self.pool)
            .await
            .ctx("reading building grids")
    }

    /// All stations.
    pub async fn stations(&self) -> Result<Vec<Station>, StoreError> {
        let q = sqlx::query_as(
            "SELECT id, code, name, kind, community_id, programmes, ST_AsBinary(geom) AS wkb \
             FROM stations ORDER BY id",
        );
        let each = StationRow::station;
        read_all::<_, _, Result<_, _>>(q, &self.pool, "reading stations", each).await?
    }

    /// Current staff assignments, chiefs first.
    pub async fn staff_assignments(&self) -> Result<Vec<StaffAssignment>, StoreError> {
        let q = sqlx::query_as::<_, AssignmentRow>(
            "SELECT a.grid_id, s.code, s.name, s.duty_phone, s.phone, a.role FROM staff_assignments a \
             JOIN staff s ON s.id = a.staff_id WHERE a.until IS NULL \
             ORDER BY a.grid_id, a.role, s.code",
        );
        read_all(q, &self.pool, "reading staff", StaffAssignment::from).await
    }
}

impl Store {
    /// Figures of every grid version valid at `at`, counting the buildings (as they are now)
    /// whose anchor that version covers.
    pub async fn grid_figures_at(
        &self,
        at: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, Figures>, StoreError> {
        let q = sqlx::query_as(
            "SELECT v.grid_id, count(b.id), COALESCE(sum(b.households), 0)::bigint, \
               COALESCE(sum(b.residents), 0)::bigint, COALESCE(sum(pm.n), 0)::bigint, \
               COALESCE(sum(b.employees), 0)::bigint \
             FROM grid_versions v JOIN buildings b ON ST_Covers(v.geom, b.anchor) \
             LEFT JOIN (SELECT home_building_id, count(*) AS n FROM people WHERE membership <> 'none' \
               GROUP BY 1) pm ON pm.home_building_id = b.id \
             WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) \
             GROUP BY v.grid_id",
        )
        .bind(at);
        let figures = |(id, buildings, households, residents, party_members, employees)| {
            let f = Figures {
                buildings,
                households,
                residents,
                party_members,
                employees,
            };
            (id, f)
        };
        read_all(q, &self.pool, "counting buildings in past grids", figures).await
    }

    /// The grid versions valid at `at` that cover a point, second level first, lowest id first.
    pub async fn locate_at(
        &self,
        p: geo::Point<f64>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Grid>, StoreError> {
        let sql = format!(
            "SELECT {GRID_COLUMNS} WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) \
             AND ST_Covers(v.geom, ST_SetSRID(ST_MakePoint($2, $3), 4326)) ORDER BY g.level DESC, g.id"
        );
        let q = sqlx::query_as(&sql).bind(at).bind(p.x()).bind(p.y());
        grids_of(q, &self.pool, "locating a point in past grids").await
    }
}
