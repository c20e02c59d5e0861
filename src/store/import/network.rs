//! Writing a walking network that the top-level `import` module has built, and what the
//! store knows of it.

use super::finish_import;
use crate::spatial::network::Network;
use crate::store::audit::Actor;
use crate::store::changes::ChangeLayer;
use crate::store::{DbContext, Store, StoreError};

impl Store {
    /// Replaces the walking network with `net`, all or nothing, noting where it came from
    /// (`origin`: `lines` or `osm`); returns the number of edges.
    pub async fn save_imported_network(
        &self,
        actor: &Actor,
        net: &Network,
        origin: &str,
    ) -> Result<usize, StoreError> {
        if net.edge_count() == 0 {
            return Err(StoreError::Items(vec![(
                0,
                "no walkable ways in the input".into(),
            )]));
        }
        let mut tx = self.begin_write(actor).await?;
        crate::store::network::save_network(&mut tx, net)
            .await
            .map_err(|e| StoreError::Items(vec![(0, format!("saving the network: {e}"))]))?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('network_source', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(origin)
        .execute(&mut *tx)
        .await
        .ctx("recording the network's origin")?;
        let layer = ("network", ChangeLayer::Network);
        finish_import(tx, layer, net.edge_count(), "committing the network").await
    }

    /// Whether the stored walking network came from OpenStreetMap (and must be credited).
    pub async fn network_is_osm(&self) -> Result<bool, StoreError> {
        let sql =
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'network_source' AND value = 'osm')";
        self.scalar(sql, "reading the network's origin").await
    }

    /// Whether a walking network is stored.
    pub async fn has_network(&self) -> Result<bool, StoreError> {
        let sql = "SELECT EXISTS (SELECT 1 FROM network_edges)";
        self.scalar(sql, "checking the network").await
    }
}
