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
    /// The key that seals OAuth secrets in the database, kept outside it (created,
    /// owner-only, when missing). Default: `secret.key` in --data. Servers that share a
    /// database must share this file.
    #[arg(long, env = "ENGAGE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

impl StorageArgs {
    pub fn url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("engage.db").display()),
        }
    }

    /// The secret key file (see `--secret-key-file`), read or created.
    pub fn secrets(&self) -> anyhow::Result<engage_server::secrets::SecretBox> {
        let path = self
            .secret_key_file
            .clone()
            .unwrap_or_else(|| self.data.join("secret.key"));
        Ok(engage_server::secrets::SecretBox::load_or_create(&path)?)
    }

    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.url();
        engage_store::open(&url)
            .await
            .with_context(|| format!("cannot open the store at {url}"))
    }
}
