//! The writes other than ingest that go through the writer thread: creating an account
//! and marking quarantine rows replayed.
//!
//! Unlike the admin writes in `campaigns`, these share the writer's transaction: an
//! account created here joins the writer's account cache once its group commits, and
//! the writer is the only one that writes the quarantine.
//!
//! Invariant: an API key belongs to one account; a taken key is refused before anything
//! is written, so the rest of the group goes on.

use rusqlite::{params, Connection};

use super::cache::WriterState;
use super::writer::Failure;
use crate::{Account, NewAccount, StoreError};

pub(crate) fn create_account(
    conn: &Connection,
    state: &mut WriterState,
    new: &NewAccount,
) -> Result<Account, Failure> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE api_key_hash = ?1")
        .and_then(|mut s| s.exists([&new.api_key_hash]))?;
    if taken {
        return Err(Failure::Refused(StoreError::Conflict(
            "an account with this API key exists".into(),
        )));
    }
    let created_ms = crate::ids::now_ms();
    let mut insert = conn.prepare_cached(
        "INSERT INTO accounts (id, name, api_key_hash, created_ms, allowed_origins)
             VALUES (?1, ?2, ?3, ?4, '[]') ON CONFLICT (id) DO NOTHING",
    )?;
    for _ in 0..64 {
        let id = crate::ids::account_id().map_err(|e| Failure::Refused(e.into()))?;
        let written = insert.execute(params![id, new.name, new.api_key_hash, created_ms])?;
        if written == 1 {
            state.new_accounts.push(id.clone());
            return Ok(Account {
                id,
                name: new.name.clone(),
                api_key_hash: new.api_key_hash.clone(),
                created_ms,
                allowed_origins: Vec::new(),
            });
        }
    }
    Err(Failure::Refused(StoreError::Backend(
        "no free account id after 64 tries".into(),
    )))
}

pub(crate) fn mark_replayed(
    conn: &Connection,
    account_id: &str,
    ids: &[i64],
    replayed_ms: i64,
) -> rusqlite::Result<()> {
    let mut update = conn
        .prepare_cached(
            "UPDATE quarantine SET replayed_ms = ?3 WHERE account = ?1 AND id = ?2 AND replayed_ms IS NULL",
        )
        ?;
    for id in ids {
        update.execute(params![account_id, id, replayed_ms])?;
    }
    Ok(())
}
