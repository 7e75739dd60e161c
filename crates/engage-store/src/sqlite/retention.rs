//! Retention: each account's data older than its setting removed in small steps through
//! the writer, so a sweep never holds the write lock for long.
//!
//! A visit expires whole once its last activity is older than the account's horizon:
//! its page views, interactions, events, attributes and exposures go with it (the
//! erasure's [`erase_visits`], leaving the text index's markers to FTS5's own merges).
//! Quarantined inputs expire by their receive time, and a consumer identity once it is
//! older than the horizon and its visitor has no visit left. The results rollups' rows
//! expire by their own times (`analytics::ROLLUP_EXPIRY`).

use rusqlite::{params, Connection, OptionalExtension};

use super::erasure::{erase_visits, TextIndex};
use super::sql_err;
use crate::analytics::{rollup_table, ROLLUP_EXPIRY};
use crate::{retention_horizon_ms, ErasureCounts, RetentionStep, StoreError};

/// One sweep step: at most `max_visits` visits (and as many quarantine rows) over every
/// account that has a retention setting.
pub(crate) fn sweep(
    conn: &Connection,
    now_ms: i64,
    max_visits: usize,
) -> rusqlite::Result<RetentionStep> {
    let settings: Vec<(String, u32)> = conn
        .prepare_cached("SELECT account, days FROM retention ORDER BY account")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = ErasureCounts::default();
    let mut left = max_visits;
    let mut more = false;
    for (account, days) in settings {
        if left == 0 {
            more = true;
            break;
        }
        let horizon = retention_horizon_ms(now_ms, days);
        let batch = i64::try_from(max_visits).unwrap_or(i64::MAX);
        let limit = i64::try_from(left + 1).unwrap_or(i64::MAX);
        let mut visits: Vec<(i64, String)> = conn
            .prepare_cached(
                "SELECT v.id, v.session_id FROM visits v JOIN visit_heads h ON h.visit_id = v.id
                 WHERE v.account = ?1 AND h.last_seen_ms < ?2 ORDER BY v.id LIMIT ?3",
            )?
            .query_map(params![account, horizon, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if visits.len() > left {
            visits.truncate(left);
            more = true;
        }
        left -= visits.len();
        erase_visits(conn, &account, &visits, &mut removed, TextIndex::Leave)?;

        let quarantined = conn
            .prepare_cached(
                "DELETE FROM quarantine WHERE id IN (
                     SELECT id FROM quarantine WHERE account = ?1 AND received_ms < ?2
                     ORDER BY id LIMIT ?3)",
            )?
            .execute(params![account, horizon, batch])?;
        if quarantined >= max_visits {
            more = true;
        }
        removed.quarantined += quarantined as u64;
        removed.identities += conn
            .prepare_cached(
                "DELETE FROM consumer_identities
                 WHERE account = ?1 AND created_ms < ?2
                   AND NOT EXISTS (SELECT 1 FROM visits v
                                   WHERE v.account = ?1 AND v.visitor_id = consumer_identities.visitor_id)",
            )?
            .execute(params![account, horizon])? as u64;
        let (rollups, rollups_more) = expire_rollups(conn, &account, horizon, batch)?;
        if rollups > 0 {
            super::analytics::bump_generation(conn, &account)?;
        }
        removed.rollups += rollups;
        more |= rollups_more;
    }
    Ok(RetentionStep { removed, more })
}

/// Removes at most `limit` expired rows of each rollup, people's and bots' (see
/// [`ROLLUP_EXPIRY`]); answers how many, and whether some table had more.
fn expire_rollups(
    conn: &Connection,
    account: &str,
    horizon: i64,
    limit: i64,
) -> rusqlite::Result<(u64, bool)> {
    let mut removed = 0;
    let mut more = false;
    for (table, key, expired) in ROLLUP_EXPIRY {
        for bot in [false, true] {
            let table = rollup_table(table, bot);
            let expired = expired.replace("HORIZON", "?2");
            let n = conn
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE account = ?1 AND ({key}) IN (
                         SELECT {key} FROM {table} WHERE account = ?1 AND {expired} LIMIT ?3)"
                ))?
                .execute(params![account, horizon, limit])?;
            more |= i64::try_from(n).unwrap_or(i64::MAX) >= limit;
            removed += n as u64;
        }
    }
    Ok((removed, more))
}

/// The account's retention in days, `None` for keeping everything.
pub(crate) fn get(conn: &Connection, account: &str) -> Result<Option<u32>, StoreError> {
    conn.prepare_cached("SELECT days FROM retention WHERE account = ?1")
        .and_then(|mut s| s.query_row([account], |r| r.get(0)).optional())
        .map_err(sql_err)
}

/// Sets (or with `None` removes) the account's retention; `UnknownAccount` for none.
pub(crate) fn set(conn: &Connection, account: &str, days: Option<u32>) -> Result<(), StoreError> {
    let known = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.exists([account]))
        .map_err(sql_err)?;
    if !known {
        return Err(StoreError::UnknownAccount(account.to_owned()));
    }
    match days {
        Some(days) => conn.execute(
            "INSERT INTO retention (account, days) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET days = excluded.days",
            params![account, days],
        ),
        None => conn.execute("DELETE FROM retention WHERE account = ?1", [account]),
    }
    .map_err(sql_err)?;
    Ok(())
}
