//! The text index behind `GET /api/search`: each layer's codes, names and addresses,
//! lower-cased once when the layer is built, with the codes sorted by (length, code) so
//! that an exact code or a code prefix is a binary search, and the texts laid end to end
//! so that a "contains" match is one pass of a substring search over one buffer.
//!
//! The ranking is the route's: exact code first, then code prefix, then a code or text
//! that contains the query; ties by code length (bytes), then communities, grids,
//! buildings, each in layer order. Only the first `limit` visible hits are looked at, so a
//! query that a whole city's codes start with costs a few comparisons, not a scan.
//!
//! Must not: decide access (the caller passes whether a hit is visible), or build answers.

/// Lower-cased codes and texts of one layer's items.
#[derive(Debug, Default)]
pub struct TextIndex {
    /// Per item: lower-cased code, NUL, lower-cased texts each followed by NUL. The
    /// database's text cannot hold NUL, so a query without one never matches across fields.
    hay: String,
    /// Where each item's part of `hay` starts, and one more entry: the end.
    starts: Vec<u32>,
    /// Byte length of each item's lower-cased code (at the start of its part).
    code_ends: Vec<u32>,
    /// Byte length of each item's code as stored (the ranking's tie-break).
    code_lens: Vec<u32>,
    /// Item positions sorted by (code length, lower-cased code, position).
    order: Vec<u32>,
}

impl TextIndex {
    /// Indexes items given as (code, texts), in layer order.
    pub fn new<'a, I, T>(items: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, T)>,
        T: IntoIterator<Item = Option<&'a str>>,
    {
        let mut ix = Self::default();
        for (code, texts) in items {
            ix.starts.push(ix.hay.len() as u32);
            ix.code_lens.push(code.len() as u32);
            ix.hay.push_str(&code.to_lowercase());
            ix.code_ends.push((ix.hay.len() - *ix.starts.last().unwrap_or(&0) as usize) as u32);
            ix.hay.push('\0');
            for t in texts.into_iter().flatten() {
                ix.hay.push_str(&t.to_lowercase());
                ix.hay.push('\0');
            }
        }
        ix.starts.push(ix.hay.len() as u32);
        let mut order: Vec<u32> = (0..ix.code_lens.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            (ix.code_lens[a as usize], ix.code(a), a).cmp(&(ix.code_lens[b as usize], ix.code(b), b))
        });
        ix.order = order;
        ix
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.code_lens.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.code_lens.is_empty()
    }

    /// The lower-cased code of an item.
    fn code(&self, i: u32) -> &str {
        let s = self.starts[i as usize] as usize;
        &self.hay[s..s + self.code_ends[i as usize] as usize]
    }

    /// The item whose part of `hay` holds byte `at`.
    fn item_at(&self, at: usize) -> u32 {
        (self.starts.partition_point(|&s| s as usize <= at) - 1) as u32
    }

    /// Items whose lower-cased code starts with `needle`, one group per code length
    /// (ascending): (code length, exact matches, other prefix matches), each sorted by code.
    fn prefixed<'s>(&'s self, needle: &'s str) -> impl Iterator<Item = (u32, &'s [u32], &'s [u32])> + 's {
        let mut from = 0;
        std::iter::from_fn(move || {
            let rest = &self.order[from..];
            let len = self.code_lens[*rest.first()? as usize];
            let group = &rest[..rest.partition_point(|&i| self.code_lens[i as usize] == len)];
            from += group.len();
            let lo = group.partition_point(|&i| self.code(i) < needle);
            let group = &group[lo..];
            let hi = group.partition_point(|&i| self.code(i).starts_with(needle));
            let eq = group[..hi].partition_point(|&i| self.code(i) == needle);
            Some((len, &group[..eq], &group[eq..hi]))
        })
    }

    /// Items whose code or texts contain `needle` but whose code does not start with it,
    /// in layer order.
    fn containing(&self, needle: &str) -> Vec<u32> {
        let mut out: Vec<u32> = vec![];
        for (at, _) in self.hay.match_indices(needle) {
            let i = self.item_at(at);
            if out.last() != Some(&i) && !self.code(i).starts_with(needle) {
                out.push(i);
            }
        }
        out
    }
}

/// A hit: which layer (its place in the list given to [`search`]) and the item's position.
pub type Hit = (usize, u32);

/// The first `limit` visible items of the layers, ranked as the module says. `layers` are
/// in tie-break order, each with whether an item (by position) may be shown.
pub fn search(layers: &[(&TextIndex, &dyn Fn(u32) -> bool)], query: &str, limit: usize) -> Vec<Hit> {
    let needle = query.trim().to_lowercase();
    let mut hits: Vec<Hit> = vec![];
    if needle.is_empty() || needle.contains('\0') || limit == 0 {
        return hits;
    }
    // Takes candidates sorted by their rank key while the page is not full.
    let mut take = |hits: &mut Vec<Hit>, mut cands: Vec<(u32, usize, u32)>| {
        cands.sort_unstable();
        for (_, k, i) in cands {
            if hits.len() >= limit {
                break;
            }
            if (layers[k].1)(i) {
                hits.push((k, i));
            }
        }
    };
    // Exact codes, then code prefixes by code length: (code length, layer, group).
    let mut exact = vec![];
    let mut groups: Vec<(u32, usize, &[u32])> = vec![];
    for (k, (ix, _)) in layers.iter().enumerate() {
        for (len, eq, rest) in ix.prefixed(&needle) {
            exact.extend(eq.iter().map(|&i| (len, k, i)));
            if !rest.is_empty() {
                groups.push((len, k, rest));
            }
        }
    }
    take(&mut hits, exact);
    groups.sort_by_key(|&(len, k, _)| (len, k));
    for (len, k, group) in groups {
        if hits.len() >= limit {
            return hits;
        }
        take(&mut hits, group.iter().map(|&i| (len, k, i)).collect());
    }
    if hits.len() >= limit {
        return hits;
    }
    // Codes and texts containing the query: a pass over each layer's buffer.
    let mut cands = vec![];
    for (k, (ix, _)) in layers.iter().enumerate() {
        cands.extend(
            ix.containing(&needle)
                .into_iter()
                .map(|i| (ix.code_lens[i as usize], k, i)),
        );
    }
    take(&mut hits, cands);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranking as the route did it before the index: every item ranked, sorted stably.
    fn naive(layers: &[(Vec<(String, Vec<Option<String>>)>, Vec<bool>)], q: &str, limit: usize) -> Vec<Hit> {
        let needle = q.trim().to_lowercase();
        let mut hits = vec![];
        for (k, (items, shown)) in layers.iter().enumerate() {
            for (i, (code, texts)) in items.iter().enumerate() {
                let c = code.to_lowercase();
                let rank = if c == needle {
                    0
                } else if c.starts_with(&needle) {
                    1
                } else if texts.iter().flatten().any(|t| t.to_lowercase().contains(&needle)) || c.contains(&needle) {
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

    fn indexed(layers: &[(Vec<(String, Vec<Option<String>>)>, Vec<bool>)], q: &str, limit: usize) -> Vec<Hit> {
        let ixs: Vec<TextIndex> = layers
            .iter()
            .map(|(items, _)| TextIndex::new(items.iter().map(|(c, t)| (c.as_str(), t.iter().map(|x| x.as_deref())))))
            .collect();
        let shows: Vec<Box<dyn Fn(u32) -> bool + '_>> = layers
            .iter()
            .map(|(_, shown)| Box::new(move |i: u32| shown[i as usize]) as Box<dyn Fn(u32) -> bool>)
            .collect();
        let args: Vec<(&TextIndex, &dyn Fn(u32) -> bool)> =
            ixs.iter().zip(&shows).map(|(ix, f)| (ix, f.as_ref())).collect();
        search(&args, q, limit)
    }

    /// A small registry: communities, grids and buildings with codes that share prefixes,
    /// mixed case, names and addresses, some hidden.
    fn sample() -> Vec<(Vec<(String, Vec<Option<String>>)>, Vec<bool>)> {
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
        vec![(communities, shown(nc, 3)), (grids, shown(ng, 4)), (buildings, shown(nb, 5))]
    }

    #[test]
    fn answers_as_the_full_ranking_does() {
        let layers = sample();
        let queries = [
            "510802", "510802100001", "5108021000010", "51080210000101-c003", "-C00", "c002-b02", "幸福", "tower",
            "GRID", "x-51", "2网格", "号 5108", "nothing", " 510802 ", "1", "0",
        ];
        for q in queries {
            for limit in [1, 3, 20, 100, 1000] {
                assert_eq!(indexed(&layers, q, limit), naive(&layers, q, limit), "q={q:?} limit={limit}");
            }
        }
        assert!(indexed(&layers, "510802", 20).len() == 20);
        assert!(indexed(&layers, "", 20).is_empty());
        assert!(indexed(&layers, "a\0b", 20).is_empty());
    }
}
