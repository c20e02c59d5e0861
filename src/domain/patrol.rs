//! Weekly grid patrols (每周定期网格巡查) and the incidents found on them, as plain data
//! with their rules: coordinate systems a phone may report in, checks on a track's
//! timestamps, ISO weeks in Asia/Shanghai, the incident lifecycle and its deadlines, and
//! the weekly compliance figures of a grid.
//!
//! Must not: do geometry (lengths, shares inside a grid, street coverage are in
//! `spatial::track`), SQL or HTTP.

mod visits;

pub use visits::*;

use super::FieldError;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A coordinate system a client may send positions in; the server stores WGS 84.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS 84 (GPS, the browser's Geolocation API); CGCS2000 is within centimetres of it.
    #[default]
    Wgs84,
    /// GCJ-02, the "Mars" coordinates of AMap, Tencent and other Chinese map SDKs.
    Gcj02,
    /// BD-09, Baidu's coordinates.
    Bd09,
}

impl Crs {
    /// The name clients send.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wgs84 => "wgs84",
            Self::Gcj02 => "gcj02",
            Self::Bd09 => "bd09",
        }
    }
}

/// A position of a track, in WGS 84, with the phone's time and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrackPoint {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
    /// When the phone took the fix.
    pub t: DateTime<Utc>,
    /// The fix's horizontal accuracy in metres, as the phone reports it.
    pub accuracy_m: Option<f64>,
}

/// How far a phone's clock may run ahead of the server's before a time counts as future.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);
/// The longest patrol accepted.
pub const MAX_PATROL: Duration = Duration::hours(24);
/// The largest accuracy (metres) a fix may report; worse is not a position.
pub const MAX_ACCURACY_M: f64 = 10_000.0;
/// At most this many problems are listed in one answer.
pub const MAX_PROBLEMS: usize = 20;
/// Share of households visited that earns full marks in the published assessment scheme.
pub const FULL_MARKS_SHARE: f64 = 0.95;

/// The time frame a track's points must fall in.
#[derive(Debug, Clone, Copy)]
pub struct TimeFrame {
    /// The patrol's start.
    pub start: DateTime<Utc>,
    /// The patrol's end, once known.
    pub end: Option<DateTime<Utc>>,
    /// The server's clock.
    pub now: DateTime<Utc>,
}

/// Checks a patrol's start and end.
pub fn check_span(
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), FieldError> {
    if start > now + CLOCK_SKEW {
        return Err(FieldError::new(
            "started_at",
            format!("{start} is in the future (the server's clock says {now})"),
        ));
    }
    if start.year() < 2000 {
        return Err(FieldError::new("started_at", "must be after the year 2000"));
    }
    if let Some(end) = end {
        if end > now + CLOCK_SKEW {
            return Err(FieldError::new(
                "ended_at",
                format!("{end} is in the future (the server's clock says {now})"),
            ));
        }
        if end < start {
            return Err(FieldError::new(
                "ended_at",
                format!("{end} is before the patrol started ({start})"),
            ));
        }
        if end - start > MAX_PATROL {
            return Err(FieldError::new(
                "ended_at",
                "a patrol lasts at most 24 hours; split longer work into several patrols",
            ));
        }
    }
    Ok(())
}

/// Checks the points of a track (or of one chunk of it, whose first point is number
/// `first` of the whole track): positions are numbers in range, accuracies are
/// non-negative, times are not in the future, lie within the patrol and never go
/// backwards, also across the neighbouring chunks' last and first times when given.
/// Returns every problem found (at most [`MAX_PROBLEMS`]), each naming the point.
pub fn check_points(
    points: &[TrackPoint],
    field: &str,
    frame: &TimeFrame,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Vec<FieldError> {
    let mut out = vec![];
    if points.is_empty() {
        out.push(FieldError::new(
            field,
            "the track is empty: send at least one point",
        ));
        return out;
    }
    let mut prev = before;
    for (i, p) in points.iter().enumerate() {
        if out.len() >= MAX_PROBLEMS {
            break;
        }
        let at = |what: &str| format!("{field}[{i}]{what}");
        if !p.lon.is_finite() || !(-180.0..=180.0).contains(&p.lon) {
            out.push(FieldError::new(
                at(".lon"),
                "must be a longitude within ±180",
            ));
        }
        if !p.lat.is_finite() || !(-90.0..=90.0).contains(&p.lat) {
            out.push(FieldError::new(at(".lat"), "must be a latitude within ±90"));
        }
        if let Some(a) = p.accuracy_m {
            if !a.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&a) {
                out.push(FieldError::new(
                    at(".accuracy_m"),
                    format!("must be a number of metres from 0 to {MAX_ACCURACY_M}"),
                ));
            }
        }
        if p.t > frame.now + CLOCK_SKEW {
            out.push(FieldError::new(
                at(".t"),
                format!(
                    "{} is in the future (the server's clock says {})",
                    p.t, frame.now
                ),
            ));
        }
        if p.t < frame.start - CLOCK_SKEW {
            out.push(FieldError::new(
                at(".t"),
                format!("{} is before the patrol started ({})", p.t, frame.start),
            ));
        }
        if let Some(end) = frame.end {
            if p.t > end + CLOCK_SKEW {
                out.push(FieldError::new(
                    at(".t"),
                    format!("{} is after the patrol ended ({end})", p.t),
                ));
            }
        }
        if let Some(q) = prev {
            if p.t < q {
                let whose = if i == 0 {
                    "the last point of the chunk before"
                } else {
                    "the point before it"
                };
                out.push(FieldError::new(
                    at(".t"),
                    format!(
                        "{} is earlier than {whose} ({q}): points must be in time order",
                        p.t
                    ),
                ));
            }
        }
        prev = Some(p.t);
    }
    if let (Some(last), Some(next)) = (points.last(), after) {
        if last.t > next && out.len() < MAX_PROBLEMS {
            out.push(FieldError::new(
                format!("{field}[{}].t", points.len() - 1),
                format!(
                    "{} is later than the first point of the chunk after ({next}): points must be in time order",
                    last.t
                ),
            ));
        }
    }
    out.truncate(MAX_PROBLEMS);
    out
}

/// Checks free text: at most `max` characters, and none that PostgreSQL cannot store.
pub fn check_text(s: &str, field: &str, max: usize) -> Result<(), FieldError> {
    if s.chars().count() > max {
        return Err(FieldError::new(field, format!("at most {max} characters")));
    }
    if s.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// China Standard Time (Asia/Shanghai: UTC+8 all year, no daylight saving).
fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// An ISO 8601 week (Monday to Sunday) in Asia/Shanghai, e.g. `2024-W10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    /// Its Monday.
    monday: NaiveDate,
}

impl IsoWeek {
    /// The week of an instant, in Shanghai time.
    pub fn of(t: DateTime<Utc>) -> Self {
        Self::containing(t.with_timezone(&shanghai()).date_naive())
    }

    /// The week a calendar date falls in.
    pub fn containing(d: NaiveDate) -> Self {
        Self {
            monday: d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        }
    }

    /// Parses `2024-W10` (or `2024W10`, lower-case `w`).
    pub fn parse(s: &str) -> Option<Self> {
        let (y, w) = s.split_once(['W', 'w'])?;
        let y: i32 = y.trim_end_matches('-').parse().ok()?;
        let w: u32 = w.parse().ok()?;
        if !(2000..=2100).contains(&y) {
            return None;
        }
        NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).map(|monday| Self { monday })
    }

    /// The week's first instant: Monday 00:00 in Shanghai.
    pub fn start(self) -> DateTime<Utc> {
        let local = self.monday.and_hms_opt(0, 0, 0).expect("midnight exists");
        shanghai()
            .from_local_datetime(&local)
            .single()
            .expect("a fixed offset has no gaps")
            .with_timezone(&Utc)
    }

    /// The next week's first instant.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// The week after.
    pub fn next(self) -> Self {
        Self {
            monday: self.monday + Duration::days(7),
        }
    }

    /// The week before.
    pub fn prev(self) -> Self {
        Self {
            monday: self.monday - Duration::days(7),
        }
    }

    /// Weeks from `self` to `last`, both included.
    pub fn through(self, last: IsoWeek) -> Vec<IsoWeek> {
        let mut out = vec![];
        let mut w = self;
        while w <= last {
            out.push(w);
            w = w.next();
        }
        out
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let iw = self.monday.iso_week();
        write!(f, "{}-W{:02}", iw.year(), iw.week())
    }
}

impl Serialize for IsoWeek {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What kind of problem an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 矛盾纠纷: a dispute between residents.
    Dispute,
    /// 安全隐患: a safety hazard (fire exits, gas, falling objects, ...).
    SafetyHazard,
    /// 环境卫生: rubbish, sewage, noise.
    Environment,
    /// 设施损坏: broken public facilities.
    FacilityDamage,
    /// 社情民意: residents' requests and opinions.
    ResidentsRequest,
    /// 其他.
    Other,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Self::Dispute,
        Self::SafetyHazard,
        Self::Environment,
        Self::FacilityDamage,
        Self::ResidentsRequest,
        Self::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dispute => "dispute",
            Self::SafetyHazard => "safety_hazard",
            Self::Environment => "environment",
            Self::FacilityDamage => "facility_damage",
            Self::ResidentsRequest => "residents_request",
            Self::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Dispute => "矛盾纠纷",
            Self::SafetyHazard => "安全隐患",
            Self::Environment => "环境卫生",
            Self::FacilityDamage => "设施损坏",
            Self::ResidentsRequest => "社情民意",
            Self::Other => "其他",
        }
    }

    /// How long after the report the incident should be resolved. Hazards first;
    /// residents' requests get the seven days commonly promised for a reply.
    pub fn resolve_within(self) -> Duration {
        match self {
            Self::SafetyHazard => Duration::hours(48),
            Self::Dispute => Duration::hours(72),
            Self::Environment | Self::FacilityDamage => Duration::days(5),
            Self::ResidentsRequest | Self::Other => Duration::days(7),
        }
    }
}

/// Where an incident is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Found and reported, nobody in charge yet.
    Reported,
    /// Given to a staff member.
    Assigned,
    /// Being dealt with.
    InProgress,
    /// Dealt with, waiting for the grid chief to check.
    Resolved,
    /// Checked on site by the grid chief or the street office.
    Verified,
    /// Closed: after verification, or dismissed (a duplicate, not a problem).
    Closed,
}

/// How long an incident may wait to be assigned.
pub const ASSIGN_WITHIN: Duration = Duration::hours(24);
/// How long a resolved incident may wait to be verified.
pub const VERIFY_WITHIN: Duration = Duration::hours(72);

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] = [
        Self::Reported,
        Self::Assigned,
        Self::InProgress,
        Self::Resolved,
        Self::Verified,
        Self::Closed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Assigned => "assigned",
            Self::InProgress => "in_progress",
            Self::Resolved => "resolved",
            Self::Verified => "verified",
            Self::Closed => "closed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the incident still needs work.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Verified | Self::Closed)
    }

    /// The statuses an incident may move to from this one. Assigned may be re-assigned;
    /// a resolution that does not pass verification goes back to in progress; anything
    /// open may be closed (a duplicate, not a real problem).
    pub fn next(self) -> &'static [Status] {
        use Status::*;
        match self {
            Reported => &[Assigned, Closed],
            Assigned => &[Assigned, InProgress, Closed],
            InProgress => &[Resolved, Closed],
            Resolved => &[Verified, InProgress, Closed],
            Verified => &[Closed],
            Closed => &[],
        }
    }
}

/// Who asks for a transition, as far as the lifecycle cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// A grid chief or administrator with reach over the incident's grid.
    Supervisor,
    /// The staff member the incident is assigned to.
    Assignee,
    /// Anybody else.
    Other,
}

/// Checks a transition: allowed by the lifecycle, and by who asks. Supervisors may make
/// any allowed move; the assignee may only start and resolve the work.
pub fn check_transition(from: Status, to: Status, who: Handler) -> Result<(), String> {
    if !from.next().contains(&to) {
        let allowed: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
        return Err(if allowed.is_empty() {
            format!("a {} incident cannot change any more", from.as_str())
        } else {
            format!(
                "a {} incident can only become {}",
                from.as_str(),
                allowed.join(" or ")
            )
        });
    }
    match who {
        Handler::Supervisor => Ok(()),
        Handler::Assignee if matches!(to, Status::InProgress | Status::Resolved) => Ok(()),
        Handler::Assignee => Err(format!(
            "only the grid chief or an administrator may make an incident {}",
            to.as_str()
        )),
        Handler::Other => Err(
            "only the assigned staff member, the grid chief or an administrator may change this incident"
                .into(),
        ),
    }
}

/// The statuses `who` may move an incident in status `from` to, in the lifecycle's order:
/// what the web app offers as buttons.
pub fn allowed_next(from: Status, who: Handler) -> Vec<Status> {
    from.next()
        .iter()
        .copied()
        .filter(|&to| check_transition(from, to, who).is_ok())
        .collect()
}

/// When the incident's current step is due, if it has a deadline: assignment within
/// [`ASSIGN_WITHIN`] of the report, resolution within the category's time of the report,
/// verification within [`VERIFY_WITHIN`] of the resolution.
pub fn due_at(
    status: Status,
    category: Category,
    reported_at: DateTime<Utc>,
    status_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match status {
        Status::Reported => Some(reported_at + ASSIGN_WITHIN),
        Status::Assigned | Status::InProgress => Some(reported_at + category.resolve_within()),
        Status::Resolved => Some(status_at + VERIFY_WITHIN),
        Status::Verified | Status::Closed => None,
    }
}

/// One patrol's part in a grid's week.
#[derive(Debug, Clone, Serialize)]
pub struct PatrolShare {
    /// The patrol.
    pub id: Uuid,
    /// Who walked it: the staff member's name, else the account's name.
    pub by: String,
    /// Staff code, when the account is linked to a staff record.
    pub staff_code: Option<String>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
    /// Metres of the walked track inside the grid.
    pub length_inside_m: f64,
    /// Share of the walked track inside the grid.
    pub share_inside: f64,
    /// Whether enough of it was inside the grid for it to count.
    pub counts: bool,
}

/// A grid's standing for one week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekStatus {
    /// Patrolled by a patrol that counts.
    Patrolled,
    /// The week is under way and no patrol counts yet.
    Due,
    /// The week is over and no patrol counted.
    Overdue,
    /// The week has not started.
    Upcoming,
}

/// The weekly compliance of one second-level grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridWeek {
    /// ISO week.
    pub week: IsoWeek,
    /// Grid code.
    pub grid: String,
    /// Grid name.
    pub name: String,
    /// Community code.
    pub community: String,
    /// Community name.
    pub community_name: String,
    /// Grid chief (name), if one is assigned.
    pub chief: Option<String>,
    /// Where the grid stands.
    pub status: WeekStatus,
    /// Whether a patrol counts for the week.
    pub patrolled: bool,
    /// Who walked the patrols that count.
    pub patrolled_by: Vec<String>,
    /// Every finished patrol of the week that named this grid, counting or not.
    pub patrols: Vec<PatrolShare>,
    /// Metres walked inside the grid by the patrols that count.
    pub track_length_inside_m: f64,
    /// Metres of street inside the grid; `None` when no street network is loaded.
    pub street_length_m: Option<f64>,
    /// Of those, metres within the buffer distance of a counting patrol's track.
    pub street_covered_m: Option<f64>,
    /// `street_covered_m / street_length_m`.
    pub street_coverage: Option<f64>,
    /// Households in the grid.
    pub households: i64,
    /// Households reached by the patrols that count (per building at most its households;
    /// a household named by several visits of the week counts once, see [`Reached`]).
    pub households_visited: i64,
    /// `households_visited / households`.
    pub household_coverage: Option<f64>,
    /// Whether the household coverage earns full marks (≥ 95%).
    pub household_full_marks: bool,
    /// Incidents reported in the grid during the week.
    pub incidents_found: i64,
}

/// The standing of a grid in a week, given whether it was patrolled and the time now.
pub fn week_status(week: IsoWeek, patrolled: bool, now: DateTime<Utc>) -> WeekStatus {
    if patrolled {
        WeekStatus::Patrolled
    } else if now >= week.end() {
        WeekStatus::Overdue
    } else if now >= week.start() {
        WeekStatus::Due
    } else {
        WeekStatus::Upcoming
    }
}

/// `part / whole`, or `None` when the whole is zero.
pub fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// Totals over many grid-weeks, for the per-community and per-chief summaries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Grid-weeks counted.
    pub grid_weeks: i64,
    /// Of those, patrolled.
    pub patrolled: i64,
    /// Of those, overdue.
    pub overdue: i64,
    /// `patrolled / grid_weeks`.
    pub patrol_rate: Option<f64>,
    /// Metres walked inside the grids.
    pub track_length_inside_m: f64,
    /// Street metres of the grids (summed over weeks), where a network is loaded.
    pub street_length_m: f64,
    /// Of those, covered.
    pub street_covered_m: f64,
    /// `street_covered_m / street_length_m`.
    pub street_coverage: Option<f64>,
    /// Households (summed over weeks).
    pub households: i64,
    /// Households visited (summed over weeks).
    pub households_visited: i64,
    /// `households_visited / households`.
    pub household_coverage: Option<f64>,
    /// Grid-weeks with full marks for households.
    pub full_marks: i64,
    /// Incidents found.
    pub incidents_found: i64,
}

impl Totals {
    /// Adds a grid-week.
    pub fn add(&mut self, g: &GridWeek) {
        self.grid_weeks += 1;
        self.patrolled += i64::from(g.patrolled);
        self.overdue += i64::from(g.status == WeekStatus::Overdue);
        self.track_length_inside_m += g.track_length_inside_m;
        self.street_length_m += g.street_length_m.unwrap_or(0.0);
        self.street_covered_m += g.street_covered_m.unwrap_or(0.0);
        self.households += g.households;
        self.households_visited += g.households_visited;
        self.full_marks += i64::from(g.household_full_marks);
        self.incidents_found += g.incidents_found;
        self.patrol_rate = ratio(self.patrolled as f64, self.grid_weeks as f64);
        self.street_coverage = ratio(self.street_covered_m, self.street_length_m);
        self.household_coverage = ratio(self.households_visited as f64, self.households as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn p(s: &str) -> TrackPoint {
        TrackPoint {
            lon: 105.7,
            lat: 32.4,
            t: t(s),
            accuracy_m: Some(5.0),
        }
    }

    #[test]
    fn weeks_are_iso_weeks_in_shanghai() {
        let w = IsoWeek::parse("2024-W10").expect("week");
        assert_eq!(w.to_string(), "2024-W10");
        assert_eq!(w.start(), t("2024-03-03T16:00:00Z"), "Monday 00:00 +08:00");
        assert_eq!(w.end(), t("2024-03-10T16:00:00Z"));
        // Sunday 23:30 in Shanghai is still week 10; Monday 00:30 is week 11.
        assert_eq!(IsoWeek::of(t("2024-03-10T15:30:00Z")), w);
        assert_eq!(
            IsoWeek::of(t("2024-03-10T16:30:00Z")).to_string(),
            "2024-W11"
        );
        // ISO years: 2024-12-30 is in 2025-W01; 2021-01-03 is in 2020-W53.
        assert_eq!(
            IsoWeek::of(t("2024-12-30T04:00:00Z")).to_string(),
            "2025-W01"
        );
        assert_eq!(
            IsoWeek::of(t("2021-01-03T04:00:00Z")).to_string(),
            "2020-W53"
        );
        assert!(IsoWeek::parse("2021-W53").is_none());
        assert!(IsoWeek::parse("2020-W53").is_some());
        assert!(IsoWeek::parse("2024-10").is_none());
        assert_eq!(IsoWeek::parse("2024w09"), Some(w.prev()));
        assert_eq!(w.prev().through(w.next()).len(), 3);
    }

    #[test]
    fn points_are_checked_with_where_and_what() {
        let frame = TimeFrame {
            start: t("2024-03-05T01:00:00Z"),
            end: None,
            now: t("2024-03-05T03:00:00Z"),
        };
        let good = [p("2024-03-05T01:00:00Z"), p("2024-03-05T01:00:05Z")];
        assert!(check_points(&good, "track", &frame, None, None).is_empty());
        let errs = check_points(&[], "track", &frame, None, None);
        assert_eq!(errs[0].field, "track");
        let back = [p("2024-03-05T01:00:05Z"), p("2024-03-05T01:00:00Z")];
        let errs = check_points(&back, "track", &frame, None, None);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "track[1].t");
        assert!(errs[0].message.contains("time order"), "{}", errs[0]);
        let future = [p("2024-03-05T01:00:00Z"), p("2024-03-05T03:10:00Z")];
        let errs = check_points(&future, "points", &frame, None, None);
        assert_eq!(errs[0].field, "points[1].t");
        assert!(errs[0].message.contains("future"));
        let early = [p("2024-03-05T00:50:00Z")];
        assert!(check_points(&early, "track", &frame, None, None)[0]
            .message
            .contains("before the patrol started"));
        // Against the neighbouring chunks.
        let errs = check_points(
            &good,
            "points",
            &frame,
            Some(t("2024-03-05T01:00:02Z")),
            Some(t("2024-03-05T01:00:01Z")),
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].field, "points[0].t");
        assert_eq!(errs[1].field, "points[1].t");
        let mut bad = p("2024-03-05T01:00:00Z");
        bad.lat = f64::NAN;
        bad.accuracy_m = Some(-1.0);
        let errs = check_points(&[bad], "track", &frame, None, None);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["track[0].lat", "track[0].accuracy_m"]);
        let many: Vec<TrackPoint> = (0..50).map(|_| bad).collect();
        assert_eq!(
            check_points(&many, "track", &frame, None, None).len(),
            MAX_PROBLEMS
        );
    }

    #[test]
    fn spans_and_visits() {
        let now = t("2024-03-05T03:00:00Z");
        assert!(check_span(
            t("2024-03-05T01:00:00Z"),
            Some(t("2024-03-05T02:00:00Z")),
            now
        )
        .is_ok());
        assert_eq!(
            check_span(t("2024-03-05T04:00:00Z"), None, now)
                .expect_err("future")
                .field,
            "started_at"
        );
        assert_eq!(
            check_span(
                t("2024-03-05T02:00:00Z"),
                Some(t("2024-03-05T01:00:00Z")),
                now
            )
            .expect_err("backwards")
            .field,
            "ended_at"
        );
        let v = |b: &str, n| Visit {
            building: b.into(),
            households: Some(n),
            doors: None,
        };
        assert!(check_visits(&[v("B1", 2), v("B2", 1)]).is_ok());
        assert_eq!(
            check_visits(&[v("B1", 2), v("B1", 1)])
                .expect_err("twice")
                .field,
            "households[1].building"
        );
        assert!(check_visits(&[v("B1", 0)]).is_err());
        assert!(check_text("巡查", "notes", 2).is_ok());
        assert!(check_text("巡查了", "notes", 2).is_err());
        assert_eq!(
            check_text("a\0b", "notes", 10).expect_err("NUL").field,
            "notes"
        );
    }

    #[test]
    fn lifecycle_and_deadlines() {
        use Status::*;
        assert!(check_transition(Reported, Assigned, Handler::Supervisor).is_ok());
        assert!(check_transition(Reported, InProgress, Handler::Supervisor).is_err());
        assert!(check_transition(Assigned, InProgress, Handler::Assignee).is_ok());
        assert!(check_transition(InProgress, Resolved, Handler::Assignee).is_ok());
        assert!(check_transition(Resolved, Verified, Handler::Assignee).is_err());
        assert!(check_transition(Resolved, Verified, Handler::Supervisor).is_ok());
        assert!(check_transition(Resolved, InProgress, Handler::Supervisor).is_ok());
        assert!(check_transition(Assigned, InProgress, Handler::Other).is_err());
        assert!(check_transition(Closed, Reported, Handler::Supervisor)
            .expect_err("final")
            .contains("cannot change"));
        let r = t("2024-03-05T01:00:00Z");
        assert_eq!(
            due_at(Reported, Category::Other, r, r),
            Some(t("2024-03-06T01:00:00Z"))
        );
        assert_eq!(
            due_at(InProgress, Category::SafetyHazard, r, r),
            Some(t("2024-03-07T01:00:00Z"))
        );
        assert_eq!(due_at(Closed, Category::Other, r, r), None);
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn next_steps_by_who_asks() {
        use Status::*;
        assert_eq!(
            allowed_next(Reported, Handler::Supervisor),
            vec![Assigned, Closed]
        );
        assert_eq!(
            allowed_next(Resolved, Handler::Supervisor),
            vec![Verified, InProgress, Closed]
        );
        assert_eq!(allowed_next(Assigned, Handler::Assignee), vec![InProgress]);
        assert_eq!(allowed_next(InProgress, Handler::Assignee), vec![Resolved]);
        assert!(allowed_next(Reported, Handler::Assignee).is_empty());
        assert!(allowed_next(InProgress, Handler::Other).is_empty());
        assert!(allowed_next(Closed, Handler::Supervisor).is_empty());
        // Every step offered is one the transition check accepts.
        for from in Status::ALL {
            for who in [Handler::Supervisor, Handler::Assignee, Handler::Other] {
                for to in allowed_next(from, who) {
                    assert!(check_transition(from, to, who).is_ok(), "{from:?} → {to:?}");
                }
            }
        }
    }
}
