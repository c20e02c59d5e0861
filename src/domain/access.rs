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
//!
//! Grid staff are seen with the grid ([`Visibility::staff`]): code, name, role and duty
//! phone (工作电话, posted on the grid's notice board) by every account that sees the grid;
//! their personal phone only by those who see the grid in full, as residents' personal data.

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
    /// The annual assessment (考评): ratings, pledges, 双报到 evaluation, scorecards.
    Assessment,
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
        (People, Read | Write) => matches!(role, Admin | GridChief),
        // Staff as the notice board shows them; personal phones follow `Visibility::staff`.
        (Staff, Read) => true,
        (Staff, Write) => matches!(role, Admin | GridChief),
        (Stations, Read) => true,
        (Stations, Write) => matches!(role, Admin | Planner),
        (Coverage, Read) => matches!(role, Admin | Planner | GridChief | Viewer),
        (Coverage, Write) => matches!(role, Admin | Planner),
        (Accounts | Audit, _) => role == Admin,
        (Patrols, Read) => matches!(role, Admin | GridChief | Patrol),
        (Patrols, Write) => role == Patrol,
        (Incidents, Read) => matches!(role, Admin | GridChief | Patrol),
        (Incidents, Write) => matches!(role, Admin | GridChief | Patrol),
        (Party, Read) => matches!(role, Admin | Planner | GridChief),
        (Party, Write) => role == Admin,
        // The street office enters the assessment; a community's chiefs and viewers read it.
        (Assessment, Read) => matches!(role, Admin | GridChief | Viewer),
        (Assessment, Write) => role == Admin,
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

    /// How much of a grid's staff a caller who sees the grid at this level may see.
    pub fn staff(self) -> StaffDetail {
        match self {
            Self::Hidden => StaffDetail::None,
            Self::Counts | Self::Addresses => StaffDetail::Duty,
            Self::Full => StaffDetail::Personal,
        }
    }
}

/// How much of a grid's chief and members a caller sees (see [`Visibility::staff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaffDetail {
    /// Nothing: the grid is hidden.
    None,
    /// Code, name, role and duty phone: what the grid's notice board shows.
    Duty,
    /// Also the personal phone (personal data).
    Personal,
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

/// What a write of a grid's staff would do to one staff record it names, as far as reach
/// is concerned (gathered by the store inside the write's transaction).
#[derive(Debug, Clone, Default)]
pub struct StaffTouch {
    /// Whether the record exists already.
    pub exists: bool,
    /// Whether the write creates the record or changes any of its fields.
    pub changes_record: bool,
    /// Whether the member already serves the grid being written.
    pub serves_here: bool,
    /// The other grids the member serves now.
    pub serves_elsewhere: Vec<Place>,
    /// The home of a resident the write newly links to the record: `Some(None)` for a
    /// resident with no home building; `None` when the link does not change.
    pub links_resident: Option<Option<Place>>,
}

/// Why a staff write may not touch a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRefusal {
    /// The member serves a grid outside the caller's reach, and the write would change the
    /// record or take the member into this grid.
    ServesElsewhere,
    /// The write links a resident whose personal data the caller may not change.
    Resident,
}

impl Caller {
    /// Whether a write of the staff of the grid at `grid` may touch one record it names.
    /// Every record must pass, so no write reaches past the caller's scope through the
    /// records it nests: a member who serves a grid outside the caller's reach may be kept
    /// (unchanged) where they already serve, but neither renamed nor taken in; a member
    /// who serves nowhere may be taken in; a linked resident must be one whose personal
    /// data the caller may change.
    pub fn may_write_staff(&self, grid: &Place, t: &StaffTouch) -> Result<(), StaffRefusal> {
        let beyond = t
            .serves_elsewhere
            .iter()
            .any(|p| !self.may_change(Area::Staff, p));
        if beyond && (t.changes_record || !t.serves_here) {
            return Err(StaffRefusal::ServesElsewhere);
        }
        match t.links_resident {
            Some(Some(home)) if !self.may_change(Area::People, &home) => {
                Err(StaffRefusal::Resident)
            }
            Some(None) if self.role != Role::Admin || !self.may_change(Area::Staff, grid) => {
                Err(StaffRefusal::Resident)
            }
            _ => Ok(()),
        }
    }
}

/// What a caller sees of one building's households and patrol visits (the building
/// panel), from the table above: the households (labels and residents per household) with
/// households' addresses, the head of household's name only with residents' personal data,
/// and the week's visits to those who read the patrols of the building's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HouseholdDetail {
    /// How much of the building the caller sees.
    pub visibility: Visibility,
    /// The households, one by one (else only the building's counts).
    pub households: bool,
    /// The head of each household by name.
    pub names: bool,
    /// The patrols' visits: when, by whom, how many households.
    pub visits: bool,
}

impl Caller {
    /// What the caller sees of the households and visits of a building at `p`.
    pub fn household_detail(&self, p: &Place) -> HouseholdDetail {
        let visibility = self.visibility(p);
        HouseholdDetail {
            visibility,
            households: visibility >= Visibility::Addresses,
            names: visibility == Visibility::Full && allows(self.role, Area::People, Action::Read),
            visits: visibility != Visibility::Hidden
                && allows(self.role, Area::Patrols, Action::Read)
                && self.in_scope(p),
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
    fn personal_phones_of_staff_need_full_visibility() {
        use crate::domain::registry::StaffAssignment;
        let chief = StaffAssignment {
            grid_id: 1001,
            code: "W01".into(),
            name: "张伟".into(),
            duty_phone: Some("0839-3300001".into()),
            phone: Some("13800000001".into()),
            role: "chief".into(),
        };
        let roles = [
            (Role::Admin, ScopeKind::Region),
            (Role::Planner, ScopeKind::Region),
            (Role::GridChief, ScopeKind::Grids),
            (Role::Patrol, ScopeKind::Grids),
            (Role::Viewer, ScopeKind::Communities),
        ];
        for (role, kind) in roles {
            let c = caller(role, kind);
            for place in [MINE, NEIGHBOUR, ELSEWHERE] {
                let vis = c.visibility(&place);
                let shown = chief.shown(vis.staff());
                let json = serde_json::to_string(&shown).expect("serialisable");
                // Whoever sees the grid sees the notice board: name, role, duty phone.
                assert_eq!(
                    shown.is_some(),
                    vis != Visibility::Hidden,
                    "{role:?} {place:?}"
                );
                assert_eq!(json.contains("0839-3300001"), vis != Visibility::Hidden);
                // The personal phone goes with residents' personal data, nowhere else.
                assert_eq!(
                    json.contains("13800000001"),
                    vis == Visibility::Full,
                    "{role:?} {place:?}"
                );
                assert_eq!(
                    vis == Visibility::Full,
                    allows(role, Area::People, Action::Read)
                        && vis.staff() == StaffDetail::Personal
                );
            }
        }
        // The cases the issue names: viewers and patrols never, the grid's own chief does.
        let cases = [
            (
                Role::Viewer,
                ScopeKind::Communities,
                &MINE,
                StaffDetail::Duty,
            ),
            (Role::Patrol, ScopeKind::Grids, &MINE, StaffDetail::Duty),
            (
                Role::GridChief,
                ScopeKind::Grids,
                &MINE,
                StaffDetail::Personal,
            ),
            (
                Role::GridChief,
                ScopeKind::Grids,
                &NEIGHBOUR,
                StaffDetail::Duty,
            ),
            (Role::Planner, ScopeKind::Region, &MINE, StaffDetail::Duty),
        ];
        for (role, kind, place, detail) in cases {
            let shown = caller(role, kind).visibility(place).staff();
            assert_eq!(shown, detail, "{role:?} {kind:?} {place:?}");
        }
        // Serialised without a caller, a staff record never carries the personal phone.
        assert!(!serde_json::to_string(&chief)
            .expect("serialisable")
            .contains("13800000001"));
        // `/api/auth/me` says every role reads staff (as the notice board shows them).
        assert!(Role::ALL
            .iter()
            .all(|r| allows(*r, Area::Staff, Action::Read)));
    }

    #[test]
    fn staff_writes_check_every_record_they_name() {
        let chief = caller(Role::GridChief, ScopeKind::Grids);
        let admin = caller(Role::Admin, ScopeKind::Region);
        let by_chief = |t: &StaffTouch| chief.may_write_staff(&MINE, t);
        let by_admin = |t: &StaffTouch| admin.may_write_staff(&MINE, t);
        let (elsewhere, resident) = (
            Err(StaffRefusal::ServesElsewhere),
            Err(StaffRefusal::Resident),
        );
        let new = StaffTouch {
            changes_record: true,
            ..Default::default()
        };
        assert_eq!(by_chief(&new), Ok(()));
        // A member of a neighbour's grid: neither renamed (the HIJACKED case) nor taken in.
        let theirs = StaffTouch {
            exists: true,
            changes_record: true,
            serves_elsewhere: vec![NEIGHBOUR],
            ..Default::default()
        };
        assert_eq!(by_chief(&theirs), elsewhere);
        let taken_in = StaffTouch {
            changes_record: false,
            ..theirs.clone()
        };
        assert_eq!(by_chief(&taken_in), elsewhere);
        // Someone who already serves here and there is kept, unchanged.
        let shared = StaffTouch {
            serves_here: true,
            ..taken_in.clone()
        };
        assert_eq!(by_chief(&shared), Ok(()));
        let renamed_shared = StaffTouch {
            changes_record: true,
            ..shared.clone()
        };
        assert_eq!(by_chief(&renamed_shared), elsewhere);
        // The region's administrator reaches both grids.
        assert_eq!(by_admin(&theirs), Ok(()));
        // A member who serves nowhere may be taken in and updated.
        let free = StaffTouch {
            exists: true,
            changes_record: true,
            ..Default::default()
        };
        assert_eq!(by_chief(&free), Ok(()));
        // Residents linked to the record: within the caller's reach over personal data.
        let link = |home| StaffTouch {
            changes_record: true,
            links_resident: Some(home),
            ..Default::default()
        };
        assert_eq!(by_chief(&link(Some(MINE))), Ok(()));
        assert_eq!(by_chief(&link(Some(NEIGHBOUR))), resident);
        assert_eq!(by_chief(&link(None)), resident);
        assert_eq!(by_admin(&link(None)), Ok(()));
        assert_eq!(by_admin(&link(Some(ELSEWHERE))), resident);
    }

    /// The specification of [`allows`], written out as the README's table: for each area,
    /// the roles that may read it and the roles that may change it (A admin, P planner,
    /// C grid chief, R patrol, V viewer).
    const TABLE: [(Area, &str, &str); 12] = [
        (Area::Map, "APCRV", ""),
        (Area::Boundaries, "APCRV", "A"),
        (Area::People, "AC", "AC"),
        (Area::Staff, "APCRV", "AC"),
        (Area::Stations, "APCRV", "AP"),
        (Area::Coverage, "APCV", "AP"),
        (Area::Accounts, "A", "A"),
        (Area::Audit, "A", "A"),
        (Area::Patrols, "ACR", "R"),
        (Area::Incidents, "ACR", "ACR"),
        (Area::Party, "APC", "A"),
        (Area::Assessment, "ACV", "A"),
    ];

    fn letter(r: Role) -> char {
        match r {
            Role::Admin => 'A',
            Role::Planner => 'P',
            Role::GridChief => 'C',
            Role::Patrol => 'R',
            Role::Viewer => 'V',
        }
    }

    #[test]
    fn every_role_area_and_action_follows_the_table() {
        for (area, readers, writers) in TABLE {
            for role in Role::ALL {
                let l = letter(role);
                assert_eq!(
                    allows(role, area, Action::Read),
                    readers.contains(l),
                    "{role:?} reading {area:?}"
                );
                assert_eq!(
                    allows(role, area, Action::Write),
                    writers.contains(l),
                    "{role:?} changing {area:?}"
                );
                // Whoever may change an area may also read it.
                assert!(!writers.contains(l) || readers.contains(l), "{area:?}");
                let c = caller(role, ScopeKind::Region);
                assert_eq!(
                    c.passes(Rule::Allow(area, Action::Read)),
                    readers.contains(l)
                );
                assert!(c.passes(Rule::Public) && c.passes(Rule::SignedIn));
            }
        }
        // Party data stays away from patrols and viewers whatever they see of a grid.
        for role in [Role::Patrol, Role::Viewer] {
            assert!(!allows(role, Area::Party, Action::Read));
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        for kind in [ScopeKind::Region, ScopeKind::Communities, ScopeKind::Grids] {
            assert_eq!(ScopeKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn visibility_of_every_role_scope_and_place() {
        use Visibility::*;
        // A place in the caller's own grid, in a first-level grid it holds, in a neighbour
        // community of its region, and in another region; what each role sees there with
        // each kind of scope.
        let own_first = Place {
            grid_id: Some(1000),
            parent_grid_id: None,
            ..MINE
        };
        let community_only = Place {
            grid_id: None,
            parent_grid_id: None,
            ..MINE
        };
        let places = [MINE, own_first, community_only, NEIGHBOUR, ELSEWHERE];
        let expect = |role: Role, kind: ScopeKind| -> [Visibility; 5] {
            // Whether each place is in the scope of that kind (the test callers hold
            // community 100 and first-level grid 1000).
            let in_scope = match kind {
                ScopeKind::Region => [true, true, true, true, false],
                ScopeKind::Communities => [true, true, true, false, false],
                ScopeKind::Grids => [true, true, false, false, false],
            };
            let in_region = [true, true, true, true, false];
            let mut out = [Hidden; 5];
            for i in 0..5 {
                out[i] = match role {
                    Role::Admin if in_region[i] => Full,
                    Role::Planner if in_region[i] => Counts,
                    Role::GridChief if in_scope[i] => Full,
                    Role::GridChief if in_region[i] => Counts,
                    Role::Patrol if in_scope[i] => Addresses,
                    Role::Viewer if in_scope[i] => Counts,
                    _ => Hidden,
                };
            }
            out
        };
        for role in Role::ALL {
            for kind in [ScopeKind::Region, ScopeKind::Communities, ScopeKind::Grids] {
                let c = caller(role, kind);
                let seen: Vec<Visibility> = places.iter().map(|p| c.visibility(p)).collect();
                assert_eq!(seen, expect(role, kind), "{role:?} with a {kind:?} scope");
                for (p, v) in places.iter().zip(&seen) {
                    // Personal data only with full visibility, and only for roles that
                    // read people; party aggregates never at the patrol's address level.
                    if *v == Full {
                        assert!(allows(role, Area::People, Action::Read), "{role:?}");
                    }
                    assert_eq!(v.party_aggregates(), matches!(v, Counts | Full));
                    // Nobody changes anything where they see nothing.
                    if *v == Hidden {
                        for area in TABLE.map(|t| t.0) {
                            assert!(!c.may_change(area, p), "{role:?} {area:?} {p:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn changes_of_every_role_reach_its_region_or_scope() {
        for role in Role::ALL {
            for area in TABLE.map(|t| t.0) {
                let c = caller(role, ScopeKind::Grids);
                let may = allows(role, area, Action::Write);
                // Admins and planners reach their region; everyone else their scope.
                let wide = matches!(role, Role::Admin | Role::Planner);
                assert_eq!(c.may_change(area, &MINE), may, "{role:?} {area:?}");
                assert_eq!(
                    c.may_change(area, &NEIGHBOUR),
                    may && wide,
                    "{role:?} {area:?}"
                );
                assert!(!c.may_change(area, &ELSEWHERE), "{role:?} {area:?}");
            }
        }
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

    #[test]
    fn households_of_a_building_by_role() {
        // (role, scope, place) -> (households listed, names, visits).
        const NOTHING: (bool, bool, bool) = (false, false, false);
        let cases = [
            (Role::Admin, ScopeKind::Region, MINE, (true, true, true)),
            (Role::Admin, ScopeKind::Region, ELSEWHERE, NOTHING),
            (Role::GridChief, ScopeKind::Grids, MINE, (true, true, true)),
            (Role::GridChief, ScopeKind::Grids, NEIGHBOUR, NOTHING),
            (Role::Patrol, ScopeKind::Grids, MINE, (true, false, true)),
            (Role::Patrol, ScopeKind::Grids, NEIGHBOUR, NOTHING),
            (Role::Planner, ScopeKind::Region, MINE, NOTHING),
            (Role::Viewer, ScopeKind::Communities, MINE, NOTHING),
            (Role::Viewer, ScopeKind::Communities, NEIGHBOUR, NOTHING),
        ];
        for (role, kind, place, (households, names, visits)) in cases {
            let d = caller(role, kind).household_detail(&place);
            assert_eq!(
                (d.households, d.names, d.visits),
                (households, names, visits),
                "{role:?} {place:?}"
            );
            // Names only where residents' personal data may be read; nothing where the
            // building is hidden.
            assert!(!d.names || d.visibility == Visibility::Full);
            if d.visibility == Visibility::Hidden {
                assert!(!d.households && !d.names && !d.visits);
            }
        }
    }
}
