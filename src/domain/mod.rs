//! Plain domain types and the rules on them: the grid hierarchy, codes, station kinds,
//! party membership. No HTTP, no SQL, no geometry algorithms (those are in `spatial`).

pub mod access;
pub mod assess;
pub mod hierarchy;
pub mod incident_month;
pub mod party;
pub mod patrol;
pub mod registry;
pub mod stations;

pub use hierarchy::{CompoundKind, GridLevel, Membership, RegionKind};
pub use stations::StationKind;

/// A rule broken by a value a client sent: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Where the bad value is, as a dotted path (`properties.code`).
    pub field: String,
    /// What is wrong with it, in plain words.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
