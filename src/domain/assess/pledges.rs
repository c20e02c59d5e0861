//! 四诺两考: the four pledges of each member of a community's two committees (任期承诺,
//! 年度承诺, 辞职承诺, 廉政承诺), each with its target, and the annual and term assessment
//! of each target (met / partly / not met, with a note); how a committee's pledges add up.

use super::super::FieldError;
use serde::{Deserialize, Serialize};

/// Longest target or note of a pledge, in characters.
pub const MAX_PLEDGE_TEXT: usize = 2_000;

/// The kind of a pledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PledgeKind {
    /// 任期承诺: targets of the term of office.
    Term,
    /// 年度承诺: targets of the year.
    Annual,
    /// 辞职承诺: the resignation pledge.
    Resignation,
    /// 廉政承诺: the integrity pledge.
    Integrity,
}

impl PledgeKind {
    /// Every kind, in order.
    pub const ALL: [PledgeKind; 4] = [Self::Term, Self::Annual, Self::Resignation, Self::Integrity];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Term => "term",
            Self::Annual => "annual",
            Self::Resignation => "resignation",
            Self::Integrity => "integrity",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Term => "任期承诺",
            Self::Annual => "年度承诺",
            Self::Resignation => "辞职承诺",
            Self::Integrity => "廉政承诺",
        }
    }
}

/// How far a pledge's target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Met {
    /// Met (完成).
    Met,
    /// Partly met (基本完成).
    Partly,
    /// Not met (未完成).
    NotMet,
}

impl Met {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Partly => "partly",
            Self::NotMet => "not_met",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Met, Self::Partly, Self::NotMet]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Met => "完成",
            Self::Partly => "基本完成",
            Self::NotMet => "未完成",
        }
    }
}

/// One pledge with its assessments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pledge {
    /// The kind.
    pub kind: PledgeKind,
    /// The target pledged.
    pub target: String,
    /// The annual assessment.
    pub annual: Option<Met>,
    /// Its note.
    pub annual_note: Option<String>,
    /// The term assessment.
    pub term: Option<Met>,
    /// Its note.
    pub term_note: Option<String>,
}

/// Checks one member's pledges of a year: at most one of each kind, targets and notes of
/// bounded length, a target not empty. `field` is the list's name (`pledges`).
pub fn check_pledges(pledges: &[Pledge], field: &str) -> Result<(), FieldError> {
    for (i, p) in pledges.iter().enumerate() {
        let at = |f: &str| format!("{field}[{i}].{f}");
        if pledges[..i].iter().any(|q| q.kind == p.kind) {
            return Err(FieldError::new(
                at("kind"),
                format!("{} given twice", p.kind.as_str()),
            ));
        }
        super::check_text(&p.target, &at("target"), MAX_PLEDGE_TEXT, true)?;
        for (name, note) in [("annual_note", &p.annual_note), ("term_note", &p.term_note)] {
            if let Some(n) = note {
                super::check_text(n, &at(name), MAX_PLEDGE_TEXT, false)?;
            }
        }
    }
    Ok(())
}

/// How a set of pledges stands: counted by annual and by term assessment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Pledges.
    pub pledges: usize,
    /// Annual assessments: met, partly, not met, not yet assessed.
    pub annual: [usize; 4],
    /// Term assessments, likewise.
    pub term: [usize; 4],
}

impl Tally {
    /// Counts `pledges`.
    pub fn of<'a>(pledges: impl IntoIterator<Item = &'a Pledge>) -> Self {
        let slot = |m: Option<Met>| match m {
            Some(Met::Met) => 0,
            Some(Met::Partly) => 1,
            Some(Met::NotMet) => 2,
            None => 3,
        };
        let mut t = Self::default();
        for p in pledges {
            t.pledges += 1;
            t.annual[slot(p.annual)] += 1;
            t.term[slot(p.term)] += 1;
        }
        t
    }

    /// Pledges whose annual assessment found them not met (a warning of 一述三评).
    pub fn annual_not_met(&self) -> usize {
        self.annual[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pledge(kind: PledgeKind, annual: Option<Met>) -> Pledge {
        Pledge {
            kind,
            target: "完成老旧小区改造".into(),
            annual,
            annual_note: None,
            term: None,
            term_note: None,
        }
    }

    #[test]
    fn one_pledge_of_each_kind() {
        let two = [
            pledge(PledgeKind::Annual, None),
            pledge(PledgeKind::Annual, None),
        ];
        assert_eq!(
            check_pledges(&two, "pledges").unwrap_err().field,
            "pledges[1].kind"
        );
        let mut empty = pledge(PledgeKind::Term, None);
        empty.target = String::new();
        assert_eq!(
            check_pledges(&[empty], "pledges").unwrap_err().field,
            "pledges[0].target"
        );
        let mut long = pledge(PledgeKind::Term, None);
        long.term_note = Some("长".repeat(MAX_PLEDGE_TEXT + 1));
        assert_eq!(
            check_pledges(&[long], "pledges").unwrap_err().field,
            "pledges[0].term_note"
        );
    }

    #[test]
    fn tallies_count_each_assessment() {
        let ps = [
            pledge(PledgeKind::Term, Some(Met::Met)),
            pledge(PledgeKind::Annual, Some(Met::NotMet)),
            pledge(PledgeKind::Integrity, Some(Met::Partly)),
            pledge(PledgeKind::Resignation, None),
        ];
        let t = Tally::of(&ps);
        assert_eq!(t.pledges, 4);
        assert_eq!(t.annual, [1, 1, 1, 1]);
        assert_eq!(t.term, [0, 0, 0, 4]);
        assert_eq!(t.annual_not_met(), 1);
        assert_eq!(Met::parse("not_met"), Some(Met::NotMet));
        assert_eq!(PledgeKind::parse("integrity"), Some(PledgeKind::Integrity));
    }
}
