//! The objective scorecard of a community or first-level grid for a year, from what wangge
//! already measures: weekly patrol compliance, households visited, incidents closed within
//! their time limit, ten-minute coverage of the 1+8 kinds, party rule findings open at year
//! end and 双报到 completion. Each indicator has its source, weight (a setting), value and
//! score (0-100); the total is the weighted mean of the indicators that have data, and
//! places are ranked by it.

use super::Settings;
use serde::Serialize;

/// The indicators, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Grid-weeks of the year with a counted patrol, of the grid-weeks elapsed.
    Patrol,
    /// Households visited at least once in the year, of all households.
    Visits,
    /// Incidents of the year dealt with (resolved, verified or closed) within their
    /// category's time limit, of the incidents reported in the year.
    Incidents,
    /// Residents within the ten-minute walk of each 1+8 kind, averaged over the nine kinds.
    Coverage,
    /// Party rule findings of the year: each takes `points_per_finding` off 100.
    Findings,
    /// 双报到 units that completed at least one project in the year, of the units.
    Dual,
}

impl Indicator {
    /// Every indicator, in order.
    pub const ALL: [Indicator; 6] = [
        Self::Patrol,
        Self::Visits,
        Self::Incidents,
        Self::Coverage,
        Self::Findings,
        Self::Dual,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patrol => "patrol",
            Self::Visits => "visits",
            Self::Incidents => "incidents",
            Self::Coverage => "coverage",
            Self::Findings => "findings",
            Self::Dual => "dual",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Patrol => "每周网格巡查",
            Self::Visits => "入户走访",
            Self::Incidents => "事件按时办结",
            Self::Coverage => "十分钟服务圈覆盖(1+8)",
            Self::Findings => "党组织设置问题",
            Self::Dual => "双报到项目完成",
        }
    }

    /// Where its value comes from.
    pub fn source(self) -> &'static str {
        match self {
            Self::Patrol => "patrols: complete patrols counting for a second-level grid, per ISO week",
            Self::Visits => "patrol_visits: households visited per building, capped at the building's households",
            Self::Incidents => "incidents and incident_events: first resolution or closing against the category's time limit",
            Self::Coverage => "coverage model: residents within the 10-minute walk (500 m) of each 1+8 kind",
            Self::Findings => "party rules: findings of the year's evaluation",
            Self::Dual => "volunteer_projects and assess_project_completions",
        }
    }

    /// Its weight in `s`.
    pub fn weight(self, s: &Settings) -> f64 {
        match self {
            Self::Patrol => s.weight_patrol,
            Self::Visits => s.weight_visits,
            Self::Incidents => s.weight_incidents,
            Self::Coverage => s.weight_coverage,
            Self::Findings => s.weight_findings,
            Self::Dual => s.weight_dual,
        }
    }
}

/// A part of a whole: how many of how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Share {
    /// The part.
    pub of: u64,
    /// The whole.
    pub total: u64,
}

impl Share {
    /// The share in percent, if the whole is not empty.
    pub fn pct(self) -> Option<f64> {
        (self.total > 0).then(|| 100.0 * self.of as f64 / self.total as f64)
    }

    /// Adds another part and whole.
    pub fn add(&mut self, o: Share) {
        self.of += o.of;
        self.total += o.total;
    }
}

/// The residents covered for one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindCoverage {
    /// The station kind.
    pub kind: String,
    /// Residents covered, of residents.
    pub residents: Share,
}

/// What was measured of one place in a year.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measures {
    /// Grid-weeks patrolled of grid-weeks elapsed.
    pub patrol: Share,
    /// Households visited of households.
    pub visits: Share,
    /// Incidents dealt with on time of incidents reported.
    pub incidents: Share,
    /// Coverage per 1+8 kind; `None` when the coverage model is not available.
    pub coverage: Option<Vec<KindCoverage>>,
    /// Party rule findings of the year; `None` when not evaluated.
    pub findings: Option<u64>,
    /// 双报到 units with a completed project of units.
    pub dual: Share,
}

/// One indicator of a scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// The indicator.
    pub indicator: Indicator,
    /// Its Chinese name.
    pub name: &'static str,
    /// Where its value comes from.
    pub source: &'static str,
    /// Its weight.
    pub weight: f64,
    /// The value measured (a percentage, or the number of findings).
    pub value: Option<f64>,
    /// The score, 0-100 (none: no data, left out of the total).
    pub score: Option<f64>,
}

/// The scorecard of one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// The indicators.
    pub lines: Vec<Line>,
    /// The weighted mean of the scored indicators, 0-100.
    pub total: Option<f64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The scorecard of one place's measures under the settings.
pub fn scorecard(m: &Measures, s: &Settings) -> Scorecard {
    let coverage = m.coverage.as_ref().and_then(|kinds| {
        let pcts: Vec<f64> = kinds.iter().filter_map(|k| k.residents.pct()).collect();
        (!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64)
    });
    let findings = m
        .findings
        .map(|n| (100.0 - n as f64 * s.points_per_finding).max(0.0));
    let lines: Vec<Line> = Indicator::ALL
        .into_iter()
        .map(|i| {
            let (value, score) = match i {
                Indicator::Patrol => (m.patrol.pct(), m.patrol.pct()),
                Indicator::Visits => (m.visits.pct(), m.visits.pct()),
                Indicator::Incidents => (m.incidents.pct(), m.incidents.pct()),
                Indicator::Coverage => (coverage, coverage),
                Indicator::Findings => (m.findings.map(|n| n as f64), findings),
                Indicator::Dual => (m.dual.pct(), m.dual.pct()),
            };
            Line {
                indicator: i,
                name: i.zh(),
                source: i.source(),
                weight: i.weight(s),
                value: value.map(round2),
                score: score.map(round2),
            }
        })
        .collect();
    let (mut sum, mut weights) = (0.0, 0.0);
    for l in &lines {
        if let Some(x) = l.score {
            sum += l.weight * x;
            weights += l.weight;
        }
    }
    let total = (weights > 0.0).then(|| round2(sum / weights));
    Scorecard { lines, total }
}

/// Ranks places by total, highest first: equal totals share a rank and the next rank skips
/// (1, 1, 3); places without a total are not ranked. `places` are (code, total); the answer
/// is (code, rank) in rank order, ties by code.
pub fn rank(places: &[(String, Option<f64>)]) -> Vec<(String, Option<usize>)> {
    let mut order: Vec<&(String, Option<f64>)> = places.iter().collect();
    order.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    let mut out = Vec::with_capacity(order.len());
    let mut last: Option<(f64, usize)> = None;
    for (i, (code, total)) in order.into_iter().enumerate() {
        let r = total.map(|t| match last {
            Some((lt, lr)) if lt == t => lr,
            _ => {
                last = Some((t, i + 1));
                i + 1
            }
        });
        out.push((code.clone(), r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(of: u64, total: u64) -> Share {
        Share { of, total }
    }

    #[test]
    fn the_total_weighs_the_indicators_with_data() {
        let s = Settings::default();
        let m = Measures {
            patrol: share(40, 50),  // 80
            visits: share(90, 100), // 90
            incidents: share(0, 0), // no data: left out
            coverage: None,         // not available: left out
            findings: Some(3),      // 100 - 3 × 5 = 85
            dual: share(1, 2),      // 50
        };
        let c = scorecard(&m, &s);
        assert_eq!(c.lines[0].score, Some(80.0));
        assert_eq!(c.lines[2].score, None);
        assert_eq!(c.lines[4].value, Some(3.0));
        assert_eq!(c.lines[4].score, Some(85.0));
        // (25 × 80 + 20 × 90 + 10 × 85 + 10 × 50) / (25 + 20 + 10 + 10) = 5150 / 65
        assert_eq!(c.total, Some(79.23));
        let heavy_dual = Settings {
            weight_dual: 65.0,
            ..s
        };
        // (2000 + 1800 + 850 + 65 × 50) / 120 = 7900 / 120
        assert_eq!(scorecard(&m, &heavy_dual).total, Some(65.83));
    }

    #[test]
    fn coverage_is_the_mean_over_kinds_and_findings_floor_at_zero() {
        let s = Settings::default();
        let m = Measures {
            coverage: Some(vec![
                KindCoverage {
                    kind: "clinic".into(),
                    residents: share(1, 2),
                },
                KindCoverage {
                    kind: "park".into(),
                    residents: share(1, 1),
                },
                KindCoverage {
                    kind: "school".into(),
                    residents: share(0, 0),
                },
            ]),
            findings: Some(40),
            ..Measures::default()
        };
        let c = scorecard(&m, &s);
        assert_eq!(c.lines[3].score, Some(75.0));
        assert_eq!(c.lines[4].score, Some(0.0));
        // (15 × 75 + 10 × 0) / 25
        assert_eq!(c.total, Some(45.0));
        assert_eq!(scorecard(&Measures::default(), &s).total, None);
    }

    #[test]
    fn ties_share_a_rank_and_the_next_rank_skips() {
        let places = vec![
            ("C3".to_string(), Some(70.0)),
            ("C1".to_string(), Some(90.0)),
            ("C4".to_string(), None),
            ("C2".to_string(), Some(90.0)),
            ("C5".to_string(), Some(60.0)),
        ];
        assert_eq!(
            rank(&places),
            vec![
                ("C1".to_string(), Some(1)),
                ("C2".to_string(), Some(1)),
                ("C3".to_string(), Some(3)),
                ("C5".to_string(), Some(4)),
                ("C4".to_string(), None),
            ]
        );
    }
}
