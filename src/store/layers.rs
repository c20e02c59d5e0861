//! Reading the registry's layers: what the in-process index is built from, and the
//! "as of" lookups that the index (which holds only the present) cannot answer.

use super::{wkb, DbContext, Store, StoreError};
use crate::domain::registry::{Building, Community, Grid, Region, StaffAssignment, Station};
use crate::domain::{GridLevel, RegionKind, StationKind};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

const GRID_COLUMNS: &str =
    "g.id, v.code, v.name, g.level, v.parent_id, g.community_id, v.version, \
     v.valid_from, v.valid_to, ST_AsBinary(v.geom) AS wkb \
     FROM grids g JOIN grid_versions v ON v.grid_id = g.id";

pub(crate) fn grid_from_row(r: &PgRow) -> Result<Grid, StoreError> {
    let level: i16 = r.try_get("level").ctx("reading grids")?;
    let wkb: Vec<u8> = r.try_get("wkb").ctx("reading grids")?;
    Ok(Grid {
        id: r.try_get("id").ctx("reading grids")?,
        code: r.try_get("code").ctx("reading grids")?,
        name: r.try_get("name").ctx("reading grids")?,
        level: GridLevel::from_number(i64::from(level)).unwrap_or(GridLevel::Second),
        parent_id: r.try_get("parent_id").ctx("reading grids")?,
        community_id: r.try_get("community_id").ctx("reading grids")?,
        version: r.try_get("version").ctx("reading grids")?,
        valid_from: r.try_get("valid_from").ctx("reading grids")?,
        valid_to: r.try_get("valid_to").ctx("reading grids")?,
        geom: wkb::decode_area(&wkb).ctx("reading grids")?,
    })
}

impl Store {
    /// All regions.
    pub async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let rows = sqlx::query("SELECT id, code, name, kind, parent_id FROM regions ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .ctx("reading regions")?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").ctx("reading regions")?;
                Ok(Region {
                    id: r.try_get("id").ctx("reading regions")?,
                    code: r.try_get("code").ctx("reading regions")?,
                    name: r.try_get("name").ctx("reading regions")?,
                    kind: RegionKind::parse(&kind).unwrap_or(RegionKind::Town),
                    parent_id: r.try_get("parent_id").ctx("reading regions")?,
                })
            })
            .collect()
    }

    /// All communities.
    pub async fn communities(&self) -> Result<Vec<Community>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, code, name, region_id, ST_AsBinary(geom) AS wkb FROM communities ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading communities")?;
        rows.iter()
            .map(|r| {
                let wkb: Vec<u8> = r.try_get("wkb").ctx("reading communities")?;
                Ok(Community {
                    id: r.try_get("id").ctx("reading communities")?,
                    code: r.try_get("code").ctx("reading communities")?,
                    name: r.try_get("name").ctx("reading communities")?,
                    region_id: r.try_get("region_id").ctx("reading communities")?,
                    geom: wkb::decode_area(&wkb).ctx("reading communities")?,
                })
            })
            .collect()
    }

    /// The grids as they are now, or as they were at `at`.
    pub async fn grids(&self, at: Option<DateTime<Utc>>) -> Result<Vec<Grid>, StoreError> {
        let rows = match at {
            None => sqlx::query(&format!("SELECT {GRID_COLUMNS} WHERE v.valid_to IS NULL ORDER BY g.id"))
                .fetch_all(&self.pool)
                .await,
            Some(t) => sqlx::query(&format!(
                "SELECT {GRID_COLUMNS} WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) ORDER BY g.id"
            ))
            .bind(t)
            .fetch_all(&self.pool)
            .await,
        }
        .ctx("reading grids")?;
        rows.iter().map(grid_from_row).collect()
    }

    /// Every version of the grid with this code, oldest first.
    pub async fn grid_history(&self, code: &str) -> Result<Vec<Grid>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRID_COLUMNS} WHERE g.id IN (SELECT grid_id FROM grid_versions WHERE code = $1) \
             ORDER BY v.valid_from, v.version"
        ))
        .bind(code)
        .fetch_all(&self.pool)
        .await
        .ctx("reading grid history")?;
        rows.iter().map(grid_from_row).collect()
    }

    /// Buildings (all, or those with the given ids), with their party-member counts.
    pub async fn buildings(&self, ids: Option<&[i64]>) -> Result<Vec<Building>, StoreError> {
        let sql =
            "SELECT b.id, b.code, b.name, b.address, b.compound_id, b.households, b.residents, \
             b.employees, COALESCE(p.n, 0)::int AS party, ST_AsBinary(b.geom) AS wkb, \
             ST_AsBinary(b.anchor) AS anchor, b.grid_id, c.code AS compound_code, c.name AS compound_name \
             FROM buildings b LEFT JOIN (SELECT home_building_id, count(*) AS n FROM people \
             WHERE membership <> 'none' GROUP BY 1) p ON p.home_building_id = b.id \
             LEFT JOIN compounds c ON c.id = b.compound_id \
             WHERE ($1::bigint[] IS NULL OR b.id = ANY($1)) ORDER BY b.id";
        let rows = sqlx::query(sql)
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .ctx("reading buildings")?;
        rows.iter()
            .map(|r| {
                let w: Vec<u8> = r.try_get("wkb").ctx("reading buildings")?;
                let a: Vec<u8> = r.try_get("anchor").ctx("reading buildings")?;
                let cc: Option<String> = r.try_get("compound_code").ctx("reading buildings")?;
                let cn: Option<String> = r.try_get("compound_name").ctx("reading buildings")?;
                Ok(Building {
                    compound: cc.zip(cn),
                    id: r.try_get("id").ctx("reading buildings")?,
                    code: r.try_get("code").ctx("reading buildings")?,
                    name: r.try_get("name").ctx("reading buildings")?,
                    address: r.try_get("address").ctx("reading buildings")?,
                    compound_id: r.try_get("compound_id").ctx("reading buildings")?,
                    households: r.try_get("households").ctx("reading buildings")?,
                    residents: r.try_get("residents").ctx("reading buildings")?,
                    employees: r.try_get("employees").ctx("reading buildings")?,
                    party_members: r.try_get("party").ctx("reading buildings")?,
                    geom: wkb::decode_area(&w).ctx("reading buildings")?,
                    anchor: wkb::decode_point(&a).ctx("reading buildings")?,
                    grid_id: r.try_get("grid_id").ctx("reading buildings")?,
                })
            })
            .collect()
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
        let rows = sqlx::query(
            "SELECT id, code, name, kind, community_id, programmes, ST_AsBinary(geom) AS wkb \
             FROM stations ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading stations")?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").ctx("reading stations")?;
                let w: Vec<u8> = r.try_get("wkb").ctx("reading stations")?;
                Ok(Station {
                    id: r.try_get("id").ctx("reading stations")?,
                    code: r.try_get("code").ctx("reading stations")?,
                    name: r.try_get("name").ctx("reading stations")?,
                    kind: StationKind::parse(&kind).unwrap_or(StationKind::Convenience),
                    community_id: r.try_get("community_id").ctx("reading stations")?,
                    programmes: r.try_get("programmes").ctx("reading stations")?,
                    point: wkb::decode_point(&w).ctx("reading stations")?,
                })
            })
            .collect()
    }

    /// Current staff assignments, chiefs first.
    pub async fn staff_assignments(&self) -> Result<Vec<StaffAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.grid_id, s.code, s.name, s.duty_phone, s.phone, a.role FROM staff_assignments a \
             JOIN staff s ON s.id = a.staff_id WHERE a.until IS NULL \
             ORDER BY a.grid_id, a.role, s.code",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading staff")?;
        rows.iter()
            .map(|r| {
                Ok(StaffAssignment {
                    grid_id: r.try_get("grid_id").ctx("reading staff")?,
                    code: r.try_get("code").ctx("reading staff")?,
                    name: r.try_get("name").ctx("reading staff")?,
                    duty_phone: r.try_get("duty_phone").ctx("reading staff")?,
                    phone: r.try_get("phone").ctx("reading staff")?,
                    role: r.try_get("role").ctx("reading staff")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Figures of every grid version valid at `at`, counting the buildings (as they are now)
    /// whose anchor that version covers.
    pub async fn grid_figures_at(
        &self,
        at: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, crate::domain::registry::Figures>, StoreError> {
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT v.grid_id, count(b.id), COALESCE(sum(b.households), 0)::bigint, \
               COALESCE(sum(b.residents), 0)::bigint, COALESCE(sum(pm.n), 0)::bigint, \
               COALESCE(sum(b.employees), 0)::bigint \
             FROM grid_versions v JOIN buildings b ON ST_Covers(v.geom, b.anchor) \
             LEFT JOIN (SELECT home_building_id, count(*) AS n FROM people WHERE membership <> 'none' \
               GROUP BY 1) pm ON pm.home_building_id = b.id \
             WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) \
             GROUP BY v.grid_id",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await
        .ctx("counting buildings in past grids")?;
        Ok(rows
            .into_iter()
            .map(
                |(id, buildings, households, residents, party_members, employees)| {
                    (
                        id,
                        crate::domain::registry::Figures {
                            buildings,
                            households,
                            residents,
                            party_members,
                            employees,
                        },
                    )
                },
            )
            .collect())
    }

    /// The grid versions valid at `at` that cover a point, second level first, lowest id first.
    pub async fn locate_at(
        &self,
        p: geo::Point<f64>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Grid>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRID_COLUMNS} WHERE v.valid_from <= $1 AND (v.valid_to IS NULL OR v.valid_to > $1) \
             AND ST_Covers(v.geom, ST_SetSRID(ST_MakePoint($2, $3), 4326)) ORDER BY g.level DESC, g.id"
        ))
        .bind(at)
        .bind(p.x())
        .bind(p.y())
        .fetch_all(&self.pool)
        .await
        .ctx("locating a point in past grids")?;
        rows.iter().map(grid_from_row).collect()
    }
}
