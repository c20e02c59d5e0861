//! wangge: a geospatial grid-management server for Chinese urban community governance.
//!
//! Layering (dependencies point one way): `http` → `store`, `spatial` → `domain`.
//! `domain` holds plain types and rules; `spatial` does geometry work on `geo` types;
//! `store` owns all SQL; `http` holds thin handlers.

pub mod demo;
pub mod domain;
pub mod spatial;
pub mod store;
