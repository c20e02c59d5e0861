//! The search box's index against the ranking it replaced: for many queries and page sizes
//! on a registry whose codes share prefixes, with hidden items, mixed case, names and
//! addresses, the indexed search answers exactly what ranking every item and sorting did;
//! and `GET /api/search` on the demo district finds a grid by several words.

mod common;

use common::*;
use wangge::domain::access::{Role, ScopeKind};
use wangge::spatial::search::{search, Hit, TextIndex};

/// One layer of a test registry: (code, texts) per item, and whether each may be shown.
type Layer = (Vec<(String, Vec<Option<String>>)>, Vec<bool>);

/// The ranking as the route did it before the index: every item ranked, sorted stably. A
/// query of several words matches an item whose code or texts hold each word.
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
            } else if needle.split_whitespace().all(|w| {
                texts.iter().flatten().any(|t| t.to_lowercase().contains(w)) || c.contains(w)
            }) {
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
        "tower 幸福",
        "5108 号",
        "grid 第3网格",
        "grid  nothing",
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

#[test]
fn several_words_match_items_holding_each_word() {
    let layers = sample();
    // Grid names are "第{g}网格 Grid": both words, in either order and either case.
    let grids = |hits: Vec<Hit>| -> Vec<String> {
        hits.into_iter()
            .filter(|&(k, _)| k == 1)
            .map(|(_, i)| layers[1].0[i as usize].0.clone())
            .collect()
    };
    let both = grids(indexed(&layers, "grid 第3网格", 100));
    assert!(!both.is_empty());
    assert!(both.iter().all(|c| c.ends_with("03")), "{both:?}");
    assert_eq!(grids(indexed(&layers, "第3网格 GRID", 100)), both);
    // The words may sit in different fields: a building's name and its address.
    let b = indexed(&layers, "tower 幸福路2号", 100);
    assert!(!b.is_empty());
    for (k, i) in b {
        assert_eq!(k, 2);
        let texts = &layers[2].0[i as usize].1;
        assert!(texts[0].as_deref().is_some_and(|n| n.contains("Tower")));
        assert!(texts[1].as_deref().is_some_and(|a| a.contains("幸福路2号")));
    }
    // One word that no item holds: nothing, though the others match everything.
    assert!(indexed(&layers, "grid 第3网格 nowhere", 100).is_empty());
}

/// The search route on the demo district: "陵江 第1网格" finds 陵江社区第1网格 first, for
/// an administrator and for the grid's chief.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_finds_a_grid_by_several_words() {
    const GRID: &str = "51080210200101";
    let db = TestDb::new(Template::Demo).await;
    let s = TestServer::start(&db).await;
    s.add_account("s_admin", Role::Admin, "GYKFQ", ScopeKind::Region, &[], &[])
        .await;
    s.add_account(
        "s_chief",
        Role::GridChief,
        "510802102",
        ScopeKind::Grids,
        &[],
        &[GRID],
    )
    .await;
    for who in ["s_admin", "s_chief"] {
        let c = s.sign_in(who).await;
        for q in [
            "陵江%20第1网格",
            "第1网格%20陵江",
            "%20陵江社区%20%20第1网格%20",
        ] {
            let (st, body) = c.get(&format!("/api/search?q={q}")).await;
            assert_eq!(st, 200, "{who} {q}: {body}");
            let results = body["results"].as_array().expect("results");
            assert_eq!(
                results.first().map(|r| &r["code"]),
                Some(&serde_json::json!(GRID)),
                "{who} {q}: {body}"
            );
            assert_eq!(results[0]["name"], "陵江社区第1网格", "{who} {q}");
            for r in results {
                let name = r["name"].as_str().unwrap_or_default();
                assert!(
                    name.contains("陵江") && name.contains("第1网格"),
                    "{who} {q}: every hit holds both words: {r}"
                );
            }
        }
        // A word no grid holds: nothing, although the other word matches.
        let (_, body) = c.get("/api/search?q=陵江%20第999网格").await;
        assert_eq!(body["results"], serde_json::json!([]), "{who}: {body}");
    }
}
