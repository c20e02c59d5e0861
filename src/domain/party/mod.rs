//! Party organisation rules (党组织设置) as pure functions over plain facts: which cells,
//! compounds, buildings, associations, 双报到 units and members, and communities break a rule,
//! with the numbers behind each finding. The thresholds are those of docs/domain.md and the seed
//! notice (广元经开区 2015, 社区党建“五大体系”).
//!
//! Must not: read the database, know about HTTP, or decide who may see a finding (callers
//! filter by visibility; a finding carries the place it is about so that they can).
//!
//! One subject a file: the kinds of organisations and the checks of codes (`kinds`), the
//! facts the rules read (`facts`), the rules (`rules`), what they find (`findings`), the
//! arithmetic of the boundary-change preview (`preview`), and the records of a party import
//! file (`records`). This file holds the thresholds.

mod facts;
mod findings;
mod kinds;
pub mod preview;
mod records;
mod rules;
#[cfg(test)]
mod tests;

pub use facts::{
    is_new_compound, roll_up, AssociationFacts, BuildingFacts, CellFacts, ChiefFacts,
    CommunityFacts, CompoundFacts, DualMemberFacts, Facts, OrgFacts, UnitFacts,
};
pub use findings::{diff, Change, Finding, RuleId, Subject, SubjectKind};
pub use kinds::{
    cell_org_code, cell_org_name, check_code, check_officers, check_year, committee_code,
    committee_name, may_hold_office, AssociationKind, OfficerRole, OrgForm, OrgKind,
};
pub use records::{
    AssociationRecord, AttachRecord, DualRecord, MemberRecord, OfficerRecord, OrgRecord, PartyFile,
    PostRecord, ProjectRecord, UnitRecord,
};
pub use rules::{cell_findings, evaluate, members_without_post_counted};

/// Defines each threshold once: a public constant, and its entry in [`thresholds`].
macro_rules! thresholds {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: $ty = $value;)*

        /// Every threshold by the name of its constant in lower case (as answers list them).
        pub fn thresholds() -> serde_json::Value {
            let mut all = serde_json::Map::new();
            $(all.insert(stringify!($name).to_lowercase(), serde_json::json!($name));)*
            serde_json::Value::Object(all)
        }
    };
}

thresholds! {
    /// A unit needs at least this many full members to form a branch (正式党员3人以上).
    MIN_FULL_FOR_BRANCH: i64 = 3;
    /// A branch generally has at most this many members (full and probationary).
    MAX_BRANCH_MEMBERS: i64 = 50;
    /// A branch of this many members or more elects a branch committee (支部委员会).
    COMMITTEE_FROM_MEMBERS: i64 = 7;
    /// A committee has at least this many seats, the secretary included (支委会由3至5人组成).
    COMMITTEE_MIN_SEATS: i64 = 3;
    /// A residential compound with this many full members ...
    COMPOUND_MIN_FULL: i64 = 3;
    /// ... and this many residents should have a functional organisation.
    COMPOUND_MIN_RESIDENTS: i64 = 500;
    /// A commercial building with this many employees should have a functional organisation.
    BUILDING_MIN_EMPLOYEES: i64 = 300;
    /// A service association with this many full members should have a functional organisation.
    ASSOCIATION_MIN_FULL: i64 = 3;
    /// A new residential compound whose occupancy reaches this share sets up an organisation.
    NEW_COMPOUND_OCCUPANCY: f64 = 0.5;
    /// A compound counts as new (新建住宅区) when built at most this many years before the year
    /// checked. The seed does not define "new"; eight years covers a compound's filling-up period.
    NEW_COMPOUND_MAX_AGE_YEARS: i32 = 8;
    /// Each community keeps at least this many public-welfare and volunteer organisations.
    MIN_WELFARE_ORGS: i64 = 5;
    /// Each 双报到 unit takes at least this many volunteer projects a year.
    MIN_UNIT_PROJECTS: i64 = 1;
    /// Each 双报到 member takes at least this many volunteer posts a year (or joins a
    /// public-welfare organisation).
    MIN_MEMBER_POSTS: i64 = 1;
}
