//! Counts and lists kept per state of the change log: the members of every cell, every
//! active organisation, and the 双报到 members' keys of a year.

use crate::http::error::ApiResult;
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
    kept: std::sync::Mutex<Option<(i64, Arc<CellCounts>)>>,
    counting: tokio::sync::Mutex<()>,
    orgs: std::sync::Mutex<Option<(i64, Arc<Vec<Org>>)>>,
    reading: tokio::sync::Mutex<()>,
    /// The keys of every 双报到 member of the zone for one year (by code, byte order).
    dual: std::sync::Mutex<Option<KeptDual>>,
    dual_reading: tokio::sync::Mutex<()>,
}

impl MemberCounts {
    fn current(&self, seq: i64) -> Option<Arc<CellCounts>> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(s, _)| *s == seq)
            .map(|(_, c)| Arc::clone(c))
    }

    fn current_dual(&self, seq: i64, year: i32) -> Option<Arc<Vec<DualKey>>> {
        let kept = self
            .dual
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(s, y, _)| *s == seq && *y == year)
            .map(|(_, _, k)| Arc::clone(k))
    }

    fn current_orgs(&self, seq: i64) -> Option<Arc<Vec<Org>>> {
        let kept = self
            .orgs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(s, _)| *s == seq)
            .map(|(_, o)| Arc::clone(o))
    }
}

/// The member counts of every cell for the current data, kept or counted now (and kept).
/// The change number is read before the counts, so the counts are at least as new as it.
pub(super) async fn member_counts(st: &AppState) -> ApiResult<Arc<CellCounts>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(c) = cache.current(seq) {
        return Ok(c);
    }
    let _one = cache.counting.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(c) = cache.current(seq) {
        return Ok(c);
    }
    let counts = Arc::new(st.store.cell_counts(None).await?);
    *cache
        .kept
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((seq, Arc::clone(&counts)));
    Ok(counts)
}

/// The keys of every 双报到 member of the zone for `year` (by code, byte order), kept or
/// read now (and kept), like [`member_counts`]: the zone's 158,000 members take a second
/// of PostgreSQL to read at city scale.
pub(super) async fn dual_keys(st: &AppState, year: i32) -> ApiResult<Arc<Vec<DualKey>>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(k) = cache.current_dual(seq, year) {
        return Ok(k);
    }
    let _one = cache.dual_reading.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(k) = cache.current_dual(seq, year) {
        return Ok(k);
    }
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
    let keys = Arc::new(keys);
    *cache
        .dual
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((seq, year, Arc::clone(&keys)));
    Ok(keys)
}

/// The 双报到 keys kept: change number, year, keys.
pub(super) type KeptDual = (i64, i32, Arc<Vec<DualKey>>);

/// Every active organisation for the current data (by code, byte order), kept or read now
/// (and kept), like [`member_counts`].
pub(super) async fn active_orgs(st: &AppState) -> ApiResult<Arc<Vec<Org>>> {
    let cache = &st.member_counts;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(o) = cache.current_orgs(seq) {
        return Ok(o);
    }
    let _one = cache.reading.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if let Some(o) = cache.current_orgs(seq) {
        return Ok(o);
    }
    let orgs = Arc::new(st.store.party_orgs_active().await?);
    *cache
        .orgs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((seq, Arc::clone(&orgs)));
    Ok(orgs)
}
