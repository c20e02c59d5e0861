//! Party organisations of a town (`party.json`): officers of the 大党委, the grid branches and
//! groups; functional organisations of compounds, commercial buildings and associations, with
//! members; social organisations; 双报到 units, members, volunteer projects and posts of the
//! reference year. Rule breakers are left on purpose, a few per town, on both sides of each
//! rule (docs/domain.md), so that every party rule check has something to find.
//!
//! Owns the synthetic party data only; refers to people, grids, compounds and buildings by the
//! codes the other phases gave them, and only to people `people.csv.gz` always holds (party
//! members, at every scale). Makes no geometry and writes no file (that is `output`).

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::layout::Sub;
use super::model::{Membership, Town, REF_YEAR};
use super::names::{pick, shuffle};
use super::output::Projection;
use crate::domain::party::{
    cell_org_code, committee_code, AssociationRecord, AttachRecord, DualRecord, MemberRecord,
    OfficerRecord, OrgRecord, PartyFile, PostRecord, ProjectRecord, UnitRecord,
};
use crate::domain::GridLevel;

const WELFARE: &[&str] = &[
    "爱心公益协会",
    "夕阳红志愿服务队",
    "法律援助志愿服务队",
    "环保志愿者协会",
    "助残服务社",
    "四点半课堂志愿服务队",
    "老妈妈劝和队",
    "关爱互助睦邻点",
    "亲情楼院服务队",
    "爱心超市志愿服务队",
];
const SERVICE: &[&str] = &[
    "个体劳动者协会",
    "物业服务协会",
    "家政服务协会",
    "餐饮业协会",
    "商户联谊会",
];
const OTHER: &[&str] = &["书画协会", "太极拳协会", "广场舞队", "摄影协会"];
const PROJECTS: &[&str] = &[
    "关爱空巢老人",
    "四点半课堂",
    "文明交通劝导",
    "社区环境整治",
    "法律咨询进社区",
    "义诊进社区",
    "垃圾分类宣传",
    "邻里互助",
    "助学帮困",
    "消防安全宣传",
];
const POSTS: &[&str] = &[
    "楼栋信息员",
    "文明劝导员",
    "环境监督员",
    "政策宣传员",
    "邻里调解员",
    "助老服务员",
];

/// Where a person lives and what the rules need to know about them.
struct Resident {
    /// Person code.
    code: String,
    /// Community, first- and second-level grid indexes.
    cell: (usize, usize, usize),
    /// Compound index.
    compound: usize,
    full: bool,
    age: u32,
    work_unit: Option<u32>,
}

fn date(rng: &mut ChaCha8Rng, from: u32, to: u32) -> String {
    format!(
        "{}-{:02}-{:02}",
        rng.gen_range(from..=to),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28)
    )
}

/// Draws `k` distinct elements of `from` (fewer if it has fewer), in a random order.
fn draw<T: Copy>(rng: &mut ChaCha8Rng, from: &[T], k: usize) -> Vec<T> {
    let mut v = from.to_vec();
    shuffle(rng, &mut v);
    v.truncate(k);
    v
}

/// Draws a random number of distinct elements, the number drawn from `k`.
fn draw_some<T: Copy>(
    rng: &mut ChaCha8Rng,
    from: &[T],
    k: std::ops::RangeInclusive<usize>,
) -> Vec<T> {
    let k = rng.gen_range(k);
    draw(rng, from, k)
}

/// The party members of a town with what the rules need to know, and the officer seats
/// handed out so far (a person holds at most one seat in an organisation).
struct Party<'t> {
    town: &'t Town,
    proj: &'t Projection,
    members: Vec<Resident>,
    held: BTreeSet<(String, usize)>,
}

/// Old enough and a full member: may hold an officer's seat.
fn officer_age(r: &Resident) -> bool {
    r.full && (28..70).contains(&r.age)
}

/// Draws the index of the one item of `n` left out on purpose (none when there is only one).
fn skip(rng: &mut ChaCha8Rng, n: usize) -> Option<usize> {
    (n > 1).then(|| rng.gen_range(0..n))
}

/// The functional organisation `name` of the compound, building or association `of` (its
/// `kind`), coded after it.
fn functional_org(of: &str, name: String, form: &str, kind: &str) -> OrgRecord {
    OrgRecord {
        code: format!("{of}-GN"),
        name,
        kind: "functional".into(),
        form: form.into(),
        community_code: None,
        attached_to: Some(AttachRecord {
            kind: kind.into(),
            code: of.to_string(),
        }),
    }
}

impl<'t> Party<'t> {
    /// The party members among the town's residents, with their person codes.
    fn new(town: &'t Town, proj: &'t Projection) -> Self {
        let tile = town.spec.tile;
        let members = town
            .people
            .persons
            .iter()
            .enumerate()
            .filter(|(_, p)| p.membership != Membership::None)
            .map(|(i, p)| {
                let c = &town.compounds[p.compound as usize];
                Resident {
                    code: format!("P{tile:03}{:07}", i + 1),
                    cell: town.block_grid[c.block],
                    compound: p.compound as usize,
                    full: p.membership == Membership::Full,
                    age: p.age(),
                    work_unit: p.work_unit,
                }
            })
            .collect();
        Self {
            town,
            proj,
            members,
            held: BTreeSet::new(),
        }
    }

    /// Indexes of the members for which `f` holds.
    fn in_cell(&self, f: impl Fn(&Resident) -> bool) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| f(&self.members[i]))
            .collect()
    }

    /// Gives member `who` a seat in `org`, unless they hold one there already.
    fn officer(&mut self, org: &str, who: usize, role: &str, out: &mut PartyFile) {
        if self.held.insert((org.to_string(), who)) {
            out.officers.push(OfficerRecord {
                org_code: org.to_string(),
                person_code: self.members[who].code.clone(),
                role: role.to_string(),
            });
        }
    }

    /// A random block centre of community `ci`, as a location.
    fn centre(&self, ci: usize, rng: &mut ChaCha8Rng) -> Option<[f64; 2]> {
        let blocks = &self.town.communities[ci].blocks;
        let b = blocks[rng.gen_range(0..blocks.len())];
        Some(self.proj.lonlat(self.town.lat.blocks[b].centroid))
    }

    /// Officers of the 大党委 and of every cell; the branch `bare_branch` gets one seat only.
    fn officers(&mut self, rng: &mut ChaCha8Rng, out: &mut PartyFile, bare_branch: (usize, usize)) {
        let town = self.town;
        for (ci, com) in town.communities.iter().enumerate() {
            let pool = self.in_cell(|r| r.cell.0 == ci && officer_age(r));
            let dw = committee_code(&com.code);
            let chosen = draw_some(rng, &pool, 8..=10);
            for (k, &who) in chosen.iter().enumerate() {
                let role = match k {
                    0 => "secretary",
                    1 => "deputy_secretary",
                    2..=4 => "committee",
                    _ => "part_time_committee",
                };
                self.officer(&dw, who, role, out);
            }
            for (i1, g1) in com.grids.iter().enumerate() {
                let pool = self.in_cell(|r| r.cell.0 == ci && r.cell.1 == i1 && officer_age(r));
                let seats = if (ci, i1) == bare_branch {
                    1
                } else {
                    rng.gen_range(3..=5)
                };
                let zb = cell_org_code(&g1.code, GridLevel::First);
                for (k, &who) in draw(rng, &pool, seats).iter().enumerate() {
                    let role = if k == 0 { "secretary" } else { "committee" };
                    self.officer(&zb, who, role, out);
                }
                for (i2, g2) in g1.children.iter().enumerate() {
                    let pool = self.in_cell(|r| r.cell == (ci, i1, i2) && officer_age(r));
                    if let Some(&who) = draw(rng, &pool, 1).first() {
                        let org = cell_org_code(&g2.code, GridLevel::Second);
                        self.officer(&org, who, "group_leader", out);
                    }
                }
            }
        }
    }

    /// Social organisations: public-welfare and volunteer ones (community `few_welfare` short
    /// of five), service associations with party members, and clubs. Returns the indexes of
    /// each community's welfare and volunteer organisations in `out.associations`.
    fn associations(
        &self,
        rng: &mut ChaCha8Rng,
        out: &mut PartyFile,
        few_welfare: usize,
    ) -> BTreeMap<usize, Vec<usize>> {
        let mut welfare_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (ci, com) in self.town.communities.iter().enumerate() {
            let short = com.name.trim_end_matches("社区");
            let n_welfare = if ci == few_welfare {
                4
            } else {
                rng.gen_range(5..=8)
            };
            let mut kinds: Vec<(&str, String)> = draw(rng, WELFARE, n_welfare)
                .into_iter()
                .enumerate()
                .map(|(k, n)| {
                    let kind = if k % 2 == 0 {
                        "public_welfare"
                    } else {
                        "volunteer"
                    };
                    (kind, format!("{short}{n}"))
                })
                .collect();
            kinds.extend(
                draw_some(rng, SERVICE, 1..=3)
                    .into_iter()
                    .map(|n| ("service", format!("{short}社区{n}"))),
            );
            kinds.extend(
                draw_some(rng, OTHER, 0..=2)
                    .into_iter()
                    .map(|n| ("other", format!("{short}{n}"))),
            );
            let pool = self.in_cell(|r| r.cell.0 == ci);
            let full_pool = self.in_cell(|r| r.cell.0 == ci && r.full);
            for (k, (kind, name)) in kinds.into_iter().enumerate() {
                let code = format!("{}-A{:02}", com.code, k + 1);
                let picked = if kind == "service" {
                    draw_some(rng, &full_pool, 2..=6)
                } else {
                    draw_some(rng, &pool, 0..=4)
                };
                if kind == "public_welfare" || kind == "volunteer" {
                    welfare_of
                        .entry(ci)
                        .or_default()
                        .push(out.associations.len());
                }
                out.associations.push(AssociationRecord {
                    code,
                    name,
                    kind: kind.to_string(),
                    community_code: com.code.clone(),
                    founded_year: Some(rng.gen_range(2008..=REF_YEAR as i32)),
                    location: self.centre(ci, rng),
                    members: picked
                        .iter()
                        .map(|&i| self.members[i].code.clone())
                        .collect(),
                });
            }
        }
        welfare_of
    }

    /// Functional organisations of compounds: those that should have one (three full
    /// members and 500 residents, or new and half occupied) do, but for one of each kind.
    fn compound_orgs(&self, rng: &mut ChaCha8Rng) -> Vec<(OrgRecord, Vec<usize>)> {
        let town = self.town;
        let mut compound_full: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, r) in self.members.iter().enumerate() {
            compound_full.entry(r.compound).or_default().push(i);
        }
        let mut due_compounds = Vec::new();
        let mut due_new = Vec::new();
        for (k, c) in town.compounds.iter().enumerate() {
            let residents: u32 = c.buildings.iter().map(|b| b.residents).sum();
            let here = compound_full.get(&k).cloned().unwrap_or_default();
            let full = here.iter().filter(|&&i| self.members[i].full).count();
            if c.sub.residential() && c.built_year >= 2018 && c.occupancy >= 0.5 {
                due_new.push(k);
            } else if c.sub.residential() && full >= 3 && residents >= 500 {
                due_compounds.push(k);
            }
        }
        let skip_compound = skip(rng, due_compounds.len());
        let skip_new = skip(rng, due_new.len());
        let skip_building = skip(rng, self.due_buildings().len());
        let mut functional = Vec::new();
        for (j, &k) in due_compounds.iter().chain(&due_new).enumerate() {
            let skipped = if j < due_compounds.len() {
                Some(j) == skip_compound
            } else {
                Some(j - due_compounds.len()) == skip_new
            };
            if skipped {
                continue;
            }
            let c = &town.compounds[k];
            let here = compound_full.get(&k).cloned().unwrap_or_default();
            let form = if here.len() >= 7 { "branch" } else { "group" };
            let picked: Vec<usize> = here.iter().copied().filter(|_| rng.gen_bool(0.6)).collect();
            let word = if form == "branch" { "支部" } else { "小组" };
            let name = format!("{}功能党{word}", c.name);
            let org = functional_org(&c.code, name, form, "compound");
            functional.push((org, picked));
        }
        self.building_orgs(rng, skip_building, &mut functional);
        functional
    }

    /// Office buildings with 300 or more employees: (compound, building) indexes.
    fn due_buildings(&self) -> Vec<(usize, usize)> {
        let mut due = Vec::new();
        for (k, c) in self.town.compounds.iter().enumerate() {
            if c.sub == Sub::Office {
                for (b, bd) in c.buildings.iter().enumerate() {
                    if bd.employees >= 300 {
                        due.push((k, b));
                    }
                }
            }
        }
        due
    }

    /// Functional organisations of large office buildings, all but the one at `skip_building`.
    fn building_orgs(
        &self,
        rng: &mut ChaCha8Rng,
        skip_building: Option<usize>,
        functional: &mut Vec<(OrgRecord, Vec<usize>)>,
    ) {
        let town = self.town;
        for (j, &(k, b)) in self.due_buildings().iter().enumerate() {
            if Some(j) == skip_building {
                continue;
            }
            let bd = &town.compounds[k].buildings[b];
            let ci = town.compounds[k].community;
            let working = self.in_cell(|r| r.cell.0 == ci && r.work_unit.is_some() && r.full);
            let picked = draw_some(rng, &working, 3..=8);
            let name = format!("{}功能党支部", bd.name);
            let org = functional_org(&bd.code, name, "branch", "building");
            functional.push((org, picked));
        }
    }

    /// Functional organisations of the service associations made since `first_association`
    /// that have three full members, all but one.
    fn association_orgs(
        &self,
        rng: &mut ChaCha8Rng,
        out: &PartyFile,
        first_association: usize,
        functional: &mut Vec<(OrgRecord, Vec<usize>)>,
    ) {
        let members = &self.members;
        let full_of = |a: &AssociationRecord| {
            a.members
                .iter()
                .filter(|m| members.iter().any(|r| &r.code == *m && r.full))
                .count()
        };
        let due_assoc: Vec<usize> = (first_association..out.associations.len())
            .filter(|&a| out.associations[a].kind == "service")
            .filter(|&a| full_of(&out.associations[a]) >= 3)
            .collect();
        let skip_assoc = skip(rng, due_assoc.len());
        for (j, &a) in due_assoc.iter().enumerate() {
            if Some(j) == skip_assoc {
                continue;
            }
            let rec = &out.associations[a];
            let picked: Vec<usize> = rec
                .members
                .iter()
                .filter_map(|m| members.iter().position(|r| &r.code == m))
                .collect();
            let name = format!("{}功能党支部", rec.name);
            let org = functional_org(&rec.code, name, "branch", "association");
            functional.push((org, picked));
        }
    }

    /// Writes the functional organisations with their members (a member joins one at most)
    /// and the first full member of each as its secretary or group leader.
    fn add_functional(&mut self, functional: Vec<(OrgRecord, Vec<usize>)>, out: &mut PartyFile) {
        let mut in_org: BTreeSet<usize> = BTreeSet::new();
        for (org, picked) in functional {
            let mut first_full = None;
            for &i in &picked {
                if in_org.insert(i) {
                    out.functional_members.push(MemberRecord {
                        org_code: org.code.clone(),
                        person_code: self.members[i].code.clone(),
                    });
                    if first_full.is_none() && self.members[i].full {
                        first_full = Some(i);
                    }
                }
            }
            if let Some(who) = first_full {
                let role = if org.form == "group" {
                    "group_leader"
                } else {
                    "secretary"
                };
                self.officer(&org.code, who, role, out);
            }
            out.orgs.push(org);
        }
    }

    /// 双报到 units: employers register with one community each, with their projects of the
    /// year (a few units take none). Returns each (community, employer)'s unit code and each
    /// community's project codes.
    #[allow(clippy::type_complexity)]
    fn units(
        &self,
        rng: &mut ChaCha8Rng,
        out: &mut PartyFile,
    ) -> (
        BTreeMap<(usize, usize), String>,
        BTreeMap<usize, Vec<String>>,
    ) {
        let town = self.town;
        let n_communities = town.communities.len();
        let employers = &town.people.employers;
        let mut order: Vec<usize> = (0..employers.len())
            .filter(|&e| employers[e] != "个体经营")
            .collect();
        shuffle(rng, &mut order);
        let mut unit_of: BTreeMap<(usize, usize), String> = BTreeMap::new();
        let mut projects_of: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut no_project = 2usize;
        for (k, &e) in order.iter().enumerate() {
            let ci = k % n_communities;
            let com = &town.communities[ci];
            let code = format!("{}-U{:02}", com.code, k / n_communities + 1);
            let name = employers[e].clone();
            out.units.push(UnitRecord {
                code: code.clone(),
                party_org_name: Some(format!("{name}党支部")),
                name,
                community_code: com.code.clone(),
                registered_on: date(rng, 2015, REF_YEAR - 1),
                location: self.centre(ci, rng),
            });
            unit_of.insert((ci, e), code.clone());
            let n = if no_project > 0 && rng.gen_bool(0.15) {
                no_project -= 1;
                0
            } else {
                rng.gen_range(1..=2)
            };
            for (j, p) in draw(rng, PROJECTS, n).into_iter().enumerate() {
                let pcode = format!("{code}-V{REF_YEAR}{:02}", j + 1);
                out.projects.push(ProjectRecord {
                    code: pcode.clone(),
                    name: p.to_string(),
                    community_code: com.code.clone(),
                    unit_code: Some(code.clone()),
                    year: REF_YEAR as i32,
                });
                projects_of.entry(ci).or_default().push(pcode);
            }
        }
        (unit_of, projects_of)
    }

    /// 双报到 members: in-service members register where they live and take a post (some
    /// join a public-welfare organisation instead, a few do neither).
    fn dual_members(
        &self,
        rng: &mut ChaCha8Rng,
        out: &mut PartyFile,
        welfare_of: &BTreeMap<usize, Vec<usize>>,
    ) {
        let (unit_of, projects_of) = self.units(rng, out);
        for (i, r) in self.members.iter().enumerate() {
            let Some(e) = r.work_unit else { continue };
            if !(18..60).contains(&r.age) {
                continue;
            }
            let ci = r.cell.0;
            let com = &self.town.communities[ci];
            out.dual_members.push(DualRecord {
                person_code: r.code.clone(),
                unit_code: unit_of.get(&(ci, e as usize)).cloned(),
                community_code: com.code.clone(),
                registered_on: date(rng, 2015, REF_YEAR - 1),
            });
            let roll: f64 = rng.gen();
            let projects = projects_of.get(&ci).cloned().unwrap_or_default();
            if roll < 0.86 && !projects.is_empty() {
                let project = projects[rng.gen_range(0..projects.len())].clone();
                out.posts.push(PostRecord {
                    person_code: r.code.clone(),
                    year: REF_YEAR as i32,
                    post: pick(rng, POSTS).to_string(),
                    project_code: Some(project),
                });
            } else if roll < 0.93 {
                let welfare = welfare_of.get(&ci).cloned().unwrap_or_default();
                if let Some(&a) = welfare.get(rng.gen_range(0..welfare.len().max(1))) {
                    if !out.associations[a].members.contains(&self.members[i].code) {
                        out.associations[a]
                            .members
                            .push(self.members[i].code.clone());
                    }
                }
            }
        }
    }
}

/// Adds the party data of one town to `out`. Rule breakers are drawn first: one branch
/// per town without a committee, one community with too few welfare organisations, one of
/// each kind of functional organisation left unbuilt.
pub(crate) fn generate(town: &Town, proj: &Projection, rng: &mut ChaCha8Rng, out: &mut PartyFile) {
    let mut party = Party::new(town, proj);
    let n_communities = town.communities.len();
    let bare_community = rng.gen_range(0..n_communities);
    let bare_branch = (
        bare_community,
        rng.gen_range(0..town.communities[bare_community].grids.len().max(1)),
    );
    let few_welfare = rng.gen_range(0..n_communities);
    party.officers(rng, out, bare_branch);
    let first_association = out.associations.len();
    let welfare_of = party.associations(rng, out, few_welfare);
    let mut functional = party.compound_orgs(rng);
    party.association_orgs(rng, out, first_association, &mut functional);
    party.add_functional(functional, out);
    party.dual_members(rng, out, &welfare_of);
}
