//! Geometry work on `geo` types: validation of shapes, partition checks, the in-process
//! R-tree index, vector tiles, metric helpers. No SQL and no HTTP here.

pub mod coords;
pub mod geodesy;
pub mod index;
pub mod shape;
pub mod tiles;
pub mod topology;
pub mod track;
