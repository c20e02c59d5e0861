//! The reads behind one building's and one station's panel: a building's households (each
//! household label with its residents, and its head's name only when the caller asks for
//! names), the households its patrols visited in a span of time (counted, and named where
//! the phone named them), the labels a visit may name, a station's service facts
//! (opening hours, service phone, address), and the one write of those facts.
//!
//! Must not: decide who may see what. Callers say whether names are wanted; the answer
//! holds none when they are not.

use super::audit::{Actor, Entry};
use super::changes::ChangeLayer;
use super::{DbContext, Store, StoreError};
use crate::domain::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// One household (户) of a building, as its residents' records give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Household {
    /// The household's label (门牌 within the building), e.g. `2-301`.
    pub label: String,
    /// Residents recorded in it.
    pub residents: i64,
    /// The head of household's name (户主): the household's first recorded resident, by
    /// person code (wangge keeps no separate head field; the demo writes the head first).
    /// Only when names were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

/// The households of one building.
#[derive(Debug, Clone, Serialize)]
pub struct BuildingHouseholds {
    /// Households known from residents' records, by label.
    pub households: Vec<Household>,
    /// Residents of the building recorded without a household label.
    pub unlabelled_residents: i64,
}

/// Households of one building reached by one patrol.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BuildingVisit {
    /// The patrol.
    pub patrol_id: uuid::Uuid,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Who walked it: the staff member's name (public, on the grid's notice board), else
    /// the account's display name.
    pub by: String,
    /// The staff member's code, if the account is linked to one.
    pub staff_code: Option<String>,
    /// Households visited in the building.
    pub households: i32,
    /// The households visited by label, when the phone named them (`None`: a count only,
    /// as clients from before doors were named send).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doors: Option<Vec<String>>,
}

/// A station's service facts, kept in the database only (not in the in-memory index). As
/// a request body it takes the opening hours and phone only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct StationService {
    /// Street address (read only: written with the station).
    #[serde(skip_deserializing)]
    pub address: Option<String>,
    /// Opening hours as posted at the door.
    pub opening_hours: Option<String>,
    /// The station's service phone (public).
    pub phone: Option<String>,
}

/// The longest opening-hours text accepted, in characters.
pub const MAX_OPENING_HOURS: usize = 200;

impl StationService {
    /// Checks the facts as written (the address is not written here).
    fn check(&self) -> Result<(), FieldError> {
        if let Some(h) = &self.opening_hours {
            if h.chars().count() > MAX_OPENING_HOURS || h.chars().any(char::is_control) {
                return Err(FieldError::new(
                    "opening_hours",
                    format!("at most {MAX_OPENING_HOURS} characters, no control characters"),
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

async fn service_in(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<StationService>, StoreError> {
    sqlx::query_as("SELECT address, opening_hours, phone FROM stations WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a station's service facts")
}

impl Store {
    /// The households of a building. With `names`, each carries its head's name; without,
    /// no name is read at all.
    pub async fn building_households(
        &self,
        building_id: i64,
        names: bool,
    ) -> Result<BuildingHouseholds, StoreError> {
        // One group per label, and one (label null) for the residents recorded without.
        let groups: Vec<(Option<String>, i64, Option<String>)> = sqlx::query_as(
            "SELECT d.household, count(*), \
               CASE WHEN $2 THEN (array_agg(d.name ORDER BY p.code))[1] END \
             FROM people p LEFT JOIN person_details d ON d.person_id = p.id \
             WHERE p.home_building_id = $1 GROUP BY d.household ORDER BY d.household",
        )
        .bind(building_id)
        .bind(names)
        .fetch_all(&self.pool)
        .await
        .ctx("reading a building's households")?;
        let mut out = BuildingHouseholds {
            households: Vec::with_capacity(groups.len()),
            unlabelled_residents: 0,
        };
        for (label, residents, head) in groups {
            match label {
                Some(label) => out.households.push(Household {
                    label,
                    residents,
                    head,
                }),
                None => out.unlabelled_residents = residents,
            }
        }
        Ok(out)
    }

    /// The visits of complete patrols started in `[from, to)` to a building (the patrols
    /// that count for compliance), earliest first.
    pub async fn building_visits(
        &self,
        building_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BuildingVisit>, StoreError> {
        sqlx::query_as(
            "SELECT p.id AS patrol_id, p.started_at, p.ended_at, \
               COALESCE(s.name, a.display_name) AS by, s.code AS staff_code, v.households, v.doors \
             FROM patrol_visits v JOIN patrols p ON p.id = v.patrol_id \
             JOIN accounts a ON a.id = p.account_id LEFT JOIN staff s ON s.id = p.staff_id \
             WHERE v.building_id = $1 AND p.complete AND p.started_at >= $2 AND p.started_at < $3 \
             ORDER BY p.started_at, p.id",
        )
        .bind(building_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .ctx("reading a building's visits")
    }

    /// The household labels (doors) of each of `building_ids` that has any, as residents'
    /// records give them: what a visit may name.
    pub async fn building_doors(
        &self,
        building_ids: &[i64],
    ) -> Result<HashMap<i64, HashSet<String>>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT DISTINCT p.home_building_id, d.household \
             FROM people p JOIN person_details d ON d.person_id = p.id \
             WHERE p.home_building_id = ANY($1) AND d.household IS NOT NULL",
        )
        .bind(building_ids)
        .fetch_all(&self.pool)
        .await
        .ctx("reading the households of buildings")?;
        let mut out: HashMap<i64, HashSet<String>> = HashMap::new();
        for (building, door) in rows {
            out.entry(building).or_default().insert(door);
        }
        Ok(out)
    }

    /// A station's service facts, or `None` when there is no such station.
    pub async fn station_service(&self, code: &str) -> Result<Option<StationService>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        service_in(&mut conn, code).await
    }

    /// Writes a station's opening hours and service phone (an empty text clears one),
    /// audited under the station's region.
    pub async fn put_station_service(
        &self,
        code: &str,
        facts: &StationService,
        region_id: Option<i64>,
        actor: &Actor,
    ) -> Result<StationService, StoreError> {
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let facts = StationService {
            address: None,
            opening_hours: blank(&facts.opening_hours),
            phone: blank(&facts.phone),
        };
        facts.check()?;
        let mut w = self.begin_write(actor).await?;
        let before = service_in(&mut w, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("station {code}")))?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE stations SET opening_hours = $2, phone = $3 WHERE code = $1 RETURNING id",
        )
        .bind(code)
        .bind(&facts.opening_hours)
        .bind(&facts.phone)
        .fetch_one(&mut *w)
        .await
        .ctx("writing a station's service facts")?;
        let after = service_in(&mut w, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("station {code}")))?;
        let shown = |s: &StationService| -> Value {
            json!({ "opening_hours": s.opening_hours, "phone": s.phone })
        };
        w.finish(
            Entry::record(
                "station_service",
                code,
                Some(shown(&before)),
                Some(shown(&after)),
            )
            .in_region(region_id),
            (ChangeLayer::Stations, &[id]),
            "committing a station's service facts",
        )
        .await?;
        Ok(after)
    }
}
