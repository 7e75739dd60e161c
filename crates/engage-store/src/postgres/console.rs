//! Console sessions (`console_sessions`, schema version 7): one table every server reads,
//! so a session signed in on one server is known on all and a sign-out ends it on all.

use tokio_postgres::Client;

use super::pg_err;
use crate::{ConsoleSession, StoreError, MAX_CONSOLE_SESSIONS_PER_ACCOUNT};

/// Prunes the expired sessions, stores the new one and ends the account's oldest past
/// the cap, in one transaction.
pub(crate) async fn create(
    client: &mut Client,
    session: &ConsoleSession,
) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    let known = tx
        .query_opt(
            "SELECT 1 FROM accounts WHERE account = $1",
            &[&session.account],
        )
        .await
        .map_err(pg_err)?;
    if known.is_none() {
        return Err(StoreError::UnknownAccount(session.account.clone()));
    }
    tx.execute(
        "DELETE FROM console_sessions WHERE expires_ms <= $1",
        &[&session.created_ms],
    )
    .await
    .map_err(pg_err)?;
    tx.execute(
        "INSERT INTO console_sessions (account, token_hash, csrf_token, created_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &session.account,
            &session.token_hash,
            &session.csrf_token,
            &session.created_ms,
            &session.expires_ms,
        ],
    )
    .await
    .map_err(pg_err)?;
    let keep = MAX_CONSOLE_SESSIONS_PER_ACCOUNT as i64;
    tx.execute(
        "DELETE FROM console_sessions WHERE account = $1 AND token_hash NOT IN (
             SELECT token_hash FROM console_sessions WHERE account = $1
             ORDER BY created_ms DESC, token_hash = $2 DESC LIMIT $3)",
        &[&session.account, &session.token_hash, &keep],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)
}

pub(crate) async fn get(
    client: &Client,
    account: &str,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<ConsoleSession>, StoreError> {
    let row = client
        .query_opt(
            "SELECT account, token_hash, csrf_token, created_ms, expires_ms
             FROM console_sessions
             WHERE account = $1 AND token_hash = $2 AND expires_ms > $3",
            &[&account, &token_hash, &now_ms],
        )
        .await
        .map_err(pg_err)?;
    row.map(|row| {
        Ok(ConsoleSession {
            account: row.try_get(0).map_err(pg_err)?,
            token_hash: row.try_get(1).map_err(pg_err)?,
            csrf_token: row.try_get(2).map_err(pg_err)?,
            created_ms: row.try_get(3).map_err(pg_err)?,
            expires_ms: row.try_get(4).map_err(pg_err)?,
        })
    })
    .transpose()
}

pub(crate) async fn end(
    client: &Client,
    account: &str,
    token_hash: &str,
) -> Result<bool, StoreError> {
    let deleted = client
        .execute(
            "DELETE FROM console_sessions WHERE account = $1 AND token_hash = $2",
            &[&account, &token_hash],
        )
        .await
        .map_err(pg_err)?;
    Ok(deleted > 0)
}
