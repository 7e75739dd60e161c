//! Choosing a backend from a database URL.

use std::path::PathBuf;
use std::sync::Arc;

use crate::{sqlite::SqliteStore, Store, StoreError};

/// A parsed database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://PATH` (relative or absolute), the embedded default.
    Sqlite(PathBuf),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::InvalidLocation(
                    "sqlite:// needs a file path".into(),
                ));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split("://").next().unwrap_or(url);
        Err(StoreError::UnsupportedBackend(scheme.to_owned()))
    }
}

/// Opens (creating and migrating when needed) the store at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
    }
}
