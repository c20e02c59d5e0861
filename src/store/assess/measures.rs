//! What the scorecard measures in PostGIS for a year (in China's time, +08:00): the weeks
//! each second-level grid was patrolled, the households visited per building, and when
//! each incident of the year was first dealt with.

use super::super::{read_all, Store, StoreError};
use chrono::{DateTime, Utc};

/// The weeks of the year in which a second-level grid had a patrol counting for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GridWeeks {
    /// The grid.
    pub grid_id: i64,
    /// Distinct weeks (their Monday in the year) with a complete patrol whose share
    /// inside the grid reached the minimum.
    pub weeks: i64,
}

/// The most households one patrol visited in a building during the year.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    /// The building.
    pub building_id: i64,
    /// Households visited.
    pub households: i32,
}

/// An incident reported in the year and when it was first dealt with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentTimes {
    /// Its grid.
    pub grid_id: i64,
    /// Its category's stored name.
    pub category: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When it first became resolved, verified or closed, if it has.
    pub done_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The patrolled weeks of `year` per second-level grid (patrols counting for a grid when
    /// at least `min_share` of their walked length lies inside it).
    pub async fn assess_patrol_weeks(
        &self,
        year: i32,
        min_share: f64,
    ) -> Result<Vec<GridWeeks>, StoreError> {
        let q = sqlx::query_as(
            "SELECT pg.grid_id, count(DISTINCT date_trunc('week', p.started_at AT TIME ZONE 'Asia/Shanghai')) AS weeks \
             FROM patrols p JOIN patrol_grids pg ON pg.patrol_id = p.id \
             WHERE p.complete AND pg.share_inside >= $2 \
               AND p.started_at >= make_timestamptz($1, 1, 1, 0, 0, 0, 'Asia/Shanghai') - interval '7 days' \
               AND p.started_at < make_timestamptz($1 + 1, 1, 1, 0, 0, 0, 'Asia/Shanghai') + interval '7 days' \
               AND extract(year FROM date_trunc('week', p.started_at AT TIME ZONE 'Asia/Shanghai')) = $1 \
             GROUP BY 1",
        )
        .bind(year)
        .bind(min_share);
        read_all(q, &self.pool, "reading the patrolled weeks", |r| r).await
    }

    /// Households visited per building during `year` (the most one complete patrol visited).
    pub async fn assess_visits(&self, year: i32) -> Result<Vec<VisitRow>, StoreError> {
        let q = sqlx::query_as(
            "SELECT v.building_id, max(v.households) AS households \
             FROM patrol_visits v JOIN patrols p ON p.id = v.patrol_id \
             WHERE p.complete AND p.started_at >= make_timestamptz($1, 1, 1, 0, 0, 0, 'Asia/Shanghai') \
               AND p.started_at < make_timestamptz($1 + 1, 1, 1, 0, 0, 0, 'Asia/Shanghai') \
             GROUP BY 1",
        )
        .bind(year);
        read_all(q, &self.pool, "reading the households visited", |r| r).await
    }

    /// The incidents reported in `year` with the time each was first dealt with.
    pub async fn assess_incidents(&self, year: i32) -> Result<Vec<IncidentTimes>, StoreError> {
        let q = sqlx::query_as(
            "SELECT i.grid_id, i.category, i.reported_at, \
               (SELECT min(e.at) FROM incident_events e WHERE e.incident_id = i.id \
                 AND e.to_status IN ('resolved', 'verified', 'closed')) AS done_at \
             FROM incidents i \
             WHERE i.reported_at >= make_timestamptz($1, 1, 1, 0, 0, 0, 'Asia/Shanghai') \
               AND i.reported_at < make_timestamptz($1 + 1, 1, 1, 0, 0, 0, 'Asia/Shanghai')",
        )
        .bind(year);
        read_all(q, &self.pool, "reading the incidents of a year", |r| r).await
    }
}
