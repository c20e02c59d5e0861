//! Writing grids: create, re-draw and delete, one at a time or as an atomic batch, with
//! the partition rule, history and optimistic versions enforced inside one transaction.
//!
//! Order of work in [`Store::apply_grid_changes`]: take the grid-edit lock; apply every
//! change (closing old versions, opening new ones); check that no grid is left without its
//! parent; check the partition of every parent touched; re-assign buildings whose grid
//! changed and refuse any left outside all second-level grids; log the change; commit.
//! Any failure drops the transaction, so nothing is half-written. The partition check is
//! geometry work: it runs on the work pool ([`crate::work`]) within a time budget while the
//! transaction waits, and a request that goes away takes both with it.

use super::audit::{self, Actor, Entry};
use super::layers::grid_from_row;
use super::{changes, wkb, DbContext, ParentFault, Store, StoreError};
use crate::domain::hierarchy::{check_grid_code, check_name};
use crate::domain::registry::Grid;
use crate::domain::GridLevel;
use crate::spatial::shape::off_runtime;
use crate::spatial::topology::check_partition;
use geo::{BoundingRect, MultiPolygon, Rect};
use sqlx::{PgConnection, Row};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

/// A new grid.
#[derive(Debug, Clone)]
pub struct NewGrid {
    /// Code: the parent's code and two digits.
    pub code: String,
    /// Name.
    pub name: String,
    /// 1 or 2.
    pub level: GridLevel,
    /// Community code for a first-level grid, first-level grid code for a second-level one.
    pub parent_code: String,
    /// Boundary, already validated.
    pub geom: MultiPolygon<f64>,
}

/// One change in a batch.
#[derive(Debug, Clone)]
pub enum GridChange {
    /// Create a grid.
    Create(NewGrid),
    /// Re-draw and/or rename a grid; `version` is the version the change was based on.
    Update {
        /// The grid's code.
        code: String,
        /// The version the client saw.
        version: i32,
        /// A new name, if any.
        name: Option<String>,
        /// A new boundary, if any.
        geom: Option<MultiPolygon<f64>>,
    },
    /// Delete a grid (its history stays).
    Delete {
        /// The grid's code.
        code: String,
        /// The version the client saw.
        version: i32,
    },
}

impl GridChange {
    fn code(&self) -> &str {
        match self {
            Self::Create(g) => &g.code,
            Self::Update { code, .. } | Self::Delete { code, .. } => code,
        }
    }
}

/// A building whose second-level grid changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Move {
    /// Building id.
    pub building_id: i64,
    /// Its grid before.
    pub from_grid: i64,
    /// Its grid after.
    pub to_grid: i64,
}

/// What a committed batch did. Updates that name a grid as it is (same name, same
/// coordinates) are left out: they make no version, audit entry or change record.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The new current versions of created and updated grids.
    pub grids: Vec<Grid>,
    /// Codes of deleted grids.
    pub deleted: Vec<String>,
    /// Buildings that changed grid.
    pub moves: Vec<Move>,
    /// Ids of every grid touched.
    pub touched: Vec<i64>,
    /// Sequence number of the change.
    pub seq: i64,
    /// What the party cells did: members who followed their building, cells created and
    /// dissolved with their grid.
    pub party: super::party::CellsFollowed,
}

impl Applied {
    /// Whether anything was written (false when every change named a grid as it is; then
    /// nothing was committed and `seq` is 0).
    pub fn changed(&self) -> bool {
        !self.touched.is_empty()
    }
}

/// A parent whose partition must be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Parent {
    Community(i64),
    Grid(i64),
}

/// Advisory lock key serialising grid edits, so that each batch checks partitions against
/// a state no other batch is changing.
const GRID_LOCK: i64 = 0x6772_6964; // "grid"

const CURRENT: &str =
    "SELECT g.id, v.code, v.name, g.level, v.parent_id, g.community_id, v.version, \
     v.valid_from, v.valid_to, ST_AsBinary(v.geom) AS wkb \
     FROM grids g JOIN grid_versions v ON v.grid_id = g.id AND v.valid_to IS NULL";

async fn current_by_code(tx: &mut PgConnection, code: &str) -> Result<Option<Grid>, StoreError> {
    let row = sqlx::query(&format!("{CURRENT} WHERE v.code = $1 FOR UPDATE OF v"))
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading a grid")?;
    row.as_ref().map(grid_from_row).transpose()
}

fn parent_of(g: &Grid) -> Parent {
    match g.parent_id {
        Some(p) => Parent::Grid(p),
        None => Parent::Community(g.community_id),
    }
}

fn bbox(mp: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    mp.bounding_rect()
}

impl Store {
    /// Applies a batch of grid changes atomically. `tolerance_m2` bounds the total gap and
    /// the total overlap allowed in each parent's partition. Its geometry work gets the
    /// default budget ([`crate::config::GeometrySettings`]).
    pub async fn apply_grid_changes(
        &self,
        batch: Vec<GridChange>,
        tolerance_m2: f64,
        actor: &Actor,
    ) -> Result<Applied, StoreError> {
        let budget = crate::config::GeometrySettings::default().budget();
        self.apply_grid_changes_within(batch, tolerance_m2, actor, budget)
            .await
    }

    /// [`Store::apply_grid_changes`] with a time budget for its geometry work (the
    /// partition checks); past it the batch is refused with [`StoreError::Work`].
    pub async fn apply_grid_changes_within(
        &self,
        batch: Vec<GridChange>,
        tolerance_m2: f64,
        actor: &Actor,
        budget: Duration,
    ) -> Result<Applied, StoreError> {
        let mut seen = HashSet::new();
        for (i, c) in batch.iter().enumerate() {
            if !seen.insert(c.code().to_string()) {
                return Err(StoreError::Items(vec![(
                    i,
                    format!("grid {} appears more than once in the batch", c.code()),
                )]));
            }
        }
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(GRID_LOCK)
            .execute(&mut *tx)
            .await
            .ctx("locking grids")?;

        let mut parents: BTreeSet<Parent> = BTreeSet::new();
        let mut boxes: Vec<Rect<f64>> = Vec::new();
        let mut touched: Vec<i64> = Vec::new();
        let mut changed_ids: Vec<i64> = Vec::new();
        let mut deleted = Vec::new();
        let mut kept_codes = Vec::new();

        for (i, change) in batch.into_iter().enumerate() {
            let at_item = |e: StoreError| match e {
                StoreError::Field(f) => StoreError::Items(vec![(i, f.to_string())]),
                other => other,
            };
            match change {
                GridChange::Create(g) => {
                    let id = create(&mut tx, &g, &actor.name).await.map_err(at_item)?;
                    audit_grid(
                        &mut tx,
                        actor,
                        "create",
                        id,
                        None,
                        Some(grid_json(&g.code, &g.name, &g.geom)),
                    )
                    .await?;
                    let level_parent = match g.level {
                        GridLevel::First => {
                            let cid: i64 =
                                sqlx::query_scalar("SELECT community_id FROM grids WHERE id = $1")
                                    .bind(id)
                                    .fetch_one(&mut *tx)
                                    .await
                                    .ctx("reading a grid")?;
                            Parent::Community(cid)
                        }
                        GridLevel::Second => {
                            let pid: i64 = sqlx::query_scalar(
                                "SELECT parent_id FROM grid_versions WHERE grid_id = $1 AND valid_to IS NULL",
                            )
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await
                            .ctx("reading a grid")?;
                            Parent::Grid(pid)
                        }
                    };
                    parents.insert(level_parent);
                    boxes.extend(bbox(&g.geom));
                    touched.push(id);
                    kept_codes.push(g.code);
                }
                GridChange::Update {
                    code,
                    version,
                    name,
                    geom,
                } => {
                    let cur = current_by_code(&mut tx, &code)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("grid {code}")))?;
                    if cur.version != version {
                        return Err(StoreError::StaleVersion {
                            code,
                            current: cur.version,
                            given: version,
                        });
                    }
                    if let Some(n) = &name {
                        check_name(n, "properties.name").map_err(|e| at_item(e.into()))?;
                    }
                    // The grid as it is: no new version, no audit entry, no change record.
                    if name.as_ref().is_none_or(|n| n.trim() == cur.name)
                        && geom.as_ref().is_none_or(|g| *g == cur.geom)
                    {
                        kept_codes.push(code);
                        continue;
                    }
                    sqlx::query("UPDATE grid_versions SET valid_to = now() WHERE grid_id = $1 AND valid_to IS NULL")
                        .bind(cur.id)
                        .execute(&mut *tx)
                        .await
                        .ctx("closing a grid version")?;
                    let new_geom = geom.as_ref().unwrap_or(&cur.geom);
                    sqlx::query(
                        "INSERT INTO grid_versions (grid_id, version, code, name, parent_id, geom, valid_from, changed_by) \
                         VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_GeomFromWKB($6, 4326)), now(), $7)",
                    )
                    .bind(cur.id)
                    .bind(cur.version + 1)
                    .bind(&cur.code)
                    .bind(name.as_deref().unwrap_or(&cur.name))
                    .bind(cur.parent_id)
                    .bind(wkb::encode_area(new_geom))
                    .bind(&actor.name)
                    .execute(&mut *tx)
                    .await
                    .ctx("writing a grid version")?;
                    audit_grid(
                        &mut tx,
                        actor,
                        "update",
                        cur.id,
                        Some(grid_json(&cur.code, &cur.name, &cur.geom)),
                        Some(grid_json(
                            &cur.code,
                            name.as_deref().unwrap_or(&cur.name),
                            new_geom,
                        )),
                    )
                    .await?;
                    if geom.is_some() {
                        parents.insert(parent_of(&cur));
                        if cur.level == GridLevel::First {
                            parents.insert(Parent::Grid(cur.id));
                        }
                        boxes.extend(bbox(&cur.geom));
                        boxes.extend(bbox(new_geom));
                        changed_ids.push(cur.id);
                    }
                    touched.push(cur.id);
                    kept_codes.push(code);
                }
                GridChange::Delete { code, version } => {
                    let cur = current_by_code(&mut tx, &code)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("grid {code}")))?;
                    if cur.version != version {
                        return Err(StoreError::StaleVersion {
                            code,
                            current: cur.version,
                            given: version,
                        });
                    }
                    sqlx::query(
                        "UPDATE grid_versions SET valid_to = now(), changed_by = COALESCE($2, changed_by) \
                         WHERE grid_id = $1 AND valid_to IS NULL",
                    )
                    .bind(cur.id)
                    .bind(&actor.name)
                    .execute(&mut *tx)
                    .await
                    .ctx("closing a grid version")?;
                    audit_grid(
                        &mut tx,
                        actor,
                        "delete",
                        cur.id,
                        Some(grid_json(&cur.code, &cur.name, &cur.geom)),
                        None,
                    )
                    .await?;
                    parents.insert(parent_of(&cur));
                    boxes.extend(bbox(&cur.geom));
                    changed_ids.push(cur.id);
                    touched.push(cur.id);
                    deleted.push(code);
                }
            }
        }

        if touched.is_empty() {
            // Every change named a grid as it is: nothing to check, log or announce.
            let grids = read_back(&mut tx, &kept_codes).await?;
            tx.rollback().await.ctx("ending a transaction")?;
            return Ok(Applied {
                grids,
                deleted,
                moves: Vec::new(),
                touched,
                seq: 0,
                party: Default::default(),
            });
        }

        // No grid may outlive its parent.
        let orphans: Vec<String> = sqlx::query_scalar(
            "SELECT c.code FROM current_grids c WHERE c.parent_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM grid_versions p WHERE p.grid_id = c.parent_id AND p.valid_to IS NULL) \
             ORDER BY c.code LIMIT 20",
        )
        .fetch_all(&mut *tx)
        .await
        .ctx("checking parents")?;
        if !orphans.is_empty() {
            return Err(StoreError::Conflict(format!(
                "deleting a first-level grid needs its second-level grids deleted in the same batch: {} would be left without a parent",
                orphans.join(", ")
            )));
        }

        check_parents(&mut tx, &parents, tolerance_m2, budget).await?;
        let moves = reassign_buildings(&mut tx, &boxes, &changed_ids).await?;
        let party = super::party::after_grid_changes(&mut tx, &moves, &touched, actor).await?;
        let seq = changes::record(&mut tx, "grids", &touched).await?;

        let rows = sqlx::query(&format!("{CURRENT} WHERE v.code = ANY($1) ORDER BY g.id"))
            .bind(&kept_codes)
            .fetch_all(&mut *tx)
            .await
            .ctx("reading grids back")?;
        let grids = rows
            .iter()
            .map(grid_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.ctx("committing grid changes")?;
        Ok(Applied {
            grids,
            deleted,
            moves,
            touched,
            seq,
            party,
        })
    }
}

/// The current versions of grids by code.
async fn read_back(tx: &mut PgConnection, codes: &[String]) -> Result<Vec<Grid>, StoreError> {
    let rows = sqlx::query(&format!("{CURRENT} WHERE v.code = ANY($1) ORDER BY g.id"))
        .bind(codes)
        .fetch_all(&mut *tx)
        .await
        .ctx("reading grids back")?;
    rows.iter().map(grid_from_row).collect()
}

async fn create(tx: &mut PgConnection, g: &NewGrid, actor: &str) -> Result<i64, StoreError> {
    check_name(&g.name, "properties.name")?;
    let (community_id, parent_id): (i64, Option<i64>) = match g.level {
        GridLevel::First => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM communities WHERE code = $1")
                .bind(&g.parent_code)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a community")?;
            let id = id.ok_or_else(|| {
                crate::domain::FieldError::new(
                    "properties.parent_code",
                    format!("no community has code {}", g.parent_code),
                )
            })?;
            (id, None)
        }
        GridLevel::Second => {
            let row = sqlx::query(
                "SELECT id, community_id FROM current_grids WHERE code = $1 AND level = 1",
            )
            .bind(&g.parent_code)
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding a parent grid")?;
            let row = row.ok_or_else(|| {
                crate::domain::FieldError::new(
                    "properties.parent_code",
                    format!("no first-level grid has code {}", g.parent_code),
                )
            })?;
            (
                row.try_get("community_id").ctx("finding a parent grid")?,
                Some(row.try_get("id").ctx("finding a parent grid")?),
            )
        }
    };
    check_grid_code(&g.code, g.level, &g.parent_code)?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM grid_versions WHERE code = $1 AND valid_to IS NULL)",
    )
    .bind(&g.code)
    .fetch_one(&mut *tx)
    .await
    .ctx("checking a grid code")?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "grid code {} is already in use",
            g.code
        )));
    }
    let id: i64 =
        sqlx::query_scalar("INSERT INTO grids (community_id, level) VALUES ($1, $2) RETURNING id")
            .bind(community_id)
            .bind(g.level.number())
            .fetch_one(&mut *tx)
            .await
            .ctx("creating a grid")?;
    sqlx::query(
        "INSERT INTO grid_versions (grid_id, version, code, name, parent_id, geom, valid_from, changed_by) \
         VALUES ($1, 1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)), now(), $6)",
    )
    .bind(id)
    .bind(&g.code)
    .bind(g.name.trim())
    .bind(parent_id)
    .bind(wkb::encode_area(&g.geom))
    .bind(actor)
    .execute(&mut *tx)
    .await
    .ctx("creating a grid version")?;
    Ok(id)
}

fn grid_json(code: &str, name: &str, geom: &MultiPolygon<f64>) -> serde_json::Value {
    serde_json::json!({ "code": code, "name": name, "geometry": geojson::Geometry::from(geom) })
}

async fn audit_grid(
    tx: &mut PgConnection,
    actor: &Actor,
    action: &str,
    grid_id: i64,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    let (code, region_id): (String, i64) = sqlx::query_as(
        "SELECT v.code, c.region_id FROM grid_versions v JOIN grids g ON g.id = v.grid_id \
         JOIN communities c ON c.id = g.community_id WHERE v.grid_id = $1 ORDER BY v.version DESC LIMIT 1",
    )
    .bind(grid_id)
    .fetch_one(&mut *tx)
    .await
    .ctx("auditing a grid change")?;
    audit::write(
        tx,
        actor,
        Entry {
            action,
            entity: "grid",
            key: &code,
            before,
            after,
            region_id: Some(region_id),
        },
    )
    .await
}

/// One parent to check: its code and boundary, and its children's, as stored (WKB).
struct Case {
    code: String,
    wkb: Vec<u8>,
    children: Vec<(String, Vec<u8>)>,
}

/// Checks the partition of every parent touched by the batch: reads the boundaries in
/// the transaction, then checks them on the work pool within `budget`.
async fn check_parents(
    tx: &mut PgConnection,
    parents: &BTreeSet<Parent>,
    tolerance_m2: f64,
    budget: Duration,
) -> Result<(), StoreError> {
    let mut cases = Vec::new();
    for p in parents {
        let (code, wkb): (String, Vec<u8>) = match p {
            Parent::Community(id) => {
                match sqlx::query_as(
                    "SELECT code, ST_AsBinary(geom) FROM communities WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("reading a community")?
                {
                    Some(r) => r,
                    None => continue,
                }
            }
            Parent::Grid(id) => {
                match sqlx::query_as(
                    "SELECT code, ST_AsBinary(geom) FROM grid_versions WHERE grid_id = $1 AND valid_to IS NULL",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("reading a grid")?
                {
                    Some(r) => r,
                    // Deleted in this batch: nothing left to partition.
                    None => continue,
                }
            }
        };
        let children: Vec<(String, Vec<u8>)> = match p {
            Parent::Community(id) => sqlx::query_as(
                "SELECT code, ST_AsBinary(geom) FROM current_grids WHERE community_id = $1 AND level = 1 ORDER BY code",
            )
            .bind(id),
            Parent::Grid(id) => sqlx::query_as(
                "SELECT code, ST_AsBinary(geom) FROM current_grids WHERE parent_id = $1 ORDER BY code",
            )
            .bind(id),
        }
        .fetch_all(&mut *tx)
        .await
        .ctx("reading child grids")?;
        if !children.is_empty() {
            cases.push(Case {
                code,
                wkb,
                children,
            });
        }
    }
    // A position takes 16 bytes of WKB.
    let vertices = cases
        .iter()
        .map(|c| c.wkb.len() + c.children.iter().map(|k| k.1.len()).sum::<usize>())
        .sum::<usize>()
        / 16;
    let faults = off_runtime(vertices, budget, move || {
        let mut faults = Vec::new();
        for case in cases {
            let parent = match wkb::decode_area(&case.wkb).ctx("reading a parent") {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            let shapes = match case
                .children
                .iter()
                .map(|(_, w)| wkb::decode_area(w))
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading child grids")
            {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            let report = check_partition(&parent, &shapes)?;
            if !report.is_within(tolerance_m2) {
                let codes: Vec<String> = case.children.into_iter().map(|(c, _)| c).collect();
                for fault in report.faults {
                    faults.push(ParentFault {
                        parent_code: case.code.clone(),
                        child_codes: codes.clone(),
                        fault,
                    });
                }
            }
        }
        Ok(Ok(faults))
    })
    .await??;
    if faults.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Partition {
            tolerance_m2,
            faults,
        })
    }
}

/// Re-computes the grid of every building near a changed boundary; refuses the batch if
/// any would lie outside all second-level grids.
async fn reassign_buildings(
    tx: &mut PgConnection,
    boxes: &[Rect<f64>],
    changed_ids: &[i64],
) -> Result<Vec<Move>, StoreError> {
    if boxes.is_empty() && changed_ids.is_empty() {
        return Ok(Vec::new());
    }
    let (x0, y0, x1, y1): (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) =
        boxes
            .iter()
            .fold((vec![], vec![], vec![], vec![]), |mut acc, r| {
                acc.0.push(r.min().x);
                acc.1.push(r.min().y);
                acc.2.push(r.max().x);
                acc.3.push(r.max().y);
                acc
            });
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS reassign (id bigint, code text, old_grid bigint, new_grid bigint) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await
    .ctx("preparing building re-assignment")?;
    sqlx::query("TRUNCATE reassign")
        .execute(&mut *tx)
        .await
        .ctx("preparing building re-assignment")?;
    sqlx::query(
        "INSERT INTO reassign \
         SELECT b.id, b.code, b.grid_id, \
           (SELECT c.id FROM current_grids c WHERE c.level = 2 AND ST_Covers(c.geom, b.anchor) ORDER BY c.id LIMIT 1) \
         FROM buildings b \
         WHERE b.grid_id = ANY($5) OR EXISTS ( \
           SELECT 1 FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) AS e(x0, y0, x1, y1) \
           WHERE b.anchor && ST_MakeEnvelope(e.x0, e.y0, e.x1, e.y1, 4326))",
    )
    .bind(&x0)
    .bind(&y0)
    .bind(&x1)
    .bind(&y1)
    .bind(changed_ids)
    .execute(&mut *tx)
    .await
    .ctx("re-assigning buildings")?;
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM reassign WHERE new_grid IS NULL ORDER BY code LIMIT 100",
    )
    .fetch_all(&mut *tx)
    .await
    .ctx("re-assigning buildings")?;
    if !orphans.is_empty() {
        return Err(StoreError::Orphans { codes: orphans });
    }
    let moves: Vec<(i64, i64, i64)> = sqlx::query_as(
        "UPDATE buildings b SET grid_id = r.new_grid FROM reassign r \
         WHERE r.id = b.id AND r.new_grid <> r.old_grid RETURNING b.id, r.old_grid, r.new_grid",
    )
    .fetch_all(&mut *tx)
    .await
    .ctx("re-assigning buildings")?;
    Ok(moves
        .into_iter()
        .map(|(building_id, from_grid, to_grid)| Move {
            building_id,
            from_grid,
            to_grid,
        })
        .collect())
}
