//! Byte-bounded, sharded tile cache with bbox invalidation that can never keep or accept a
//! stale tile.
//!
//! Owns cached tile bytes keyed by (layer, z/x/y, variant), CLOCK eviction, and the
//! invalidation log. It must not render tiles or know about sources: callers render and
//! insert, stating the [`Generation`] they read before loading their data.
//!
//! # The freshness guarantee
//!
//! Protocol:
//! - a **writer** first publishes the new data (e.g. `ArcSwap::store` of a new
//!   [`super::TileSource`]), then calls [`TileCache::invalidate_bbox`] with a lon/lat box
//!   covering the old *and* new geometry ([`super::Edit::dirty`] is exactly that);
//! - a **reader** calls [`TileCache::generation`] *before* it loads the data snapshot it
//!   renders from, and hands that generation to [`TileCache::insert`].
//!   [`TileCache::get_or_render`] does this for you when its closure loads the snapshot.
//!
//! Guarantee: once `invalidate_bbox` returns, (1) no cached tile of that layer whose
//! bounds plus buffer meet the box remains, and (2) no tile rendered from a snapshot
//! loaded before the invalidation can be inserted later: `insert` discards a tile whose
//! generation predates an invalidation that touches it. So every request that starts after
//! `invalidate_bbox` returns gets either a tile rendered from the new data or a fresh
//! render.
//!
//! Why it holds: the generation counter moves under the log's write lock, after the data
//! was published, so a reader that sees the new generation also sees the new data. An
//! insert checks the log and stores the tile under its shard's lock; the invalidation
//! appends to the log before it sweeps each shard under that shard's lock, so either the
//! insert sees the log entry and drops the tile, or the sweep runs after the insert and
//! removes it. The log keeps the last `log_capacity` invalidations; an insert older than
//! all of them is dropped too (only a lost cache fill, never a stale tile).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use geo::Rect;

use super::mvt::{DEFAULT_BUFFER, DEFAULT_EXTENT};
use super::tilemath::{lonlat_rect_to_world, TileId};

/// Bookkeeping bytes charged per entry on top of the tile and key strings.
const ENTRY_OVERHEAD: usize = 128;

/// Cache key: layer, tile and a caller-chosen variant (e.g. the caller's scope).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Layer name; invalidations are per layer.
    pub layer: Arc<str>,
    /// Tile address.
    pub tile: TileId,
    /// Anything else the bytes depend on (scope, style variant...).
    pub variant: Arc<str>,
}

impl TileKey {
    /// Builds a key.
    pub fn new(layer: impl Into<Arc<str>>, tile: TileId, variant: impl Into<Arc<str>>) -> Self {
        Self {
            layer: layer.into(),
            tile,
            variant: variant.into(),
        }
    }
}

/// A point in the cache's invalidation history; take it before loading data to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(u64);

/// Cache sizing and invalidation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheConfig {
    /// Upper bound on cached bytes (tile bodies plus per-entry bookkeeping).
    pub max_bytes: usize,
    /// Number of independently locked shards (at least 1).
    pub shards: usize,
    /// Tile clip buffer as a fraction of the tile side (buffer / extent); tiles are
    /// invalidated when their bounds grown by this much meet the box. Larger is safe.
    pub buffer_ratio: f64,
    /// How many recent invalidations are remembered to reject late inserts.
    pub log_capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            shards: 16,
            buffer_ratio: f64::from(DEFAULT_BUFFER) / f64::from(DEFAULT_EXTENT),
            log_capacity: 4096,
        }
    }
}

/// Counters for monitoring and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Cached tiles.
    pub entries: usize,
    /// Bytes charged (bodies plus bookkeeping).
    pub bytes: usize,
    /// `get` calls that found a tile.
    pub hits: u64,
    /// `get` calls that did not.
    pub misses: u64,
    /// Tiles stored.
    pub inserts: u64,
    /// Inserts refused because an invalidation happened after their generation.
    pub stale_rejected: u64,
    /// Tiles evicted for space.
    pub evictions: u64,
    /// Tiles removed by invalidation.
    pub invalidated: u64,
}

/// A box in normalised world units (x east, y south), inclusive.
#[derive(Debug, Clone, Copy)]
struct WorldBox {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl WorldBox {
    const ALL: WorldBox = WorldBox {
        min_x: f64::NEG_INFINITY,
        min_y: f64::NEG_INFINITY,
        max_x: f64::INFINITY,
        max_y: f64::INFINITY,
    };

    fn of_tile(t: TileId, buffer_ratio: f64) -> WorldBox {
        let b = t.world_bounds();
        let side = b.max().x - b.min().x;
        // A hair extra so rounding in the projection never loses a touching tile.
        let pad = side * buffer_ratio + side * 1e-9;
        WorldBox {
            min_x: b.min().x - pad,
            min_y: b.min().y - pad,
            max_x: b.max().x + pad,
            max_y: b.max().y + pad,
        }
    }

    fn meets(&self, o: &WorldBox) -> bool {
        self.min_x <= o.max_x
            && o.min_x <= self.max_x
            && self.min_y <= o.max_y
            && o.min_y <= self.max_y
    }
}

struct Invalidation {
    generation: u64,
    layer: Arc<str>,
    area: WorldBox,
}

struct Log {
    current: u64,
    /// Every invalidation with a generation above `floor` is still in `entries`.
    floor: u64,
    entries: VecDeque<Invalidation>,
}

struct Slot {
    key: TileKey,
    data: Bytes,
    cost: usize,
    referenced: AtomicBool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<TileKey, usize>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
}

#[derive(Default)]
struct ShardCell {
    shard: RwLock<Shard>,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    stale_rejected: AtomicU64,
    evictions: AtomicU64,
    invalidated: AtomicU64,
}

/// Thread-safe tile cache; share it behind an `Arc` (all methods take `&self`).
pub struct TileCache {
    config: CacheConfig,
    shard_budget: usize,
    hasher: RandomState,
    shards: Box<[ShardCell]>,
    log: RwLock<Log>,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panic while holding the lock cannot leave a shard half-updated in a way that
    // breaks freshness (removal happens before any bookkeeping), so poison is ignored.
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shard {
    fn remove_slot(&mut self, i: usize) -> Option<Slot> {
        let slot = self.slots.get_mut(i)?.take()?;
        self.map.remove(&slot.key);
        self.bytes -= slot.cost;
        self.free.push(i);
        Some(slot)
    }

    /// CLOCK: skip (and clear) recently referenced entries, evict the first cold one.
    fn evict_one(&mut self) -> bool {
        let n = self.slots.len();
        if n == 0 {
            return false;
        }
        for _ in 0..2 * n + 1 {
            if self.hand >= n {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            if let Some(slot) = &self.slots[i] {
                if slot.referenced.swap(false, Ordering::Relaxed) {
                    continue;
                }
                self.remove_slot(i);
                return true;
            }
        }
        false
    }
}

impl TileCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        let n = config.shards.max(1);
        let config = CacheConfig {
            shards: n,
            buffer_ratio: if config.buffer_ratio.is_finite() {
                config.buffer_ratio.max(0.0)
            } else {
                1.0
            },
            log_capacity: config.log_capacity.max(1),
            ..config
        };
        Self {
            shard_budget: config.max_bytes / n,
            config,
            hasher: RandomState::new(),
            shards: (0..n).map(|_| ShardCell::default()).collect(),
            log: RwLock::new(Log {
                current: 0,
                floor: 0,
                entries: VecDeque::new(),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    fn cell(&self, key: &TileKey) -> &ShardCell {
        let h = self.hasher.hash_one(key) as usize;
        &self.shards[h % self.shards.len()]
    }

    /// The cached tile, if any.
    pub fn get(&self, key: &TileKey) -> Option<Bytes> {
        let cell = self.cell(key);
        let shard = read(&cell.shard);
        let found = shard
            .map
            .get(key)
            .and_then(|&i| shard.slots.get(i))
            .and_then(Option::as_ref)
            .map(|slot| {
                slot.referenced.store(true, Ordering::Relaxed);
                slot.data.clone()
            });
        drop(shard);
        match found {
            Some(_) => cell.hits.fetch_add(1, Ordering::Relaxed),
            None => cell.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// The current generation; read it *before* loading the data you will render from.
    pub fn generation(&self) -> Generation {
        Generation(read(&self.log).current)
    }

    /// Stores a tile rendered from data loaded after `rendered_at` was read. Returns false
    /// when the tile was refused: an invalidation touching it happened since, or it is
    /// larger than a shard's budget.
    pub fn insert(&self, key: TileKey, rendered_at: Generation, data: Bytes) -> bool {
        let cost = data.len() + key.layer.len() + key.variant.len() + ENTRY_OVERHEAD;
        if cost > self.shard_budget {
            return false;
        }
        let cell = self.cell(&key);
        let mut shard = write(&cell.shard);
        if self.is_stale(&key, rendered_at) {
            cell.stale_rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if let Some(&i) = shard.map.get(&key) {
            shard.remove_slot(i);
        }
        while shard.bytes + cost > self.shard_budget {
            if !shard.evict_one() {
                break;
            }
            cell.evictions.fetch_add(1, Ordering::Relaxed);
        }
        let slot = Slot {
            key: key.clone(),
            data,
            cost,
            referenced: AtomicBool::new(false),
        };
        let i = match shard.free.pop() {
            Some(i) => {
                shard.slots[i] = Some(slot);
                i
            }
            None => {
                shard.slots.push(Some(slot));
                shard.slots.len() - 1
            }
        };
        shard.map.insert(key, i);
        shard.bytes += cost;
        cell.inserts.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Called with the shard lock held, so no invalidation sweep of this shard can run
    /// between this check and the insert.
    fn is_stale(&self, key: &TileKey, rendered_at: Generation) -> bool {
        let log = read(&self.log);
        if rendered_at.0 >= log.current {
            return false;
        }
        if rendered_at.0 < log.floor {
            return true;
        }
        let tile_box = WorldBox::of_tile(key.tile, self.config.buffer_ratio);
        log.entries
            .iter()
            .rev()
            .take_while(|inv| inv.generation > rendered_at.0)
            .any(|inv| inv.layer == key.layer && inv.area.meets(&tile_box))
    }

    /// Returns the cached tile or renders, caches and returns it. `render` must load the
    /// data snapshot itself (it runs after the generation is taken).
    pub fn get_or_render<E>(
        &self,
        key: &TileKey,
        render: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        if let Some(b) = self.get(key) {
            return Ok(b);
        }
        let generation = self.generation();
        let data = render()?;
        self.insert(key.clone(), generation, data.clone());
        Ok(data)
    }

    /// Removes every cached tile of `layer`, at any zoom and variant, whose bounds plus
    /// buffer meet the lon/lat box, and refuses later inserts of tiles rendered before.
    /// Publish the new data *before* calling this. Returns how many tiles were removed.
    pub fn invalidate_bbox(&self, layer: &str, lonlat: Rect<f64>) -> usize {
        let w = lonlat_rect_to_world(lonlat);
        let area = if [w.min().x, w.min().y, w.max().x, w.max().y]
            .iter()
            .all(|v| v.is_finite())
        {
            WorldBox {
                min_x: w.min().x,
                min_y: w.min().y,
                max_x: w.max().x,
                max_y: w.max().y,
            }
        } else {
            // A box we cannot place is treated as "everything": safe, never stale.
            WorldBox::ALL
        };
        self.invalidate(layer, area)
    }

    /// Removes every cached tile of `layer` and refuses later inserts rendered before.
    pub fn invalidate_layer(&self, layer: &str) -> usize {
        self.invalidate(layer, WorldBox::ALL)
    }

    fn invalidate(&self, layer: &str, area: WorldBox) -> usize {
        let layer: Arc<str> = Arc::from(layer);
        {
            let mut log = write(&self.log);
            log.current += 1;
            let generation = log.current;
            log.entries.push_back(Invalidation {
                generation,
                layer: layer.clone(),
                area,
            });
            while log.entries.len() > self.config.log_capacity {
                if let Some(old) = log.entries.pop_front() {
                    log.floor = old.generation;
                }
            }
        }
        let mut removed = 0;
        for cell in &self.shards {
            let mut shard = write(&cell.shard);
            let doomed: Vec<usize> = shard
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let s = s.as_ref()?;
                    (s.key.layer == layer
                        && area.meets(&WorldBox::of_tile(s.key.tile, self.config.buffer_ratio)))
                    .then_some(i)
                })
                .collect();
            for i in &doomed {
                shard.remove_slot(*i);
            }
            cell.invalidated
                .fetch_add(doomed.len() as u64, Ordering::Relaxed);
            removed += doomed.len();
        }
        removed
    }

    /// Drops every cached tile (no invalidation is logged: use it only when no data
    /// changed, e.g. to free memory).
    pub fn clear(&self) {
        for cell in &self.shards {
            let mut shard = write(&cell.shard);
            *shard = Shard::default();
        }
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let mut s = CacheStats::default();
        for cell in &self.shards {
            let shard = read(&cell.shard);
            s.entries += shard.map.len();
            s.bytes += shard.bytes;
            drop(shard);
            s.hits += cell.hits.load(Ordering::Relaxed);
            s.misses += cell.misses.load(Ordering::Relaxed);
            s.inserts += cell.inserts.load(Ordering::Relaxed);
            s.stale_rejected += cell.stale_rejected.load(Ordering::Relaxed);
            s.evictions += cell.evictions.load(Ordering::Relaxed);
            s.invalidated += cell.invalidated.load(Ordering::Relaxed);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;
    use std::sync::mpsc;

    fn key(z: u32, x: u32, y: u32) -> TileKey {
        TileKey::new("grids", TileId::new(z, x, y).expect("valid"), "all")
    }

    fn small_box() -> Rect<f64> {
        // Inside z10 tile 812/414 (around 105.7E 32.4N).
        Rect::new(
            coord! { x: 105.70, y: 32.40 },
            coord! { x: 105.701, y: 32.401 },
        )
    }

    #[test]
    fn shareable_across_server_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<TileCache>();
        send_sync::<super::super::TileSource>();
        send_sync::<TileKey>();
    }

    #[test]
    fn invalidation_is_per_layer_and_area() {
        let c = TileCache::new(CacheConfig::default());
        let g = c.generation();
        let hit = super::super::tilemath::tiles_covering(small_box(), 10)
            .expect("zoom ok")
            .next()
            .expect("a tile");
        let far = TileId::new(10, 0, 0).expect("valid");
        for t in [hit, far] {
            assert!(c.insert(TileKey::new("grids", t, "all"), g, Bytes::from_static(b"x")));
            assert!(c.insert(TileKey::new("roads", t, "all"), g, Bytes::from_static(b"x")));
        }
        assert_eq!(c.invalidate_bbox("grids", small_box()), 1);
        assert!(c.get(&TileKey::new("grids", hit, "all")).is_none());
        assert!(c.get(&TileKey::new("grids", far, "all")).is_some());
        assert!(c.get(&TileKey::new("roads", hit, "all")).is_some());
        // A render that started before the invalidation cannot land afterwards...
        assert!(!c.insert(
            TileKey::new("grids", hit, "all"),
            g,
            Bytes::from_static(b"old")
        ));
        // ...unless it does not touch the invalidated area.
        assert!(c.insert(
            TileKey::new("grids", far, "v2"),
            g,
            Bytes::from_static(b"ok")
        ));
        assert!(c.insert(
            TileKey::new("grids", hit, "all"),
            c.generation(),
            Bytes::from_static(b"new")
        ));
        assert_eq!(c.stats().stale_rejected, 1);
    }

    #[test]
    fn render_racing_an_invalidation_is_discarded() {
        let c = Arc::new(TileCache::new(CacheConfig::default()));
        let data = Arc::new(RwLock::new("old"));
        let k = super::super::tilemath::tiles_covering(small_box(), 14)
            .expect("zoom ok")
            .next()
            .map(|t| TileKey::new("grids", t, "all"))
            .expect("a tile");
        let (loaded_tx, loaded_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let reader = {
            let (c, data, k) = (c.clone(), data.clone(), k.clone());
            std::thread::spawn(move || {
                c.get_or_render(&k, || {
                    let snapshot = *read(&data);
                    loaded_tx.send(()).ok();
                    go_rx.recv().ok();
                    Ok::<_, ()>(Bytes::from_static(snapshot.as_bytes()))
                })
            })
        };
        loaded_rx.recv().expect("reader loaded its snapshot");
        *write(&data) = "new";
        c.invalidate_bbox("grids", small_box());
        go_tx.send(()).expect("reader waiting");
        let served = reader.join().expect("reader thread");
        assert_eq!(
            served,
            Ok(Bytes::from_static(b"old")),
            "that request began before"
        );
        assert!(c.get(&k).is_none(), "the stale render must not be cached");
        let fresh = c.get_or_render(&k, || {
            Ok::<_, ()>(Bytes::from_static(read(&data).as_bytes()))
        });
        assert_eq!(fresh, Ok(Bytes::from_static(b"new")));
    }

    #[test]
    fn bounded_by_bytes_with_clock_eviction() {
        let c = TileCache::new(CacheConfig {
            max_bytes: 10 * (1000 + 9 + ENTRY_OVERHEAD),
            shards: 1,
            ..CacheConfig::default()
        });
        let g = c.generation();
        let body = Bytes::from(vec![0u8; 1000]);
        for x in 0..10 {
            assert!(c.insert(key(10, x, 0), g, body.clone()));
        }
        assert!(c.get(&key(10, 0, 0)).is_some());
        assert!(c.insert(key(10, 10, 0), g, body.clone()));
        let s = c.stats();
        assert_eq!((s.entries, s.evictions), (10, 1));
        assert!(s.bytes <= c.config().max_bytes);
        assert!(c.get(&key(10, 0, 0)).is_some(), "referenced entry survives");
        assert!(c.get(&key(10, 1, 0)).is_none(), "coldest entry went");
        assert!(!c.insert(key(10, 11, 0), g, Bytes::from(vec![0u8; 1 << 20])));
    }

    #[test]
    fn old_generations_beyond_the_log_are_refused() {
        let c = TileCache::new(CacheConfig {
            log_capacity: 2,
            ..CacheConfig::default()
        });
        let g = c.generation();
        let far = Rect::new(coord! { x: -10.0, y: -10.0 }, coord! { x: -9.0, y: -9.0 });
        for _ in 0..3 {
            c.invalidate_bbox("grids", far);
        }
        assert!(!c.insert(key(10, 812, 414), g, Bytes::new()));
        assert!(c.insert(key(10, 812, 414), c.generation(), Bytes::new()));
        c.invalidate_layer("grids");
        assert!(c.get(&key(10, 812, 414)).is_none());
    }
}
