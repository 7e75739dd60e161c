//! Choosing a backend from a database URL.

use std::path::PathBuf;
use std::sync::Arc;

use crate::{sqlite::SqliteStore, Store, StoreError};

/// A parsed database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://PATH` (relative or absolute), the embedded default.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, as libpq takes it.
    Postgres(String),
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
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        let scheme = url.split("://").next().unwrap_or(url);
        Err(StoreError::UnsupportedBackend(scheme.to_owned()))
    }
}

/// Opens (creating and migrating when needed) the store at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres(url) => Ok(Arc::new(crate::postgres::PostgresStore::open(&url).await?)),
        #[cfg(not(feature = "postgres"))]
        StoreUrl::Postgres(_) => Err(StoreError::UnsupportedBackend(
            "postgres (this build has no PostgreSQL backend: build engage-store with its \
             `postgres` feature)"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn postgres_and_postgresql_urls_name_the_postgres_backend() {
        for url in [
            "postgres://engage@db/engage",
            "postgresql://engage:secret@10.0.0.2:5433/engage?sslmode=disable",
        ] {
            assert_eq!(
                StoreUrl::parse(url).unwrap(),
                StoreUrl::Postgres(url.to_owned())
            );
        }
        assert!(matches!(
            StoreUrl::parse("postgre://x"),
            Err(StoreError::UnsupportedBackend(s)) if s == "postgre"
        ));
    }

    /// `cargo test -p engage-store --lib --no-default-features`.
    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn without_the_postgres_feature_a_postgres_url_is_an_unsupported_backend() {
        let error = open("postgres://engage@localhost/engage")
            .await
            .err()
            .unwrap();
        assert!(matches!(error, StoreError::UnsupportedBackend(_)));
        assert!(
            error.to_string().contains("no PostgreSQL backend"),
            "{error}"
        );
    }
}
