//! Balanced, connected partitions of a block graph (communities, first- and second-level grids).
//!
//! Owns the growth-and-refine heuristic only: it sees nodes, weights, positions and adjacency,
//! never geometry or households as such.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geom::{dist, Pt};

/// A graph of blocks restricted to one parent region, with local indices `0..n`.
pub(crate) struct Graph {
    /// Neighbours of each node (local indices, ascending).
    pub adj: Vec<Vec<usize>>,
    /// Weight (nominal households) of each node.
    pub weight: Vec<f64>,
    /// Position of each node (block centroid).
    pub pos: Vec<Pt>,
}

impl Graph {
    fn n(&self) -> usize {
        self.adj.len()
    }

    /// Whether the nodes with `group[v] == g`, minus `skip`, form one connected set.
    fn connected_without(&self, group: &[usize], g: usize, skip: usize) -> bool {
        let members: Vec<usize> = (0..self.n())
            .filter(|&v| group[v] == g && v != skip)
            .collect();
        let Some(&first) = members.first() else {
            return false;
        };
        let mut seen = vec![false; self.n()];
        seen[first] = true;
        let mut stack = vec![first];
        let mut count = 1;
        while let Some(v) = stack.pop() {
            for &w in &self.adj[v] {
                if !seen[w] && w != skip && group[w] == g {
                    seen[w] = true;
                    count += 1;
                    stack.push(w);
                }
            }
        }
        count == members.len()
    }
}

/// Splits a connected graph into `k` connected groups of similar weight.
///
/// Returns the group of every node; groups are numbered by their seeds, west to east in
/// rows from north to south, so codes read like a map.
pub(crate) fn partition(g: &Graph, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = g.n();
    let k = k.clamp(1, n.max(1));
    if n == 0 {
        return Vec::new();
    }
    // Seeds: a random start, then farthest-point sampling.
    let mut seeds = vec![rng.gen_range(0..n)];
    while seeds.len() < k {
        let far = (0..n)
            .filter(|v| !seeds.contains(v))
            .max_by(|&a, &b| {
                let da = seeds
                    .iter()
                    .map(|&s| dist(g.pos[a], g.pos[s]))
                    .fold(f64::MAX, f64::min);
                let db = seeds
                    .iter()
                    .map(|&s| dist(g.pos[b], g.pos[s]))
                    .fold(f64::MAX, f64::min);
                da.total_cmp(&db).then(b.cmp(&a))
            })
            .expect("k <= n leaves a candidate");
        seeds.push(far);
    }
    // Grow: the lightest group that can grow takes its frontier node nearest to its seed.
    const NONE: usize = usize::MAX;
    let mut group = vec![NONE; n];
    let mut gw = vec![0.0; k];
    let mut size = vec![0usize; k];
    for (i, &s) in seeds.iter().enumerate() {
        group[s] = i;
        gw[i] = g.weight[s];
        size[i] = 1;
    }
    let mut left = n - k;
    while left > 0 {
        let mut best: Option<(usize, usize)> = None;
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            (gw[a] + size[a] as f64 * 1e-3)
                .total_cmp(&(gw[b] + size[b] as f64 * 1e-3))
                .then(a.cmp(&b))
        });
        for &gi in &order {
            let cand = (0..n)
                .filter(|&v| group[v] == NONE && g.adj[v].iter().any(|&w| group[w] == gi))
                .min_by(|&a, &b| {
                    dist(g.pos[a], g.pos[seeds[gi]])
                        .total_cmp(&dist(g.pos[b], g.pos[seeds[gi]]))
                        .then(a.cmp(&b))
                });
            if let Some(v) = cand {
                best = Some((gi, v));
                break;
            }
        }
        let Some((gi, v)) = best else {
            // Disconnected input: give the rest to the nearest seed so every node has a group.
            for (v, gv) in group.iter_mut().enumerate() {
                if *gv == NONE {
                    *gv = (0..k)
                        .min_by(|&a, &b| {
                            dist(g.pos[v], g.pos[seeds[a]])
                                .total_cmp(&dist(g.pos[v], g.pos[seeds[b]]))
                        })
                        .expect("k >= 1");
                }
            }
            break;
        };
        group[v] = gi;
        gw[gi] += g.weight[v];
        size[gi] += 1;
        left -= 1;
    }
    refine(g, &mut group, k);
    renumber(g, &mut group, k);
    group
}

/// Moves boundary nodes between neighbouring groups while that lowers the squared deviation
/// of group weights from their mean and keeps the donor connected.
fn refine(g: &Graph, group: &mut [usize], k: usize) {
    let n = g.n();
    let total: f64 = g.weight.iter().sum();
    let target = total / k as f64;
    let mut gw = vec![0.0; k];
    for v in 0..n {
        gw[group[v]] += g.weight[v];
    }
    for _ in 0..(4 * n) {
        let mut best: Option<(f64, usize, usize)> = None;
        for v in 0..n {
            let from = group[v];
            let w = g.weight[v];
            if w <= 0.0 {
                continue;
            }
            for &u in &g.adj[v] {
                let to = group[u];
                if to == from {
                    continue;
                }
                let before = (gw[from] - target).powi(2) + (gw[to] - target).powi(2);
                let after = (gw[from] - w - target).powi(2) + (gw[to] + w - target).powi(2);
                let gain = before - after;
                if gain > 1e-6
                    && best.is_none_or(|(bg, _, _)| gain > bg)
                    && g.connected_without(group, from, v)
                {
                    best = Some((gain, v, to));
                }
            }
        }
        let Some((_, v, to)) = best else { break };
        gw[group[v]] -= g.weight[v];
        gw[to] += g.weight[v];
        group[v] = to;
    }
}

/// Renumbers groups in reading order of their weighted centres (north to south, west to east).
fn renumber(g: &Graph, group: &mut [usize], k: usize) {
    let mut c = vec![(0.0, 0.0, 0.0); k];
    for v in 0..g.n() {
        let e = &mut c[group[v]];
        e.0 += g.pos[v].x;
        e.1 += g.pos[v].y;
        e.2 += 1.0;
    }
    let mut order: Vec<usize> = (0..k).filter(|&i| c[i].2 > 0.0).collect();
    // Bands of 400 m from north to south, then west to east inside a band.
    order.sort_by(|&a, &b| {
        let (ax, ay) = (c[a].0 / c[a].2, c[a].1 / c[a].2);
        let (bx, by) = (c[b].0 / c[b].2, c[b].1 / c[b].2);
        let (ba, bb) = ((-ay / 400.0).floor(), (-by / 400.0).floor());
        ba.total_cmp(&bb).then(ax.total_cmp(&bx)).then(a.cmp(&b))
    });
    let mut map = vec![0; k];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new;
    }
    for x in group.iter_mut() {
        *x = map[*x];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn grid_graph(w: usize, h: usize) -> Graph {
        let mut adj = vec![Vec::new(); w * h];
        let mut pos = Vec::new();
        for j in 0..h {
            for i in 0..w {
                let v = j * w + i;
                pos.push(Pt {
                    x: i as f64 * 100.0,
                    y: j as f64 * 100.0,
                });
                if i + 1 < w {
                    adj[v].push(v + 1);
                    adj[v + 1].push(v);
                }
                if j + 1 < h {
                    adj[v].push(v + w);
                    adj[v + w].push(v);
                }
            }
        }
        for a in &mut adj {
            a.sort_unstable();
        }
        let weight = (0..w * h).map(|v| 50.0 + (v * 37 % 100) as f64).collect();
        Graph { adj, weight, pos }
    }

    #[test]
    fn groups_are_connected_and_balanced() {
        let g = grid_graph(10, 8);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let k = 6;
        let group = partition(&g, k, &mut rng);
        let total: f64 = g.weight.iter().sum();
        for gi in 0..k {
            assert!(
                g.connected_without(&group, gi, usize::MAX),
                "group {gi} split"
            );
            let w: f64 = (0..g.n())
                .filter(|&v| group[v] == gi)
                .map(|v| g.weight[v])
                .sum();
            let mean = total / k as f64;
            assert!(
                (w - mean).abs() < 0.2 * mean,
                "group {gi} weight {w} vs {mean}"
            );
        }
    }
}
