//! All SQL: one file per aggregate; PostGIS in, domain and spatial types out.

pub mod network;
