//! The weekly compliance of second-level grids read back from the patrols: which patrols
//! count for a grid's week, how much of its streets their walks covered (with each grid's
//! street length and each walked grid-week's coverage kept between reports), households
//! visited and incidents found, and the grids that missed their week.

use crate::domain::patrol::{
    ratio, week_status, GridWeek, IsoWeek, PatrolShare, Reached, FULL_MARKS_SHARE,
};
use crate::spatial::index::BuildingLayer;
use crate::spatial::track;
use crate::store::{read_all, wkb, DbContext, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use geo::{MultiLineString, MultiPolygon};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// Up to this many grids a report names them to the database when reading patrols and
/// households visited; past it (a whole zone) it reads the weeks' rows and keeps those of
/// its grids and of the patrols that count (a plan over thousands of named grids costs
/// more than the rows it saves).
const NAMED_GRIDS: usize = 500;

/// Households reached in one building by one patrol, for a grid's weekly figures.
struct GridVisit {
    patrol: Uuid,
    building: i64,
    /// Households reached.
    households: i32,
    /// The building's households.
    total: i32,
    /// The households named (`None`: a count only).
    doors: Option<Vec<String>>,
}

/// The database's part of a compliance report (see [`Store::compliance_inputs`]).
#[derive(Default)]
pub struct ComplianceInputs {
    by_grid_week: HashMap<(i64, IsoWeek), Vec<PatrolRow>>,
    tracks: HashMap<Uuid, MultiLineString<f64>>,
    /// Per grid of the building: the visits of the patrols that count.
    visits_by_grid: HashMap<i64, Vec<GridVisit>>,
    incidents: HashMap<(i64, IsoWeek), i64>,
    streets: Option<Arc<track::Streets>>,
    /// Street metres inside each grid, when they were computed before (see
    /// [`StreetLengths`]); a grid not in it is measured now.
    street_m: Option<Arc<HashMap<i64, f64>>>,
    /// The street coverage of walked grid-weeks kept from earlier reports, for exactly the
    /// patrols that count in them now (see [`WalkedCoverage`]).
    kept: HashMap<(i64, IsoWeek), track::Coverage>,
    /// Where the grid-weeks measured now are kept for the next report.
    keep_in: Option<Arc<StreetLengths>>,
}

/// The streets of the zone and the metres of street inside each second-level grid: they
/// depend only on the walking network and the grids' boundaries, so the server keeps them
/// between requests (keyed by the change log) and a compliance report clips streets only
/// for the grids walked in its weeks. Each grid's figure is the one
/// [`track::Streets::coverage`] gives without tracks, over the same streets, so the
/// report's numbers are those of a fresh computation.
#[derive(Default)]
pub struct StreetLengths {
    /// Every street near the zone's grids, indexed; `None` without a network table.
    pub streets: Option<Arc<track::Streets>>,
    /// Street metres inside each grid (by id).
    pub by_grid: Arc<HashMap<i64, f64>>,
    /// The street coverage of walked grid-weeks measured over these streets.
    pub walked: WalkedCoverage,
}

/// The most grid-weeks [`WalkedCoverage`] keeps: a year and a quarter of a city of 5,400
/// second-level grids all walked every week, about 40 MB. Past it the oldest weeks go.
pub const MAX_KEPT_WALKS: usize = 360_000;

/// The street coverage of walked grid-weeks, kept between compliance reports. A
/// grid-week's coverage depends only on the grid's streets (the state of
/// [`StreetLengths`] that holds this), the buffer (likewise) and the tracks of the patrols
/// that count in it; a complete patrol's track never changes, so the figure is reused
/// while the same patrols count. A new patrol counting in the week, or a patrol no longer
/// counting, misses the kept figure and the grid is clipped again. Without it, a week in
/// which every grid of a city was walked clips 5,400 grids' streets against their tracks
/// on every request (about a second of CPU).
#[derive(Default)]
pub struct WalkedCoverage {
    weeks: std::sync::Mutex<WalkedWeeks>,
}

/// One walked grid's kept figure: the patrols counting in its week (sorted) and their coverage.
type WalkedGrid = (Box<[Uuid]>, track::Coverage);

#[derive(Default)]
struct WalkedWeeks {
    /// Per week, per grid: the counted patrols (sorted) and their coverage.
    by_week: std::collections::BTreeMap<IsoWeek, HashMap<i64, WalkedGrid>>,
    len: usize,
}

impl WalkedCoverage {
    fn lock(&self) -> std::sync::MutexGuard<'_, WalkedWeeks> {
        self.weeks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept coverage of the grid-week when exactly `counted` (sorted) count in it.
    fn get(&self, grid: i64, week: IsoWeek, counted: &[Uuid]) -> Option<track::Coverage> {
        let w = self.lock();
        let (ids, c) = w.by_week.get(&week)?.get(&grid)?;
        (**ids == *counted).then_some(*c)
    }

    /// Keeps freshly measured grid-weeks, dropping the oldest weeks past [`MAX_KEPT_WALKS`].
    fn keep(&self, fresh: Vec<(i64, IsoWeek, Box<[Uuid]>, track::Coverage)>) {
        if fresh.is_empty() {
            return;
        }
        let mut w = self.lock();
        for (grid, week, ids, c) in fresh {
            if w.by_week
                .entry(week)
                .or_default()
                .insert(grid, (ids, c))
                .is_none()
            {
                w.len += 1;
            }
        }
        while w.len > MAX_KEPT_WALKS {
            let Some((_, oldest)) = w.by_week.pop_first() else {
                break;
            };
            w.len -= oldest.len();
        }
    }

    /// How many grid-weeks are kept.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The box around `geoms`, or `None` when there is none.
pub fn bbox_of<'a>(
    geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>,
) -> Option<geo::Rect<f64>> {
    geoms
        .into_iter()
        .filter_map(geo::BoundingRect::bounding_rect)
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
}

impl std::fmt::Debug for StreetLengths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreetLengths({} grids)", self.by_grid.len())
    }
}

/// Measures the street metres inside each grid (CPU work: run it on the work pool; it
/// stops at the pool's deadline).
pub fn street_lengths<'a>(
    streets: Option<Arc<track::Streets>>,
    grids: impl IntoIterator<Item = (i64, &'a MultiPolygon<f64>)>,
    buffer_m: f64,
) -> Result<StreetLengths, crate::work::Expired> {
    let mut by_grid = HashMap::new();
    if let Some(st) = &streets {
        for (i, (id, geom)) in grids.into_iter().enumerate() {
            crate::work::checkpoint_every(i, 16)?;
            by_grid.insert(id, st.coverage(geom, &[], buffer_m).street_m);
        }
    }
    Ok(StreetLengths {
        streets,
        by_grid: Arc::new(by_grid),
        walked: WalkedCoverage::default(),
    })
}

/// Each grid's week from the inputs, grid by grid (CPU work: run it on the work pool; it
/// stops at the pool's deadline).
pub fn compliance_rows(
    inputs: &ComplianceInputs,
    grids: &[GridRef],
    weeks: &[IsoWeek],
    rules: ComplianceRules,
    now: DateTime<Utc>,
) -> Result<Vec<GridWeek>, crate::work::Expired> {
    let mut out = Vec::with_capacity(grids.len() * weeks.len());
    let mut fresh = vec![];
    let none: Vec<PatrolRow> = Vec::new();
    let no_visits: Vec<GridVisit> = Vec::new();
    for &week in weeks {
        for (i, g) in grids.iter().enumerate() {
            crate::work::checkpoint_every(i, 64)?;
            let patrols = inputs.by_grid_week.get(&(g.id, week)).unwrap_or(&none);
            let shares: Vec<PatrolShare> = patrols
                .iter()
                .map(|r| PatrolShare {
                    id: r.patrol_id,
                    by: r.by.clone(),
                    staff_code: r.staff_code.clone(),
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    length_inside_m: r.length_inside_m,
                    share_inside: r.share_inside,
                    counts: r.share_inside >= rules.min_share_inside,
                })
                .collect();
            let counted: Vec<&PatrolShare> = shares.iter().filter(|s| s.counts).collect();
            let counted_ids: HashSet<Uuid> = counted.iter().map(|s| s.id).collect();
            let mut patrolled_by: Vec<String> = vec![];
            for s in &counted {
                if !patrolled_by.contains(&s.by) {
                    patrolled_by.push(s.by.clone());
                }
            }
            let walks: Vec<&MultiLineString<f64>> = counted
                .iter()
                .filter_map(|s| inputs.tracks.get(&s.id))
                .collect();
            // Streets are clipped only for walked grids; the others' length is known.
            let known = inputs.street_m.as_ref().and_then(|m| m.get(&g.id)).copied();
            let kept = inputs.kept.get(&(g.id, week)).copied();
            let coverage = inputs.streets.as_ref().map(|st| match (kept, known) {
                (Some(c), _) => c,
                (None, Some(street_m)) if walks.is_empty() => track::Coverage {
                    street_m,
                    covered_m: 0.0,
                },
                _ => {
                    let c = st.coverage(&g.geom, &walks, rules.street_buffer_m);
                    if inputs.keep_in.is_some() {
                        let mut ids: Vec<Uuid> = counted_ids.iter().copied().collect();
                        ids.sort_unstable();
                        fresh.push((g.id, week, ids.into_boxed_slice(), c));
                    }
                    c
                }
            });
            // Per building, each household named counts once however often it was visited.
            let mut per_building: HashMap<i64, (Reached, i32)> = HashMap::new();
            for v in inputs.visits_by_grid.get(&g.id).unwrap_or(&no_visits) {
                if counted_ids.contains(&v.patrol) {
                    let e = per_building
                        .entry(v.building)
                        .or_insert((Reached::default(), v.total));
                    e.0.add(v.households, v.doors.as_deref());
                }
            }
            let visited: i64 = per_building.values().map(|(r, t)| r.count(*t)).sum();
            let household_coverage = ratio(visited as f64, g.households as f64);
            let patrolled = !counted.is_empty();
            out.push(GridWeek {
                week,
                grid: g.code.clone(),
                name: g.name.clone(),
                community: g.community.clone(),
                community_name: g.community_name.clone(),
                chief: g.chief.clone(),
                status: week_status(week, patrolled, now),
                patrolled,
                patrolled_by,
                track_length_inside_m: counted.iter().map(|s| s.length_inside_m).sum(),
                street_length_m: coverage.map(|c| c.street_m),
                street_covered_m: coverage.map(|c| c.covered_m),
                street_coverage: coverage.and_then(|c| ratio(c.covered_m, c.street_m)),
                households: g.households,
                households_visited: visited,
                household_coverage,
                household_full_marks: household_coverage.is_some_and(|c| c >= FULL_MARKS_SHARE),
                incidents_found: inputs.incidents.get(&(g.id, week)).copied().unwrap_or(0),
                patrols: shares,
            });
        }
    }
    if let Some(k) = &inputs.keep_in {
        k.walked.keep(fresh);
    }
    Ok(out)
}

/// A second-level grid for the compliance report, with what the index knows of it.
#[derive(Debug, Clone)]
pub struct GridRef {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community code.
    pub community: String,
    /// Community name.
    pub community_name: String,
    /// Grid chief's name.
    pub chief: Option<String>,
    /// Households in the grid.
    pub households: i64,
    /// Boundary now.
    pub geom: MultiPolygon<f64>,
}

/// Settings of the compliance report.
#[derive(Debug, Clone, Copy)]
pub struct ComplianceRules {
    /// Share of a walk that must be inside a grid for the patrol to count there.
    pub min_share_inside: f64,
    /// Streets within this distance of a track are covered.
    pub street_buffer_m: f64,
}

struct PatrolRow {
    patrol_id: Uuid,
    grid_id: i64,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    length_inside_m: f64,
    share_inside: f64,
    by: String,
    staff_code: Option<String>,
}

/// A grid that missed its weekly patrol.
#[derive(Debug, Clone, Serialize)]
pub struct Overdue {
    /// Grid code.
    pub grid: String,
    /// Grid name.
    pub name: String,
    /// Community code.
    pub community: String,
    /// Grid chief.
    pub chief: Option<String>,
    /// Start of the last patrol that counted for the grid, if any.
    pub last_patrolled_at: Option<DateTime<Utc>>,
    /// Completed weeks in a row, up to this one, without a patrol that counts (at most
    /// the look-back asked for).
    pub weeks_missed: usize,
    /// Whether a patrol already counts for the current week.
    pub this_week_patrolled: bool,
}

impl Store {
    async fn patrol_rows(
        &self,
        grid_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PatrolRow>, StoreError> {
        const W: &str = "reading patrols for compliance";
        let rows = sqlx::query(
            "SELECT pg.patrol_id, pg.grid_id, p.started_at, p.ended_at, \
               COALESCE(pg.length_inside_m, 0) AS inside, COALESCE(pg.share_inside, 0) AS share, \
               COALESCE(s.name, a.display_name) AS by, s.code AS staff_code \
             FROM patrol_grids pg JOIN patrols p ON p.id = pg.patrol_id \
             JOIN accounts a ON a.id = p.account_id LEFT JOIN staff s ON s.id = p.staff_id \
             WHERE p.complete AND ($1::bigint[] IS NULL OR pg.grid_id = ANY($1)) \
               AND p.started_at >= $2 AND p.started_at < $3 \
             ORDER BY p.started_at, pg.patrol_id",
        )
        .bind((grid_ids.len() <= NAMED_GRIDS).then_some(grid_ids))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .ctx(W)?;
        // A whole zone reads the weeks' patrols and keeps those through its grids.
        let wanted: Option<HashSet<i64>> =
            (grid_ids.len() > NAMED_GRIDS).then(|| grid_ids.iter().copied().collect());
        rows.iter()
            .filter(|r| {
                wanted
                    .as_ref()
                    .is_none_or(|w| r.try_get::<i64, _>("grid_id").is_ok_and(|g| w.contains(&g)))
            })
            .map(|r| {
                Ok(PatrolRow {
                    patrol_id: r.try_get("patrol_id").ctx(W)?,
                    grid_id: r.try_get("grid_id").ctx(W)?,
                    started_at: r.try_get("started_at").ctx(W)?,
                    ended_at: r.try_get("ended_at").ctx(W)?,
                    length_inside_m: r.try_get("inside").ctx(W)?,
                    share_inside: r.try_get("share").ctx(W)?,
                    by: r.try_get("by").ctx(W)?,
                    staff_code: r.try_get("staff_code").ctx(W)?,
                })
            })
            .collect()
    }

    /// Households visited by complete patrols started in `[from, to)` that went through one
    /// of `grids` (`None`: any grid): (patrol, building, households visited, doors named).
    async fn visits_between(
        &self,
        grids: Option<&[i64]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, i64, i32, Option<Vec<String>>)>, StoreError> {
        sqlx::query_as(
            "SELECT v.patrol_id, v.building_id, v.households, v.doors FROM patrol_visits v \
             JOIN patrols p ON p.id = v.patrol_id \
             WHERE p.complete AND p.started_at >= $1 AND p.started_at < $2 \
               AND ($3::bigint[] IS NULL \
                    OR v.patrol_id IN (SELECT patrol_id FROM patrol_grids WHERE grid_id = ANY($3)))",
        )
        .bind(from)
        .bind(to)
        .bind(grids)
        .fetch_all(&self.pool)
        .await
        .ctx("reading households visited")
    }

    /// Incidents reported in `[from, to)` per grid and week.
    async fn incidents_between(
        &self,
        grids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<(i64, IsoWeek), i64>, StoreError> {
        let q = sqlx::query_as(
            "SELECT grid_id, (date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai'))::date, count(*) \
             FROM incidents WHERE grid_id = ANY($1) AND reported_at >= $2 AND reported_at < $3 GROUP BY 1, 2",
        );
        let weekly = |(g, d, n): (i64, NaiveDate, i64)| ((g, IsoWeek::containing(d)), n);
        let q = q.bind(grids).bind(from).bind(to);
        read_all(q, &self.pool, "counting incidents", weekly).await
    }

    /// The walked parts of complete patrols' tracks.
    async fn walked_tracks(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, MultiLineString<f64>>, StoreError> {
        const W: &str = "reading tracks";
        let rows = sqlx::query(
            "SELECT id, ST_AsBinary(track) AS wkb, speed_flags FROM patrols WHERE id = ANY($1) AND complete",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .ctx(W)?;
        let mut out = HashMap::new();
        for r in &rows {
            let id: Uuid = r.try_get("id").ctx(W)?;
            let w: Vec<u8> = r.try_get("wkb").ctx(W)?;
            let flags: Value = r.try_get("speed_flags").ctx(W)?;
            let line = wkb::decode_line(&w).ctx(W)?;
            let flagged: Vec<usize> = flags
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["segment"].as_u64().map(|s| s as usize))
                .collect();
            out.insert(id, track::walked_parts(&line.0, &flagged));
        }
        Ok(out)
    }

    /// What [`compliance_rows`] needs from the database: the patrols of the grids in the
    /// weeks, their walked tracks, households visited, incidents counted and the streets
    /// (`known`: the streets and street lengths kept from before, else read now).
    pub async fn compliance_inputs(
        &self,
        grids: &[GridRef],
        weeks: &[IsoWeek],
        rules: ComplianceRules,
        known: Option<Arc<StreetLengths>>,
        buildings: &BuildingLayer,
    ) -> Result<ComplianceInputs, StoreError> {
        let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
            return Ok(ComplianceInputs::default());
        };
        let (from, to) = (first.start(), last.end());
        let ids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        // A whole zone reads the weeks' visits rather than naming thousands of grids.
        let visit_grids = (ids.len() <= NAMED_GRIDS).then_some(ids.as_slice());
        let (rows, visits, incidents) = tokio::try_join!(
            self.patrol_rows(&ids, from, to),
            self.visits_between(visit_grids, from, to),
            self.incidents_between(&ids, from, to),
        )?;
        let counting: HashSet<Uuid> = rows
            .iter()
            .filter(|r| r.share_inside >= rules.min_share_inside)
            .map(|r| r.patrol_id)
            .collect();
        // The grid-weeks whose coverage is kept for the patrols counting in them now need
        // no tracks; the others need those of their counting patrols.
        let mut counted_in: HashMap<(i64, IsoWeek), Vec<Uuid>> = HashMap::new();
        for r in rows
            .iter()
            .filter(|r| r.share_inside >= rules.min_share_inside)
        {
            counted_in
                .entry((r.grid_id, IsoWeek::of(r.started_at)))
                .or_default()
                .push(r.patrol_id);
        }
        let mut kept = HashMap::new();
        let mut need: HashSet<Uuid> = HashSet::new();
        for (key, mut ids) in counted_in {
            ids.sort_unstable();
            ids.dedup();
            match known
                .as_ref()
                .and_then(|k| k.walked.get(key.0, key.1, &ids))
            {
                Some(c) => {
                    kept.insert(key, c);
                }
                None => need.extend(ids),
            }
        }
        let need: Vec<Uuid> = need.into_iter().collect();
        let tracks = self.walked_tracks(&need).await?;
        // Households reached, by the grid of the building (as the index has it now).
        let mut visits_by_grid: HashMap<i64, Vec<GridVisit>> = HashMap::new();
        for (patrol, building, households, doors) in visits {
            if !counting.contains(&patrol) {
                continue;
            }
            if let Some(b) = buildings.get(building) {
                visits_by_grid
                    .entry(b.grid_id)
                    .or_default()
                    .push(GridVisit {
                        patrol,
                        building,
                        households,
                        total: b.households,
                        doors,
                    });
            }
        }
        let (streets, street_m) = match &known {
            Some(k) => (k.streets.clone(), Some(Arc::clone(&k.by_grid))),
            None => (self.streets_of(grids.iter().map(|g| &g.geom)).await?, None),
        };
        let mut by_grid_week: HashMap<(i64, IsoWeek), Vec<PatrolRow>> = HashMap::new();
        for r in rows {
            by_grid_week
                .entry((r.grid_id, IsoWeek::of(r.started_at)))
                .or_default()
                .push(r);
        }
        Ok(ComplianceInputs {
            by_grid_week,
            tracks,
            visits_by_grid,
            incidents,
            streets,
            street_m,
            kept,
            keep_in: known,
        })
    }

    /// The streets near the grids (see [`Store::streets_near`]), indexed.
    pub async fn streets_of<'a>(
        &self,
        geoms: impl IntoIterator<Item = &'a MultiPolygon<f64>>,
    ) -> Result<Option<Arc<track::Streets>>, StoreError> {
        Ok(match bbox_of(geoms) {
            Some(b) => self
                .streets_near(b)
                .await?
                .map(|l| Arc::new(track::Streets::new(l))),
            None => None,
        })
    }

    /// Grids that missed their patrol in the last completed week, with how many weeks in
    /// a row (looking back at most `lookback` weeks) and when they were last patrolled.
    pub async fn overdue(
        &self,
        grids: &[GridRef],
        min_share_inside: f64,
        lookback: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Overdue>, StoreError> {
        let ids: Vec<i64> = grids.iter().map(|g| g.id).collect();
        let this_week = IsoWeek::of(now);
        let mut oldest = this_week;
        for _ in 0..lookback {
            oldest = oldest.prev();
        }
        let rows: Vec<(i64, DateTime<Utc>, Vec<NaiveDate>)> = sqlx::query_as(
            "SELECT pg.grid_id, max(p.started_at), \
               COALESCE(array_agg(DISTINCT (date_trunc('week', p.started_at AT TIME ZONE 'Asia/Shanghai'))::date) \
                 FILTER (WHERE p.started_at >= $3), '{}') \
             FROM patrol_grids pg JOIN patrols p ON p.id = pg.patrol_id \
             WHERE p.complete AND pg.grid_id = ANY($1) AND pg.share_inside >= $2 GROUP BY pg.grid_id",
        )
        .bind(&ids)
        .bind(min_share_inside)
        .bind(oldest.start())
        .fetch_all(&self.pool)
        .await
        .ctx("reading the last patrols")?;
        let by_grid: HashMap<i64, (DateTime<Utc>, HashSet<IsoWeek>)> = rows
            .into_iter()
            .map(|(g, last, weeks)| {
                (
                    g,
                    (last, weeks.into_iter().map(IsoWeek::containing).collect()),
                )
            })
            .collect();
        let mut out = vec![];
        for g in grids {
            let (last, weeks) = match by_grid.get(&g.id) {
                Some((l, w)) => (Some(*l), Some(w)),
                None => (None, None),
            };
            let patrolled = |w: &IsoWeek| weeks.is_some_and(|s| s.contains(w));
            let mut missed = 0;
            let mut w = this_week.prev();
            while missed < lookback && !patrolled(&w) {
                missed += 1;
                w = w.prev();
            }
            if missed > 0 {
                out.push(Overdue {
                    grid: g.code.clone(),
                    name: g.name.clone(),
                    community: g.community.clone(),
                    chief: g.chief.clone(),
                    last_patrolled_at: last,
                    weeks_missed: missed,
                    this_week_patrolled: patrolled(&this_week),
                });
            }
        }
        out.sort_by(|a, b| {
            b.weeks_missed
                .cmp(&a.weeks_missed)
                .then(a.grid.cmp(&b.grid))
        });
        Ok(out)
    }
}
