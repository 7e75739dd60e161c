//! Erasure: every trace of a visitor (or of every visitor who reported a customer id)
//! removed inside the writer's transaction, for good on disk.
//!
//! [`PER_VISITOR_TABLES`] lists every table that holds rows about a visitor and
//! [`erase_visits`] removes them; a table added later that keeps per-visitor rows
//! (rollups, webhook deliveries, ...) joins both, and the erasure test that greps the
//! data directory proves it.
//!
//! Permanent on disk (docs/operations.md, Erasure):
//! - `PRAGMA secure_delete = ON` on the connections that write (`schema`): deleted cells
//!   and freed pages are overwritten with zeros.
//! - After the commit the writer rewrites the file (`VACUUM`, `writer`): a page rebuilt
//!   while a B-tree rebalances keeps old copies of its cells in its unused middle,
//!   which `secure_delete` never visits.
//! - The attribute text index (`sde_text`, contentless FTS5) deletes a row only when
//!   given the row's own text, which [`delete_text_rows`] rebuilds; a delete only adds a
//!   marker, so the index is then merged into one segment (`optimize`), which writes the
//!   segments again without the erased words and frees the old ones (zeroed). That costs
//!   a pass over the whole index on the writer thread (docs/operations.md). FTS5's own
//!   `secure-delete` option would remove the words in place, but with the bundled
//!   SQLite 3.46.0 it leaves a contentless index failing `integrity-check`.
//! - The writer checkpoints the log with TRUNCATE after the commit (`writer`), so the
//!   write-ahead log keeps no page image from before the erasure.

use std::collections::{BTreeMap, HashMap};

use engage_model::{Sde, SdeType};
use rusqlite::{params, Connection, OptionalExtension};

use super::batch::ClientKey;
use super::compact::unpack_history;
use super::events::decode_run;
use super::history::{search_text, SdeText};
use super::reader::history_sde;
use super::writer::Failure;
use crate::privacy::{json_escaped, quarantine_names};
use crate::{ErasureCounts, ErasureTarget, StoreError};

/// Every table holding rows about a visitor, and how [`erase_visits`] finds them. Keep
/// it in step with `erase_visits` (and the PostgreSQL backend's list).
pub const PER_VISITOR_TABLES: &[(&str, &str)] = &[
    ("visits", "account and visitor_id"),
    ("visit_heads", "visit_id"),
    ("pages", "visit_id"),
    ("interactions", "visit_id"),
    ("event_runs", "interaction_row"),
    ("event_ids", "the client ids in the erased runs"),
    (
        "sdes",
        "the visit's chain (visit_heads.sde_head, prev_in_visit)",
    ),
    (
        "sde_text",
        "the erased attributes' rows, deleted with their text",
    ),
    ("exposures", "account and session_id"),
    ("consumer_identities", "account and visitor_id"),
    (
        "quarantine",
        "context visitorId, or the id as a JSON string in raw",
    ),
    ("webhook_deliveries", "account and order_key (the visitor)"),
    (
        "analytics_visitors",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_eligibility",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_cohort",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_offer_visitors",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_purchases",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_steps",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_visitors",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_eligibility",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_cohort",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_offer_visitors",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_purchases",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
    (
        "analytics_bot_steps",
        "account and visitor_id (VISITOR_ROLLUPS)",
    ),
];

/// Schema version 10: the erasure log, page views by visit, and retention settings.
pub(crate) const MIGRATION: &str = r#"
-- Page views by visit, for erasure, access and retention.
CREATE INDEX pages_visit ON pages (visit_id);
-- When and how much was erased, never whose data.
CREATE TABLE erasure_log (
    id        INTEGER PRIMARY KEY,
    account   TEXT NOT NULL,
    erased_ms INTEGER NOT NULL,
    target    TEXT NOT NULL,
    counts    TEXT NOT NULL
);
CREATE INDEX erasure_log_account ON erasure_log (account, id);
-- How long each account keeps its data (see `retention`); no row: for ever.
CREATE TABLE retention (
    account TEXT PRIMARY KEY NOT NULL,
    days    INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Erases `target`'s data in `account` and logs it; answers what was removed.
pub(crate) fn erase(
    conn: &Connection,
    account: &str,
    target: &ErasureTarget,
    now_ms: i64,
) -> Result<ErasureCounts, Failure> {
    let known = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account])?;
    if !known {
        return Err(Failure::Refused(StoreError::UnknownAccount(
            account.to_owned(),
        )));
    }
    let visitors = match target {
        ErasureTarget::Visitor(v) => vec![v.clone()],
        ErasureTarget::Customer(c) => customer_visitors(conn, account, c)?,
    };
    let mut counts = ErasureCounts::default();
    for visitor in &visitors {
        let visits: Vec<(i64, String)> = conn
            .prepare_cached(
                "SELECT id, session_id FROM visits WHERE account = ?1 AND visitor_id = ?2",
            )?
            .query_map(params![account, visitor], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let identities = conn
            .prepare_cached(
                "DELETE FROM consumer_identities WHERE account = ?1 AND visitor_id = ?2",
            )?
            .execute(params![account, visitor])?;
        counts.identities += identities as u64;
        counts.webhook_deliveries += conn
            .prepare_cached("DELETE FROM webhook_deliveries WHERE account = ?1 AND order_key = ?2")?
            .execute(params![account, visitor])? as u64;
        for table in crate::VISITOR_ROLLUPS {
            counts.rollups += conn
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE account = ?1 AND visitor_id = ?2"
                ))?
                .execute(params![account, visitor])? as u64;
        }
        if !visits.is_empty() || identities > 0 {
            counts.visitors += 1;
        }
        erase_visits(conn, account, &visits, &mut counts, TextIndex::Merge)?;
    }
    if counts.rollups > 0 {
        super::analytics::bump_generation(conn, account)?;
    }
    let mut named: Vec<&str> = visitors.iter().map(String::as_str).collect();
    if let ErasureTarget::Customer(c) = target {
        named.push(c);
    }
    counts.quarantined += erase_quarantine(conn, account, &named)?;
    let logged = serde_json::to_string(&counts)
        .map_err(|e| Failure::Refused(StoreError::Backend(format!("serializing: {e}"))))?;
    conn.prepare_cached(
        "INSERT INTO erasure_log (account, erased_ms, target, counts) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![account, now_ms, target.kind(), logged])?;
    Ok(counts)
}

/// What [`erase_visits`] does to the text index after deleting rows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextIndex {
    /// Merge it into one segment, so the deleted words leave the disk now (erasure).
    Merge,
    /// Leave the delete markers to FTS5's own merges (retention: the words are out of
    /// every search at once, and a merge per sweep step would rewrite the index each time).
    Leave,
}

/// Removes the visits (row id, session id) and everything that hangs off them: see
/// [`PER_VISITOR_TABLES`].
pub(crate) fn erase_visits(
    conn: &Connection,
    account: &str,
    visits: &[(i64, String)],
    counts: &mut ErasureCounts,
    text_index: TextIndex,
) -> rusqlite::Result<()> {
    let mut text_deleted = false;
    for (visit, session) in visits {
        // Attributes: the visit's chain, newest first.
        let mut sdes = Vec::new();
        let mut next: Option<i64> = conn
            .prepare_cached("SELECT sde_head FROM visit_heads WHERE visit_id = ?1")?
            .query_row([visit], |r| r.get(0))
            .optional()?
            .flatten();
        let mut step =
            conn.prepare_cached("SELECT history, prev_in_visit FROM sdes WHERE id = ?1")?;
        while let Some(id) = next {
            let Some((history, prev)) = step
                .query_row([id], |r| {
                    Ok((unpack_history(r.get_ref(0)?), r.get::<_, Option<i64>>(1)?))
                })
                .optional()?
            else {
                break;
            };
            sdes.push(StoredText::new(id, history.as_deref()));
            next = prev.filter(|p| *p < id);
        }
        sdes.sort_by_key(|s| s.id);
        if delete_text_rows(conn, &sdes)? {
            text_deleted = true;
        }
        let mut delete_sde = conn.prepare_cached("DELETE FROM sdes WHERE id = ?1")?;
        for s in &sdes {
            counts.attributes += delete_sde.execute([s.id])? as u64;
        }

        // Events: the runs of the visit's interactions, and their exactly-once keys.
        let interactions: Vec<i64> = conn
            .prepare_cached("SELECT id FROM interactions WHERE visit_id = ?1")?
            .query_map([visit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut runs = conn.prepare_cached(
            "SELECT id, server_ms, events FROM event_runs WHERE interaction_row = ?1",
        )?;
        let mut delete_key =
            conn.prepare_cached("DELETE FROM event_ids WHERE account = ?1 AND client_id = ?2")?;
        let mut delete_run = conn.prepare_cached("DELETE FROM event_runs WHERE id = ?1")?;
        for interaction in &interactions {
            let found: Vec<(i64, i64, Vec<u8>)> = runs
                .query_map([interaction], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (run, server_ms, blob) in found {
                for event in decode_run(&blob, server_ms).unwrap_or_default() {
                    delete_key.execute(params![account, ClientKey::new(event.client_id)])?;
                    counts.events += 1;
                }
                delete_run.execute([run])?;
            }
        }
        counts.interactions += conn
            .prepare_cached("DELETE FROM interactions WHERE visit_id = ?1")?
            .execute([visit])? as u64;
        counts.pages += conn
            .prepare_cached("DELETE FROM pages WHERE visit_id = ?1")?
            .execute([visit])? as u64;
        counts.exposures += conn
            .prepare_cached("DELETE FROM exposures WHERE account = ?1 AND session_id = ?2")?
            .execute(params![account, session])? as u64;
        conn.prepare_cached("DELETE FROM visit_heads WHERE visit_id = ?1")?
            .execute([visit])?;
        counts.visits += conn
            .prepare_cached("DELETE FROM visits WHERE id = ?1")?
            .execute([visit])? as u64;
    }
    if text_deleted && text_index == TextIndex::Merge {
        // The deletes above are markers; merging drops the words they hide for good.
        conn.execute_batch("INSERT INTO sde_text (sde_text) VALUES ('optimize')")?;
    }
    Ok(())
}

/// Deletes the quarantined inputs of the account that name any of `ids`; answers how
/// many. The account's quarantine (bounded by its quota) is scanned once per id.
fn erase_quarantine(conn: &Connection, account: &str, ids: &[&str]) -> rusqlite::Result<u64> {
    let mut delete = conn.prepare_cached("DELETE FROM quarantine WHERE id = ?1")?;
    let mut erased = 0;
    for id in ids {
        // The text search only narrows; `quarantine_names` decides.
        let rows: Vec<(i64, String, String)> = conn
            .prepare_cached(
                "SELECT id, raw, context FROM quarantine
                 WHERE account = ?1 AND (instr(context, ?2) > 0 OR instr(raw, ?2) > 0)",
            )?
            .query_map(params![account, json_escaped(id)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (row, raw, context) in rows {
            if quarantine_names(&raw, &context, id) {
                erased += delete.execute([row])? as u64;
            }
        }
    }
    Ok(erased)
}

/// The visitors of the account who reported `customer_id` in a customerInfo attribute.
/// The text index narrows the visits to look at (when the id has a word to look for);
/// each candidate's attributes are then read and compared exactly.
fn customer_visitors(
    conn: &Connection,
    account: &str,
    customer_id: &str,
) -> rusqlite::Result<Vec<String>> {
    let candidates: Vec<(i64, String)> = if customer_id.chars().any(char::is_alphanumeric) {
        let phrase = customer_id.replace('"', "\"\"");
        let expression = format!("{{{}}} : \"{phrase}\"", SdeType::CustomerInfo.history_key());
        conn.prepare_cached(
            "SELECT DISTINCT v.id, v.visitor_id FROM sde_text t
             JOIN sdes s ON s.id = t.rowid
             JOIN visits v ON v.id = s.visit_id
             WHERE sde_text MATCH ?1 AND v.account = ?2",
        )?
        .query_map(params![expression, account], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?
    } else {
        conn.prepare_cached("SELECT id, visitor_id FROM visits WHERE account = ?1")?
            .query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut visitors: Vec<String> = Vec::new();
    let mut head = conn.prepare_cached("SELECT sde_head FROM visit_heads WHERE visit_id = ?1")?;
    let mut step = conn.prepare_cached("SELECT history, prev_in_visit FROM sdes WHERE id = ?1")?;
    for (visit, visitor) in candidates {
        if visitors.contains(&visitor) {
            continue;
        }
        let mut next: Option<i64> = head.query_row([visit], |r| r.get(0)).optional()?.flatten();
        while let Some(id) = next {
            let Some((history, prev)) = step
                .query_row([id], |r| {
                    Ok((unpack_history(r.get_ref(0)?), r.get::<_, Option<i64>>(1)?))
                })
                .optional()?
            else {
                break;
            };
            let reported = history
                .as_deref()
                .and_then(|h| history_sde(h).ok())
                .is_some_and(|sde| match sde {
                    Sde::CustomerInfo(c) => c.customer_id.text_value() == Some(customer_id),
                    _ => false,
                });
            if reported {
                visitors.push(visitor);
                break;
            }
            next = prev.filter(|p| *p < id);
        }
    }
    Ok(visitors)
}

/// An erased attribute's row id, type and the text the index was given for it.
struct StoredText {
    id: i64,
    sde_type: Option<SdeType>,
    text: String,
}

impl StoredText {
    fn new(id: i64, history: Option<&str>) -> StoredText {
        let sde_type = history.and_then(|h| {
            let tape = engage_model::Tape::parse_str(h).ok()?;
            let (key, _) = tape.root().members()?.next()?;
            SdeType::from_history_key(key)
        });
        StoredText {
            id,
            sde_type,
            text: history.map(search_text).unwrap_or_default(),
        }
    }
}

/// Deletes the text index rows of `sdes` (one visit's attributes, by row id).
///
/// An index row holds one ingest batch's attributes under the row id of the batch's
/// first one (`history::SdeText`), and a contentless FTS5 index deletes a row only when
/// given exactly the text it was given. The rows are found through the index itself: for
/// each attribute with words, its rarest word's entries (`fts5vocab`) name the index rows
/// that hold it; the attribute belongs to the latest of those at or before it among the
/// visit's attributes (a batch's attributes are consecutive rows of one visit). Each
/// index row's text is then rebuilt from its attributes in row order, as the writer
/// built it. Answers whether any row was deleted.
fn delete_text_rows(conn: &Connection, sdes: &[StoredText]) -> rusqlite::Result<bool> {
    if sdes.iter().all(|s| s.text.is_empty()) {
        return Ok(false);
    }
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.erasure_words USING fts5(t, content = '');
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.erasure_word_list
             USING fts5vocab(temp, erasure_words, instance);
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.sde_text_words USING fts5vocab(main, sde_text, row);
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.sde_text_entries
             USING fts5vocab(main, sde_text, instance);
         INSERT INTO temp.erasure_words (erasure_words) VALUES ('delete-all');",
    )?;
    // Each attribute's words, tokenized as the index tokenizes them.
    let mut put =
        conn.prepare_cached("INSERT INTO temp.erasure_words (rowid, t) VALUES (?1, ?2)")?;
    for s in sdes.iter().filter(|s| !s.text.is_empty()) {
        put.execute(params![s.id, s.text])?;
    }
    let mut words: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    {
        let mut list =
            conn.prepare_cached("SELECT DISTINCT doc, term FROM temp.erasure_word_list")?;
        let mut rows = list.query([])?;
        while let Some(r) = rows.next()? {
            words.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
    }
    let mut frequency: HashMap<String, i64> = HashMap::new();
    let mut docs_of = conn.prepare_cached("SELECT doc FROM temp.sde_text_words WHERE term = ?1")?;
    let mut entries =
        conn.prepare_cached("SELECT DISTINCT doc FROM temp.sde_text_entries WHERE term = ?1")?;
    let ids: Vec<i64> = sdes.iter().map(|s| s.id).collect();
    let mut rows: Vec<i64> = Vec::new();
    for (id, terms) in &words {
        for term in terms {
            if !frequency.contains_key(term) {
                let docs: i64 = docs_of
                    .query_row([term], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                frequency.insert(term.clone(), docs);
            }
        }
        let Some(rarest) = terms
            .iter()
            .filter(|t| frequency.get(*t).copied().unwrap_or(0) > 0)
            .min_by_key(|t| frequency.get(*t).copied().unwrap_or(0))
        else {
            tracing::warn!(
                attribute = id,
                "an erased attribute has no entries in the text index"
            );
            continue;
        };
        let holders: Vec<i64> = entries
            .query_map([rarest], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let row = holders
            .into_iter()
            .filter(|d| d <= id && ids.binary_search(d).is_ok())
            .max();
        match row {
            Some(row) => rows.push(row),
            None => tracing::warn!(
                attribute = id,
                "no text index row holds an erased attribute"
            ),
        }
    }
    rows.sort_unstable();
    rows.dedup();
    for (i, row) in rows.iter().enumerate() {
        let end = rows.get(i + 1).copied().unwrap_or(i64::MAX);
        let mut text = SdeText::default();
        for s in sdes.iter().filter(|s| s.id >= *row && s.id < end) {
            if let Some(t) = s.sde_type {
                text.add(s.id, t, &s.text);
            }
        }
        text.delete(conn, *row)?;
    }
    conn.execute_batch("INSERT INTO temp.erasure_words (erasure_words) VALUES ('delete-all');")?;
    Ok(!rows.is_empty())
}

/// The account's erasure log, newest first.
pub(crate) fn log(
    conn: &Connection,
    account: &str,
    limit: usize,
) -> Result<Vec<crate::ErasureLogEntry>, StoreError> {
    use super::sql_err;
    let rows: Vec<(i64, i64, String, String)> = conn
        .prepare_cached(
            "SELECT id, erased_ms, target, counts FROM erasure_log
             WHERE account = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(
                params![account, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect()
        })
        .map_err(sql_err)?;
    rows.into_iter()
        .map(|(id, erased_ms, target, counts)| {
            Ok(crate::ErasureLogEntry {
                id,
                erased_ms,
                target,
                removed: crate::privacy::counts_from_json(&counts)
                    .ok_or_else(|| super::reader::corrupt(format!("erasure log entry {id}")))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use engage_model::FieldError;

    use super::*;
    use crate::sample::{self, page_sde};
    use crate::sqlite::SqliteStore;
    use crate::{IngestBatch, NewAccount, NewQuarantine, PageView, QuarantineKind, RawJson, Store};

    /// Tables that hold nothing about a visitor: accounts and their settings, campaigns,
    /// the shared event dictionary, the erasure log, and the text index's own tables.
    const NOT_PER_VISITOR: &[&str] = &[
        "accounts",
        "apps",
        "campaigns",
        "engagements",
        "engagement_revisions",
        "oauth_keys",
        "oauth_nonces",
        "event_shapes",
        "erasure_log",
        "retention",
        "analytics_generations",
        "console_sessions",
        "webhooks",
        "analytics_offer_counts",
        "analytics_bot_offer_counts",
        "sde_text_data",
        "sde_text_idx",
        "sde_text_config",
    ];

    #[tokio::test]
    async fn every_table_is_either_erased_per_visitor_or_holds_nothing_about_visitors() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("engage.db"))
            .await
            .unwrap();
        store.close().await.unwrap();
        let conn = Connection::open(dir.path().join("engage.db")).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for table in &tables {
            assert!(
                PER_VISITOR_TABLES.iter().any(|(t, _)| t == table)
                    || NOT_PER_VISITOR.contains(&table.as_str()),
                "table {table} is new: erase its per-visitor rows (erasure.rs) or list it as \
                 holding nothing about visitors"
            );
        }
    }

    fn batch(account: &str, visitor: &str, session: &str, n: usize, secret: &str) -> IngestBatch {
        let mut visit = sample::visit_context(visitor, session, &format!("{session}-page-{n}"));
        visit.page = Some(PageView {
            url: Some(format!("https://shop.example/{secret}url?n={n}")),
            referrer: None,
            title: Some(format!("{secret}title")),
            sections: vec![format!("{secret}section")],
        });
        visit.user_agent = Some(format!("Mozilla/5.0 {secret}agent"));
        let mut b = IngestBatch {
            account_id: account.to_owned(),
            received_ms: crate::ids::now_ms(),
            visit: Some(visit),
            events: vec![sample::new_event(
                sample::event("START", &format!("{secret}ctx{n}"), "page-ctx"),
                None,
            )],
            sdes: vec![
                sample::new_sde(
                    page_sde(&format!(
                        r#"{{"type":"ctmrinfo","info":{{"customerId":"{secret}cust","userName":"{secret}user{n}"}}}}"#
                    )),
                    None,
                ),
                sample::new_sde(
                    page_sde(&format!(
                        r#"{{"type":"personal","personal":{{"firstname":"{secret}first","contacts":[{{"email":"{secret}mail@example.com"}}]}}}}"#
                    )),
                    None,
                ),
                sample::new_sde(sample::sde(SdeType::Cart), None),
            ],
            rejected: vec![NewQuarantine {
                kind: QuarantineKind::Sde,
                index: Some(3),
                client_id: None,
                raw: format!(r#"{{"sde":{{"type":"{secret}bad"}}}}"#),
                context: RawJson::to_json(&serde_json::json!({
                    "visitorId": visitor, "sessionId": session, "pageId": "p"
                }))
                .unwrap(),
                errors: vec![FieldError::new("/sdes/3/sde/type", "unknown type")],
            }],
        };
        // Two batches in one: the text index holds one row per batch with both.
        if n % 3 == 0 {
            b.sdes
                .push(sample::new_sde(sample::sde(SdeType::Purchase), None));
        }
        b
    }

    /// How many times `needle` (ASCII, matched case-insensitively) is in the files under
    /// `dir`, by file.
    fn occurrences(dir: &Path, needle: &str) -> Vec<(String, usize)> {
        let needle = needle.to_ascii_lowercase().into_bytes();
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap().to_ascii_lowercase();
            let n = bytes.windows(needle.len()).filter(|w| *w == needle).count();
            if n > 0 {
                found.push((path.display().to_string(), n));
            }
        }
        found
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_erased_visitors_values_are_in_no_file_of_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = SqliteStore::open(&data.join("engage.db")).await.unwrap();
        let account = store
            .create_account(NewAccount {
                name: "erasure".into(),
                api_key_hash: "0".repeat(64),
            })
            .await
            .unwrap()
            .id;
        // Enough batches, interleaved with a kept visitor's and strangers', for the text
        // index to merge segments and tables to split pages while the erased visitor's
        // values are in them.
        for n in 0..400 {
            let session = format!("qqsession{}", n / 100);
            store
                .ingest(batch(&account, "qqvisitorgone", &session, n, "qqgone"))
                .await
                .unwrap();
            store
                .ingest(batch(
                    &account,
                    "qqvisitorkept",
                    "kept-session",
                    n,
                    "qqkept",
                ))
                .await
                .unwrap();
            store
                .ingest(batch(
                    &account,
                    &format!("stranger-{n}"),
                    &format!("s-{n}"),
                    n,
                    "filler",
                ))
                .await
                .unwrap();
        }
        store
            .link_identity(&account, "qqidentitygone", "qqvisitorgone")
            .await
            .unwrap();
        {
            let conn = Connection::open(data.join("engage.db")).unwrap();
            conn.execute_batch(
                "INSERT INTO sde_text (sde_text, rank) VALUES ('integrity-check', 0)",
            )
            .expect("the text index is consistent before the erasure");
        }
        let counts = store
            .erase(&account, ErasureTarget::Customer("qqgonecust".into()))
            .await
            .unwrap();
        assert_eq!((counts.visitors, counts.visits, counts.events), (1, 4, 400));
        assert_eq!(counts.attributes, 400 * 3 + 134);
        assert_eq!(counts.quarantined, 400);

        let conn = Connection::open(data.join("engage.db")).unwrap();
        conn.execute_batch("INSERT INTO sde_text (sde_text, rank) VALUES ('integrity-check', 0)")
            .expect("the text index is consistent after the erasure");
        drop(conn);
        for gone in ["qqgone", "qqvisitorgone", "qqsession", "qqidentitygone"] {
            assert_eq!(occurrences(&data, gone), [], "{gone} is still on disk");
        }
        for kept in [
            "qqkeptmail",
            "qqkeptcust",
            "qqvisitorkept",
            "qqkepttitle",
            "qqkeptagent",
        ] {
            assert!(
                !occurrences(&data, kept).is_empty(),
                "{kept} should be on disk"
            );
        }
        // The kept visitor is still found by the words the erasure took out of the index.
        let mut q = crate::history_conformance::query(0, i64::MAX / 2);
        q.filters.keyword = Some(crate::TextSearch {
            text: "qqkeptmail@example.com".into(),
            types: Vec::new(),
        });
        assert_eq!(
            store.search_interactions(&account, q).await.unwrap().count,
            400
        );
        store.close().await.unwrap();
        for gone in ["qqgone", "qqvisitorgone"] {
            assert_eq!(
                occurrences(&data, gone),
                [],
                "{gone} is on disk after close"
            );
        }
    }

    /// What an erasure costs against the size of the text index it merges:
    /// `ERASE_BATCHES=20000 cargo test --release -p engage-store --lib erasure_cost -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement"]
    async fn erasure_cost() {
        let batches: usize = std::env::var("ERASE_BATCHES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        let dir = tempfile::tempdir_in(".").unwrap();
        let path = dir.path().join("engage.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let account = store
            .create_account(NewAccount {
                name: "cost".into(),
                api_key_hash: "0".repeat(64),
            })
            .await
            .unwrap()
            .id;
        let mut pending = Vec::new();
        for n in 0..batches {
            let b = batch(
                &account,
                &format!("v-{}", n % 5000),
                &format!("s-{}", n % 5000),
                n,
                &format!("w{n}x"),
            );
            pending.push(store.ingest(b));
            if pending.len() == 64 {
                for r in futures_join(std::mem::take(&mut pending)).await {
                    r.unwrap();
                }
            }
        }
        for r in futures_join(pending).await {
            r.unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let index_bytes: i64 = conn
            .query_row("SELECT sum(length(block)) FROM sde_text_data", [], |r| {
                r.get(0)
            })
            .unwrap();
        let started = std::time::Instant::now();
        let counts = store
            .erase(&account, ErasureTarget::Visitor("v-7".into()))
            .await
            .unwrap();
        println!(
            "{batches} batches, text index {:.1} MB: erasing {} attributes took {:?}",
            index_bytes as f64 / 1e6,
            counts.attributes,
            started.elapsed()
        );
        store.close().await.unwrap();
    }

    async fn futures_join<T>(futures: Vec<impl std::future::Future<Output = T>>) -> Vec<T> {
        let mut out = Vec::with_capacity(futures.len());
        let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
        for h in handles {
            out.push(h.await);
        }
        out
    }
}
