//! The kinds of party organisations, their forms, officers' roles and social
//! organisations' kinds, and the checks and names of codes that go with them.

use crate::domain::{FieldError, GridLevel, Membership};
use serde::{Deserialize, Serialize};

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
