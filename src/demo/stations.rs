//! Service stations and facilities (points): the "1+8" system of every community and the
//! town's other facilities, placed so the ten-minute walking circle has real gaps.
//!
//! Owns where stations stand and how many programmes they run. Points sit 4 m inside a street
//! edge of a block, in the strip that buildings keep free, so they are never inside a building.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geom::{dist, Pt};
use super::lattice::{blocks_centre, nearest_block};
use super::layout::Sub;
use super::model::{Station, Town};
use super::names;

/// The eight stations of the "1+8" system with their Chinese names.
pub(crate) const EIGHT: [(&str, &str); 8] = [
    ("convenience", "便民服务站"),
    ("new_resident_training", "新市民培训站"),
    ("elderly_care", "助老养老站"),
    ("youth", "青少年活动站"),
    ("hardship_relief", "困难救助站"),
    ("volunteer", "志愿者工作站"),
    ("culture", "文化娱乐站"),
    ("social_org_incubation", "社会组织孵化站"),
];

/// Positions along a block's street edges, handed out in turn.
struct Slots {
    used: Vec<usize>,
}

impl Slots {
    fn take(&mut self, town: &Town, b: usize) -> Pt {
        const T: [f64; 7] = [0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6];
        let lat = &town.lat;
        let fronts: Vec<(usize, usize)> = lat.blocks[b]
            .pieces
            .iter()
            .flat_map(|&p| lat.frontage(p))
            .collect();
        let k = self.used[b];
        self.used[b] += 1;
        let (a, e) = fronts[k % fronts.len()];
        let t = T[(k / fronts.len()) % T.len()];
        let (pa, pe) = (lat.nodes[a], lat.nodes[e]);
        let len = dist(pa, pe);
        // Left of a counter-clockwise piece edge is inside the piece.
        Pt {
            x: pa.x + (pe.x - pa.x) * t - (pe.y - pa.y) / len * 4.0,
            y: pa.y + (pe.y - pa.y) * t + (pe.x - pa.x) / len * 4.0,
        }
    }
}

/// How a community's eight stations are laid out.
#[derive(Clone, Copy)]
enum Profile {
    /// All around the centre.
    Compact,
    /// Two kinds missing.
    MissingTwo,
    /// One kind missing and two far from the centre.
    MissingFar,
}

/// Stations placed so far in a town, each on the next free slot of its block.
struct Placer<'t> {
    town: &'t Town,
    slots: Slots,
    out: Vec<Station>,
}

/// Working programmes of one of the eight stations: a few run only one or two.
fn eight_programmes(rng: &mut ChaCha8Rng) -> u32 {
    if rng.gen_bool(0.15) {
        rng.gen_range(1..3)
    } else {
        rng.gen_range(3..8)
    }
}

impl<'t> Placer<'t> {
    /// Places a station of `kind` in block `b`.
    fn push(&mut self, b: usize, kind: &'static str, name: String, programmes: u32) {
        let pos = self.slots.take(self.town, b);
        self.out.push(Station {
            code: String::new(),
            name,
            kind,
            community: self.town.block_grid[b].0,
            programmes,
            pos,
        });
    }

    /// How each community's eight stations are laid out: two communities of a town have gaps.
    fn profiles(&self, rng: &mut ChaCha8Rng) -> Vec<Profile> {
        let mut profiles = vec![Profile::Compact; self.town.communities.len()];
        let mut order: Vec<usize> = (0..profiles.len()).collect();
        names::shuffle(rng, &mut order);
        if let Some(&c) = order.first() {
            profiles[c] = Profile::MissingTwo;
        }
        if let Some(&c) = order.get(1) {
            profiles[c] = Profile::MissingFar;
        }
        profiles
    }

    /// The party and mass service centre of community `ci` and its eight stations: near the
    /// centre, but for the kinds its profile leaves out or puts far away.
    fn community(&mut self, rng: &mut ChaCha8Rng, ci: usize, profile: Profile) {
        let town = self.town;
        let lat = &town.lat;
        let com = &town.communities[ci];
        let centre = blocks_centre(lat, &com.blocks);
        let cb = nearest_block(lat, &com.blocks, centre);
        let p = rng.gen_range(5..13);
        self.push(
            cb,
            "party_mass_centre",
            format!("{}党群服务中心", com.name),
            p,
        );
        let mut near: Vec<usize> = std::iter::once(cb)
            .chain(
                lat.blocks[cb]
                    .neighbours
                    .iter()
                    .copied()
                    .filter(|&n| town.block_grid[n].0 == ci),
            )
            .collect();
        near.truncate(3);
        let far = *com
            .blocks
            .iter()
            .max_by(|&&a, &&b| {
                dist(lat.blocks[a].centroid, centre)
                    .total_cmp(&dist(lat.blocks[b].centroid, centre))
                    .then(b.cmp(&a))
            })
            .expect("a community has blocks");
        let (missing, distant): (&[&str], &[&str]) = match profile {
            Profile::Compact => (&[], &[]),
            Profile::MissingTwo => (&["new_resident_training", "social_org_incubation"], &[]),
            Profile::MissingFar => (&["social_org_incubation"], &["elderly_care", "youth"]),
        };
        for (kind, label) in EIGHT {
            if missing.contains(&kind) {
                continue;
            }
            let b = if distant.contains(&kind) {
                far
            } else {
                near[rng.gen_range(0..near.len())]
            };
            let p = eight_programmes(rng);
            self.push(b, kind, format!("{}{}", com.name, label), p);
        }
    }

    /// Town-wide facilities: a few kinds at one or two places only (the town's clinic and
    /// police post, a community clinic, two markets).
    fn town_facilities(&mut self, rng: &mut ChaCha8Rng) {
        let town = self.town;
        let lat = &town.lat;
        let all: Vec<usize> = (0..lat.blocks.len()).collect();
        let town_block = nearest_block(lat, &all, lat.centre);
        let short = town.spec.short().to_string();
        let p = rng.gen_range(3..7);
        self.push(town_block, "clinic", format!("{short}镇卫生院"), p);
        let p = rng.gen_range(1..4);
        self.push(town_block, "police_post", format!("{short}派出所"), p);
        let ci = rng.gen_range(0..town.communities.len());
        let com = &town.communities[ci];
        let b = com.blocks[rng.gen_range(0..com.blocks.len())];
        let p = rng.gen_range(2..6);
        self.push(b, "clinic", format!("{}卫生服务站", com.name), p);
        let mut by_centre = all.clone();
        by_centre.sort_by(|&a, &b| {
            dist(lat.blocks[a].centroid, lat.centre)
                .total_cmp(&dist(lat.blocks[b].centroid, lat.centre))
                .then(a.cmp(&b))
        });
        let markets = [
            by_centre[rng.gen_range(1..4)],
            all[rng.gen_range(0..all.len())],
        ];
        for b in markets {
            let p = lat.blocks[b].pieces[0];
            let street = lat
                .frontage(p)
                .first()
                .map(|&(a, e)| lat.line_of(a, e).to_string())
                .unwrap_or_default();
            let p = rng.gen_range(1..4);
            self.push(b, "market", format!("{street}农贸市场"), p);
        }
    }

    /// Facilities that belong to compounds: kindergartens of three high-rise blocks, and
    /// every school and park.
    fn compound_facilities(&mut self, rng: &mut ChaCha8Rng) {
        let town = self.town;
        let mut kg: Vec<usize> = town
            .compounds
            .iter()
            .filter(|c| c.sub == Sub::HighRise)
            .map(|c| c.block)
            .collect();
        kg.dedup();
        names::shuffle(rng, &mut kg);
        for &b in kg.iter().take(3) {
            let owner = town
                .compounds
                .iter()
                .find(|c| c.block == b && c.sub == Sub::HighRise)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            let p = rng.gen_range(2..6);
            self.push(b, "kindergarten", format!("{owner}幼儿园"), p);
        }
        for c in &town.compounds {
            let kind = match c.sub {
                Sub::School => "school",
                Sub::Park => "park",
                _ => continue,
            };
            let p = rng.gen_range(1..6);
            self.push(c.block, kind, c.name.clone(), p);
        }
    }

    /// The stations with their codes: in community order, creation order within a community.
    fn numbered(self) -> Vec<Station> {
        let out = self.out;
        let mut idx: Vec<usize> = (0..out.len()).collect();
        idx.sort_by_key(|&i| (out[i].community, i));
        let mut seq = vec![0; self.town.communities.len()];
        let mut sorted = Vec::with_capacity(out.len());
        for i in idx {
            let mut s = out[i].clone();
            seq[s.community] += 1;
            s.code = format!(
                "{}-S{:02}",
                self.town.communities[s.community].code, seq[s.community]
            );
            sorted.push(s);
        }
        sorted
    }
}

/// Places all stations of a town.
pub(crate) fn place(town: &Town, rng: &mut ChaCha8Rng) -> Vec<Station> {
    let mut placer = Placer {
        town,
        slots: Slots {
            used: vec![0; town.lat.blocks.len()],
        },
        out: Vec::new(),
    };
    let profiles = placer.profiles(rng);
    for (ci, &profile) in profiles.iter().enumerate() {
        placer.community(rng, ci, profile);
    }
    placer.town_facilities(rng);
    placer.compound_facilities(rng);
    placer.numbered()
}
