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

use super::audit::{Actor, Entry};
use super::layers::GridRow;
use super::write::Write;
use super::{read_all, wkb, DbContext, ParentFault, Store, StoreError};
use crate::domain::hierarchy::{check_grid_code, check_name};
use crate::domain::registry::{orphaned_grids_message, Grid};
use crate::domain::GridLevel;
use crate::spatial::shape::off_runtime;
use crate::spatial::topology::check_partition;
use crate::store::changes::ChangeLayer;
use geo::{BoundingRect, MultiPolygon, Rect};
use sqlx::PgConnection;
use std::collections::BTreeSet;
use std::time::Duration;

pub use crate::domain::registry::{GridChange, Move, NewGrid};

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
    let row: Option<GridRow> =
        sqlx::query_as(&format!("{CURRENT} WHERE v.code = $1 FOR UPDATE OF v"))
            .bind(code)
            .fetch_optional(&mut *tx)
            .await
            .ctx("reading a grid")?;
    row.map(GridRow::grid).transpose()
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
        GridChange::check_unique(&batch).map_err(|item| StoreError::Items(vec![item]))?;
        let mut tx = self.begin_write(actor).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(GRID_LOCK)
            .execute(&mut *tx)
            .await
            .ctx("locking grids")?;
        let mut done = Done::default();
        for (i, change) in batch.into_iter().enumerate() {
            done.apply(&mut tx, i, change).await?;
        }
        if done.touched.is_empty() {
            // Every change named a grid as it is: nothing to check, log or announce.
            let grids = read_back(&mut tx, &done.kept_codes).await?;
            tx.abandon().await?;
            return Ok(Applied {
                grids,
                deleted: done.deleted,
                moves: Vec::new(),
                touched: done.touched,
                seq: 0,
                party: Default::default(),
            });
        }
        check_no_orphan_grids(&mut tx).await?;
        check_parents(&mut tx, &done.parents, tolerance_m2, budget).await?;
        let moves = reassign_buildings(&mut tx, &done.boxes, &done.changed_ids).await?;
        let party = super::party::after_grid_changes(&mut tx, &moves, &done.touched).await?;
        let grids = read_back(&mut tx, &done.kept_codes).await?;
        let seq = tx
            .commit(ChangeLayer::Grids, &done.touched, "committing grid changes")
            .await?;
        Ok(Applied {
            grids,
            deleted: done.deleted,
            moves,
            touched: done.touched,
            seq,
            party,
        })
    }
}

/// What the changes of a batch have done so far inside its transaction: what the later
/// steps (orphan and partition checks, building re-assignment, the change record) need.
#[derive(Default)]
struct Done {
    /// Parents whose partition must be checked.
    parents: BTreeSet<Parent>,
    /// Boxes of every old and new boundary.
    boxes: Vec<Rect<f64>>,
    /// Ids of every grid written.
    touched: Vec<i64>,
    /// Ids of grids re-drawn or deleted (their buildings are all re-checked).
    changed_ids: Vec<i64>,
    /// Codes of deleted grids.
    deleted: Vec<String>,
    /// Codes of the grids to read back (created, updated or named as they are).
    kept_codes: Vec<String>,
}

impl Done {
    /// Applies change `i` of the batch; a field error is reported at its item.
    async fn apply(
        &mut self,
        tx: &mut Write<'_>,
        i: usize,
        change: GridChange,
    ) -> Result<(), StoreError> {
        let at_item = |e: StoreError| match e {
            StoreError::Field(f) => StoreError::Items(vec![(i, f.to_string())]),
            other => other,
        };
        match change {
            GridChange::Create(g) => self.create(tx, g).await.map_err(at_item),
            GridChange::Update {
                code,
                version,
                name,
                geom,
            } => {
                let cur = current_at_version(tx, &code, version).await?;
                if let Some(n) = &name {
                    check_name(n, "properties.name").map_err(|e| at_item(e.into()))?;
                }
                self.update(tx, cur, name, geom).await
            }
            GridChange::Delete { code, version } => {
                let cur = current_at_version(tx, &code, version).await?;
                self.delete(tx, cur).await
            }
        }
    }

    /// Creates a grid and notes its parent for the partition check.
    async fn create(&mut self, tx: &mut Write<'_>, g: NewGrid) -> Result<(), StoreError> {
        let actor = tx.actor();
        let id = create(tx, &g, &actor.name).await?;
        let after = grid_json(&g.code, &g.name, &g.geom);
        audit_grid(tx, id, None, Some(after)).await?;
        let parent = match g.level {
            GridLevel::First => {
                let cid: i64 = sqlx::query_scalar("SELECT community_id FROM grids WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await
                    .ctx("reading a grid")?;
                Parent::Community(cid)
            }
            GridLevel::Second => {
                let pid: i64 = sqlx::query_scalar(
                    "SELECT parent_id FROM grid_versions WHERE grid_id = $1 AND valid_to IS NULL",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await
                .ctx("reading a grid")?;
                Parent::Grid(pid)
            }
        };
        self.parents.insert(parent);
        self.boxes.extend(bbox(&g.geom));
        self.touched.push(id);
        self.kept_codes.push(g.code);
        Ok(())
    }

    /// Re-draws and/or renames `cur`; a change that leaves it as it is writes nothing.
    async fn update(
        &mut self,
        tx: &mut Write<'_>,
        cur: Grid,
        name: Option<String>,
        geom: Option<MultiPolygon<f64>>,
    ) -> Result<(), StoreError> {
        let actor = tx.actor();
        // The grid as it is: no new version, no audit entry, no change record.
        if name.as_ref().is_none_or(|n| n.trim() == cur.name)
            && geom.as_ref().is_none_or(|g| *g == cur.geom)
        {
            self.kept_codes.push(cur.code);
            return Ok(());
        }
        sqlx::query(
            "UPDATE grid_versions SET valid_to = now() WHERE grid_id = $1 AND valid_to IS NULL",
        )
        .bind(cur.id)
        .execute(&mut **tx)
        .await
        .ctx("closing a grid version")?;
        let new_geom = geom.as_ref().unwrap_or(&cur.geom);
        let new_name = name.as_deref().unwrap_or(&cur.name);
        sqlx::query(
            "INSERT INTO grid_versions (grid_id, version, code, name, parent_id, geom, valid_from, changed_by) \
             VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_GeomFromWKB($6, 4326)), now(), $7)",
        )
        .bind(cur.id)
        .bind(cur.version + 1)
        .bind(&cur.code)
        .bind(new_name)
        .bind(cur.parent_id)
        .bind(wkb::encode_area(new_geom))
        .bind(&actor.name)
        .execute(&mut **tx)
        .await
        .ctx("writing a grid version")?;
        let before = grid_json(&cur.code, &cur.name, &cur.geom);
        let after = grid_json(&cur.code, new_name, new_geom);
        audit_grid(tx, cur.id, Some(before), Some(after)).await?;
        if geom.is_some() {
            self.parents.insert(parent_of(&cur));
            if cur.level == GridLevel::First {
                self.parents.insert(Parent::Grid(cur.id));
            }
            self.boxes.extend(bbox(&cur.geom));
            self.boxes.extend(bbox(new_geom));
            self.changed_ids.push(cur.id);
        }
        self.touched.push(cur.id);
        self.kept_codes.push(cur.code);
        Ok(())
    }

    /// Closes the current version of `cur` (its history stays).
    async fn delete(&mut self, tx: &mut Write<'_>, cur: Grid) -> Result<(), StoreError> {
        let actor = tx.actor();
        sqlx::query(
            "UPDATE grid_versions SET valid_to = now(), changed_by = COALESCE($2, changed_by) \
             WHERE grid_id = $1 AND valid_to IS NULL",
        )
        .bind(cur.id)
        .bind(&actor.name)
        .execute(&mut **tx)
        .await
        .ctx("closing a grid version")?;
        let before = grid_json(&cur.code, &cur.name, &cur.geom);
        audit_grid(tx, cur.id, Some(before), None).await?;
        self.parents.insert(parent_of(&cur));
        self.boxes.extend(bbox(&cur.geom));
        self.changed_ids.push(cur.id);
        self.touched.push(cur.id);
        self.deleted.push(cur.code);
        Ok(())
    }
}

/// The current version of grid `code`, locked, refused when missing or not at `version`.
async fn current_at_version(
    tx: &mut PgConnection,
    code: &str,
    version: i32,
) -> Result<Grid, StoreError> {
    let cur = current_by_code(tx, code).await?;
    let cur = cur.ok_or_else(|| StoreError::NotFound(format!("grid {code}")))?;
    cur.at_version(version)
        .map_err(|current| StoreError::StaleVersion {
            code: code.to_string(),
            current,
            given: version,
        })
}

/// Refuses the batch when a grid would outlive its parent.
async fn check_no_orphan_grids(tx: &mut PgConnection) -> Result<(), StoreError> {
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT c.code FROM current_grids c WHERE c.parent_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM grid_versions p WHERE p.grid_id = c.parent_id AND p.valid_to IS NULL) \
         ORDER BY c.code LIMIT 20",
    )
    .fetch_all(&mut *tx)
    .await
    .ctx("checking parents")?;
    if orphans.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = orphans.iter().map(String::as_str).collect();
    Err(StoreError::Conflict(orphaned_grids_message(&codes)))
}

/// The current versions of grids by code.
async fn read_back(tx: &mut PgConnection, codes: &[String]) -> Result<Vec<Grid>, StoreError> {
    let sql = format!("{CURRENT} WHERE v.code = ANY($1) ORDER BY g.id");
    let q = sqlx::query_as(&sql).bind(codes);
    read_all::<_, _, Result<_, _>>(q, tx, "reading grids back", GridRow::grid).await?
}

async fn create(tx: &mut PgConnection, g: &NewGrid, actor: &str) -> Result<i64, StoreError> {
    check_name(&g.name, "properties.name")?;
    // The parent's community and, for a second-level grid, the parent grid.
    let (sql, finding, missing) = match g.level {
        GridLevel::First => (
            "SELECT id, NULL::bigint FROM communities WHERE code = $1",
            "finding a community",
            "no community has code",
        ),
        GridLevel::Second => (
            "SELECT community_id, id FROM current_grids WHERE code = $1 AND level = 1",
            "finding a parent grid",
            "no first-level grid has code",
        ),
    };
    let parent: Option<(i64, Option<i64>)> = sqlx::query_as(sql)
        .bind(&g.parent_code)
        .fetch_optional(&mut *tx)
        .await
        .ctx(finding)?;
    let (community_id, parent_id) = parent.ok_or_else(|| {
        crate::domain::FieldError::new(
            "properties.parent_code",
            format!("{missing} {}", g.parent_code),
        )
    })?;
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

/// The audit entry of a grid created, re-drawn or deleted, under its latest code and in
/// its community's region.
async fn audit_grid(
    tx: &mut Write<'_>,
    grid_id: i64,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    let (code, region_id): (String, i64) = sqlx::query_as(
        "SELECT v.code, c.region_id FROM grid_versions v JOIN grids g ON g.id = v.grid_id \
         JOIN communities c ON c.id = g.community_id WHERE v.grid_id = $1 ORDER BY v.version DESC LIMIT 1",
    )
    .bind(grid_id)
    .fetch_one(&mut **tx)
    .await
    .ctx("auditing a grid change")?;
    let entry = Entry::record("grid", &code, before, after);
    tx.audit(entry.in_region(Some(region_id))).await
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
        let (sql, id, reading) = match p {
            Parent::Community(id) => (
                "SELECT code, ST_AsBinary(geom) FROM communities WHERE id = $1",
                id,
                "reading a community",
            ),
            Parent::Grid(id) => (
                "SELECT code, ST_AsBinary(geom) FROM grid_versions WHERE grid_id = $1 AND valid_to IS NULL",
                id,
                "reading a grid",
            ),
        };
        let parent: Option<(String, Vec<u8>)> = sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx(reading)?;
        // A grid deleted in this batch has nothing left to partition.
        let Some((code, wkb)) = parent else {
            continue;
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
