//! Geometry work on `geo` types: validation of shapes, partition checks, the in-process
//! R-tree index, metric helpers. No SQL and no HTTP here.

pub mod assign;
pub mod geodesy;
pub mod index;
pub mod shape;
pub mod topology;
