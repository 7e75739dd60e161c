//! Console sessions (`console_sessions`): written on the admin writes' connection (a
//! sign-in is rare), read from the read pool (every console page reads one).

use rusqlite::{params, OptionalExtension};

use super::{sql_err, SqliteStore};
use crate::{ConsoleSession, StoreError, MAX_CONSOLE_SESSIONS_PER_ACCOUNT};

/// The `console_sessions` table, keyed by account first like every table. The expiry
/// index makes pruning one short range delete.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE console_sessions (
    account     TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    csrf_token  TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (account, token_hash)
) WITHOUT ROWID;
CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);
CREATE INDEX console_sessions_age ON console_sessions (account, created_ms);
"#;

impl SqliteStore {
    pub(super) async fn insert_console_session(
        &self,
        session: ConsoleSession,
    ) -> Result<(), StoreError> {
        self.campaign_write(move |tx| {
            let known = tx
                .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
                .and_then(|mut s| s.exists([&session.account]))
                .map_err(sql_err)?;
            if !known {
                return Err(StoreError::UnknownAccount(session.account));
            }
            tx.execute(
                "DELETE FROM console_sessions WHERE expires_ms <= ?1",
                [session.created_ms],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO console_sessions
                     (account, token_hash, csrf_token, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    session.account,
                    session.token_hash,
                    session.csrf_token,
                    session.created_ms,
                    session.expires_ms
                ],
            )
            .map_err(sql_err)?;
            // The newest sessions stay; ties on the time keep the one just made.
            tx.execute(
                "DELETE FROM console_sessions WHERE account = ?1 AND token_hash NOT IN (
                     SELECT token_hash FROM console_sessions WHERE account = ?1
                     ORDER BY created_ms DESC, token_hash = ?2 DESC LIMIT ?3)",
                params![
                    session.account,
                    session.token_hash,
                    MAX_CONSOLE_SESSIONS_PER_ACCOUNT as i64
                ],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn select_console_session(
        &self,
        account_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let (account, hash) = (account_id.to_owned(), token_hash.to_owned());
        self.readers
            .run(move |conn| {
                conn.prepare_cached(
                    "SELECT account, token_hash, csrf_token, created_ms, expires_ms
                     FROM console_sessions
                     WHERE account = ?1 AND token_hash = ?2 AND expires_ms > ?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![account, hash, now_ms], |row| {
                        Ok(ConsoleSession {
                            account: row.get(0)?,
                            token_hash: row.get(1)?,
                            csrf_token: row.get(2)?,
                            created_ms: row.get(3)?,
                            expires_ms: row.get(4)?,
                        })
                    })
                    .optional()
                })
                .map_err(sql_err)
            })
            .await
    }

    pub(super) async fn delete_console_session(
        &self,
        account_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let (account, hash) = (account_id.to_owned(), token_hash.to_owned());
        self.campaign_write(move |tx| {
            let deleted = tx
                .execute(
                    "DELETE FROM console_sessions WHERE account = ?1 AND token_hash = ?2",
                    params![account, hash],
                )
                .map_err(sql_err)?;
            Ok(deleted > 0)
        })
        .await
    }
}
