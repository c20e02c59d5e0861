//! The rule findings of the whole zone, evaluated once per state of the data and year and
//! kept (with the keeper that refreshes them), and what one caller may see of them.

use super::facts::facts;
use super::kept::{active_orgs, dual_keys, member_counts, PARTY_LAYERS};
use super::{this_year, visibility};
use crate::domain::access::{Caller, Visibility};
use crate::domain::party::{Finding, SubjectKind};
use crate::domain::{party, GridLevel};
use crate::http::error::ApiResult;
use crate::http::kept::lock;
use crate::http::AppState;
use crate::spatial::index::Snapshot;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The rule findings of every community for one year, evaluated once per state of the data
/// and shared by every request until something changes: the findings list, the report, the
/// map layer and the export all read it. Writes of anything the rules look at (grids,
/// buildings, people, staff, party data) record a change in the change log, whose number
/// keys the evaluation, so every server process notices a write of any other.
#[derive(Debug)]
pub struct Evaluated {
    /// The change number of the data evaluated (at least).
    pub(super) seq: i64,
    /// The year.
    pub(super) year: i32,
    /// Every finding of every community, in report order (rule, subject code).
    pub(super) findings: Vec<Finding>,
    /// Members, full members and welfare organisations per community id.
    pub(super) communities: HashMap<i64, (i64, i64, i64)>,
    /// The places findings sit at, (grid, community): visibility is decided once per place.
    pub(super) places: Vec<(Option<i64>, i64)>,
    /// Each finding's place, by position in `places`.
    pub(super) place_of: Vec<u32>,
}

/// Evaluations kept: the years asked for lately.
pub(super) const EVALUATIONS_KEPT: usize = 4;

/// Time one evaluation of the whole zone's rules may take on the work pool.
pub(super) const EVALUATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// The latest evaluations (see [`Evaluated`]), one per year, and a lock so that requests
/// arriving together while none is current wait for one evaluation rather than each
/// starting its own.
#[derive(Default, Debug)]
pub struct FindingsCache {
    kept: std::sync::Mutex<Vec<Arc<Evaluated>>>,
    evaluating: tokio::sync::Mutex<()>,
}

impl FindingsCache {
    fn current(&self, seq: i64, year: i32) -> Option<Arc<Evaluated>> {
        let kept = lock(&self.kept);
        kept.iter()
            .find(|e| e.year == year && e.seq == seq)
            .cloned()
    }

    fn keep(&self, e: Arc<Evaluated>) {
        let mut kept = lock(&self.kept);
        kept.retain(|k| k.year != e.year);
        kept.insert(0, e);
        kept.truncate(EVALUATIONS_KEPT);
    }
}

/// The evaluation of `year` for the current data, from the cache or made now (and kept).
/// The number of the latest change the rules look at is read from the database before the
/// facts, so the facts are at least as new as the number they are kept under; the index is
/// brought up to that number first, since grids and staff come from it.
pub(super) async fn evaluated(
    st: &AppState,
    year: i32,
) -> ApiResult<(Arc<Snapshot>, Arc<Evaluated>)> {
    let cache = &st.party_findings;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    if st.registry.snapshot().seq < seq {
        st.after_change().await;
    }
    let snap = st.registry.snapshot();
    if let Some(e) = cache.current(seq, year) {
        return Ok((snap, e));
    }
    let _one = cache.evaluating.lock().await;
    let seq = st.store.last_change_of(&PARTY_LAYERS).await?;
    let snap = st.registry.snapshot();
    if let Some(e) = cache.current(seq, year) {
        return Ok((snap, e));
    }
    let ids: Vec<i64> = snap.communities.items.iter().map(|c| c.id).collect();
    let facts = facts(st, &snap, &ids, year).await?;
    let e = crate::work::heavy(EVALUATION_BUDGET, move || {
        let mut findings = party::evaluate(&facts);
        crate::work::checkpoint()?;
        findings.sort_by(|a, b| (a.rule, &a.subject.code).cmp(&(b.rule, &b.subject.code)));
        let mut communities: HashMap<i64, (i64, i64, i64)> = facts
            .communities
            .iter()
            .map(|c| (c.id, (0, 0, c.welfare_orgs)))
            .collect();
        for c in facts.cells.iter().filter(|c| c.level == GridLevel::First) {
            let e = communities.entry(c.community_id).or_default();
            e.0 += c.members;
            e.1 += c.full;
        }
        let mut places: Vec<(Option<i64>, i64)> = Vec::new();
        let mut place_at: HashMap<(Option<i64>, i64), u32> = HashMap::new();
        let place_of = findings
            .iter()
            .map(|f| {
                *place_at
                    .entry((f.grid_id, f.community_id))
                    .or_insert_with(|| {
                        places.push((f.grid_id, f.community_id));
                        (places.len() - 1) as u32
                    })
            })
            .collect();
        Ok(Evaluated {
            seq,
            year,
            findings,
            communities,
            places,
            place_of,
        })
    })
    .await?;
    let e = Arc::new(e);
    // Kept only when the index had caught up with the change log (else made again next time).
    if snap.seq >= seq {
        cache.keep(Arc::clone(&e));
    }
    Ok((snap, e))
}

/// Keeps the evaluations of the years asked for lately up to date in the background (checked
/// every `every`), so that a request after a change rarely waits for one. At start it makes
/// this year's and those of the latest years with volunteer records ([`EVALUATIONS_KEPT`] in
/// all): the annual assessment (一述三评, the 双报到 ratings) looks back at the year just ended
/// each January, and a year without records has nothing to assess. This year's is always kept
/// up to date; any other year is evaluated when first asked (about 3 s at scale 100) and kept
/// while it is among the years asked for last.
pub fn spawn_findings_keeper(st: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut years = vec![this_year()];
        match st.store.party_record_years(EVALUATIONS_KEPT as i64).await {
            Ok(recorded) => {
                for y in recorded {
                    if years.len() < EVALUATIONS_KEPT && !years.contains(&y) {
                        years.push(y);
                    }
                }
            }
            Err(e) => tracing::warn!("reading the years of volunteer records failed: {e}"),
        }
        loop {
            for y in &years {
                if let Err(e) = evaluated(&st, *y).await {
                    tracing::warn!("evaluating the party rules of {y} failed: {}", e.message);
                }
            }
            if let Err(e) = member_counts(&st).await {
                tracing::warn!("counting the party members failed: {}", e.message);
            }
            if let Err(e) = active_orgs(&st).await {
                tracing::warn!("reading the party organisations failed: {}", e.message);
            }
            if let Err(e) = dual_keys(&st, this_year()).await {
                tracing::warn!("reading the 双报到 members failed: {}", e.message);
            }
            tokio::time::sleep(every).await;
            let kept = st
                .party_findings
                .kept
                .lock()
                .map(|k| k.iter().map(|e| e.year).collect::<Vec<_>>());
            if let Ok(k) = kept {
                years = k;
            }
            if !years.contains(&this_year()) {
                years.push(this_year());
            }
        }
    });
}

/// A finding shown: one of the evaluation's (by position) or one made for this caller (the
/// per-community sum of member findings that a `Counts` caller sees instead of names).
pub(super) enum Shown {
    At(usize),
    Made(Box<Finding>),
}

/// What one caller sees of an evaluation, in report order.
pub(super) struct View {
    pub(super) evaluated: Arc<Evaluated>,
    pub(super) shown: Vec<(Shown, Visibility)>,
}

impl View {
    pub(super) fn finding<'a>(&'a self, s: &'a Shown) -> &'a Finding {
        match s {
            Shown::At(i) => &self.evaluated.findings[*i],
            Shown::Made(f) => f,
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Finding, Visibility)> {
        self.shown.iter().map(|(s, v)| (self.finding(s), *v))
    }
}

/// The findings the caller may see, each with its visibility. At `Counts`, findings about
/// one member are summed per community, so that no name or code leaves. Visibility is
/// decided once per grid (or community), not once per finding.
pub(super) fn visible_findings(
    snap: &Snapshot,
    caller: &Caller,
    evaluated: Arc<Evaluated>,
) -> View {
    let mut shown = Vec::new();
    let mut counted: BTreeMap<i64, i64> = BTreeMap::new();
    let mut year = None;
    let seen: Vec<Visibility> = evaluated
        .places
        .iter()
        .map(|(g, c)| visibility(snap, caller, *g, *c))
        .collect();
    for (i, f) in evaluated.findings.iter().enumerate() {
        let vis = seen[evaluated.place_of[i] as usize];
        match vis {
            Visibility::Hidden | Visibility::Addresses => {}
            Visibility::Counts if f.subject.kind == SubjectKind::Member => {
                *counted.entry(f.community_id).or_default() += 1;
                year = f.numbers.get("year").cloned();
            }
            _ => shown.push((Shown::At(i), vis)),
        }
    }
    let mut view = View { evaluated, shown };
    if counted.is_empty() {
        return view;
    }
    for (community, n) in counted {
        let Some(c) = snap.communities.get(community) else {
            continue;
        };
        let community = party::Subject {
            kind: SubjectKind::Community,
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
        };
        let point = snap.communities.interior_point(c.id);
        view.shown.push((
            Shown::Made(Box::new(party::members_without_post_counted(
                community,
                n,
                year.clone(),
                point,
            ))),
            Visibility::Counts,
        ));
    }
    let mut order: Vec<(Shown, Visibility)> = std::mem::take(&mut view.shown);
    order.sort_by(|a, b| {
        let (fa, fb) = (view.finding(&a.0), view.finding(&b.0));
        (fa.rule, &fa.subject.code).cmp(&(fb.rule, &fb.subject.code))
    });
    view.shown = order;
    view
}
