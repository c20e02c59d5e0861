//! One town of the demo district: lattice, compounds, the community and grid hierarchy, and the
//! household counts that make every second-level grid hold 300-500 households.
//!
//! Owns the order of generation and the per-phase random streams of a tile (the data it makes
//! is in `model`). It must not write files (that is `output`) or choose coordinates on the
//! globe.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::lattice::{self, Lattice};
use super::layout::{self, Compound, Sub};
use super::model::{Community, Grid, People, Town, TownSpec};
use super::names;
use super::partition::{partition, Graph};
use super::people;
use super::stations;
use super::DemoError;

/// Fewest households in a second-level grid.
pub(crate) const L2_MIN: u32 = 300;
/// Most households in a second-level grid.
pub(crate) const L2_MAX: u32 = 500;
/// Average residents per household.
pub(crate) const PER_HOUSEHOLD: f64 = 2.7;

/// A random stream for one phase of one tile: independent of every other phase and tile.
pub(crate) fn stream(seed: u64, tile: usize, phase: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(((tile as u64) << 8) | phase);
    r
}

fn subgraph(lat: &Lattice, blocks: &[usize], weight: &[f64]) -> Graph {
    let local: BTreeMap<usize, usize> = blocks.iter().enumerate().map(|(i, &b)| (b, i)).collect();
    Graph {
        adj: blocks
            .iter()
            .map(|&b| {
                lat.blocks[b]
                    .neighbours
                    .iter()
                    .filter_map(|n| local.get(n).copied())
                    .collect()
            })
            .collect(),
        weight: blocks.iter().map(|&b| weight[b]).collect(),
        pos: blocks.iter().map(|&b| lat.blocks[b].centroid).collect(),
    }
}

fn groups_of(blocks: &[usize], group: &[usize]) -> Vec<Vec<usize>> {
    let k = group.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); k];
    for (i, &b) in blocks.iter().enumerate() {
        out[group[i]].push(b);
    }
    out
}

/// Sets integer households summing to `target`, close to `weight`, inside `[lo, hi]`.
pub(crate) fn apportion(target: u32, weight: &[f64], lo: &[u32], hi: &[u32]) -> Option<Vec<u32>> {
    let slo: u32 = lo.iter().sum();
    let shi: u32 = hi.iter().sum();
    if slo > target || shi < target {
        return None;
    }
    let fill = |f: f64| -> Vec<f64> {
        weight
            .iter()
            .zip(lo.iter().zip(hi))
            .map(|(w, (&l, &h))| (w * f).clamp(f64::from(l), f64::from(h)))
            .collect()
    };
    let (mut a, mut b) = (0.0, 1.0);
    while fill(b).iter().sum::<f64>() < f64::from(target) && b < 1e9 {
        b *= 2.0;
    }
    for _ in 0..80 {
        let m = (a + b) / 2.0;
        if fill(m).iter().sum::<f64>() < f64::from(target) {
            a = m;
        } else {
            b = m;
        }
    }
    let x = fill(b);
    let mut h: Vec<u32> = x.iter().map(|v| v.floor() as u32).collect();
    let mut sum: i64 = h.iter().map(|&v| i64::from(v)).sum();
    // Largest remainders first, then any building with room, until the sum is exact.
    let mut order: Vec<usize> = (0..h.len()).collect();
    order.sort_by(|&i, &j| {
        (x[j] - x[j].floor())
            .total_cmp(&(x[i] - x[i].floor()))
            .then(i.cmp(&j))
    });
    while sum != i64::from(target) {
        let mut moved = false;
        for &i in &order {
            if sum < i64::from(target) && h[i] < hi[i] {
                h[i] += 1;
                sum += 1;
                moved = true;
            } else if sum > i64::from(target) && h[i] > lo[i] {
                h[i] -= 1;
                sum -= 1;
                moved = true;
            }
            if sum == i64::from(target) {
                break;
            }
        }
        if !moved {
            return None;
        }
    }
    Some(h)
}

/// Per-block sums that decide whether a set of blocks can be one second-level grid.
struct Sums {
    /// Nominal households.
    weight: Vec<f64>,
    /// Fewest households the block's buildings can hold.
    lo: Vec<u32>,
    /// Most households the block's buildings can hold.
    hi: Vec<u32>,
}

/// Splits a first-level grid into two or more second-level groups whose households can be 300-500,
/// preferring groups whose nominal households already are; `None` if no attempt fits.
fn split_l1(
    lat: &Lattice,
    blocks: &[usize],
    sums: &Sums,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<Vec<usize>>> {
    let sub = subgraph(lat, blocks, &sums.weight);
    let w: f64 = sub.weight.iter().sum();
    // At least two second-level grids: a first-level grid is always split.
    if blocks.len() < 2 {
        return None;
    }
    let base = ((w / 400.0).round() as usize).max(2).min(blocks.len());
    let mut best: Option<(f64, Vec<Vec<usize>>)> = None;
    for attempt in 0..24 {
        let k = match attempt / 8 {
            0 => base,
            1 => (base + 1).min(blocks.len()),
            _ => base.saturating_sub(1).max(2),
        };
        let groups = groups_of(blocks, &partition(&sub, k, rng));
        let mut score = 0.0_f64;
        let mut ok = true;
        for g in &groups {
            let wl: f64 = g.iter().map(|&b| sums.weight[b]).sum();
            let lo: u32 = g.iter().map(|&b| sums.lo[b]).sum();
            let hi: u32 = g.iter().map(|&b| sums.hi[b]).sum();
            ok &= lo <= L2_MAX && hi >= L2_MIN;
            score = score.max(
                (f64::from(L2_MIN) - wl)
                    .max(wl - f64::from(L2_MAX))
                    .max(0.0),
            );
        }
        if ok && best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, groups));
        }
        if best.as_ref().is_some_and(|(s, _)| *s == 0.0) {
            break;
        }
    }
    best.map(|(_, g)| g)
}

/// First-level grids of a community (3-6), each with its second-level split.
#[allow(clippy::type_complexity)]
fn split_community(
    lat: &Lattice,
    blocks: &[usize],
    sums: &Sums,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<(Vec<usize>, Vec<Vec<usize>>)>> {
    let w: f64 = blocks.iter().map(|&b| sums.weight[b]).sum();
    let sub = subgraph(lat, blocks, &sums.weight);
    'attempt: for _ in 0..16 {
        let k = ((w / rng.gen_range(850.0..1100.0)).round() as usize)
            .clamp(3, 6)
            .min(blocks.len());
        let mut out = Vec::new();
        for g1 in groups_of(blocks, &partition(&sub, k, rng)) {
            let Some(l2) = split_l1(lat, &g1, sums, rng) else {
                continue 'attempt;
            };
            out.push((g1, l2));
        }
        return Some(out);
    }
    None
}

/// Compounds and their buildings laid out in the blocks, with nominal households scaled so
/// the town hits its target; returns them with the nominal households of each block.
fn laid_out(
    lat: &Lattice,
    spec: &TownSpec,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<Compound>, Vec<f64>), DemoError> {
    let mut compounds = layout::plan(lat, rng);
    for c in &mut compounds {
        layout::place(lat, c, rng);
    }
    let mut block_compounds: Vec<Vec<usize>> = vec![Vec::new(); lat.blocks.len()];
    for (ci, c) in compounds.iter().enumerate() {
        block_compounds[c.block].push(ci);
    }
    for ids in &block_compounds {
        layout::trim_block(&mut compounds, ids, L2_MAX - 60, rng);
    }
    let total: f64 = compounds
        .iter()
        .flat_map(|c| &c.buildings)
        .map(|b| b.nominal)
        .sum();
    if total <= 0.0 {
        return Err(DemoError::Layout(format!(
            "{}: no residential buildings",
            spec.name
        )));
    }
    let f = spec.households / total;
    let mut weight = vec![0.0; lat.blocks.len()];
    for c in &mut compounds {
        for b in &mut c.buildings {
            b.nominal *= f;
            weight[c.block] += b.nominal;
        }
    }
    Ok((compounds, weight))
}

/// The blocks of one community with its first-level grids, each with the blocks of its
/// second-level grids.
type CommunityPlan = (Vec<usize>, Vec<(Vec<usize>, Vec<Vec<usize>>)>);

/// The plan of every community of a town.
type GridPlan = Vec<CommunityPlan>;

/// Splits the town into communities, first- and second-level grids whose households can
/// be 300-500, retrying a few times.
fn split_town(
    lat: &Lattice,
    spec: &TownSpec,
    sums: &Sums,
    rng: &mut ChaCha8Rng,
) -> Result<GridPlan, DemoError> {
    let all: Vec<usize> = (0..lat.blocks.len()).collect();
    let k = spec.communities.len();
    for _ in 0..12 {
        let cgroup = partition(&subgraph(lat, &all, &sums.weight), k, rng);
        let cblocks = groups_of(&all, &cgroup);
        if cblocks.len() != k {
            break;
        }
        let split: Option<Vec<_>> = cblocks
            .iter()
            .map(|blocks| split_community(lat, blocks, sums, rng))
            .collect();
        if let Some(split) = split {
            return Ok(cblocks.into_iter().zip(split).collect());
        }
    }
    Err(DemoError::Layout(format!(
        "{}: no split into grids of {L2_MIN}-{L2_MAX} households",
        spec.name
    )))
}

/// The communities and grids of a plan, with each block's (community, first-level,
/// second-level) index; every residential building's households are set so each
/// second-level grid holds 300-500, and its residents follow.
struct Hierarchy<'a> {
    spec: &'a TownSpec,
    compounds: &'a [Compound],
    block_compounds: Vec<Vec<usize>>,
    block_grid: Vec<(usize, usize, usize)>,
    building_households: BTreeMap<(usize, usize), u32>,
}

impl Hierarchy<'_> {
    /// Sizes the second-level grid `(ci, i1, i2)` of blocks `b2` inside first-level grid
    /// `g1name`: a household target near its nominal households, apportioned to its
    /// residential buildings.
    fn second_level(
        &mut self,
        (ci, i1, i2): (usize, usize, usize),
        b2: &[usize],
        g1name: &str,
        rng: &mut ChaCha8Rng,
    ) -> Result<u32, DemoError> {
        let compounds = self.compounds;
        let mut keys = Vec::new();
        let (mut wv, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
        for &b in b2 {
            for &c in &self.block_compounds[b] {
                for (bi, bd) in compounds[c].buildings.iter().enumerate() {
                    if compounds[c].sub.residential() {
                        keys.push((c, bi));
                        wv.push(bd.nominal);
                        lo.push(bd.lo);
                        hi.push(bd.hi);
                    }
                }
            }
        }
        let (slo, shi): (u32, u32) = (lo.iter().sum(), hi.iter().sum());
        let wsum: f64 = wv.iter().sum();
        let (a, b) = (slo.max(L2_MIN + 5), shi.min(L2_MAX - 5));
        let (a, b) = if a <= b {
            (a, b)
        } else {
            (slo.max(L2_MIN), shi.min(L2_MAX))
        };
        let target = ((wsum * rng.gen_range(0.96..1.04)).round() as u32).clamp(a, b);
        let hs = apportion(target, &wv, &lo, &hi)
            .ok_or_else(|| DemoError::Layout(format!("{g1name}: cannot size grid {}", i2 + 1)))?;
        for (key, h) in keys.into_iter().zip(hs) {
            self.building_households.insert(key, h);
        }
        for &b in b2 {
            self.block_grid[b] = (ci, i1, i2);
        }
        Ok(target)
    }

    /// Community `ci` of blocks `blocks` with its first- and second-level grids.
    fn community(
        &mut self,
        ci: usize,
        (blocks, l1s): CommunityPlan,
        rng: &mut ChaCha8Rng,
    ) -> Result<Community, DemoError> {
        let (code, name) = self.spec.communities[ci].clone();
        let mut grids = Vec::new();
        for (i1, (b1, l2s)) in l1s.into_iter().enumerate() {
            let g1code = format!("{code}{:02}", i1 + 1);
            let g1name = format!("{name}第{}网格", i1 + 1);
            let mut children = Vec::new();
            for (i2, b2) in l2s.into_iter().enumerate() {
                let households = self.second_level((ci, i1, i2), &b2, &g1name, rng)?;
                children.push(Grid {
                    code: format!("{g1code}{:02}", i2 + 1),
                    name: format!("{g1name}第{}微网格", i2 + 1),
                    blocks: b2,
                    children: Vec::new(),
                    households,
                });
            }
            grids.push(Grid {
                code: g1code,
                name: g1name,
                households: children.iter().map(|c| c.households).sum(),
                blocks: b1,
                children,
            });
        }
        Ok(Community {
            code,
            name,
            blocks,
            grids,
        })
    }
}

/// Compounds ordered by community then block (each compound's community set first).
fn ordered_compounds(
    mut compounds: Vec<Compound>,
    block_grid: &[(usize, usize, usize)],
) -> Vec<Compound> {
    for c in &mut compounds {
        c.community = block_grid[c.block].0;
    }
    let mut order: Vec<usize> = (0..compounds.len()).collect();
    order.sort_by_key(|&i| (compounds[i].community, compounds[i].block, i));
    let mut slots: Vec<Option<Compound>> = compounds.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("each compound moved once"))
        .collect()
}

/// Generates one town.
pub(crate) fn build(seed: u64, spec: TownSpec) -> Result<Town, DemoError> {
    let tile = spec.tile;
    let mut r_lat = stream(seed, tile, 1);
    let lat = lattice::build(&mut r_lat, &spec.avenue, spec.angle);
    debug_assert!(lat.pieces_convex(), "lattice pieces must be convex");
    let (mut compounds, weight) = laid_out(&lat, &spec, &mut stream(seed, tile, 2))?;

    // Communities, first-level grids, second-level grids: retry until every level fits.
    let nb = lat.blocks.len();
    let mut sums = Sums {
        weight,
        lo: vec![0; nb],
        hi: vec![0; nb],
    };
    for c in &compounds {
        for bd in &c.buildings {
            sums.lo[c.block] += bd.lo;
            sums.hi[c.block] += bd.hi;
        }
    }
    let mut r_grid = stream(seed, tile, 3);
    let plan = split_town(&lat, &spec, &sums, &mut r_grid)?;
    let mut block_compounds: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for (ci, c) in compounds.iter().enumerate() {
        block_compounds[c.block].push(ci);
    }
    let mut h = Hierarchy {
        spec: &spec,
        compounds: &compounds,
        block_compounds,
        block_grid: vec![(0, 0, 0); nb],
        building_households: BTreeMap::new(),
    };
    let mut communities = Vec::new();
    for (ci, community) in plan.into_iter().enumerate() {
        communities.push(h.community(ci, community, &mut r_grid)?);
    }
    let (block_grid, building_households) = (h.block_grid, h.building_households);
    for ((c, b), h) in building_households {
        let bd = &mut compounds[c].buildings[b];
        bd.households = h;
        bd.residents = if h == 0 {
            0
        } else {
            ((f64::from(h) * PER_HOUSEHOLD * r_grid.gen_range(0.88..1.12)).round() as u32).max(h)
        };
    }

    // Codes and names, compounds ordered by community then block.
    let mut compounds = ordered_compounds(compounds, &block_grid);
    let mut r_name = stream(seed, tile, 4);
    name_compounds(&spec, &lat, &communities, &mut compounds, &mut r_name);

    let mut town = Town {
        spec,
        lat,
        communities,
        compounds,
        block_grid,
        stations: Vec::new(),
        people: People::default(),
        staff: Vec::new(),
    };
    let mut r_st = stream(seed, tile, 5);
    town.stations = stations::place(&town, &mut r_st);
    let mut r_pp = stream(seed, tile, 6);
    town.people = people::generate(&town, &mut r_pp);
    let mut r_sf = stream(seed, tile, 7);
    town.staff = people::staff(&town, &mut r_sf);
    people::duty_phones(&mut town.staff, &mut stream(seed, tile, 9));
    Ok(town)
}

/// Codes and names of the compounds, in their order.
fn name_compounds(
    spec: &TownSpec,
    lat: &Lattice,
    communities: &[Community],
    compounds: &mut [Compound],
    rng: &mut ChaCha8Rng,
) {
    let short = spec.short().to_string();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut seq = vec![0usize; communities.len()];
    let mut house_no: BTreeMap<String, u32> = BTreeMap::new();
    let (mut n_school, mut n_gov) = (0usize, 0usize);
    for c in compounds.iter_mut() {
        seq[c.community] += 1;
        c.code = format!("{}-C{:03}", communities[c.community].code, seq[c.community]);
        let (a, b) = lat
            .frontage(c.pieces[0])
            .first()
            .copied()
            .or_else(|| c.pieces.iter().flat_map(|&p| lat.frontage(p)).next())
            .expect("every block touches a street");
        let street = lat.line_of(a, b).to_string();
        let mut name = String::new();
        for attempt in 0..8 {
            name = match c.sub {
                Sub::HighRise => names::estate(rng),
                Sub::LowRise => names::courtyard(rng, &street),
                Sub::Office => names::commercial(rng),
                Sub::Park => names::park(rng),
                Sub::School => {
                    let list = [
                        "中心小学",
                        "中学",
                        "第二小学",
                        "实验小学",
                        "第二中学",
                        "第三小学",
                    ];
                    format!("{short}{}", list[(n_school + attempt) % list.len()])
                }
                Sub::Government => {
                    let list = [
                        "镇人民政府",
                        "镇便民服务中心",
                        "镇财政所",
                        "镇文化站",
                        "镇综合执法队",
                    ];
                    format!("{short}{}", list[(n_gov + attempt) % list.len()])
                }
            };
            if !used.contains(&name) {
                break;
            }
            if attempt == 7 {
                name = format!("{name}{}期", ["二", "三", "四", "五"][rng.gen_range(0..4)]);
            }
        }
        match c.sub {
            Sub::School => n_school += 1,
            Sub::Government => n_gov += 1,
            _ => {}
        }
        used.insert(name.clone());
        c.name = name;
        let no = house_no
            .entry(street.clone())
            .or_insert(rng.gen_range(0..5) * 2 + 1);
        let number = *no;
        *no += 2 * rng.gen_range(1..4);
        let labels = match c.sub {
            Sub::School => vec!["教学楼", "综合楼", "实验楼", "办公楼", "食堂"],
            Sub::Park => vec!["管理用房", "茶室"],
            Sub::Government => vec!["办公楼", "附楼", "档案楼"],
            _ => vec![],
        };
        for (k, bd) in c.buildings.iter_mut().enumerate() {
            bd.code = format!("{}-B{:02}", c.code, k + 1);
            let suffix = match c.sub {
                Sub::HighRise | Sub::LowRise => format!("{}栋", k + 1),
                Sub::Office => format!("{}座", ["A", "B", "C", "D"][k.min(3)]),
                _ => labels.get(k).map_or_else(
                    || format!("{}号楼", k + 1),
                    std::string::ToString::to_string,
                ),
            };
            bd.name = format!("{}{}", c.name, suffix);
            bd.address = format!("{}{}{}号{}", spec.name, street, number, bd.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_hits_target_within_bounds() {
        let w = [10.0, 50.0, 7.0, 90.0];
        let lo = [4, 24, 4, 24];
        let hi = [24, 120, 24, 120];
        let h = apportion(250, &w, &lo, &hi).expect("feasible");
        assert_eq!(h.iter().sum::<u32>(), 250);
        // Heavier buildings get more households.
        assert!(h[3] > h[1] && h[1] > h[0]);
        for i in 0..4 {
            assert!(lo[i] <= h[i] && h[i] <= hi[i]);
        }
        assert!(apportion(20, &w, &lo, &hi).is_none());
        assert!(apportion(300, &w, &lo, &hi).is_none());
    }
}
