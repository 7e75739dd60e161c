//! The store's integration tests: the conformance suite expanded once per backend.

#[cfg(feature = "postgres")]
mod postgres_conformance;
mod sqlite_conformance;
