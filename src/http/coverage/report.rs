//! The coverage report: one row per second-level grid, as CSV or XLSX.

use super::sums::{group, Grouped};
use super::{ask, counted, counted_off_network, heavy, model, CoverageQuery};
use crate::domain::GridLevel;
use crate::domain::StationKind;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::Queried;
use crate::http::params;
use crate::http::xlsx::download;
use crate::http::xlsx::Cell;
use crate::spatial::walk::KindSelection;
use axum::response::Response;
use std::sync::Arc;

/// `GET /api/coverage/report?format=csv|xlsx`: one row per second-level grid, with the
/// share of residents and households covered for the selection and for each kind.
pub async fn report(Queried(st, caller, q): Queried<CoverageQuery>) -> ApiResult<Response> {
    let format = params::one_of(q.format.as_deref(), "format", ("csv", "xlsx"))?;
    let snap = st.registry.snapshot();
    let a = ask(&q, &snap)?;
    let m = model(&st, &snap).await?;
    // Names and places come from the snapshot the model was built from.
    let snap = Arc::clone(&m.snap);
    let place = a
        .grid
        .and_then(|g| snap.grids.get(g).map(|g| g.name.clone()))
        .or_else(|| {
            a.community
                .and_then(|c| snap.communities.get(c).map(|c| c.name.clone()))
        });
    let (kinds, walk) = (a.kinds.clone(), a.walk);
    let (header, rows) = heavy(move || {
        let keep = counted(&m, &caller, &a);
        let off = counted_off_network(&m, &caller, &a);
        let report = m.coverage(&m.stations, &a.sel, a.walk.cutoff_m());
        let g = group(&m, &report, &a.sel, &keep, &off);
        let per_kind: Vec<Grouped> = a
            .kinds
            .iter()
            .map(|k| group(&m, &report, &KindSelection::one(k.as_str()), &keep, &off))
            .collect();
        let mut header: Vec<String> = [
            "community_code",
            "community",
            "grid1_code",
            "grid2_code",
            "grid2",
            "buildings",
            "residents",
            "residents_covered",
            "residents_pct",
            "households",
            "households_covered",
            "households_pct",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        for k in &a.kinds {
            header.push(format!("{}_residents_pct", k.as_str()));
        }
        let pct = |c: u64, t: u64| {
            if t == 0 {
                Cell::Empty
            } else {
                Cell::Number((1000.0 * c as f64 / t as f64).round() / 10.0)
            }
        };
        let mut rows = vec![];
        for (id, t) in &g.grids {
            let Some(gr) = snap.grids.get(*id).filter(|x| x.level == GridLevel::Second) else {
                continue;
            };
            let c = snap.communities.get(gr.community_id);
            let parent = gr.parent_id.and_then(|p| snap.grids.get(p));
            let mut row = vec![
                Cell::Text(c.map(|c| c.code.clone()).unwrap_or_default()),
                Cell::Text(c.map(|c| c.name.clone()).unwrap_or_default()),
                Cell::Text(parent.map(|p| p.code.clone()).unwrap_or_default()),
                Cell::Text(gr.code.clone()),
                Cell::Text(gr.name.clone()),
                Cell::Number(t.buildings as f64),
                Cell::Number(t.residents as f64),
                Cell::Number(t.residents_covered as f64),
                pct(t.residents_covered, t.residents),
                Cell::Number(t.households as f64),
                Cell::Number(t.households_covered as f64),
                pct(t.households_covered, t.households),
            ];
            for pk in &per_kind {
                let kt = pk.grids.get(id).copied().unwrap_or_default();
                row.push(pct(kt.residents_covered, kt.residents));
            }
            rows.push(row);
        }
        (header, rows)
    })
    .await?;
    let Some(lang) = q.lang.as_deref() else {
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        return download(format, "coverage", "coverage", &header, &rows);
    };
    let zh = match lang {
        "zh" => true,
        "en" => false,
        other => {
            return Err(ApiError::invalid(
                "lang",
                format!("lang must be zh or en, not {other:?}"),
            ))
        }
    };
    let titled = Titled {
        zh,
        kinds: &kinds,
        minutes: walk.minutes,
        speed_m_per_min: walk.speed_m_per_min,
        place,
        date: (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(),
    };
    let mut table = vec![header
        .iter()
        .map(|c| Cell::Text(titled.column(c)))
        .collect::<Vec<_>>()];
    table.extend(rows);
    let title = titled.title();
    download(format, &titled.file_name(), "coverage", &[&title], &table)
}

/// What a report for people says of itself: its title row, column names and file name, in
/// Chinese or English. Dates are those of Asia/Shanghai.
struct Titled<'a> {
    zh: bool,
    kinds: &'a [StationKind],
    minutes: f64,
    speed_m_per_min: f64,
    /// The community or grid the report is limited to, if any.
    place: Option<String>,
    date: chrono::NaiveDate,
}

impl Titled<'_> {
    fn kind_names(&self, sep: &str) -> String {
        self.kinds
            .iter()
            .map(|k| {
                if self.zh {
                    k.name_zh().to_string()
                } else {
                    k.as_str().replace('_', " ")
                }
            })
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn title(&self) -> String {
        let speed = self.speed_m_per_min / 60.0;
        if self.zh {
            format!(
                "十分钟服务圈 · {} · {}分钟 · 步行 {speed:.2} 米/秒 · 范围：{} · {}",
                self.kind_names("、"),
                self.minutes,
                self.place.as_deref().unwrap_or("全部"),
                self.date
            )
        } else {
            format!(
                "Ten-minute service circle · {} · {} min · walking {speed:.2} m/s · scope: {} · {}",
                self.kind_names(", "),
                self.minutes,
                self.place.as_deref().unwrap_or("all"),
                self.date
            )
        }
    }

    fn file_name(&self) -> String {
        if self.zh {
            format!(
                "十分钟服务圈_{}_{}分钟_{}",
                self.kind_names("、"),
                self.minutes,
                self.date
            )
        } else {
            format!(
                "service-circle_{}_{}min_{}",
                self.kind_names("+").replace(' ', "-"),
                self.minutes,
                self.date
            )
        }
    }

    /// The column's name for people (`clinic_residents_pct` → 卫生服务站人口覆盖率(%)).
    fn column(&self, code: &str) -> String {
        if let Some(k) = code
            .strip_suffix("_residents_pct")
            .and_then(StationKind::parse)
        {
            return if self.zh {
                format!("{}人口覆盖率(%)", k.name_zh())
            } else {
                format!("Residents covered by {} (%)", k.as_str().replace('_', " "))
            };
        }
        // A measure, what of it is covered and the share: `residents`, `residents_covered`,
        // `residents_pct` (常住人口, 覆盖人口, 人口覆盖率(%)), and so for households.
        let measures = [
            ("residents", "常住人口", "人口", "Residents"),
            ("households", "户数", "户数", "Households"),
        ];
        for (measure, zh_all, zh_unit, en) in measures {
            let (zh, en) = match code.strip_prefix(measure) {
                Some("") => (zh_all.to_string(), en.to_string()),
                Some("_covered") => (format!("覆盖{zh_unit}"), format!("{en} covered")),
                Some("_pct") => (format!("{zh_unit}覆盖率(%)"), format!("{en} covered (%)")),
                _ => continue,
            };
            return if self.zh { zh } else { en };
        }
        let (zh, en) = match code {
            "community_code" => ("社区代码", "Community code"),
            "community" => ("社区", "Community"),
            "grid1_code" => ("一级网格代码", "First-level grid code"),
            "grid2_code" => ("二级网格代码", "Second-level grid code"),
            "grid2" => ("二级网格", "Second-level grid"),
            "buildings" => ("楼栋数", "Buildings"),
            other => (other, other),
        };
        if self.zh { zh } else { en }.to_string()
    }
}
