//! Residents and their personal data, grid staff, and service stations: the small
//! records that administrators and grid chiefs edit one at a time. Every change is audited
//! and logged for the index in the same transaction.

use super::audit::{self, Actor, Entry};
use super::{changes, wkb, DbContext, Store, StoreError};
use crate::domain::hierarchy::check_name;
use crate::domain::{FieldError, Membership, StationKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

/// A resident with personal data, as grid chiefs and administrators see them.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Person {
    /// Person code (taken from the URL when writing).
    #[serde(default)]
    pub code: String,
    /// Home building code.
    pub building_code: Option<String>,
    /// Name.
    pub name: String,
    /// `M` or `F`.
    pub sex: Option<String>,
    /// Year of birth.
    pub birth_year: Option<i32>,
    /// Phone.
    pub phone: Option<String>,
    /// Employer.
    pub work_unit: Option<String>,
    /// Household label, e.g. `2-301`.
    pub household: Option<String>,
    /// `full`, `probationary` or `none`.
    pub membership: String,
}

impl Person {
    fn check(&self) -> Result<(), FieldError> {
        if self.code.trim().is_empty() || self.code.len() > 40 {
            return Err(FieldError::new("code", "1 to 40 characters"));
        }
        check_name(&self.name, "name")?;
        if let Some(s) = &self.sex {
            if s != "M" && s != "F" {
                return Err(FieldError::new("sex", "M or F"));
            }
        }
        if Membership::parse(&self.membership).is_none() {
            return Err(FieldError::new("membership", "full, probationary or none"));
        }
        if let Some(y) = self.birth_year {
            if !(1900..=2100).contains(&y) {
                return Err(FieldError::new(
                    "birth_year",
                    "a year between 1900 and 2100",
                ));
            }
        }
        if let Some(p) = &self.phone {
            if p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) {
                return Err(FieldError::new(
                    "phone",
                    "digits, spaces, + and - only, at most 20",
                ));
            }
        }
        Ok(())
    }
}

const PERSON: &str = "SELECT p.code, b.code AS building_code, d.name, p.sex, p.birth_year, d.phone, \
     d.work_unit, d.household, p.membership FROM people p JOIN person_details d ON d.person_id = p.id \
     LEFT JOIN buildings b ON b.id = p.home_building_id";

/// A building and the household labels in it, as patrol staff see them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Households {
    /// Building code.
    pub building_code: String,
    /// Address.
    pub address: Option<String>,
    /// Households recorded for the building.
    pub households: i32,
    /// Household labels known from residents, sorted.
    pub labels: Vec<String>,
}

/// A grid staff member in an assignment request.
#[derive(Debug, Clone, Deserialize)]
pub struct StaffInput {
    /// Staff code (an existing member, or a new one when `name` is given).
    pub code: String,
    /// Name, to create or rename.
    pub name: Option<String>,
    /// Duty phone.
    pub phone: Option<String>,
    /// Resident record of the staff member.
    pub person_code: Option<String>,
    /// Member of the community's two committees (两委).
    pub committee: Option<bool>,
}

/// A station as written.
#[derive(Debug, Clone)]
pub struct StationInput {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: StationKind,
    /// Community code, if known.
    pub community_code: Option<String>,
    /// Working programmes.
    pub programmes: Option<i32>,
    /// Address.
    pub address: Option<String>,
    /// Location.
    pub point: geo::Point<f64>,
}

async fn person_in(tx: &mut PgConnection, code: &str) -> Result<Option<Person>, StoreError> {
    sqlx::query_as(&format!("{PERSON} WHERE p.code = $1"))
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading a person")
}

async fn building_id(
    tx: &mut PgConnection,
    code: &Option<String>,
) -> Result<Option<i64>, StoreError> {
    match code {
        None => Ok(None),
        Some(c) => Ok(Some(
            sqlx::query_scalar("SELECT id FROM buildings WHERE code = $1")
                .bind(c)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a building")?
                .ok_or_else(|| FieldError::new("building_code", format!("no building {c}")))?,
        )),
    }
}

async fn region_of_building(
    tx: &mut PgConnection,
    id: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    match id {
        None => Ok(None),
        Some(id) => sqlx::query_scalar(
            "SELECT c.region_id FROM buildings b JOIN grids g ON g.id = b.grid_id \
             JOIN communities c ON c.id = g.community_id WHERE b.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding a region"),
    }
}

impl Store {
    /// Residents of the buildings of a grid (second-level, or first-level with its children).
    pub async fn people_of_grid(&self, grid_id: i64) -> Result<Vec<Person>, StoreError> {
        sqlx::query_as(&format!(
            "{PERSON} WHERE b.grid_id IN (SELECT id FROM current_grids WHERE id = $1 OR parent_id = $1) \
             ORDER BY b.code, d.household, p.code"
        ))
        .bind(grid_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading people")
    }

    /// One resident.
    pub async fn person(&self, code: &str) -> Result<Option<(Person, Option<i64>)>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        let p = person_in(&mut conn, code).await?;
        Ok(match p {
            None => None,
            Some(p) => {
                let b = building_id(&mut conn, &p.building_code).await?;
                Some((p, b))
            }
        })
    }

    /// The buildings of a grid with household labels and no personal data.
    pub async fn households_of_grid(&self, grid_id: i64) -> Result<Vec<Households>, StoreError> {
        sqlx::query_as(
            "SELECT b.code AS building_code, b.address, b.households, \
               ARRAY(SELECT DISTINCT d.household FROM people p JOIN person_details d ON d.person_id = p.id \
                     WHERE p.home_building_id = b.id AND d.household IS NOT NULL ORDER BY 1) AS labels \
             FROM buildings b WHERE b.grid_id IN (SELECT id FROM current_grids WHERE id = $1 OR parent_id = $1) \
             ORDER BY b.code",
        )
        .bind(grid_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading households")
    }

    /// Creates or replaces a resident (by code).
    pub async fn put_person(&self, p: &Person, actor: &Actor) -> Result<Person, StoreError> {
        p.check()?;
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = person_in(&mut tx, &p.code).await?;
        let bid = building_id(&mut tx, &p.building_code).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO people (code, home_building_id, sex, birth_year, membership) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET home_building_id = EXCLUDED.home_building_id, sex = EXCLUDED.sex, \
               birth_year = EXCLUDED.birth_year, membership = EXCLUDED.membership RETURNING id",
        )
        .bind(&p.code)
        .bind(bid)
        .bind(&p.sex)
        .bind(p.birth_year)
        .bind(&p.membership)
        .fetch_one(&mut *tx)
        .await
        .ctx("writing a person")?;
        sqlx::query(
            "INSERT INTO person_details (person_id, name, phone, work_unit, household) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (person_id) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone, \
               work_unit = EXCLUDED.work_unit, household = EXCLUDED.household",
        )
        .bind(id)
        .bind(p.name.trim())
        .bind(&p.phone)
        .bind(&p.work_unit)
        .bind(&p.household)
        .execute(&mut *tx)
        .await
        .ctx("writing a person")?;
        let after = person_in(&mut tx, &p.code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("person {}", p.code)))?;
        let region_id = region_of_building(&mut tx, bid).await?;
        audit::write(
            &mut tx,
            actor,
            Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "person",
                key: &p.code,
                before: before.map(|b| json!(b)),
                after: Some(json!(after)),
                region_id,
            },
        )
        .await?;
        changes::record(&mut tx, "people", &[id]).await?;
        tx.commit().await.ctx("committing a person")?;
        Ok(after)
    }

    /// Deletes a resident.
    pub async fn delete_person(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let before = person_in(&mut tx, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("person {code}")))?;
        let bid = building_id(&mut tx, &before.building_code).await?;
        let region_id = region_of_building(&mut tx, bid).await?;
        let res = sqlx::query("DELETE FROM people WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await;
        if let Err(sqlx::Error::Database(e)) = &res {
            if e.is_foreign_key_violation() {
                return Err(StoreError::Conflict(format!(
                    "person {code} is referenced (as staff or elsewhere); remove those links first"
                )));
            }
        }
        res.ctx("deleting a person")?;
        audit::write(
            &mut tx,
            actor,
            Entry {
                action: "delete",
                entity: "person",
                key: code,
                before: Some(json!(before)),
                after: None,
                region_id,
            },
        )
        .await?;
        changes::record(&mut tx, "people", &[]).await?;
        tx.commit().await.ctx("committing a deletion")?;
        Ok(())
    }

    /// Sets a grid's chief and members, creating staff records given with a name.
    pub async fn set_grid_staff(
        &self,
        grid_code: &str,
        chief: Option<&StaffInput>,
        members: &[StaffInput],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let (grid_id, region_id): (i64, i64) = sqlx::query_as(
            "SELECT g.id, c.region_id FROM current_grids g JOIN communities c ON c.id = g.community_id WHERE g.code = $1",
        )
        .bind(grid_code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding a grid")?
        .ok_or_else(|| StoreError::NotFound(format!("grid {grid_code}")))?;
        let before = grid_staff(&mut tx, grid_id).await?;
        sqlx::query(
            "UPDATE staff_assignments SET until = now() WHERE grid_id = $1 AND until IS NULL",
        )
        .bind(grid_id)
        .execute(&mut *tx)
        .await
        .ctx("closing assignments")?;
        let mut seen = std::collections::HashSet::new();
        for (role, s) in chief
            .map(|c| ("chief", c))
            .into_iter()
            .chain(members.iter().map(|m| ("member", m)))
        {
            if !seen.insert(s.code.clone()) {
                return Err(
                    FieldError::new("members", format!("{} is listed twice", s.code)).into(),
                );
            }
            let person_id: Option<i64> = match &s.person_code {
                None => None,
                Some(pc) => Some(
                    sqlx::query_scalar("SELECT id FROM people WHERE code = $1")
                        .bind(pc)
                        .fetch_optional(&mut *tx)
                        .await
                        .ctx("finding a person")?
                        .ok_or_else(|| FieldError::new("person_code", format!("no person {pc}")))?,
                ),
            };
            let staff_id: Option<i64> = match &s.name {
                Some(name) => {
                    check_name(name, "name")?;
                    Some(
                        sqlx::query_scalar(
                            "INSERT INTO staff (code, name, phone, person_id, committee) VALUES ($1, $2, $3, $4, COALESCE($5, false)) \
                             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, phone = COALESCE(EXCLUDED.phone, staff.phone), \
                               person_id = COALESCE(EXCLUDED.person_id, staff.person_id), \
                               committee = COALESCE($5, staff.committee) RETURNING id",
                        )
                        .bind(&s.code)
                        .bind(name.trim())
                        .bind(&s.phone)
                        .bind(person_id)
                        .bind(s.committee)
                        .fetch_one(&mut *tx)
                        .await
                        .ctx("writing staff")?,
                    )
                }
                None => sqlx::query_scalar("SELECT id FROM staff WHERE code = $1")
                    .bind(&s.code)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding staff")?,
            };
            let staff_id = staff_id.ok_or_else(|| {
                FieldError::new(
                    "code",
                    format!("no staff member {}; give a name to create one", s.code),
                )
            })?;
            sqlx::query(
                "INSERT INTO staff_assignments (grid_id, staff_id, role) VALUES ($1, $2, $3)",
            )
            .bind(grid_id)
            .bind(staff_id)
            .bind(role)
            .execute(&mut *tx)
            .await
            .ctx("assigning staff")?;
        }
        let after = grid_staff(&mut tx, grid_id).await?;
        audit::write(
            &mut tx,
            actor,
            Entry {
                action: "assign",
                entity: "staff",
                key: grid_code,
                before: Some(json!(before)),
                after: Some(json!(after)),
                region_id: Some(region_id),
            },
        )
        .await?;
        changes::record(&mut tx, "staff", &[grid_id]).await?;
        tx.commit().await.ctx("committing staff")?;
        Ok(())
    }

    /// Creates or replaces a station (by code).
    pub async fn put_station(&self, s: &StationInput, actor: &Actor) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let id = put_station_in(&mut tx, s, actor).await?;
        changes::record(&mut tx, "stations", &[id]).await?;
        tx.commit().await.ctx("committing a station")?;
        Ok(id)
    }

    /// Deletes a station.
    pub async fn delete_station(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let id = delete_station_in(&mut tx, code, actor).await?;
        changes::record(&mut tx, "stations", &[id]).await?;
        tx.commit().await.ctx("committing a deletion")?;
        Ok(())
    }

    /// Applies several station changes in one transaction (a saved coverage scenario):
    /// all or nothing.
    pub async fn apply_station_changes(
        &self,
        batch: &[StationChange],
        actor: &Actor,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        let mut ids = Vec::with_capacity(batch.len());
        for (i, c) in batch.iter().enumerate() {
            let at = |e: StoreError| match e {
                StoreError::Field(f) => StoreError::Items(vec![(i, f.to_string())]),
                StoreError::NotFound(w) => StoreError::Items(vec![(i, format!("{w} not found"))]),
                other => other,
            };
            ids.push(match c {
                StationChange::Put(s) => put_station_in(&mut tx, s, actor).await.map_err(at)?,
                StationChange::Delete(code) => {
                    delete_station_in(&mut tx, code, actor).await.map_err(at)?
                }
            });
        }
        changes::record(&mut tx, "stations", &ids).await?;
        tx.commit().await.ctx("committing stations")?;
        Ok(ids)
    }
}

/// One change of a station batch.
#[derive(Debug, Clone)]
pub enum StationChange {
    /// Create or replace (by code).
    Put(StationInput),
    /// Delete (by code).
    Delete(String),
}

async fn put_station_in(
    tx: &mut PgConnection,
    s: &StationInput,
    actor: &Actor,
) -> Result<i64, StoreError> {
    check_name(&s.name, "properties.name")?;
    if s.code.trim().is_empty() || s.code.len() > 40 {
        return Err(FieldError::new("properties.code", "1 to 40 characters").into());
    }
    let before = station_json(tx, &s.code).await?;
    let community_id: Option<i64> = match &s.community_code {
        None => None,
        Some(c) => Some(
            sqlx::query_scalar("SELECT id FROM communities WHERE code = $1")
                .bind(c)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a community")?
                .ok_or_else(|| {
                    FieldError::new("properties.community_code", format!("no community {c}"))
                })?,
        ),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stations (code, name, kind, community_id, programmes, address, geom) \
         VALUES ($1, $2, $3, $4, $5, $6, ST_GeomFromWKB($7, 4326)) \
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, \
           community_id = EXCLUDED.community_id, programmes = EXCLUDED.programmes, \
           address = EXCLUDED.address, geom = EXCLUDED.geom RETURNING id",
    )
    .bind(&s.code)
    .bind(s.name.trim())
    .bind(s.kind.as_str())
    .bind(community_id)
    .bind(s.programmes)
    .bind(&s.address)
    .bind(wkb::encode_point(s.point))
    .fetch_one(&mut *tx)
    .await
    .ctx("writing a station")?;
    let after = station_json(tx, &s.code).await?;
    let region_id = station_region(tx, id).await?;
    audit::write(
        &mut *tx,
        actor,
        Entry {
            action: if before.is_some() { "update" } else { "create" },
            entity: "station",
            key: &s.code,
            before,
            after,
            region_id,
        },
    )
    .await?;
    Ok(id)
}

async fn delete_station_in(
    tx: &mut PgConnection,
    code: &str,
    actor: &Actor,
) -> Result<i64, StoreError> {
    let before = station_json(tx, code)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("station {code}")))?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM stations WHERE code = $1")
        .bind(code)
        .fetch_one(&mut *tx)
        .await
        .ctx("finding a station")?;
    let region_id = station_region(tx, id).await?;
    sqlx::query("DELETE FROM stations WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("deleting a station")?;
    audit::write(
        &mut *tx,
        actor,
        Entry {
            action: "delete",
            entity: "station",
            key: code,
            before: Some(before),
            after: None,
            region_id,
        },
    )
    .await?;
    Ok(id)
}

async fn grid_staff(
    tx: &mut PgConnection,
    grid_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    sqlx::query_as(
        "SELECT s.code, a.role FROM staff_assignments a JOIN staff s ON s.id = a.staff_id \
         WHERE a.grid_id = $1 AND a.until IS NULL ORDER BY a.role, s.code",
    )
    .bind(grid_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading staff")
}

async fn station_json(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    sqlx::query_scalar(
        "SELECT json_build_object('code', code, 'name', name, 'kind', kind, 'programmes', programmes, \
           'address', address, 'geometry', ST_AsGeoJSON(geom)::json) FROM stations WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading a station")
}

async fn station_region(tx: &mut PgConnection, id: i64) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(
        "SELECT c.region_id FROM stations s JOIN communities c \
         ON c.id = s.community_id OR (s.community_id IS NULL AND ST_Covers(c.geom, s.geom)) \
         WHERE s.id = $1 ORDER BY c.id LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .ctx("finding a region")
}
