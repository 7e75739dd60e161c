//! Where the data lives: `--data DIR` (a SQLite file inside) or `--database URL`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use engage_store::Store;

#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Directory for the embedded database.
    #[arg(long, env = "ENGAGE_DATA", default_value = "./engage-data")]
    pub data: PathBuf,
    /// Database URL (`sqlite://PATH`); overrides --data.
    #[arg(long, env = "ENGAGE_DATABASE_URL")]
    pub database: Option<String>,
}

impl StorageArgs {
    pub fn url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("engage.db").display()),
        }
    }

    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.url();
        engage_store::open(&url)
            .await
            .with_context(|| format!("cannot open the store at {url}"))
    }
}
