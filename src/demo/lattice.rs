//! The street lattice of one town: jittered nodes, convex faces ("pieces"), street blocks and
//! the walking network along their edges.
//!
//! Owns the topology every other layer is built from: blocks are unions of pieces and every
//! street is one lattice edge between two nodes, so all shared coordinates are shared node ids.
//! It knows nothing about households or administrative units.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geom::{cross, dist, rotate, signed_area2, Pt};
use super::names;

/// Lattice columns (cells west to east) in every town.
pub(crate) const NX: usize = 16;
/// Lattice rows (cells south to north) in every town.
pub(crate) const NY: usize = 12;

/// A convex face of the lattice: a cell or half a cell cut by the diagonal avenue.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    /// Node ids, counter-clockwise.
    pub nodes: Vec<usize>,
    /// The block it belongs to.
    pub block: usize,
}

/// A street block: one or more adjacent pieces not separated by a street.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// Piece ids, ascending.
    pub pieces: Vec<usize>,
    /// Area-weighted centroid.
    pub centroid: Pt,
    /// Area in square metres.
    pub area: f64,
    /// Blocks sharing at least one edge, ascending.
    pub neighbours: Vec<usize>,
}

/// One segment of the walking network, between two lattice nodes.
#[derive(Debug, Clone)]
pub(crate) struct Street {
    /// Start node.
    pub a: usize,
    /// End node.
    pub b: usize,
    /// OSM-style highway class.
    pub highway: &'static str,
    /// Street name, for named classes only.
    pub name: Option<String>,
}

/// The lattice of one town in local metres.
#[derive(Debug, Clone)]
pub(crate) struct Lattice {
    /// Node coordinates.
    pub nodes: Vec<Pt>,
    /// Convex faces.
    pub pieces: Vec<Piece>,
    /// Street blocks.
    pub blocks: Vec<Block>,
    /// Walking network segments.
    pub streets: Vec<Street>,
    /// Where the two main roads cross.
    pub centre: Pt,
    /// Name of the street line each undirected edge lies on (for addresses).
    pub edge_line: BTreeMap<(usize, usize), String>,
    /// Undirected edges that lie inside a block (not a street boundary).
    pub interior_edges: Vec<(usize, usize)>,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn id(i: usize, j: usize) -> usize {
    j * (NX + 1) + i
}

#[derive(Clone, Copy, PartialEq)]
enum LineClass {
    Secondary,
    Tertiary,
    Residential,
}

/// The classes of the lattice's lines and where the diagonal avenue runs.
struct Plan {
    /// Class of each column line, west to east.
    col_class: [LineClass; NX + 1],
    /// Class of each row line, south to north.
    row_class: [LineClass; NY + 1],
    /// Column and row of the two secondary roads.
    ic: usize,
    jc: usize,
    /// Column where the avenue leaves the southern edge, and its number of cells.
    i0: usize,
    steps: usize,
}

impl Plan {
    /// Main roads: one secondary line each way, tertiary lines and the perimeter; then the
    /// diagonal avenue from the southern edge towards the centre, cutting cells in two.
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let mut col_class = [LineClass::Residential; NX + 1];
        let mut row_class = [LineClass::Residential; NY + 1];
        let ic = NX / 2 + rng.gen_range(0..3) - 1;
        let jc = NY / 2 + rng.gen_range(0..2) - 1;
        col_class[ic] = LineClass::Secondary;
        row_class[jc] = LineClass::Secondary;
        for i in [0, NX, ic - rng.gen_range(4..6), ic + rng.gen_range(4..6)] {
            if col_class[i] == LineClass::Residential {
                col_class[i] = LineClass::Tertiary;
            }
        }
        for j in [0, NY, jc + rng.gen_range(3..5)] {
            if row_class[j] == LineClass::Residential {
                row_class[j] = LineClass::Tertiary;
            }
        }
        let i0 = rng.gen_range(1..3);
        let steps = (ic - i0).min(jc) + rng.gen_range(1..3);
        Self {
            col_class,
            row_class,
            ic,
            jc,
            i0,
            steps,
        }
    }

    /// Whether the avenue cuts cell (i, j).
    fn on_avenue(&self, i: usize, j: usize) -> bool {
        j < self.steps && i == self.i0 + j
    }

    /// Street line names: columns, then rows.
    fn line_names(&self, rng: &mut ChaCha8Rng) -> (Vec<String>, Vec<String>) {
        let stems = names::street_stems(rng, NX + NY + 2);
        let line_name = |class: LineClass, stem: &str, rng: &mut ChaCha8Rng| -> String {
            let suffix = match class {
                LineClass::Secondary => "路",
                LineClass::Tertiary => names::pick(rng, &["路", "大街"]),
                LineClass::Residential => names::pick(rng, &["街", "巷", "路", "街"]),
            };
            format!("{stem}{suffix}")
        };
        let col_names: Vec<String> = (0..=NX)
            .map(|i| line_name(self.col_class[i], stems[i], rng))
            .collect();
        let row_names: Vec<String> = (0..=NY)
            .map(|j| line_name(self.row_class[j], stems[NX + 1 + j], rng))
            .collect();
        (col_names, row_names)
    }
}

/// Cell index of cell (i, j), row-major.
fn cell(i: usize, j: usize) -> usize {
    j * NX + i
}

/// Column and row positions with varying spacing, then jittered and rotated nodes.
fn jittered_nodes(rng: &mut ChaCha8Rng, angle: f64) -> Vec<Pt> {
    let mut xs = vec![0.0];
    for _ in 0..NX {
        let last = *xs.last().expect("non-empty");
        xs.push(last + rng.gen_range(105.0..185.0));
    }
    let mut ys = vec![0.0];
    for _ in 0..NY {
        let last = *ys.last().expect("non-empty");
        ys.push(last + rng.gen_range(105.0..185.0));
    }
    let (w, h) = (xs[NX], ys[NY]);
    let mut nodes = Vec::with_capacity((NX + 1) * (NY + 1));
    for &y in &ys {
        for &x in &xs {
            let p = Pt {
                x: x + rng.gen_range(-14.0..14.0) - w / 2.0,
                y: y + rng.gen_range(-14.0..14.0) - h / 2.0,
            };
            nodes.push(rotate(p, angle));
        }
    }
    nodes
}

/// Superblocks: a few 2x2, more 2x1 pairs, never across a main road or the avenue. Returns
/// the group (first cell) of every cell and the groups that get footways inside.
fn superblocks(rng: &mut ChaCha8Rng, plan: &Plan) -> (Vec<usize>, Vec<usize>) {
    let ncell = NX * NY;
    let (col_class, row_class) = (&plan.col_class, &plan.row_class);
    let mut group: Vec<usize> = (0..ncell).collect();
    let mut taken = vec![false; ncell];
    for j in 0..NY {
        for i in 0..NX {
            if plan.on_avenue(i, j) {
                taken[cell(i, j)] = true;
            }
        }
    }
    let mut footway_groups: Vec<usize> = Vec::new();
    let mut big = 0;
    let mut tries = 0;
    while big < 3 && tries < 200 {
        tries += 1;
        let i = rng.gen_range(1..NX - 1);
        let j = rng.gen_range(1..NY - 1);
        let cells = [
            cell(i, j),
            cell(i + 1, j),
            cell(i, j + 1),
            cell(i + 1, j + 1),
        ];
        if cells.iter().any(|&c| taken[c])
            || col_class[i + 1] != LineClass::Residential
            || row_class[j + 1] != LineClass::Residential
        {
            continue;
        }
        for &c in &cells {
            taken[c] = true;
            group[c] = cells[0];
        }
        if rng.gen_bool(0.6) {
            footway_groups.push(cells[0]);
        }
        big += 1;
    }
    let mut order: Vec<usize> = (0..ncell).collect();
    names::shuffle(rng, &mut order);
    for c in order {
        if taken[c] || !rng.gen_bool(0.34) {
            continue;
        }
        let (i, j) = (c % NX, c / NX);
        let mut cands = Vec::new();
        if i + 1 < NX && !taken[cell(i + 1, j)] && col_class[i + 1] == LineClass::Residential {
            cands.push(cell(i + 1, j));
        }
        if j + 1 < NY && !taken[cell(i, j + 1)] && row_class[j + 1] == LineClass::Residential {
            cands.push(cell(i, j + 1));
        }
        if cands.is_empty() {
            continue;
        }
        let o = cands[rng.gen_range(0..cands.len())];
        taken[c] = true;
        taken[o] = true;
        group[o] = c;
        if rng.gen_bool(0.5) {
            footway_groups.push(c);
        }
    }
    (group, footway_groups)
}

/// Pieces in row-major cell order (cells on the avenue cut in two), with the group of each.
fn pieces(plan: &Plan, group: &[usize]) -> (Vec<Piece>, Vec<usize>) {
    let ncell = NX * NY;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut piece_group: Vec<usize> = Vec::new();
    for j in 0..NY {
        for i in 0..NX {
            let (a, b, c, d) = (id(i, j), id(i + 1, j), id(i + 1, j + 1), id(i, j + 1));
            let g = group[cell(i, j)];
            if plan.on_avenue(i, j) {
                pieces.push(Piece {
                    nodes: vec![a, b, c],
                    block: 0,
                });
                piece_group.push(2 * ncell + pieces.len());
                pieces.push(Piece {
                    nodes: vec![a, c, d],
                    block: 0,
                });
                piece_group.push(2 * ncell + pieces.len());
            } else {
                pieces.push(Piece {
                    nodes: vec![a, b, c, d],
                    block: 0,
                });
                piece_group.push(g);
            }
        }
    }
    (pieces, piece_group)
}

/// Blocks numbered by their first piece, with their areas and centroids; sets each
/// piece's block.
fn blocks(pieces: &mut [Piece], piece_group: &[usize], nodes: &[Pt]) -> Vec<Block> {
    let mut group_block: BTreeMap<usize, usize> = BTreeMap::new();
    let mut blocks: Vec<Block> = Vec::new();
    for (p, piece) in pieces.iter_mut().enumerate() {
        let g = piece_group[p];
        let b = *group_block.entry(g).or_insert_with(|| {
            blocks.push(Block {
                pieces: Vec::new(),
                centroid: Pt { x: 0.0, y: 0.0 },
                area: 0.0,
                neighbours: Vec::new(),
            });
            blocks.len() - 1
        });
        piece.block = b;
        blocks[b].pieces.push(p);
    }
    for b in &mut blocks {
        let (mut sx, mut sy, mut sa) = (0.0, 0.0, 0.0);
        for &p in &b.pieces {
            let ring: Vec<Pt> = pieces[p].nodes.iter().map(|&n| nodes[n]).collect();
            let a = signed_area2(&ring) / 2.0;
            let n = ring.len() as f64;
            let cx = ring.iter().map(|q| q.x).sum::<f64>() / n;
            let cy = ring.iter().map(|q| q.y).sum::<f64>() / n;
            sx += cx * a;
            sy += cy * a;
            sa += a;
        }
        b.centroid = Pt {
            x: sx / sa,
            y: sy / sa,
        };
        b.area = sa;
    }
    blocks
}

/// Edge -> pieces; sets block neighbours and returns the block-interior edges.
#[allow(clippy::type_complexity)]
fn edges(
    pieces: &[Piece],
    blocks: &mut [Block],
) -> (BTreeMap<(usize, usize), Vec<usize>>, Vec<(usize, usize)>) {
    let mut edge_pieces: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (p, piece) in pieces.iter().enumerate() {
        let n = piece.nodes.len();
        for k in 0..n {
            edge_pieces
                .entry(key(piece.nodes[k], piece.nodes[(k + 1) % n]))
                .or_default()
                .push(p);
        }
    }
    let mut interior_edges = Vec::new();
    for (&e, ps) in &edge_pieces {
        if ps.len() == 2 {
            let (ba, bb) = (pieces[ps[0]].block, pieces[ps[1]].block);
            if ba == bb {
                interior_edges.push(e);
            } else {
                blocks[ba].neighbours.push(bb);
                blocks[bb].neighbours.push(ba);
            }
        }
    }
    for b in blocks.iter_mut() {
        b.neighbours.sort_unstable();
        b.neighbours.dedup();
    }
    (edge_pieces, interior_edges)
}

/// What the streets are laid along: the line names, the interior edges and which
/// superblocks have footways.
struct StreetInput<'a> {
    col_names: &'a [String],
    row_names: &'a [String],
    interior_edges: &'a [(usize, usize)],
    edge_pieces: &'a BTreeMap<(usize, usize), Vec<usize>>,
    piece_group: &'a [usize],
    footway_groups: &'a [usize],
}

/// Streets: every lattice edge that bounds a block, footways inside some superblocks; and
/// the name of the line each edge lies on.
fn streets(
    rng: &mut ChaCha8Rng,
    plan: &Plan,
    input: &StreetInput,
    avenue: &str,
) -> (Vec<Street>, BTreeMap<(usize, usize), String>) {
    let (col_names, row_names) = (input.col_names, input.row_names);
    let mut edge_line: BTreeMap<(usize, usize), String> = BTreeMap::new();
    let mut streets = Vec::new();
    let mut push_edge = |a: usize, b: usize, class: LineClass, line: &str, rng: &mut ChaCha8Rng| {
        edge_line.insert(key(a, b), line.to_string());
        let interior = input.interior_edges.binary_search(&key(a, b)).is_ok();
        let (highway, name) = if interior {
            let g = input.piece_group[input.edge_pieces[&key(a, b)][0]];
            if !input.footway_groups.contains(&g) {
                return;
            }
            ("footway", None)
        } else {
            match class {
                LineClass::Secondary => ("secondary", Some(line.to_string())),
                LineClass::Tertiary => ("tertiary", Some(line.to_string())),
                LineClass::Residential => {
                    let x: f64 = rng.gen();
                    if x < 0.025 {
                        ("steps", None)
                    } else if x < 0.12 {
                        ("service", None)
                    } else {
                        ("residential", Some(line.to_string()))
                    }
                }
            }
        };
        streets.push(Street {
            a,
            b,
            highway,
            name,
        });
    };
    for (j, line) in row_names.iter().enumerate() {
        for i in 0..NX {
            push_edge(id(i, j), id(i + 1, j), plan.row_class[j], line, rng);
        }
    }
    for (i, line) in col_names.iter().enumerate() {
        for j in 0..NY {
            push_edge(id(i, j), id(i, j + 1), plan.col_class[i], line, rng);
        }
    }
    for j in 0..plan.steps {
        let i = plan.i0 + j;
        push_edge(
            id(i, j),
            id(i + 1, j + 1),
            LineClass::Secondary,
            avenue,
            rng,
        );
    }
    (streets, edge_line)
}

/// Builds the lattice; `avenue` names the diagonal avenue.
pub(crate) fn build(rng: &mut ChaCha8Rng, avenue: &str, angle: f64) -> Lattice {
    let nodes = jittered_nodes(rng, angle);
    let plan = Plan::draw(rng);
    // The line names are drawn before the superblocks (the order of the random stream).
    let (col_names, row_names) = plan.line_names(rng);
    let (group, footway_groups) = superblocks(rng, &plan);
    let (mut pieces, piece_group) = pieces(&plan, &group);
    let mut blocks = blocks(&mut pieces, &piece_group, &nodes);
    let (edge_pieces, interior_edges) = edges(&pieces, &mut blocks);
    let input = StreetInput {
        col_names: &col_names,
        row_names: &row_names,
        interior_edges: &interior_edges,
        edge_pieces: &edge_pieces,
        piece_group: &piece_group,
        footway_groups: &footway_groups,
    };
    let (streets, edge_line) = streets(rng, &plan, &input, avenue);
    let centre = nodes[id(plan.ic, plan.jc)];
    Lattice {
        nodes,
        pieces,
        blocks,
        streets,
        centre,
        edge_line,
        interior_edges,
    }
}

impl Lattice {
    /// Piece outline in local metres, counter-clockwise.
    pub(crate) fn piece_ring(&self, p: usize) -> Vec<Pt> {
        self.pieces[p]
            .nodes
            .iter()
            .map(|&n| self.nodes[n])
            .collect()
    }

    /// Edges of piece `p` that face a street (bound its block), as (from, to) node pairs.
    pub(crate) fn frontage(&self, p: usize) -> Vec<(usize, usize)> {
        let nodes = &self.pieces[p].nodes;
        let n = nodes.len();
        (0..n)
            .map(|k| (nodes[k], nodes[(k + 1) % n]))
            .filter(|&(a, b)| self.interior_edges.binary_search(&key(a, b)).is_err())
            .collect()
    }

    /// Name of the street line an edge lies on.
    pub(crate) fn line_of(&self, a: usize, b: usize) -> &str {
        self.edge_line
            .get(&key(a, b))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Whether the lattice pieces are all strictly convex (an invariant of `build`).
    pub(crate) fn pieces_convex(&self) -> bool {
        self.pieces.iter().enumerate().all(|(p, _)| {
            let r = self.piece_ring(p);
            let n = r.len();
            (0..n).all(|k| cross(r[k], r[(k + 1) % n], r[(k + 2) % n]) > 0.0)
        })
    }
}

/// Centroid of a set of blocks weighted by area.
pub(crate) fn blocks_centre(lat: &Lattice, blocks: &[usize]) -> Pt {
    let (mut x, mut y, mut a) = (0.0, 0.0, 0.0);
    for &b in blocks {
        let bl = &lat.blocks[b];
        x += bl.centroid.x * bl.area;
        y += bl.centroid.y * bl.area;
        a += bl.area;
    }
    Pt { x: x / a, y: y / a }
}

/// The block of `blocks` nearest to `p`.
pub(crate) fn nearest_block(lat: &Lattice, blocks: &[usize], p: Pt) -> usize {
    *blocks
        .iter()
        .min_by(|&&a, &&b| {
            dist(lat.blocks[a].centroid, p)
                .total_cmp(&dist(lat.blocks[b].centroid, p))
                .then(a.cmp(&b))
        })
        .expect("a community has blocks")
}
