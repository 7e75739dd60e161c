//! Reads: a small pool of connections used on `spawn_blocking`, and the queries.
//!
//! WAL gives every read transaction the snapshot of the last commit without waiting for
//! the writer, so an answered `ingest` is visible to the next read.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use engage_model::{
    AgentState, ConfKey, EngagementType, FieldError, OfferData, OfferEvent, OfferEventName, Sde,
    Tape, VisitSdes, LP_OFFERS,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::batch::ClientKey;
use super::{read_u64, schema, sql_err};
use crate::{
    Account, ExportKind, ExportPage, QuarantineEntry, QuarantineKind, QuarantineQuery,
    SessionLookup, StoreError, Visit,
};

/// Idle connections kept for the next read; more are opened under load and closed after.
const MAX_IDLE: usize = 4;

pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock cannot leave the list half-changed (push and pop
        // are the only operations), so a poisoned lock is still usable.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle().pop() {
            return Ok(conn);
        }
        let conn = Connection::open(&self.path).map_err(sql_err)?;
        schema::configure_reader(&conn).map_err(sql_err)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection on the blocking pool.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.take()?;
            let result = f(&mut conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored data is unreadable: {what}"))
}

/// Which account is looked up: by id, or by the hash of its API key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AccountBy<'a> {
    Id(&'a str),
    KeyHash(&'a str),
}

pub(crate) fn account(
    conn: &mut Connection,
    by: AccountBy<'_>,
) -> Result<Option<Account>, StoreError> {
    let (sql, value) = match by {
        AccountBy::Id(id) => (
            "SELECT id, name, api_key_hash, created_ms, allowed_origins FROM accounts WHERE id = ?1",
            id,
        ),
        AccountBy::KeyHash(hash) => (
            "SELECT id, name, api_key_hash, created_ms, allowed_origins FROM accounts WHERE api_key_hash = ?1",
            hash,
        ),
    };
    let row = conn
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row([value], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()
        })
        .map_err(sql_err)?;
    let Some((id, name, api_key_hash, created_ms, origins)) = row else {
        return Ok(None);
    };
    let allowed_origins: Vec<String> =
        serde_json::from_str(&origins).map_err(|e| corrupt(format!("allowed origins: {e}")))?;
    Ok(Some(Account {
        id,
        name,
        api_key_hash,
        created_ms,
        allowed_origins,
    }))
}

pub(crate) fn lookup_session(
    conn: &mut Connection,
    account: &str,
    visitor_id: &str,
    session_id: &str,
) -> Result<SessionLookup, StoreError> {
    let tx = conn.transaction().map_err(sql_err)?;
    let owner: Option<String> = tx
        .prepare_cached("SELECT visitor_id FROM visits WHERE account = ?1 AND session_id = ?2")
        .and_then(|mut s| s.query_row([account, session_id], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    if owner.as_deref() == Some(visitor_id) {
        return Ok(SessionLookup::Found);
    }
    let visitor_known = tx
        .prepare_cached("SELECT 1 FROM visits WHERE account = ?1 AND visitor_id = ?2 LIMIT 1")
        .and_then(|mut s| s.exists([account, visitor_id]))
        .map_err(sql_err)?;
    Ok(if visitor_known {
        SessionLookup::UnknownSession
    } else {
        SessionLookup::UnknownVisitor
    })
}

/// The visit with its attribute state: its reports, walked back along their chain (see
/// `schema`) and replayed oldest first through `VisitSdes::record`
/// (docs/vocabulary.md, Visit rule).
pub(crate) fn visit(
    conn: &mut Connection,
    account: &str,
    session_id: &str,
) -> Result<Option<Visit>, StoreError> {
    let tx = conn.transaction().map_err(sql_err)?;
    let row = tx
        .prepare_cached(
            "SELECT v.visitor_id, v.session_id, v.first_seen_ms, h.last_seen_ms, v.user_agent,
                    v.referrer, h.sde_head
             FROM visits v JOIN visit_heads h ON h.visit_id = v.id
             WHERE v.account = ?1 AND v.session_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row([account, session_id], |r| {
                Ok((
                    Visit {
                        visitor_id: r.get(0)?,
                        session_id: r.get(1)?,
                        first_seen_ms: r.get(2)?,
                        last_seen_ms: r.get(3)?,
                        user_agent: r.get(4)?,
                        referrer: r.get(5)?,
                        sdes: VisitSdes::default(),
                    },
                    r.get::<_, Option<i64>>(6)?,
                ))
            })
            .optional()
        })
        .map_err(sql_err)?;
    let Some((mut visit, head)) = row else {
        return Ok(None);
    };
    let mut reports = Vec::new();
    let mut next = head;
    let mut step = tx
        .prepare_cached("SELECT history, prev_in_visit FROM sdes WHERE id = ?1")
        .map_err(sql_err)?;
    while let Some(id) = next {
        let link = step
            .query_row([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .optional()
            .map_err(sql_err)?;
        // A report removed by retention or erasure ends the chain.
        let Some((history, prev)) = link else { break };
        reports.push(history_sde(&history)?);
        // Rows only point at older rows, so the walk ends.
        next = prev.filter(|p| *p < id);
    }
    for sde in reports.into_iter().rev() {
        visit.sdes.record(sde);
    }
    Ok(Some(visit))
}

fn history_sde(text: &str) -> Result<Sde, StoreError> {
    let tape = Tape::parse_str(text).map_err(|e| corrupt(format!("attribute: {e}")))?;
    Sde::read_history(tape.root())
        .map(|(sde, _)| sde)
        .map_err(|e| corrupt(format!("attribute: {e}")))
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) fn quarantine(
    conn: &mut Connection,
    account: &str,
    query: QuarantineQuery,
) -> Result<Vec<QuarantineEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, kind, idx, client_id, received_ms, raw, context, errors, replayed_ms
             FROM quarantine
             WHERE account = ?1 AND id > ?2 AND (?3 OR replayed_ms IS NULL)
             ORDER BY id LIMIT ?4",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(
            params![
                account,
                query.after_id.unwrap_or(0),
                query.include_replayed,
                sql_limit(query.limit)
            ],
            quarantine_row,
        )
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(quarantine_entry(row.map_err(sql_err)?)?);
    }
    Ok(out)
}

type QuarantineRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    i64,
    String,
    String,
    String,
    Option<i64>,
);

fn quarantine_row(r: &Row<'_>) -> rusqlite::Result<QuarantineRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn quarantine_entry(row: QuarantineRow) -> Result<QuarantineEntry, StoreError> {
    let (id, kind, index, client_id, received_ms, raw, context, errors, replayed_ms) = row;
    let kind = QuarantineKind::from_name(&kind)
        .ok_or_else(|| corrupt(format!("quarantine kind `{kind}`")))?;
    let context: Value =
        serde_json::from_str(&context).map_err(|e| corrupt(format!("quarantine context: {e}")))?;
    let errors: Vec<Value> =
        serde_json::from_str(&errors).map_err(|e| corrupt(format!("quarantine errors: {e}")))?;
    let errors = errors
        .iter()
        .map(|e| {
            match (
                e.get("path").and_then(Value::as_str),
                e.get("message").and_then(Value::as_str),
            ) {
                (Some(path), Some(message)) => Ok(FieldError::new(path, message)),
                _ => Err(corrupt("a quarantine error without path or message")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QuarantineEntry {
        id,
        kind,
        index: index.and_then(|i| usize::try_from(i).ok()),
        client_id,
        received_ms,
        raw,
        context,
        errors,
        replayed_ms,
    })
}

pub(crate) fn count(
    conn: &mut Connection,
    account: &str,
    kind: ExportKind,
) -> Result<u64, StoreError> {
    let sql = match kind {
        ExportKind::Events => "SELECT count(*) FROM events WHERE account = ?1",
        ExportKind::Sdes => "SELECT count(*) FROM sdes WHERE account = ?1",
        ExportKind::Quarantine => "SELECT count(*) FROM quarantine WHERE account = ?1",
    };
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row([account], |r| r.get(0)))
        .map_err(sql_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn export_page(
    conn: &mut Connection,
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
            // The rowid range leads; the account filter rides along, so an export reads
            // the table once in all, whatever the number of accounts.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT e.id, e.client_id, e.client_ms, e.server_ms, v.visitor_id, v.session_id,
                            p.page_id, e.event_name,
                            coalesce(nullif(e.context_id, ''), i.context_id), e.page_context_id,
                            e.campaign_id,
                            e.engagement_id, e.engagement_revision, e.engagement_type, e.zone_id,
                            e.state, e.tgl_name, e.done, e.engagement_name
                     FROM events e
                     LEFT JOIN visits v ON v.id = e.visit_id
                     LEFT JOIN pages p ON p.id = e.page_row
                     LEFT JOIN interactions i ON i.id = e.interaction_row
                     WHERE e.id > ?2 AND e.account = ?1
                     ORDER BY e.id LIMIT ?3",
                )
                .map_err(sql_err)?;
            let mut rows = stmt
                .query(params![account, after, sql_limit(limit)])
                .map_err(sql_err)?;
            while let Some(r) = rows.next().map_err(sql_err)? {
                let (id, item) = event_item(r)?;
                last = Some(id);
                items.push(item);
            }
        }
        ExportKind::Sdes => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT s.id, s.client_id, s.client_ms, s.server_ms, v.visitor_id, v.session_id,
                            p.page_id, s.history
                     FROM sdes s
                     LEFT JOIN visits v ON v.id = s.visit_id
                     LEFT JOIN pages p ON p.id = s.page_row
                     WHERE s.id > ?2 AND s.account = ?1
                     ORDER BY s.id LIMIT ?3",
                )
                .map_err(sql_err)?;
            let mut rows = stmt
                .query(params![account, after, sql_limit(limit)])
                .map_err(sql_err)?;
            while let Some(r) = rows.next().map_err(sql_err)? {
                let id: i64 = r.get(0).map_err(sql_err)?;
                let history: String = r.get(7).map_err(sql_err)?;
                let client_ms: Option<i64> = r.get(2).map_err(sql_err)?;
                let server_ms: i64 = r.get(3).map_err(sql_err)?;
                let sde = stamped(&history, server_ms, client_ms)
                    .ok_or_else(|| corrupt(format!("attribute {id}")))?;
                items.push(json!({
                    "id": client_id(r, 1)?,
                    "time": client_ms,
                    "serverTime": server_ms,
                    "visitorId": r.get::<_, Option<String>>(4).map_err(sql_err)?,
                    "sessionId": r.get::<_, Option<String>>(5).map_err(sql_err)?,
                    "pageId": r.get::<_, Option<String>>(6).map_err(sql_err)?,
                    "sde": sde,
                }));
                last = Some(id);
            }
        }
        ExportKind::Quarantine => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, kind, idx, client_id, received_ms, raw, context, errors, replayed_ms
                     FROM quarantine WHERE account = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                )
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![account, after, sql_limit(limit)], quarantine_row)
                .map_err(sql_err)?;
            for row in rows {
                let entry = quarantine_entry(row.map_err(sql_err)?)?;
                last = Some(entry.id);
                items.push(
                    serde_json::to_value(&entry)
                        .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?,
                );
            }
        }
    }
    Ok(ExportPage {
        items,
        cursor: last,
    })
}

pub(crate) fn client_id(r: &Row<'_>, i: usize) -> Result<String, StoreError> {
    let value = r.get_ref(i).map_err(sql_err)?;
    ClientKey::read(value).ok_or_else(|| corrupt("a client id"))
}

/// A stored history-shape attribute with its stamps put back, as `Sde::to_history` with
/// `Stamps` writes them: epoch ms as strings, `originalTimeStamp` only when known.
pub(crate) fn stamped(history: &str, server_ms: i64, client_ms: Option<i64>) -> Option<Value> {
    let mut sde: Value = serde_json::from_str(history).ok()?;
    let (_, inner) = sde.as_object_mut()?.iter_mut().next()?;
    let inner = inner.as_object_mut()?;
    if let Ok(ms) = u64::try_from(server_ms) {
        inner.insert("serverTimeStamp".into(), Value::String(ms.to_string()));
    }
    if let Some(ms) = client_ms.and_then(|ms| u64::try_from(ms).ok()) {
        inner.insert("originalTimeStamp".into(), Value::String(ms.to_string()));
    }
    Some(sde)
}

/// One events row as its export object, with the event rebuilt from its columns and
/// written in its canonical serialization.
fn event_item(r: &Row<'_>) -> Result<(i64, Value), StoreError> {
    let id: i64 = r.get(0).map_err(sql_err)?;
    let event = offer_event(r, 7, id)?;
    let data = serde_json::to_value(&event.data)
        .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?;
    Ok((
        id,
        json!({
            "id": client_id(r, 1)?,
            "time": r.get::<_, Option<i64>>(2).map_err(sql_err)?,
            "serverTime": r.get::<_, i64>(3).map_err(sql_err)?,
            "visitorId": r.get::<_, Option<String>>(4).map_err(sql_err)?,
            "sessionId": r.get::<_, Option<String>>(5).map_err(sql_err)?,
            "pageId": r.get::<_, Option<String>>(6).map_err(sql_err)?,
            "appName": LP_OFFERS,
            "eventName": event.name.as_str(),
            "data": data,
        }),
    ))
}

/// The event stored in the twelve columns from `at` on, in the events table's order
/// (`event_name, context_id, page_context_id, campaign_id, engagement_id,
/// engagement_revision, engagement_type, zone_id, state, tgl_name, done,
/// engagement_name`); `id` is the row, for the error.
pub(crate) fn offer_event(r: &Row<'_>, at: usize, id: i64) -> Result<OfferEvent, StoreError> {
    let bad = |what: &str| corrupt(format!("event {id}: {what}"));
    let name: String = r.get(at).map_err(sql_err)?;
    let name = OfferEventName::from_name(&name).ok_or_else(|| bad("event name"))?;
    let u64_at = |i: usize| -> Result<Option<u64>, StoreError> {
        let value = r.get_ref(at + i).map_err(sql_err)?;
        match value {
            rusqlite::types::ValueRef::Null => Ok(None),
            v => read_u64(v).map(Some).ok_or_else(|| bad("a number column")),
        }
    };
    let required = |i: usize| u64_at(i)?.ok_or_else(|| bad("a missing number"));
    let engagement_type = match u64_at(6)? {
        None => None,
        Some(code) => Some(EngagementType::from_code(code).ok_or_else(|| bad("engagement type"))?),
    };
    let state = match u64_at(8)? {
        None => None,
        Some(code) => Some(AgentState::from_code(code).ok_or_else(|| bad("state"))?),
    };
    Ok(OfferEvent {
        name,
        data: OfferData {
            context_id: r.get(at + 1).map_err(sql_err)?,
            page_context_id: client_id(r, at + 2)?,
            conf_key: ConfKey {
                campaign_id: required(3)?,
                engagement_id: required(4)?,
                engagement_revision: required(5)?,
            },
            engagement_type,
            zone_id: u64_at(7)?,
            state,
            tgl_name: r.get(at + 9).map_err(sql_err)?,
            done: r.get(at + 10).map_err(sql_err)?,
            engagement_name: r.get(at + 11).map_err(sql_err)?,
        },
    })
}
