//! The monthly incident report (事件月报): per community and second-level grid of the
//! caller's scope, the incidents reported in a month by category, their status at the
//! month's end, how many were finished and the median time to finish, and the share that
//! missed a time limit. CSV or XLSX; the rules are `domain::incident_month`.
//!
//! `GET /api/incidents/report?month=YYYY-MM&community=&grid=&format=csv|xlsx&lang=zh|en`
//! - `month`: a month in Asia/Shanghai; by default the current one (read up to now).
//! - Rows: each community (`level` = `community`, its grids' sum) followed by its grids, every
//!   grid in scope listed even with no incidents (a blank month is an answer too).
//! - Without `lang`, a plain table with the machine column names below; with `lang`, a title
//!   row (month, scope, cut-off), column names in that language and a file name that says what
//!   it is (`事件月报_2026-11.xlsx`), as the coverage report does.
//! - At most [`MAX_INCIDENTS`] incidents in one report: more is a 422 asking to narrow it
//!   to a community (a city's month is some tens of thousands).

use super::error::{ApiError, ApiResult};
use super::extract::Queried;
use super::patrols::scope_grids;
use super::xlsx::{download, Cell};
use crate::domain::access::Caller;
use crate::domain::incident_month::{at_cutoff, Month, Tally};
use crate::domain::patrol::{Category, Status};
use crate::spatial::index::Snapshot;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Most incidents one report reads.
pub const MAX_INCIDENTS: usize = 100_000;

/// Time allowed to tally a report on the work pool.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// Query of the report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    month: Option<String>,
    community: Option<String>,
    grid: Option<String>,
    format: Option<String>,
    lang: Option<String>,
}

/// Machine names of the columns, in order.
const COLUMNS: [&str; 24] = [
    "level",
    "community_code",
    "community",
    "grid1_code",
    "grid_code",
    "grid",
    "reported",
    "dispute",
    "safety_hazard",
    "environment",
    "facility_damage",
    "residents_request",
    "other",
    "status_reported",
    "status_assigned",
    "status_in_progress",
    "status_resolved",
    "status_verified",
    "status_closed",
    "open",
    "finished",
    "median_hours_to_finish",
    "overdue",
    "overdue_pct",
];

/// The same columns in Chinese.
const COLUMNS_ZH: [&str; 24] = [
    "层级",
    "社区编码",
    "社区",
    "一级网格编码",
    "网格编码",
    "网格",
    "上报件数",
    "矛盾纠纷",
    "安全隐患",
    "环境卫生",
    "设施损坏",
    "社情民意",
    "其他",
    "待派遣",
    "已派遣",
    "处置中",
    "待核查",
    "已核查",
    "已关闭",
    "未办结",
    "已办结",
    "办结用时中位数(小时)",
    "超时件数",
    "超时率(%)",
];

/// A row's place: a community or one of its grids.
struct Place {
    community_code: String,
    community: String,
    grid1_code: String,
    grid_code: String,
    grid: String,
}

/// Places by (community code, grid code), with each grid's id.
type Places = BTreeMap<(String, String), (i64, Place)>;

impl MonthQuery {
    /// The format, the language for people (`Some(true)`: Chinese) and the month asked for.
    fn parsed(&self, now: DateTime<Utc>) -> ApiResult<(&str, Option<bool>, Month)> {
        let format = self.format.as_deref().unwrap_or("csv");
        if format != "csv" && format != "xlsx" {
            return Err(ApiError::invalid(
                "format",
                format!("format must be csv or xlsx, not {format:?}"),
            ));
        }
        let zh = match self.lang.as_deref() {
            None => None,
            Some("zh") => Some(true),
            Some("en") => Some(false),
            Some(other) => {
                return Err(ApiError::invalid(
                    "lang",
                    format!("lang must be zh or en, not {other:?}"),
                ))
            }
        };
        let month = match self.month.as_deref() {
            None => Month::of(now),
            Some(s) => Month::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "month",
                    format!("month must be a month like 2026-11 (years 2000 to 2100), got {s:?}"),
                )
            })?,
        };
        if month.start() > now {
            return Err(ApiError::invalid(
                "month",
                format!("month {month} has not begun"),
            ));
        }
        Ok((format, zh, month))
    }
}

/// The second-level grids of the caller's scope (narrowed by `community` or `grid`) as the
/// rows name them, and the name of the place the report is narrowed to, if any.
fn places_of(
    snap: &Snapshot,
    caller: &Caller,
    q: &MonthQuery,
) -> ApiResult<(Places, Option<String>)> {
    let grids = scope_grids(snap, caller, q.community.as_deref(), q.grid.as_deref())?;
    let mut places = Places::new();
    for g in &grids {
        let c = snap.communities.get(g.community_id);
        let parent = g.parent_id.and_then(|p| snap.grids.get(p));
        let place = Place {
            community_code: c.map(|c| c.code.clone()).unwrap_or_default(),
            community: c.map(|c| c.name.clone()).unwrap_or_default(),
            grid1_code: parent.map(|p| p.code.clone()).unwrap_or_default(),
            grid_code: g.code.clone(),
            grid: g.name.clone(),
        };
        places.insert(
            (place.community_code.clone(), g.code.clone()),
            (g.id, place),
        );
    }
    let scope_name = q
        .grid
        .as_deref()
        .and_then(|code| snap.grids.by_code(code).map(|g| g.name.clone()))
        .or_else(|| {
            q.community
                .as_deref()
                .and_then(|code| snap.communities.by_code(code).map(|c| c.name.clone()))
        });
    Ok((places, scope_name))
}

/// `GET /api/incidents/report`.
pub async fn report(Queried(st, caller, q): Queried<MonthQuery>) -> ApiResult<Response> {
    let now = Utc::now();
    let (format, zh, month) = q.parsed(now)?;
    let cutoff = month.cutoff(now);
    let (places, scope_name) = places_of(&st.registry.snapshot(), &caller, &q)?;
    let ids: Vec<i64> = places.values().map(|(id, _)| *id).collect();
    let incidents = st
        .store
        .incident_month(&ids, (month.start(), month.end()), cutoff, MAX_INCIDENTS)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many",
                format!(
                    "more than {MAX_INCIDENTS} incidents were reported in {month} in this scope; \
                     ask for one community at a time (community=)"
                ),
            )
        })?;
    let rows = crate::work::heavy(BUDGET, move || {
        let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
        for (n, i) in incidents.iter().enumerate() {
            if n % 4096 == 0 {
                crate::work::checkpoint()?;
            }
            let at = at_cutoff(i.category, i.reported_at, &i.steps, cutoff);
            tallies
                .entry(i.grid_id)
                .or_default()
                .add(i.category, i.reported_at, &at);
        }
        Ok(table(&places, &tallies, zh))
    })
    .await?;
    let Some(zh) = zh else {
        return download(
            format,
            &format!("incidents-{month}"),
            "incidents",
            &COLUMNS,
            &rows,
        );
    };
    // The cut-off as a date in Asia/Shanghai: the last day the report has seen.
    let seen_to = (cutoff - Duration::seconds(1) + Duration::hours(8)).date_naive();
    let scope = scope_name.as_deref();
    let (title, name, columns) = if zh {
        (
            format!(
                "事件月报 · {month} · 范围：{} · 截至 {seen_to}",
                scope.unwrap_or("全部")
            ),
            format!("事件月报_{month}"),
            COLUMNS_ZH,
        )
    } else {
        (
            format!(
                "Monthly incident report · {month} · scope: {} · up to {seen_to}",
                scope.unwrap_or("all")
            ),
            format!("incidents-monthly_{month}"),
            COLUMNS,
        )
    };
    let mut titled = vec![columns.iter().map(|c| Cell::Text((*c).into())).collect()];
    titled.extend(rows);
    download(format, &name, "incidents", &[title.as_str()], &titled)
}

/// The rows: each community's sum, then its grids, in code order.
fn table(places: &Places, tallies: &BTreeMap<i64, Tally>, zh: Option<bool>) -> Vec<Vec<Cell>> {
    let level = |community: bool| {
        Cell::Text(
            match (zh, community) {
                (Some(true), true) => "社区",
                (Some(true), false) => "网格",
                (_, true) => "community",
                (_, false) => "grid",
            }
            .into(),
        )
    };
    let empty = Tally::default();
    let mut rows = vec![];
    let mut current: Option<(&Place, Tally, Vec<Vec<Cell>>)> = None;
    let flush = |c: Option<(&Place, Tally, Vec<Vec<Cell>>)>, rows: &mut Vec<Vec<Cell>>| {
        if let Some((p, sum, grids)) = c {
            let mut head = vec![
                level(true),
                Cell::Text(p.community_code.clone()),
                Cell::Text(p.community.clone()),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ];
            head.extend(figures(&sum));
            rows.push(head);
            rows.extend(grids);
        }
    };
    for (id, p) in places.values() {
        let t = tallies.get(id).unwrap_or(&empty);
        if current
            .as_ref()
            .is_none_or(|(c, _, _)| c.community_code != p.community_code)
        {
            flush(current.take(), &mut rows);
            current = Some((p, Tally::default(), vec![]));
        }
        if let Some((_, sum, grids)) = current.as_mut() {
            sum.merge(t);
            let mut row = vec![
                level(false),
                Cell::Text(p.community_code.clone()),
                Cell::Text(p.community.clone()),
                Cell::Text(p.grid1_code.clone()),
                Cell::Text(p.grid_code.clone()),
                Cell::Text(p.grid.clone()),
            ];
            row.extend(figures(t));
            grids.push(row);
        }
    }
    flush(current.take(), &mut rows);
    rows
}

/// A tally's cells, from `reported` to `overdue_pct`.
fn figures(t: &Tally) -> Vec<Cell> {
    let n = |v: u64| Cell::Number(v as f64);
    let mut cells = vec![n(t.reported)];
    debug_assert_eq!(Category::ALL.len(), t.by_category.len());
    debug_assert_eq!(Status::ALL.len(), t.by_status.len());
    cells.extend(t.by_category.iter().map(|v| n(*v)));
    cells.extend(t.by_status.iter().map(|v| n(*v)));
    cells.push(n(t.open()));
    cells.push(n(t.finished));
    cells.push(t.median_hours_to_finish().map_or(Cell::Empty, Cell::Number));
    cells.push(n(t.overdue));
    cells.push(t.overdue_pct().map_or(Cell::Empty, Cell::Number));
    cells
}
