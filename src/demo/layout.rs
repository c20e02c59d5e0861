//! Land use, compounds and building footprints inside street blocks.
//!
//! Owns what stands on each block: which compound occupies which pieces, and rectangles packed
//! inside each piece at least [`MARGIN`] metres from every piece edge (so from every street and
//! grid boundary). Households are only sized here ("nominal"); the final counts are set by the
//! town once grids are known.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geom::{dist, inset_convex, inside_convex, rotate, Pt};
use super::lattice::Lattice;
use super::names;

/// Distance in metres from every piece edge to the nearest building corner.
pub(crate) const MARGIN: f64 = 10.0;

/// What a compound is; maps onto the contract's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sub {
    /// New high-rise residential compound.
    HighRise,
    /// Old low-rise courtyard.
    LowRise,
    /// Commercial or office compound.
    Office,
    /// School campus.
    School,
    /// Public park.
    Park,
    /// Government offices.
    Government,
}

impl Sub {
    /// The contract's compound kind.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Sub::HighRise | Sub::LowRise => "residential",
            Sub::Office => "commercial",
            Sub::School | Sub::Park | Sub::Government => "other",
        }
    }

    /// Whether people live here.
    pub(crate) fn residential(self) -> bool {
        matches!(self, Sub::HighRise | Sub::LowRise)
    }
}

/// A building footprint and its sizes.
#[derive(Debug, Clone)]
pub(crate) struct Building {
    /// Rectangle corners, counter-clockwise, local metres.
    pub corners: [Pt; 4],
    /// Floors above ground.
    pub floors: u32,
    /// Staircases (单元).
    pub units: u32,
    /// Flats per floor per staircase.
    pub rooms: u32,
    /// Households suggested by the layout before grids are balanced.
    pub nominal: f64,
    /// Fewest households allowed for this kind of building.
    pub lo: u32,
    /// Most households allowed.
    pub hi: u32,
    /// Final households.
    pub households: u32,
    /// Final residents.
    pub residents: u32,
    /// Employees working here.
    pub employees: u32,
    /// Code, set with the compound code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Postal-style address.
    pub address: String,
}

/// A compound (小区/院落) on one or more pieces of one block.
#[derive(Debug, Clone)]
pub(crate) struct Compound {
    /// What it is.
    pub sub: Sub,
    /// Its block.
    pub block: usize,
    /// Its pieces (a subset of the block's).
    pub pieces: Vec<usize>,
    /// Share of flats occupied (0..1).
    pub occupancy: f64,
    /// Year of completion.
    pub built_year: u32,
    /// Display name, set after communities are known.
    pub name: String,
    /// Code, set after communities are known.
    pub code: String,
    /// Index of its community in the town.
    pub community: usize,
    /// Its buildings.
    pub buildings: Vec<Building>,
}

/// How buildings are packed in a compound.
struct Spec {
    /// Range of a building's depth (metres).
    depth: (f64, f64),
    /// Range of a building's width along its row.
    width: (f64, f64),
    /// Range of the gap between buildings in a row.
    gap: (f64, f64),
    /// Range of the gap between rows.
    row_gap: (f64, f64),
    /// Chance that a slot stays empty.
    skip: f64,
    /// Largest twist of a building (radians).
    tilt: f64,
}

/// A [`Spec`] from its ranges as (least, most) pairs in a row (depth, width, gap, row gap),
/// its skip chance and its twist.
const fn spec(r: [f64; 8], skip: f64, tilt: f64) -> Spec {
    Spec {
        depth: (r[0], r[1]),
        width: (r[2], r[3]),
        gap: (r[4], r[5]),
        row_gap: (r[6], r[7]),
        skip,
        tilt,
    }
}

const HIGH_SLAB: Spec = spec([14.0, 18.0, 26.0, 42.0, 12.0, 18.0, 20.0, 28.0], 0.0, 0.0);
const HIGH_TOWER: Spec = spec([18.0, 22.0, 18.0, 24.0, 10.0, 14.0, 15.0, 20.0], 0.0, 0.0);
const LOW: Spec = spec([9.0, 12.0, 12.0, 24.0, 5.0, 9.0, 8.0, 11.0], 0.3, 0.06);
const OFFICE: Spec = spec([18.0, 26.0, 28.0, 50.0, 14.0, 20.0, 16.0, 24.0], 0.2, 0.0);
const SCHOOL: Spec = spec([12.0, 16.0, 35.0, 55.0, 14.0, 20.0, 30.0, 45.0], 0.3, 0.0);
const PARK: Spec = spec([8.0, 10.0, 10.0, 14.0, 30.0, 50.0, 40.0, 60.0], 0.7, 0.1);
const GOV: Spec = spec([14.0, 18.0, 30.0, 45.0, 15.0, 20.0, 20.0, 30.0], 0.4, 0.0);

fn range(rng: &mut ChaCha8Rng, r: (f64, f64)) -> f64 {
    rng.gen_range(r.0..r.1)
}

/// Horizontal extent of a convex local-frame polygon at height `v`.
fn u_range(poly: &[Pt], v: f64) -> Option<(f64, f64)> {
    let n = poly.len();
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for i in 0..n {
        let a = poly[i];
        let b = poly[(i + 1) % n];
        if (a.y <= v && v <= b.y) || (b.y <= v && v <= a.y) {
            let u = if (b.y - a.y).abs() < 1e-12 {
                lo = lo.min(a.x.min(b.x));
                hi = hi.max(a.x.max(b.x));
                continue;
            } else {
                a.x + (b.x - a.x) * (v - a.y) / (b.y - a.y)
            };
            lo = lo.min(u);
            hi = hi.max(u);
        }
    }
    (lo < hi).then_some((lo, hi))
}

/// Packs rectangles in rows inside a convex piece, aligned with its longest edge.
fn pack(ring: &[Pt], spec: &Spec, rng: &mut ChaCha8Rng) -> Vec<[Pt; 4]> {
    let n = ring.len();
    let k = (0..n)
        .max_by(|&a, &b| {
            dist(ring[a], ring[(a + 1) % n]).total_cmp(&dist(ring[b], ring[(b + 1) % n]))
        })
        .expect("a piece has edges");
    let (p, q) = (ring[k], ring[(k + 1) % n]);
    let ang = (q.y - p.y).atan2(q.x - p.x);
    let to_local = |w: Pt| {
        rotate(
            Pt {
                x: w.x - p.x,
                y: w.y - p.y,
            },
            -ang,
        )
    };
    let to_world = |l: Pt| {
        let r = rotate(l, ang);
        Pt {
            x: r.x + p.x,
            y: r.y + p.y,
        }
    };
    let local: Vec<Pt> = ring.iter().map(|&w| to_local(w)).collect();
    let Some(inset) = inset_convex(&local, MARGIN) else {
        return Vec::new();
    };
    let vmin = inset.iter().map(|c| c.y).fold(f64::MAX, f64::min);
    let vmax = inset.iter().map(|c| c.y).fold(f64::MIN, f64::max);
    let mut out = Vec::new();
    let mut v = vmin + rng.gen_range(0.0..spec.row_gap.0 * 0.3);
    loop {
        let depth = range(rng, spec.depth);
        let row_gap = range(rng, spec.row_gap);
        if v + depth > vmax {
            break;
        }
        let (Some(a), Some(b)) = (u_range(&inset, v), u_range(&inset, v + depth)) else {
            v += depth + row_gap;
            continue;
        };
        let (ulo, uhi) = (a.0.max(b.0), a.1.min(b.1));
        let gap = range(rng, spec.gap);
        let mut u = ulo + rng.gen_range(0.0..gap * 0.5 + 0.01);
        loop {
            let w = range(rng, spec.width);
            if u + w > uhi {
                break;
            }
            if !rng.gen_bool(spec.skip) {
                let mut rect = [
                    Pt { x: u, y: v },
                    Pt { x: u + w, y: v },
                    Pt {
                        x: u + w,
                        y: v + depth,
                    },
                    Pt { x: u, y: v + depth },
                ];
                if spec.tilt > 0.0 {
                    // A slight twist, kept only if it stays in its own slot and the inset piece.
                    let t = rng.gen_range(-spec.tilt..spec.tilt);
                    let c = Pt {
                        x: u + w / 2.0,
                        y: v + depth / 2.0,
                    };
                    let turned = rect.map(|r| {
                        let d = rotate(
                            Pt {
                                x: r.x - c.x,
                                y: r.y - c.y,
                            },
                            t,
                        );
                        Pt {
                            x: c.x + d.x,
                            y: c.y + d.y,
                        }
                    });
                    let fits = turned.iter().all(|r| {
                        r.x > u - gap / 2.0 + 0.5
                            && r.x < u + w + gap / 2.0 - 0.5
                            && r.y > v - row_gap.min(spec.row_gap.0) / 2.0 + 0.5
                            && r.y < v + depth + spec.row_gap.0 / 2.0 - 0.5
                            && inside_convex(&inset, *r, 0.0)
                    });
                    if fits {
                        rect = turned;
                    }
                }
                out.push(rect.map(to_world));
            }
            u += w + gap;
        }
        v += depth + row_gap;
    }
    out
}

/// Keeps `max` of `v`, chosen at random but in their original order.
fn keep<T>(v: Vec<T>, max: usize, rng: &mut ChaCha8Rng) -> Vec<T> {
    if v.len() <= max {
        return v;
    }
    let mut idx: Vec<usize> = (0..v.len()).collect();
    names::shuffle(rng, &mut idx);
    idx.truncate(max);
    idx.sort_unstable();
    let mut slots: Vec<Option<T>> = v.into_iter().map(Some).collect();
    idx.into_iter()
        .map(|i| slots[i].take().expect("each index taken once"))
        .collect()
}

/// Blocks for what is not housing: offices near the centre, two government blocks close
/// to it, schools and parks spread out (preferring large blocks). `dn` is each block's
/// distance from the centre as a share of the farthest.
fn zoned(lat: &Lattice, dn: &[f64], rng: &mut ChaCha8Rng) -> Vec<Option<Sub>> {
    let nb = lat.blocks.len();
    let mut used = vec![None::<Sub>; nb];
    let mut by_centre: Vec<(f64, usize)> = (0..nb)
        .map(|b| (dn[b] * rng.gen_range(0.6..1.4), b))
        .collect();
    by_centre.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let n_office = (nb as f64 * 0.08).round() as usize;
    for &(_, b) in by_centre.iter().take(n_office) {
        used[b] = Some(Sub::Office);
    }
    for &(_, b) in by_centre.iter().skip(n_office).take(2) {
        used[b] = Some(Sub::Government);
    }
    let mut large: Vec<usize> = (0..nb)
        .filter(|&b| used[b].is_none() && lat.blocks[b].pieces.len() > 1)
        .collect();
    names::shuffle(rng, &mut large);
    let mut placed: Vec<usize> = Vec::new();
    for sub in [
        Sub::School,
        Sub::Park,
        Sub::School,
        Sub::Park,
        Sub::School,
        Sub::Park,
    ] {
        let cand = large
            .iter()
            .copied()
            .filter(|&b| used[b].is_none())
            .max_by(|&a, &b| {
                let f = |x: usize| {
                    placed
                        .iter()
                        .map(|&p| dist(lat.blocks[x].centroid, lat.blocks[p].centroid))
                        .fold(f64::MAX, f64::min)
                };
                f(a).total_cmp(&f(b)).then(b.cmp(&a))
            });
        let b = match cand {
            Some(b) => b,
            None => match (0..nb).find(|&b| used[b].is_none()) {
                Some(b) => b,
                None => continue,
            },
        };
        used[b] = Some(sub);
        placed.push(b);
    }
    used
}

/// High- or low-rise housing, high-rise more likely away from the centre.
fn residential(rng: &mut ChaCha8Rng, d: f64) -> Sub {
    if rng.gen_bool((0.02 + 0.14 * d).min(0.9)) {
        Sub::HighRise
    } else {
        Sub::LowRise
    }
}

/// The compounds of one block (kind and pieces): a zoned block is one compound (an office
/// block may be two); a housing block is one, two or split in halves.
fn block_groups(
    pieces: Vec<usize>,
    zone: Option<Sub>,
    d: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<(Sub, Vec<usize>)> {
    let mut groups: Vec<(Sub, Vec<usize>)> = Vec::new();
    match zone {
        Some(sub) if sub != Sub::Office => groups.push((sub, pieces)),
        Some(_) => {
            if pieces.len() > 1 && rng.gen_bool(0.5) {
                // Two compounds at most: halves of a superblock (south / north in 2x2).
                let half = pieces.len() / 2;
                groups.push((Sub::Office, pieces[..half].to_vec()));
                groups.push((Sub::Office, pieces[half..].to_vec()));
            } else {
                groups.push((Sub::Office, pieces));
            }
        }
        None => match pieces.len() {
            1 => groups.push((residential(rng, d), pieces)),
            2 => {
                let x: f64 = rng.gen();
                if x < 0.12 {
                    groups.push((Sub::Office, vec![pieces[0]]));
                    groups.push((residential(rng, d), vec![pieces[1]]));
                } else if x < 0.45 {
                    groups.push((residential(rng, d), pieces));
                } else {
                    for p in pieces {
                        groups.push((residential(rng, d), vec![p]));
                    }
                }
            }
            _ => {
                if rng.gen_bool(0.5) {
                    groups.push((Sub::HighRise, pieces));
                } else {
                    let half = pieces.len() / 2;
                    // Pieces of a 2x2 block are in row-major order: split south / north.
                    groups.push((residential(rng, d), pieces[..half].to_vec()));
                    groups.push((residential(rng, d), pieces[half..].to_vec()));
                }
            }
        },
    }
    groups
}

/// A compound of kind `sub` on `pieces` of block `b`, with its year and occupancy drawn.
fn compound(sub: Sub, b: usize, pieces: Vec<usize>, rng: &mut ChaCha8Rng) -> Compound {
    let (built_year, occupancy) = match sub {
        Sub::HighRise => (rng.gen_range(2003..2018), rng.gen_range(0.82..1.0)),
        Sub::LowRise => (rng.gen_range(1976..2003), rng.gen_range(0.78..0.98)),
        Sub::Office => (rng.gen_range(1998..2023), rng.gen_range(0.55..1.0)),
        _ => (rng.gen_range(1965..2021), 1.0),
    };
    Compound {
        sub,
        block: b,
        pieces,
        occupancy,
        built_year,
        name: String::new(),
        code: String::new(),
        community: 0,
        buildings: Vec::new(),
    }
}

/// Decides what each block holds (no buildings yet).
pub(crate) fn plan(lat: &Lattice, rng: &mut ChaCha8Rng) -> Vec<Compound> {
    let nb = lat.blocks.len();
    let maxd = lat
        .blocks
        .iter()
        .map(|b| dist(b.centroid, lat.centre))
        .fold(1.0, f64::max);
    let dn: Vec<f64> = lat
        .blocks
        .iter()
        .map(|b| dist(b.centroid, lat.centre) / maxd)
        .collect();
    let used = zoned(lat, &dn, rng);
    let mut out = Vec::new();
    for b in 0..nb {
        let pieces = lat.blocks[b].pieces.clone();
        for (sub, pieces) in block_groups(pieces, used[b], dn[b], rng) {
            out.push(compound(sub, b, pieces, rng));
        }
    }

    // New compounds (built 2018 or later) still filling up: both sides of the 50% rule.
    let mut high: Vec<usize> = (0..out.len())
        .filter(|&c| out[c].sub == Sub::HighRise)
        .collect();
    high.sort_by(|&a, &b| {
        dn[out[b].block]
            .total_cmp(&dn[out[a].block])
            .then(a.cmp(&b))
    });
    for (i, &c) in high.iter().take(6).enumerate() {
        out[c].built_year = rng.gen_range(2018..2024);
        out[c].occupancy = if i % 2 == 0 {
            rng.gen_range(0.3..0.48)
        } else {
            rng.gen_range(0.52..0.72)
        };
    }
    for c in &mut out {
        c.occupancy = (c.occupancy * 100.0).round() / 100.0;
    }
    out
}

/// Places the buildings of one compound and sizes them (nominal households, employees).
pub(crate) fn place(lat: &Lattice, c: &mut Compound, rng: &mut ChaCha8Rng) {
    let rings: Vec<Vec<Pt>> = c.pieces.iter().map(|&p| lat.piece_ring(p)).collect();
    let pack_all = |spec: &Spec, rng: &mut ChaCha8Rng| -> Vec<[Pt; 4]> {
        rings.iter().flat_map(|r| pack(r, spec, rng)).collect()
    };
    let mut rects = match c.sub {
        Sub::HighRise => {
            let mut r = pack_all(&HIGH_SLAB, rng);
            if r.len() < 6 {
                r = pack_all(&HIGH_TOWER, rng);
            }
            if r.len() < 6 {
                // Too small for an estate: it is an old courtyard after all.
                c.sub = Sub::LowRise;
                c.built_year = rng.gen_range(1976..2003);
                c.occupancy = (rng.gen_range(0.78..0.98_f64) * 100.0).round() / 100.0;
                pack_all(&LOW, rng)
            } else {
                keep(r, 14, rng)
            }
        }
        Sub::LowRise => keep(pack_all(&LOW, rng), 30 * c.pieces.len(), rng),
        Sub::Office => keep(pack_all(&OFFICE, rng), 6, rng),
        Sub::School => keep(pack_all(&SCHOOL, rng), 5, rng),
        Sub::Park => keep(pack_all(&PARK, rng), 2, rng),
        Sub::Government => keep(pack_all(&GOV, rng), 3, rng),
    };
    if rects.is_empty() && !matches!(c.sub, Sub::Park) {
        let spec = Spec {
            skip: 0.0,
            ..match c.sub {
                Sub::Office => OFFICE,
                Sub::School => SCHOOL,
                Sub::Government => GOV,
                _ => LOW,
            }
        };
        rects = keep(pack_all(&spec, rng), 1, rng);
    }
    c.buildings = rects
        .into_iter()
        .map(|corners| {
            let width = dist(corners[0], corners[1]);
            let (floors, units, rooms, lo, hi, nominal, employees) = match c.sub {
                Sub::HighRise => {
                    let floors = rng.gen_range(11..34);
                    let mut units = ((width / 13.0).round() as u32).clamp(1, 4);
                    while floors * 2 * units < 30 {
                        units += 1;
                    }
                    let cap = floors * 2 * units;
                    let hi = cap.min(120);
                    // Skewed towards the small end; emptier compounds hold fewer households.
                    let u: f64 = rng.gen();
                    let nominal = 24.0 + (f64::from(hi) - 24.0) * c.occupancy * u.powf(1.5);
                    (floors, units, 2, 24, hi, nominal, 0)
                }
                Sub::LowRise => {
                    let floors = [2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 7][rng.gen_range(0..11)];
                    let units = if width < 20.0 { 1 } else { 2 };
                    // Narrow walk-ups of four floors or more have one flat per landing.
                    let rooms = if width < 16.0 && floors >= 4 { 1 } else { 2 };
                    let cap = floors * rooms * units;
                    let hi = cap.min(24);
                    // Most courtyard buildings are small; a few walk-ups reach 20+ households.
                    let u: f64 = rng.gen();
                    let nominal = 4.0 + (f64::from(hi) - 4.0) * c.occupancy * u.powi(3);
                    (floors, units, rooms, 4, hi, nominal, 0)
                }
                Sub::Office => {
                    let e = if rng.gen_bool(0.14) {
                        rng.gen_range(300..801)
                    } else {
                        rng.gen_range(50..281)
                    };
                    (rng.gen_range(4..29), 1, 1, 0, 0, 0.0, e)
                }
                Sub::School => (rng.gen_range(3..6), 1, 1, 0, 0, 0.0, rng.gen_range(30..121)),
                Sub::Park => (1, 1, 1, 0, 0, 0.0, rng.gen_range(2..13)),
                Sub::Government => (rng.gen_range(3..9), 1, 1, 0, 0, 0.0, rng.gen_range(20..151)),
            };
            Building {
                corners,
                floors,
                units,
                rooms,
                nominal,
                lo,
                hi,
                households: 0,
                residents: 0,
                employees,
                code: String::new(),
                name: String::new(),
                address: String::new(),
            }
        })
        .collect();
}

/// Removes buildings from an over-full block until its residential minimum fits one
/// second-level grid: every block must be able to stand alone with at most `max_lo` households.
pub(crate) fn trim_block(
    compounds: &mut [Compound],
    ids: &[usize],
    max_lo: u32,
    rng: &mut ChaCha8Rng,
) {
    let lo = |cs: &[Compound]| -> u32 {
        ids.iter()
            .flat_map(|&c| &cs[c].buildings)
            .map(|b| b.lo)
            .sum()
    };
    while lo(compounds) > max_lo {
        // Prefer trimming courtyards (many small buildings), then estates above six buildings.
        let pick = ids
            .iter()
            .copied()
            .filter(|&c| compounds[c].sub == Sub::LowRise && compounds[c].buildings.len() > 1)
            .max_by_key(|&c| (compounds[c].buildings.len(), c))
            .or_else(|| {
                ids.iter()
                    .copied()
                    .filter(|&c| {
                        compounds[c].sub == Sub::HighRise && compounds[c].buildings.len() > 6
                    })
                    .max_by_key(|&c| (compounds[c].buildings.len(), c))
            });
        let Some(c) = pick else { break };
        let n = compounds[c].buildings.len();
        compounds[c].buildings.remove(rng.gen_range(0..n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn packed_rectangles_keep_the_margin_and_do_not_overlap() {
        let ring = vec![
            Pt { x: 0.0, y: 0.0 },
            Pt { x: 150.0, y: 8.0 },
            Pt { x: 140.0, y: 140.0 },
            Pt { x: -5.0, y: 130.0 },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let rects = pack(&ring, &LOW, &mut rng);
        assert!(rects.len() > 12, "only {} buildings", rects.len());
        for r in &rects {
            for p in r {
                assert!(inside_convex(&ring, *p, MARGIN - 1e-6));
            }
        }
        use geo::{Area, BooleanOps, Polygon};
        let polys: Vec<Polygon> = rects
            .iter()
            .map(|r| Polygon::new(r.to_vec().into(), vec![]))
            .collect();
        for i in 0..polys.len() {
            for j in i + 1..polys.len() {
                assert!(polys[i].intersection(&polys[j]).unsigned_area() < 1e-9);
            }
        }
    }
}
