//! The direct-ingest ceiling, measured by hand:
//! `cargo test --release -p engage-store --test bench_ingest -- --ignored --nocapture`.
//! `ENGAGE_BENCH_SECS` and `ENGAGE_BENCH_CONCURRENCY` override the defaults.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use engage_store::bench::{ingest_ceiling, IngestLoad};
use engage_store::sqlite::SqliteStore;
use engage_store::Store;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand in release mode"]
async fn direct_ingest_ceiling() {
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("engage.db"))
            .await
            .unwrap(),
    );
    let mut load = IngestLoad::default();
    if let Some(secs) = env("ENGAGE_BENCH_SECS") {
        load.duration = Duration::from_secs(secs);
    }
    if let Some(c) = env("ENGAGE_BENCH_CONCURRENCY") {
        load.concurrency = c as usize;
    }
    let report = ingest_ceiling(Arc::clone(&store), load).await.unwrap();
    println!("{load:?}\n{}", serde_json::to_string(&report).unwrap());
    store.close().await.unwrap();
    let size = std::fs::metadata(dir.path().join("engage.db"))
        .unwrap()
        .len();
    println!("database file: {} MB", size / 1_000_000);
}
