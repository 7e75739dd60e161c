//! The store's integration tests: the conformance suite expanded once per backend.

mod postgres_conformance;
mod sqlite_conformance;
