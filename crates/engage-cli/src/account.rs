//! `engage account create` and `engage account keys create|list|revoke`.

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
    /// Manage an account's OAuth 1.0a keys.
    #[command(subcommand)]
    Keys(Keys),
}

#[derive(Debug, clap::Subcommand)]
pub enum Keys {
    /// Create an OAuth 1.0a key; prints {"appKey", "appSecret", "accessToken",
    /// "accessTokenSecret"} on its last line.
    Create {
        #[arg(long)]
        account: String,
        /// An OAuth 1.0a (HMAC-SHA1) key, as LivePerson's API-key apps use. The only kind
        /// this command makes: an account's Bearer key comes from `account create`.
        #[arg(long)]
        oauth1: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List the account's OAuth 1.0a keys, one JSON object a line, without secrets.
    List {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Revoke (delete) one key: requests signed with it are refused at once.
    Revoke {
        #[arg(long)]
        account: String,
        #[arg(long)]
        app_key: String,
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
        Command::Keys(keys) => run_keys(keys),
    }
}

fn run_keys(command: Keys) -> anyhow::Result<()> {
    crate::runtime()?.block_on(async move {
        match command {
            Keys::Create {
                account,
                oauth1,
                storage,
            } => {
                anyhow::ensure!(
                    oauth1,
                    "say --oauth1: only OAuth 1.0a keys are made here (the Bearer key comes from `account create`)"
                );
                let key = engage_server::secrets::new_oauth_key(&account)
                    .map_err(|e| anyhow::anyhow!("the system has no randomness for a key: {e}"))?;
                let store = storage.open().await?;
                let sealed = storage.secrets()?.seal_oauth_key(&key)?;
                let created = store.create_oauth_key(sealed).await;
                store.close().await?;
                created?;
                println!(
                    "{}",
                    serde_json::json!({
                        "appKey": key.app_key,
                        "appSecret": key.app_secret,
                        "accessToken": key.access_token,
                        "accessTokenSecret": key.access_token_secret,
                    })
                );
            }
            Keys::List { account, storage } => {
                let store = storage.open().await?;
                let known = store.account(&account).await;
                let keys = store.oauth_keys(&account).await;
                store.close().await?;
                anyhow::ensure!(known?.is_some(), "unknown account `{account}`");
                for key in keys? {
                    println!(
                        "{}",
                        serde_json::json!({
                            "appKey": key.app_key,
                            "createdMs": key.created_ms,
                            // false: stored in clear by an earlier version; revoke it
                            // and create a new one.
                            "sealed": engage_server::secrets::is_sealed(&key.app_secret)
                                && engage_server::secrets::is_sealed(&key.access_token_secret),
                        })
                    );
                }
            }
            Keys::Revoke {
                account,
                app_key,
                storage,
            } => {
                let store = storage.open().await?;
                let revoked = store.revoke_oauth_key(&account, &app_key).await;
                store.close().await?;
                anyhow::ensure!(
                    revoked?,
                    "account `{account}` has no key with app key `{app_key}`"
                );
                println!("{}", serde_json::json!({"revoked": app_key}));
            }
        }
        Ok(())
    })
}
