//! The text index behind `GET /api/search`: each layer's codes, names and addresses,
//! lower-cased once when the layer is built, with the codes sorted by (length, code) so
//! that an exact code or a code prefix is a binary search, and the texts laid end to end
//! so that a "contains" match is one pass of a substring search over one buffer.
//!
//! The ranking is the route's: exact code first, then code prefix, then a code or text
//! that contains the query; ties by code length (bytes), then communities, grids,
//! buildings, each in layer order. A query of several words (split at white space) is
//! contained by an item when each word is, in any of its fields and in any order:
//! "陵江 第1网格" finds 陵江社区第1网格. Only the first `limit` visible hits are looked at, so a
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
            ix.code_ends
                .push((ix.hay.len() - *ix.starts.last().unwrap_or(&0) as usize) as u32);
            ix.hay.push('\0');
            for t in texts.into_iter().flatten() {
                ix.hay.push_str(&t.to_lowercase());
                ix.hay.push('\0');
            }
        }
        ix.starts.push(ix.hay.len() as u32);
        let mut order: Vec<u32> = (0..ix.code_lens.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            (ix.code_lens[a as usize], ix.code(a), a).cmp(&(
                ix.code_lens[b as usize],
                ix.code(b),
                b,
            ))
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
    fn prefixed<'s>(
        &'s self,
        needle: &'s str,
    ) -> impl Iterator<Item = (u32, &'s [u32], &'s [u32])> + 's {
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

    /// Items whose code or texts contain every one of `words` (each anywhere in the item's
    /// fields) but whose code does not start with `needle`, in layer order.
    fn containing(&self, needle: &str, words: &[&str]) -> Vec<u32> {
        let mut out: Vec<u32> = vec![];
        // One pass over the buffer for the longest word (the rarest, most likely); the
        // others are looked for in the part of each item it finds.
        let Some(scan) = words.iter().copied().max_by_key(|w| w.len()) else {
            return out;
        };
        let mut from = 0;
        while let Some(at) = self.hay[from..].find(scan) {
            let i = self.item_at(from + at);
            let part =
                &self.hay[self.starts[i as usize] as usize..self.starts[i as usize + 1] as usize];
            if !self.code(i).starts_with(needle) && words.iter().all(|w| part.contains(w)) {
                out.push(i);
            }
            // On to the next item: one hit per item is enough.
            from = self.starts[i as usize + 1] as usize;
        }
        out
    }
}

/// A hit: which layer (its place in the list given to [`search`]) and the item's position.
pub type Hit = (usize, u32);

/// The first `limit` visible items of the layers, ranked as the module says. `layers` are
/// in tie-break order, each with whether an item (by position) may be shown.
pub fn search(
    layers: &[(&TextIndex, &dyn Fn(u32) -> bool)],
    query: &str,
    limit: usize,
) -> Vec<Hit> {
    let needle = query.trim().to_lowercase();
    let mut hits: Vec<Hit> = vec![];
    if needle.is_empty() || needle.contains('\0') || limit == 0 {
        return hits;
    }
    // Takes candidates sorted by their rank key while the page is not full.
    let take = |hits: &mut Vec<Hit>, mut cands: Vec<(u32, usize, u32)>| {
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
    // Codes and texts containing every word of the query: a pass over each layer's buffer.
    let words: Vec<&str> = needle.split_whitespace().collect();
    let mut cands = vec![];
    for (k, (ix, _)) in layers.iter().enumerate() {
        cands.extend(
            ix.containing(&needle, &words)
                .into_iter()
                .map(|i| (ix.code_lens[i as usize], k, i)),
        );
    }
    take(&mut hits, cands);
    hits
}
