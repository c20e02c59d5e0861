//! 双报到 multi-dimensional evaluation: the community's rating of each registered unit, the
//! projects it claimed and completed in the year, the unit's standing in the year's
//! circular (通报), and the talk list (约谈) of units that did poorly with their reasons;
//! the ratings of registered members by the community and by their unit.

use super::Settings;
use serde::{Deserialize, Serialize};

/// Who rates a registered member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rater {
    /// The community where the member registered.
    Community,
    /// The member's own unit.
    Unit,
}

impl Rater {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Community => "community",
            Self::Unit => "unit",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Community, Self::Unit]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What the evaluation reads of one registered unit in a year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitYear {
    /// The unit's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The community's rating (0-100), if given.
    pub score: Option<f64>,
    /// Projects claimed for the year.
    pub claimed: i64,
    /// Of those, completed.
    pub completed: i64,
}

/// A unit's standing in the year's circular (通报).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Commended: rated at or above `notice_from` and at least one project completed.
    Commended,
    /// Neither commended nor called in.
    Satisfactory,
    /// Not rated yet, and no reason to call it in.
    NotRated,
    /// Called in for a talk (约谈).
    Talk,
}

impl Standing {
    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Commended => "表扬",
            Self::Satisfactory => "合格",
            Self::NotRated => "未评价",
            Self::Talk => "约谈",
        }
    }
}

/// Why a unit is called in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum TalkReason {
    /// The community rated it below the threshold.
    RatedLow {
        /// Its score.
        score: f64,
        /// The threshold.
        below: f64,
    },
    /// It completed no volunteer project in the year (the notice asks for at least one).
    NoProjectCompleted {
        /// Projects it claimed.
        claimed: i64,
    },
}

impl TalkReason {
    /// One sentence in Chinese with the numbers.
    pub fn message(&self) -> String {
        match self {
            Self::RatedLow { score, below } => {
                format!("社区评价 {score:.1} 分,低于 {below:.1} 分")
            }
            Self::NoProjectCompleted { claimed } => {
                format!("认领项目 {claimed} 个,完成 0 个(每年至少完成 1 个)")
            }
        }
    }
}

/// One line of the circular.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// The unit.
    #[serde(flatten)]
    pub unit: UnitYear,
    /// Its standing.
    pub standing: Standing,
    /// Why it is called in (empty unless `standing` is `Talk`).
    pub reasons: Vec<TalkReason>,
}

/// The standing of one unit.
pub fn standing(u: &UnitYear, s: &Settings) -> Notice {
    let mut reasons = vec![];
    if let Some(score) = u.score.filter(|x| *x < s.talk_below) {
        reasons.push(TalkReason::RatedLow {
            score,
            below: s.talk_below,
        });
    }
    if u.completed == 0 {
        reasons.push(TalkReason::NoProjectCompleted { claimed: u.claimed });
    }
    let standing = match u.score {
        _ if !reasons.is_empty() => Standing::Talk,
        None => Standing::NotRated,
        Some(x) if x >= s.notice_from => Standing::Commended,
        Some(_) => Standing::Satisfactory,
    };
    Notice {
        unit: u.clone(),
        standing,
        reasons,
    }
}

/// The circular of a year (every unit, by standing then code) and the talk list (the
/// units called in, by code).
pub fn circular(units: &[UnitYear], s: &Settings) -> (Vec<Notice>, Vec<Notice>) {
    let mut all: Vec<Notice> = units.iter().map(|u| standing(u, s)).collect();
    all.sort_by(|a, b| (a.standing, &a.unit.code).cmp(&(b.standing, &b.unit.code)));
    let mut talk: Vec<Notice> = all
        .iter()
        .filter(|n| n.standing == Standing::Talk)
        .cloned()
        .collect();
    talk.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    (all, talk)
}

/// The mean of a member's ratings (community and unit), if any; a member whose mean is
/// below `talk_below` did poorly.
pub fn member_mean(scores: &[f64]) -> Option<f64> {
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, score: Option<f64>, claimed: i64, completed: i64) -> UnitYear {
        UnitYear {
            code: code.into(),
            name: "单位".into(),
            score,
            claimed,
            completed,
        }
    }

    #[test]
    fn units_that_did_poorly_are_called_in_with_their_reasons() {
        let s = Settings::default();
        let units = [
            unit("U1", Some(95.0), 2, 1),
            unit("U2", Some(59.9), 1, 1),
            unit("U3", Some(75.0), 1, 0),
            unit("U4", None, 0, 1),
            unit("U5", Some(90.0), 1, 1),
            unit("U6", Some(60.0), 1, 1),
        ];
        let (all, talk) = circular(&units, &s);
        let order: Vec<(&str, Standing)> = all
            .iter()
            .map(|n| (n.unit.code.as_str(), n.standing))
            .collect();
        assert_eq!(
            order,
            vec![
                ("U1", Standing::Commended),
                ("U5", Standing::Commended),
                ("U6", Standing::Satisfactory),
                ("U4", Standing::NotRated),
                ("U2", Standing::Talk),
                ("U3", Standing::Talk),
            ]
        );
        assert_eq!(talk.len(), 2);
        assert_eq!(
            talk[0].reasons,
            vec![TalkReason::RatedLow {
                score: 59.9,
                below: 60.0
            }]
        );
        assert_eq!(
            talk[1].reasons,
            vec![TalkReason::NoProjectCompleted { claimed: 1 }]
        );
        assert!(talk[1].reasons[0].message().contains("完成 0 个"));
    }

    #[test]
    fn member_means() {
        assert_eq!(member_mean(&[]), None);
        assert_eq!(member_mean(&[80.0, 90.0]), Some(85.0));
        assert_eq!(Rater::parse("unit"), Some(Rater::Unit));
    }
}
