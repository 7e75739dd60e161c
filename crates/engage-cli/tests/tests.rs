//! The integration tests of the `engage` binary, as one test binary: one link instead of
//! one per file.
//!
//! Each file is a module; `server` runs the real binary (accounts, a server process,
//! events). A new test file is declared here.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server;

mod account_export;
mod backup;
mod bench_crash;
mod bench_history;
mod crash;
mod demo;
mod discovery;
mod erase;
mod full_disk;
mod migrate;
mod multi_server;
mod openapi;
mod postgres;
mod retention;
mod validate;
mod webhooks;
