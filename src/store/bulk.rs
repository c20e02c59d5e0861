//! Bulk writes through `unnest`: rows held as columns (one vector per field), each column
//! bound as one array parameter, a chunk of rows per statement.
//!
//! Must not: know what the rows are; the statement's SQL says that.

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgQueryResult};
use sqlx::{Arguments, Encode, PgConnection, Postgres, Type};
use std::ops::Range;

/// A column of values that binds as one Postgres array.
pub(crate) trait Column: Sync {
    /// Adds the values of rows `r` to `args` as one array parameter.
    fn add_rows(&self, args: &mut PgArguments, r: Range<usize>) -> Result<(), BoxDynError>;
}

impl<T> Column for Vec<T>
where
    T: Sync,
    for<'a> &'a [T]: Encode<'a, Postgres> + Type<Postgres>,
{
    fn add_rows(&self, args: &mut PgArguments, r: Range<usize>) -> Result<(), BoxDynError> {
        args.add(&self[r])
    }
}

/// Runs `sql` on rows `r` of `columns`: `$1` is the first column's array, `$2` the
/// second's, and so on.
pub(crate) async fn execute(
    conn: &mut PgConnection,
    sql: &'static str,
    columns: &[&dyn Column],
    r: Range<usize>,
) -> Result<PgQueryResult, sqlx::Error> {
    let mut args = PgArguments::default();
    for c in columns {
        c.add_rows(&mut args, r.clone())
            .map_err(sqlx::Error::Encode)?;
    }
    sqlx::query_with(sql, args).execute(conn).await
}

/// The rows `0..total` in chunks of at most `size` rows.
pub(crate) fn chunks(total: usize, size: usize) -> impl Iterator<Item = Range<usize>> {
    (0..total)
        .step_by(size)
        .map(move |start| start..(start + size).min(total))
}
