//! The conformance suite against the SQLite backend, plus what only `open` decides.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use engage_store::sqlite::SqliteStore;
use engage_store::{Store, StoreError};

async fn open_sqlite(dir: PathBuf) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&dir.join("data").join("engage.db"))
            .await
            .expect("opening the sqlite store"),
    )
}

engage_store::store_conformance_tests!(open_sqlite);

#[tokio::test]
async fn open_answers_unsupported_backend_for_unknown_schemes() {
    let result = engage_store::open("mysql://engage@localhost/engage").await;
    assert!(
        matches!(result, Err(StoreError::UnsupportedBackend(ref s)) if s == "mysql"),
        "{:?}",
        result.err()
    );
    assert!(matches!(
        engage_store::open("x").await,
        Err(StoreError::UnsupportedBackend(_))
    ));
    assert!(matches!(
        engage_store::open("sqlite://").await,
        Err(StoreError::InvalidLocation(_))
    ));
}

#[tokio::test]
async fn open_sqlite_url_creates_the_directory_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("deeper").join("engage.db");
    let store = engage_store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert!(path.exists());
    store.close().await.unwrap();
}
