//! wangge (网格): a geospatial grid-management server for Chinese urban community
//! governance.
//!
//! Layering (dependencies point one way): `http` → `store`, `cache` → `spatial` →
//! `domain`. `domain` holds plain types and rules; `spatial` does geometry work on `geo`
//! types; `store` owns all SQL (and runs `spatial`'s checks on data it reads inside its
//! transactions); `cache` keeps the in-process index current; `http` holds thin handlers;
//! `import` reads import files above the store and hands it parsed rows.

pub mod auth;
pub mod cache;
pub mod config;
pub mod coverage;
pub mod demo;
#[warn(missing_docs)]
pub mod domain;
pub mod http;
pub mod import;
pub mod maptiles;
#[warn(missing_docs)]
pub mod spatial;
pub mod store;
pub mod work;
