//! Residents of every building (households, ages, party membership) and the grid staff
//! chosen among them.
//!
//! Owns the synthetic population: names, phones, employers and the "1 of 14 adults is a party
//! member" share. It must not decide geometry or household counts (those come from `town`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::layout::Sub;
use super::model::{Grid, Membership, People, Person, StaffRow, Town, REF_YEAR};
use super::names;

/// Share of adults who are party members (full or probationary).
const PARTY_SHARE: f64 = 0.07;
/// Share of party members who are probationary.
const PROBATIONARY_SHARE: f64 = 0.05;
/// Share of residents under 18.
const CHILD_SHARE: f64 = 0.18;

fn adult_age(rng: &mut ChaCha8Rng) -> u32 {
    // Household heads by age band (weights roughly follow China's 2020 census).
    const BANDS: [(u32, u32, f64); 7] = [
        (22, 30, 8.0),
        (30, 40, 16.0),
        (40, 50, 15.0),
        (50, 60, 18.0),
        (60, 70, 15.0),
        (70, 80, 8.0),
        (80, 92, 3.0),
    ];
    let total: f64 = BANDS.iter().map(|b| b.2).sum();
    let mut x = rng.gen::<f64>() * total;
    for (lo, hi, w) in BANDS {
        x -= w;
        if x <= 0.0 {
            return rng.gen_range(lo..hi);
        }
    }
    45
}

fn phone(rng: &mut ChaCha8Rng) -> u64 {
    const PREFIX: [u64; 24] = [
        130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 157, 158, 159, 180,
        181, 182, 183, 186, 187, 189,
    ];
    PREFIX[rng.gen_range(0..PREFIX.len())] * 100_000_000 + rng.gen_range(0..100_000_000)
}

/// Generates the residents of every building of the town.
pub(crate) fn generate(town: &Town, rng: &mut ChaCha8Rng) -> People {
    let place = &town.spec.place;
    let mut employers: Vec<String> = (0..30).map(|_| names::company(rng, place)).collect();
    employers.extend(
        town.compounds
            .iter()
            .filter(|c| matches!(c.sub, Sub::Office | Sub::School | Sub::Government))
            .map(|c| c.name.clone()),
    );
    employers.push("个体经营".to_string());
    employers.sort();
    employers.dedup();

    let mut persons = Vec::new();
    for (ci, c) in town.compounds.iter().enumerate() {
        for (bi, b) in c.buildings.iter().enumerate() {
            let h = b.households as usize;
            if h == 0 {
                continue;
            }
            // Which flats are occupied: h distinct of units x floors x rooms.
            let cap = (b.units * b.floors * b.rooms) as usize;
            let mut flats: Vec<usize> = (0..cap).collect();
            for i in 0..h.min(cap) {
                let j = rng.gen_range(i..cap);
                flats.swap(i, j);
            }
            flats.truncate(h);
            flats.sort_unstable();
            let mut sizes = vec![1u32; h];
            for _ in 0..(b.residents as usize).saturating_sub(h) {
                sizes[rng.gen_range(0..h)] += 1;
            }
            // Slots that may hold a child: third and later members, and second members who are
            // not a spouse (one in five).
            let extra: f64 = sizes
                .iter()
                .map(|&s| f64::from(s.saturating_sub(2)) + if s >= 2 { 0.2 } else { 0.0 })
                .sum();
            let p_child = if extra <= 0.0 {
                0.0
            } else {
                (CHILD_SHARE * f64::from(b.residents) / extra).min(0.95)
            };
            for (k, &size) in sizes.iter().enumerate() {
                let f = flats[k] as u32;
                let per_unit = b.floors * b.rooms;
                let unit = f / per_unit + 1;
                let floor = (f % per_unit) / b.rooms + 1;
                let room = f % b.rooms + 1;
                let head_age = adult_age(rng);
                let head_male = rng.gen_bool(0.55);
                let family = names::surname(rng);
                for m in 0..size {
                    let (age, male, surname) = match m {
                        0 => (head_age, head_male, family),
                        1 if rng.gen_bool(0.8) => (
                            (i64::from(head_age) + rng.gen_range(-6..4)).clamp(20, 95) as u32,
                            !head_male,
                            names::surname(rng),
                        ),
                        _ if rng.gen_bool(p_child) => {
                            (rng.gen_range(0..18), rng.gen_bool(0.52), family)
                        }
                        _ if rng.gen_bool(0.5) => (
                            rng.gen_range(60..92),
                            rng.gen_bool(0.45),
                            names::surname(rng),
                        ),
                        _ => (rng.gen_range(18..32), rng.gen_bool(0.5), family),
                    };
                    let name = format!("{surname}{}", names::given_name(rng, male));
                    let phone = (age >= 12).then(|| phone(rng));
                    let work_unit = ((18..60).contains(&age) && rng.gen_bool(0.72))
                        .then(|| rng.gen_range(0..employers.len()) as u32);
                    let membership = if age >= 18 && rng.gen_bool(PARTY_SHARE) {
                        if rng.gen_bool(PROBATIONARY_SHARE) {
                            Membership::Probationary
                        } else {
                            Membership::Full
                        }
                    } else {
                        Membership::None
                    };
                    persons.push(Person {
                        compound: ci as u32,
                        building: bi as u32,
                        name,
                        male,
                        birth_year: REF_YEAR - age,
                        phone,
                        work_unit,
                        household: (unit, floor, room),
                        membership,
                    });
                }
            }
        }
    }
    People { persons, employers }
}

/// Gives every staff code its own duty phone, the same on each of its rows. The numbers
/// come from their own stream, so adding them changed no other generated value.
pub(crate) fn duty_phones(rows: &mut [StaffRow], rng: &mut ChaCha8Rng) {
    let mut by_code: std::collections::BTreeMap<String, String> = Default::default();
    let mut used = std::collections::BTreeSet::new();
    for r in rows.iter_mut() {
        let phone = by_code.entry(r.code.clone()).or_insert_with(|| loop {
            // Guangyuan's area code and a seven-digit local number of the 3xxxxxx range.
            let n = 3_000_000 + rng.gen_range(0..1_000_000u32);
            if used.insert(n) {
                break format!("0839-{n}");
            }
        });
        r.duty_phone.clone_from(phone);
    }
}

/// Chooses grid chiefs and members among the residents, leaving a few rule-breaking cases.
pub(crate) fn staff(town: &Town, rng: &mut ChaCha8Rng) -> Vec<StaffRow> {
    let persons = &town.people.persons;
    // Residents by second-level grid: (community, l1, l2) -> person indices.
    let mut by_l2: std::collections::BTreeMap<(usize, usize, usize), Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, p) in persons.iter().enumerate() {
        let c = &town.compounds[p.compound as usize];
        by_l2.entry(town.block_grid[c.block]).or_default().push(i);
    }
    let empty = Vec::new();
    let mut rows = Vec::new();
    // Rule breakers for later checks: two chiefs who are not party members, two grids with
    // no members (picked among all grids of the town by position).
    let n_grids: usize = town
        .communities
        .iter()
        .map(|c| c.grids.iter().map(|g| 1 + g.children.len()).sum::<usize>())
        .sum();
    let pick_two = |rng: &mut ChaCha8Rng| {
        let a = rng.gen_range(0..n_grids);
        let b = (a + 1 + rng.gen_range(0..n_grids.max(2) - 1)) % n_grids;
        [a, b]
    };
    let non_member_chief = pick_two(rng);
    let no_members = pick_two(rng);
    let mut gi = 0usize;
    for (ci, com) in town.communities.iter().enumerate() {
        let mut codes: Vec<(usize, String, bool)> = Vec::new();
        let code_of = |person: usize, committee: bool, codes: &mut Vec<(usize, String, bool)>| {
            if let Some(e) = codes.iter().find(|e| e.0 == person) {
                return (e.1.clone(), e.2);
            }
            let code = format!("{}-W{:02}", com.code, codes.len() + 1);
            codes.push((person, code.clone(), committee));
            (code, committee)
        };
        for (i1, g1) in com.grids.iter().enumerate() {
            let l1_people: Vec<usize> = (0..g1.children.len())
                .flat_map(|i2| by_l2.get(&(ci, i1, i2)).unwrap_or(&empty).iter().copied())
                .collect();
            let mut assign = |grid: &Grid,
                              pool: &[usize],
                              reuse: &[usize],
                              chief_committee: f64,
                              rng: &mut ChaCha8Rng,
                              codes: &mut Vec<(usize, String, bool)>,
                              gi: usize|
             -> Vec<usize> {
                let party = |i: &usize| persons[*i].membership != Membership::None;
                let full_adult = |i: &usize| {
                    persons[*i].membership == Membership::Full
                        && (25..66).contains(&persons[*i].age())
                };
                let working_age = |i: &usize| (20..66).contains(&persons[*i].age());
                let choose = |rng: &mut ChaCha8Rng, f: &dyn Fn(&usize) -> bool| {
                    let c: Vec<usize> = pool.iter().copied().filter(|i| f(i)).collect();
                    (!c.is_empty()).then(|| c[rng.gen_range(0..c.len())])
                };
                let chief = if non_member_chief.contains(&gi) {
                    choose(rng, &|i| working_age(i) && !party(i))
                } else if !reuse.is_empty() && rng.gen_bool(0.3) {
                    Some(reuse[rng.gen_range(0..reuse.len())])
                } else {
                    choose(rng, &full_adult).or_else(|| choose(rng, &working_age))
                };
                let mut team = Vec::new();
                if let Some(p) = chief {
                    let committee = rng.gen_bool(chief_committee);
                    let (code, committee) = code_of(p, committee, codes);
                    rows.push(StaffRow {
                        code,
                        person: p,
                        committee,
                        grid: grid.code.clone(),
                        role: "chief",
                        duty_phone: String::new(),
                    });
                    team.push(p);
                }
                if !no_members.contains(&gi) {
                    for _ in 0..rng.gen_range(1..4) {
                        let m = if rng.gen_bool(0.7) {
                            choose(rng, &|i| party(i) && working_age(i))
                        } else {
                            choose(rng, &working_age)
                        };
                        if let Some(m) = m.filter(|m| !team.contains(m)) {
                            let committee = rng.gen_bool(0.15);
                            let (code, committee) = code_of(m, committee, codes);
                            rows.push(StaffRow {
                                code,
                                person: m,
                                committee,
                                grid: grid.code.clone(),
                                role: "member",
                                duty_phone: String::new(),
                            });
                            team.push(m);
                        }
                    }
                }
                team
            };
            let team1 = assign(g1, &l1_people, &[], 0.9, rng, &mut codes, gi);
            gi += 1;
            for (i2, g2) in g1.children.iter().enumerate() {
                let pool = by_l2.get(&(ci, i1, i2)).unwrap_or(&empty);
                // Reuse only first-level staff who live in this second-level grid.
                let reuse: Vec<usize> =
                    team1.iter().copied().filter(|p| pool.contains(p)).collect();
                assign(g2, pool, &reuse, 0.7, rng, &mut codes, gi);
                gi += 1;
            }
        }
    }
    rows
}
