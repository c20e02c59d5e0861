//! What both importers (the layers' and the party file's) share in checking their input:
//! the collector of every problem by item, and the check of the codes an import refers to
//! that no row answers.

use crate::store::{DbContext, StoreError};
use sqlx::PgConnection;
use std::ops::Range;

/// Most problems listed in one refusal.
const MAX_PROBLEMS: usize = 100;

/// Collects per-item problems (features, rows, records of a section), up to a hundred.
#[derive(Default)]
pub struct Problems(Vec<(usize, String)>);

impl Problems {
    /// Notes a problem of item `i`.
    pub fn add(&mut self, i: usize, msg: impl Into<String>) {
        if self.0.len() < MAX_PROBLEMS {
            self.0.push((i, msg.into()));
        }
    }

    /// Notes a problem of item `i` of a file's `section`, saying where (`orgs[3]: ...`).
    pub fn add_in(&mut self, section: &str, i: usize, msg: impl std::fmt::Display) {
        self.add(i, format!("{section}[{i}]: {msg}"));
    }

    /// Notes every error among `errors` as a problem of item `i`.
    pub(crate) fn add_errors<const N: usize>(&mut self, i: usize, errors: [Option<String>; N]) {
        for e in errors.into_iter().flatten() {
            self.add(i, e);
        }
    }

    /// The value of item `i`'s `r`, or `None` with its error noted.
    pub fn take<T>(&mut self, i: usize, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.add(i, e)).ok()
    }

    /// Notes every code of `section`'s `field` that no row of `table` has.
    pub(crate) async fn refs(
        &mut self,
        tx: &mut PgConnection,
        (section, field): (&str, &str),
        table: Table,
        codes: &[Option<&str>],
    ) -> Result<(), StoreError> {
        for i in missing(tx, table, codes).await? {
            let code = codes.get(i).copied().flatten().unwrap_or_default();
            self.add_in(section, i, format!("{field}: no {} {code}", table.name()));
        }
        Ok(())
    }

    /// Fails with every problem noted so far, if there is any (and forgets them).
    pub fn check(&mut self) -> Result<(), StoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Items(std::mem::take(&mut self.0)))
        }
    }
}

/// Tables whose `code` an import may refer to.
#[derive(Clone, Copy)]
pub(crate) enum Table {
    /// Communities.
    Communities,
    /// People.
    People,
    /// Compounds.
    Compounds,
    /// Buildings.
    Buildings,
    /// Social organisations.
    Associations,
    /// Party organisations.
    PartyOrgs,
    /// 双报到 units.
    DualUnits,
    /// Volunteer projects.
    Projects,
}

impl Table {
    /// The table's name (never client input: it is pasted into SQL).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Communities => "communities",
            Self::People => "people",
            Self::Compounds => "compounds",
            Self::Buildings => "buildings",
            Self::Associations => "associations",
            Self::PartyOrgs => "party_orgs",
            Self::DualUnits => "dual_units",
            Self::Projects => "volunteer_projects",
        }
    }

    /// What one row is called in a refusal.
    fn noun(self) -> &'static str {
        match self {
            Self::Communities => "community",
            Self::People => "person",
            Self::Compounds => "compound",
            Self::Buildings => "building",
            Self::Associations => "social organisation",
            Self::PartyOrgs => "party organisation",
            Self::DualUnits => "双报到 unit",
            Self::Projects => "volunteer project",
        }
    }
}

/// Indexes (0-based, ascending, at most a hundred) of the codes that no row of `table`
/// has; `None` codes refer to nothing and pass.
pub(crate) async fn missing(
    tx: &mut PgConnection,
    table: Table,
    codes: &[Option<&str>],
) -> Result<Vec<usize>, StoreError> {
    // The table name is one of a fixed set, never client input.
    let found: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT t.i FROM unnest($1::text[]) WITH ORDINALITY AS t(c, i) \
         WHERE t.c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} x WHERE x.code = t.c) \
         ORDER BY t.i LIMIT {MAX_PROBLEMS}",
        table.name()
    ))
    .bind(codes)
    .fetch_all(&mut *tx)
    .await
    .ctx("checking references")?;
    Ok(found.into_iter().map(|i| (i - 1) as usize).collect())
}

/// A code one row of an import refers to another table by: required or optional.
pub(crate) trait Code: Sync {
    /// The code, if the row gives one.
    fn code(&self) -> Option<&str>;
}

impl Code for String {
    fn code(&self) -> Option<&str> {
        Some(self)
    }
}

impl Code for Option<String> {
    fn code(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// Refuses the first code among rows `r` of `column` that no row of `table` has, as a
/// problem of `field`.
pub(crate) async fn refuse_unknown(
    tx: &mut PgConnection,
    table: Table,
    column: &[impl Code],
    r: Range<usize>,
    field: &str,
) -> Result<(), StoreError> {
    let codes: Vec<Option<&str>> = column[r.clone()].iter().map(Code::code).collect();
    match missing(tx, table, &codes).await?.first() {
        None => Ok(()),
        Some(&i) => {
            let code = codes.get(i).copied().flatten().unwrap_or_default();
            let reason = format!("{field}: no {} {code}", table.noun());
            Err(StoreError::Items(vec![(r.start + i, reason)]))
        }
    }
}
