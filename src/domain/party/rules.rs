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

/// The finding of a rule: `finding!(about, Rule, [name: number, ...], "message", args...)`,
/// where `about` is the [`About`] of its subject and `Rule` a [`RuleId`] variant; with
/// `person expr,` after the rule, the finding names that person.
macro_rules! finding {
    ($about:expr, $rule:ident, person $person:expr, $($rest:tt)+) => {
        Finding {
            person: Some($person),
            ..finding!($about, $rule, $($rest)+)
        }
    };
    ($about:expr, $rule:ident, [$($key:ident: $value:expr),*], $($message:tt)+) => {
        $about.finding(
            RuleId::$rule,
            &[$((stringify!($key), json!($value))),*],
            None,
            format!($($message)+),
        )
    };
}

/// What a finding about a cell is about: the cell as a subject of `kind`.
fn cell_about(c: &CellFacts, kind: SubjectKind) -> About<'_> {
    About {
        kind,
        id: c.grid_id,
        code: &c.code,
        name: &c.name,
        community_id: c.community_id,
        grid_id: Some(c.grid_id),
        point: c.point,
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
            GridLevel::Second if c.members == 0 => {
                let (about, org) = (cell_about(c, SubjectKind::Group), org_name(c));
                out.push(finding!(about, GroupEmpty, [members: 0], "{org}没有党员"));
            }
            GridLevel::Second => {}
        }
        grid_findings(c, &mut out);
    }
    out
}

/// The rules of a first-level cell as a party branch: enough full members, not too many
/// members, and a committee once it is large enough.
fn branch_findings(c: &CellFacts, out: &mut Vec<Finding>) {
    let (about, org) = (cell_about(c, SubjectKind::Branch), org_name(c));
    let (full, members) = (c.full, c.members);
    if full < MIN_FULL_FOR_BRANCH {
        out.push(finding!(about, BranchFewFull,
            [full_members: full, members: members, minimum: MIN_FULL_FOR_BRANCH],
            "{org}有正式党员{full}名，少于成立党支部所需的{MIN_FULL_FOR_BRANCH}名"));
    }
    if members > MAX_BRANCH_MEMBERS {
        out.push(
            finding!(about, BranchTooLarge, [members: members, maximum: MAX_BRANCH_MEMBERS],
            "{org}有党员{members}名，超过党支部一般不超过的{MAX_BRANCH_MEMBERS}名"),
        );
    }
    let seats = c.org.as_ref().map_or(0, |o| o.seats);
    let has_committee = c.org.as_ref().is_some_and(OrgFacts::has_committee);
    if members >= COMMITTEE_FROM_MEMBERS && !has_committee {
        out.push(finding!(about, BranchWithoutCommittee,
            [members: members, committee_seats: seats,
             members_needing_committee: COMMITTEE_FROM_MEMBERS, minimum_seats: COMMITTEE_MIN_SEATS],
            "{org}有党员{members}名（{COMMITTEE_FROM_MEMBERS}名以上应设支委会），现有委员{seats}名，未形成支委会"));
    }
}

/// The rules of every grid as a grid: a chief who is a party member and on the two
/// committees, and grid members.
fn grid_findings(c: &CellFacts, out: &mut Vec<Finding>) {
    let (about, grid) = (cell_about(c, SubjectKind::Grid), &c.name);
    match &c.chief {
        None => out.push(finding!(about, GridWithoutChief, [chiefs: 0], "{grid}未配网格长")),
        Some(ch) => {
            let member = ch.membership.is_some_and(Membership::is_member);
            if !member || !ch.committee {
                let why = match (ch.membership, ch.committee) {
                    (None, _) => "未关联居民档案，无法确认党员身份",
                    (Some(m), c) if !m.is_member() && !c => "不是党员，也不是社区“两委”成员",
                    (Some(m), _) if !m.is_member() => "不是党员",
                    _ => "不是社区“两委”成员",
                };
                out.push(finding!(about, ChiefNotQualified, person ch.name.clone(),
                    [party_member: member, two_committees: ch.committee,
                     linked_to_resident: ch.membership.is_some()],
                    "{grid}的网格长{why}"));
            }
        }
    }
    if c.staff_members == 0 {
        out.push(finding!(about, GridWithoutStaff, [grid_members: 0], "{grid}未配网格员"));
    }
}

/// What a finding is about, and where.
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
            out.push(finding!(b.about(), BuildingWithoutOrg,
                [employees: b.employees, minimum: BUILDING_MIN_EMPLOYEES],
                "商务楼宇{}有在职人员{}人（{BUILDING_MIN_EMPLOYEES}人以上应建），未建功能党组织", b.name, b.employees));
        }
    }
    for a in &f.associations {
        if a.kind == AssociationKind::Service && !a.has_org && a.full >= ASSOCIATION_MIN_FULL {
            out.push(finding!(a.about(), AssociationWithoutOrg,
                [full_members: a.full, minimum: ASSOCIATION_MIN_FULL],
                "{}有正式党员{}名（{ASSOCIATION_MIN_FULL}名以上应建），未建功能党组织", a.name, a.full));
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
        out.push(finding!(about, CompoundWithoutOrg,
            [full_members: c.full, residents: c.residents,
             minimum_full_members: COMPOUND_MIN_FULL, minimum_residents: COMPOUND_MIN_RESIDENTS],
            "{}有正式党员{}名、居民{}人（{COMPOUND_MIN_FULL}名、{COMPOUND_MIN_RESIDENTS}人以上应建），未建功能党组织",
            c.name, c.full, c.residents));
    }
    let occupancy = c.occupancy.unwrap_or(0.0);
    if is_new_compound(c.built_year, year) && occupancy >= NEW_COMPOUND_OCCUPANCY {
        out.push(finding!(about, NewCompoundWithoutOrg,
            [occupancy_rate: occupancy, built_year: c.built_year,
             threshold: NEW_COMPOUND_OCCUPANCY, full_members: c.full],
            "新建住宅区{}（{}年建成）入住率{:.0}%，已达{:.0}%，未同步设置党组织",
            c.name, c.built_year.unwrap_or_default(), occupancy * 100.0, NEW_COMPOUND_OCCUPANCY * 100.0));
    }
}

/// The volunteering rules of the year: 双报到 units with a project, members with a post,
/// communities with enough welfare organisations.
fn volunteer_findings(f: &Facts, out: &mut Vec<Finding>) {
    let year = f.year;
    for u in f.units.iter().filter(|u| u.projects < MIN_UNIT_PROJECTS) {
        out.push(finding!(u.about(), UnitWithoutProject,
            [projects: u.projects, minimum: MIN_UNIT_PROJECTS, year: year],
            "报到单位{}{year}年未认领志愿服务项目", u.name));
    }
    for m in &f.members {
        if m.posts < MIN_MEMBER_POSTS && m.welfare_orgs == 0 {
            out.push(finding!(m.about(), MemberWithoutPost, person m.name.clone(),
                [posts: m.posts, welfare_orgs: m.welfare_orgs, minimum: MIN_MEMBER_POSTS, year: year],
                "报到党员{}{year}年未认领志愿服务岗位，也未加入公益性社会组织", m.name));
        }
    }
    for c in f
        .communities
        .iter()
        .filter(|c| c.welfare_orgs < MIN_WELFARE_ORGS)
    {
        out.push(finding!(c.about(), CommunityFewWelfareOrgs,
            [welfare_orgs: c.welfare_orgs, minimum: MIN_WELFARE_ORGS],
            "{}有公益性社会服务组织和志愿服务组织{}个，少于{MIN_WELFARE_ORGS}个", c.name, c.welfare_orgs));
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
