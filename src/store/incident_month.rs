//! Reads what the monthly incident report counts: the incidents reported in a month in some
//! grids, each with its history's statuses and times up to a cut-off (the rules that read
//! them are `domain::incident_month`).

use super::{DbContext, Store, StoreError};
use crate::domain::patrol::{Category, Status};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// An incident as the monthly report sees it.
#[derive(Debug, Clone)]
pub struct MonthIncident {
    /// Its second-level grid.
    pub grid_id: i64,
    /// Category.
    pub category: Category,
    /// When it was found.
    pub reported_at: DateTime<Utc>,
    /// Its history up to the cut-off: each step's new status and time, in order.
    pub steps: Vec<(Status, DateTime<Utc>)>,
}

impl Store {
    /// The incidents of `grid_ids` reported in `[from, to)`, with their steps up to `cutoff`;
    /// at most `limit` (one more is read to tell the caller there were more: `None` then).
    pub async fn incident_month(
        &self,
        grid_ids: &[i64],
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<MonthIncident>>, StoreError> {
        const W: &str = "reading a month's incidents";
        let rows = sqlx::query(
            "SELECT i.grid_id, i.category, i.reported_at, \
                    array_agg(e.to_status ORDER BY e.step) AS statuses, \
                    array_agg(e.at ORDER BY e.step) AS times \
             FROM incidents i JOIN incident_events e ON e.incident_id = i.id AND e.at <= $4 \
             WHERE i.grid_id = ANY($1) AND i.reported_at >= $2 AND i.reported_at < $3 \
             GROUP BY i.id LIMIT $5",
        )
        .bind(grid_ids)
        .bind(from)
        .bind(to)
        .bind(cutoff)
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .ctx(W)?;
        if rows.len() > limit {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let category: String = r.try_get("category").ctx(W)?;
            let statuses: Vec<String> = r.try_get("statuses").ctx(W)?;
            let times: Vec<DateTime<Utc>> = r.try_get("times").ctx(W)?;
            out.push(MonthIncident {
                grid_id: r.try_get("grid_id").ctx(W)?,
                category: Category::parse(&category).unwrap_or(Category::Other),
                reported_at: r.try_get("reported_at").ctx(W)?,
                steps: statuses
                    .iter()
                    .zip(times)
                    .map(|(s, t)| (Status::parse(s).unwrap_or(Status::Reported), t))
                    .collect(),
            });
        }
        Ok(Some(out))
    }
}
