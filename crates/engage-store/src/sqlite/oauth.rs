//! OAuth 1.0a keys (`oauth_keys`): admin writes, rare, on their own connection.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{sql_err, SqliteStore};
use crate::{OAuthKey, StoreError};

/// The `oauth_keys` table. Self-contained: it only refers to `accounts`.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE oauth_keys (
    account             TEXT NOT NULL REFERENCES accounts (id),
    app_key             TEXT NOT NULL,
    app_secret          TEXT NOT NULL,
    access_token        TEXT NOT NULL,
    access_token_secret TEXT NOT NULL,
    created_ms          INTEGER NOT NULL,
    PRIMARY KEY (account, app_key)
) WITHOUT ROWID;
CREATE INDEX oauth_keys_token ON oauth_keys (app_key, access_token);
"#;

/// The `oauth_nonces` table: the OAuth 1.0a nonces claimed and not yet expired, shared
/// by everything that opens the file. Keyed by account first, like every table.
pub(crate) const NONCES_MIGRATION: &str = r#"
CREATE TABLE oauth_nonces (
    account   TEXT NOT NULL,
    nonce_key TEXT NOT NULL,
    expires_s INTEGER NOT NULL,
    PRIMARY KEY (account, nonce_key)
) WITHOUT ROWID;
CREATE INDEX oauth_nonces_expiry ON oauth_nonces (expires_s);
"#;

/// Claims a nonce (see `Store::claim_nonce`): expired claims of every account are
/// pruned first (the expiry index makes that one short range delete), so a key still
/// present is a replay.
pub(super) fn claim_nonce(
    tx: &rusqlite::Transaction<'_>,
    account: &str,
    nonce_key: &str,
    expires_s: i64,
    now_s: i64,
) -> Result<bool, StoreError> {
    tx.prepare_cached("DELETE FROM oauth_nonces WHERE expires_s <= ?1")
        .and_then(|mut s| s.execute([now_s]))
        .map_err(sql_err)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO oauth_nonces (account, nonce_key, expires_s) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, nonce_key) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![account, nonce_key, expires_s]))
        .map_err(sql_err)?;
    Ok(inserted == 1)
}

const COLUMNS: &str = "account, app_key, app_secret, access_token, access_token_secret, created_ms";

fn key_of(row: &Row<'_>) -> rusqlite::Result<OAuthKey> {
    Ok(OAuthKey {
        account: row.get(0)?,
        app_key: row.get(1)?,
        app_secret: row.get(2)?,
        access_token: row.get(3)?,
        access_token_secret: row.get(4)?,
        created_ms: row.get(5)?,
    })
}

fn select(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<OAuthKey>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
    let rows = stmt.query_map(args, key_of).map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
}

impl SqliteStore {
    pub(super) async fn insert_oauth_key(&self, key: OAuthKey) -> Result<OAuthKey, StoreError> {
        let account_id = key.account.clone();
        self.admin_write(&account_id, move |tx| {
            let known = tx
                .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
                .and_then(|mut s| s.exists([&key.account]))
                .map_err(sql_err)?;
            if !known {
                return Err(StoreError::UnknownAccount(key.account));
            }
            let taken = tx
                .query_row(
                    "SELECT 1 FROM oauth_keys WHERE account = ?1 AND app_key = ?2",
                    params![key.account, key.app_key],
                    |_| Ok(()),
                )
                .optional()
                .map_err(sql_err)?;
            if taken.is_some() {
                return Err(StoreError::Conflict(
                    "the account has a key with this app key".into(),
                ));
            }
            tx.execute(
                &format!("INSERT INTO oauth_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    key.account,
                    key.app_key,
                    key.app_secret,
                    key.access_token,
                    key.access_token_secret,
                    key.created_ms
                ],
            )
            .map_err(sql_err)?;
            Ok(key)
        })
        .await
    }

    pub(super) async fn select_oauth_keys_by_token(
        &self,
        app_key: &str,
        access_token: &str,
    ) -> Result<Vec<OAuthKey>, StoreError> {
        let (app_key, token) = (app_key.to_owned(), access_token.to_owned());
        self.readers
            .run(move |conn| {
                select(
                    conn,
                    &format!(
                        "SELECT {COLUMNS} FROM oauth_keys
                         WHERE app_key = ?1 AND access_token = ?2 LIMIT 8"
                    ),
                    params![app_key, token],
                )
            })
            .await
    }

    pub(super) async fn select_oauth_keys(
        &self,
        account_id: &str,
    ) -> Result<Vec<OAuthKey>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| {
                select(
                    conn,
                    &format!(
                        "SELECT {COLUMNS} FROM oauth_keys WHERE account = ?1
                         ORDER BY created_ms, app_key"
                    ),
                    params![account],
                )
            })
            .await
    }

    pub(super) async fn delete_oauth_key(
        &self,
        account_id: &str,
        app_key: &str,
    ) -> Result<bool, StoreError> {
        let (account, app_key) = (account_id.to_owned(), app_key.to_owned());
        self.admin_write(account_id, move |tx| {
            let deleted = tx
                .execute(
                    "DELETE FROM oauth_keys WHERE account = ?1 AND app_key = ?2",
                    params![account, app_key],
                )
                .map_err(sql_err)?;
            Ok(deleted > 0)
        })
        .await
    }
}
