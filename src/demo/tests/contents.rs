//! Checks of the generated figures and references: totals against the brief, compounds on
//! both sides of the party rules, station gaps, staff living in their community, and party
//! data that refers to members and breaks each rule a few times.

use super::*;

#[test]
fn totals_match_the_brief() {
    let Some(d) = data() else { return };
    let buildings = &d.layers["buildings.geojson"];
    assert!(buildings.len() >= 3000, "{} buildings", buildings.len());
    let residents: u64 = buildings.iter().map(|b| n(b, "residents")).sum();
    let households: u64 = buildings.iter().map(|b| n(b, "households")).sum();
    assert!(
        (55_000..=65_000).contains(&residents),
        "{residents} residents"
    );
    let per = residents as f64 / households as f64;
    assert!((2.6..2.8).contains(&per), "{per} residents per household");
    assert_eq!(d.people.len() as u64, residents);
    assert_eq!(d.summary.totals.residents, residents);
    assert_eq!(d.summary.totals.households, households);

    // One row per resident of each building, unique codes, adults and members.
    let mut per_building: BTreeMap<&str, u64> = BTreeMap::new();
    let mut codes = BTreeSet::new();
    let (mut adults, mut members, mut probationary, mut minors) = (0u64, 0u64, 0u64, 0u64);
    for r in &d.people {
        assert_eq!(r.len(), 9, "row {r:?}");
        assert!(
            codes.insert(r[0].as_str()),
            "duplicate person code {}",
            r[0]
        );
        *per_building.entry(r[1].as_str()).or_default() += 1;
        let age = model::REF_YEAR - r[4].parse::<u32>().expect("birth year");
        assert!(r[3] == "M" || r[3] == "F");
        if !r[5].is_empty() {
            assert!(
                r[5].len() == 11 && ["13", "15", "18"].contains(&&r[5][..2]),
                "phone {}",
                r[5]
            );
        }
        let (unit, flat) = r[7].split_once('-').expect("household like 2-301");
        assert!(unit.parse::<u32>().is_ok() && flat.len() >= 3 && flat.parse::<u32>().is_ok());
        if age >= 18 {
            adults += 1;
            if r[8] != "none" {
                members += 1;
            }
            if r[8] == "probationary" {
                probationary += 1;
            }
        } else {
            minors += 1;
            assert_eq!(r[8], "none", "a minor is a party member");
        }
    }
    for b in buildings {
        let want = n(b, "residents");
        assert_eq!(per_building.get(s(b, "code")).copied().unwrap_or(0), want);
    }
    let share = members as f64 / adults as f64;
    assert!((0.06..=0.08).contains(&share), "adult party share {share}");
    let young = minors as f64 / d.people.len() as f64;
    assert!((0.15..=0.21).contains(&young), "under-18 share {young}");
    let prob = probationary as f64 / members as f64;
    assert!((0.02..=0.09).contains(&prob), "probationary share {prob}");
    assert_eq!(d.summary.totals.party_members, members);

    // Manifest counts are the file counts.
    let c = &d.summary.counts;
    assert_eq!(c.buildings, buildings.len());
    assert_eq!(c.compounds, d.layers["compounds.geojson"].len());
    assert_eq!(c.stations, d.layers["stations.geojson"].len());
    assert_eq!(c.streets, d.layers["streets.geojson"].len());
    assert_eq!(c.people_rows, d.people.len());
    assert_eq!(c.staff_rows, d.staff.len());
    let manifest: Summary = d.summary.clone();
    let on_disk: serde_json::Value = serde_json::from_slice(&d.raw["manifest.json"]).expect("json");
    assert_eq!(
        on_disk,
        serde_json::to_value(&manifest).expect("serialisable")
    );
}

#[test]
fn compounds_cover_the_party_rules_on_both_sides() {
    let Some(d) = data() else { return };
    let compounds = &d.layers["compounds.geojson"];
    let occ = |f: &Feature| {
        f.property("occupancy_rate")
            .and_then(JsonValue::as_f64)
            .expect("rate")
    };
    let new: Vec<&Feature> = compounds
        .iter()
        .filter(|c| s(c, "kind") == "residential" && n(c, "built_year") >= 2018)
        .collect();
    assert!(new.iter().any(|c| occ(c) < 0.5) && new.iter().any(|c| occ(c) >= 0.5));
    for kind in ["residential", "commercial", "other"] {
        assert!(
            compounds.iter().any(|c| s(c, "kind") == kind),
            "no {kind} compound"
        );
    }
    for c in compounds {
        assert!((0.0..=1.0).contains(&occ(c)));
    }
    let buildings = &d.layers["buildings.geojson"];
    let big = buildings
        .iter()
        .filter(|b| n(b, "employees") >= 300)
        .count();
    assert!(
        (1..=40).contains(&big),
        "{big} buildings with 300+ employees"
    );
    let mut per_compound: BTreeMap<&str, u64> = BTreeMap::new();
    for b in buildings {
        *per_compound.entry(s(b, "compound_code")).or_default() += n(b, "residents");
    }
    assert!(
        per_compound.values().any(|&r| r >= 500),
        "no compound with 500+ residents"
    );
    // Codes nest in their community; estates have 6-14 buildings, courtyards many small ones.
    let mut floors: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for b in buildings {
        floors
            .entry(s(b, "compound_code"))
            .or_default()
            .push((n(b, "floors"), n(b, "households")));
    }
    for c in compounds {
        assert!(s(c, "code").starts_with(s(c, "community_code")));
        let Some(bs) = floors.get(s(c, "code")) else {
            assert_eq!(s(c, "kind"), "other", "{} has no buildings", s(c, "code"));
            continue;
        };
        if s(c, "kind") != "residential" {
            assert!(bs.iter().all(|&(_, h)| h == 0));
        } else if bs.iter().all(|&(f, _)| f >= 11) {
            assert!(
                (6..=14).contains(&bs.len()),
                "estate {} with {} buildings",
                s(c, "code"),
                bs.len()
            );
            assert!(bs.iter().all(|&(_, h)| (24..=120).contains(&h)));
        } else {
            assert!(bs.iter().all(|&(_, h)| (4..=24).contains(&h)));
        }
    }
}

#[test]
fn stations_have_gaps_but_every_community_has_a_centre() {
    let Some(d) = data() else { return };
    let stations = &d.layers["stations.geojson"];
    let buildings: Vec<Polygon> = d.layers["buildings.geojson"].iter().map(poly).collect();
    let communities = by_code(d, "communities.geojson");
    let mut kinds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut codes = BTreeSet::new();
    for st in stations {
        let g = st.geometry.as_ref().expect("geometry");
        let p = Point::try_from(&g.value).expect("Point");
        let com = s(st, "community_code");
        assert!(
            mpoly(communities[com]).contains(&p),
            "station {} outside {com}",
            s(st, "code")
        );
        assert!(
            !buildings.iter().any(|b| b.intersects(&p)),
            "station {} in a building",
            s(st, "code")
        );
        assert!(codes.insert(s(st, "code")));
        assert!(n(st, "programmes") >= 1);
        kinds.entry(com).or_default().insert(s(st, "kind"));
    }
    let eight: Vec<&str> = stations::EIGHT.iter().map(|(k, _)| *k).collect();
    for com in communities.keys() {
        assert!(
            kinds[com].contains("party_mass_centre"),
            "{com} has no party-mass centre"
        );
    }
    assert!(
        communities
            .keys()
            .any(|c| eight.iter().any(|k| !kinds[c].contains(k))),
        "every community has all eight stations: no gaps to find"
    );
    let count = |k: &str| stations.iter().filter(|s0| s(s0, "kind") == k).count();
    assert!(count("police_post") <= 2 && count("clinic") <= 2 && count("market") <= 2);
    for k in [
        "clinic",
        "kindergarten",
        "school",
        "market",
        "park",
        "police_post",
    ] {
        assert!(count(k) >= 1, "no {k}");
    }
    let few = stations
        .iter()
        .filter(|s0| n(s0, "programmes") < 3 && eight.contains(&s(s0, "kind")))
        .count();
    assert!(few >= 1, "no station below three programmes");
}

#[test]
fn staff_are_residents_of_their_community() {
    let Some(d) = data() else { return };
    check_staff(d);
}

pub(super) fn check_staff(d: &Data) {
    let people: BTreeMap<&str, &Vec<String>> =
        d.people.iter().map(|r| (r[0].as_str(), r)).collect();
    let buildings = by_code(d, "buildings.geojson");
    let compounds = by_code(d, "compounds.geojson");
    let grids = by_code(d, "grids.geojson");
    let mut chiefs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut members: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut chief_full, mut chief_committee, mut chief_total, mut chief_none) = (0, 0, 0, 0);
    let mut staff_codes: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duty_phones: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &d.staff {
        assert_eq!(r.len(), 8);
        let person = people[r[3].as_str()];
        assert_eq!(r[1], person[2], "staff name is the person's name");
        assert_eq!(
            r[2], person[5],
            "staff's personal phone is the person's phone"
        );
        assert!(
            r[7].starts_with("0839-") && r[7].len() == 12,
            "a duty phone is a Guangyuan landline: {}",
            r[7]
        );
        assert_eq!(
            *duty_phones.entry(r[0].as_str()).or_insert(r[7].as_str()),
            r[7],
            "one duty phone per staff code"
        );
        let b = buildings[person[1].as_str()];
        let c = compounds[s(b, "compound_code")];
        let g = grids[r[5].as_str()];
        assert_eq!(
            s(c, "community_code"),
            s(g, "community_code"),
            "staff {} lives elsewhere",
            r[0]
        );
        assert_eq!(
            *staff_codes.entry(r[0].as_str()).or_insert(r[3].as_str()),
            r[3],
            "one person per staff code"
        );
        match r[6].as_str() {
            "chief" => {
                *chiefs.entry(r[5].as_str()).or_default() += 1;
                chief_total += 1;
                if person[8] == "full" {
                    chief_full += 1;
                }
                if person[8] == "none" {
                    chief_none += 1;
                }
                if r[4] == "true" {
                    chief_committee += 1;
                }
            }
            "member" => *members.entry(r[5].as_str()).or_default() += 1,
            other => panic!("role {other}"),
        }
    }
    assert!(chiefs.values().all(|&c| c == 1), "a grid with two chiefs");
    assert!(
        chief_full * 10 >= chief_total * 8,
        "chiefs mostly full party members"
    );
    assert!(
        chief_committee * 10 >= chief_total * 6,
        "chiefs mostly committee members"
    );
    assert!(chief_none >= 1, "no rule-breaking chief");
    assert!(
        grids.keys().any(|g| !members.contains_key(g)),
        "no grid without members"
    );
    assert!(members.values().all(|&m| (1..=3).contains(&m)));
    assert!(
        staff_codes.len() < d.staff.len(),
        "nobody serves several grids"
    );
    let personal: BTreeSet<&str> = d.people.iter().map(|r| r[5].as_str()).collect();
    let duty: BTreeSet<&str> = duty_phones.values().copied().collect();
    assert_eq!(
        duty.len(),
        duty_phones.len(),
        "two staff share a duty phone"
    );
    assert!(
        duty.is_disjoint(&personal),
        "a duty phone is someone's personal number"
    );
}

#[test]
fn party_data_refers_to_party_members_and_breaks_each_rule_a_few_times() {
    let Some(d) = data() else { return };
    check_party(d);
}

pub(super) fn check_party(d: &Data) {
    use crate::domain::party::{cell_org_code, committee_code, PartyFile};
    use crate::domain::GridLevel;
    let f: PartyFile = serde_json::from_slice(&d.raw["party.json"]).expect("party.json parses");
    let members: BTreeMap<&str, &str> = d
        .people
        .iter()
        .filter(|r| r[8] != "none")
        .map(|r| (r[0].as_str(), r[8].as_str()))
        .collect();
    let member = |code: &str| {
        assert!(members.contains_key(code), "{code} is not a party member");
    };
    let mut orgs: BTreeSet<String> = f.orgs.iter().map(|o| o.code.clone()).collect();
    for g in &d.layers["grids.geojson"] {
        let level = if n(g, "level") == 1 {
            GridLevel::First
        } else {
            GridLevel::Second
        };
        orgs.insert(cell_org_code(s(g, "code"), level));
    }
    for c in &d.layers["communities.geojson"] {
        orgs.insert(committee_code(s(c, "code")));
    }
    let mut offices = BTreeSet::new();
    for o in &f.officers {
        assert!(
            orgs.contains(&o.org_code),
            "officer of unknown {}",
            o.org_code
        );
        assert_eq!(members.get(o.person_code.as_str()), Some(&"full"), "{o:?}");
        assert!(
            offices.insert((&o.org_code, &o.person_code)),
            "two offices: {o:?}"
        );
    }
    let mut functional = BTreeSet::new();
    for m in &f.functional_members {
        member(&m.person_code);
        assert!(
            functional.insert(&m.person_code),
            "{} in two organisations",
            m.person_code
        );
    }
    for a in &f.associations {
        a.members.iter().for_each(|m| member(m));
    }
    for m in &f.dual_members {
        member(&m.person_code);
    }
    for p in &f.posts {
        member(&p.person_code);
    }
    // Rule breakers on both sides: a branch with only a secretary, a community with four
    // public-welfare organisations, units without a project, members without a post.
    let mut seats: BTreeMap<&str, usize> = BTreeMap::new();
    for o in f.officers.iter().filter(|o| o.org_code.ends_with("-ZB")) {
        *seats.entry(o.org_code.as_str()).or_default() += 1;
    }
    assert!(seats.values().any(|&n| n == 1) && seats.values().any(|&n| n >= 3));
    let mut welfare: BTreeMap<&str, usize> = BTreeMap::new();
    for a in f
        .associations
        .iter()
        .filter(|a| a.kind == "public_welfare" || a.kind == "volunteer")
    {
        *welfare.entry(a.community_code.as_str()).or_default() += 1;
    }
    assert!(welfare.values().any(|&n| n < 5) && welfare.values().any(|&n| n >= 5));
    let with_project: BTreeSet<&str> = f
        .projects
        .iter()
        .filter_map(|p| p.unit_code.as_deref())
        .collect();
    assert!(f
        .units
        .iter()
        .any(|u| !with_project.contains(u.code.as_str())));
    assert!(f
        .units
        .iter()
        .any(|u| with_project.contains(u.code.as_str())));
    let with_post: BTreeSet<&str> = f.posts.iter().map(|p| p.person_code.as_str()).collect();
    let without = f
        .dual_members
        .iter()
        .filter(|m| !with_post.contains(m.person_code.as_str()))
        .count();
    assert!(
        without > 0 && without * 5 < f.dual_members.len(),
        "{without} without a post"
    );
    for kind in ["compound", "building", "association"] {
        assert!(
            f.orgs
                .iter()
                .any(|o| o.attached_to.as_ref().is_some_and(|a| a.kind == kind)),
            "no functional organisation of a {kind}"
        );
    }
}
