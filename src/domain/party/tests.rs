//! Unit tests of the party rules on small facts.

use super::*;
use crate::domain::{CompoundKind, GridLevel, Membership};
use serde_json::json;

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

/// An organisation `name` (code X) with a committee: a secretary and three seats.
fn committee(name: &str) -> OrgFacts {
    OrgFacts {
        code: "X".into(),
        name: name.into(),
        seats: 3,
        has_secretary: true,
    }
}

/// The rules one cell of `level` with `members` and `full` members breaks.
fn cell_rules(level: GridLevel, members: i64, full: i64) -> Vec<RuleId> {
    rules(&cell_findings(&[cell(level, members, full)]))
}

#[test]
fn branch_thresholds_are_those_of_the_domain() {
    // 2 full members: too few; 3: enough.
    assert_eq!(cell_rules(GridLevel::First, 2, 2), [RuleId::BranchFewFull]);
    assert!(cell_rules(GridLevel::First, 3, 3).is_empty());
    // 6 members need no committee, 7 do.
    assert!(cell_rules(GridLevel::First, 6, 6).is_empty());
    assert_eq!(
        cell_rules(GridLevel::First, 7, 7),
        [RuleId::BranchWithoutCommittee]
    );
    let mut with_committee = cell(GridLevel::First, 50, 40);
    with_committee.org = Some(committee("X党支部"));
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
    assert_eq!(cell_rules(GridLevel::Second, 0, 0), [RuleId::GroupEmpty]);
    assert!(cell_rules(GridLevel::Second, 1, 0).is_empty());
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
    big.org = Some(committee("X"));
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
