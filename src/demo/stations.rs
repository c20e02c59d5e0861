//! Service stations and facilities (points): the "1+8" system of every community and the
//! town's other facilities, placed so the ten-minute walking circle has real gaps.
//!
//! Owns where stations stand and how many programmes they run. Points sit 4 m inside a street
//! edge of a block, in the strip that buildings keep free, so they are never inside a building.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geom::{dist, Pt};
use super::layout::Sub;
use super::names;
use super::town::{blocks_centre, nearest_block, Town};

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

/// A service station or facility.
#[derive(Debug, Clone)]
pub(crate) struct Station {
    /// Code, `{community}-Snn`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Contract kind, e.g. `party_mass_centre`, `clinic`.
    pub kind: &'static str,
    /// Index of the community whose block holds it.
    pub community: usize,
    /// Working service programmes.
    pub programmes: u32,
    /// Position, local metres.
    pub pos: Pt,
}

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

/// Places all stations of a town.
pub(crate) fn place(town: &Town, rng: &mut ChaCha8Rng) -> Vec<Station> {
    let lat = &town.lat;
    let mut slots = Slots {
        used: vec![0; lat.blocks.len()],
    };
    let mut out: Vec<Station> = Vec::new();
    let mut push =
        |slots: &mut Slots, b: usize, kind: &'static str, name: String, programmes: u32| {
            out.push(Station {
                code: String::new(),
                name,
                kind,
                community: town.block_grid[b].0,
                programmes,
                pos: slots.take(town, b),
            });
        };
    let eight_programmes = |rng: &mut ChaCha8Rng| {
        if rng.gen_bool(0.15) {
            rng.gen_range(1..3)
        } else {
            rng.gen_range(3..8)
        }
    };

    let mut profiles = vec![Profile::Compact; town.communities.len()];
    let mut order: Vec<usize> = (0..profiles.len()).collect();
    names::shuffle(rng, &mut order);
    if let Some(&c) = order.first() {
        profiles[c] = Profile::MissingTwo;
    }
    if let Some(&c) = order.get(1) {
        profiles[c] = Profile::MissingFar;
    }

    for (ci, com) in town.communities.iter().enumerate() {
        let centre = blocks_centre(lat, &com.blocks);
        let cb = nearest_block(lat, &com.blocks, centre);
        push(
            &mut slots,
            cb,
            "party_mass_centre",
            format!("{}党群服务中心", com.name),
            rng.gen_range(5..13),
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
        let (missing, distant): (&[&str], &[&str]) = match profiles[ci] {
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
            push(&mut slots, b, kind, format!("{}{}", com.name, label), p);
        }
    }

    // Town-wide facilities: a few kinds at one or two places only.
    let all: Vec<usize> = (0..lat.blocks.len()).collect();
    let town_block = nearest_block(lat, &all, lat.centre);
    let short = town.spec.short().to_string();
    push(
        &mut slots,
        town_block,
        "clinic",
        format!("{short}镇卫生院"),
        rng.gen_range(3..7),
    );
    push(
        &mut slots,
        town_block,
        "police_post",
        format!("{short}派出所"),
        rng.gen_range(1..4),
    );
    let ci = rng.gen_range(0..town.communities.len());
    let com = &town.communities[ci];
    let b = com.blocks[rng.gen_range(0..com.blocks.len())];
    push(
        &mut slots,
        b,
        "clinic",
        format!("{}卫生服务站", com.name),
        rng.gen_range(2..6),
    );
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
        push(
            &mut slots,
            b,
            "market",
            format!("{street}农贸市场"),
            rng.gen_range(1..4),
        );
    }
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
        push(
            &mut slots,
            b,
            "kindergarten",
            format!("{owner}幼儿园"),
            rng.gen_range(2..6),
        );
    }
    for c in &town.compounds {
        let kind = match c.sub {
            Sub::School => "school",
            Sub::Park => "park",
            _ => continue,
        };
        push(
            &mut slots,
            c.block,
            kind,
            c.name.clone(),
            rng.gen_range(1..6),
        );
    }

    // Codes in community order, creation order within a community.
    let mut idx: Vec<usize> = (0..out.len()).collect();
    idx.sort_by_key(|&i| (out[i].community, i));
    let mut seq = vec![0; town.communities.len()];
    let mut sorted = Vec::with_capacity(out.len());
    for i in idx {
        let mut s = out[i].clone();
        seq[s.community] += 1;
        s.code = format!(
            "{}-S{:02}",
            town.communities[s.community].code, seq[s.community]
        );
        sorted.push(s);
    }
    sorted
}
