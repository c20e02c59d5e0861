//! Writing people and staff that the top-level `import` module has parsed: people in bulk
//! statements, staff one assignment at a time (a code may serve several grids).

use super::{
    finish_import, id_by_code, item, nothing_to_import, refuse_unknown, unique_violation, Insert,
    Table, CHUNK,
};
use crate::store::audit::Actor;
use crate::store::bulk::{chunks, Column};
use crate::store::changes::ChangeLayer;
use crate::store::people::StaffRecord;
use crate::store::{DbContext, Store, StoreError};

/// Inserts people with their personal details.
const PEOPLE: Insert = Insert {
    sql: "WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[]) \
         AS u(code, building, sex, birth, membership, name, phone, work, household)), \
         ins AS (INSERT INTO people (code, home_building_id, sex, birth_year, membership) \
         SELECT t.code, b.id, t.sex, t.birth, t.membership FROM t LEFT JOIN buildings b ON b.code = t.building \
         RETURNING id, code) \
         INSERT INTO person_details (person_id, name, phone, work_unit, household) \
         SELECT ins.id, t.name, t.phone, t.work, t.household FROM ins JOIN t ON t.code = ins.code",
    field: "code",
    what: "a person",
};

/// People parsed from a file, as columns (one entry per person in each).
#[derive(Debug, Default)]
pub struct PeopleColumns {
    /// Person codes.
    pub code: Vec<String>,
    /// Home building codes.
    pub building: Vec<Option<String>>,
    /// Full names.
    pub name: Vec<String>,
    /// `M` or `F`.
    pub sex: Vec<Option<String>>,
    /// Years of birth.
    pub birth: Vec<Option<i32>>,
    /// Personal phones.
    pub phone: Vec<Option<String>>,
    /// Work units.
    pub work: Vec<Option<String>>,
    /// Household labels.
    pub household: Vec<Option<String>>,
    /// Party membership: `full`, `probationary` or `none`.
    pub membership: Vec<String>,
}

impl PeopleColumns {
    /// Every column, in the order of the insert's parameters.
    fn all(&self) -> [&dyn Column; 9] {
        [
            &self.code,
            &self.building,
            &self.sex,
            &self.birth,
            &self.membership,
            &self.name,
            &self.phone,
            &self.work,
            &self.household,
        ]
    }
}

/// One staff assignment parsed from a file: the staff record with its role, and the grid.
#[derive(Debug, Clone)]
pub struct StaffRow {
    /// The staff member (one person serving several grids keeps one code) and the role.
    pub record: StaffRecord,
    /// Code of the grid served.
    pub grid_code: String,
}

impl Store {
    /// Writes parsed people (see [`PeopleColumns`]) in bulk statements, after checking that
    /// every building they name exists. `progress(done, total)` is called as rows are written.
    pub async fn import_people(
        &self,
        actor: &Actor,
        c: PeopleColumns,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, StoreError> {
        if c.code.is_empty() {
            return Err(nothing_to_import("rows"));
        }
        let mut tx = self.begin_write(actor).await?;
        let total = c.code.len();
        for r in chunks(total, CHUNK * 5) {
            refuse_unknown(
                &mut tx,
                Table::Buildings,
                &c.building,
                r.clone(),
                "building_code",
            )
            .await?;
            PEOPLE
                .chunk(&mut tx, &c.all(), r, (progress, total))
                .await?;
        }
        let layer = ("people", ChangeLayer::People);
        finish_import(tx, layer, total, "committing people").await
    }

    /// Writes parsed staff rows (see [`StaffRow`]) and their grid assignments. A person
    /// serving several grids keeps one code; the first row of a code gives its phones,
    /// resident and committee seat.
    pub async fn import_staff(
        &self,
        actor: &Actor,
        rows: Vec<StaffRow>,
    ) -> Result<usize, StoreError> {
        if rows.is_empty() {
            return Err(nothing_to_import("rows"));
        }
        let mut tx = self.begin_write(actor).await?;
        for (i, r) in rows.iter().enumerate() {
            let StaffRow {
                record:
                    StaffRecord {
                        role,
                        code,
                        name,
                        phone,
                        duty_phone: duty,
                        person_code: person,
                        committee,
                    },
                grid_code: grid,
            } = r;
            let person_id: Option<i64> = match person {
                None => None,
                Some(pc) => Some(
                    id_by_code(
                        &mut tx,
                        "SELECT id FROM people WHERE code = $1",
                        pc,
                        "finding a person",
                    )
                    .await?
                    .ok_or_else(|| item(i, format!("person_code: no person {pc}")))?,
                ),
            };
            let staff_id: i64 = sqlx::query_scalar(
                "INSERT INTO staff (code, name, phone, duty_phone, person_id, committee) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            )
            .bind(code)
            .bind(name)
            .bind(phone)
            .bind(duty)
            .bind(person_id)
            .bind(committee)
            .fetch_one(&mut *tx)
            .await
            .ctx("writing staff")?;
            let grid_sql = "SELECT id FROM current_grids WHERE code = $1";
            let grid_id = id_by_code(&mut tx, grid_sql, grid, "finding a grid")
                .await?
                .ok_or_else(|| item(i, format!("grid_code: no grid {grid}")))?;
            let res = sqlx::query(
                "INSERT INTO staff_assignments (grid_id, staff_id, role) VALUES ($1, $2, $3)",
            )
            .bind(grid_id)
            .bind(staff_id)
            .bind(role)
            .execute(&mut *tx)
            .await;
            unique_violation(
                res,
                i,
                "role",
                "an assignment (one chief per grid; once per grid)",
            )?;
        }
        let layer = ("staff", ChangeLayer::Staff);
        finish_import(tx, layer, rows.len(), "committing staff").await
    }
}
