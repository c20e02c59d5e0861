//! The change log: every committed write of a layer gets a sequence number, announced on
//! the `wangge_changes` channel when its transaction commits, so that every server process
//! on the database can refresh its index. The payload is only a wake-up call: listeners
//! read the log from their last sequence number, so a missed notification loses nothing.

use super::{DbContext, Store, StoreError};
use sqlx::PgConnection;

/// The channel the change log is announced on.
pub const CHANNEL: &str = "wangge_changes";

/// One committed change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Change {
    /// Sequence number.
    pub seq: i64,
    /// `grids`, `buildings`, `stations`, `communities`, `staff`, `people` or `all`.
    pub layer: String,
    /// Ids of the changed rows, when known.
    pub ids: Vec<i64>,
}

/// Advisory lock key that orders change-log writers, so that sequence numbers commit in
/// order and a listener that has seen `n` has seen everything before `n`.
const LOG_LOCK: i64 = 0x7761_6e67_6765; // "wangge"

/// Records a change in the current transaction and announces it on commit. Call it last
/// in the transaction: it holds a lock until commit.
pub async fn record(tx: &mut PgConnection, layer: &str, ids: &[i64]) -> Result<i64, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK)
        .execute(&mut *tx)
        .await
        .ctx("ordering the change log")?;
    let seq: i64 =
        sqlx::query_scalar("INSERT INTO changes (layer, ids) VALUES ($1, $2) RETURNING seq")
            .bind(layer)
            .bind(ids)
            .fetch_one(&mut *tx)
            .await
            .ctx("recording a change")?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{seq} {layer}"))
        .execute(&mut *tx)
        .await
        .ctx("announcing a change")?;
    Ok(seq)
}

impl Store {
    /// The latest change's sequence number (0 when there is none).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM changes")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the change log")
    }

    /// The latest change of one of `layers` (0 when there is none).
    pub async fn last_change_of(&self, layers: &[&str]) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM changes WHERE layer = ANY($1) ORDER BY seq DESC LIMIT 1), 0)",
        )
        .bind(layers)
        .fetch_one(&self.pool)
        .await
        .ctx("reading the change log")
    }

    /// Changes after `seq`, oldest first.
    pub async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        sqlx::query_as("SELECT seq, layer, ids FROM changes WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(&self.pool)
            .await
            .ctx("reading the change log")
    }
}
