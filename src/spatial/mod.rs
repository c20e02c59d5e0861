//! Geometry work on `geo` types: topology checks, R-tree index, walking network, tiles.

pub mod access;
pub mod isochrone;
pub mod network;
pub mod osm;
pub mod siting;
pub mod whatif;
