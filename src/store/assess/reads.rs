//! Reads of the assessment: settings, reports, ratings, pledges, the 双报到 ratings and
//! completions of units and members, and the year-start lists, of given communities.

use super::super::{read_all, DbContext, Store, StoreError};
use crate::domain::assess::dual::{Rater, UnitYear};
use crate::domain::assess::pledges::{Met, Pledge, PledgeKind};
use crate::domain::assess::rating::{Layer, Rating};
use crate::domain::assess::Settings;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::types::Json;

/// The report (述职) of a community's secretary on a year.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportRow {
    /// The community.
    #[serde(skip)]
    pub community_id: i64,
    /// The secretary who reported.
    pub secretary: Option<String>,
    /// The document (its text or a reference to the file).
    pub document: String,
    /// Its summary.
    pub summary: String,
    /// When it was given.
    pub reported_on: Option<NaiveDate>,
}

/// One layer's rating of a community, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RatingRow {
    /// The community.
    pub community_id: i64,
    /// The layer's stored name.
    pub layer: String,
    /// The mean score.
    pub score: f64,
    /// How many rated.
    pub raters: i32,
}

impl RatingRow {
    /// The rating, if its layer is known.
    pub fn rating(&self) -> Option<Rating> {
        Some(Rating {
            layer: Layer::parse(&self.layer)?,
            score: self.score,
            raters: self.raters,
        })
    }
}

/// A pledge of a member of a community's two committees.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PledgeRow {
    /// The community.
    pub community_id: i64,
    /// The member's person code.
    pub person_code: String,
    /// The member's name.
    pub name: String,
    /// The kind's stored name.
    pub kind: String,
    /// The target.
    pub target: String,
    /// The annual assessment's stored name.
    pub annual_result: Option<String>,
    /// Its note.
    pub annual_note: Option<String>,
    /// The term assessment's stored name.
    pub term_result: Option<String>,
    /// Its note.
    pub term_note: Option<String>,
}

impl PledgeRow {
    /// The pledge, if its kind is known.
    pub fn pledge(&self) -> Option<Pledge> {
        Some(Pledge {
            kind: PledgeKind::parse(&self.kind)?,
            target: self.target.clone(),
            annual: self.annual_result.as_deref().and_then(Met::parse),
            annual_note: self.annual_note.clone(),
            term: self.term_result.as_deref().and_then(Met::parse),
            term_note: self.term_note.clone(),
        })
    }
}

/// A 双报到 unit in a year: its rating and its projects claimed and completed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitYearRow {
    /// The community.
    pub community_id: i64,
    /// The unit's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The community's rating.
    pub score: Option<f64>,
    /// The rating's note.
    pub note: Option<String>,
    /// Projects claimed for the year.
    pub claimed: i64,
    /// Projects completed.
    pub completed: i64,
}

impl UnitYearRow {
    /// What the evaluation reads.
    pub fn unit(&self) -> UnitYear {
        UnitYear {
            code: self.code.clone(),
            name: self.name.clone(),
            score: self.score,
            claimed: self.claimed,
            completed: self.completed,
        }
    }
}

/// A rating of a 双报到 member.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRatingRow {
    /// The community the member registered with.
    pub community_id: i64,
    /// The member's person code.
    pub person_code: String,
    /// The member's name.
    pub name: String,
    /// The member's unit, if any.
    pub unit_code: Option<String>,
    /// Who rated: the stored name of a [`Rater`].
    pub rater: String,
    /// The score.
    pub score: f64,
    /// The note.
    pub note: Option<String>,
}

impl MemberRatingRow {
    /// Who rated.
    pub fn rater(&self) -> Option<Rater> {
        Rater::parse(&self.rater)
    }
}

/// One item of a year-start list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    /// The community.
    pub community_id: i64,
    /// The list: `projects`, `posts` or `activities`.
    pub list: String,
    /// The item.
    pub item: String,
}

impl Store {
    /// The settings of `year`, and whether they were set (else the defaults).
    pub async fn assess_settings(&self, year: i32) -> Result<(Settings, bool), StoreError> {
        let row: Option<Json<Settings>> = sqlx::query_scalar(
            "SELECT to_jsonb(s) - 'year' FROM assess_settings s WHERE year = $1",
        )
        .bind(year)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading the assessment settings")?;
        Ok(match row {
            Some(Json(s)) => (s, true),
            None => (Settings::default(), false),
        })
    }
}

/// Readers of a year's rows of given communities, as a table: each reader's name, row,
/// what it reads (in errors) and its query, which takes the communities (`$1`) and the
/// year (`$2`).
macro_rules! year_readers {
    ($($(#[doc = $doc:literal])* $name:ident -> $row:ty, $what:literal, $sql:expr;)*) => {
        impl Store {
            $(
                $(#[doc = $doc])*
                pub async fn $name(&self, communities: &[i64], year: i32) -> Result<Vec<$row>, StoreError> {
                    let q = sqlx::query_as($sql).bind(communities).bind(year);
                    read_all(q, &self.pool, $what, |r| r).await
                }
            )*
        }
    };
}

year_readers! {
    /// The reports of `year` of these communities.
    assess_reports -> ReportRow, "reading the reports",
        "SELECT community_id, secretary, document, summary, reported_on FROM assess_reports \
         WHERE community_id = ANY($1) AND year = $2";
    /// The ratings of `year` of these communities.
    assess_ratings -> RatingRow, "reading the ratings",
        "SELECT community_id, layer, score, raters FROM assess_ratings \
         WHERE community_id = ANY($1) AND year = $2 ORDER BY community_id, layer";
    /// The pledges of `year` of these communities' committee members, by person and kind.
    assess_pledges -> PledgeRow, "reading the pledges",
        "SELECT a.community_id, p.code AS person_code, COALESCE(d.name, p.code) AS name, a.kind, a.target, \
           a.annual_result, a.annual_note, a.term_result, a.term_note \
         FROM assess_pledges a JOIN people p ON p.id = a.person_id \
         LEFT JOIN person_details d ON d.person_id = p.id \
         WHERE a.community_id = ANY($1) AND a.year = $2 \
         ORDER BY p.code COLLATE \"C\", array_position(ARRAY['term','annual','resignation','integrity'], a.kind)";
    /// The 双报到 units registered by `year` in these communities with their rating and
    /// projects of the year, by code.
    assess_units -> UnitYearRow, "reading the 双报到 units of a year",
        "SELECT u.community_id, u.code, u.name, r.score, r.note, \
           (SELECT count(*) FROM volunteer_projects v WHERE v.unit_id = u.id AND v.year = $2) AS claimed, \
           (SELECT count(*) FROM volunteer_projects v JOIN assess_project_completions c ON c.project_id = v.id \
             WHERE v.unit_id = u.id AND v.year = $2) AS completed \
         FROM dual_units u LEFT JOIN assess_unit_ratings r ON r.unit_id = u.id AND r.year = $2 \
         WHERE u.community_id = ANY($1) AND extract(year FROM u.registered_on) <= $2 \
         ORDER BY u.code COLLATE \"C\"";
    /// The ratings of `year` of the 双报到 members of these communities, by person.
    assess_member_ratings -> MemberRatingRow, "reading the 双报到 members' ratings",
        "SELECT m.community_id, p.code AS person_code, COALESCE(d.name, p.code) AS name, u.code AS unit_code, \
           r.rater, r.score, r.note \
         FROM assess_member_ratings r JOIN dual_members m ON m.person_id = r.person_id \
         JOIN people p ON p.id = r.person_id LEFT JOIN person_details d ON d.person_id = p.id \
         LEFT JOIN dual_units u ON u.id = m.unit_id \
         WHERE m.community_id = ANY($1) AND r.year = $2 ORDER BY p.code COLLATE \"C\", r.rater";
    /// The year-start lists of `year` of these communities, in order.
    assess_lists -> ListRow, "reading the year-start lists",
        "SELECT community_id, list, item FROM assess_year_lists \
         WHERE community_id = ANY($1) AND year = $2 ORDER BY community_id, list, position";
}
