//! The one path of an audited write: a transaction; the caller's reads before, writes and
//! reads after inside it; an audit entry per record changed (its action said by the states
//! before and after, see [`Entry::record`]); the change-log record that tells every process
//! what to reload; the commit. A write that fails anywhere, or is dropped, rolls back whole.
//!
//! Must not: decide who may make the write (callers check first), or know what a record's
//! "before" and "after" hold (each store file reads its own).

use super::audit::{self, Actor, Entry};
use super::changes::{self, ChangeLayer};
use super::{DbContext, Store, StoreError};
use sqlx::{PgConnection, Postgres, Transaction};
use std::ops::{Deref, DerefMut};

/// An audited write under way: its transaction (a [`PgConnection`] through `Deref`) and
/// who makes it.
pub(crate) struct Write<'a> {
    tx: Transaction<'static, Postgres>,
    actor: &'a Actor,
}

impl Store {
    /// Begins an audited write by `actor`.
    pub(crate) async fn begin_write<'a>(&self, actor: &'a Actor) -> Result<Write<'a>, StoreError> {
        let tx = self.pool.begin().await.ctx("starting a transaction")?;
        Ok(Write { tx, actor })
    }
}

impl<'a> Write<'a> {
    /// Who makes the write.
    pub(crate) fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// Appends an audit entry for a change made in this write.
    pub(crate) async fn audit(&mut self, entry: Entry<'_>) -> Result<(), StoreError> {
        audit::write(&mut self.tx, self.actor, entry).await
    }

    /// Records the change of `layer` (the rows `ids`, when known) and commits; returns the
    /// change's sequence number. `committing` names the step in errors.
    pub(crate) async fn commit(
        mut self,
        layer: ChangeLayer,
        ids: &[i64],
        committing: &'static str,
    ) -> Result<i64, StoreError> {
        let seq = changes::record(&mut self.tx, layer, ids).await?;
        self.tx.commit().await.ctx(committing)?;
        Ok(seq)
    }

    /// The usual end of a write to one record: its audit entry, the change of `layer`
    /// (rows `ids`), the commit.
    pub(crate) async fn finish(
        mut self,
        entry: Entry<'_>,
        (layer, ids): (ChangeLayer, &[i64]),
        committing: &'static str,
    ) -> Result<(), StoreError> {
        self.audit(entry).await?;
        self.commit(layer, ids, committing).await?;
        Ok(())
    }

    /// Commits a write that no process keeps in memory (an account created): its audit
    /// entries, and no change record.
    pub(crate) async fn commit_unannounced(
        self,
        committing: &'static str,
    ) -> Result<(), StoreError> {
        self.tx.commit().await.ctx(committing)
    }

    /// Ends a write that turned out to change nothing: nothing is committed, audited or
    /// announced.
    pub(crate) async fn abandon(self) -> Result<(), StoreError> {
        self.tx.rollback().await.ctx("ending a transaction")
    }
}

impl Deref for Write<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for Write<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
