//! Tests of the walking search, the target index and coverage: exactness against a plain
//! Dijkstra and brute force, coverage counts, threads, and the GB 50180 walking settings.

use super::*;
use crate::spatial::network::{LineInput, Network, Snap};
use geo::Coord;
use rand::{Rng, SeedableRng};

#[test]
fn exact_with_light_and_zero_length_edges() {
    // A path whose edges range from 0 m to 400 m: many are lighter than the bucket width.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut lon = 105.8;
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for i in 0..300 {
        nodes.push(crate::spatial::network::NodeSpec {
            id: i,
            coord: Coord { x: lon, y: 32.4 },
        });
        if i > 0 {
            let len = if i % 7 == 0 {
                0.0
            } else {
                rng.gen_range(0.0..400.0)
            };
            edges.push(crate::spatial::network::EdgeSpec {
                id: i,
                source: i as u32 - 1,
                target: i as u32,
                geometry: vec![
                    Coord {
                        x: lon - 0.001,
                        y: 32.4,
                    },
                    Coord { x: lon, y: 32.4 },
                ],
                length_m: Some(len),
                highway: String::new(),
                name: None,
            });
            // A shortcut every 10 nodes makes ties and re-relaxations likely.
            if i >= 10 && i % 10 == 0 {
                edges.push(crate::spatial::network::EdgeSpec {
                    id: 10_000 + i,
                    source: i as u32 - 10,
                    target: i as u32,
                    geometry: vec![
                        Coord {
                            x: lon - 0.01,
                            y: 32.4,
                        },
                        Coord { x: lon, y: 32.4 },
                    ],
                    length_m: Some(rng.gen_range(0.0..900.0)),
                    highway: String::new(),
                    name: None,
                });
            }
        }
        lon += 0.001;
    }
    let net = Network::from_parts(nodes, edges).expect("valid");
    let mut dij = Dijkstra::new(&net);
    for cutoff in [50.0, 3000.0, 1e6, f64::INFINITY] {
        let starts = [0u32, 150, 299];
        dij.run_from_nodes(&net, &starts, cutoff);
        let want = reference(&net, &starts.map(|s| (s, 0.0)));
        for (n, (&got, &want)) in dij.distances().iter().zip(&want).enumerate() {
            if want <= cutoff {
                assert_eq!(got, want, "node {n} cutoff {cutoff}");
            } else {
                assert!(got.is_infinite(), "node {n} cutoff {cutoff}");
            }
        }
    }
}

fn random_net(seed: u64) -> Network {
    Network::synthetic_lattice(12, 9, 60.0, 0.3, 105.84, 32.43, seed).expect("lattice")
}

/// Plain O(n^2) Dijkstra from one seed set for reference.
fn reference(net: &Network, seeds: &[(u32, f64)]) -> Vec<f64> {
    let n = net.node_count();
    let mut d = vec![f64::INFINITY; n];
    let mut done = vec![false; n];
    for &(s, x) in seeds {
        d[s as usize] = d[s as usize].min(x);
    }
    loop {
        let u = (0..n)
            .filter(|&i| !done[i] && d[i].is_finite())
            .min_by(|&a, &b| d[a].total_cmp(&d[b]));
        let Some(u) = u else { break };
        done[u] = true;
        for a in net.arcs(u as u32) {
            let nd = d[u] + a.len;
            if nd < d[a.to as usize] {
                d[a.to as usize] = nd;
            }
        }
    }
    d
}

#[test]
fn multi_source_matches_reference_and_targets_match_brute_force() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for seed in 0..20 {
        let net = random_net(seed);
        let bbox = net
            .node_coords()
            .iter()
            .fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |b, c| {
                (b.0.min(c.x), b.1.max(c.x), b.2.min(c.y), b.3.max(c.y))
            });
        let pt = |rng: &mut rand_chacha::ChaCha8Rng| Coord {
            x: rng.gen_range(bbox.0..bbox.1),
            y: rng.gen_range(bbox.2..bbox.3),
        };
        let sources: Vec<Snap> = (0..rng.gen_range(1..5))
            .map(|_| net.snap(pt(&mut rng)).expect("snap"))
            .collect();
        let targets: Vec<Snap> = (0..60)
            .map(|_| net.snap(pt(&mut rng)).expect("snap"))
            .collect();
        let cutoff = rng.gen_range(100.0..700.0);
        let mut dij = Dijkstra::new(&net);
        dij.run_from_snaps(&net, &sources, cutoff);
        let seeds: Vec<(u32, f64)> = sources
            .iter()
            .flat_map(|s| snap_seeds(&net, s, 0))
            .map(|s| (s.node, s.dist))
            .collect();
        let full = reference(&net, &seeds);
        for n in 0..net.node_count() as u32 {
            match dij.distance(n) {
                Some(d) => assert!((d - full[n as usize]).abs() < 1e-9),
                None => assert!(full[n as usize] > cutoff),
            }
        }
        let index = TargetIndex::new(&net, &targets);
        let mut got = Vec::new();
        index.distances(&net, &dij, &sources, &mut got);
        for (t, ts) in targets.iter().enumerate() {
            // Brute force: over every source, the best of the 2x2 end combinations and
            // the direct walk when on the same edge.
            let mut best = f64::INFINITY;
            for s in &sources {
                let one = reference(&net, &snap_seeds(&net, s, 0).map(|x| (x.node, x.dist)));
                let [a, b] = net.edge_ends(ts.edge);
                let len = net.edge_len(ts.edge);
                let via = (one[a as usize] + ts.offset_m).min(one[b as usize] + len - ts.offset_m);
                best = best.min(via + ts.access_m);
                if s.edge == ts.edge {
                    best = best.min(s.access_m + (s.offset_m - ts.offset_m).abs() + ts.access_m);
                }
            }
            if best <= cutoff {
                assert!(
                    (got[t] - best).abs() < 1e-9,
                    "target {t}: {} vs {best}",
                    got[t]
                );
            } else {
                assert!(got[t].is_infinite());
            }
        }
    }
}

#[test]
fn coverage_counts_and_modes() {
    let c = |x: f64, y: f64| Coord { x, y };
    // A straight street about 1,113 m long (0.01 degrees of longitude at the equator).
    let net = Network::from_lines(&[LineInput::new(
        vec![c(0.0, 0.0), c(0.005, 0.0), c(0.01, 0.0)],
        "residential",
        None,
    )])
    .expect("line");
    let snap = |x: f64| net.snap(c(x, 0.0001)).expect("snap");
    let buildings: Vec<Building> = [0.0, 0.002, 0.006, 0.01]
        .iter()
        .enumerate()
        .map(|(i, &x)| Building {
            id: i as i64 + 1,
            residents: 100 * (i as u32 + 1),
            households: 40,
            snap: snap(x),
        })
        .collect();
    let stations = vec![
        Station {
            id: 1,
            kind: "clinic".into(),
            snap: snap(0.001),
        },
        Station {
            id: 2,
            kind: "elderly".into(),
            snap: snap(0.0095),
        },
    ];
    let mut acc = Accessibility::new(&net, &buildings);
    let rep = acc.coverage(
        &stations,
        WalkSetting::preset(LifeCircle::FiveMinute).cutoff_m(),
    );
    assert_eq!(rep.kinds, vec!["clinic".to_string(), "elderly".to_string()]);
    let clinic = rep.kind_index("clinic").expect("kind");
    // 0.001 deg ≈ 111.2 m; access legs 11.1 m each way.
    let d0 = rep.nearest_m(clinic, 0).expect("covered");
    assert!((d0 - (111.19 + 2.0 * 11.12)).abs() < 0.5, "{d0}");
    assert!(rep.nearest_m(clinic, 2).is_none());
    assert_eq!(rep.per_kind[clinic].buildings_covered, 2);
    assert_eq!(rep.per_kind[clinic].residents_covered, 300);
    let any = KindSelection::AnyOf(rep.kinds.clone());
    let all = KindSelection::AllOf(rep.kinds.clone());
    let t_any = rep.totals(&any, |_| true);
    let t_all = rep.totals(&all, |_| true);
    assert_eq!(t_any.buildings_covered, 3);
    assert_eq!(t_all.buildings_covered, 0);
    assert_eq!(rep.uncovered(&any), vec![2]);
    assert!(!rep.is_covered(0, &KindSelection::one("police")));
    assert!((t_any.residents_pct() - 70.0).abs() < 1e-9);
}

#[test]
fn kinds_on_several_threads_equal_one_thread() {
    let net = Network::synthetic_lattice(40, 30, 60.0, 0.3, 105.84, 32.43, 5).expect("lattice");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let n = net.node_count() as u32;
    let buildings: Vec<Building> = (0..500)
        .filter_map(|i| {
            let c = net.node_coord(rng.gen_range(0..n));
            let p = Coord {
                x: c.x + 0.0002,
                y: c.y - 0.0001,
            };
            net.snap(p).map(|snap| Building {
                id: i,
                residents: 10 + i as u32,
                households: 3,
                snap,
            })
        })
        .collect();
    let stations: Vec<Station> = (0..35)
        .filter_map(|i| {
            net.snap_at_node(rng.gen_range(0..n)).map(|snap| Station {
                id: i,
                kind: format!("k{}", i % 7),
                snap,
            })
        })
        .collect();
    let mut acc = Accessibility::new(&net, &buildings);
    acc.set_threads(1);
    let one = acc.coverage(&stations, 400.0);
    for threads in [2, 3, 16] {
        acc.set_threads(threads);
        // Twice: the second call reuses the pooled search states.
        for _ in 0..2 {
            assert_eq!(acc.coverage(&stations, 400.0), one, "{threads} threads");
        }
    }
    assert_eq!(one.kinds.len(), 7);
    assert!(one
        .per_kind
        .iter()
        .all(|t| t.buildings_covered > 0 && t.buildings_covered < t.buildings));
}

#[test]
fn walk_settings() {
    assert_eq!(WalkSetting::preset(LifeCircle::TenMinute).cutoff_m(), 500.0);
    assert_eq!(
        WalkSetting::preset(LifeCircle::FifteenMinute).cutoff_m(),
        1000.0
    );
    let w = WalkSetting {
        minutes: 10.0,
        speed_m_per_min: 80.0,
    };
    assert_eq!(w.cutoff_m(), 800.0);
    assert_eq!(w.minutes_for(400.0), 5.0);
}
