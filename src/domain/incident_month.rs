//! The monthly incident report's rules: which month, what an incident's history says at the
//! month's cut-off (its status, when it was finished, whether it missed a time limit), and
//! the tally of a grid or community. Pure: the store reads the rows, the route lays them out.
//!
//! An incident belongs to the month (Asia/Shanghai) it was **reported** in. Everything else is
//! read from its history up to the **cut-off**: the month's end, or now while the month runs.
//! So the report of a past month gives the same figures whenever it is asked for, and a
//! step taken after the cut-off belongs to the next report's view of it, not this one's.
//!
//! - *Finished* (办结) means no longer open: verified, or closed (after verification or as a
//!   duplicate / not a problem). Time to finish runs from the report to the first such step.
//! - *Overdue* (超时) means a time limit of `domain::patrol` was missed at some point up to the
//!   cut-off: assignment within [`ASSIGN_WITHIN`] of the report, resolution (or closing) within
//!   the category's [`Category::resolve_within`], verification within [`VERIFY_WITHIN`] of each
//!   resolution. A step still waiting at the cut-off counts once its limit has passed, as the
//!   list's `overdue` flag does.

use super::patrol::{Category, Status, ASSIGN_WITHIN, VERIFY_WITHIN};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

/// Asia/Shanghai (UTC+8, no daylight saving): the product's zone, in which months begin.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A calendar month in Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
}

impl Month {
    /// Reads `YYYY-MM` (years 2000 to 2100: the product's records and some slack).
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
        ((2000..=2100).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The month `t` falls in, in Asia/Shanghai.
    pub fn of(t: DateTime<Utc>) -> Month {
        let d = t.with_timezone(&china()).date_naive();
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first instant (midnight of the 1st in Asia/Shanghai), in UTC.
    pub fn start(self) -> DateTime<Utc> {
        let day = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a parsed month");
        china()
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("a fixed offset has one midnight")
            .with_timezone(&Utc)
    }

    /// The first instant after it.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// Up to when its incidents' histories are read: its end, or `now` while it runs.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.end().min(now)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// What an incident's history says at a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtCutoff {
    /// Its status then.
    pub status: Status,
    /// When it was finished (verified or closed), if it was by then.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether it had missed a time limit by then.
    pub overdue: bool,
}

/// Reads an incident's history (`steps`: each step's new status and time, in order; the first
/// is the report itself) up to `cutoff`.
pub fn at_cutoff(
    category: Category,
    reported_at: DateTime<Utc>,
    steps: &[(Status, DateTime<Utc>)],
    cutoff: DateTime<Utc>,
) -> AtCutoff {
    let seen: Vec<(Status, DateTime<Utc>)> = steps
        .iter()
        .copied()
        .filter(|(_, at)| *at <= cutoff)
        .collect();
    let status = seen.last().map_or(Status::Reported, |s| s.0);
    let first =
        |done: &dyn Fn(Status) -> bool| seen.iter().find(|(s, _)| done(*s)).map(|(_, at)| *at);
    // A limit is missed when the step that meets it came after it, or has not come and the
    // limit has passed by the cut-off.
    let missed = |met: Option<DateTime<Utc>>, due: DateTime<Utc>| met.unwrap_or(cutoff) > due;
    let assigned = first(&|s| s != Status::Reported);
    let resolved = first(&|s| matches!(s, Status::Resolved | Status::Verified | Status::Closed));
    let finished_at = first(&|s| !s.is_open());
    let mut overdue = missed(assigned, reported_at + ASSIGN_WITHIN)
        || missed(resolved, reported_at + category.resolve_within());
    // Every wait for verification: from entering `resolved` to the next step.
    for (i, (s, at)) in seen.iter().enumerate() {
        if *s == Status::Resolved {
            let next = seen.get(i + 1).map(|n| n.1);
            overdue |= missed(next, *at + VERIFY_WITHIN);
        }
    }
    AtCutoff {
        status,
        finished_at,
        overdue,
    }
}

/// The tally of a grid or community for a month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Incidents reported in the month.
    pub reported: u64,
    /// Of those, by category, in [`Category::ALL`] order.
    pub by_category: [u64; 6],
    /// Of those, by status at the cut-off, in [`Status::ALL`] order.
    pub by_status: [u64; 6],
    /// Of those, finished by the cut-off.
    pub finished: u64,
    /// Of those, overdue by the cut-off.
    pub overdue: u64,
    /// Hours from report to finish, of each finished one.
    hours_to_finish: Vec<f64>,
}

impl Tally {
    /// Counts one incident in.
    pub fn add(&mut self, category: Category, reported_at: DateTime<Utc>, at: &AtCutoff) {
        self.reported += 1;
        if let Some(i) = Category::ALL.iter().position(|c| *c == category) {
            self.by_category[i] += 1;
        }
        if let Some(i) = Status::ALL.iter().position(|s| *s == at.status) {
            self.by_status[i] += 1;
        }
        if let Some(f) = at.finished_at {
            self.finished += 1;
            self.hours_to_finish
                .push((f - reported_at).num_seconds() as f64 / 3600.0);
        }
        self.overdue += u64::from(at.overdue);
    }

    /// Adds another tally in (a grid's into its community's).
    pub fn merge(&mut self, o: &Tally) {
        self.reported += o.reported;
        for i in 0..6 {
            self.by_category[i] += o.by_category[i];
            self.by_status[i] += o.by_status[i];
        }
        self.finished += o.finished;
        self.overdue += o.overdue;
        self.hours_to_finish.extend_from_slice(&o.hours_to_finish);
    }

    /// Median hours from report to finish (the mean of the middle two for an even count),
    /// rounded to 0.1 h; none when nothing was finished.
    pub fn median_hours_to_finish(&self) -> Option<f64> {
        let mut h = self.hours_to_finish.clone();
        if h.is_empty() {
            return None;
        }
        h.sort_by(f64::total_cmp);
        let n = h.len();
        let m = if n % 2 == 1 {
            h[n / 2]
        } else {
            (h[n / 2 - 1] + h[n / 2]) / 2.0
        };
        Some((m * 10.0).round() / 10.0)
    }

    /// Share of the month's incidents overdue, rounded to 0.1%; none when there were none.
    pub fn overdue_pct(&self) -> Option<f64> {
        (self.reported > 0)
            .then(|| (1000.0 * self.overdue as f64 / self.reported as f64).round() / 10.0)
    }

    /// Incidents still open at the cut-off.
    pub fn open(&self) -> u64 {
        self.reported - self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use Status::*;

    /// The steps of a history reported at `r`: each status at its hour after `r`.
    fn history<const N: usize>(
        r: DateTime<Utc>,
        statuses: [Status; N],
        hours: [i64; N],
    ) -> [(Status, DateTime<Utc>); N] {
        std::array::from_fn(|i| (statuses[i], r + Duration::hours(hours[i])))
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn months_begin_at_midnight_in_shanghai() {
        let m = Month::parse("2026-11").unwrap();
        assert_eq!(m.start(), t("2026-10-31T16:00:00Z"));
        assert_eq!(m.end(), t("2026-11-30T16:00:00Z"));
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        // 23:30 UTC on 30 November is 07:30 on 1 December in Shanghai.
        assert_eq!(Month::of(t("2026-11-30T23:30:00Z")).to_string(), "2026-12");
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "1999-12", "2026-00", "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(
            m.cutoff(t("2026-11-15T00:00:00Z")),
            t("2026-11-15T00:00:00Z")
        );
        assert_eq!(m.cutoff(t("2027-01-01T00:00:00Z")), m.end());
    }

    #[test]
    fn a_history_in_time_is_finished_and_not_overdue() {
        let r = t("2026-11-02T01:00:00Z");
        let steps = history(
            r,
            [Reported, Assigned, InProgress, Resolved, Verified, Closed],
            [0, 2, 3, 20, 30, 31],
        );
        let a = at_cutoff(Category::SafetyHazard, r, &steps, t("2026-12-01T00:00:00Z"));
        assert_eq!(a.status, Closed);
        assert_eq!(
            a.finished_at,
            Some(r + Duration::hours(30)),
            "verified finishes it"
        );
        assert!(!a.overdue);
        // Read at a cut-off in the middle of its history.
        let mid = at_cutoff(Category::SafetyHazard, r, &steps, r + Duration::hours(25));
        assert_eq!(
            (mid.status, mid.finished_at, mid.overdue),
            (Resolved, None, false)
        );
    }

    #[test]
    fn each_time_limit_is_checked() {
        let r = t("2026-11-02T01:00:00Z");
        let end = t("2026-12-01T00:00:00Z");
        // Assigned after 30 h (limit 24 h), then all in time.
        let late_assign = history(r, [Reported, Assigned, Closed], [0, 30, 40]);
        assert!(at_cutoff(Category::Dispute, r, &late_assign, end).overdue);
        // Resolved after 50 h: late for a hazard (48 h), in time for a dispute (72 h).
        let steps = history(r, [Reported, Assigned, Resolved, Verified], [0, 1, 50, 51]);
        assert!(at_cutoff(Category::SafetyHazard, r, &steps, end).overdue);
        assert!(!at_cutoff(Category::Dispute, r, &steps, end).overdue);
        // Verified 80 h after being resolved (limit 72 h).
        let slow_verify = history(r, [Reported, Assigned, Resolved, Verified], [0, 1, 2, 82]);
        assert!(at_cutoff(Category::Other, r, &slow_verify, end).overdue);
        // Sent back and resolved again: each wait for verification counts on its own.
        let sent_back = history(
            r,
            [Reported, Assigned, Resolved, InProgress, Resolved, Verified],
            [0, 1, 2, 70, 71, 140],
        );
        assert!(!at_cutoff(Category::Other, r, &sent_back, end).overdue);
        // Dismissed at once as a duplicate: finished, in time.
        let dup = history(r, [Reported, Closed], [0, 3]);
        let a = at_cutoff(Category::Other, r, &dup, end);
        assert_eq!(
            (a.status, a.finished_at, a.overdue),
            (Closed, Some(r + Duration::hours(3)), false)
        );
    }

    #[test]
    fn a_waiting_step_is_overdue_only_once_its_limit_has_passed() {
        let r = t("2026-11-02T01:00:00Z");
        let waiting = [(Reported, r)];
        assert!(!at_cutoff(Category::Other, r, &waiting, r + Duration::hours(23)).overdue);
        assert!(at_cutoff(Category::Other, r, &waiting, r + Duration::hours(25)).overdue);
        // A step after the cut-off is not seen: at the cut-off it was still waiting.
        let later = [(Reported, r), (Assigned, r + Duration::hours(30))];
        let a = at_cutoff(Category::Other, r, &later, r + Duration::hours(10));
        assert_eq!((a.status, a.overdue), (Reported, false));
    }

    #[test]
    fn tallies_count_and_merge() {
        let r = t("2026-11-02T01:00:00Z");
        let end = t("2026-12-01T00:00:00Z");
        let mut a = Tally::default();
        for hours in [10, 30] {
            let steps = [(Reported, r), (Closed, r + Duration::hours(hours))];
            a.add(
                Category::Dispute,
                r,
                &at_cutoff(Category::Dispute, r, &steps, end),
            );
        }
        let mut b = Tally::default();
        b.add(
            Category::SafetyHazard,
            r,
            &at_cutoff(Category::SafetyHazard, r, &[(Reported, r)], end),
        );
        assert_eq!(a.median_hours_to_finish(), Some(20.0));
        assert_eq!(
            a.overdue_pct(),
            Some(50.0),
            "closed after 30 h: not assigned within 24 h"
        );
        a.merge(&b);
        assert_eq!(a.reported, 3);
        assert_eq!(a.by_category, [2, 1, 0, 0, 0, 0]);
        assert_eq!(a.by_status, [1, 0, 0, 0, 0, 2]);
        assert_eq!((a.finished, a.open(), a.overdue), (2, 1, 2));
        assert_eq!(a.median_hours_to_finish(), Some(20.0));
        assert_eq!(a.overdue_pct(), Some(66.7));
        assert_eq!(Tally::default().median_hours_to_finish(), None);
        assert_eq!(Tally::default().overdue_pct(), None);
    }
}
