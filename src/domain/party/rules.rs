//! The rule checks themselves: the cells' rules, and every rule of a set of facts.

use super::facts::{
    is_new_compound, AssociationFacts, BuildingFacts, CellFacts, CommunityFacts, CompoundFacts,
    DualMemberFacts, Facts, OrgFacts, UnitFacts,
};
use super::findings::{numbers, Finding, RuleId, Subject, SubjectKind};
use super::kinds::{cell_org_name, AssociationKind};
use super::{
    ASSOCIATION_MIN_FULL, BUILDING_MIN_EMPLOYEES, COMMITTEE_FROM_MEMBERS, COMMITTEE_MIN_SEATS,
    COMPOUND_MIN_FULL, COMPOUND_MIN_RESIDENTS, MAX_BRANCH_MEMBERS, MIN_FULL_FOR_BRANCH,
    MIN_MEMBER_POSTS, MIN_UNIT_PROJECTS, MIN_WELFARE_ORGS, NEW_COMPOUND_OCCUPANCY,
};
use crate::domain::{CompoundKind, GridLevel, Membership};
use geo::Point;
use serde_json::{json, Value};

pub(super) fn cell_subject(c: &CellFacts, kind: SubjectKind) -> Subject {
    Subject {
        kind,
        id: c.grid_id,
        code: c.code.clone(),
        name: c.name.clone(),
    }
}

pub(super) fn cell_finding(
    c: &CellFacts,
    rule: RuleId,
    kind: SubjectKind,
    nums: &[(&str, Value)],
    person: Option<String>,
    message: String,
) -> Finding {
    Finding {
        rule,
        subject: cell_subject(c, kind),
        community_id: c.community_id,
        grid_id: Some(c.grid_id),
        point: c.point,
        numbers: numbers(nums),
        person,
        message,
    }
}

pub(super) fn org_name(c: &CellFacts) -> String {
    match &c.org {
        Some(o) => o.name.clone(),
        None => cell_org_name(&c.name, c.level),
    }
}

/// The findings of grid cells (member counts of first-level cells already rolled up).
pub fn cell_findings(cells: &[CellFacts]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in cells {
        match c.level {
            GridLevel::First => branch_findings(c, &mut out),
            GridLevel::Second => {
                if c.members == 0 {
                    let org = org_name(c);
                    out.push(cell_finding(
                        c,
                        RuleId::GroupEmpty,
                        SubjectKind::Group,
                        &[("members", json!(0))],
                        None,
                        format!("{org}没有党员"),
                    ));
                }
            }
        }
        grid_findings(c, &mut out);
    }
    out
}

/// The rules of a first-level cell as a party branch: enough full members, not too many
/// members, and a committee once it is large enough.
fn branch_findings(c: &CellFacts, out: &mut Vec<Finding>) {
    let org = org_name(c);
    if c.full < MIN_FULL_FOR_BRANCH {
        out.push(cell_finding(
            c,
            RuleId::BranchFewFull,
            SubjectKind::Branch,
            &[
                ("full_members", json!(c.full)),
                ("members", json!(c.members)),
                ("minimum", json!(MIN_FULL_FOR_BRANCH)),
            ],
            None,
            format!(
                "{org}有正式党员{}名，少于成立党支部所需的{MIN_FULL_FOR_BRANCH}名",
                c.full
            ),
        ));
    }
    if c.members > MAX_BRANCH_MEMBERS {
        out.push(cell_finding(
            c,
            RuleId::BranchTooLarge,
            SubjectKind::Branch,
            &[
                ("members", json!(c.members)),
                ("maximum", json!(MAX_BRANCH_MEMBERS)),
            ],
            None,
            format!(
                "{org}有党员{}名，超过党支部一般不超过的{MAX_BRANCH_MEMBERS}名",
                c.members
            ),
        ));
    }
    let seats = c.org.as_ref().map_or(0, |o| o.seats);
    let has_committee = c.org.as_ref().is_some_and(OrgFacts::has_committee);
    if c.members >= COMMITTEE_FROM_MEMBERS && !has_committee {
        out.push(cell_finding(
            c,
            RuleId::BranchWithoutCommittee,
            SubjectKind::Branch,
            &[
                ("members", json!(c.members)),
                ("committee_seats", json!(seats)),
                ("members_needing_committee", json!(COMMITTEE_FROM_MEMBERS)),
                ("minimum_seats", json!(COMMITTEE_MIN_SEATS)),
            ],
            None,
            format!(
                "{org}有党员{}名（{COMMITTEE_FROM_MEMBERS}名以上应设支委会），现有委员{seats}名，未形成支委会",
                c.members
            ),
        ));
    }
}

/// The rules of every grid as a grid: a chief who is a party member and on the two
/// committees, and grid members.
fn grid_findings(c: &CellFacts, out: &mut Vec<Finding>) {
    match &c.chief {
        None => out.push(cell_finding(
            c,
            RuleId::GridWithoutChief,
            SubjectKind::Grid,
            &[("chiefs", json!(0))],
            None,
            format!("{}未配网格长", c.name),
        )),
        Some(ch) => {
            let member = ch.membership.is_some_and(Membership::is_member);
            if !member || !ch.committee {
                let why = match (ch.membership, ch.committee) {
                    (None, _) => "未关联居民档案，无法确认党员身份".to_string(),
                    (Some(m), c) if !m.is_member() && !c => {
                        "不是党员，也不是社区“两委”成员".to_string()
                    }
                    (Some(m), _) if !m.is_member() => "不是党员".to_string(),
                    _ => "不是社区“两委”成员".to_string(),
                };
                out.push(cell_finding(
                    c,
                    RuleId::ChiefNotQualified,
                    SubjectKind::Grid,
                    &[
                        ("party_member", json!(member)),
                        ("two_committees", json!(ch.committee)),
                        ("linked_to_resident", json!(ch.membership.is_some())),
                    ],
                    Some(ch.name.clone()),
                    format!("{}的网格长{why}", c.name),
                ));
            }
        }
    }
    if c.staff_members == 0 {
        out.push(cell_finding(
            c,
            RuleId::GridWithoutStaff,
            SubjectKind::Grid,
            &[("grid_members", json!(0))],
            None,
            format!("{}未配网格员", c.name),
        ));
    }
}

/// What a finding about something other than a cell is about, and where.
struct About<'a> {
    kind: SubjectKind,
    id: i64,
    code: &'a str,
    name: &'a str,
    community_id: i64,
    grid_id: Option<i64>,
    point: Option<Point<f64>>,
}

impl About<'_> {
    /// The finding of `rule` about this subject.
    fn finding(
        &self,
        rule: RuleId,
        nums: &[(&str, Value)],
        person: Option<String>,
        message: String,
    ) -> Finding {
        Finding {
            rule,
            subject: Subject {
                kind: self.kind,
                id: self.id,
                code: self.code.to_string(),
                name: self.name.to_string(),
            },
            community_id: self.community_id,
            grid_id: self.grid_id,
            point: self.point,
            numbers: numbers(nums),
            person,
            message,
        }
    }
}

/// The facts of a subject other than a cell know what a finding about them is about.
trait Subjected {
    fn about(&self) -> About<'_>;
}

/// One [`Subjected`] implementation per facts type: which kind of subject, its id, and
/// where it is (community, grid if any, point).
macro_rules! subjected {
    ($($facts:ty => $kind:ident, $id:ident, |$s:ident| $community:expr, $grid:expr;)*) => {$(
        impl Subjected for $facts {
            fn about(&self) -> About<'_> {
                let $s = self;
                About {
                    kind: SubjectKind::$kind,
                    id: $s.$id,
                    code: &$s.code,
                    name: &$s.name,
                    community_id: $community,
                    grid_id: $grid,
                    point: $s.point,
                }
            }
        }
    )*};
}

subjected! {
    BuildingFacts => Building, id, |b| b.community_id, Some(b.grid_id);
    AssociationFacts => Association, id, |a| a.community_id, None;
    CompoundFacts => Compound, id, |c| c.community_id, c.grid_id;
    UnitFacts => Unit, id, |u| u.community_id, None;
    DualMemberFacts => Member, person_id, |m| m.community_id, m.grid_id;
    CommunityFacts => Community, id, |c| c.id, None;
}

/// Every finding over the facts, in rule order, then by subject code.
pub fn evaluate(f: &Facts) -> Vec<Finding> {
    let mut out = cell_findings(&f.cells);
    for c in &f.compounds {
        compound_findings(c, f.year, &mut out);
    }
    for b in &f.buildings {
        if b.commercial && !b.has_org && b.employees >= BUILDING_MIN_EMPLOYEES {
            let about = b.about();
            out.push(about.finding(
                RuleId::BuildingWithoutOrg,
                &[
                    ("employees", json!(b.employees)),
                    ("minimum", json!(BUILDING_MIN_EMPLOYEES)),
                ],
                None,
                format!(
                    "商务楼宇{}有在职人员{}人（{BUILDING_MIN_EMPLOYEES}人以上应建），未建功能党组织",
                    b.name, b.employees
                ),
            ));
        }
    }
    for a in &f.associations {
        if a.kind == AssociationKind::Service && !a.has_org && a.full >= ASSOCIATION_MIN_FULL {
            let about = a.about();
            out.push(about.finding(
                RuleId::AssociationWithoutOrg,
                &[
                    ("full_members", json!(a.full)),
                    ("minimum", json!(ASSOCIATION_MIN_FULL)),
                ],
                None,
                format!(
                    "{}有正式党员{}名（{ASSOCIATION_MIN_FULL}名以上应建），未建功能党组织",
                    a.name, a.full
                ),
            ));
        }
    }
    volunteer_findings(f, &mut out);
    out.sort_by(|a, b| (a.rule, &a.subject.code).cmp(&(b.rule, &b.subject.code)));
    out
}

/// The rules of a residential compound without a party organisation: large enough to need
/// one, or new and occupied enough to need one set up with it.
fn compound_findings(c: &CompoundFacts, year: i32, out: &mut Vec<Finding>) {
    if c.kind != CompoundKind::Residential || c.has_org {
        return;
    }
    let about = c.about();
    if c.full >= COMPOUND_MIN_FULL && c.residents >= COMPOUND_MIN_RESIDENTS {
        out.push(about.finding(
            RuleId::CompoundWithoutOrg,
            &[
                ("full_members", json!(c.full)),
                ("residents", json!(c.residents)),
                ("minimum_full_members", json!(COMPOUND_MIN_FULL)),
                ("minimum_residents", json!(COMPOUND_MIN_RESIDENTS)),
            ],
            None,
            format!(
                "{}有正式党员{}名、居民{}人（{COMPOUND_MIN_FULL}名、{COMPOUND_MIN_RESIDENTS}人以上应建），未建功能党组织",
                c.name, c.full, c.residents
            ),
        ));
    }
    let occupancy = c.occupancy.unwrap_or(0.0);
    if is_new_compound(c.built_year, year) && occupancy >= NEW_COMPOUND_OCCUPANCY {
        out.push(about.finding(
            RuleId::NewCompoundWithoutOrg,
            &[
                ("occupancy_rate", json!(occupancy)),
                ("built_year", json!(c.built_year)),
                ("threshold", json!(NEW_COMPOUND_OCCUPANCY)),
                ("full_members", json!(c.full)),
            ],
            None,
            format!(
                "新建住宅区{}（{}年建成）入住率{:.0}%，已达{:.0}%，未同步设置党组织",
                c.name,
                c.built_year.unwrap_or_default(),
                occupancy * 100.0,
                NEW_COMPOUND_OCCUPANCY * 100.0
            ),
        ));
    }
}

/// The volunteering rules of the year: 双报到 units with a project, members with a post,
/// communities with enough welfare organisations.
fn volunteer_findings(f: &Facts, out: &mut Vec<Finding>) {
    for u in f.units.iter().filter(|u| u.projects < MIN_UNIT_PROJECTS) {
        let about = u.about();
        out.push(about.finding(
            RuleId::UnitWithoutProject,
            &[
                ("projects", json!(u.projects)),
                ("minimum", json!(MIN_UNIT_PROJECTS)),
                ("year", json!(f.year)),
            ],
            None,
            format!("报到单位{}{}年未认领志愿服务项目", u.name, f.year),
        ));
    }
    for m in &f.members {
        if m.posts < MIN_MEMBER_POSTS && m.welfare_orgs == 0 {
            let about = m.about();
            out.push(about.finding(
                RuleId::MemberWithoutPost,
                &[
                    ("posts", json!(m.posts)),
                    ("welfare_orgs", json!(m.welfare_orgs)),
                    ("minimum", json!(MIN_MEMBER_POSTS)),
                    ("year", json!(f.year)),
                ],
                Some(m.name.clone()),
                format!(
                    "报到党员{}{}年未认领志愿服务岗位，也未加入公益性社会组织",
                    m.name, f.year
                ),
            ));
        }
    }
    for c in f
        .communities
        .iter()
        .filter(|c| c.welfare_orgs < MIN_WELFARE_ORGS)
    {
        let about = c.about();
        out.push(about.finding(
            RuleId::CommunityFewWelfareOrgs,
            &[
                ("welfare_orgs", json!(c.welfare_orgs)),
                ("minimum", json!(MIN_WELFARE_ORGS)),
            ],
            None,
            format!(
                "{}有公益性社会服务组织和志愿服务组织{}个，少于{MIN_WELFARE_ORGS}个",
                c.name, c.welfare_orgs
            ),
        ));
    }
}

/// What a caller who may see counts only is shown instead of the findings about single
/// members without a post in a community: one finding with how many there are (`n`), so
/// that no member's name or code leaves. `year` is the year of the findings it stands for.
pub fn members_without_post_counted(
    community: Subject,
    n: i64,
    year: Option<Value>,
    point: Option<Point<f64>>,
) -> Finding {
    let mut numbers = serde_json::Map::new();
    numbers.insert("members_without_post".into(), json!(n));
    numbers.insert("year".into(), year.unwrap_or(Value::Null));
    Finding {
        rule: RuleId::MemberWithoutPost,
        message: format!("{}有{n}名报到党员本年度未认领志愿服务岗位", community.name),
        community_id: community.id,
        subject: community,
        grid_id: None,
        point,
        numbers,
        person: None,
    }
}
