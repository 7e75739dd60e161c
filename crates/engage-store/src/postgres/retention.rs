//! Retention on PostgreSQL: whole monthly partitions dropped where every account's
//! setting lets them go, and row deletes in small transactions for the rest (the same
//! rule as SQLite's: a visit expires whole once its last activity is older than the
//! account's horizon; quarantined inputs by their receive time; identities once their
//! visitor has no visit left). The results rollups' rows expire by their own times
//! (`analytics::ROLLUP_EXPIRY`).

use tokio_postgres::Client;

use super::pg_err;
use super::privacy::delete_visits;
use super::schema::{month_start_ms, next_month, LOCK_KEY};
use crate::analytics::{rollup_table, ROLLUP_EXPIRY};
use crate::{retention_horizon_ms, ErasureCounts, RetentionStep, StoreError};

pub(crate) async fn get(client: &Client, account: &str) -> Result<Option<u32>, StoreError> {
    let row = client
        .query_opt("SELECT days FROM retention WHERE account = $1", &[&account])
        .await
        .map_err(pg_err)?;
    Ok(match row {
        Some(r) => {
            let days: i32 = r.try_get(0).map_err(pg_err)?;
            u32::try_from(days).ok()
        }
        None => None,
    })
}

pub(crate) async fn set(
    client: &Client,
    account: &str,
    days: Option<u32>,
) -> Result<(), StoreError> {
    let known = client
        .query_opt("SELECT 1 FROM accounts WHERE account = $1", &[&account])
        .await
        .map_err(pg_err)?;
    if known.is_none() {
        return Err(StoreError::UnknownAccount(account.to_owned()));
    }
    match days {
        Some(days) => {
            let days = i32::try_from(days).unwrap_or(i32::MAX);
            client
                .execute(
                    "INSERT INTO retention (account, days) VALUES ($1, $2)
                     ON CONFLICT (account) DO UPDATE SET days = excluded.days",
                    &[&account, &days],
                )
                .await
        }
        None => {
            client
                .execute("DELETE FROM retention WHERE account = $1", &[&account])
                .await
        }
    }
    .map_err(pg_err)?;
    Ok(())
}

/// One sweep step: first the partitions that can go whole, then at most `max_visits`
/// visits' rows in one transaction.
pub(crate) async fn sweep(
    client: &mut Client,
    now_ms: i64,
    max_visits: usize,
) -> Result<RetentionStep, StoreError> {
    drop_expired_partitions(client, now_ms).await?;
    let settings: Vec<(String, i32)> = client
        .query("SELECT account, days FROM retention ORDER BY account", &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(pg_err)?;
    let tx = client.transaction().await.map_err(pg_err)?;
    let mut removed = ErasureCounts::default();
    let mut left = max_visits;
    let mut more = false;
    for (account, days) in settings {
        if left == 0 {
            more = true;
            break;
        }
        let horizon = retention_horizon_ms(now_ms, u32::try_from(days).unwrap_or(u32::MAX));
        let limit = i64::try_from(left + 1).unwrap_or(i64::MAX);
        let rows = tx
            .query(
                "SELECT visit_id, session_id FROM visits
                 WHERE account = $1 AND last_seen_ms < $2 ORDER BY visit_id LIMIT $3",
                &[&account, &horizon, &limit],
            )
            .await
            .map_err(pg_err)?;
        let mut visits: Vec<i64> = Vec::with_capacity(rows.len());
        let mut sessions: Vec<String> = Vec::with_capacity(rows.len());
        for r in rows.iter().take(left) {
            visits.push(r.try_get(0).map_err(pg_err)?);
            sessions.push(r.try_get(1).map_err(pg_err)?);
        }
        if rows.len() > left {
            more = true;
        }
        left -= visits.len();
        delete_visits(&tx, &account, &visits, &sessions, &mut removed).await?;
        let batch = i64::try_from(max_visits).unwrap_or(i64::MAX);
        let quarantined = tx
            .execute(
                "DELETE FROM quarantine WHERE account = $1 AND id IN (
                     SELECT id FROM quarantine WHERE account = $1 AND received_ms < $2
                     ORDER BY id LIMIT $3)",
                &[&account, &horizon, &batch],
            )
            .await
            .map_err(pg_err)?;
        if quarantined >= max_visits as u64 {
            more = true;
        }
        removed.quarantined += quarantined;
        removed.identities += tx
            .execute(
                "DELETE FROM consumer_identities c
                 WHERE c.account = $1 AND c.created_ms < $2
                   AND NOT EXISTS (SELECT 1 FROM visits v
                                   WHERE v.account = $1 AND v.visitor_id = c.visitor_id)",
                &[&account, &horizon],
            )
            .await
            .map_err(pg_err)?;
        let mut account_rollups = 0;
        for (table, _, expired) in ROLLUP_EXPIRY {
            for bot in [false, true] {
                let table = rollup_table(table, bot);
                let expired = expired.replace("HORIZON", "$2::bigint");
                let n = tx
                    .execute(
                        &format!(
                            "DELETE FROM {table} WHERE ctid IN (
                                 SELECT ctid FROM {table} WHERE account = $1 AND {expired}
                                 LIMIT $3)"
                        ),
                        &[&account, &horizon, &batch],
                    )
                    .await
                    .map_err(pg_err)?;
                if n >= max_visits as u64 {
                    more = true;
                }
                removed.rollups += n;
                account_rollups += n;
            }
        }
        if account_rollups > 0 {
            tx.execute(super::analytics::BUMP_GENERATION, &[&account])
                .await
                .map_err(pg_err)?;
        }
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(RetentionStep { removed, more })
}

/// Drops the monthly partitions of `event_runs` and `sdes` that end before every account's
/// horizon: only when every account has a retention setting (an account without one
/// keeps its data for ever). The rows' exactly-once keys stay (docs/operations.md,
/// Partitions and retention). Under the migrations' advisory lock, like partition upkeep.
async fn drop_expired_partitions(client: &Client, now_ms: i64) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE r.days IS NULL), max(r.days)
             FROM accounts a LEFT JOIN retention r ON r.account = a.account",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let unlimited: i64 = row.try_get(0).map_err(pg_err)?;
    let longest: Option<i32> = row.try_get(1).map_err(pg_err)?;
    let Some(longest) = longest.filter(|_| unlimited == 0) else {
        return Ok(());
    };
    let horizon = retention_horizon_ms(now_ms, u32::try_from(longest).unwrap_or(u32::MAX));
    let partitions: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname IN ('event_runs', 'sdes')
               AND p.relnamespace = current_schema()::regnamespace",
            &[],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg_err)?;
    let expired: Vec<&String> = partitions
        .iter()
        .filter(|name| partition_end_ms(name).is_some_and(|end| end <= horizon))
        .collect();
    if expired.is_empty() {
        return Ok(());
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    let mut result = Ok(());
    for name in expired {
        // The name is one of ours, checked by `partition_end_ms`.
        if let Err(e) = client
            .batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
            .await
        {
            result = Err(pg_err(e));
            break;
        }
        tracing::info!(partition = %name, "dropped an expired partition");
    }
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err);
    result.and(unlocked.map(drop))
}

/// The end (exclusive, epoch ms) of a monthly partition named `event_runs_YYYY_MM` or
/// `sdes_YYYY_MM`; `None` for any other name (the default partitions).
fn partition_end_ms(name: &str) -> Option<i64> {
    let date = name
        .strip_prefix("event_runs_")
        .or_else(|| name.strip_prefix("sdes_"))?;
    let (year, month) = date.split_once('_')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let (ny, nm) = next_month(year, month);
    Some(month_start_ms(ny, nm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_monthly_partitions_have_an_end() {
        assert_eq!(
            partition_end_ms("event_runs_2025_05"),
            Some(1_748_736_000_000)
        );
        assert_eq!(
            partition_end_ms("sdes_2024_12"),
            Some(month_start_ms(2025, 1))
        );
        for other in [
            "event_runs_default",
            "sdes_default",
            "event_runs_2025_13",
            "visits",
            "event_runs_25_01",
            "events_2025_05",
        ] {
            assert_eq!(partition_end_ms(other), None, "{other}");
        }
    }
}
