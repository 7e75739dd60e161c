//! `engage account create`.

use engage_store::NewAccount;

use crate::storage::StorageArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an account; prints {"accountId": "...", "apiKey": "..."}. Keep the key:
    /// only its hash is stored.
    Create {
        /// A name for people to recognise the account by.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Create { name, storage } => crate::runtime()?.block_on(async move {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let store = storage.open().await?;
            let (api_key, api_key_hash) = engage_server::accounts::generate_api_key()
                .map_err(|e| anyhow::anyhow!("the system has no randomness for an api key: {e}"))?;
            let account = store
                .create_account(NewAccount { name, api_key_hash })
                .await?;
            store.close().await?;
            println!(
                "{}",
                serde_json::json!({"accountId": account.id, "apiKey": api_key})
            );
            Ok(())
        }),
    }
}
