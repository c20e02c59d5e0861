//! A plane sweep over the segments of polygon rings that finds, in O(n log n) for n
//! segments, where a ring touches or crosses itself, where two rings cross or share a
//! stretch of boundary, and which ring directly encloses each ring.
//!
//! It is Shamos and Hoey's sweep extended to the contacts a valid polygon allows (a hole
//! touching its shell at a point, parts of a MultiPolygon touching at a point):
//! - every contact that involves a vertex (two rings meeting at a vertex, a vertex lying on
//!   another segment, a shared stretch of boundary, which starts at a vertex) is examined
//!   at that vertex's event, with every segment through the vertex found as one block of
//!   the sweep status;
//! - a crossing of two segments away from any vertex is found when the two become
//!   neighbours in the status, which happens before the sweep reaches the crossing.
//!
//! The status is ordered by a comparison of two segments alone (evaluated where the later
//! of them starts), which is a consistent order as long as no two active segments cross.
//! So the sweep stops at the first crossing it reaches; up to there the order is sound.
//! Predicates are exact (`geo`'s robust orientation), so degenerate input (collinear
//! points, shared vertices) is decided correctly.
//!
//! Must not: allocate per pair of segments (only per segment and per contact found).

use crate::work::{checkpoint_every, Expired};
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::Coord;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

type C = Coord<f64>;

/// The sign of the turn a → b → c: 1 left (counter-clockwise), -1 right, 0 straight.
fn orient(a: C, b: C, c: C) -> i8 {
    match RobustKernel::orient2d(a, b, c) {
        Orientation::CounterClockwise => 1,
        Orientation::Clockwise => -1,
        Orientation::Collinear => 0,
    }
}

/// The sweep's order of points: by x, then by y.
fn lex(p: C, q: C) -> Ordering {
    p.x.partial_cmp(&q.x)
        .unwrap_or(Ordering::Equal)
        .then(p.y.partial_cmp(&q.y).unwrap_or(Ordering::Equal))
}

/// A segment with its ends in sweep order (`a` before `b`).
#[derive(Debug, Clone, Copy)]
struct Seg {
    a: C,
    b: C,
    id: u32,
}

/// Where a segment comes from.
#[derive(Debug, Clone, Copy)]
struct Info {
    ring: u32,
    /// Index of the segment in its ring (from position `index` to `index + 1`).
    index: u32,
    /// Whether the ring runs from `a` to `b` along this segment.
    forward: bool,
}

/// A key of the sweep status: a segment, or a probe just below or just above every
/// segment through a point.
#[derive(Debug, Clone, Copy)]
enum Key {
    Seg(Seg),
    Below(C),
    Above(C),
}

/// Where `probe` lies relative to `base` (Greater: above), judged where `probe` starts;
/// `probe` must start within `base`'s span. Collinear segments are ordered by id.
fn side(base: &Seg, probe: &Seg) -> Ordering {
    match orient(base.a, base.b, probe.a) {
        0 => match orient(base.a, base.b, probe.b) {
            0 => probe.id.cmp(&base.id),
            o => o.cmp(&0),
        },
        o => o.cmp(&0),
    }
}

fn seg_cmp(s: &Seg, t: &Seg) -> Ordering {
    if s.id == t.id {
        Ordering::Equal
    } else if lex(t.a, s.a) != Ordering::Less {
        side(s, t).reverse()
    } else {
        side(t, s)
    }
}

/// `s` relative to a probe at `q`; segments through `q` sort above the `Below` probe and
/// below the `Above` probe.
fn probe_cmp(s: &Seg, q: C, below: bool) -> Ordering {
    match orient(s.a, s.b, q) {
        1 => Ordering::Less,
        -1 => Ordering::Greater,
        _ if below => Ordering::Greater,
        _ => Ordering::Less,
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Seg(s), Key::Seg(t)) => seg_cmp(s, t),
            (Key::Seg(s), Key::Below(q)) => probe_cmp(s, *q, true),
            (Key::Seg(s), Key::Above(q)) => probe_cmp(s, *q, false),
            (Key::Below(q), Key::Seg(s)) => probe_cmp(s, *q, true).reverse(),
            (Key::Above(q), Key::Seg(s)) => probe_cmp(s, *q, false).reverse(),
            (x, y) => {
                let rank = |k: &Key| match k {
                    Key::Below(q) => (*q, 0),
                    Key::Above(q) => (*q, 1),
                    Key::Seg(s) => (s.a, 2),
                };
                let ((p, i), (q, j)) = (rank(x), rank(y));
                lex(p, q).then(i.cmp(&j))
            }
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// Where two segments cross at a point inside both, if they do.
fn proper_crossing(s: &Seg, t: &Seg) -> Option<C> {
    let o1 = orient(s.a, s.b, t.a);
    let o2 = orient(s.a, s.b, t.b);
    let o3 = orient(t.a, t.b, s.a);
    let o4 = orient(t.a, t.b, s.b);
    if o1 * o2 >= 0 || o3 * o4 >= 0 {
        return None;
    }
    let denom = (s.b.x - s.a.x) * (t.b.y - t.a.y) - (s.b.y - s.a.y) * (t.b.x - t.a.x);
    let u = ((t.a.x - s.a.x) * (t.b.y - t.a.y) - (t.a.y - s.a.y) * (t.b.x - t.a.x)) / denom;
    Some(Coord {
        x: s.a.x + u * (s.b.x - s.a.x),
        y: s.a.y + u * (s.b.y - s.a.y),
    })
}

/// Order of directions from `q` towards `f1` and `f2`, counter-clockwise from east.
fn angle_cmp(q: C, f1: C, f2: C) -> Ordering {
    let half = |f: C| u8::from(!(f.y > q.y || (f.y == q.y && f.x > q.x)));
    half(f1)
        .cmp(&half(f2))
        .then_with(|| match orient(q, f1, f2) {
            1 => Ordering::Less,
            -1 => Ordering::Greater,
            _ => Ordering::Equal,
        })
}

/// Whether the directions from `q` towards `f1` and `f2` are the same.
fn same_ray(q: C, f1: C, f2: C) -> bool {
    orient(q, f1, f2) == 0 && lex(f1, q) == lex(f2, q)
}

/// How two rings meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Meeting {
    /// Their boundaries cross: each has points on both sides of the other.
    Cross,
    /// They share a stretch of boundary; `a_left`/`b_left`: whether ring a's and ring b's
    /// interiors lie on the left of the shared stretch, in one direction along it.
    Line { a_left: bool, b_left: bool },
}

/// A place where two different rings meet in a way a simple arrangement forbids.
#[derive(Debug, Clone, Copy)]
pub(super) struct Contact {
    /// The lower ring number.
    pub a: usize,
    /// The higher ring number.
    pub b: usize,
    /// How.
    pub meeting: Meeting,
    /// Where (the first such place the sweep met).
    pub at: C,
}

/// What a sweep over several rings found.
#[derive(Debug, Default)]
pub(super) struct Arrangement {
    /// Forbidden contacts between rings, at most one per pair of rings and kind.
    pub contacts: Vec<Contact>,
    /// For each ring, the ring that directly encloses it; meaningful only when no two
    /// rings cross.
    pub parent: Vec<Option<usize>>,
    /// Whether two rings cross (the sweep stopped at the first crossing).
    pub crossed: bool,
    /// A ring whose segments the sweep could not keep in order, and where: only rings
    /// that cross can cause it, so it is a fault of that ring's shape.
    pub broken: Option<(usize, C)>,
}

/// A ring touching or crossing itself: the later segment of the offending pair and the
/// point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SelfContact {
    /// Ring number.
    pub ring: usize,
    /// Index of the later segment of the two.
    pub index: usize,
    /// Where.
    pub at: C,
}

/// One segment at an event point.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u32,
    /// The other end of the segment (or of its part) seen from the point.
    far: C,
    /// Whether `far` is the segment's `b`.
    toward_b: bool,
    /// Whether the point is inside the segment rather than one of its ends.
    through: bool,
}

/// The sweep over a set of rings (each closed, with no two consecutive equal positions).
pub(super) struct Sweep {
    segs: Vec<Seg>,
    info: Vec<Info>,
    /// Segments per ring.
    len: Vec<u32>,
    /// First segment id of each ring.
    base: Vec<u32>,
    /// Whether each ring runs counter-clockwise.
    ccw: Vec<bool>,
    /// Each ring's first point in sweep order.
    first: Vec<C>,
}

enum Stop {
    /// The sweep reached the end, or a crossing ahead of it.
    Done,
    /// A ring touches itself (only when asked to stop at one).
    SelfContact(SelfContact),
}

impl Sweep {
    /// Prepares the sweep over `rings`.
    pub fn new(rings: &[&[C]]) -> Self {
        let total: usize = rings.iter().map(|r| r.len().saturating_sub(1)).sum();
        let mut s = Sweep {
            segs: Vec::with_capacity(total),
            info: Vec::with_capacity(total),
            len: Vec::with_capacity(rings.len()),
            base: Vec::with_capacity(rings.len()),
            ccw: Vec::with_capacity(rings.len()),
            first: Vec::with_capacity(rings.len()),
        };
        for (r, ring) in rings.iter().enumerate() {
            let n = ring.len().saturating_sub(1);
            s.base.push(s.segs.len() as u32);
            s.len.push(n as u32);
            let mut m = 0;
            for i in 0..n {
                let (p, q) = (ring[i], ring[i + 1]);
                let forward = lex(p, q) != Ordering::Greater;
                let (a, b) = if forward { (p, q) } else { (q, p) };
                s.segs.push(Seg {
                    a,
                    b,
                    id: s.segs.len() as u32,
                });
                s.info.push(Info {
                    ring: r as u32,
                    index: i as u32,
                    forward,
                });
                if lex(p, ring[m]) == Ordering::Less {
                    m = i;
                }
            }
            // At its first point in sweep order a ring turns left iff it runs
            // counter-clockwise (a degenerate turn there is a fault found elsewhere).
            let ccw = n >= 2 && orient(ring[(m + n - 1) % n], ring[m], ring[m + 1]) > 0;
            s.ccw.push(ccw);
            s.first.push(ring.get(m).copied().unwrap_or_default());
        }
        s
    }

    /// The first place, in sweep order, where a ring touches or crosses itself other than
    /// where consecutive segments meet.
    pub fn self_contact(&self) -> Result<Option<SelfContact>, Expired> {
        let mut sink = Arrangement::default();
        match self.run(true, &mut sink)? {
            Stop::SelfContact(c) => Ok(Some(c)),
            Stop::Done => Ok(None),
        }
    }

    /// The contacts between different rings and, when none cross, their nesting. The rings
    /// must each be simple (see [`Sweep::self_contact`]).
    pub fn arrangement(&self) -> Result<Arrangement, Expired> {
        let mut out = Arrangement {
            parent: vec![None; self.len.len()],
            ..Arrangement::default()
        };
        self.run(false, &mut out)?;
        Ok(out)
    }

    fn ring_of(&self, id: u32) -> usize {
        self.info[id as usize].ring as usize
    }

    /// Whether segments `s` and `t` of one ring follow each other.
    fn consecutive(&self, s: u32, t: u32) -> bool {
        let (a, b) = (&self.info[s as usize], &self.info[t as usize]);
        let n = self.len[a.ring as usize];
        let (i, j) = (a.index.min(b.index), a.index.max(b.index));
        j == i + 1 || (i == 0 && j + 1 == n)
    }

    /// Whether two segments of one ring, both containing `q`, meet in a forbidden way.
    fn self_fault(&self, q: C, s: &Entry, t: &Entry) -> bool {
        if s.id == t.id {
            return false;
        }
        if s.through || t.through || !self.consecutive(s.id, t.id) {
            return true;
        }
        // Consecutive segments meeting at `q` fold back if they leave it the same way.
        same_ray(q, s.far, t.far)
    }

    /// Whether the ring's interior lies on the left of the direction from the point
    /// towards `e.far`.
    fn interior_left(&self, e: &Entry) -> bool {
        let info = &self.info[e.id as usize];
        let left_of_ab = self.ccw[info.ring as usize] == info.forward;
        left_of_ab == e.toward_b
    }

    /// Runs the sweep: to the first self-contact (when `stop_on_self`), or recording the
    /// contacts between rings and their nesting in `out`.
    fn run(&self, stop_on_self: bool, out: &mut Arrangement) -> Result<Stop, Expired> {
        let mut events: Vec<(C, u32, bool)> = Vec::with_capacity(self.segs.len() * 2);
        for s in &self.segs {
            events.push((s.a, s.id, true));
            events.push((s.b, s.id, false));
        }
        events.sort_unstable_by(|x, y| lex(x.0, y.0));
        let mut firsts: Vec<usize> = (0..self.first.len()).collect();
        firsts.sort_unstable_by(|&x, &y| lex(self.first[x], self.first[y]));
        let mut next_first = 0;

        let mut status: BTreeSet<Key> = BTreeSet::new();
        // The crossing ahead of the sweep found so far, with its two segments.
        let mut pending: Option<(C, u32, u32)> = None;
        let mut seen: HashSet<(usize, usize, Meeting)> = HashSet::new();
        let mut entries: Vec<Entry> = Vec::new();
        let (mut i, mut step) = (0, 0usize);
        while i < events.len() {
            checkpoint_every(step, 512)?;
            step += 1;
            let q = events[i].0;
            let mut j = i;
            while j < events.len() && lex(events[j].0, q) == Ordering::Equal {
                j += 1;
            }
            if pending.is_some_and(|(p, _, _)| lex(p, q) != Ordering::Greater) {
                break;
            }
            self.entries_at(q, &events[i..j], &status, &mut entries);
            if let Some(c) = self.at_point(q, &mut entries, stop_on_self, out, &mut seen) {
                return Ok(Stop::SelfContact(c));
            }
            if out.crossed {
                // Past a crossing the order of the status no longer holds.
                return Ok(Stop::Done);
            }
            if let Some(id) = self.advance(&events[i..j], &mut status) {
                // The order broke down, which only a crossing can cause: report the
                // crossing if it is known, else this ring's shape.
                if pending.is_none() {
                    let info = &self.info[id as usize];
                    if stop_on_self {
                        return Ok(Stop::SelfContact(SelfContact {
                            ring: info.ring as usize,
                            index: info.index as usize,
                            at: q,
                        }));
                    }
                    out.broken = Some((info.ring as usize, q));
                }
                break;
            }
            new_neighbours(&status, q, &mut pending);
            if !stop_on_self {
                let start = next_first;
                while next_first < firsts.len()
                    && lex(self.first[firsts[next_first]], q) == Ordering::Equal
                {
                    next_first += 1;
                }
                self.enclose(&firsts[start..next_first], &status, out);
            }
            i = j;
        }
        Ok(self.finish(pending, stop_on_self, out, &mut seen))
    }

    /// Every segment containing `q`, into `entries`: those that end or start here (`events`),
    /// and those passing through, which lie together in the status between the two probes.
    fn entries_at(
        &self,
        q: C,
        events: &[(C, u32, bool)],
        status: &BTreeSet<Key>,
        entries: &mut Vec<Entry>,
    ) {
        entries.clear();
        for &(_, id, start) in events {
            let s = &self.segs[id as usize];
            entries.push(Entry {
                id,
                far: if start { s.b } else { s.a },
                toward_b: start,
                through: false,
            });
        }
        for k in status.range(Key::Below(q)..=Key::Above(q)) {
            if let Key::Seg(s) = k {
                if s.b != q {
                    entries.push(Entry {
                        id: s.id,
                        far: s.a,
                        toward_b: false,
                        through: true,
                    });
                    entries.push(Entry {
                        id: s.id,
                        far: s.b,
                        toward_b: true,
                        through: true,
                    });
                }
            }
        }
    }

    /// Moves the sweep past one point: removes the segments that end there and inserts
    /// those that start. Returns a segment that could not be found, if any (the status's
    /// order broke down).
    fn advance(&self, events: &[(C, u32, bool)], status: &mut BTreeSet<Key>) -> Option<u32> {
        let mut lost: Option<u32> = None;
        for &(_, id, start) in events {
            if !start && !status.remove(&Key::Seg(self.segs[id as usize])) {
                lost = Some(id);
            }
        }
        for &(_, id, start) in events {
            if start {
                status.insert(Key::Seg(self.segs[id as usize]));
            }
        }
        lost
    }

    /// Rings whose first point this is (`starting`, in sweep order of their first points):
    /// their enclosing ring is decided by the segment just below their lower segment.
    fn enclose(&self, starting: &[usize], status: &BTreeSet<Key>, out: &mut Arrangement) {
        let mut here: Vec<(usize, Seg)> =
            starting.iter().map(|&r| (r, self.lower_first(r))).collect();
        here.sort_by(|x, y| seg_cmp(&x.1, &y.1));
        for (r, lower) in here {
            let under = status.range(..Key::Seg(lower)).next_back();
            out.parent[r] = match under {
                Some(Key::Seg(u)) => {
                    let info = &self.info[u.id as usize];
                    let owner = info.ring as usize;
                    if self.ccw[owner] == info.forward {
                        Some(owner)
                    } else {
                        out.parent[owner]
                    }
                }
                _ => None,
            };
        }
    }

    /// The end of the sweep: the crossing found ahead of it, if any, is a self-contact of
    /// one ring or a contact between two.
    fn finish(
        &self,
        pending: Option<(C, u32, u32)>,
        stop_on_self: bool,
        out: &mut Arrangement,
        seen: &mut HashSet<(usize, usize, Meeting)>,
    ) -> Stop {
        if let Some((p, s, t)) = pending {
            let (rs, rt) = (self.ring_of(s), self.ring_of(t));
            if rs == rt {
                if stop_on_self {
                    let index = self.info[s as usize].index.max(self.info[t as usize].index);
                    return Stop::SelfContact(SelfContact {
                        ring: rs,
                        index: index as usize,
                        at: p,
                    });
                }
            } else {
                push_contact(out, seen, rs, rt, Meeting::Cross, p);
            }
        }
        Stop::Done
    }

    /// The lower of the two segments of ring `r` that start at its first point.
    fn lower_first(&self, r: usize) -> Seg {
        let n = self.len[r] as usize;
        let base = self.base[r] as usize;
        let q = self.first[r];
        let mut found: Vec<Seg> = Vec::with_capacity(2);
        // The first point is the start of one segment and the end of the one before it.
        for i in 0..n {
            let s = &self.segs[base + i];
            if s.a == q {
                found.push(*s);
                if found.len() == 2 {
                    break;
                }
            }
        }
        match found.as_slice() {
            [s, t] if seg_cmp(s, t) == Ordering::Greater => *t,
            [s, ..] => *s,
            [] => self.segs[base],
        }
    }

    /// Examines every segment through `q`. Returns a self-contact when asked to stop at
    /// one; records contacts between rings in `out`.
    fn at_point(
        &self,
        q: C,
        entries: &mut [Entry],
        stop_on_self: bool,
        out: &mut Arrangement,
        seen: &mut HashSet<(usize, usize, Meeting)>,
    ) -> Option<SelfContact> {
        // The usual vertex: two consecutive segments of one ring, nothing else.
        if let [s, t] = entries {
            if self.ring_of(s.id) == self.ring_of(t.id) && !self.self_fault(q, s, t) {
                return None;
            }
        }
        entries.sort_unstable_by_key(|e| (self.ring_of(e.id), self.info[e.id as usize].index));
        // Within each ring.
        let mut rings: Vec<(usize, usize, usize)> = Vec::new(); // ring, from, to
        let mut k = 0;
        while k < entries.len() {
            let r = self.ring_of(entries[k].id);
            let mut m = k;
            while m < entries.len() && self.ring_of(entries[m].id) == r {
                m += 1;
            }
            rings.push((r, k, m));
            let group = &entries[k..m];
            let mut worst: Option<usize> = None;
            for (x, s) in group.iter().enumerate().take(8) {
                for t in group.iter().skip(x + 1).take(8) {
                    if self.self_fault(q, s, t) {
                        let later = self.info[s.id as usize]
                            .index
                            .max(self.info[t.id as usize].index)
                            as usize;
                        worst = Some(worst.map_or(later, |w| w.min(later)));
                    }
                }
            }
            if let Some(index) = worst {
                if stop_on_self {
                    return Some(SelfContact {
                        ring: r,
                        index,
                        at: q,
                    });
                }
            }
            k = m;
        }
        if rings.len() < 2 || stop_on_self {
            return None;
        }
        // Between rings: around q, each ring leaves in two directions. Two rings leaving
        // the same way share boundary; two whose directions alternate cross.
        entries.sort_unstable_by(|x, y| {
            angle_cmp(q, x.far, y.far).then_with(|| self.ring_of(x.id).cmp(&self.ring_of(y.id)))
        });
        let mut shared: Vec<(usize, usize)> = Vec::new();
        for w in entries.windows(2) {
            let (x, y) = (&w[0], &w[1]);
            let (rx, ry) = (self.ring_of(x.id), self.ring_of(y.id));
            if rx != ry && angle_cmp(q, x.far, y.far) == Ordering::Equal {
                shared.push((rx.min(ry), rx.max(ry)));
                let meeting = Meeting::Line {
                    a_left: self.interior_left(x),
                    b_left: self.interior_left(y),
                };
                push_contact(out, seen, rx, ry, meeting, q);
            }
        }
        let mut open: Vec<usize> = Vec::new();
        for e in entries.iter() {
            let r = self.ring_of(e.id);
            match open.iter().rposition(|&o| o == r) {
                None => open.push(r),
                Some(pos) => {
                    // Rings leaving q along a common direction run together there and do
                    // not cross at q, whichever of them the sort put first.
                    for &other in &open[pos + 1..] {
                        if !shared.contains(&(r.min(other), r.max(other))) {
                            push_contact(out, seen, r, other, Meeting::Cross, q);
                        }
                    }
                    open.remove(pos);
                }
            }
        }
        None
    }
}

/// New neighbours in the status around `q`: a proper crossing of two of them ahead of
/// the sweep, if earlier than the one `pending`, becomes the one pending.
fn new_neighbours(status: &BTreeSet<Key>, q: C, pending: &mut Option<(C, u32, u32)>) {
    let mut check = |s: Option<&Key>, t: Option<&Key>| {
        if let (Some(Key::Seg(s)), Some(Key::Seg(t))) = (s, t) {
            if let Some(p) = proper_crossing(s, t) {
                if pending.is_none_or(|(o, _, _)| lex(p, o) == Ordering::Less) {
                    *pending = Some((p, s.id, t.id));
                }
            }
        }
    };
    let mut block = status.range(Key::Below(q)..=Key::Above(q));
    let (lo, hi) = (block.next().copied(), block.next_back().copied());
    let below = status.range(..Key::Below(q)).next_back();
    let above = status
        .range((Bound::Excluded(Key::Above(q)), Bound::Unbounded))
        .next();
    match (lo, hi) {
        (None, _) => check(below, above),
        (Some(lo), hi) => {
            check(below, Some(&lo));
            check(Some(hi.as_ref().unwrap_or(&lo)), above);
        }
    }
}

fn push_contact(
    out: &mut Arrangement,
    seen: &mut HashSet<(usize, usize, Meeting)>,
    r: usize,
    s: usize,
    meeting: Meeting,
    at: C,
) {
    let (a, b) = (r.min(s), r.max(s));
    let meeting = match meeting {
        Meeting::Line { a_left, b_left } if r > s => Meeting::Line {
            a_left: b_left,
            b_left: a_left,
        },
        m => m,
    };
    out.crossed |= meeting == Meeting::Cross;
    if seen.insert((a, b, meeting)) {
        out.contacts.push(Contact { a, b, meeting, at });
    }
}
