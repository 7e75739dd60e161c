//! OAuth 1.0a keys (`oauth_keys`): rare admin writes, one statement each.

use tokio_postgres::{Client, Row};

use super::pg_err;
use crate::{OAuthKey, StoreError};

const COLUMNS: &str = "account, app_key, app_secret, access_token, access_token_secret, created_ms";

fn key_of(row: &Row) -> Result<OAuthKey, StoreError> {
    Ok(OAuthKey {
        account: row.try_get(0).map_err(pg_err)?,
        app_key: row.try_get(1).map_err(pg_err)?,
        app_secret: row.try_get(2).map_err(pg_err)?,
        access_token: row.try_get(3).map_err(pg_err)?,
        access_token_secret: row.try_get(4).map_err(pg_err)?,
        created_ms: row.try_get(5).map_err(pg_err)?,
    })
}

pub(crate) async fn insert(client: &mut Client, key: OAuthKey) -> Result<OAuthKey, StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    let known = tx
        .query_opt("SELECT 1 FROM accounts WHERE account = $1", &[&key.account])
        .await
        .map_err(pg_err)?;
    if known.is_none() {
        return Err(StoreError::UnknownAccount(key.account));
    }
    let written = tx
        .execute(
            &format!(
                "INSERT INTO oauth_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (account, app_key) DO NOTHING"
            ),
            &[
                &key.account,
                &key.app_key,
                &key.app_secret,
                &key.access_token,
                &key.access_token_secret,
                &key.created_ms,
            ],
        )
        .await
        .map_err(pg_err)?;
    if written == 0 {
        return Err(StoreError::Conflict(
            "the account has a key with this app key".into(),
        ));
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(key)
}

pub(crate) async fn by_token(
    client: &Client,
    app_key: &str,
    access_token: &str,
) -> Result<Vec<OAuthKey>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM oauth_keys WHERE app_key = $1 AND access_token = $2 LIMIT 8"
            ),
            &[&app_key, &access_token],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(key_of)
        .collect()
}

pub(crate) async fn of_account(
    client: &Client,
    account: &str,
) -> Result<Vec<OAuthKey>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM oauth_keys WHERE account = $1
                 ORDER BY created_ms, app_key COLLATE \"C\""
            ),
            &[&account],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(key_of)
        .collect()
}

pub(crate) async fn delete(
    client: &Client,
    account: &str,
    app_key: &str,
) -> Result<bool, StoreError> {
    let deleted = client
        .execute(
            "DELETE FROM oauth_keys WHERE account = $1 AND app_key = $2",
            &[&account, &app_key],
        )
        .await
        .map_err(pg_err)?;
    Ok(deleted > 0)
}

/// Claims a nonce (see `Store::claim_nonce`). The upsert is the claim: it writes a new
/// key, or takes over an expired one, and answers a row only then; two servers claiming
/// the same key at once serialize on its row. Expired keys of the account are pruned
/// first.
pub(crate) async fn claim_nonce(
    client: &Client,
    account: &str,
    nonce_key: &str,
    expires_s: i64,
    now_s: i64,
) -> Result<bool, StoreError> {
    client
        .execute(
            "DELETE FROM oauth_nonces WHERE account = $1 AND expires_s <= $2",
            &[&account, &now_s],
        )
        .await
        .map_err(pg_err)?;
    let claimed = client
        .query_opt(
            "INSERT INTO oauth_nonces (account, nonce_key, expires_s) VALUES ($1, $2, $3)
             ON CONFLICT (account, nonce_key) DO UPDATE SET expires_s = EXCLUDED.expires_s
                 WHERE oauth_nonces.expires_s <= $4
             RETURNING 1",
            &[&account, &nonce_key, &expires_s, &now_s],
        )
        .await
        .map_err(pg_err)?;
    Ok(claimed.is_some())
}
