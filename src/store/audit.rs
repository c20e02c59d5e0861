//! The audit log: who changed what, when, with the state before and after. Rows are written
//! in the same transaction as the change they describe; the table refuses updates and
//! deletions (a trigger), so the log is append-only.

use super::{DbContext, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

/// Who is making a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account, if a person (not an import tool) is acting.
    pub account_id: Option<i64>,
    /// The account's login name, or the tool's name.
    pub name: String,
}

impl Actor {
    /// A command-line tool or system task acting on its own.
    pub fn system(name: &str) -> Self {
        Self {
            account_id: None,
            name: name.to_string(),
        }
    }

    /// The acting account, for a write only an account may do (`refusal` says which).
    pub fn account(&self, refusal: &'static str) -> Result<i64, StoreError> {
        self.account_id
            .ok_or_else(|| crate::domain::FieldError::new("account", refusal).into())
    }
}

/// Whose administrators read an entry: the region it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionOf {
    /// This region (none: a system-wide entry, read by the administrators of every region).
    Region(Option<i64>),
    /// The region of this community, looked up when the entry is written.
    Community(i64),
}

/// One change to record.
pub struct Entry<'a> {
    /// `create`, `update`, `delete`, `import`, `assign`, ...
    pub action: &'a str,
    /// `grid`, `person`, `staff`, `station`, `account`, ...
    pub entity: &'a str,
    /// The entity's code or name.
    pub key: &'a str,
    /// State before, if any.
    pub before: Option<Value>,
    /// State after, if any.
    pub after: Option<Value>,
    /// The region the change belongs to, so region admins can read it.
    pub region: RegionOf,
}

impl<'a> Entry<'a> {
    /// The entry of a write to one record, its action said by what was there: `create`
    /// when nothing was before, `delete` when nothing is after, `update` otherwise.
    pub fn record(
        entity: &'a str,
        key: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        let action = match (&before, &after) {
            (None, _) => "create",
            (Some(_), None) => "delete",
            (Some(_), Some(_)) => "update",
        };
        Self::named(action, entity, key, before, after)
    }

    /// An entry whose action is not a plain create, update or delete (`assign`,
    /// `dissolve`, `report`, ...).
    pub fn named(
        action: &'a str,
        entity: &'a str,
        key: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            action,
            entity,
            key,
            before,
            after,
            region: RegionOf::Region(None),
        }
    }

    /// The entry of a replaced list (officers, members, posts): the list before and after.
    pub fn assigned(
        entity: &'a str,
        key: &'a str,
        before: &impl Serialize,
        after: &impl Serialize,
    ) -> Self {
        let (before, after) = (serde_json::json!(before), serde_json::json!(after));
        Self::named("assign", entity, key, Some(before), Some(after))
    }

    /// The one entry of an import: how many rows it wrote, read by every region's
    /// administrators.
    pub fn import(layer: &'a str, count: usize) -> Self {
        let after = serde_json::json!({ "count": count });
        Self::named("import", layer, layer, None, Some(after))
    }

    /// The same entry, belonging to `region`.
    pub fn in_region(self, region: Option<i64>) -> Self {
        Self {
            region: RegionOf::Region(region),
            ..self
        }
    }

    /// The same entry, belonging to the region of `community`.
    pub fn in_community(self, community: i64) -> Self {
        Self {
            region: RegionOf::Community(community),
            ..self
        }
    }
}

/// Appends an entry in the current transaction (audited writes call it through the write
/// helper of `store/write.rs`).
pub(super) async fn write(
    tx: &mut PgConnection,
    actor: &Actor,
    e: Entry<'_>,
) -> Result<(), StoreError> {
    let region_id = match e.region {
        RegionOf::Region(r) => r,
        RegionOf::Community(c) => {
            sqlx::query_scalar("SELECT region_id FROM communities WHERE id = $1")
                .bind(c)
                .fetch_optional(&mut *tx)
                .await
                .ctx("finding a region")?
        }
    };
    sqlx::query(
        "INSERT INTO audit_log (account_id, actor, action, entity, entity_key, before, after, region_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(actor.account_id)
    .bind(&actor.name)
    .bind(e.action)
    .bind(e.entity)
    .bind(e.key)
    .bind(e.before)
    .bind(e.after)
    .bind(region_id)
    .execute(&mut *tx)
    .await
    .ctx("writing the audit log")?;
    Ok(())
}

/// A logged change as read back.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Logged {
    /// Entry number.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What kind of change.
    pub action: String,
    /// Of what.
    pub entity: String,
    /// Which one.
    pub entity_key: String,
    /// Before.
    pub before: Option<Value>,
    /// After.
    pub after: Option<Value>,
}

/// Filter for reading the log.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only this entity kind.
    pub entity: Option<String>,
    /// Only this key.
    pub key: Option<String>,
    /// Only after this entry id.
    pub after_id: Option<i64>,
    /// At most this many (newest first).
    pub limit: i64,
}

impl Store {
    /// Reads the log, newest first, limited to entries of the given regions (entries
    /// without a region are system-wide and shown to admins of any region).
    pub async fn audit(&self, f: &Filter, regions: &[i64]) -> Result<Vec<Logged>, StoreError> {
        sqlx::query_as(
            "SELECT id, at, actor, action, entity, entity_key, before, after FROM audit_log \
             WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR entity_key = $2) \
               AND ($3::bigint IS NULL OR id > $3) AND (region_id IS NULL OR region_id = ANY($4)) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(&f.entity)
        .bind(&f.key)
        .bind(f.after_id)
        .bind(regions)
        .bind(f.limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await
        .ctx("reading the audit log")
    }
}
