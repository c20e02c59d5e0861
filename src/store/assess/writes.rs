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

/// Runs `sql` in a write with the values bound in order (`what` names it in errors).
macro_rules! exec {
    ($conn:expr, $what:expr, $sql:expr $(, $v:expr)* $(,)?) => {
        sqlx::query($sql)$(.bind($v))*.execute(&mut *$conn).await.ctx($what)
    };
}

/// What one audited record is: the query of its state as JSON (taking the record's id
/// and the year) and the entity its audit entries name.
struct Record {
    state: &'static str,
    entity: &'static str,
}

/// An audited write of one record under way: the write, and the record's state before.
struct Audited<'a> {
    w: Write<'a>,
    record: &'static Record,
    id: i64,
    year: i32,
    before: Option<Value>,
}

impl<'a> Audited<'a> {
    /// Reads the record's state before the write.
    async fn open(
        mut w: Write<'a>,
        record: &'static Record,
        id: i64,
        year: i32,
    ) -> Result<Self, StoreError> {
        let before = state(&mut w, record.state, id, year).await?;
        Ok(Self {
            w,
            record,
            id,
            year,
            before,
        })
    }

    /// Ends the write: the record's state after, its audit entry under `key` (in the
    /// community's region when it has one) and the commit; nothing when nothing changed.
    async fn close(mut self, key: &str, community: Option<i64>) -> Result<(), StoreError> {
        let after = state(&mut self.w, self.record.state, self.id, self.year).await?;
        if self.before == after {
            return self.w.abandon().await;
        }
        let entry = Entry::record(self.record.entity, key, self.before, after);
        let entry = match community {
            Some(c) => entry.in_community(c),
            None => entry,
        };
        self.w.audit(entry).await?;
        self.w
            .commit_unannounced("committing an assessment entry")
            .await
    }
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

/// The row `sql` finds for `code`; `(reading, noun)` name the read in errors and the
/// record in a not-found answer.
async fn find<T>(
    conn: &mut PgConnection,
    sql: &'static str,
    code: &str,
    (reading, noun): (&'static str, &str),
) -> Result<T, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let row: Option<T> = sqlx::query_as(sql)
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
        .ctx(reading)?;
    row.ok_or_else(|| StoreError::NotFound(format!("{noun} {code}")))
}

fn year_key(code: &str, year: i32) -> String {
    format!("{code}/{year}")
}

const SETTINGS: Record = Record {
    state: "SELECT to_jsonb(s) - 'year' FROM assess_settings s WHERE year = $2 AND $1 = $1",
    entity: "assess_settings",
};
const REPORT: Record = Record {
    state: "SELECT to_jsonb(r) - 'community_id' - 'year' FROM assess_reports r \
     WHERE community_id = $1 AND year = $2",
    entity: "assess_report",
};
const RATINGS: Record = Record {
    state: "SELECT jsonb_object_agg(layer, jsonb_build_object('score', score, 'raters', raters)) \
     FROM assess_ratings WHERE community_id = $1 AND year = $2",
    entity: "assess_ratings",
};
const PLEDGES: Record = Record {
    state: "SELECT jsonb_agg(to_jsonb(a) - 'person_id' - 'year' ORDER BY kind) \
     FROM assess_pledges a WHERE person_id = $1 AND year = $2",
    entity: "assess_pledges",
};
const UNIT: Record = Record {
    state: "SELECT jsonb_build_object('score', score, 'note', note) FROM assess_unit_ratings \
     WHERE unit_id = $1 AND year = $2",
    entity: "assess_unit_rating",
};
const MEMBER: Record = Record {
    state: "SELECT jsonb_object_agg(rater, jsonb_build_object('score', score, 'note', note)) \
     FROM assess_member_ratings WHERE person_id = $1 AND year = $2",
    entity: "assess_member_ratings",
};
const COMPLETION: Record = Record {
    state: "SELECT jsonb_build_object('completed_on', completed_on, 'note', note) \
     FROM assess_project_completions WHERE project_id = $1 AND $2 = $2",
    entity: "assess_completion",
};
const LISTS: Record = Record {
    state: "SELECT jsonb_object_agg(list, items) FROM (SELECT list, jsonb_agg(item ORDER BY position) AS items \
     FROM assess_year_lists WHERE community_id = $1 AND year = $2 GROUP BY list) l",
    entity: "assess_lists",
};

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

    /// Sets the settings of `year` (a row holding each setting by name).
    pub async fn put_assess_settings(
        &self,
        year: i32,
        s: &Settings,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year)?;
        s.check()?;
        let mut a = Audited::open(self.begin_write(actor).await?, &SETTINGS, 0, year).await?;
        let what = "writing the assessment settings";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_settings WHERE year = $1",
            year
        )?;
        exec!(
            a.w,
            what,
            "INSERT INTO assess_settings SELECT * FROM \
             jsonb_populate_record(NULL::assess_settings, $2::jsonb || jsonb_build_object('year', $1::int))",
            year,
            sqlx::types::Json(s),
        )?;
        a.close(&year.to_string(), None).await
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
        let mut a = Audited::open(w, &REPORT, c, year).await?;
        exec!(
            a.w,
            "writing a report",
            "INSERT INTO assess_reports (community_id, year, secretary, document, summary, reported_on) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (community_id, year) DO UPDATE SET \
               secretary = $3, document = $4, summary = $5, reported_on = $6",
            c,
            year,
            r.secretary.as_deref().map(str::trim),
            r.document.trim(),
            r.summary.trim(),
            r.reported_on,
        )?;
        a.close(&year_key(community, year), Some(c)).await
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
        let mut a = Audited::open(w, &RATINGS, c, year).await?;
        let what = "writing ratings";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_ratings WHERE community_id = $1 AND year = $2",
            c,
            year
        )?;
        let layers: Vec<&str> = ratings.iter().map(|r| r.layer.as_str()).collect();
        let scores: Vec<f64> = ratings.iter().map(|r| r.score).collect();
        let raters: Vec<i32> = ratings.iter().map(|r| r.raters).collect();
        exec!(
            a.w,
            what,
            "INSERT INTO assess_ratings (community_id, year, layer, score, raters) \
             SELECT $1, $2, l, s, n FROM unnest($3::text[], $4::float8[], $5::int[]) AS t (l, s, n)",
            c,
            year,
            &layers,
            &scores,
            &raters,
        )?;
        a.close(&year_key(community, year), Some(c)).await
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
        let (pid,): (i64,) = find(
            &mut w,
            "SELECT id FROM people WHERE code = $1",
            person,
            ("reading a person", "person"),
        )
        .await?;
        let mut a = Audited::open(w, &PLEDGES, pid, year).await?;
        let what = "writing pledges";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_pledges WHERE person_id = $1 AND year = $2",
            pid,
            year
        )?;
        for p in pledges {
            exec!(
                a.w,
                what,
                "INSERT INTO assess_pledges (person_id, community_id, year, kind, target, annual_result, \
                   annual_note, term_result, term_note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                pid,
                c,
                year,
                p.kind.as_str(),
                p.target.trim(),
                p.annual.map(Met::as_str),
                &p.annual_note,
                p.term.map(Met::as_str),
                &p.term_note,
            )?;
        }
        a.close(&year_key(person, year), Some(c)).await
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
        let (id, c): (i64, i64) = find(
            &mut w,
            "SELECT id, community_id FROM dual_units WHERE code = $1",
            unit,
            ("reading a 双报到 unit", "双报到 unit"),
        )
        .await?;
        let mut a = Audited::open(w, &UNIT, id, year).await?;
        let what = "writing a unit's rating";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_unit_ratings WHERE unit_id = $1 AND year = $2",
            id,
            year
        )?;
        if let Some((score, note)) = &rating {
            exec!(
                a.w,
                what,
                "INSERT INTO assess_unit_ratings (unit_id, year, score, note) VALUES ($1, $2, $3, $4)",
                id,
                year,
                score,
                note,
            )?;
        }
        a.close(&year_key(unit, year), Some(c)).await
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
        let (pid, c, unit): (i64, i64, Option<i64>) = find(
            &mut w,
            "SELECT p.id, m.community_id, m.unit_id FROM people p JOIN dual_members m ON m.person_id = p.id \
             WHERE p.code = $1",
            person,
            ("reading a 双报到 member", "双报到 member"),
        )
        .await?;
        if unit.is_none() {
            if let Some(i) = ratings.iter().position(|r| r.0 == Rater::Unit) {
                return Err(FieldError::new(
                    format!("ratings[{i}].by"),
                    format!("{person} is registered without a unit"),
                )
                .into());
            }
        }
        let mut a = Audited::open(w, &MEMBER, pid, year).await?;
        let what = "writing a member's ratings";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_member_ratings WHERE person_id = $1 AND year = $2",
            pid,
            year
        )?;
        for (rater, score, note) in ratings {
            exec!(
                a.w,
                what,
                "INSERT INTO assess_member_ratings (person_id, year, rater, score, note) VALUES ($1, $2, $3, $4, $5)",
                pid,
                year,
                rater.as_str(),
                score,
                note,
            )?;
        }
        a.close(&year_key(person, year), Some(c)).await
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
        let (id, c, of_year): (i64, i64, i32) = find(
            &mut w,
            "SELECT id, community_id, year FROM volunteer_projects WHERE code = $1",
            project,
            ("reading a volunteer project", "volunteer project"),
        )
        .await?;
        if of_year != year {
            return Err(FieldError::new(
                "year",
                format!("project {project} is claimed for {of_year}, not {year}"),
            )
            .into());
        }
        let mut a = Audited::open(w, &COMPLETION, id, year).await?;
        let what = "writing a completion";
        exec!(
            a.w,
            what,
            "DELETE FROM assess_project_completions WHERE project_id = $1",
            id
        )?;
        if let Some((on, note)) = &completion {
            exec!(
                a.w,
                what,
                "INSERT INTO assess_project_completions (project_id, completed_on, note) VALUES ($1, $2, $3)",
                id,
                on,
                note,
            )?;
        }
        a.close(&year_key(project, year), Some(c)).await
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
        let mut a = Audited::open(w, &LISTS, c, year).await?;
        let what = "writing a year-start list";
        for (list, items) in lists {
            exec!(
                a.w,
                what,
                "DELETE FROM assess_year_lists WHERE community_id = $1 AND year = $2 AND list = $3",
                c,
                year,
                list
            )?;
            let trimmed: Vec<&str> = items.iter().map(|s| s.trim()).collect();
            exec!(
                a.w,
                what,
                "INSERT INTO assess_year_lists (community_id, year, list, position, item) \
                 SELECT $1, $2, $3, (n - 1)::int, item FROM unnest($4::text[]) WITH ORDINALITY AS t (item, n)",
                c,
                year,
                list,
                &trimmed,
            )?;
        }
        a.close(&year_key(community, year), Some(c)).await
    }
}
