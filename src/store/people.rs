//! Residents and their personal data, grid staff, and service stations: the small
//! records that administrators and grid chiefs edit one at a time. Every change is audited
//! and logged for the index in the same transaction.

use super::audit::{Actor, Entry};
use super::write::Write;
use super::{wkb, DbContext, Store, StoreError};
use crate::domain::access::{Place, StaffTouch};
use crate::domain::hierarchy::check_name;
use crate::domain::{FieldError, Membership, StationKind};
use crate::store::changes::ChangeLayer;
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
            check_phone(p, "phone")?;
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

/// A grid staff member in an assignment request. Fields left out (or `null`) keep their
/// stored value; an empty phone clears it.
#[derive(Debug, Clone, Deserialize)]
pub struct StaffInput {
    /// Staff code (an existing member, or a new one when `name` is given).
    pub code: String,
    /// Name, to create or rename.
    pub name: Option<String>,
    /// Personal phone (personal data).
    pub phone: Option<String>,
    /// Duty phone (工作电话, public to whoever sees the grid).
    pub duty_phone: Option<String>,
    /// Resident record of the staff member.
    pub person_code: Option<String>,
    /// Member of the community's two committees (两委).
    pub committee: Option<bool>,
}

/// Most staff (chief and members) one grid may have in a write.
pub const MAX_STAFF_PER_GRID: usize = 50;

/// A stored staff record with the role it has on one grid, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StaffRecord {
    /// `chief` or `member` (empty when read without a grid).
    pub role: String,
    /// Staff code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Personal phone.
    pub phone: Option<String>,
    /// Duty phone.
    pub duty_phone: Option<String>,
    /// Code of the linked resident.
    pub person_code: Option<String>,
    /// Member of the two committees.
    pub committee: bool,
}

/// What a staff write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffOutcome {
    /// False when the write named the staff the grid already has, as they are: nothing was
    /// written, audited or announced.
    pub changed: bool,
}

/// Checks a phone number: digits, spaces, `+` and `-`, at most 20 characters.
fn check_phone(p: &str, field: &str) -> Result<(), FieldError> {
    if p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) {
        return Err(FieldError::new(
            field,
            "digits, spaces, + and - only, at most 20",
        ));
    }
    Ok(())
}

impl StaffInput {
    /// Checks what can be checked without the database; `path` is where the record is in
    /// the request (`chief`, `members[2]`).
    fn check(&self, path: &str) -> Result<(), FieldError> {
        let code = self.code.trim();
        if code.is_empty() || code.chars().count() > 40 || code != self.code {
            return Err(FieldError::new(
                format!("{path}.code"),
                "1 to 40 characters, no surrounding spaces",
            ));
        }
        if let Some(n) = &self.name {
            check_name(n, &format!("{path}.name"))?;
        }
        if let Some(p) = &self.phone {
            check_phone(p.trim(), &format!("{path}.phone"))?;
        }
        if let Some(p) = &self.duty_phone {
            check_phone(p.trim(), &format!("{path}.duty_phone"))?;
        }
        if self
            .person_code
            .as_ref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(FieldError::new(
                format!("{path}.person_code"),
                "a person code, or leave it out",
            ));
        }
        Ok(())
    }

    /// The record this input makes of `stored` (or of nothing: a new record).
    fn applied_to(&self, stored: Option<&StaffRecord>) -> Option<StaffRecord> {
        let phone = |given: &Option<String>, old: Option<&Option<String>>| match given {
            Some(p) if p.trim().is_empty() => None,
            Some(p) => Some(p.trim().to_string()),
            None => old.cloned().flatten(),
        };
        Some(StaffRecord {
            role: String::new(),
            code: self.code.clone(),
            name: match (&self.name, stored) {
                (Some(n), _) => n.trim().to_string(),
                (None, Some(s)) => s.name.clone(),
                (None, None) => return None,
            },
            phone: phone(&self.phone, stored.map(|s| &s.phone)),
            duty_phone: phone(&self.duty_phone, stored.map(|s| &s.duty_phone)),
            person_code: self
                .person_code
                .as_ref()
                .map(|c| c.trim().to_string())
                .or_else(|| stored.and_then(|s| s.person_code.clone())),
            committee: self
                .committee
                .or(stored.map(|s| s.committee))
                .unwrap_or(false),
        })
    }
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
        let mut tx = self.begin_write(actor).await?;
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
        let (b, a) = (before.map(|b| json!(b)), Some(json!(after)));
        let entry = Entry::record("person", &p.code, b, a).in_region(region_id);
        let people = (ChangeLayer::People, &[id][..]);
        tx.finish(entry, people, "committing a person").await?;
        Ok(after)
    }

    /// Deletes a resident.
    pub async fn delete_person(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.begin_write(actor).await?;
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
        let entry = Entry::record("person", code, Some(json!(before)), None).in_region(region_id);
        let people = (ChangeLayer::People, &[][..]);
        tx.finish(entry, people, "committing a deletion").await?;
        Ok(())
    }

    /// Sets a grid's chief and members (the whole list: staff left out stop serving the
    /// grid), creating the records given with a name and changing the fields given.
    /// `check(path, input, touch)` decides, inside the transaction and before anything is written,
    /// whether the caller may touch each record named (`path` is `chief` or `members[i]`);
    /// its error aborts the write. Naming the staff the grid already has, as they are,
    /// writes nothing and says so. The audit entry holds every record before and after.
    pub async fn set_grid_staff<E: From<StoreError>>(
        &self,
        grid_code: &str,
        chief: Option<&StaffInput>,
        members: &[StaffInput],
        actor: &Actor,
        check: &(dyn Fn(&str, &StaffInput, &StaffTouch) -> Result<(), E> + Sync),
    ) -> Result<StaffOutcome, E> {
        let items = staff_items(chief, members).map_err(|f| E::from(StoreError::from(f)))?;
        let mut tx = self.begin_write(actor).await?;
        let (grid_id, region_id) = lock_grid_staff(&mut tx, grid_code, &items).await?;
        let before = grid_staff(&mut tx, grid_id).await?;
        // Gather and check every record before writing any.
        let mut plan = Vec::with_capacity(items.len());
        for (path, role, s) in &items {
            let (stored, next, touch) = staff_touch(&mut tx, grid_id, path, s).await?;
            check(path, s, &touch)?;
            plan.push((*role, stored, touch.changes_record, next));
        }
        let wanted = write_staff_records(&mut tx, plan).await?;
        reassign_grid(&mut tx, grid_id, &wanted).await?;
        let after = grid_staff(&mut tx, grid_id).await?;
        if after == before {
            tx.abandon().await?;
            return Ok(StaffOutcome { changed: false });
        }
        let entry = Entry::assigned("staff", grid_code, &before, &after).in_region(Some(region_id));
        let staff = (ChangeLayer::Staff, &[grid_id][..]);
        tx.finish(entry, staff, "committing staff").await?;
        Ok(StaffOutcome { changed: true })
    }

    /// Creates or replaces a station (by code).
    pub async fn put_station(&self, s: &StationInput, actor: &Actor) -> Result<i64, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let id = put_station_in(&mut tx, s).await?;
        tx.commit(ChangeLayer::Stations, &[id], "committing a station")
            .await?;
        Ok(id)
    }

    /// Deletes a station.
    pub async fn delete_station(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let id = delete_station_in(&mut tx, code).await?;
        tx.commit(ChangeLayer::Stations, &[id], "committing a deletion")
            .await?;
        Ok(())
    }

    /// Applies several station changes in one transaction (a saved coverage scenario):
    /// all or nothing.
    pub async fn apply_station_changes(
        &self,
        batch: &[StationChange],
        actor: &Actor,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let mut ids = Vec::with_capacity(batch.len());
        for (i, c) in batch.iter().enumerate() {
            let at = |e: StoreError| match e {
                StoreError::Field(f) => StoreError::Items(vec![(i, f.to_string())]),
                StoreError::NotFound(w) => StoreError::Items(vec![(i, format!("{w} not found"))]),
                other => other,
            };
            ids.push(match c {
                StationChange::Put(s) => put_station_in(&mut tx, s).await.map_err(at)?,
                StationChange::Delete(code) => {
                    delete_station_in(&mut tx, code).await.map_err(at)?
                }
            });
        }
        tx.commit(ChangeLayer::Stations, &ids, "committing stations")
            .await?;
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

/// Creates or replaces a station in an audited write; returns its id.
async fn put_station_in(tx: &mut Write<'_>, s: &StationInput) -> Result<i64, StoreError> {
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
                .fetch_optional(&mut **tx)
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
    .fetch_one(&mut **tx)
    .await
    .ctx("writing a station")?;
    let after = station_json(tx, &s.code).await?;
    let region_id = station_region(tx, id).await?;
    let entry = Entry::record("station", &s.code, before, after).in_region(region_id);
    tx.audit(entry).await?;
    Ok(id)
}

/// Deletes a station in an audited write; returns the id it had.
async fn delete_station_in(tx: &mut Write<'_>, code: &str) -> Result<i64, StoreError> {
    let before = station_json(tx, code)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("station {code}")))?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM stations WHERE code = $1")
        .bind(code)
        .fetch_one(&mut **tx)
        .await
        .ctx("finding a station")?;
    let region_id = station_region(tx, id).await?;
    sqlx::query("DELETE FROM stations WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .ctx("deleting a station")?;
    let entry = Entry::record("station", code, Some(before), None).in_region(region_id);
    tx.audit(entry).await?;
    Ok(id)
}

const STAFF: &str = "s.code, s.name, s.phone, s.duty_phone, p.code AS person_code, s.committee \
     FROM staff s LEFT JOIN people p ON p.id = s.person_id";

/// The records a grid's staff list names, with their paths (`chief`, `members[i]`) and
/// roles: at most [`MAX_STAFF_PER_GRID`], each valid and named once.
fn staff_items<'a>(
    chief: Option<&'a StaffInput>,
    members: &'a [StaffInput],
) -> Result<Vec<(String, &'static str, &'a StaffInput)>, FieldError> {
    if members.len() + usize::from(chief.is_some()) > MAX_STAFF_PER_GRID {
        return Err(FieldError::new(
            "members",
            format!("a grid has at most {MAX_STAFF_PER_GRID} staff, its chief included"),
        ));
    }
    let items: Vec<(String, &'static str, &StaffInput)> = chief
        .map(|c| ("chief".to_string(), "chief", c))
        .into_iter()
        .chain(
            members
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("members[{i}]"), "member", m)),
        )
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (path, _, s) in &items {
        s.check(path)?;
        if !seen.insert(s.code.as_str()) {
            return Err(FieldError::new(
                format!("{path}.code"),
                format!("{} is listed twice", s.code),
            ));
        }
    }
    Ok(items)
}

/// Finds a grid (its id and region) and locks its staff: one staff write per grid at a
/// time, and the records named locked in code order (so that two writes naming the same
/// people cannot deadlock).
async fn lock_grid_staff(
    tx: &mut PgConnection,
    grid_code: &str,
    items: &[(String, &'static str, &StaffInput)],
) -> Result<(i64, i64), StoreError> {
    let (grid_id, region_id): (i64, i64) = sqlx::query_as(
        "SELECT g.id, c.region_id FROM current_grids g JOIN communities c ON c.id = g.community_id WHERE g.code = $1",
    )
    .bind(grid_code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("finding a grid")?
    .ok_or_else(|| StoreError::NotFound(format!("grid {grid_code}")))?;
    sqlx::query("SELECT id FROM grids WHERE id = $1 FOR UPDATE")
        .bind(grid_id)
        .execute(&mut *tx)
        .await
        .ctx("locking a grid's staff")?;
    let mut codes: Vec<&str> = items.iter().map(|(_, _, s)| s.code.as_str()).collect();
    codes.sort_unstable();
    sqlx::query("SELECT id FROM staff WHERE code = ANY($1) ORDER BY code FOR UPDATE")
        .bind(&codes)
        .execute(&mut *tx)
        .await
        .ctx("locking staff")?;
    Ok((grid_id, region_id))
}

/// What naming record `s` (at `path`) in grid `grid_id`'s list would touch: its stored id,
/// the record as it would be, and what the caller's check needs to know.
async fn staff_touch<E: From<StoreError>>(
    tx: &mut PgConnection,
    grid_id: i64,
    path: &str,
    s: &StaffInput,
) -> Result<(Option<i64>, StaffRecord, StaffTouch), E> {
    let field = |f: FieldError| E::from(StoreError::from(f));
    let stored = staff_record(&mut *tx, &s.code).await?;
    let next = s.applied_to(stored.as_ref().map(|x| &x.1)).ok_or_else(|| {
        field(FieldError::new(
            format!("{path}.name"),
            format!("no staff member {}; give a name to create one", s.code),
        ))
    })?;
    let changes_record = stored.as_ref().is_none_or(|(_, r)| *r != next);
    let serves = match &stored {
        Some((id, _)) => serving(&mut *tx, *id).await?,
        None => Vec::new(),
    };
    let old_person = stored.as_ref().and_then(|(_, r)| r.person_code.as_ref());
    let links_resident = match &next.person_code {
        Some(pc) if Some(pc) != old_person => {
            Some(resident_home(&mut *tx, pc).await?.ok_or_else(|| {
                field(FieldError::new(
                    format!("{path}.person_code"),
                    format!("no person {pc}"),
                ))
            })?)
        }
        _ => None,
    };
    let touch = StaffTouch {
        exists: stored.is_some(),
        changes_record,
        serves_here: serves.iter().any(|(g, _)| *g == grid_id),
        serves_elsewhere: serves
            .iter()
            .filter(|(g, _)| *g != grid_id)
            .map(|(_, p)| *p)
            .collect(),
        links_resident,
    };
    Ok((stored.map(|(id, _)| id), next, touch))
}

/// Writes the records of a checked plan (role, stored id, whether it changes, the record as
/// it will be) that are new or change; returns each record's id with its role.
async fn write_staff_records(
    tx: &mut PgConnection,
    plan: Vec<(&'static str, Option<i64>, bool, StaffRecord)>,
) -> Result<Vec<(i64, &'static str)>, StoreError> {
    let mut wanted: Vec<(i64, &'static str)> = Vec::with_capacity(plan.len());
    for (role, id, changes_record, r) in plan {
        let id = match id {
            Some(id) if !changes_record => id,
            _ => sqlx::query_scalar(
                "INSERT INTO staff (code, name, phone, duty_phone, person_id, committee) \
                 VALUES ($1, $2, $3, $4, (SELECT id FROM people WHERE code = $5), $6) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone, \
                   duty_phone = EXCLUDED.duty_phone, person_id = EXCLUDED.person_id, \
                   committee = EXCLUDED.committee RETURNING id",
            )
            .bind(&r.code)
            .bind(&r.name)
            .bind(&r.phone)
            .bind(&r.duty_phone)
            .bind(&r.person_code)
            .bind(r.committee)
            .fetch_one(&mut *tx)
            .await
            .ctx("writing staff")?,
        };
        wanted.push((id, role));
    }
    Ok(wanted)
}

/// Makes a grid's open assignments the `wanted` (staff id, role) pairs: closes those no
/// longer wanted first (one chief per grid), then opens the new ones; those that stay keep
/// their start.
async fn reassign_grid(
    tx: &mut PgConnection,
    grid_id: i64,
    wanted: &[(i64, &'static str)],
) -> Result<(), StoreError> {
    let open: Vec<(i64, String)> = sqlx::query_as(
        "SELECT staff_id, role FROM staff_assignments WHERE grid_id = $1 AND until IS NULL",
    )
    .bind(grid_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading assignments")?;
    for (staff_id, role) in &open {
        if !wanted.iter().any(|(s, r)| s == staff_id && r == role) {
            sqlx::query(
                "UPDATE staff_assignments SET until = now() \
                 WHERE grid_id = $1 AND staff_id = $2 AND until IS NULL",
            )
            .bind(grid_id)
            .bind(staff_id)
            .execute(&mut *tx)
            .await
            .ctx("closing assignments")?;
        }
    }
    for (staff_id, role) in wanted {
        if !open.iter().any(|(s, r)| s == staff_id && r == role) {
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
    }
    Ok(())
}

/// The chief and members of a grid with their records, chief first.
async fn grid_staff(tx: &mut PgConnection, grid_id: i64) -> Result<Vec<StaffRecord>, StoreError> {
    sqlx::query_as(&format!(
        "SELECT a.role, {STAFF} JOIN staff_assignments a ON a.staff_id = s.id \
         WHERE a.grid_id = $1 AND a.until IS NULL ORDER BY a.role, s.code"
    ))
    .bind(grid_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading staff")
}

#[derive(sqlx::FromRow)]
struct StoredStaff {
    id: i64,
    #[sqlx(flatten)]
    record: StaffRecord,
}

/// A staff record by code, with its id (its role left empty).
async fn staff_record(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<(i64, StaffRecord)>, StoreError> {
    let r: Option<StoredStaff> = sqlx::query_as(&format!(
        "SELECT s.id, '' AS role, {STAFF} WHERE s.code = $1"
    ))
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("reading staff")?;
    Ok(r.map(|r| (r.id, r.record)))
}

/// The grids a staff member serves now, with their places.
async fn serving(tx: &mut PgConnection, staff_id: i64) -> Result<Vec<(i64, Place)>, StoreError> {
    let rows: Vec<(i64, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT DISTINCT g.id, c.region_id, g.community_id, g.parent_id FROM staff_assignments a \
         JOIN current_grids g ON g.id = a.grid_id JOIN communities c ON c.id = g.community_id \
         WHERE a.staff_id = $1 AND a.until IS NULL ORDER BY g.id",
    )
    .bind(staff_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading assignments")?;
    Ok(rows
        .into_iter()
        .map(|(grid, region, community, parent)| (grid, place(region, community, grid, parent)))
        .collect())
}

/// The home of a resident: `None` if there is no such person, `Some(None)` if they have no
/// home building in a grid.
async fn resident_home(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<Option<Place>>, StoreError> {
    // Region, community, grid and parent grid; null where the home is in no grid.
    type HomeRow = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<HomeRow> = sqlx::query_as(
        "SELECT c.region_id, g.community_id, g.id, g.parent_id FROM people p \
         LEFT JOIN buildings b ON b.id = p.home_building_id LEFT JOIN current_grids g ON g.id = b.grid_id \
         LEFT JOIN communities c ON c.id = g.community_id WHERE p.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
    .ctx("finding a person")?;
    Ok(row.map(|r| match r {
        (Some(region), Some(community), Some(grid), parent) => {
            Some(place(region, community, grid, parent))
        }
        _ => None,
    }))
}

fn place(region_id: i64, community_id: i64, grid_id: i64, parent_grid_id: Option<i64>) -> Place {
    Place {
        region_id,
        community_id,
        grid_id: Some(grid_id),
        parent_grid_id,
    }
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
