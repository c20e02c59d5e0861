//! Audited writes of the assessment: each reads its record before and after in the write's
//! transaction, and ends with the audit entry and the commit (`store/write.rs`). No process
//! keeps assessment data in memory, so a write announces no change; a write that changes
//! nothing is abandoned unaudited.

use super::super::audit::{Actor, Entry};
use super::super::write::Write;
use super::super::{DbContext, Store, StoreError};
use super::community_id;
use crate::domain::assess::dual::Rater;
use crate::domain::assess::pledges::{check_pledges, Met, Pledge};
use crate::domain::assess::rating::Rating;
use crate::domain::assess::{check_score, check_text, check_year, Settings};
use crate::domain::FieldError;
use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgConnection;

/// Longest report document, in characters.
pub const MAX_DOCUMENT: usize = 20_000;
/// Longest summary or note, in characters.
pub const MAX_SUMMARY: usize = 2_000;

/// What a write is about, to find the community it belongs to before checking reach.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// A community, by code.
    Community(&'a str),
    /// A 双报到 unit, by code.
    Unit(&'a str),
    /// A 双报到 member, by person code.
    DualMember(&'a str),
    /// A volunteer project, by code.
    Project(&'a str),
}

/// The report (述职) of a community's secretary on a year.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// The secretary's name.
    pub secretary: Option<String>,
    /// The document (its text, or where the file is kept).
    pub document: String,
    /// Its summary.
    pub summary: String,
    /// When it was given.
    pub reported_on: Option<NaiveDate>,
}

/// The state of a record as JSON: `sql` takes the record's id and the year.
async fn state(
    conn: &mut PgConnection,
    sql: &'static str,
    id: i64,
    year: i32,
) -> Result<Option<Value>, StoreError> {
    let v: Option<Option<Value>> = sqlx::query_scalar(sql)
        .bind(id)
        .bind(year)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading an assessment record")?;
    Ok(v.flatten())
}

/// Deletes the rows of a record's year: `sql` takes the record's id and the year.
async fn clear(
    conn: &mut PgConnection,
    sql: &'static str,
    id: i64,
    year: i32,
    what: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .bind(id)
        .bind(year)
        .execute(&mut *conn)
        .await
        .ctx(what)?;
    Ok(())
}

/// Ends a write of one record: its audit entry (in the community's region when it has
/// one) and the commit; nothing when nothing changed.
async fn done(
    mut w: Write<'_>,
    (entity, key): (&str, &str),
    community: Option<i64>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), StoreError> {
    if before == after {
        return w.abandon().await;
    }
    let entry = Entry::record(entity, key, before, after);
    let entry = match community {
        Some(c) => entry.in_community(c),
        None => entry,
    };
    w.audit(entry).await?;
    w.commit_unannounced("committing an assessment entry").await
}

fn year_key(code: &str, year: i32) -> String {
    format!("{code}/{year}")
}

const SETTINGS_STATE: &str =
    "SELECT to_jsonb(s) - 'year' FROM assess_settings s WHERE year = $2 AND $1 = $1";
const REPORT_STATE: &str = "SELECT to_jsonb(r) - 'community_id' - 'year' FROM assess_reports r \
     WHERE community_id = $1 AND year = $2";
const RATINGS_STATE: &str =
    "SELECT jsonb_object_agg(layer, jsonb_build_object('score', score, 'raters', raters)) \
     FROM assess_ratings WHERE community_id = $1 AND year = $2";
const PLEDGES_STATE: &str = "SELECT jsonb_agg(to_jsonb(a) - 'person_id' - 'year' ORDER BY kind) \
     FROM assess_pledges a WHERE person_id = $1 AND year = $2";
const UNIT_STATE: &str =
    "SELECT jsonb_build_object('score', score, 'note', note) FROM assess_unit_ratings \
     WHERE unit_id = $1 AND year = $2";
const MEMBER_STATE: &str =
    "SELECT jsonb_object_agg(rater, jsonb_build_object('score', score, 'note', note)) \
     FROM assess_member_ratings WHERE person_id = $1 AND year = $2";
const COMPLETION_STATE: &str =
    "SELECT jsonb_build_object('completed_on', completed_on, 'note', note) \
     FROM assess_project_completions WHERE project_id = $1 AND $2 = $2";
const LISTS_STATE: &str = "SELECT jsonb_object_agg(list, items) FROM (SELECT list, jsonb_agg(item ORDER BY position) AS items \
     FROM assess_year_lists WHERE community_id = $1 AND year = $2 GROUP BY list) l";

/// Checks an optional note.
fn check_note(note: &Option<String>, field: &str) -> Result<(), FieldError> {
    match note {
        Some(n) => check_text(n, field, MAX_SUMMARY, false),
        None => Ok(()),
    }
}

impl Store {
    /// The community a write is about (none: the record does not exist).
    pub async fn assess_owner(&self, owner: Owner<'_>) -> Result<Option<i64>, StoreError> {
        let (sql, code) = match owner {
            Owner::Community(c) => ("SELECT id FROM communities WHERE code = $1", c),
            Owner::Unit(c) => ("SELECT community_id FROM dual_units WHERE code = $1", c),
            Owner::DualMember(c) => (
                "SELECT m.community_id FROM dual_members m JOIN people p ON p.id = m.person_id WHERE p.code = $1",
                c,
            ),
            Owner::Project(c) => ("SELECT community_id FROM volunteer_projects WHERE code = $1", c),
        };
        sqlx::query_scalar(sql)
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading what an assessment entry is about")
    }

    /// Sets the settings of `year`.
    pub async fn put_assess_settings(
        &self,
        year: i32,
        s: &Settings,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        s.check()?;
        let mut w = self.begin_write(actor).await?;
        let before = state(&mut w, SETTINGS_STATE, 0, year).await?;
        sqlx::query(
            "INSERT INTO assess_settings VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (year) DO UPDATE SET weight_members = $2, weight_residents = $3, weight_street = $4, \
               grade_good = $5, grade_fair = $6, grade_average = $7, warn_layer_below = $8, talk_below = $9, \
               notice_from = $10, weight_patrol = $11, weight_visits = $12, weight_incidents = $13, \
               weight_coverage = $14, weight_findings = $15, weight_dual = $16, points_per_finding = $17",
        )
        .bind(year)
        .bind(s.weight_members)
        .bind(s.weight_residents)
        .bind(s.weight_street)
        .bind(s.grade_good)
        .bind(s.grade_fair)
        .bind(s.grade_average)
        .bind(s.warn_layer_below)
        .bind(s.talk_below)
        .bind(s.notice_from)
        .bind(s.weight_patrol)
        .bind(s.weight_visits)
        .bind(s.weight_incidents)
        .bind(s.weight_coverage)
        .bind(s.weight_findings)
        .bind(s.weight_dual)
        .bind(s.points_per_finding)
        .execute(&mut *w)
        .await
        .ctx("writing the assessment settings")?;
        let after = state(&mut w, SETTINGS_STATE, 0, year).await?;
        let key = year.to_string();
        done(w, ("assess_settings", &key), None, before, after).await
    }

    /// Records the report of a community's secretary on `year`.
    pub async fn put_assess_report(
        &self,
        community: &str,
        year: i32,
        r: &ReportInput,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        check_text(&r.document, "document", MAX_DOCUMENT, true)?;
        check_text(&r.summary, "summary", MAX_SUMMARY, true)?;
        check_note(&r.secretary, "secretary")?;
        let mut w = self.begin_write(actor).await?;
        let c = community_id(&mut w, community, "community").await?;
        let before = state(&mut w, REPORT_STATE, c, year).await?;
        sqlx::query(
            "INSERT INTO assess_reports (community_id, year, secretary, document, summary, reported_on) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (community_id, year) DO UPDATE SET \
               secretary = $3, document = $4, summary = $5, reported_on = $6",
        )
        .bind(c)
        .bind(year)
        .bind(r.secretary.as_deref().map(str::trim))
        .bind(r.document.trim())
        .bind(r.summary.trim())
        .bind(r.reported_on)
        .execute(&mut *w)
        .await
        .ctx("writing a report")?;
        let after = state(&mut w, REPORT_STATE, c, year).await?;
        let key = year_key(community, year);
        done(w, ("assess_report", &key), Some(c), before, after).await
    }

    /// Sets the ratings of a community for `year`: the layers given replace those stored.
    pub async fn put_assess_ratings(
        &self,
        community: &str,
        year: i32,
        ratings: &[Rating],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        for (i, r) in ratings.iter().enumerate() {
            check_score(r.score, &format!("ratings[{i}].score"))?;
            if r.raters <= 0 {
                return Err(FieldError::new(format!("ratings[{i}].raters"), "at least 1").into());
            }
            if ratings[..i].iter().any(|q| q.layer == r.layer) {
                return Err(FieldError::new(
                    format!("ratings[{i}].layer"),
                    format!("{} given twice", r.layer.as_str()),
                )
                .into());
            }
        }
        let mut w = self.begin_write(actor).await?;
        let c = community_id(&mut w, community, "community").await?;
        let before = state(&mut w, RATINGS_STATE, c, year).await?;
        clear(
            &mut w,
            "DELETE FROM assess_ratings WHERE community_id = $1 AND year = $2",
            c,
            year,
            "writing ratings",
        )
        .await?;
        let layers: Vec<&str> = ratings.iter().map(|r| r.layer.as_str()).collect();
        let scores: Vec<f64> = ratings.iter().map(|r| r.score).collect();
        let raters: Vec<i32> = ratings.iter().map(|r| r.raters).collect();
        sqlx::query(
            "INSERT INTO assess_ratings (community_id, year, layer, score, raters) \
             SELECT $1, $2, l, s, n FROM unnest($3::text[], $4::float8[], $5::int[]) AS t (l, s, n)",
        )
        .bind(c)
        .bind(year)
        .bind(&layers)
        .bind(&scores)
        .bind(&raters)
        .execute(&mut *w)
        .await
        .ctx("writing ratings")?;
        let after = state(&mut w, RATINGS_STATE, c, year).await?;
        let key = year_key(community, year);
        done(w, ("assess_ratings", &key), Some(c), before, after).await
    }

    /// Sets the pledges of `year` of a member of a community's two committees (replacing
    /// those stored), with their assessments.
    pub async fn put_assess_pledges(
        &self,
        person: &str,
        community: &str,
        year: i32,
        pledges: &[Pledge],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        check_pledges(pledges, "pledges")?;
        let mut w = self.begin_write(actor).await?;
        let c = community_id(&mut w, community, "community_code").await?;
        let pid: Option<i64> = sqlx::query_scalar("SELECT id FROM people WHERE code = $1")
            .bind(person)
            .fetch_optional(&mut *w)
            .await
            .ctx("reading a person")?;
        let pid = pid.ok_or_else(|| StoreError::NotFound(format!("person {person}")))?;
        let before = state(&mut w, PLEDGES_STATE, pid, year).await?;
        clear(
            &mut w,
            "DELETE FROM assess_pledges WHERE person_id = $1 AND year = $2",
            pid,
            year,
            "writing pledges",
        )
        .await?;
        for p in pledges {
            sqlx::query(
                "INSERT INTO assess_pledges (person_id, community_id, year, kind, target, annual_result, \
                   annual_note, term_result, term_note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(pid)
            .bind(c)
            .bind(year)
            .bind(p.kind.as_str())
            .bind(p.target.trim())
            .bind(p.annual.map(Met::as_str))
            .bind(&p.annual_note)
            .bind(p.term.map(Met::as_str))
            .bind(&p.term_note)
            .execute(&mut *w)
            .await
            .ctx("writing pledges")?;
        }
        let after = state(&mut w, PLEDGES_STATE, pid, year).await?;
        let key = year_key(person, year);
        done(w, ("assess_pledges", &key), Some(c), before, after).await
    }

    /// Sets (or, with `None`, removes) the community's rating of a 双报到 unit for `year`.
    pub async fn put_unit_rating(
        &self,
        unit: &str,
        year: i32,
        rating: Option<(f64, Option<String>)>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        if let Some((score, note)) = &rating {
            check_score(*score, "score")?;
            check_note(note, "note")?;
        }
        let mut w = self.begin_write(actor).await?;
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, community_id FROM dual_units WHERE code = $1")
                .bind(unit)
                .fetch_optional(&mut *w)
                .await
                .ctx("reading a 双报到 unit")?;
        let (id, c) = row.ok_or_else(|| StoreError::NotFound(format!("双报到 unit {unit}")))?;
        let before = state(&mut w, UNIT_STATE, id, year).await?;
        clear(
            &mut w,
            "DELETE FROM assess_unit_ratings WHERE unit_id = $1 AND year = $2",
            id,
            year,
            "writing a unit's rating",
        )
        .await?;
        if let Some((score, note)) = &rating {
            sqlx::query(
                "INSERT INTO assess_unit_ratings (unit_id, year, score, note) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(year)
            .bind(score)
            .bind(note)
            .execute(&mut *w)
            .await
            .ctx("writing a unit's rating")?;
        }
        let after = state(&mut w, UNIT_STATE, id, year).await?;
        let key = year_key(unit, year);
        done(w, ("assess_unit_rating", &key), Some(c), before, after).await
    }

    /// Sets the ratings of `year` of a 双报到 member by the community and by their unit
    /// (those given replace those stored).
    pub async fn put_member_ratings(
        &self,
        person: &str,
        year: i32,
        ratings: &[(Rater, f64, Option<String>)],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        for (i, (rater, score, note)) in ratings.iter().enumerate() {
            check_score(*score, &format!("ratings[{i}].score"))?;
            check_note(note, &format!("ratings[{i}].note"))?;
            if ratings[..i].iter().any(|q| q.0 == *rater) {
                return Err(FieldError::new(
                    format!("ratings[{i}].by"),
                    format!("{} given twice", rater.as_str()),
                )
                .into());
            }
        }
        let mut w = self.begin_write(actor).await?;
        let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT p.id, m.community_id, m.unit_id FROM people p JOIN dual_members m ON m.person_id = p.id \
             WHERE p.code = $1",
        )
        .bind(person)
        .fetch_optional(&mut *w)
        .await
        .ctx("reading a 双报到 member")?;
        let (pid, c, unit) =
            row.ok_or_else(|| StoreError::NotFound(format!("双报到 member {person}")))?;
        if unit.is_none() {
            if let Some(i) = ratings.iter().position(|r| r.0 == Rater::Unit) {
                return Err(FieldError::new(
                    format!("ratings[{i}].by"),
                    format!("{person} is registered without a unit"),
                )
                .into());
            }
        }
        let before = state(&mut w, MEMBER_STATE, pid, year).await?;
        clear(
            &mut w,
            "DELETE FROM assess_member_ratings WHERE person_id = $1 AND year = $2",
            pid,
            year,
            "writing a member's ratings",
        )
        .await?;
        for (rater, score, note) in ratings {
            sqlx::query(
                "INSERT INTO assess_member_ratings (person_id, year, rater, score, note) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(pid)
            .bind(year)
            .bind(rater.as_str())
            .bind(score)
            .bind(note)
            .execute(&mut *w)
            .await
            .ctx("writing a member's ratings")?;
        }
        let after = state(&mut w, MEMBER_STATE, pid, year).await?;
        let key = year_key(person, year);
        done(w, ("assess_member_ratings", &key), Some(c), before, after).await
    }

    /// Records (or, with `None`, withdraws) the completion of a volunteer project of `year`.
    pub async fn put_completion(
        &self,
        project: &str,
        year: i32,
        completion: Option<(NaiveDate, Option<String>)>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        if let Some((_, note)) = &completion {
            check_note(note, "note")?;
        }
        let mut w = self.begin_write(actor).await?;
        let row: Option<(i64, i64, i32)> =
            sqlx::query_as("SELECT id, community_id, year FROM volunteer_projects WHERE code = $1")
                .bind(project)
                .fetch_optional(&mut *w)
                .await
                .ctx("reading a volunteer project")?;
        let (id, c, of_year) =
            row.ok_or_else(|| StoreError::NotFound(format!("volunteer project {project}")))?;
        if of_year != year {
            return Err(FieldError::new(
                "year",
                format!("project {project} is claimed for {of_year}, not {year}"),
            )
            .into());
        }
        let before = state(&mut w, COMPLETION_STATE, id, year).await?;
        sqlx::query("DELETE FROM assess_project_completions WHERE project_id = $1")
            .bind(id)
            .execute(&mut *w)
            .await
            .ctx("writing a completion")?;
        if let Some((on, note)) = &completion {
            sqlx::query(
                "INSERT INTO assess_project_completions (project_id, completed_on, note) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(on)
            .bind(note)
            .execute(&mut *w)
            .await
            .ctx("writing a completion")?;
        }
        let after = state(&mut w, COMPLETION_STATE, id, year).await?;
        let key = year_key(project, year);
        done(w, ("assess_completion", &key), Some(c), before, after).await
    }

    /// Sets the year-start lists of a community (each list given replaces the stored one).
    pub async fn put_year_lists(
        &self,
        community: &str,
        year: i32,
        lists: &[(&str, Vec<String>)],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        for (list, items) in lists {
            for (i, item) in items.iter().enumerate() {
                check_text(item, &format!("{list}[{i}]"), 200, true)?;
            }
        }
        let mut w = self.begin_write(actor).await?;
        let c = community_id(&mut w, community, "community").await?;
        let before = state(&mut w, LISTS_STATE, c, year).await?;
        for (list, items) in lists {
            sqlx::query(
                "DELETE FROM assess_year_lists WHERE community_id = $1 AND year = $2 AND list = $3",
            )
            .bind(c)
            .bind(year)
            .bind(list)
            .execute(&mut *w)
            .await
            .ctx("writing a year-start list")?;
            let trimmed: Vec<&str> = items.iter().map(|s| s.trim()).collect();
            sqlx::query(
                "INSERT INTO assess_year_lists (community_id, year, list, position, item) \
                 SELECT $1, $2, $3, (n - 1)::int, item FROM unnest($4::text[]) WITH ORDINALITY AS t (item, n)",
            )
            .bind(c)
            .bind(year)
            .bind(list)
            .bind(&trimmed)
            .execute(&mut *w)
            .await
            .ctx("writing a year-start list")?;
        }
        let after = state(&mut w, LISTS_STATE, c, year).await?;
        let key = year_key(community, year);
        done(w, ("assess_lists", &key), Some(c), before, after).await
    }
}
