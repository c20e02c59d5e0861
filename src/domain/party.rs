//! Party organisation rules (党组织设置) as pure functions over plain facts: which cells,
//! compounds, buildings, associations, 双报到 units and members, and communities break a rule,
//! with the numbers behind each finding. The thresholds are those of docs/domain.md and the seed
//! notice (广元经开区 2015, 社区党建“五大体系”).
//!
//! Must not: read the database, know about HTTP, or decide who may see a finding (callers
//! filter by visibility; a finding carries the place it is about so that they can).

use super::{CompoundKind, FieldError, GridLevel, Membership};
use geo::Point;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A unit needs at least this many full members to form a branch (正式党员3人以上).
pub const MIN_FULL_FOR_BRANCH: i64 = 3;
/// A branch generally has at most this many members (full and probationary).
pub const MAX_BRANCH_MEMBERS: i64 = 50;
/// A branch of this many members or more elects a branch committee (支部委员会).
pub const COMMITTEE_FROM_MEMBERS: i64 = 7;
/// A committee has at least this many seats, the secretary included (支委会由3至5人组成).
pub const COMMITTEE_MIN_SEATS: i64 = 3;
/// A residential compound with this many full members ...
pub const COMPOUND_MIN_FULL: i64 = 3;
/// ... and this many residents should have a functional organisation.
pub const COMPOUND_MIN_RESIDENTS: i64 = 500;
/// A commercial building with this many employees should have a functional organisation.
pub const BUILDING_MIN_EMPLOYEES: i64 = 300;
/// A service association with this many full members should have a functional organisation.
pub const ASSOCIATION_MIN_FULL: i64 = 3;
/// A new residential compound whose occupancy reaches this share sets up an organisation.
pub const NEW_COMPOUND_OCCUPANCY: f64 = 0.5;
/// A compound counts as new (新建住宅区) when built at most this many years before the year
/// checked. The seed does not define "new"; eight years covers a compound's filling-up period.
pub const NEW_COMPOUND_MAX_AGE_YEARS: i32 = 8;
/// Each community keeps at least this many public-welfare and volunteer organisations.
pub const MIN_WELFARE_ORGS: i64 = 5;
/// Each 双报到 unit takes at least this many volunteer projects a year.
pub const MIN_UNIT_PROJECTS: i64 = 1;
/// Each 双报到 member takes at least this many volunteer posts a year (or joins a
/// public-welfare organisation).
pub const MIN_MEMBER_POSTS: i64 = 1;

/// What kind of party organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// The community's 大党委.
    CommunityCommittee,
    /// A grid branch (网格党支部) of a first-level grid.
    GridBranch,
    /// A grid group (党小组) of a second-level grid.
    GridGroup,
    /// A functional organisation (功能党组织) of a compound, building or association.
    Functional,
}

impl OrgKind {
    /// Every kind.
    pub const ALL: [OrgKind; 4] = [
        Self::CommunityCommittee,
        Self::GridBranch,
        Self::GridGroup,
        Self::Functional,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommunityCommittee => "community_committee",
            Self::GridBranch => "grid_branch",
            Self::GridGroup => "grid_group",
            Self::Functional => "functional",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The cell kind of a grid level.
    pub fn of_level(level: GridLevel) -> Self {
        match level {
            GridLevel::First => Self::GridBranch,
            GridLevel::Second => Self::GridGroup,
        }
    }
}

/// The form an organisation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgForm {
    /// A party committee (党委), the community's.
    Committee,
    /// A branch (党支部).
    Branch,
    /// A group (党小组).
    Group,
}

impl OrgForm {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committee => "committee",
            Self::Branch => "branch",
            Self::Group => "group",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "committee" => Some(Self::Committee),
            "branch" => Some(Self::Branch),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// An office in a party organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficerRole {
    /// 书记.
    Secretary,
    /// 副书记.
    DeputySecretary,
    /// 委员.
    Committee,
    /// 兼职委员: a leader of a unit in the area sitting on the community committee.
    PartTimeCommittee,
    /// 党小组长.
    GroupLeader,
}

impl OfficerRole {
    /// Every role.
    pub const ALL: [OfficerRole; 5] = [
        Self::Secretary,
        Self::DeputySecretary,
        Self::Committee,
        Self::PartTimeCommittee,
        Self::GroupLeader,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secretary => "secretary",
            Self::DeputySecretary => "deputy_secretary",
            Self::Committee => "committee",
            Self::PartTimeCommittee => "part_time_committee",
            Self::GroupLeader => "group_leader",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the office is a seat on the organisation's committee.
    pub fn is_committee_seat(self) -> bool {
        !matches!(self, Self::GroupLeader)
    }
}

/// The kind of a social organisation (社会组织).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssociationKind {
    /// A service association or society (服务协会/社团).
    Service,
    /// A public-welfare social service organisation (公益性社会服务组织).
    PublicWelfare,
    /// A volunteer service organisation (志愿服务组织).
    Volunteer,
    /// Anything else (interest clubs, owners' committees).
    Other,
}

impl AssociationKind {
    /// Every kind.
    pub const ALL: [AssociationKind; 4] = [
        Self::Service,
        Self::PublicWelfare,
        Self::Volunteer,
        Self::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::PublicWelfare => "public_welfare",
            Self::Volunteer => "volunteer",
            Self::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it counts towards a community's public-welfare and volunteer organisations.
    pub fn is_public_welfare(self) -> bool {
        matches!(self, Self::PublicWelfare | Self::Volunteer)
    }
}

/// Checks the code of something a client names: 1 to 60 characters, no spaces or slashes.
pub fn check_code(code: &str, field: &str) -> Result<(), FieldError> {
    let n = code.chars().count();
    if n == 0 || n > 60 || code.chars().any(|c| c.is_whitespace() || c == '/') {
        Err(FieldError::new(
            field,
            "a code has 1 to 60 characters without spaces or slashes",
        ))
    } else {
        Ok(())
    }
}

/// Checks a year given for volunteer projects and posts.
pub fn check_year(year: i32, field: &str) -> Result<(), FieldError> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(FieldError::new(field, "a year between 2000 and 2100"))
    }
}

/// Checks a set of officers: one secretary at most, one group leader at most, a group has
/// a leader and no committee, a committee has no group leader.
pub fn check_officers(form: OrgForm, roles: &[OfficerRole]) -> Result<(), FieldError> {
    let count = |r: OfficerRole| roles.iter().filter(|x| **x == r).count();
    if count(OfficerRole::Secretary) > 1 {
        return Err(FieldError::new(
            "officers",
            "an organisation has one secretary",
        ));
    }
    if count(OfficerRole::GroupLeader) > 1 {
        return Err(FieldError::new("officers", "a group has one leader"));
    }
    match form {
        OrgForm::Group if roles.iter().any(|r| *r != OfficerRole::GroupLeader) => Err(
            FieldError::new("officers", "a party group has only a group leader"),
        ),
        OrgForm::Committee | OrgForm::Branch if count(OfficerRole::GroupLeader) > 0 => Err(
            FieldError::new("officers", "only a party group has a group leader"),
        ),
        _ => Ok(()),
    }
}

/// Code of the party organisation of a grid cell: the grid's code with `-ZB` (支部) for a
/// branch or `-XZ` (小组) for a group.
pub fn cell_org_code(grid_code: &str, level: GridLevel) -> String {
    match level {
        GridLevel::First => format!("{grid_code}-ZB"),
        GridLevel::Second => format!("{grid_code}-XZ"),
    }
}

/// Name of the party organisation of a grid cell: 〈grid〉党支部 or 〈grid〉党小组.
pub fn cell_org_name(grid_name: &str, level: GridLevel) -> String {
    match level {
        GridLevel::First => format!("{grid_name}党支部"),
        GridLevel::Second => format!("{grid_name}党小组"),
    }
}

/// Code of a community's 大党委: the community code with `-DW` (党委).
pub fn committee_code(community_code: &str) -> String {
    format!("{community_code}-DW")
}

/// Name of a community's 大党委: 〈community〉党委.
pub fn committee_name(community_name: &str) -> String {
    format!("{community_name}党委")
}

/// Whether a member may hold an office: probationary members have no right to be elected
/// (预备党员没有被选举权), so only full members.
pub fn may_hold_office(m: Membership) -> bool {
    m == Membership::Full
}

/// Which rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// A grid branch with fewer than [`MIN_FULL_FOR_BRANCH`] full members.
    BranchFewFull,
    /// A grid branch with more than [`MAX_BRANCH_MEMBERS`] members.
    BranchTooLarge,
    /// A grid branch of [`COMMITTEE_FROM_MEMBERS`] or more without a committee.
    BranchWithoutCommittee,
    /// A grid group without members.
    GroupEmpty,
    /// A grid without a chief (网格长).
    GridWithoutChief,
    /// A grid without grid members (网格员).
    GridWithoutStaff,
    /// A grid chief who is not a party member on the community's two committees.
    ChiefNotQualified,
    /// A residential compound with enough members and residents but no functional organisation.
    CompoundWithoutOrg,
    /// A commercial building with enough employees but no functional organisation.
    BuildingWithoutOrg,
    /// A service association with enough full members but no functional organisation.
    AssociationWithoutOrg,
    /// A new residential compound at half occupancy or more without an organisation.
    NewCompoundWithoutOrg,
    /// A 双报到 unit without a volunteer project this year.
    UnitWithoutProject,
    /// A 双报到 member without a volunteer post (or public-welfare organisation) this year.
    MemberWithoutPost,
    /// A community with fewer than [`MIN_WELFARE_ORGS`] public-welfare organisations.
    CommunityFewWelfareOrgs,
}

impl RuleId {
    /// Every rule, in report order.
    pub const ALL: [RuleId; 14] = [
        Self::BranchFewFull,
        Self::BranchTooLarge,
        Self::BranchWithoutCommittee,
        Self::GroupEmpty,
        Self::GridWithoutChief,
        Self::GridWithoutStaff,
        Self::ChiefNotQualified,
        Self::CompoundWithoutOrg,
        Self::BuildingWithoutOrg,
        Self::AssociationWithoutOrg,
        Self::NewCompoundWithoutOrg,
        Self::UnitWithoutProject,
        Self::MemberWithoutPost,
        Self::CommunityFewWelfareOrgs,
    ];

    /// The rule's code, as in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BranchFewFull => "branch_few_full",
            Self::BranchTooLarge => "branch_too_large",
            Self::BranchWithoutCommittee => "branch_without_committee",
            Self::GroupEmpty => "group_empty",
            Self::GridWithoutChief => "grid_without_chief",
            Self::GridWithoutStaff => "grid_without_staff",
            Self::ChiefNotQualified => "chief_not_qualified",
            Self::CompoundWithoutOrg => "compound_without_org",
            Self::BuildingWithoutOrg => "building_without_org",
            Self::AssociationWithoutOrg => "association_without_org",
            Self::NewCompoundWithoutOrg => "new_compound_without_org",
            Self::UnitWithoutProject => "unit_without_project",
            Self::MemberWithoutPost => "member_without_post",
            Self::CommunityFewWelfareOrgs => "community_few_welfare_orgs",
        }
    }

    /// Parses a rule code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A short title in Chinese, for lists and map legends.
    pub fn title(self) -> &'static str {
        match self {
            Self::BranchFewFull => "网格党支部正式党员不足3名",
            Self::BranchTooLarge => "网格党支部党员超过50名",
            Self::BranchWithoutCommittee => "党员7名以上的网格党支部未设支委会",
            Self::GroupEmpty => "党小组没有党员",
            Self::GridWithoutChief => "网格未配网格长",
            Self::GridWithoutStaff => "网格未配网格员",
            Self::ChiefNotQualified => "网格长不是社区“两委”党员成员",
            Self::CompoundWithoutOrg => "居民小区应建未建功能党组织",
            Self::BuildingWithoutOrg => "商务楼宇应建未建功能党组织",
            Self::AssociationWithoutOrg => "服务协会（社团）应建未建功能党组织",
            Self::NewCompoundWithoutOrg => "入住率达50%的新建住宅区未同步设置党组织",
            Self::UnitWithoutProject => "“双报到”单位本年度未认领志愿服务项目",
            Self::MemberWithoutPost => "“双报到”党员本年度未认领志愿服务岗位",
            Self::CommunityFewWelfareOrgs => "社区公益性社会服务组织和志愿服务组织不足5个",
        }
    }

    /// Whether the rule is about grid cells (and so can change with a boundary change).
    pub fn is_cell_rule(self) -> bool {
        matches!(
            self,
            Self::BranchFewFull
                | Self::BranchTooLarge
                | Self::BranchWithoutCommittee
                | Self::GroupEmpty
                | Self::GridWithoutChief
                | Self::GridWithoutStaff
                | Self::ChiefNotQualified
        )
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A first-level grid and its branch.
    Branch,
    /// A second-level grid and its group.
    Group,
    /// A grid of either level, for staffing rules.
    Grid,
    /// A compound.
    Compound,
    /// A building.
    Building,
    /// A social organisation.
    Association,
    /// A 双报到 unit.
    Unit,
    /// A 双报到 member.
    Member,
    /// A community.
    Community,
}

/// The thing a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subject {
    /// Its kind.
    pub kind: SubjectKind,
    /// Its database id (the grid's id for cells).
    #[serde(skip)]
    pub id: i64,
    /// Its code.
    pub code: String,
    /// Its name (a person's name for a member: shown only with full visibility).
    pub name: String,
}

/// One broken rule: which, where, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// What breaks it.
    pub subject: Subject,
    /// The community it is in.
    #[serde(skip)]
    pub community_id: i64,
    /// The grid it is (in), when known: decides who may see it.
    #[serde(skip)]
    pub grid_id: Option<i64>,
    /// Where to draw it.
    #[serde(skip)]
    pub point: Option<Point<f64>>,
    /// The figures and thresholds that decide it.
    pub numbers: serde_json::Map<String, Value>,
    /// A person named by the finding (a chief, a member): full visibility only.
    pub person: Option<String>,
    /// One sentence, in Chinese, with the numbers.
    pub message: String,
}

impl Finding {
    /// The key that identifies a finding across two evaluations (for before/after diffs).
    pub fn key(&self) -> (RuleId, SubjectKind, String) {
        (self.rule, self.subject.kind, self.subject.code.clone())
    }
}

fn numbers(pairs: &[(&str, Value)]) -> serde_json::Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A grid's chief as the chief rule needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiefFacts {
    /// Staff code.
    pub code: String,
    /// Name (public on grid notice boards).
    pub name: String,
    /// Party membership of the linked resident record; `None` when there is no link.
    pub membership: Option<Membership>,
    /// Member of the community's two committees (两委).
    pub committee: bool,
}

/// The party organisation of a cell as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Committee seats held (secretary, deputies, committee and part-time members).
    pub seats: i64,
    /// Whether it has a secretary.
    pub has_secretary: bool,
}

impl OrgFacts {
    /// Whether the organisation has a committee: a secretary and at least
    /// [`COMMITTEE_MIN_SEATS`] seats.
    pub fn has_committee(&self) -> bool {
        self.has_secretary && self.seats >= COMMITTEE_MIN_SEATS
    }
}

/// A grid cell: a first-level grid with its branch, or a second-level grid with its group.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFacts {
    /// Grid id.
    pub grid_id: i64,
    /// Grid code.
    pub code: String,
    /// Grid name.
    pub name: String,
    /// Level.
    pub level: GridLevel,
    /// First-level parent of a second-level grid.
    pub parent_id: Option<i64>,
    /// Community.
    pub community_id: i64,
    /// The cell's organisation, if it has one.
    pub org: Option<OrgFacts>,
    /// Party members (full and probationary) assigned to the cell.
    pub members: i64,
    /// Full members among them.
    pub full: i64,
    /// The grid chief.
    pub chief: Option<ChiefFacts>,
    /// Grid members (网格员) besides the chief.
    pub staff_members: i64,
    /// A point inside the grid, for the map.
    pub point: Option<Point<f64>>,
}

/// Adds the members of every second-level cell to its first-level parent (which must have
/// no members of its own counted yet).
pub fn roll_up(cells: &mut [CellFacts]) {
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for c in cells.iter().filter(|c| c.level == GridLevel::Second) {
        if let Some(p) = c.parent_id {
            let e = sums.entry(p).or_default();
            e.0 += c.members;
            e.1 += c.full;
        }
    }
    for c in cells.iter_mut().filter(|c| c.level == GridLevel::First) {
        let (m, f) = sums.get(&c.grid_id).copied().unwrap_or_default();
        c.members = m;
        c.full = f;
    }
}

fn cell_subject(c: &CellFacts, kind: SubjectKind) -> Subject {
    Subject {
        kind,
        id: c.grid_id,
        code: c.code.clone(),
        name: c.name.clone(),
    }
}

fn cell_finding(
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

fn org_name(c: &CellFacts) -> String {
    match &c.org {
        Some(o) => o.name.clone(),
        None => cell_org_name(&c.name, c.level),
    }
}

/// The findings of grid cells (member counts of first-level cells already rolled up).
pub fn cell_findings(cells: &[CellFacts]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in cells {
        let org = org_name(c);
        match c.level {
            GridLevel::First => {
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
            GridLevel::Second => {
                if c.members == 0 {
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
    out
}

/// A compound as the functional-organisation rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompoundFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: CompoundKind,
    /// Occupancy, 0..1.
    pub occupancy: Option<f64>,
    /// Year built.
    pub built_year: Option<i32>,
    /// Community.
    pub community_id: i64,
    /// The second-level grid of its first building, if any.
    pub grid_id: Option<i64>,
    /// Residents of its buildings.
    pub residents: i64,
    /// Full party members living in its buildings.
    pub full: i64,
    /// Whether an active functional organisation is attached to it.
    pub has_org: bool,
    /// A point inside it.
    pub point: Option<Point<f64>>,
}

/// A building with employees, for the commercial-building rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name (or code).
    pub name: String,
    /// Employees.
    pub employees: i64,
    /// Whether the building's compound is commercial.
    pub commercial: bool,
    /// Community.
    pub community_id: i64,
    /// Its second-level grid.
    pub grid_id: i64,
    /// Whether a functional organisation is attached to it or to its compound.
    pub has_org: bool,
    /// Its anchor.
    pub point: Option<Point<f64>>,
}

/// A social organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: AssociationKind,
    /// Community.
    pub community_id: i64,
    /// Full party members among its members.
    pub full: i64,
    /// Whether a functional organisation is attached to it.
    pub has_org: bool,
    /// Its point, or the community's.
    pub point: Option<Point<f64>>,
}

/// A 双报到 unit and its projects of the year.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community it registered with.
    pub community_id: i64,
    /// Volunteer projects it took on in the year checked.
    pub projects: i64,
    /// Its point, or the community's.
    pub point: Option<Point<f64>>,
}

/// A 双报到 member and their posts of the year.
#[derive(Debug, Clone, PartialEq)]
pub struct DualMemberFacts {
    /// Person id.
    pub person_id: i64,
    /// Person code.
    pub code: String,
    /// Name (full visibility only).
    pub name: String,
    /// Community registered with.
    pub community_id: i64,
    /// The grid of their home, if any.
    pub grid_id: Option<i64>,
    /// Volunteer posts taken in the year checked.
    pub posts: i64,
    /// Public-welfare or volunteer organisations they belong to.
    pub welfare_orgs: i64,
    /// Their home building's anchor, or the community's point.
    pub point: Option<Point<f64>>,
}

/// A community and its public-welfare organisations.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityFacts {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Public-welfare and volunteer organisations registered.
    pub welfare_orgs: i64,
    /// A point inside it.
    pub point: Option<Point<f64>>,
}

/// Everything the rules look at, for one year.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The year checked (双报到 projects and posts, age of compounds).
    pub year: i32,
    /// Grid cells, first-level counts rolled up.
    pub cells: Vec<CellFacts>,
    /// Compounds.
    pub compounds: Vec<CompoundFacts>,
    /// Buildings with employees.
    pub buildings: Vec<BuildingFacts>,
    /// Social organisations.
    pub associations: Vec<AssociationFacts>,
    /// 双报到 units.
    pub units: Vec<UnitFacts>,
    /// 双报到 members.
    pub members: Vec<DualMemberFacts>,
    /// Communities.
    pub communities: Vec<CommunityFacts>,
}

/// Whether a compound is new (新建住宅区) in `year`.
pub fn is_new_compound(built_year: Option<i32>, year: i32) -> bool {
    built_year.is_some_and(|b| b <= year && year - b <= NEW_COMPOUND_MAX_AGE_YEARS)
}

/// Every finding over the facts, in rule order, then by subject code.
pub fn evaluate(f: &Facts) -> Vec<Finding> {
    let mut out = cell_findings(&f.cells);
    for c in &f.compounds {
        if c.kind != CompoundKind::Residential || c.has_org {
            continue;
        }
        let subject = Subject {
            kind: SubjectKind::Compound,
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
        };
        let base = |rule, nums: &[(&str, Value)], message| Finding {
            rule,
            subject: subject.clone(),
            community_id: c.community_id,
            grid_id: c.grid_id,
            point: c.point,
            numbers: numbers(nums),
            person: None,
            message,
        };
        if c.full >= COMPOUND_MIN_FULL && c.residents >= COMPOUND_MIN_RESIDENTS {
            out.push(base(
                RuleId::CompoundWithoutOrg,
                &[
                    ("full_members", json!(c.full)),
                    ("residents", json!(c.residents)),
                    ("minimum_full_members", json!(COMPOUND_MIN_FULL)),
                    ("minimum_residents", json!(COMPOUND_MIN_RESIDENTS)),
                ],
                format!(
                    "{}有正式党员{}名、居民{}人（{COMPOUND_MIN_FULL}名、{COMPOUND_MIN_RESIDENTS}人以上应建），未建功能党组织",
                    c.name, c.full, c.residents
                ),
            ));
        }
        let occupancy = c.occupancy.unwrap_or(0.0);
        if is_new_compound(c.built_year, f.year) && occupancy >= NEW_COMPOUND_OCCUPANCY {
            out.push(base(
                RuleId::NewCompoundWithoutOrg,
                &[
                    ("occupancy_rate", json!(occupancy)),
                    ("built_year", json!(c.built_year)),
                    ("threshold", json!(NEW_COMPOUND_OCCUPANCY)),
                    ("full_members", json!(c.full)),
                ],
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
    for b in &f.buildings {
        if b.commercial && !b.has_org && b.employees >= BUILDING_MIN_EMPLOYEES {
            out.push(Finding {
                rule: RuleId::BuildingWithoutOrg,
                subject: Subject {
                    kind: SubjectKind::Building,
                    id: b.id,
                    code: b.code.clone(),
                    name: b.name.clone(),
                },
                community_id: b.community_id,
                grid_id: Some(b.grid_id),
                point: b.point,
                numbers: numbers(&[
                    ("employees", json!(b.employees)),
                    ("minimum", json!(BUILDING_MIN_EMPLOYEES)),
                ]),
                person: None,
                message: format!(
                    "商务楼宇{}有在职人员{}人（{BUILDING_MIN_EMPLOYEES}人以上应建），未建功能党组织",
                    b.name, b.employees
                ),
            });
        }
    }
    for a in &f.associations {
        if a.kind == AssociationKind::Service && !a.has_org && a.full >= ASSOCIATION_MIN_FULL {
            out.push(Finding {
                rule: RuleId::AssociationWithoutOrg,
                subject: Subject {
                    kind: SubjectKind::Association,
                    id: a.id,
                    code: a.code.clone(),
                    name: a.name.clone(),
                },
                community_id: a.community_id,
                grid_id: None,
                point: a.point,
                numbers: numbers(&[
                    ("full_members", json!(a.full)),
                    ("minimum", json!(ASSOCIATION_MIN_FULL)),
                ]),
                person: None,
                message: format!(
                    "{}有正式党员{}名（{ASSOCIATION_MIN_FULL}名以上应建），未建功能党组织",
                    a.name, a.full
                ),
            });
        }
    }
    for u in &f.units {
        if u.projects < MIN_UNIT_PROJECTS {
            out.push(Finding {
                rule: RuleId::UnitWithoutProject,
                subject: Subject {
                    kind: SubjectKind::Unit,
                    id: u.id,
                    code: u.code.clone(),
                    name: u.name.clone(),
                },
                community_id: u.community_id,
                grid_id: None,
                point: u.point,
                numbers: numbers(&[
                    ("projects", json!(u.projects)),
                    ("minimum", json!(MIN_UNIT_PROJECTS)),
                    ("year", json!(f.year)),
                ]),
                person: None,
                message: format!("报到单位{}{}年未认领志愿服务项目", u.name, f.year),
            });
        }
    }
    for m in &f.members {
        if m.posts < MIN_MEMBER_POSTS && m.welfare_orgs == 0 {
            out.push(Finding {
                rule: RuleId::MemberWithoutPost,
                subject: Subject {
                    kind: SubjectKind::Member,
                    id: m.person_id,
                    code: m.code.clone(),
                    name: m.name.clone(),
                },
                community_id: m.community_id,
                grid_id: m.grid_id,
                point: m.point,
                numbers: numbers(&[
                    ("posts", json!(m.posts)),
                    ("welfare_orgs", json!(m.welfare_orgs)),
                    ("minimum", json!(MIN_MEMBER_POSTS)),
                    ("year", json!(f.year)),
                ]),
                person: Some(m.name.clone()),
                message: format!(
                    "报到党员{}{}年未认领志愿服务岗位，也未加入公益性社会组织",
                    m.name, f.year
                ),
            });
        }
    }
    for c in &f.communities {
        if c.welfare_orgs < MIN_WELFARE_ORGS {
            out.push(Finding {
                rule: RuleId::CommunityFewWelfareOrgs,
                subject: Subject {
                    kind: SubjectKind::Community,
                    id: c.id,
                    code: c.code.clone(),
                    name: c.name.clone(),
                },
                community_id: c.id,
                grid_id: None,
                point: c.point,
                numbers: numbers(&[
                    ("welfare_orgs", json!(c.welfare_orgs)),
                    ("minimum", json!(MIN_WELFARE_ORGS)),
                ]),
                person: None,
                message: format!(
                    "{}有公益性社会服务组织和志愿服务组织{}个，少于{MIN_WELFARE_ORGS}个",
                    c.name, c.welfare_orgs
                ),
            });
        }
    }
    out.sort_by(|a, b| (a.rule, &a.subject.code).cmp(&(b.rule, &b.subject.code)));
    out
}

/// How one finding changes between two evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Fails after, not before.
    Starts,
    /// Failed before, not after.
    Stops,
    /// Fails before and after, with other numbers.
    Changes,
}

/// The findings that start, stop or change between `before` and `after`, each with the
/// finding it refers to (the new one, or the old one when it stops).
pub fn diff<'a>(before: &'a [Finding], after: &'a [Finding]) -> Vec<(Change, &'a Finding)> {
    let old: HashMap<_, &Finding> = before.iter().map(|f| (f.key(), f)).collect();
    let new: HashMap<_, &Finding> = after.iter().map(|f| (f.key(), f)).collect();
    let mut out = Vec::new();
    for f in after {
        match old.get(&f.key()) {
            None => out.push((Change::Starts, f)),
            Some(o) if o.numbers != f.numbers => out.push((Change::Changes, f)),
            Some(_) => {}
        }
    }
    for f in before {
        if !new.contains_key(&f.key()) {
            out.push((Change::Stops, f));
        }
    }
    out.sort_by(|a, b| {
        (a.1.rule, &a.1.subject.code, a.0 as u8).cmp(&(b.1.rule, &b.1.subject.code, b.0 as u8))
    });
    out
}

/// The party data of a district as one file (`party.json` of a demo or export folder): the
/// data contract between the demo generator and the importer. Cells are not listed: they
/// come with the grids, as `cell_org_code` names them; officers may refer to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartyFile {
    /// Social organisations.
    #[serde(default)]
    pub associations: Vec<AssociationRecord>,
    /// 大党委 and functional organisations (and new names for cells).
    #[serde(default)]
    pub orgs: Vec<OrgRecord>,
    /// Officers.
    #[serde(default)]
    pub officers: Vec<OfficerRecord>,
    /// Members of functional organisations.
    #[serde(default)]
    pub functional_members: Vec<MemberRecord>,
    /// 双报到 units.
    #[serde(default)]
    pub units: Vec<UnitRecord>,
    /// 双报到 members.
    #[serde(default)]
    pub dual_members: Vec<DualRecord>,
    /// Volunteer projects.
    #[serde(default)]
    pub projects: Vec<ProjectRecord>,
    /// Volunteer posts.
    #[serde(default)]
    pub posts: Vec<PostRecord>,
}

/// A social organisation in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationRecord {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `service`, `public_welfare`, `volunteer` or `other`.
    pub kind: String,
    /// Community code.
    pub community_code: String,
    /// Year founded.
    pub founded_year: Option<i32>,
    /// [lon, lat].
    pub location: Option<[f64; 2]>,
    /// Person codes of its members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// What a functional organisation is attached to, in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachRecord {
    /// `compound`, `building` or `association`.
    pub kind: String,
    /// Its code.
    pub code: String,
}

/// A party organisation in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRecord {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `community_committee`, `functional`, or a cell kind (to rename a cell).
    pub kind: String,
    /// `committee`, `branch` or `group`.
    pub form: String,
    /// The community of a 大党委.
    pub community_code: Option<String>,
    /// What a functional organisation is attached to.
    pub attached_to: Option<AttachRecord>,
}

/// An officer in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficerRecord {
    /// Organisation code.
    pub org_code: String,
    /// Person code.
    pub person_code: String,
    /// Role (see [`OfficerRole`]).
    pub role: String,
}

/// A member of a functional organisation in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Organisation code.
    pub org_code: String,
    /// Person code.
    pub person_code: String,
}

/// A 双报到 unit in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Its party organisation's name.
    pub party_org_name: Option<String>,
    /// Community code.
    pub community_code: String,
    /// Registration date, `YYYY-MM-DD`.
    pub registered_on: String,
    /// [lon, lat].
    pub location: Option<[f64; 2]>,
}

/// A 双报到 member in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DualRecord {
    /// Person code.
    pub person_code: String,
    /// Unit code.
    pub unit_code: Option<String>,
    /// Community code.
    pub community_code: String,
    /// Registration date, `YYYY-MM-DD`.
    pub registered_on: String,
}

/// A volunteer project in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community code.
    pub community_code: String,
    /// Unit code.
    pub unit_code: Option<String>,
    /// Year.
    pub year: i32,
}

/// A volunteer post in [`PartyFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRecord {
    /// Person code.
    pub person_code: String,
    /// Year.
    pub year: i32,
    /// The post.
    pub post: String,
    /// Project code.
    pub project_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(level: GridLevel, members: i64, full: i64) -> CellFacts {
        CellFacts {
            grid_id: 1,
            code: "51080210200101".into(),
            name: "第1网格".into(),
            level,
            parent_id: None,
            community_id: 1,
            org: None,
            members,
            full,
            chief: Some(ChiefFacts {
                code: "W1".into(),
                name: "张三".into(),
                membership: Some(Membership::Full),
                committee: true,
            }),
            staff_members: 1,
            point: None,
        }
    }

    fn rules(f: &[Finding]) -> Vec<RuleId> {
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn branch_thresholds_are_those_of_the_domain() {
        // 2 full members: too few; 3: enough.
        assert_eq!(
            rules(&cell_findings(&[cell(GridLevel::First, 2, 2)])),
            [RuleId::BranchFewFull]
        );
        assert!(cell_findings(&[cell(GridLevel::First, 3, 3)]).is_empty());
        // 6 members need no committee, 7 do.
        assert!(cell_findings(&[cell(GridLevel::First, 6, 6)]).is_empty());
        assert_eq!(
            rules(&cell_findings(&[cell(GridLevel::First, 7, 7)])),
            [RuleId::BranchWithoutCommittee]
        );
        let mut with_committee = cell(GridLevel::First, 50, 40);
        with_committee.org = Some(OrgFacts {
            code: "X".into(),
            name: "X党支部".into(),
            seats: 3,
            has_secretary: true,
        });
        assert!(cell_findings(&[with_committee.clone()]).is_empty());
        // Two seats or no secretary is not a committee.
        let mut two = with_committee.clone();
        if let Some(o) = two.org.as_mut() {
            o.seats = 2;
        }
        assert_eq!(
            rules(&cell_findings(&[two])),
            [RuleId::BranchWithoutCommittee]
        );
        // 51 members: too large.
        with_committee.members = 51;
        let f = cell_findings(&[with_committee]);
        assert_eq!(rules(&f), [RuleId::BranchTooLarge]);
        assert_eq!(f[0].numbers["members"], json!(51));
        assert_eq!(f[0].numbers["maximum"], json!(50));
    }

    #[test]
    fn groups_chiefs_and_staff() {
        assert_eq!(
            rules(&cell_findings(&[cell(GridLevel::Second, 0, 0)])),
            [RuleId::GroupEmpty]
        );
        assert!(cell_findings(&[cell(GridLevel::Second, 1, 0)]).is_empty());
        let mut c = cell(GridLevel::Second, 5, 5);
        c.chief = None;
        c.staff_members = 0;
        assert_eq!(
            rules(&cell_findings(&[c.clone()])),
            [RuleId::GridWithoutChief, RuleId::GridWithoutStaff]
        );
        for (membership, committee, fails) in [
            (Some(Membership::Full), true, false),
            (Some(Membership::Probationary), true, false),
            (Some(Membership::None), true, true),
            (Some(Membership::Full), false, true),
            (None, true, true),
        ] {
            c.chief = Some(ChiefFacts {
                code: "W".into(),
                name: "李四".into(),
                membership,
                committee,
            });
            c.staff_members = 2;
            let f = cell_findings(&[c.clone()]);
            assert_eq!(
                rules(&f) == [RuleId::ChiefNotQualified],
                fails,
                "{membership:?} {committee}"
            );
            if fails {
                assert_eq!(f[0].person.as_deref(), Some("李四"));
            }
        }
    }

    #[test]
    fn roll_up_sums_groups_into_branches() {
        let mut b = cell(GridLevel::First, 0, 0);
        b.grid_id = 10;
        let mut g1 = cell(GridLevel::Second, 4, 3);
        g1.parent_id = Some(10);
        let mut g2 = cell(GridLevel::Second, 5, 1);
        g2.parent_id = Some(10);
        let mut cells = vec![b, g1, g2];
        roll_up(&mut cells);
        assert_eq!((cells[0].members, cells[0].full), (9, 4));
    }

    fn compound(full: i64, residents: i64) -> CompoundFacts {
        CompoundFacts {
            id: 1,
            code: "C1".into(),
            name: "锦绣花园".into(),
            kind: CompoundKind::Residential,
            occupancy: Some(0.9),
            built_year: Some(2005),
            community_id: 1,
            grid_id: None,
            residents,
            full,
            has_org: false,
            point: None,
        }
    }

    #[test]
    fn functional_organisation_rules() {
        let year = 2024;
        let eval = |facts: Facts| rules(&evaluate(&Facts { year, ..facts }));
        let f = |c: Vec<CompoundFacts>| Facts {
            compounds: c,
            ..Facts::default()
        };
        assert_eq!(
            eval(f(vec![compound(3, 500)])),
            [RuleId::CompoundWithoutOrg]
        );
        assert!(eval(f(vec![compound(2, 500)])).is_empty());
        assert!(eval(f(vec![compound(3, 499)])).is_empty());
        let mut with_org = compound(3, 500);
        with_org.has_org = true;
        assert!(eval(f(vec![with_org])).is_empty());
        let mut commercial = compound(9, 900);
        commercial.kind = CompoundKind::Commercial;
        assert!(eval(f(vec![commercial])).is_empty());
        // New compounds: 50% occupancy and built within the last eight years.
        let mut new = compound(0, 100);
        new.built_year = Some(2020);
        new.occupancy = Some(0.5);
        assert_eq!(eval(f(vec![new.clone()])), [RuleId::NewCompoundWithoutOrg]);
        new.occupancy = Some(0.49);
        assert!(eval(f(vec![new.clone()])).is_empty());
        new.occupancy = Some(0.7);
        new.built_year = Some(2015);
        assert!(eval(f(vec![new])).is_empty(), "nine years old is not new");

        let building = |employees, commercial, has_org| BuildingFacts {
            id: 1,
            code: "B1".into(),
            name: "恒信商务大厦".into(),
            employees,
            commercial,
            community_id: 1,
            grid_id: 1,
            has_org,
            point: None,
        };
        let fb = |b| Facts {
            buildings: vec![b],
            ..Facts::default()
        };
        assert_eq!(
            eval(fb(building(300, true, false))),
            [RuleId::BuildingWithoutOrg]
        );
        assert!(eval(fb(building(299, true, false))).is_empty());
        assert!(eval(fb(building(300, true, true))).is_empty());
        assert!(eval(fb(building(900, false, false))).is_empty());

        let association = |kind, full| AssociationFacts {
            id: 1,
            code: "A1".into(),
            name: "个体劳动者协会".into(),
            kind,
            community_id: 1,
            full,
            has_org: false,
            point: None,
        };
        let fa = |a| Facts {
            associations: vec![a],
            ..Facts::default()
        };
        assert_eq!(
            eval(fa(association(AssociationKind::Service, 3))),
            [RuleId::AssociationWithoutOrg]
        );
        assert!(eval(fa(association(AssociationKind::Service, 2))).is_empty());
        assert!(eval(fa(association(AssociationKind::Volunteer, 9))).is_empty());
    }

    #[test]
    fn dual_registration_and_welfare_rules() {
        let facts = Facts {
            year: 2024,
            units: vec![UnitFacts {
                id: 1,
                code: "U1".into(),
                name: "广元钢铁".into(),
                community_id: 1,
                projects: 0,
                point: None,
            }],
            members: vec![
                DualMemberFacts {
                    person_id: 1,
                    code: "P1".into(),
                    name: "王五".into(),
                    community_id: 1,
                    grid_id: None,
                    posts: 0,
                    welfare_orgs: 0,
                    point: None,
                },
                DualMemberFacts {
                    person_id: 2,
                    code: "P2".into(),
                    name: "赵六".into(),
                    community_id: 1,
                    grid_id: None,
                    posts: 0,
                    welfare_orgs: 1,
                    point: None,
                },
            ],
            communities: vec![CommunityFacts {
                id: 1,
                code: "510802102001".into(),
                name: "陵江社区".into(),
                welfare_orgs: 4,
                point: None,
            }],
            ..Facts::default()
        };
        let f = evaluate(&facts);
        assert_eq!(
            rules(&f),
            [
                RuleId::UnitWithoutProject,
                RuleId::MemberWithoutPost,
                RuleId::CommunityFewWelfareOrgs
            ]
        );
        assert_eq!(
            f[1].subject.code, "P1",
            "a welfare organisation counts as a post"
        );
        assert_eq!(f[2].numbers["welfare_orgs"], json!(4));
    }

    #[test]
    fn diffs_say_what_starts_stops_and_changes() {
        let a = cell_findings(&[cell(GridLevel::First, 2, 2)]);
        let mut big = cell(GridLevel::First, 60, 60);
        big.org = Some(OrgFacts {
            code: "X".into(),
            name: "X".into(),
            seats: 3,
            has_secretary: true,
        });
        let b = cell_findings(&[big]);
        let d = diff(&a, &b);
        assert_eq!(
            d.iter().map(|(c, f)| (*c, f.rule)).collect::<Vec<_>>(),
            [
                (Change::Stops, RuleId::BranchFewFull),
                (Change::Starts, RuleId::BranchTooLarge)
            ]
        );
        let c = cell_findings(&[cell(GridLevel::First, 1, 1)]);
        let d = diff(&a, &c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, Change::Changes);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn officers_fit_the_form() {
        use OfficerRole::*;
        assert!(check_officers(OrgForm::Branch, &[Secretary, Committee, Committee]).is_ok());
        assert!(check_officers(OrgForm::Branch, &[Secretary, Secretary]).is_err());
        assert!(check_officers(OrgForm::Group, &[GroupLeader]).is_ok());
        assert!(check_officers(OrgForm::Group, &[Secretary]).is_err());
        assert!(check_officers(OrgForm::Committee, &[GroupLeader]).is_err());
        assert!(check_code("510802102001-DW", "code").is_ok());
        assert!(check_code("a b", "code").is_err());
        assert!(check_code("", "code").is_err());
        assert!(check_year(1999, "year").is_err());
    }
}
