//! Consumer identities: which visitor a Monitoring API consumer (`identities[].sub` or
//! `consumerId`) belongs to, so that a later call that names the same identity and no
//! visitor finds the same one.
//!
//! Not on the ingest write path: a row is written once per new identity, by the
//! occasional-writer connection the admin writes use, so the key need not be
//! time-ordered. The key leads with the account: an identity belongs to its account.

use rusqlite::{params, Connection, OptionalExtension};

use super::{sql_err, SqliteStore};
use crate::StoreError;

/// Schema version 5.
pub(super) const MIGRATION: &str = "
CREATE TABLE consumer_identities (
    account    TEXT NOT NULL,
    identity   TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, identity)
) WITHOUT ROWID;
";

fn find(conn: &Connection, account: &str, identity: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "SELECT visitor_id FROM consumer_identities WHERE account = ?1 AND identity = ?2",
    )
    .and_then(|mut s| s.query_row([account, identity], |r| r.get(0)).optional())
    .map_err(sql_err)
}

impl SqliteStore {
    pub(super) async fn identity_visitor_impl(
        &self,
        account_id: &str,
        identity: &str,
    ) -> Result<Option<String>, StoreError> {
        let (a, i) = (account_id.to_owned(), identity.to_owned());
        self.readers.run(move |conn| find(conn, &a, &i)).await
    }

    pub(super) async fn link_identity_impl(
        &self,
        account_id: &str,
        identity: &str,
        visitor_id: &str,
    ) -> Result<String, StoreError> {
        let (a, i, v) = (
            account_id.to_owned(),
            identity.to_owned(),
            visitor_id.to_owned(),
        );
        self.campaign_write(move |tx| {
            // The first visitor linked keeps the identity.
            tx.execute(
                "INSERT OR IGNORE INTO consumer_identities (account, identity, visitor_id, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![a, i, v, crate::ids::now_ms()],
            )
            .map_err(sql_err)?;
            find(tx, &a, &i)?.ok_or_else(|| StoreError::Backend("identity link lost".into()))
        })
        .await
    }
}
