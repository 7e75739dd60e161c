//! Accounts, sessions, visits, the quarantine, counts and export pages.
//!
//! Every read runs on a pooled connection and sees what was committed before it began:
//! an answered `ingest` is visible to the next read on any server.

use engage_model::VisitSdes;
use tokio_postgres::{Client, Row};

use super::ingest::key_text;
use super::pg_err;
use crate::sqlite::events::{decode_run, MAX_RUN};
use crate::sqlite::reader::{
    corrupt, history_sde, quarantine_entry, sorted_json, stamped, EventItem, QuarantineRow, SdeItem,
};
use crate::{
    Account, ExportKind, ExportPage, NewAccount, QuarantineEntry, QuarantineQuery, QuarantineUsage,
    SessionLookup, StoreError, Visit,
};

/// The advisory lock creating accounts takes: an API key hash is unique over all
/// accounts, which no constraint of a distributed table can say.
const ACCOUNT_LOCK_KEY: i64 = 0x656e_6761_6765_0001;

pub(crate) async fn create_account(
    client: &mut Client,
    new: NewAccount,
) -> Result<Account, StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ACCOUNT_LOCK_KEY])
        .await
        .map_err(pg_err)?;
    let taken = tx
        .query_opt(
            "SELECT 1 FROM accounts WHERE api_key_hash = $1 LIMIT 1",
            &[&new.api_key_hash],
        )
        .await
        .map_err(pg_err)?;
    if taken.is_some() {
        return Err(StoreError::Conflict(
            "an account with this API key exists".into(),
        ));
    }
    let created_ms = crate::ids::now_ms();
    for _ in 0..64 {
        let id = crate::ids::account_id()?;
        let written = tx
            .execute(
                "INSERT INTO accounts (account, name, api_key_hash, created_ms, allowed_origins)
                 VALUES ($1, $2, $3, $4, '[]') ON CONFLICT (account) DO NOTHING",
                &[&id, &new.name, &new.api_key_hash, &created_ms],
            )
            .await
            .map_err(pg_err)?;
        if written == 1 {
            tx.commit().await.map_err(pg_err)?;
            return Ok(Account {
                id,
                name: new.name,
                api_key_hash: new.api_key_hash,
                created_ms,
                allowed_origins: Vec::new(),
            });
        }
    }
    Err(StoreError::Backend(
        "no free account id after 64 tries".into(),
    ))
}

/// Which account is looked up: by id, or by the hash of its API key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AccountBy<'a> {
    Id(&'a str),
    KeyHash(&'a str),
}

pub(crate) async fn account(
    client: &Client,
    by: AccountBy<'_>,
) -> Result<Option<Account>, StoreError> {
    let (sql, value) = match by {
        AccountBy::Id(id) => (
            "SELECT account, name, api_key_hash, created_ms, allowed_origins FROM accounts
             WHERE account = $1",
            id,
        ),
        AccountBy::KeyHash(hash) => (
            "SELECT account, name, api_key_hash, created_ms, allowed_origins FROM accounts
             WHERE api_key_hash = $1 LIMIT 1",
            hash,
        ),
    };
    let Some(r) = client.query_opt(sql, &[&value]).await.map_err(pg_err)? else {
        return Ok(None);
    };
    let origins: String = r.try_get(4).map_err(pg_err)?;
    let allowed_origins: Vec<String> =
        serde_json::from_str(&origins).map_err(|e| corrupt(format!("allowed origins: {e}")))?;
    Ok(Some(Account {
        id: r.try_get(0).map_err(pg_err)?,
        name: r.try_get(1).map_err(pg_err)?,
        api_key_hash: r.try_get(2).map_err(pg_err)?,
        created_ms: r.try_get(3).map_err(pg_err)?,
        allowed_origins,
    }))
}

pub(crate) async fn lookup_session(
    client: &Client,
    account: &str,
    visitor_id: &str,
    session_id: &str,
) -> Result<SessionLookup, StoreError> {
    let row = client
        .query_one(
            "SELECT (SELECT visitor_id FROM visits WHERE account = $1 AND session_id = $3),
                    EXISTS (SELECT 1 FROM visits WHERE account = $1 AND visitor_id = $2)",
            &[&account, &visitor_id, &session_id],
        )
        .await
        .map_err(pg_err)?;
    let owner: Option<String> = row.try_get(0).map_err(pg_err)?;
    let visitor_known: bool = row.try_get(1).map_err(pg_err)?;
    Ok(if owner.as_deref() == Some(visitor_id) {
        SessionLookup::Found
    } else if visitor_known {
        SessionLookup::UnknownSession
    } else {
        SessionLookup::UnknownVisitor
    })
}

/// The visit with its attribute state: its reports in the order they were stored,
/// replayed through `VisitSdes::record` (docs/vocabulary.md, Visit rule).
pub(crate) async fn visit(
    client: &mut Client,
    account: &str,
    session_id: &str,
) -> Result<Option<Visit>, StoreError> {
    // One snapshot for the visit and its reports.
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(pg_err)?;
    let Some(r) = tx
        .query_opt(
            "SELECT visit_id, visitor_id, session_id, first_seen_ms, last_seen_ms, user_agent,
                    referrer
             FROM visits WHERE account = $1 AND session_id = $2",
            &[&account, &session_id],
        )
        .await
        .map_err(pg_err)?
    else {
        return Ok(None);
    };
    let visit_id: i64 = r.try_get(0).map_err(pg_err)?;
    let mut visit = Visit {
        visitor_id: r.try_get(1).map_err(pg_err)?,
        session_id: r.try_get(2).map_err(pg_err)?,
        first_seen_ms: r.try_get(3).map_err(pg_err)?,
        last_seen_ms: r.try_get(4).map_err(pg_err)?,
        user_agent: r.try_get(5).map_err(pg_err)?,
        referrer: r.try_get(6).map_err(pg_err)?,
        sdes: VisitSdes::default(),
    };
    let rows = tx
        .query(
            "SELECT sde_row, history, packed FROM sdes WHERE account = $1 AND visit_id = $2
             ORDER BY sde_row",
            &[&account, &visit_id],
        )
        .await
        .map_err(pg_err)?;
    for r in rows {
        let id: i64 = r.try_get(0).map_err(pg_err)?;
        let history = super::runs::stored_history(
            r.try_get(1).map_err(pg_err)?,
            r.try_get(2).map_err(pg_err)?,
        )
        .ok_or_else(|| corrupt(format!("attribute {id}")))?;
        visit.sdes.record(history_sde(&history)?);
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(Some(visit))
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) const QUARANTINE_COLUMNS: &str =
    "id, kind, idx, client_id, received_ms, raw, context, errors, replayed_ms";

pub(crate) fn quarantine_row(r: &Row) -> Result<QuarantineRow, StoreError> {
    Ok((
        r.try_get(0).map_err(pg_err)?,
        r.try_get(1).map_err(pg_err)?,
        r.try_get(2).map_err(pg_err)?,
        r.try_get(3).map_err(pg_err)?,
        r.try_get(4).map_err(pg_err)?,
        r.try_get(5).map_err(pg_err)?,
        r.try_get(6).map_err(pg_err)?,
        r.try_get(7).map_err(pg_err)?,
        r.try_get(8).map_err(pg_err)?,
    ))
}

pub(crate) async fn quarantine(
    client: &Client,
    account: &str,
    query: QuarantineQuery,
) -> Result<Vec<QuarantineEntry>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {QUARANTINE_COLUMNS} FROM quarantine
                 WHERE account = $1 AND id > $2 AND ($3 OR replayed_ms IS NULL)
                 ORDER BY id LIMIT $4"
            ),
            &[
                &account,
                &query.after_id.unwrap_or(0),
                &query.include_replayed,
                &sql_limit(query.limit),
            ],
        )
        .await
        .map_err(pg_err)?;
    rows.iter()
        .map(|r| quarantine_entry(quarantine_row(r)?))
        .collect()
}

/// What an account's pending (not replayed) quarantine entries take: how many, and the
/// bytes of their raw input.
pub(crate) async fn quarantine_usage(
    client: &Client,
    account: &str,
) -> Result<QuarantineUsage, StoreError> {
    let row = client
        .query_one(
            "SELECT count(*), coalesce(sum(octet_length(raw)), 0)::bigint FROM quarantine
             WHERE account = $1 AND replayed_ms IS NULL",
            &[&account],
        )
        .await
        .map_err(pg_err)?;
    let entries: i64 = row.try_get(0).map_err(pg_err)?;
    let bytes: i64 = row.try_get(1).map_err(pg_err)?;
    Ok(QuarantineUsage {
        entries: u64::try_from(entries).unwrap_or(0),
        bytes: u64::try_from(bytes).unwrap_or(0),
    })
}

pub(crate) async fn count(
    client: &Client,
    account: &str,
    kind: ExportKind,
) -> Result<u64, StoreError> {
    let sql = match kind {
        ExportKind::Events => "SELECT count(*) FROM event_ids WHERE account = $1",
        ExportKind::Sdes => "SELECT count(*) FROM sdes WHERE account = $1",
        ExportKind::Quarantine => "SELECT count(*) FROM quarantine WHERE account = $1",
    };
    let n: i64 = client
        .query_one(sql, &[&account])
        .await
        .map_err(pg_err)?
        .try_get(0)
        .map_err(pg_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The columns [`offer_event`] reads, from `events e` joined with its interaction `i`.
pub(crate) fn client_id(r: &Row, i: usize) -> Result<String, StoreError> {
    let bytes: &[u8] = r.try_get(i).map_err(pg_err)?;
    key_text(bytes).ok_or_else(|| corrupt("a client id"))
}

pub(crate) async fn export_page(
    client: &Client,
    account: &str,
    kind: ExportKind,
    cursor: Option<i64>,
    limit: usize,
) -> Result<ExportPage, StoreError> {
    let after = cursor.unwrap_or(0);
    let mut items = Vec::new();
    let mut last = None;
    match kind {
        ExportKind::Events => {
            // Runs in row order, each unpacked (see `runs`); a position is
            // `run * MAX_RUN + index`.
            let run_size = i64::try_from(MAX_RUN).unwrap_or(256);
            let first_run = cursor.map_or(0, |c| c.div_euclid(run_size));
            // A run holds at least one event, and only the cursor's own run can hold
            // events already given: `limit + 1` runs are enough for a page.
            let rows = client
                .query(
                    "SELECT r.run_row, r.server_ms, r.events, v.visitor_id, v.session_id,
                            p.page_id, i.context_id
                     FROM event_runs r
                     JOIN interactions i ON i.account = r.account
                         AND i.interaction_id = r.interaction_id
                     LEFT JOIN visits v ON v.account = i.account AND v.visit_id = i.visit_id
                     LEFT JOIN pages p ON p.account = r.account AND p.page_row = r.page_row
                     WHERE r.account = $1 AND r.run_row >= $2
                     ORDER BY r.run_row LIMIT $3",
                    &[&account, &first_run, &sql_limit(limit.saturating_add(1))],
                )
                .await
                .map_err(pg_err)?;
            let mut decoded = Vec::with_capacity(rows.len());
            let mut shape_ids = Vec::new();
            for r in &rows {
                let run: i64 = r.try_get(0).map_err(pg_err)?;
                let server_ms: i64 = r.try_get(1).map_err(pg_err)?;
                let blob: &[u8] = r.try_get(2).map_err(pg_err)?;
                let stored = decode_run(blob, server_ms)
                    .ok_or_else(|| corrupt(format!("event run {run}")))?;
                shape_ids.extend(stored.iter().map(|e| e.shape));
                decoded.push((run, server_ms, stored));
            }
            shape_ids.sort_unstable();
            shape_ids.dedup();
            let shapes = super::runs::load_shapes(client, account, &shape_ids).await?;
            'runs: for (r, (run, server_ms, stored)) in rows.iter().zip(decoded) {
                let page_id: Option<&str> = r.try_get(5).map_err(pg_err)?;
                let context_id: &str = r.try_get(6).map_err(pg_err)?;
                for (pos, e) in stored.into_iter().enumerate() {
                    let at = run * run_size + i64::try_from(pos).unwrap_or(0);
                    if cursor.is_some_and(|c| at <= c) {
                        continue;
                    }
                    if items.len() >= limit {
                        break 'runs;
                    }
                    let event = super::runs::offer_event(&shapes, &e, context_id, page_id)?;
                    items.push(sorted_json(&EventItem {
                        id: e.client_id,
                        time: e.client_time_ms,
                        server_time: server_ms,
                        visitor_id: r.try_get(3).map_err(pg_err)?,
                        session_id: r.try_get(4).map_err(pg_err)?,
                        page_id: page_id.map(str::to_owned),
                        app_name: event.name.app_name(),
                        event_name: event.name.as_str(),
                        data: &event.data,
                    })?);
                    last = Some(at);
                }
            }
        }
        ExportKind::Sdes => {
            let rows = client
                .query(
                    "SELECT s.sde_row, s.client_id, s.client_ms, s.server_ms, v.visitor_id,
                            v.session_id, p.page_id, s.history, s.packed
                     FROM sdes s
                     LEFT JOIN visits v ON v.account = s.account AND v.visit_id = s.visit_id
                     LEFT JOIN pages p ON p.account = s.account AND p.page_row = s.page_row
                     WHERE s.account = $1 AND s.sde_row > $2
                     ORDER BY s.sde_row LIMIT $3",
                    &[&account, &after, &sql_limit(limit)],
                )
                .await
                .map_err(pg_err)?;
            for r in &rows {
                let id: i64 = r.try_get(0).map_err(pg_err)?;
                let history = super::runs::stored_history(
                    r.try_get(7).map_err(pg_err)?,
                    r.try_get(8).map_err(pg_err)?,
                )
                .ok_or_else(|| corrupt(format!("attribute {id}")))?;
                let client_ms: Option<i64> = r.try_get(2).map_err(pg_err)?;
                let server_ms: i64 = r.try_get(3).map_err(pg_err)?;
                let sde = stamped(&history, server_ms, client_ms)
                    .ok_or_else(|| corrupt(format!("attribute {id}")))?;
                items.push(sorted_json(&SdeItem {
                    id: client_id(r, 1)?,
                    time: client_ms,
                    server_time: server_ms,
                    visitor_id: r.try_get(4).map_err(pg_err)?,
                    session_id: r.try_get(5).map_err(pg_err)?,
                    page_id: r.try_get(6).map_err(pg_err)?,
                    sde,
                })?);
                last = Some(id);
            }
        }
        ExportKind::Quarantine => {
            let rows = client
                .query(
                    &format!(
                        "SELECT {QUARANTINE_COLUMNS} FROM quarantine
                         WHERE account = $1 AND id > $2 ORDER BY id LIMIT $3"
                    ),
                    &[&account, &after, &sql_limit(limit)],
                )
                .await
                .map_err(pg_err)?;
            for r in &rows {
                let entry = quarantine_entry(quarantine_row(r)?)?;
                last = Some(entry.id);
                items.push(sorted_json(&entry)?);
            }
        }
    }
    Ok(ExportPage {
        items,
        cursor: last,
    })
}
