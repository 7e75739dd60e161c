//! The store's integration tests: the conformance suite expanded once per backend, and
//! the results report against its brute-force oracle on both.

mod analytics_properties;
#[cfg(feature = "postgres")]
mod postgres_conformance;
mod sqlite_conformance;
