//! Geometry work on `geo` types: validation of shapes, partition checks, the in-process
//! R-tree index, the walking network and accessibility, vector tiles, tracks and coordinate
//! systems, metric helpers. No SQL and no HTTP here.

pub mod assign;
pub mod coords;
pub mod cql2;
pub mod geodesy;
pub mod index;
pub mod isochrone;
pub mod network;
pub mod ogc_crs;
pub mod osm;
pub mod search;
pub mod shape;
pub mod siting;
pub mod tiles;
pub mod topology;
pub mod track;
pub mod walk;
pub mod whatif;
