//! What the Monitoring API remembers of its calls besides their items: which visitor a
//! consumer identity (`identities[].sub` or `consumerId`) belongs to, so that a later call
//! that names the same identity and no visitor finds the same one; and which engagement
//! contexts the `engagement` call exposed to a session, the only ones an impression may
//! name.
//!
//! Not on the ingest write path: a row is written once per new identity or exposure, by
//! the occasional-writer connection the admin writes use, so the keys need not be
//! time-ordered. Each key leads with the account.

use rusqlite::{params, Connection, OptionalExtension};

use super::{read_u64, sql_err, SqlU64, SqliteStore};
use crate::{Exposure, StoreError};

/// Schema version 5.
pub(super) const MIGRATION: &str = "
CREATE TABLE consumer_identities (
    account    TEXT NOT NULL,
    identity   TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, identity)
) WITHOUT ROWID;
CREATE TABLE exposures (
    account       TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    context_id    TEXT NOT NULL,
    campaign_id   NOT NULL, -- no affinity: SqlU64 writes text above i64::MAX
    engagement_id NOT NULL,
    shown_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, session_id, context_id)
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

impl SqliteStore {
    pub(super) async fn record_exposures_impl(
        &self,
        account_id: &str,
        session_id: &str,
        exposures: &[Exposure],
    ) -> Result<(), StoreError> {
        if exposures.is_empty() {
            return Ok(());
        }
        let (a, s, list) = (
            account_id.to_owned(),
            session_id.to_owned(),
            exposures.to_vec(),
        );
        let now = crate::ids::now_ms();
        self.campaign_write(move |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO exposures
                     (account, session_id, context_id, campaign_id, engagement_id, shown_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_err)?;
            for e in &list {
                insert
                    .execute(params![
                        a,
                        s,
                        e.context_id,
                        SqlU64(e.campaign_id),
                        SqlU64(e.engagement_id),
                        now
                    ])
                    .map_err(sql_err)?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn exposure_impl(
        &self,
        account_id: &str,
        session_id: &str,
        context_id: &str,
    ) -> Result<Option<Exposure>, StoreError> {
        let (a, s, c) = (
            account_id.to_owned(),
            session_id.to_owned(),
            context_id.to_owned(),
        );
        self.readers
            .run(move |conn| {
                conn.prepare_cached(
                    "SELECT context_id, campaign_id, engagement_id FROM exposures
                     WHERE account = ?1 AND session_id = ?2 AND context_id = ?3",
                )
                .and_then(|mut st| st.query_row([&a, &s, &c], exposure_row).optional())
                .map_err(sql_err)
            })
            .await
    }

    pub(super) async fn latest_exposure_impl(
        &self,
        account_id: &str,
        session_id: &str,
        campaign_id: u64,
        engagement_id: u64,
    ) -> Result<Option<Exposure>, StoreError> {
        let (a, s) = (account_id.to_owned(), session_id.to_owned());
        self.readers
            .run(move |conn| {
                conn.prepare_cached(
                    "SELECT context_id, campaign_id, engagement_id FROM exposures
                     WHERE account = ?1 AND session_id = ?2 AND campaign_id = ?3
                       AND engagement_id = ?4
                     ORDER BY shown_ms DESC, context_id DESC LIMIT 1",
                )
                .and_then(|mut st| {
                    st.query_row(
                        params![a, s, SqlU64(campaign_id), SqlU64(engagement_id)],
                        exposure_row,
                    )
                    .optional()
                })
                .map_err(sql_err)
            })
            .await
    }
}

fn exposure_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Exposure> {
    let id = |i: usize| -> rusqlite::Result<u64> {
        read_u64(r.get_ref(i)?).ok_or(rusqlite::Error::InvalidColumnType(
            i,
            "id".into(),
            rusqlite::types::Type::Null,
        ))
    };
    Ok(Exposure {
        context_id: r.get(0)?,
        campaign_id: id(1)?,
        engagement_id: id(2)?,
    })
}
