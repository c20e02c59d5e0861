//! All SQL lives here: PostGIS in, domain and `geo` types out. One file per aggregate.
//! Queries bind every value as a parameter; geometry crosses as WKB.
//!
//! Must not: know about HTTP, or decide who may see what (callers pass a scope filter).

pub mod accounts;
pub mod assess;
pub mod audit;
pub mod buildings;
pub(crate) mod bulk;
pub mod changes;
pub mod grids;
pub mod import;
pub mod incident_month;
pub mod incidents;
pub mod layers;
pub mod network;
pub mod party;
pub mod patrols;
pub mod people;
pub mod seats;
pub mod wkb;
pub(crate) mod write;

use crate::domain::FieldError;
use crate::spatial::shape::ShapeError;
use crate::spatial::topology::Fault;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a connection is waited for by [`Store::connect`] (the command-line tools and
/// tests; the server sets its own, `WANGGE_POOL_ACQUIRE_TIMEOUT`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the database counts as down after a failure was last seen: meanwhile requests
/// that can do without it (a known session) do not wait for it.
const DOWN_FOR: Duration = Duration::from_secs(10);

/// The database behind wangge.
#[derive(Clone, Debug)]
pub struct Store {
    /// The connection pool.
    pub pool: PgPool,
    /// Whether the database answered lately.
    pub health: Arc<DbHealth>,
}

/// Whether the database is reachable, as last seen by anyone who used it: a failure to
/// reach it marks it down for [`DOWN_FOR`] (renewed by each further failure), a success
/// marks it up at once.
#[derive(Debug)]
pub struct DbHealth {
    origin: Instant,
    /// Milliseconds after `origin` until which the database counts as down (0: up).
    down_until_ms: AtomicU64,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            down_until_ms: AtomicU64::new(0),
        }
    }
}

impl DbHealth {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Records that the database could not be reached.
    pub fn mark_down(&self) {
        let until = self.now_ms() + DOWN_FOR.as_millis() as u64;
        self.down_until_ms.store(until.max(1), Ordering::Release);
    }

    /// Records that the database answered.
    pub fn mark_up(&self) {
        self.down_until_ms.store(0, Ordering::Release);
    }

    /// Whether the database was seen unreachable lately and not seen answering since.
    pub fn is_down(&self) -> bool {
        self.now_ms() < self.down_until_ms.load(Ordering::Acquire)
    }
}

/// A fault in the partition of one parent, for the error body.
#[derive(Debug, Clone)]
pub struct ParentFault {
    /// Code of the community or first-level grid whose children do not partition it.
    pub parent_code: String,
    /// Codes of the children, in the order the fault's indexes refer to.
    pub child_codes: Vec<String>,
    /// The gap, overlap or overhang.
    pub fault: Fault,
}

/// Everything that can go wrong in the store, each variant a distinct answer to the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (or not at the date asked).
    #[error("{0} not found")]
    NotFound(String),
    /// The write conflicts with what is stored (a code already used, a grid still with children).
    #[error("{0}")]
    Conflict(String),
    /// The client's version of a grid is not the current one.
    #[error("grid {code} is at version {current}, not {given}")]
    StaleVersion {
        /// The grid's code.
        code: String,
        /// The current version.
        current: i32,
        /// The version the client based its change on.
        given: i32,
    },
    /// A field of the input breaks a rule.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// A geometry in the input is not acceptable.
    #[error("feature {index}: {error}")]
    Shape {
        /// Which item of the request (0-based), if there are several.
        index: usize,
        /// What is wrong with it.
        error: ShapeError,
    },
    /// Grids would not partition their parents.
    #[error("the change leaves gaps or overlaps between grids")]
    Partition {
        /// Tolerance in m² that was exceeded.
        tolerance_m2: f64,
        /// Every fault found.
        faults: Vec<ParentFault>,
    },
    /// Buildings would lie outside every second-level grid.
    #[error("{} building(s) would lie outside every second-level grid", .codes.len())]
    Orphans {
        /// Codes of the buildings (at most 100).
        codes: Vec<String>,
    },
    /// Several input items are bad (an import): each with its index and reason.
    #[error("{} item(s) of the input are invalid", .0.len())]
    Items(Vec<(usize, String)>),
    /// PostgreSQL could not be reached, gave no connection in time, or is shutting down or
    /// starting (SQLSTATE classes 08 and 57P01-57P03): the request may succeed later.
    #[error("database unavailable while {what}: {source}")]
    Unavailable {
        /// What wangge was doing.
        what: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// PostgreSQL refused a value of the request (class 22: out of range, malformed text).
    #[error("value refused while {what}: {source}")]
    RefusedValue {
        /// What wangge was doing.
        what: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The write breaks a constraint of the schema (class 23) that no earlier check named.
    #[error("constraint broken while {what}: {source}")]
    Constraint {
        /// What wangge was doing.
        what: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// PostgreSQL failed otherwise.
    #[error("database error while {what}: {source}")]
    Db {
        /// What wangge was doing.
        what: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Geometry work of the change (a partition check) did not run to its end: every
    /// worker stayed busy, or it took longer than its budget.
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
    /// PostGIS returned geometry wangge cannot read.
    #[error("unreadable geometry while {what}: {source}")]
    Wkb {
        /// What wangge was reading.
        what: &'static str,
        /// The decoder's error.
        source: wkb::WkbError,
    },
}

/// Adds "while ..." context to a sqlx result.
pub(crate) trait DbContext<T> {
    /// Wraps the error with what the store was doing.
    fn ctx(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, sqlx::Error> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::db(what, source))
    }
}

impl<T> DbContext<T> for Result<T, wkb::WkbError> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Wkb { what, source })
    }
}

impl StoreError {
    /// A driver's error while doing `what`, classed by what it means for the request: the
    /// database unavailable, a value refused, a constraint broken, or another failure.
    pub fn db(what: &'static str, source: sqlx::Error) -> Self {
        let code = match &source {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => "08000".to_string(),
            sqlx::Error::Database(d) => d.code().map(|c| c.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        match code.as_str() {
            // Connection exceptions; the server shutting down or not yet accepting connections.
            c if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03") => {
                Self::Unavailable { what, source }
            }
            c if c.starts_with("22") => Self::RefusedValue { what, source },
            c if c.starts_with("23") => Self::Constraint { what, source },
            _ => Self::Db { what, source },
        }
    }

    /// Whether the database could not be reached or gave no connection in time (rather
    /// than refusing the request): the request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Reads every row `query` finds through `ex` and collects each as `each` makes it
/// (`what` names the read in errors): the one place a list read is fetched and mapped.
pub(crate) async fn read_all<'q, 'c, R, T, C>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, R, sqlx::postgres::PgArguments>,
    ex: impl sqlx::Executor<'c, Database = sqlx::Postgres> + 'q,
    what: &'static str,
    each: impl FnMut(R) -> T,
) -> Result<C, StoreError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    C: FromIterator<T>,
{
    let rows = query.fetch_all(ex).await.ctx(what)?;
    Ok(rows.into_iter().map(each).collect())
}

impl Store {
    /// The one value that `sql`, a statement without parameters, reads (`what` names the
    /// read in errors).
    pub(crate) async fn scalar<T>(
        &self,
        sql: &'static str,
        what: &'static str,
    ) -> Result<T, StoreError>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        T: Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .ctx(what)
    }

    /// Connects to `url` with a pool of `max` connections.
    pub async fn connect(url: &str, max: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, max, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Connects with a pool of `max` connections whose users wait at most
    /// `acquire_timeout` for one.
    pub async fn connect_with(
        url: &str,
        max: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await
            .ctx("connecting")?;
        Ok(Self {
            pool,
            health: Arc::new(DbHealth::default()),
        })
    }

    /// Asks the database whether it answers, within `within`; records the answer.
    pub async fn ping(&self, within: Duration) -> bool {
        let ok = matches!(
            tokio::time::timeout(within, sqlx::query("SELECT 1").execute(&self.pool)).await,
            Ok(Ok(_))
        );
        if ok {
            self.health.mark_up();
        } else {
            self.health.mark_down();
        }
        ok
    }

    /// Applies the migrations in `migrations/` that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Db {
                what: "running migrations",
                source: e.into(),
            })
    }
}

#[cfg(test)]
mod error_tests {
    use super::StoreError;

    #[test]
    fn driver_errors_are_classed_by_what_they_mean_for_the_request() {
        assert!(StoreError::db("reading", sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::db("reading", sqlx::Error::PoolClosed).is_unavailable());
        let other = StoreError::db("reading", sqlx::Error::RowNotFound);
        assert!(matches!(other, StoreError::Db { .. }), "{other:?}");
        assert!(!other.is_unavailable());
    }
}
