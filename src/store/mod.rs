//! All SQL lives here: PostGIS in, domain and `geo` types out. One file per aggregate.
//! Queries bind every value as a parameter; geometry crosses as WKB.
//!
//! Must not: know about HTTP, or decide who may see what (callers pass a scope filter).

pub mod accounts;
pub mod audit;
pub mod changes;
pub mod grids;
pub mod import;
pub mod incidents;
pub mod layers;
pub mod network;
pub mod party;
pub mod patrols;
pub mod people;
pub mod wkb;

use crate::domain::FieldError;
use crate::spatial::shape::ShapeError;
use crate::spatial::topology::Fault;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// The database behind wangge.
#[derive(Clone, Debug)]
pub struct Store {
    /// The connection pool.
    pub pool: PgPool,
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
    /// PostgreSQL failed.
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
        self.map_err(|source| StoreError::Db { what, source })
    }
}

impl<T> DbContext<T> for Result<T, wkb::WkbError> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Wkb { what, source })
    }
}

impl Store {
    /// Connects to `url` with a pool of `max` connections.
    pub async fn connect(url: &str, max: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .ctx("connecting")?;
        Ok(Self { pool })
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
