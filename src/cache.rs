//! The live registry cache: the current [`Snapshot`], built from PostGIS at start and
//! swapped atomically after each committed change. Every process listens on the change
//! channel, so several servers on one database stay coherent; a writer also refreshes
//! right after its own commit, so it reads its own writes.
//!
//! Must not: write to the database, or be trusted for "as of" questions (it holds only
//! the present).

use crate::spatial::index::{
    BuildingLayer, CommunityLayer, FigureLayer, GridLayer, Snapshot, StaffLayer, StationLayer,
};
use crate::store::changes::{ChangeLayer, CHANNEL};
use crate::store::{Store, StoreError};
use arc_swap::ArcSwap;
use sqlx::postgres::PgListener;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How often the change log is polled even without a notification, in case one was lost.
const POLL: Duration = Duration::from_secs(5);
/// How soon the listener tries again after it could not connect.
const RECONNECT: Duration = Duration::from_secs(1);

/// The current snapshot and the means to refresh it.
pub struct Registry {
    store: Store,
    current: ArcSwap<Snapshot>,
    refreshing: tokio::sync::Mutex<()>,
    /// Bumped whenever sessions were revoked anywhere: checked sessions from an older epoch
    /// must be looked up again.
    session_epoch: std::sync::atomic::AtomicU64,
    /// Whether the change listener is connected and listening.
    listening: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry(seq {})", self.current.load().seq)
    }
}

impl Registry {
    /// Builds the first snapshot from the database.
    pub async fn load(store: Store) -> Result<Arc<Self>, StoreError> {
        let seq = store.last_change().await?;
        let snap = full_load(&store, seq).await?;
        Ok(Arc::new(Self {
            store,
            current: ArcSwap::from_pointee(snap),
            refreshing: tokio::sync::Mutex::new(()),
            session_epoch: std::sync::atomic::AtomicU64::new(0),
            listening: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The current snapshot. Cheap; hold it for the duration of one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The session epoch (see the field).
    pub fn session_epoch(&self) -> u64 {
        self.session_epoch
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the change listener is connected (changes by other processes reach this
    /// one at once); while it is not, the index may lag behind the database.
    pub fn listening(&self) -> bool {
        self.listening.load(std::sync::atomic::Ordering::Acquire)
    }

    fn set_listening(&self, on: bool) {
        self.listening
            .store(on, std::sync::atomic::Ordering::Release);
    }

    /// Records a failure to reach the database in the store's health.
    fn note(&self, e: sqlx::Error, what: &'static str) -> StoreError {
        let e = StoreError::db(what, e);
        if e.is_unavailable() {
            self.store.health.mark_down();
        }
        e
    }

    /// Applies every change committed since the current snapshot, reloading only the
    /// layers they touched, then swaps the new snapshot in.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let _guard = self.refreshing.lock().await;
        let old = self.current.load_full();
        let changes = self.store.changes_since(old.seq).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(());
        };
        let layers: BTreeSet<ChangeLayer> = changes.iter().map(|c| c.layer).collect();
        if layers.contains(&ChangeLayer::Sessions) {
            self.session_epoch
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        if layers.contains(&ChangeLayer::All) || layers.contains(&ChangeLayer::Communities) {
            self.current
                .store(Arc::new(full_load(&self.store, last).await?));
            return Ok(());
        }
        // Read what changed (async, from the database), then build the new layers' trees
        // on a blocking thread: at city scale a building layer takes a quarter second of
        // CPU, which must not sit on an async worker.
        let grid_rows = if layers.contains(&ChangeLayer::Grids) {
            Some(self.store.grids(None).await?)
        } else {
            None
        };
        let building_rows =
            if layers.contains(&ChangeLayer::Buildings) || layers.contains(&ChangeLayer::People) {
                Some(self.store.buildings(None).await?)
            } else {
                None
            };
        let moved: HashMap<i64, i64> =
            if building_rows.is_none() && layers.contains(&ChangeLayer::Grids) {
                // Buildings only move between grids whose boundary changed.
                let touched: Vec<i64> = changes
                    .iter()
                    .filter(|c| c.layer == ChangeLayer::Grids)
                    .flat_map(|c| c.ids.iter().copied())
                    .collect();
                self.store
                    .building_grids(&touched)
                    .await?
                    .into_iter()
                    .filter(|(b, g)| old.buildings.get(*b).is_some_and(|x| x.grid_id != *g))
                    .collect()
            } else {
                HashMap::new()
            };
        let network = if layers.contains(&ChangeLayer::Network) {
            Some((
                load_network(&self.store).await?,
                self.store.network_is_osm().await?,
            ))
        } else {
            None
        };
        let station_rows = if layers.contains(&ChangeLayer::Stations) {
            Some(self.store.stations().await?)
        } else {
            None
        };
        let staff_rows =
            if layers.contains(&ChangeLayer::Staff) || layers.contains(&ChangeLayer::Grids) {
                Some(self.store.staff_assignments().await?)
            } else {
                None
            };
        let figures = layers.iter().any(|l| {
            matches!(
                l,
                ChangeLayer::Grids | ChangeLayer::Buildings | ChangeLayer::People
            )
        });
        let next = tokio::task::spawn_blocking(move || {
            let mut next = (*old).clone();
            next.seq = last;
            if let Some(rows) = grid_rows {
                next.grids = Arc::new(GridLayer::new(rows));
            }
            if let Some(rows) = building_rows {
                next.buildings = Arc::new(BuildingLayer::new(rows));
            } else if !moved.is_empty() {
                next.buildings = Arc::new(next.buildings.with_grids(&moved));
            }
            if let Some((net, osm)) = network {
                next.network = net;
                next.network_osm = osm;
            }
            if let Some(rows) = station_rows {
                next.stations = Arc::new(StationLayer::new(rows));
            }
            if let Some(rows) = staff_rows {
                next.staff = Arc::new(StaffLayer::new(rows));
            }
            if figures {
                next.figures = Arc::new(FigureLayer::new(&next.grids, &next.buildings));
            }
            next
        })
        .await
        .map_err(|e| StoreError::Items(vec![(0, format!("building the index: {e}"))]))?;
        self.current.store(Arc::new(next));
        Ok(())
    }

    /// Listens for changes committed by any process and refreshes; polls as a fallback.
    /// Its connection doubles as the probe of the database's health: losing it marks the
    /// database down, getting it back marks it up (see [`Registry::listening`]).
    pub fn spawn_listener(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let mut listener = match PgListener::connect_with(&me.store.pool).await {
                    Ok(l) => l,
                    Err(e) => {
                        me.set_listening(false);
                        let e = me.note(e, "connecting the change listener");
                        tracing::warn!("change listener cannot connect: {e}");
                        tokio::time::sleep(RECONNECT).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(CHANNEL).await {
                    me.set_listening(false);
                    let e = me.note(e, "listening for changes");
                    tracing::warn!("cannot listen on {CHANNEL}: {e}");
                    tokio::time::sleep(RECONNECT).await;
                    continue;
                }
                // A lost connection is reported at once (and reconnected below, which
                // records whether the database answers) rather than retried inside.
                listener.eager_reconnect(false);
                me.set_listening(true);
                me.store.health.mark_up();
                // Anything committed before LISTEN took effect is in the log.
                me.refresh_logged().await;
                loop {
                    match tokio::time::timeout(POLL, listener.try_recv()).await {
                        Ok(Ok(Some(_))) | Err(_) => me.refresh_logged().await,
                        Ok(Ok(None)) => {
                            me.set_listening(false);
                            tracing::warn!("change listener lost its connection");
                            break;
                        }
                        Ok(Err(e)) => {
                            me.set_listening(false);
                            let e = me.note(e, "receiving changes");
                            tracing::warn!("change listener failed: {e}");
                            break;
                        }
                    }
                }
            }
        })
    }

    async fn refresh_logged(&self) {
        if let Err(e) = self.refresh().await {
            if e.is_unavailable() {
                self.store.health.mark_down();
            }
            tracing::warn!("refreshing the index failed: {e}");
        }
    }
}

async fn full_load(store: &Store, seq: i64) -> Result<Snapshot, StoreError> {
    // Each layer is read on a task (and a connection) of its own: the database and the
    // decoding of the rows work side by side, so a city's start takes the time of its
    // largest layer rather than the sum of all of them.
    fn spawn<T: Send + 'static>(
        f: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, StoreError>> {
        tokio::spawn(f)
    }
    async fn join<T>(h: tokio::task::JoinHandle<Result<T, StoreError>>) -> Result<T, StoreError> {
        h.await
            .map_err(|e| StoreError::Items(vec![(0, format!("loading the index: {e}"))]))?
    }
    let (s1, s2, s3, s4, s5, s6) = (
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
    );
    let buildings = spawn(async move { s1.buildings(None).await });
    let network = spawn(async move { load_network(&s2).await });
    let grids = spawn(async move { s3.grids(None).await });
    let communities = spawn(async move { s4.communities().await });
    let stations = spawn(async move { s5.stations().await });
    let staff = spawn(async move { s6.staff_assignments().await });
    let network_osm = store.network_is_osm().await?;
    let (communities, grids, buildings) = (
        join(communities).await?,
        join(grids).await?,
        join(buildings).await?,
    );
    let (stations, staff, network) = (
        join(stations).await?,
        join(staff).await?,
        join(network).await?,
    );
    // The trees are built on a blocking thread (seconds of CPU for a city).
    tokio::task::spawn_blocking(move || {
        let grids = GridLayer::new(grids);
        let buildings = BuildingLayer::new(buildings);
        let figures = FigureLayer::new(&grids, &buildings);
        Snapshot {
            network,
            network_osm,
            seq,
            communities: Arc::new(CommunityLayer::new(communities)),
            grids: Arc::new(grids),
            buildings: Arc::new(buildings),
            stations: Arc::new(StationLayer::new(stations)),
            staff: Arc::new(StaffLayer::new(staff)),
            figures: Arc::new(figures),
        }
    })
    .await
    .map_err(|e| StoreError::Items(vec![(0, format!("building the index: {e}"))]))
}

/// The stored walking network, or `None` when there is none.
async fn load_network(
    store: &Store,
) -> Result<Option<Arc<crate::spatial::network::Network>>, StoreError> {
    if !store.has_network().await? {
        return Ok(None);
    }
    crate::store::network::load_network(&store.pool)
        .await
        .map(|n| Some(Arc::new(n)))
        .map_err(|e| StoreError::Items(vec![(0, format!("loading the walking network: {e}"))]))
}
