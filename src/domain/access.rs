//! Who may do what: roles, scopes, and the one table that decides access. Every route
//! declares a [`Rule`]; [`allows`] says which roles pass it; [`Caller::visibility`] says how
//! much of an object a caller may see. Nothing else in wangge decides access.
//!
//! | role       | sees                                                        | may change |
//! |------------|-------------------------------------------------------------|------------|
//! | admin      | everything in its region                                    | boundaries, people, staff, stations, accounts |
//! | planner    | everything in its region, people only as counts             | stations, coverage scenarios |
//! | grid_chief | its grids in full, residents' personal data included; the rest of its region as counts | staff, people, incidents of its grids |
//! | patrol     | its assigned grids, households' addresses, no party data    | its own patrol logs and incident reports |
//! | viewer     | aggregates only, within its scope                           | nothing |

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Street-office or zone administrator.
    Admin,
    /// Planner of service coverage.
    Planner,
    /// Grid chief (网格长).
    GridChief,
    /// Patrol staff (网格员).
    Patrol,
    /// Read-only viewer of aggregates.
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Self::Admin,
        Self::Planner,
        Self::GridChief,
        Self::Patrol,
        Self::Viewer,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Planner => "planner",
            Self::GridChief => "grid_chief",
            Self::Patrol => "patrol",
            Self::Viewer => "viewer",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a route reads or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// The map: communities, grids, buildings, stations, with counts.
    Map,
    /// Grid and community boundaries, imports.
    Boundaries,
    /// Residents' personal data.
    People,
    /// Grid staff assignments.
    Staff,
    /// Service stations.
    Stations,
    /// Coverage analysis and what-if scenarios.
    Coverage,
    /// Accounts.
    Accounts,
    /// The audit log.
    Audit,
    /// Patrol logs.
    Patrols,
    /// Incidents found on patrol.
    Incidents,
    /// Party organisations and their rule checks.
    Party,
}

/// Read or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Look.
    Read,
    /// Create, change or delete.
    Write,
}

/// The access rule of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No session needed (login, health).
    Public,
    /// Any signed-in account (its own session, its own profile).
    SignedIn,
    /// Roles that [`allows`] the area and action.
    Allow(Area, Action),
}

/// The role-level decision: may `role` do `action` on `area` at all? Object-level scope is
/// decided by [`Caller::visibility`] and the checks built on it.
pub fn allows(role: Role, area: Area, action: Action) -> bool {
    use Action::*;
    use Area::*;
    use Role::*;
    match (area, action) {
        (Map, Read) => true,
        (Map, Write) => false,
        (Boundaries, Read) => true,
        (Boundaries, Write) => role == Admin,
        (People, Read) | (People, Write) => matches!(role, Admin | GridChief),
        (Staff, Read) => matches!(role, Admin | Planner | GridChief),
        (Staff, Write) => matches!(role, Admin | GridChief),
        (Stations, Read) => true,
        (Stations, Write) => matches!(role, Admin | Planner),
        (Coverage, Read) => matches!(role, Admin | Planner | GridChief | Viewer),
        (Coverage, Write) => matches!(role, Admin | Planner),
        (Accounts, _) | (Audit, _) => role == Admin,
        (Patrols, Read) => matches!(role, Admin | GridChief | Patrol),
        (Patrols, Write) => role == Patrol,
        (Incidents, Read) => matches!(role, Admin | GridChief | Patrol),
        (Incidents, Write) => matches!(role, Admin | GridChief | Patrol),
        (Party, Read) => matches!(role, Admin | Planner | GridChief),
        (Party, Write) => role == Admin,
    }
}

/// How much of an object (a grid, building or community) a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Not at all: it is left out of lists and a direct request is a 404.
    Hidden,
    /// Boundaries, names and aggregate counts (party members only as grid totals).
    Counts,
    /// Also households' addresses, but no party data.
    Addresses,
    /// Everything, residents' personal data included.
    Full,
}

impl Visibility {
    /// Whether party figures may be shown (aggregates at `Counts`, per building at `Full`).
    pub fn party_aggregates(self) -> bool {
        matches!(self, Self::Counts | Self::Full)
    }
}

/// What an account is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// Everything in its region.
    Region,
    /// A list of communities.
    Communities,
    /// A list of grids (a first-level grid includes its second-level grids).
    Grids,
}

impl ScopeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Region => "region",
            Self::Communities => "communities",
            Self::Grids => "grids",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "region" => Some(Self::Region),
            "communities" => Some(Self::Communities),
            "grids" => Some(Self::Grids),
            _ => None,
        }
    }
}

/// A signed-in account, with its scope resolved to ids.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account id.
    pub account_id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The kind of scope.
    pub scope_kind: ScopeKind,
    /// The account's region and every region below it.
    pub regions: HashSet<i64>,
    /// Communities of a `communities` scope.
    pub communities: HashSet<i64>,
    /// Grids of a `grids` scope.
    pub grids: HashSet<i64>,
    /// The staff record of a grid chief or patrol account.
    pub staff_id: Option<i64>,
    /// The session's id.
    pub session_id: i64,
}

/// Where an object sits in the hierarchy, enough to decide access to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The community's region.
    pub region_id: i64,
    /// The community.
    pub community_id: i64,
    /// The second- or first-level grid, if the object is in or is a grid.
    pub grid_id: Option<i64>,
    /// That grid's first-level parent, if it is a second-level grid.
    pub parent_grid_id: Option<i64>,
}

impl Caller {
    /// Whether the role passes a rule.
    pub fn passes(&self, rule: Rule) -> bool {
        match rule {
            Rule::Public | Rule::SignedIn => true,
            Rule::Allow(area, action) => allows(self.role, area, action),
        }
    }

    fn in_region(&self, p: &Place) -> bool {
        self.regions.contains(&p.region_id)
    }

    /// Whether the object is inside the account's own scope (not merely its region).
    pub fn in_scope(&self, p: &Place) -> bool {
        if !self.in_region(p) {
            return false;
        }
        match self.scope_kind {
            ScopeKind::Region => true,
            ScopeKind::Communities => self.communities.contains(&p.community_id),
            ScopeKind::Grids => {
                p.grid_id.is_some_and(|g| self.grids.contains(&g))
                    || p.parent_grid_id.is_some_and(|g| self.grids.contains(&g))
            }
        }
    }

    /// How much of an object at this place the caller may see.
    pub fn visibility(&self, p: &Place) -> Visibility {
        let in_region = self.in_region(p);
        let in_scope = self.in_scope(p);
        match self.role {
            Role::Admin if in_region => Visibility::Full,
            Role::Planner if in_region => Visibility::Counts,
            Role::GridChief if in_scope => Visibility::Full,
            Role::GridChief if in_region => Visibility::Counts,
            Role::Patrol if in_scope => Visibility::Addresses,
            Role::Viewer if in_scope => Visibility::Counts,
            _ => Visibility::Hidden,
        }
    }

    /// Whether the caller may change things of `area` at this place: the role must allow
    /// it and the place must be within reach (the region for admins and planners, the
    /// scope for everyone else).
    pub fn may_change(&self, area: Area, p: &Place) -> bool {
        allows(self.role, area, Action::Write)
            && match self.role {
                Role::Admin | Role::Planner => self.in_region(p),
                _ => self.in_scope(p),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, kind: ScopeKind) -> Caller {
        Caller {
            account_id: 1,
            username: "u".into(),
            role,
            scope_kind: kind,
            regions: [10, 11].into_iter().collect(),
            communities: [100].into_iter().collect(),
            grids: [1000].into_iter().collect(),
            staff_id: None,
            session_id: 1,
        }
    }

    const MINE: Place = Place {
        region_id: 11,
        community_id: 100,
        grid_id: Some(1001),
        parent_grid_id: Some(1000),
    };
    const NEIGHBOUR: Place = Place {
        region_id: 11,
        community_id: 101,
        grid_id: Some(2001),
        parent_grid_id: Some(2000),
    };
    const ELSEWHERE: Place = Place {
        region_id: 99,
        community_id: 900,
        grid_id: Some(9001),
        parent_grid_id: Some(9000),
    };

    #[test]
    fn visibility_follows_the_table() {
        let chief = caller(Role::GridChief, ScopeKind::Grids);
        assert_eq!(chief.visibility(&MINE), Visibility::Full);
        assert_eq!(chief.visibility(&NEIGHBOUR), Visibility::Counts);
        assert_eq!(chief.visibility(&ELSEWHERE), Visibility::Hidden);
        let patrol = caller(Role::Patrol, ScopeKind::Grids);
        assert_eq!(patrol.visibility(&MINE), Visibility::Addresses);
        assert_eq!(patrol.visibility(&NEIGHBOUR), Visibility::Hidden);
        let planner = caller(Role::Planner, ScopeKind::Region);
        assert_eq!(planner.visibility(&NEIGHBOUR), Visibility::Counts);
        assert_eq!(planner.visibility(&ELSEWHERE), Visibility::Hidden);
        let viewer = caller(Role::Viewer, ScopeKind::Communities);
        assert_eq!(viewer.visibility(&MINE), Visibility::Counts);
        assert_eq!(viewer.visibility(&NEIGHBOUR), Visibility::Hidden);
        assert!(!Visibility::Addresses.party_aggregates());
    }

    #[test]
    fn changes_need_role_and_reach() {
        let chief = caller(Role::GridChief, ScopeKind::Grids);
        assert!(chief.may_change(Area::People, &MINE));
        assert!(!chief.may_change(Area::People, &NEIGHBOUR));
        assert!(!chief.may_change(Area::Boundaries, &MINE));
        let admin = caller(Role::Admin, ScopeKind::Region);
        assert!(admin.may_change(Area::Boundaries, &NEIGHBOUR));
        assert!(!admin.may_change(Area::Boundaries, &ELSEWHERE));
        assert!(!caller(Role::Viewer, ScopeKind::Region).may_change(Area::Map, &MINE));
    }
}
