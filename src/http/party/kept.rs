//! Counts and lists kept per state of the change log: the members of every cell, every
//! active organisation, and the 双报到 members' keys of a year.

use crate::http::error::ApiResult;
use crate::http::kept::Kept;
use crate::http::AppState;
use crate::store::changes::ChangeLayer;
use crate::store::party::{DualKey, Org};
use std::collections::HashMap;
use std::sync::Arc;

/// Layers of the change log whose changes the rules look at.
pub(super) const PARTY_LAYERS: [ChangeLayer; 7] = [
    ChangeLayer::All,
    ChangeLayer::Communities,
    ChangeLayer::Grids,
    ChangeLayer::Buildings,
    ChangeLayer::People,
    ChangeLayer::Staff,
    ChangeLayer::Party,
];

/// Party members (all, full) of every cell by second-level grid id, counted once per state
/// of the data and kept ([`MemberCounts`]).
pub(super) type CellCounts = HashMap<i64, (i64, i64)>;

/// The member counts of every cell, counted with one `GROUP BY` over the whole zone once
/// per state of the change log (the latest change of [`PARTY_LAYERS`]: people, their
/// party assignments, grids...) instead of joining the members of a page's cells on every
/// list request (114 ms of PostgreSQL for the ~300 cells of a city's first page).
///
/// The list of organisations is kept the same way: every active organisation read whole
/// once per state (`orgs`), so that a page is cut from memory rather than read with its
/// officers and members counted in sub-queries on each request.
#[derive(Default, Debug)]
pub struct MemberCounts {
    counts: Kept<(), CellCounts>,
    orgs: Kept<(), Vec<Org>>,
    /// The keys of every 双报到 member of the zone for one year (by code, byte order).
    dual: Kept<i32, Vec<DualKey>>,
}

/// The number of the latest change the party rules look at.
async fn party_seq(st: &AppState) -> ApiResult<i64> {
    Ok(st.store.last_change_of(&PARTY_LAYERS).await?)
}

/// The member counts of every cell for the current data, kept or counted now (and kept).
/// The change number is read before the counts, so the counts are at least as new as it.
pub(super) async fn member_counts(st: &AppState) -> ApiResult<Arc<CellCounts>> {
    let seq = party_seq(st).await?;
    let count = |_| async { Ok((st.store.cell_counts(None).await?, true)) };
    st.member_counts
        .counts
        .get(seq, (), || party_seq(st), count)
        .await
}

/// The keys of every 双报到 member of the zone for `year` (by code, byte order), kept or
/// read now (and kept), like [`member_counts`]: the zone's 158,000 members take a second
/// of PostgreSQL to read at city scale.
pub(super) async fn dual_keys(st: &AppState, year: i32) -> ApiResult<Arc<Vec<DualKey>>> {
    let seq = party_seq(st).await?;
    let read = |_| async move {
        let all: Vec<i64> = st
            .registry
            .snapshot()
            .communities
            .items
            .iter()
            .map(|c| c.id)
            .collect();
        let mut keys = st.store.dual_member_keys(&all, year).await?;
        keys.sort_by(|a, b| a.1.cmp(&b.1));
        Ok((keys, true))
    };
    st.member_counts
        .dual
        .get(seq, year, || party_seq(st), read)
        .await
}

/// Every active organisation for the current data (by code, byte order), kept or read now
/// (and kept), like [`member_counts`].
pub(super) async fn active_orgs(st: &AppState) -> ApiResult<Arc<Vec<Org>>> {
    let seq = party_seq(st).await?;
    let read = |_| async { Ok((st.store.party_orgs_active().await?, true)) };
    st.member_counts
        .orgs
        .get(seq, (), || party_seq(st), read)
        .await
}
