//! The annual assessment in PostGIS: the settings of a year, the reports and ratings of
//! 一述三评, the pledges of 四诺两考, the 双报到 ratings, completions and year-start lists
//! (`reads` and `writes`), and what the scorecard measures of patrols, visits, incidents and
//! 双报到 units (`measures`). Party tables are read, never altered.
//!
//! Must not: know about HTTP, or decide who may see what (callers pass the communities and
//! check reach before a write).

mod measures;
mod reads;
mod writes;

pub use measures::{GridWeeks, IncidentTimes, VisitRow};
pub use reads::{ListRow, MemberRatingRow, PledgeRow, RatingRow, ReportRow, UnitYearRow};
pub use writes::{Owner, ReportInput};

use super::{DbContext, StoreError};
use crate::domain::FieldError;
use sqlx::PgConnection;

/// The community of a community code, or a field error naming `field`.
async fn community_id(conn: &mut PgConnection, code: &str, field: &str) -> Result<i64, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM communities WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a community")?;
    id.ok_or_else(|| FieldError::new(field, format!("no community {code}")).into())
}
