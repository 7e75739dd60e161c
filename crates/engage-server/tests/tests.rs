//! The integration tests, as one test binary: one link instead of one per file.
//!
//! Each file is a module; `common` starts a real server on a loopback port and
//! `admin_support` calls its admin API. A new test file is declared here.
//!
//! The load measurement is `decision_load`, ignored by default:
//! `cargo test --release -p engage-server --test integration decision_load -- --ignored --nocapture`

// A history record written out whole in `json!` nests deeper than the default allows.
#![recursion_limit = "256"]
// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_support;
mod common;

mod action_results;
mod actions;
mod admin;
mod analytics;
mod assets;
mod bots;
mod collect;
mod collect_body_properties;
mod connections;
mod console;
mod console_figures;
mod decision;
mod decision_load;
mod discovery;
mod fact_cache;
mod history;
mod hostile_targeting;
mod monitoring;
mod oauth;
mod openapi;
mod openapi_admin;
mod origins;
mod privacy;
mod quarantine;
mod rate_limits;
mod retention;
mod route_security;
mod webhooks;
