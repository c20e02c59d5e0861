//! 一述三评: the satisfaction ratings of a community party organisation and its secretary
//! in three layers (party members, residents' representatives, the street office's party
//! committee), their weighted score, the grade it earns (好 / 较好 / 一般 / 差) and the
//! warnings (预警) with their reasons.

use super::Settings;
use serde::{Deserialize, Serialize};

/// A layer of raters (分层满意度测评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Party members of the community (党员).
    Members,
    /// Residents' representatives (居民代表).
    Residents,
    /// The street office's party committee (街道党工委).
    Street,
}

impl Layer {
    /// Every layer, in order.
    pub const ALL: [Layer; 3] = [Self::Members, Self::Residents, Self::Street];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Residents => "residents",
            Self::Street => "street",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Members => "党员测评",
            Self::Residents => "居民代表测评",
            Self::Street => "街道党工委测评",
        }
    }

    /// The layer's weight in `s`.
    pub fn weight(self, s: &Settings) -> f64 {
        match self {
            Self::Members => s.weight_members,
            Self::Residents => s.weight_residents,
            Self::Street => s.weight_street,
        }
    }
}

/// The grade of a community party organisation (分类定级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 好.
    Good,
    /// 较好.
    Fair,
    /// 一般.
    Average,
    /// 差.
    Poor,
}

impl Grade {
    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Good => "好",
            Self::Fair => "较好",
            Self::Average => "一般",
            Self::Poor => "差",
        }
    }

    /// The grade a weighted score earns: at or above a threshold earns its grade.
    pub fn of(score: f64, s: &Settings) -> Self {
        if score >= s.grade_good {
            Self::Good
        } else if score >= s.grade_fair {
            Self::Fair
        } else if score >= s.grade_average {
            Self::Average
        } else {
            Self::Poor
        }
    }
}

/// One layer's rating: the mean score (0-100) and how many rated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// The layer.
    pub layer: Layer,
    /// Mean score, 0-100.
    pub score: f64,
    /// How many raters.
    pub raters: i32,
}

/// Why a community is on the warning list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Warning {
    /// No report (述职) on the year is recorded.
    NoReport,
    /// A layer has not rated.
    NotRated {
        /// The layer.
        layer: Layer,
    },
    /// A layer rated below the warning threshold.
    LayerLow {
        /// The layer.
        layer: Layer,
        /// Its score.
        score: f64,
        /// The threshold.
        below: f64,
    },
    /// The grade is 差.
    PoorGrade {
        /// The weighted score.
        score: f64,
    },
    /// Pledges whose annual assessment found them not met.
    PledgesNotMet {
        /// How many.
        count: usize,
    },
}

impl Warning {
    /// One sentence in Chinese with the numbers.
    pub fn message(&self) -> String {
        match self {
            Self::NoReport => "未记录书记年度述职".into(),
            Self::NotRated { layer } => format!("{}未开展", layer.zh()),
            Self::LayerLow {
                layer,
                score,
                below,
            } => format!("{}得分 {score:.1},低于预警线 {below:.1}", layer.zh()),
            Self::PoorGrade { score } => format!("综合得分 {score:.1},定级为差"),
            Self::PledgesNotMet { count } => format!("{count} 项年度承诺目标未完成"),
        }
    }
}

/// The outcome of 一述三评 for one community.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The weighted score (when every layer has rated).
    pub score: Option<f64>,
    /// The grade it earns.
    pub grade: Option<Grade>,
    /// The warnings, in order: report, layers, grade, pledges.
    pub warnings: Vec<Warning>,
}

/// 一述三评 of one community: its report on record or not, the ratings of its layers, and
/// how many of its committee's pledges were assessed as not met this year.
pub fn assess(reported: bool, ratings: &[Rating], pledges_not_met: usize, s: &Settings) -> Outcome {
    let mut warnings = vec![];
    if !reported {
        warnings.push(Warning::NoReport);
    }
    let mut sum = 0.0;
    let mut complete = true;
    for layer in Layer::ALL {
        match ratings.iter().find(|r| r.layer == layer) {
            None => {
                complete = false;
                warnings.push(Warning::NotRated { layer });
            }
            Some(r) => {
                sum += layer.weight(s) * r.score;
                if r.score < s.warn_layer_below {
                    warnings.push(Warning::LayerLow {
                        layer,
                        score: r.score,
                        below: s.warn_layer_below,
                    });
                }
            }
        }
    }
    let score = complete.then(|| (sum * 100.0).round() / 100.0);
    let grade = score.map(|x| Grade::of(x, s));
    if let (Some(score), Some(Grade::Poor)) = (score, grade) {
        warnings.push(Warning::PoorGrade { score });
    }
    if pledges_not_met > 0 {
        warnings.push(Warning::PledgesNotMet {
            count: pledges_not_met,
        });
    }
    Outcome {
        score,
        grade,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(m: f64, r: f64, s: f64) -> Vec<Rating> {
        [
            (Layer::Members, m),
            (Layer::Residents, r),
            (Layer::Street, s),
        ]
        .map(|(layer, score)| Rating {
            layer,
            score,
            raters: 10,
        })
        .to_vec()
    }

    #[test]
    fn grades_change_exactly_at_their_thresholds() {
        let s = Settings::default();
        assert_eq!(Grade::of(90.0, &s), Grade::Good);
        assert_eq!(Grade::of(89.99, &s), Grade::Fair);
        assert_eq!(Grade::of(80.0, &s), Grade::Fair);
        assert_eq!(Grade::of(79.99, &s), Grade::Average);
        assert_eq!(Grade::of(60.0, &s), Grade::Average);
        assert_eq!(Grade::of(59.99, &s), Grade::Poor);
    }

    #[test]
    fn layers_are_weighted_by_the_settings() {
        let s = Settings::default();
        // 0.3 × 100 + 0.4 × 80 + 0.3 × 90 = 89
        let o = assess(true, &all(100.0, 80.0, 90.0), 0, &s);
        assert_eq!(o.score, Some(89.0));
        assert_eq!(o.grade, Some(Grade::Fair));
        assert!(o.warnings.is_empty());
        let street_heavy = Settings {
            weight_members: 0.2,
            weight_residents: 0.2,
            weight_street: 0.6,
            ..s
        };
        // 0.2 × 100 + 0.2 × 80 + 0.6 × 90 = 90
        let o = assess(true, &all(100.0, 80.0, 90.0), 0, &street_heavy);
        assert_eq!(o.score, Some(90.0));
        assert_eq!(o.grade, Some(Grade::Good));
    }

    #[test]
    fn warnings_say_why() {
        let s = Settings::default();
        let o = assess(false, &all(50.0, 60.0, 55.0)[..2], 2, &s);
        assert_eq!(o.score, None);
        assert_eq!(o.grade, None);
        assert_eq!(
            o.warnings,
            vec![
                Warning::NoReport,
                Warning::LayerLow {
                    layer: Layer::Members,
                    score: 50.0,
                    below: 60.0
                },
                Warning::NotRated {
                    layer: Layer::Street
                },
                Warning::PledgesNotMet { count: 2 },
            ]
        );
        // 0.3 × 50 + 0.4 × 60 + 0.3 × 55 = 55.5: 差
        let o = assess(true, &all(50.0, 60.0, 55.0), 0, &s);
        assert_eq!(o.grade, Some(Grade::Poor));
        assert!(o.warnings.contains(&Warning::PoorGrade { score: 55.5 }));
        assert!(o.warnings[0].message().contains("党员测评得分 50.0"));
    }
}
