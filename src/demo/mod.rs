//! Deterministic demo-district generator.
