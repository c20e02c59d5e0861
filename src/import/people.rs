//! Parsing the people and staff CSV files into the rows the store writes, with every bad
//! row reported by its index.

use std::io::Read;

use crate::domain::hierarchy::check_name;
use crate::domain::Membership;
use crate::store::import::{PeopleColumns, Problems, StaffRow};
use crate::store::people::StaffRecord;
use crate::store::StoreError;

/// Row `i` of a CSV file, or `None` with the row noted as unreadable.
fn readable(
    p: &mut Problems,
    i: usize,
    rec: Result<csv::StringRecord, csv::Error>,
) -> Option<csv::StringRecord> {
    p.take(i, rec.map_err(|e| format!("unreadable CSV row: {e}")))
}

/// The trimmed value of column `k` of a row, `None` when the column is absent or empty.
fn cell(rec: &csv::StringRecord, k: Option<usize>) -> Option<String> {
    k.and_then(|k| rec.get(k))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Parses people from CSV (`code,building_code,name,sex,birth_year,phone,work_unit,household,membership`,
/// after a header row), refusing with every bad row listed.
pub fn parse_people(input: impl Read) -> Result<PeopleColumns, StoreError> {
    let mut rdr = csv::Reader::from_reader(input);
    let mut p = Problems::default();
    let mut c = PeopleColumns::default();
    for (i, rec) in rdr.records().enumerate() {
        let Some(rec) = readable(&mut p, i, rec) else {
            continue;
        };
        let get = |k: usize| cell(&rec, Some(k));
        let membership = match get(8) {
            None => Some(Membership::None),
            Some(m) => Membership::parse(&m),
        };
        let sex = get(3);
        match (get(0), get(2), membership) {
            (Some(code), Some(name), Some(m)) if sex.as_deref().is_none_or(|s| s == "M" || s == "F") => {
                c.code.push(code);
                c.building.push(get(1));
                c.name.push(name);
                c.sex.push(sex);
                c.birth.push(get(4).and_then(|y| y.parse::<i32>().ok()));
                c.phone.push(get(5));
                c.work.push(get(6));
                c.household.push(get(7));
                c.membership.push(m.as_str().to_string());
            }
            _ => p.add(i, "a person needs a code and a name; sex is M or F; membership is full, probationary or none"),
        }
    }
    p.check()?;
    Ok(c)
}

/// Parses staff assignments from CSV with a header row, one row per assignment. Columns
/// by name: `code`, `name`, `grid_code` and `role` (chief or member) are required; `phone`
/// (personal), `duty_phone`, `person_code` and `committee` may be left out.
pub fn parse_staff(input: impl Read) -> Result<Vec<StaffRow>, StoreError> {
    let mut rdr = csv::Reader::from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| {
            crate::domain::FieldError::new("header", format!("unreadable CSV header: {e}"))
        })?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let [code_c, name_c, grid_c, role_c] = ["code", "name", "grid_code", "role"].map(col);
    let (Some(code_c), Some(name_c), Some(grid_c), Some(role_c)) = (code_c, name_c, grid_c, role_c)
    else {
        return Err(crate::domain::FieldError::new(
            "header",
            "a staff file needs the columns code, name, grid_code and role (and may have phone, duty_phone, person_code, committee)",
        )
        .into());
    };
    let [phone_c, duty_c, person_c, committee_c] =
        ["phone", "duty_phone", "person_code", "committee"].map(col);
    let mut p = Problems::default();
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let Some(rec) = readable(&mut p, i, rec) else {
            continue;
        };
        let get = |k: Option<usize>| cell(&rec, k);
        let role = get(Some(role_c)).filter(|r| r == "chief" || r == "member");
        match (
            get(Some(code_c)),
            get(Some(name_c)),
            get(Some(grid_c)),
            role,
        ) {
            (Some(code), Some(name), Some(grid), Some(role)) => {
                if let Err(e) = check_name(&name, "name") {
                    p.add(i, e.to_string());
                }
                let (phone, duty) = (get(phone_c), get(duty_c));
                for (v, what) in [(&phone, "phone"), (&duty, "duty_phone")] {
                    if v.as_ref().is_some_and(|v| {
                        v.len() > 20 || !v.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
                    }) {
                        p.add(
                            i,
                            format!("{what}: digits, spaces, + and - only, at most 20"),
                        );
                    }
                }
                let committee = matches!(get(committee_c).as_deref(), Some("true" | "1" | "yes"));
                let record = StaffRecord {
                    role,
                    code,
                    name,
                    phone,
                    duty_phone: duty,
                    person_code: get(person_c),
                    committee,
                };
                rows.push(StaffRow {
                    record,
                    grid_code: grid,
                });
            }
            _ => p.add(
                i,
                "a staff row needs code, name, grid_code and role (chief or member)",
            ),
        }
    }
    p.check()?;
    Ok(rows)
}
