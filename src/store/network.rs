//! Storage of the walking network in PostGIS (`network_nodes`, `network_edges`, migration
//! 0003) and the pgRouting reference query used to check and benchmark the in-memory search.
//!
//! Owns all SQL about the network. Geometry crosses as WKB (`bytea[]`) or coordinate arrays
//! in bound parameters, never formatted into SQL text. Holds no graph logic: it converts
//! rows to and from [`Network`] parts.

use std::collections::HashMap;

use geo::Coord;
use sqlx::{Connection, PgConnection, PgPool, Row};

use crate::spatial::network::{EdgeSpec, Network, NetworkError, NodeSpec};
use crate::store::bulk::{self, chunks};

/// Rows per INSERT when saving (keeps each statement's parameters a few MB).
const CHUNK: usize = 20_000;

/// Errors from network storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("Postgres error while {what}: {source}")]
    Db {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored edge refers to a node that is not stored.
    #[error("edge {edge} refers to missing node {node}")]
    MissingNode {
        /// Edge id.
        edge: i64,
        /// Node id.
        node: i64,
    },
    /// A stored geometry could not be decoded.
    #[error("edge {edge}: bad WKB LineString ({reason})")]
    BadWkb {
        /// Edge id.
        edge: i64,
        /// What was wrong.
        reason: &'static str,
    },
    /// The stored rows did not make a valid network.
    #[error("stored network is invalid: {0}")]
    Network(#[from] NetworkError),
    /// Building the network failed on its thread.
    #[error("building the network failed: {0}")]
    Build(String),
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Db { what, source }
}

/// Encodes a lon/lat polyline as little-endian ISO WKB LineString.
pub fn linestring_wkb(coords: &[Coord<f64>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + 16 * coords.len());
    out.push(1u8);
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(coords.len() as u32).to_le_bytes());
    for c in coords {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
    out
}

/// The `N` bytes of a WKB at `i`, in little-endian order (reversed when the WKB is
/// big-endian).
fn word<const N: usize>(b: &[u8], i: usize, le: bool) -> Result<[u8; N], &'static str> {
    let mut w: [u8; N] = b
        .get(i..i + N)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated")?;
    if !le {
        w.reverse();
    }
    Ok(w)
}

/// Decodes a 2D WKB LineString (either byte order, ISO or EWKB without Z/M).
pub fn parse_linestring_wkb(b: &[u8]) -> Result<Vec<Coord<f64>>, &'static str> {
    let le = match b.first() {
        Some(1) => true,
        Some(0) => false,
        _ => return Err("bad byte order"),
    };
    let u32_at = |i: usize| word(b, i, le).map(u32::from_le_bytes);
    let f64_at = |i: usize| word(b, i, le).map(f64::from_le_bytes);
    let ty = u32_at(1)?;
    let mut pos = 5;
    if ty & 0x2000_0000 != 0 {
        pos += 4; // EWKB SRID
    }
    if ty & 0xC000_0000 != 0 || (ty & 0x0FFF_FFFF) != 2 {
        return Err("not a 2D LineString");
    }
    let n = u32_at(pos)? as usize;
    pos += 4;
    if b.len() < pos + 16 * n {
        return Err("truncated");
    }
    (0..n)
        .map(|i| {
            Ok(Coord {
                x: f64_at(pos + 16 * i)?,
                y: f64_at(pos + 16 * i + 8)?,
            })
        })
        .collect()
}

/// Runs `sql`, a statement without parameters or rows.
async fn run(conn: &mut PgConnection, sql: &str, doing: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map(drop)
        .map_err(db(doing))
}

/// Replaces the stored network with `net` (all rows, in one transaction).
pub async fn save_network(conn: &mut PgConnection, net: &Network) -> Result<(), StoreError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(db("starting to save the network"))?;
    run(
        &mut tx,
        "DELETE FROM network_edges",
        "deleting network edges",
    )
    .await?;
    run(
        &mut tx,
        "DELETE FROM network_nodes",
        "deleting network nodes",
    )
    .await?;
    for r in chunks(net.node_count(), CHUNK) {
        let ids: Vec<i64> = net.node_ids()[r.clone()].to_vec();
        let lon: Vec<f64> = net.node_coords()[r.clone()].iter().map(|c| c.x).collect();
        let lat: Vec<f64> = net.node_coords()[r.clone()].iter().map(|c| c.y).collect();
        let comp: Vec<i32> = net.components()[r]
            .iter()
            .map(|&c| i32::try_from(c).unwrap_or(i32::MAX))
            .collect();
        bulk::execute(
            &mut tx,
            "INSERT INTO network_nodes (id, geom, component) \
             SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326), comp \
             FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::int4[]) AS t(id, lon, lat, comp)",
            &[&ids, &lon, &lat, &comp],
            0..ids.len(),
        )
        .await
        .map_err(db("inserting network nodes"))?;
    }
    for r in chunks(net.edge_count(), CHUNK) {
        let r = (r.start as u32)..(r.end as u32);
        let mut ids = Vec::with_capacity(CHUNK);
        let mut src = Vec::with_capacity(CHUNK);
        let mut tgt = Vec::with_capacity(CHUNK);
        let mut len = Vec::with_capacity(CHUNK);
        let mut hw = Vec::with_capacity(CHUNK);
        let mut names: Vec<Option<String>> = Vec::with_capacity(CHUNK);
        let mut wkb = Vec::with_capacity(CHUNK);
        for e in r {
            let [s, t] = net.edge_ends(e);
            ids.push(net.edge_id(e));
            src.push(net.node_id(s));
            tgt.push(net.node_id(t));
            len.push(net.edge_len(e));
            hw.push(net.edge_highway(e).to_string());
            names.push(net.edge_name(e).map(str::to_string));
            wkb.push(linestring_wkb(net.edge_geometry(e)));
        }
        bulk::execute(
            &mut tx,
            "INSERT INTO network_edges (id, source, target, length_m, highway, name, geom) \
             SELECT id, s, t, l, h, nm, ST_GeomFromWKB(g, 4326) \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[], $5::text[], \
                         $6::text[], $7::bytea[]) AS x(id, s, t, l, h, nm, g)",
            &[&ids, &src, &tgt, &len, &hw, &names, &wkb],
            0..ids.len(),
        )
        .await
        .map_err(db("inserting network edges"))?;
    }
    tx.commit().await.map_err(db("committing the network"))?;
    Ok(())
}

/// Loads the stored network (nodes by id, edges by id, lengths as stored).
pub async fn load_network(pool: &PgPool) -> Result<Network, StoreError> {
    let node_rows = sqlx::query(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM network_nodes ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(db("loading network nodes"))?;
    let mut index: HashMap<i64, u32> = HashMap::with_capacity(node_rows.len());
    let mut nodes = Vec::with_capacity(node_rows.len());
    for row in node_rows {
        let id: i64 = row.try_get("id").map_err(db("reading a node row"))?;
        let x: f64 = row.try_get("lon").map_err(db("reading a node row"))?;
        let y: f64 = row.try_get("lat").map_err(db("reading a node row"))?;
        index.insert(id, nodes.len() as u32);
        nodes.push(NodeSpec {
            id,
            coord: Coord { x, y },
        });
    }
    let edge_rows = sqlx::query(
        "SELECT id, source, target, length_m, highway, name, ST_AsBinary(geom) AS wkb \
         FROM network_edges ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(db("loading network edges"))?;
    let mut edges = Vec::with_capacity(edge_rows.len());
    for row in edge_rows {
        let get = db("reading an edge row");
        let id: i64 = row.try_get("id").map_err(get)?;
        let ix = |node: i64| {
            index
                .get(&node)
                .copied()
                .ok_or(StoreError::MissingNode { edge: id, node })
        };
        let source: i64 = row.try_get("source").map_err(db("reading an edge row"))?;
        let target: i64 = row.try_get("target").map_err(db("reading an edge row"))?;
        let length_m: f64 = row.try_get("length_m").map_err(db("reading an edge row"))?;
        let highway: String = row.try_get("highway").map_err(db("reading an edge row"))?;
        let name: Option<String> = row.try_get("name").map_err(db("reading an edge row"))?;
        let wkb: Vec<u8> = row.try_get("wkb").map_err(db("reading an edge row"))?;
        let geometry =
            parse_linestring_wkb(&wkb).map_err(|reason| StoreError::BadWkb { edge: id, reason })?;
        edges.push(EdgeSpec {
            id,
            source: ix(source)?,
            target: ix(target)?,
            geometry,
            length_m: Some(length_m),
            highway,
            name,
        });
    }
    // Building the graph and its R-tree is seconds of CPU for a city: off the async workers.
    let built = tokio::task::spawn_blocking(move || Network::from_parts(nodes, edges)).await;
    match built {
        Ok(net) => Ok(net?),
        Err(e) => Err(StoreError::Build(e.to_string())),
    }
}

/// Reference distances from pgRouting on the stored edges: exact multi-source walking
/// distance (metres) of every node within `cutoff_m` of the nearest of `sources` (node
/// ids), by a single `pgr_drivingDistance` start at a virtual node joined to every source by
/// zero-cost edges. For tests and benchmarks; needs the `pgrouting` extension.
pub async fn pgr_multi_source_distances(
    conn: &mut PgConnection,
    sources: &[i64],
    cutoff_m: f64,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let create = "CREATE TEMP TABLE IF NOT EXISTS wangge_pgr_sources (node bigint NOT NULL)";
    run(conn, create, "creating the pgRouting source table").await?;
    let clear = "TRUNCATE wangge_pgr_sources";
    run(conn, clear, "clearing the pgRouting source table").await?;
    sqlx::query("INSERT INTO wangge_pgr_sources (node) SELECT unnest($1::bigint[])")
        .bind(sources)
        .execute(&mut *conn)
        .await
        .map_err(db("storing pgRouting sources"))?;
    // The virtual start is node -1 (stored ids are never negative); its edges get ids
    // below -1 so they cannot clash with stored edge ids.
    let rows = sqlx::query(
        "SELECT node, agg_cost FROM pgr_drivingDistance(\
           'SELECT id, source, target, length_m AS cost, length_m AS reverse_cost \
              FROM network_edges \
            UNION ALL \
            SELECT -1 - row_number() OVER (), -1::bigint, node, 0.0::float8, 0.0::float8 \
              FROM wangge_pgr_sources', \
           -1::bigint, $1::float8, directed => false) \
         WHERE node <> -1",
    )
    .bind(cutoff_m)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("running pgr_drivingDistance"))?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>("node")
                    .map_err(db("reading pgRouting output"))?,
                r.try_get::<f64, _>("agg_cost")
                    .map_err(db("reading pgRouting output"))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_round_trip() {
        let cs = vec![
            Coord { x: 105.8, y: 32.4 },
            Coord {
                x: -1.5e-7,
                y: 89.999,
            },
        ];
        assert_eq!(parse_linestring_wkb(&linestring_wkb(&cs)), Ok(cs));
        assert!(parse_linestring_wkb(&[1, 1, 0, 0, 0]).is_err());
        assert!(parse_linestring_wkb(&[]).is_err());
    }
}
