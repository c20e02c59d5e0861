//! The records of a party import file (JSON), as read before they are checked.

use serde::{Deserialize, Serialize};

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
