//! The integration tests, as one test binary: one link instead of one per file.
//!
//! Each file is a module; `common` holds what they share (fixtures, conversions, error
//! pointers). A new test file is declared here.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod errors;
mod events;
mod monitoring;
mod properties;
mod renames;
mod sde_fields;
mod seed_examples;
mod values_and_limits;
mod visit_rule;
