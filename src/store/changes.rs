//! The change log: every committed write of a layer gets a sequence number, announced on
//! the `wangge_changes` channel when its transaction commits, so that every server process
//! on the database can refresh its index. The payload is only a wake-up call: listeners
//! read the log from their last sequence number, so a missed notification loses nothing.

use super::{read_all, DbContext, Store, StoreError};
use sqlx::PgConnection;

/// The channel the change log is announced on.
pub const CHANNEL: &str = "wangge_changes";

/// What a committed write changed, as the change log names it, so that every process
/// knows what to reload (`cache.rs`) and which kept results are stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeLayer {
    /// Everything (a full reload: regions, compounds, a whole district loaded).
    All,
    /// Communities (their boundaries redraw the grids inside).
    Communities,
    /// Grids (the ids are the grids touched).
    Grids,
    /// Buildings.
    Buildings,
    /// Service stations.
    Stations,
    /// Staff and their grid assignments.
    Staff,
    /// Residents (and the people counts of buildings).
    People,
    /// The walking network.
    Network,
    /// Party organisations, members and the records the party rules read.
    Party,
    /// Sessions revoked (sign-out, password change, an account disabled).
    Sessions,
}

impl ChangeLayer {
    /// Every layer, in order.
    pub const ALL: [Self; 10] = [
        Self::All,
        Self::Communities,
        Self::Grids,
        Self::Buildings,
        Self::Stations,
        Self::Staff,
        Self::People,
        Self::Network,
        Self::Party,
        Self::Sessions,
    ];

    /// The name stored in the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Communities => "communities",
            Self::Grids => "grids",
            Self::Buildings => "buildings",
            Self::Stations => "stations",
            Self::Staff => "staff",
            Self::People => "people",
            Self::Network => "network",
            Self::Party => "party",
            Self::Sessions => "sessions",
        }
    }

    /// A name read back from the log. A name this build does not know (written by a newer
    /// server on the same database) reads as [`ChangeLayer::All`]: reloading everything is
    /// slow but never stale.
    pub fn parse(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == name)
            .unwrap_or(Self::All)
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct Change {
    /// Sequence number.
    pub seq: i64,
    /// The layer changed.
    pub layer: ChangeLayer,
    /// Ids of the changed rows, when known.
    pub ids: Vec<i64>,
}

/// Advisory lock key that orders change-log writers, so that sequence numbers commit in
/// order and a listener that has seen `n` has seen everything before `n`.
const LOG_LOCK: i64 = 0x7761_6e67_6765; // "wangge"

/// Records a change in the current transaction and announces it on commit. Call it last
/// in the transaction: it holds a lock until commit.
pub async fn record(
    tx: &mut PgConnection,
    layer: ChangeLayer,
    ids: &[i64],
) -> Result<i64, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK)
        .execute(&mut *tx)
        .await
        .ctx("ordering the change log")?;
    let seq: i64 =
        sqlx::query_scalar("INSERT INTO changes (layer, ids) VALUES ($1, $2) RETURNING seq")
            .bind(layer.as_str())
            .bind(ids)
            .fetch_one(&mut *tx)
            .await
            .ctx("recording a change")?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{seq} {}", layer.as_str()))
        .execute(&mut *tx)
        .await
        .ctx("announcing a change")?;
    Ok(seq)
}

impl Store {
    /// The latest change's sequence number (0 when there is none).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(max(seq), 0) FROM changes";
        self.scalar(sql, "reading the change log").await
    }

    /// The latest change of one of `layers` (0 when there is none).
    pub async fn last_change_of(&self, layers: &[ChangeLayer]) -> Result<i64, StoreError> {
        let names: Vec<&str> = layers.iter().map(|l| l.as_str()).collect();
        sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM changes WHERE layer = ANY($1) ORDER BY seq DESC LIMIT 1), 0)",
        )
        .bind(names)
        .fetch_one(&self.pool)
        .await
        .ctx("reading the change log")
    }

    /// Changes after `seq`, oldest first.
    pub async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        let q = sqlx::query_as("SELECT seq, layer, ids FROM changes WHERE seq > $1 ORDER BY seq");
        let change = |(seq, layer, ids): (i64, String, Vec<i64>)| {
            let layer = ChangeLayer::parse(&layer);
            Change { seq, layer, ids }
        };
        read_all(q.bind(seq), &self.pool, "reading the change log", change).await
    }
}

#[cfg(test)]
mod tests {
    use super::ChangeLayer;

    #[test]
    fn layer_names_read_back_and_unknown_ones_reload_everything() {
        for l in ChangeLayer::ALL {
            assert_eq!(ChangeLayer::parse(l.as_str()), l);
        }
        assert_eq!(ChangeLayer::parse("gridz"), ChangeLayer::All);
    }
}
