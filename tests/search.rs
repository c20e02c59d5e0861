//! The search box's index against the ranking it replaced: for many queries and page sizes
//! on a registry whose codes share prefixes, with hidden items, mixed case, names and
//! addresses, the indexed search answers exactly what ranking every item and sorting did.

use wangge::spatial::search::{search, Hit, TextIndex};

/// One layer of a test registry: (code, texts) per item, and whether each may be shown.
type Layer = (Vec<(String, Vec<Option<String>>)>, Vec<bool>);

/// The ranking as the route did it before the index: every item ranked, sorted stably.
fn naive(layers: &[Layer], q: &str, limit: usize) -> Vec<Hit> {
    let needle = q.trim().to_lowercase();
    let mut hits = vec![];
    for (k, (items, shown)) in layers.iter().enumerate() {
        for (i, (code, texts)) in items.iter().enumerate() {
            let c = code.to_lowercase();
            let rank = if c == needle {
                0
            } else if c.starts_with(&needle) {
                1
            } else if texts
                .iter()
                .flatten()
                .any(|t| t.to_lowercase().contains(&needle))
                || c.contains(&needle)
            {
                2
            } else {
                continue;
            };
            if shown[i] {
                hits.push((rank, code.len(), (k, i as u32)));
            }
        }
    }
    hits.sort_by_key(|&(r, len, _)| (r, len));
    hits.into_iter().take(limit).map(|(_, _, h)| h).collect()
}

fn indexed(layers: &[Layer], q: &str, limit: usize) -> Vec<Hit> {
    let ixs: Vec<TextIndex> = layers
        .iter()
        .map(|(items, _)| {
            TextIndex::new(
                items
                    .iter()
                    .map(|(c, t)| (c.as_str(), t.iter().map(|x| x.as_deref()))),
            )
        })
        .collect();
    let shows: Vec<Box<dyn Fn(u32) -> bool + '_>> = layers
        .iter()
        .map(|(_, shown)| {
            Box::new(move |i: u32| shown[i as usize]) as Box<dyn Fn(u32) -> bool + '_>
        })
        .collect();
    let args: Vec<(&TextIndex, &dyn Fn(u32) -> bool)> = ixs
        .iter()
        .zip(&shows)
        .map(|(ix, f)| (ix, f.as_ref()))
        .collect();
    search(&args, q, limit)
}

/// A small registry: communities, grids and buildings with codes that share prefixes,
/// mixed case, names and addresses, some hidden.
fn sample() -> Vec<Layer> {
    let mut communities = vec![];
    let mut grids = vec![];
    let mut buildings = vec![];
    for c in 0..4 {
        let cc = format!("51080210{c}001");
        communities.push((cc.clone(), vec![Some(format!("幸福社区{c}"))]));
        for g in 0..5 {
            let gc = format!("{cc}{g:02}");
            grids.push((gc.clone(), vec![Some(format!("第{g}网格 Grid"))]));
            for b in 0..7 {
                let name = (b % 3 != 0).then(|| format!("{b}栋 Tower"));
                let address = (b % 2 == 0).then(|| format!("幸福路{b}号 {gc}"));
                buildings.push((format!("{gc}-C{b:03}-B{b:02}"), vec![name, address]));
            }
        }
    }
    // Codes of other lengths, and one whose code equals another layer's.
    buildings.push(("510802100001".into(), vec![None, None]));
    grids.push(("X-510802".into(), vec![None]));
    let shown = |n: usize, m: usize| (0..n).map(|i| i % m != 1).collect::<Vec<_>>();
    let (nc, ng, nb) = (communities.len(), grids.len(), buildings.len());
    vec![
        (communities, shown(nc, 3)),
        (grids, shown(ng, 4)),
        (buildings, shown(nb, 5)),
    ]
}

#[test]
fn answers_as_the_full_ranking_does() {
    let layers = sample();
    let queries = [
        "510802",
        "510802100001",
        "5108021000010",
        "51080210000101-c003",
        "-C00",
        "c002-b02",
        "幸福",
        "tower",
        "GRID",
        "x-51",
        "2网格",
        "号 5108",
        "nothing",
        " 510802 ",
        "1",
        "0",
    ];
    for q in queries {
        for limit in [1, 3, 20, 100, 1000] {
            assert_eq!(
                indexed(&layers, q, limit),
                naive(&layers, q, limit),
                "q={q:?} limit={limit}"
            );
        }
    }
    assert_eq!(indexed(&layers, "510802", 20).len(), 20);
    assert!(indexed(&layers, "", 20).is_empty());
    assert!(indexed(&layers, "a\0b", 20).is_empty());
}
