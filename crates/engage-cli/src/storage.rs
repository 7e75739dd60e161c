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
    /// Database URL: `sqlite://PATH`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
    /// (or `postgresql://`) to share one PostgreSQL database between servers; overrides
    /// --data.
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

    /// [`StorageArgs::url`] for logs and messages: without a password.
    pub fn display_url(&self) -> String {
        redact_password(&self.url())
    }

    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        engage_store::open(&self.url())
            .await
            .with_context(|| format!("cannot open the store at {}", self.display_url()))
    }
}

/// `scheme://user:password@host...` with the password replaced by `***`.
pub fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_left_out_of_urls_shown() {
        assert_eq!(
            redact_password("postgres://engage:s3cr3t@db:5432/engage?sslmode=disable"),
            "postgres://engage:***@db:5432/engage?sslmode=disable"
        );
        assert_eq!(
            redact_password("postgresql://engage@db/engage"),
            "postgresql://engage@db/engage"
        );
        assert_eq!(
            redact_password("sqlite://./a@b:c/engage.db"),
            "sqlite://./a@b:c/engage.db"
        );
        assert_eq!(redact_password("postgres://db/x"), "postgres://db/x");
    }
}
