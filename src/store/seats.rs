//! What `wangge demo load` reads of a loaded district: whether one is loaded already, and
//! where its demo accounts sit (the zone, the first town, the first grids with a chief and
//! a member).

use super::{DbContext, Store, StoreError};

/// Where the demo accounts are seated.
#[derive(Debug, Clone)]
pub struct DemoSeats {
    /// The zone's region code (the administrator's scope).
    pub zone: String,
    /// The first town's region code (the planner's and viewer's scope).
    pub town: String,
    /// The first first-level grid with a chief: (grid code, the chief's staff code).
    pub chief: Option<(String, String)>,
    /// The first second-level grid with a member: (grid code, the member's staff code).
    pub member: Option<(String, String)>,
}

impl Store {
    /// How many communities are loaded.
    pub async fn community_count(&self) -> Result<i64, StoreError> {
        let sql = "SELECT count(*) FROM communities";
        self.scalar(sql, "counting communities").await
    }

    /// Where the demo accounts of the loaded district go.
    pub async fn demo_seats(&self) -> Result<DemoSeats, StoreError> {
        const W: &str = "finding the demo accounts' places";
        let staffed = |role: &'static str, level: i16| {
            sqlx::query_as::<_, (String, String)>(
                "SELECT g.code, s.code FROM current_grids g \
                 JOIN staff_assignments a ON a.grid_id = g.id AND a.role = $1 \
                 JOIN staff s ON s.id = a.staff_id WHERE g.level = $2 ORDER BY g.code LIMIT 1",
            )
            .bind(role)
            .bind(level)
            .fetch_optional(&self.pool)
        };
        let chief = staffed("chief", 1).await.ctx(W)?;
        let member = staffed("member", 2).await.ctx(W)?;
        let town = "SELECT code FROM regions WHERE kind <> 'zone' ORDER BY id LIMIT 1";
        let town = self.scalar(town, W).await?;
        let zone = "SELECT code FROM regions WHERE parent_id IS NULL ORDER BY id LIMIT 1";
        let zone = self.scalar(zone, W).await?;
        Ok(DemoSeats {
            zone,
            town,
            chief,
            member,
        })
    }
}
