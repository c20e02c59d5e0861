//! Geometry work on `geo` types: topology checks, R-tree index, walking network, tiles.

pub mod tiles;
