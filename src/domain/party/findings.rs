//! What a rule check finds: the rules, the subject of a finding, the finding with its
//! numbers and message, and the difference between two sets of findings.

use geo::Point;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

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

pub(super) fn numbers(pairs: &[(&str, Value)]) -> serde_json::Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
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
