//! Reads: a small pool of connections used on `spawn_blocking`, and the queries.
//!
//! WAL gives every read transaction the snapshot of the last commit without waiting for
//! the writer, so an answered `ingest` is visible to the next read.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use engage_model::tape::Members;
use engage_model::{FieldError, Node, OfferData, Sde, Tape, View, VisitSdes};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::batch::ClientKey;
use super::compact::unpack_history;
use super::events::{self, MAX_RUN};
use super::{schema, sql_err};
use crate::{
    Account, ExportKind, ExportPage, QuarantineEntry, QuarantineKind, QuarantineQuery,
    QuarantineUsage, RawJson, SessionLookup, StoreError, Visit,
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
                Ok((unpack_history(r.get_ref(0)?), r.get::<_, Option<i64>>(1)?))
            })
            .optional()
            .map_err(sql_err)?;
        // A report removed by retention or erasure ends the chain.
        let Some((history, prev)) = link else { break };
        let history = history.ok_or_else(|| corrupt(format!("attribute {id}")))?;
        reports.push(history_sde(&history)?);
        // Rows only point at older rows, so the walk ends.
        next = prev.filter(|p| *p < id);
    }
    for sde in reports.into_iter().rev() {
        visit.sdes.record(sde);
    }
    Ok(Some(visit))
}

pub(crate) fn history_sde(text: &str) -> Result<Sde, StoreError> {
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

pub(crate) type QuarantineRow = (
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

pub(crate) fn quarantine_row(r: &Row<'_>) -> rusqlite::Result<QuarantineRow> {
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

pub(crate) fn quarantine_entry(row: QuarantineRow) -> Result<QuarantineEntry, StoreError> {
    let (id, kind, index, client_id, received_ms, raw, context, errors, replayed_ms) = row;
    let kind = QuarantineKind::from_name(&kind)
        .ok_or_else(|| corrupt(format!("quarantine kind `{kind}`")))?;
    let context =
        RawJson::from_text(context).map_err(|e| corrupt(format!("quarantine context: {e}")))?;
    let errors =
        Tape::parse_str(&errors).map_err(|e| corrupt(format!("quarantine errors: {e}")))?;
    let View::Array(errors) = errors.root().view() else {
        return Err(corrupt("quarantine errors: not an array"));
    };
    let errors = errors
        .map(|e| {
            // The last of a repeated member, as a JSON map would keep it.
            let member = |name: &str| {
                e.members()
                    .and_then(|m| m.filter(|(k, _)| *k == name).last())
                    .and_then(|(_, v)| v.as_str())
            };
            match (member("path"), member("message")) {
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

/// `octet_length` reads a text's size from its record header, without loading the text.
pub(crate) fn quarantine_usage(
    conn: &mut Connection,
    account: &str,
) -> Result<QuarantineUsage, StoreError> {
    let (entries, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(octet_length(raw)), 0) FROM quarantine \
             WHERE account = ?1 AND replayed_ms IS NULL",
        )
        .and_then(|mut s| s.query_row([account], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(sql_err)?;
    Ok(QuarantineUsage {
        entries: u64::try_from(entries).unwrap_or(0),
        bytes: u64::try_from(bytes).unwrap_or(0),
    })
}

pub(crate) fn count(
    conn: &mut Connection,
    account: &str,
    kind: ExportKind,
) -> Result<u64, StoreError> {
    let sql = match kind {
        ExportKind::Events => "SELECT count(*) FROM event_ids WHERE account = ?1",
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
            // Runs in row order, each unpacked (see `events`); a position is
            // `run * MAX_RUN + index`. The rowid range leads; the account filter rides
            // along, so an export reads the table once in all, whatever the number of
            // accounts.
            let run_size = i64::try_from(MAX_RUN).unwrap_or(256);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT r.id, r.server_ms, r.events, v.visitor_id, v.session_id, p.page_id,
                            i.context_id
                     FROM event_runs r
                     LEFT JOIN interactions i ON i.id = r.interaction_row
                     LEFT JOIN visits v ON v.id = i.visit_id
                     LEFT JOIN pages p ON p.id = r.page_row
                     WHERE r.id >= ?2 AND r.account = ?1
                     ORDER BY r.id",
                )
                .map_err(sql_err)?;
            let first_run = cursor.map_or(0, |c| c.div_euclid(run_size));
            let mut rows = stmt.query(params![account, first_run]).map_err(sql_err)?;
            let mut shapes = events::ShapeReader::default();
            'runs: while let Some(r) = rows.next().map_err(sql_err)? {
                let run: i64 = r.get(0).map_err(sql_err)?;
                let server_ms: i64 = r.get(1).map_err(sql_err)?;
                let blob = r
                    .get_ref(2)
                    .map_err(sql_err)?
                    .as_blob()
                    .map_err(|e| sql_err(e.into()))?;
                let stored = events::decode_run(blob, server_ms)
                    .ok_or_else(|| corrupt(format!("event run {run}")))?;
                let page_id = optional_id(r, 5)?;
                let context_id = client_id(r, 6)?;
                for (pos, e) in stored.into_iter().enumerate() {
                    let at = run * run_size + i64::try_from(pos).unwrap_or(0);
                    if cursor.is_some_and(|c| at <= c) {
                        continue;
                    }
                    if items.len() >= limit {
                        break 'runs;
                    }
                    let event = events::offer_event(
                        &mut shapes,
                        conn,
                        &e,
                        &context_id,
                        page_id.as_deref(),
                    )?;
                    items.push(sorted_json(&EventItem {
                        id: e.client_id,
                        time: e.client_time_ms,
                        server_time: server_ms,
                        visitor_id: r.get(3).map_err(sql_err)?,
                        session_id: r.get(4).map_err(sql_err)?,
                        page_id: page_id.clone(),
                        app_name: event.name.app_name(),
                        event_name: event.name.as_str(),
                        data: &event.data,
                    })?);
                    last = Some(at);
                }
            }
        }
        ExportKind::Sdes => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT s.id, s.client_id, s.server_ms - s.client_lag_ms, s.server_ms,
                            v.visitor_id, v.session_id, p.page_id, s.history
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
                let history = unpack_history(r.get_ref(7).map_err(sql_err)?)
                    .ok_or_else(|| corrupt(format!("attribute {id}")))?;
                let client_ms: Option<i64> = r.get(2).map_err(sql_err)?;
                let server_ms: i64 = r.get(3).map_err(sql_err)?;
                let sde = stamped(&history, server_ms, client_ms)
                    .ok_or_else(|| corrupt(format!("attribute {id}")))?;
                items.push(sorted_json(&SdeItem {
                    id: client_id(r, 1)?,
                    time: client_ms,
                    server_time: server_ms,
                    visitor_id: r.get(4).map_err(sql_err)?,
                    session_id: r.get(5).map_err(sql_err)?,
                    page_id: optional_id(r, 6)?,
                    sde,
                })?);
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
                items.push(sorted_json(&entry)?);
            }
        }
    }
    Ok(ExportPage {
        items,
        cursor: last,
    })
}

/// An id stored like a client id, or NULL.
pub(crate) fn optional_id(r: &Row<'_>, i: usize) -> Result<Option<String>, StoreError> {
    match r.get_ref(i).map_err(sql_err)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        value => ClientKey::read(value)
            .map(Some)
            .ok_or_else(|| corrupt("an id")),
    }
}

pub(crate) fn client_id(r: &Row<'_>, i: usize) -> Result<String, StoreError> {
    let value = r.get_ref(i).map_err(sql_err)?;
    ClientKey::read(value).ok_or_else(|| corrupt("a client id"))
}

/// `value` as the JSON text an export answers: compact, each object's members sorted by
/// name, as the export has always written its items.
pub(crate) fn sorted_json<T: Serialize>(value: &T) -> Result<RawJson, StoreError> {
    let serializing = |e: serde_json::Error| StoreError::Backend(format!("serializing: {e}"));
    let text = serde_json::to_string(value).map_err(serializing)?;
    let tape = Tape::parse_str(&text).map_err(serializing)?;
    RawJson::to_json(&tape.root().sorted()).map_err(serializing)
}

/// One attribute as the export gives it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SdeItem {
    pub id: String,
    pub time: Option<i64>,
    pub server_time: i64,
    pub visitor_id: Option<String>,
    pub session_id: Option<String>,
    pub page_id: Option<String>,
    pub sde: RawJson,
}

/// One event as the export gives it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventItem<'a> {
    pub id: String,
    pub time: Option<i64>,
    pub server_time: i64,
    pub visitor_id: Option<String>,
    pub session_id: Option<String>,
    pub page_id: Option<String>,
    pub app_name: &'static str,
    pub event_name: &'static str,
    pub data: &'a OfferData,
}

/// A stored history-shape attribute with its stamps put back, as `Sde::to_history` with
/// `Stamps` writes them: epoch ms as strings, `originalTimeStamp` only when known. The
/// members come out sorted by name, the form this answer has always had.
pub(crate) fn stamped(history: &str, server_ms: i64, client_ms: Option<i64>) -> Option<RawJson> {
    let tape = Tape::parse_str(history).ok()?;
    // The writer stores exactly one member: the type's history key.
    let mut outer = tape.root().members()?;
    let (key, inner) = outer.next()?;
    if outer.next().is_some() {
        return None;
    }
    let stamped = Stamped {
        key,
        inner: inner.members()?,
        server: u64::try_from(server_ms).ok(),
        original: client_ms.and_then(|ms| u64::try_from(ms).ok()),
    };
    RawJson::to_json(&stamped).ok()
}

/// `{"<key>": {<inner members and the stamps, sorted>}}`.
struct Stamped<'t, 'a> {
    key: &'t str,
    inner: Members<'t, 'a>,
    server: Option<u64>,
    original: Option<u64>,
}

impl Serialize for Stamped<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// A member's value: what was stored, or a stamp.
        enum Member<'t, 'a> {
            Stored(Node<'t, 'a>),
            Stamp(u64),
        }
        let mut members: Vec<(&str, Member<'_, '_>)> =
            self.inner.map(|(k, v)| (k, Member::Stored(v))).collect();
        if let Some(ms) = self.server {
            members.push(("serverTimeStamp", Member::Stamp(ms)));
        }
        if let Some(ms) = self.original {
            members.push(("originalTimeStamp", Member::Stamp(ms)));
        }
        // Stable, so that of a repeated name the last (a stamp over a stored one) wins.
        members.sort_by(|a, b| a.0.cmp(b.0));
        let mut kept: Vec<(&str, Member<'_, '_>)> = Vec::with_capacity(members.len());
        for (key, value) in members {
            match kept.last_mut() {
                Some(prev) if prev.0 == key => prev.1 = value,
                _ => kept.push((key, value)),
            }
        }
        struct Inner<'m, 't, 'a>(&'m [(&'t str, Member<'t, 'a>)]);
        impl Serialize for Inner<'_, '_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (key, value) in self.0 {
                    match value {
                        Member::Stored(node) => map.serialize_entry(key, &node.sorted())?,
                        Member::Stamp(ms) => {
                            map.serialize_entry(key, &ms.to_string())?;
                        }
                    }
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &Inner(&kept))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// What the export and history answers wrote before they kept text: the stored
    /// attribute parsed into a `Value`, the stamps put in, written out again.
    fn through_a_value(history: &str, server_ms: i64, client_ms: Option<i64>) -> String {
        let mut sde: Value = serde_json::from_str(history).unwrap();
        let (_, inner) = sde.as_object_mut().unwrap().iter_mut().next().unwrap();
        let inner = inner.as_object_mut().unwrap();
        inner.insert("serverTimeStamp".into(), server_ms.to_string().into());
        if let Some(ms) = client_ms {
            inner.insert("originalTimeStamp".into(), ms.to_string().into());
        }
        sde.to_string()
    }

    #[test]
    fn a_stamped_attribute_is_the_text_a_value_wrote() {
        for history in [
            r#"{"cartStatus":{"total":"11.7","products":[{"product":{"sku":"a","name":"x\"y"},"quantity":"1"}],"currency":"USD"}}"#,
            r#"{"customerInfo":{"serverTimeStamp":"1","customerInfo":{"type":"customer","customerId":"138766AC"}}}"#,
            r#"{"searchInfo":{"keywords":["é","\u0001"]}}"#,
        ] {
            for client_ms in [None, Some(1_750_000_000_020)] {
                assert_eq!(
                    stamped(history, 1_750_000_000_100, client_ms)
                        .unwrap()
                        .as_str(),
                    through_a_value(history, 1_750_000_000_100, client_ms),
                );
            }
        }
        assert!(stamped(r#"{"a":{},"b":{}}"#, 1, None).is_none());
        assert!(stamped(r#"{"a":1}"#, 1, None).is_none());
    }
}
