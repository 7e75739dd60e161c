//! Erasure and access on PostgreSQL: a visitor's rows deleted in one transaction, the
//! erasure log, and everything held about a visitor as one record.
//!
//! [`PER_VISITOR_TABLES`] lists every table that holds rows about a visitor; a table
//! added later that keeps per-visitor rows joins it and [`erase`]. What a delete leaves
//! on disk until VACUUM (and in the write-ahead log, replicas and backups) is in
//! docs/operations.md, Erasure.

use engage_model::{Sde, SdeType};
use tokio_postgres::Client;

use super::ingest::key_bytes;
use super::pg_err;
use super::reader::{client_id, quarantine_row, QUARANTINE_COLUMNS};
use crate::privacy::{counts_from_json, json_escaped, quarantine_names};
use crate::sqlite::batch::ClientKey;
use crate::sqlite::events::decode_run;
use crate::sqlite::reader::{
    corrupt, history_sde, quarantine_entry, sorted_json, stamped, EventItem, SdeItem,
};
use crate::{
    ErasureCounts, ErasureLogEntry, ErasureTarget, RawJson, StoreError, VisitorData, VisitorPage,
    VisitorVisit,
};

/// Every table holding rows about a visitor (see the SQLite backend's list).
pub const PER_VISITOR_TABLES: &[&str] = &[
    "visits",
    "pages",
    "interactions",
    "event_runs",
    "event_ids",
    "sdes",
    "sde_ids",
    "exposures",
    "consumer_identities",
    "quarantine",
    "webhook_deliveries",
    "analytics_visitors",
    "analytics_eligibility",
    "analytics_cohort",
    "analytics_offer_visitors",
    "analytics_purchases",
    "analytics_steps",
    "analytics_bot_visitors",
    "analytics_bot_eligibility",
    "analytics_bot_cohort",
    "analytics_bot_offer_visitors",
    "analytics_bot_purchases",
    "analytics_bot_steps",
];

/// Schema version 8: the erasure log (when and how much, never whose) and retention
/// settings.
pub(crate) const MIGRATION: &str = r#"
CREATE SEQUENCE erasure_ids;
CREATE TABLE erasure_log (
    account   text NOT NULL,
    id        bigint NOT NULL DEFAULT nextval('erasure_ids'),
    erased_ms bigint NOT NULL,
    target    text NOT NULL,
    counts    text NOT NULL,
    PRIMARY KEY (account, id)
);
-- How long each account keeps its data (see retention.rs); no row: for ever.
CREATE TABLE retention (
    account text PRIMARY KEY,
    days    integer NOT NULL
);
"#;

/// Erases `target`'s data in `account` in one transaction and logs it.
pub(crate) async fn erase(
    client: &mut Client,
    account: &str,
    target: &ErasureTarget,
    now_ms: i64,
) -> Result<ErasureCounts, StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    let known = tx
        .query_opt("SELECT 1 FROM accounts WHERE account = $1", &[&account])
        .await
        .map_err(pg_err)?;
    if known.is_none() {
        return Err(StoreError::UnknownAccount(account.to_owned()));
    }
    let visitors: Vec<String> = match target {
        ErasureTarget::Visitor(v) => vec![v.clone()],
        ErasureTarget::Customer(c) => customer_visitors(&tx, account, c).await?,
    };
    let mut counts = ErasureCounts::default();
    let rows = tx
        .query(
            "SELECT visit_id, session_id, visitor_id FROM visits
             WHERE account = $1 AND visitor_id = ANY($2)",
            &[&account, &visitors],
        )
        .await
        .map_err(pg_err)?;
    let mut visits: Vec<i64> = Vec::with_capacity(rows.len());
    let mut sessions: Vec<String> = Vec::with_capacity(rows.len());
    let mut seen: Vec<String> = Vec::new();
    for r in &rows {
        visits.push(r.try_get(0).map_err(pg_err)?);
        sessions.push(r.try_get(1).map_err(pg_err)?);
        let visitor: String = r.try_get(2).map_err(pg_err)?;
        if !seen.contains(&visitor) {
            seen.push(visitor);
        }
    }
    let identities: Vec<String> = tx
        .query(
            "DELETE FROM consumer_identities WHERE account = $1 AND visitor_id = ANY($2)
             RETURNING visitor_id",
            &[&account, &visitors],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg_err)?;
    counts.identities = identities.len() as u64;
    for table in crate::VISITOR_ROLLUPS {
        counts.rollups += tx
            .execute(
                &format!("DELETE FROM {table} WHERE account = $1 AND visitor_id = ANY($2)"),
                &[&account, &visitors],
            )
            .await
            .map_err(pg_err)?;
    }
    if counts.rollups > 0 {
        tx.execute(super::analytics::BUMP_GENERATION, &[&account])
            .await
            .map_err(pg_err)?;
    }
    // Keyed by the visitor (`order_key`); the body is what they did.
    counts.webhook_deliveries = tx
        .execute(
            "DELETE FROM webhook_deliveries WHERE account = $1 AND order_key = ANY($2)",
            &[&account, &visitors],
        )
        .await
        .map_err(pg_err)?;
    for v in identities {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    counts.visitors = seen.len() as u64;

    delete_visits(&tx, account, &visits, &sessions, &mut counts).await?;

    let mut named: Vec<&str> = visitors.iter().map(String::as_str).collect();
    if let ErasureTarget::Customer(c) = target {
        named.push(c);
    }
    let mut quarantined: Vec<i64> = Vec::new();
    for id in &named {
        // The text search only narrows; `quarantine_names` decides.
        for r in tx
            .query(
                "SELECT id, raw, context FROM quarantine
                 WHERE account = $1 AND (strpos(context, $2) > 0 OR strpos(raw, $2) > 0)",
                &[&account, &json_escaped(id)],
            )
            .await
            .map_err(pg_err)?
        {
            let raw: &str = r.try_get(1).map_err(pg_err)?;
            let context: &str = r.try_get(2).map_err(pg_err)?;
            let row: i64 = r.try_get(0).map_err(pg_err)?;
            if quarantine_names(raw, context, id) && !quarantined.contains(&row) {
                quarantined.push(row);
            }
        }
    }
    counts.quarantined = tx
        .execute(
            "DELETE FROM quarantine WHERE account = $1 AND id = ANY($2)",
            &[&account, &quarantined],
        )
        .await
        .map_err(pg_err)?;

    let logged = serde_json::to_string(&counts)
        .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?;
    tx.execute(
        "INSERT INTO erasure_log (account, erased_ms, target, counts) VALUES ($1, $2, $3, $4)",
        &[&account, &now_ms, &target.kind(), &logged],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(counts)
}

/// Deletes the visits (by id; `sessions` are their session ids) and everything that
/// hangs off them: see [`PER_VISITOR_TABLES`].
pub(crate) async fn delete_visits(
    tx: &tokio_postgres::Transaction<'_>,
    account: &str,
    visits: &[i64],
    sessions: &[String],
    counts: &mut ErasureCounts,
) -> Result<(), StoreError> {
    if visits.is_empty() {
        return Ok(());
    }
    // The runs come back from their delete, so what is counted and whose exactly-once
    // keys go is exactly what was deleted (see `runs` for the layout).
    let runs = tx
        .query(
            "DELETE FROM event_runs r USING interactions i
             WHERE r.account = $1 AND i.account = $1 AND i.visit_id = ANY($2)
               AND r.interaction_id = i.interaction_id
             RETURNING r.run_row, r.server_ms, r.events",
            &[&account, &visits],
        )
        .await
        .map_err(pg_err)?;
    let mut event_keys: Vec<Vec<u8>> = Vec::new();
    for r in &runs {
        let run: i64 = r.try_get(0).map_err(pg_err)?;
        let server_ms: i64 = r.try_get(1).map_err(pg_err)?;
        let blob: &[u8] = r.try_get(2).map_err(pg_err)?;
        let stored =
            decode_run(blob, server_ms).ok_or_else(|| corrupt(format!("event run {run}")))?;
        counts.events += stored.len() as u64;
        // Encoded as the writer keyed them (`ingest::key_bytes`).
        event_keys.extend(
            stored
                .into_iter()
                .map(|e| key_bytes(&ClientKey::new(e.client_id))),
        );
    }
    if !event_keys.is_empty() {
        tx.execute(
            "DELETE FROM event_ids WHERE account = $1 AND client_id = ANY($2)",
            &[&account, &event_keys],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.execute(
        "DELETE FROM sde_ids k USING sdes s
         WHERE k.account = $1 AND s.account = $1 AND s.visit_id = ANY($2)
           AND k.client_id = s.client_id",
        &[&account, &visits],
    )
    .await
    .map_err(pg_err)?;
    counts.attributes += tx
        .execute(
            "DELETE FROM sdes WHERE account = $1 AND visit_id = ANY($2)",
            &[&account, &visits],
        )
        .await
        .map_err(pg_err)?;
    counts.interactions += tx
        .execute(
            "DELETE FROM interactions WHERE account = $1 AND visit_id = ANY($2)",
            &[&account, &visits],
        )
        .await
        .map_err(pg_err)?;
    counts.pages += tx
        .execute(
            "DELETE FROM pages WHERE account = $1 AND visit_id = ANY($2)",
            &[&account, &visits],
        )
        .await
        .map_err(pg_err)?;
    counts.exposures += tx
        .execute(
            "DELETE FROM exposures WHERE account = $1 AND session_id = ANY($2)",
            &[&account, &sessions],
        )
        .await
        .map_err(pg_err)?;
    counts.visits += tx
        .execute(
            "DELETE FROM visits WHERE account = $1 AND visit_id = ANY($2)",
            &[&account, &visits],
        )
        .await
        .map_err(pg_err)?;

    Ok(())
}

/// The visitors of the account who reported `customer_id` in a customerInfo attribute:
/// the rows that may hold it are read and compared exactly. A row kept as text is found
/// by the id as a JSON string; a packed row (schema 4 on) by the id's words in `words`
/// (every row written since packing began has them; an id without letters or digits
/// reads every packed row).
async fn customer_visitors(
    tx: &tokio_postgres::Transaction<'_>,
    account: &str,
    customer_id: &str,
) -> Result<Vec<String>, StoreError> {
    let type_code = SdeType::ALL
        .iter()
        .position(|t| *t == SdeType::CustomerInfo)
        .and_then(|i| i16::try_from(i).ok())
        .unwrap_or_default();
    let quoted = serde_json::to_string(customer_id)
        .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?;
    // Letters and digits only: nothing in it is special to LIKE.
    let words_like = format!("%{}%", super::history::words(customer_id));
    let rows = tx
        .query(
            "SELECT v.visitor_id, s.sde_row, s.history, s.packed FROM sdes s
             JOIN visits v ON v.account = s.account AND v.visit_id = s.visit_id
             WHERE s.account = $1 AND s.sde_type = $2
               AND (strpos(s.history, $3) > 0 OR (s.packed IS NOT NULL AND s.words LIKE $4))",
            &[&account, &type_code, &quoted, &words_like],
        )
        .await
        .map_err(pg_err)?;
    let mut visitors: Vec<String> = Vec::new();
    for r in rows {
        let visitor: String = r.try_get(0).map_err(pg_err)?;
        let id: i64 = r.try_get(1).map_err(pg_err)?;
        let history = super::runs::stored_history(
            r.try_get(2).map_err(pg_err)?,
            r.try_get(3).map_err(pg_err)?,
        )
        .ok_or_else(|| corrupt(format!("attribute {id}")))?;
        let reported = match history_sde(&history)? {
            Sde::CustomerInfo(c) => c.customer_id.text_value() == Some(customer_id),
            _ => false,
        };
        if reported && !visitors.contains(&visitor) {
            visitors.push(visitor);
        }
    }
    Ok(visitors)
}

/// The account's erasure log, newest first.
pub(crate) async fn log(
    client: &Client,
    account: &str,
    limit: usize,
) -> Result<Vec<ErasureLogEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT id, erased_ms, target, counts FROM erasure_log
             WHERE account = $1 ORDER BY id DESC LIMIT $2",
            &[&account, &limit],
        )
        .await
        .map_err(pg_err)?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get(0).map_err(pg_err)?;
            let counts: &str = r.try_get(3).map_err(pg_err)?;
            Ok(ErasureLogEntry {
                id,
                erased_ms: r.try_get(1).map_err(pg_err)?,
                target: r.try_get(2).map_err(pg_err)?,
                removed: counts_from_json(counts)
                    .ok_or_else(|| corrupt(format!("erasure log entry {id}")))?,
            })
        })
        .collect()
}

/// Everything held about `visitor` in `account`, from one snapshot; `None` when nothing
/// is.
pub(crate) async fn visitor_data(
    client: &mut Client,
    account: &str,
    visitor: &str,
) -> Result<Option<VisitorData>, StoreError> {
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(pg_err)?;
    let visit_rows = tx
        .query(
            "SELECT visit_id, session_id, first_seen_ms, last_seen_ms, user_agent, referrer,
                    client_properties
             FROM visits WHERE account = $1 AND visitor_id = $2 ORDER BY visit_id",
            &[&account, &visitor],
        )
        .await
        .map_err(pg_err)?;
    let mut visits = Vec::with_capacity(visit_rows.len());
    let mut events = Vec::new();
    let mut attributes = Vec::new();
    for v in &visit_rows {
        let visit_id: i64 = v.try_get(0).map_err(pg_err)?;
        let session_id: String = v.try_get(1).map_err(pg_err)?;
        let client_properties: Option<String> = v.try_get(6).map_err(pg_err)?;
        let mut record = VisitorVisit {
            session_id: session_id.clone(),
            first_seen_ms: v.try_get(2).map_err(pg_err)?,
            last_seen_ms: v.try_get(3).map_err(pg_err)?,
            user_agent: v.try_get(4).map_err(pg_err)?,
            referrer: v.try_get(5).map_err(pg_err)?,
            client_properties: client_properties.and_then(|t| RawJson::from_text(t).ok()),
            pages: Vec::new(),
            exposures: Vec::new(),
        };
        for p in tx
            .query(
                "SELECT page_id, url, referrer, title, sections, user_agent, received_ms
                 FROM pages WHERE account = $1 AND visit_id = $2 ORDER BY page_row",
                &[&account, &visit_id],
            )
            .await
            .map_err(pg_err)?
        {
            let sections: &str = p.try_get(4).map_err(pg_err)?;
            record.pages.push(VisitorPage {
                page_id: p.try_get(0).map_err(pg_err)?,
                url: p.try_get(1).map_err(pg_err)?,
                referrer: p.try_get(2).map_err(pg_err)?,
                title: p.try_get(3).map_err(pg_err)?,
                sections: serde_json::from_str(sections).map_err(|_| corrupt("page sections"))?,
                user_agent: p.try_get(5).map_err(pg_err)?,
                received_ms: p.try_get(6).map_err(pg_err)?,
            });
        }
        record.exposures = tx
            .query(
                "SELECT context_id FROM exposures WHERE account = $1 AND session_id = $2
                 ORDER BY shown_ms",
                &[&account, &session_id],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        events.extend(visit_events(&tx, account, visit_id, visitor, &session_id).await?);
        for r in tx
            .query(
                "SELECT s.sde_row, s.client_id, s.client_ms, s.server_ms, p.page_id, s.history,
                        s.packed
                 FROM sdes s
                 LEFT JOIN pages p ON p.account = s.account AND p.page_row = s.page_row
                 WHERE s.account = $1 AND s.visit_id = $2 ORDER BY s.sde_row",
                &[&account, &visit_id],
            )
            .await
            .map_err(pg_err)?
        {
            let id: i64 = r.try_get(0).map_err(pg_err)?;
            let history = super::runs::stored_history(
                r.try_get(5).map_err(pg_err)?,
                r.try_get(6).map_err(pg_err)?,
            )
            .ok_or_else(|| corrupt(format!("attribute {id}")))?;
            let client_ms: Option<i64> = r.try_get(2).map_err(pg_err)?;
            let server_ms: i64 = r.try_get(3).map_err(pg_err)?;
            let sde = stamped(&history, server_ms, client_ms)
                .ok_or_else(|| corrupt(format!("attribute {id}")))?;
            attributes.push((
                id,
                sorted_json(&SdeItem {
                    id: client_id(&r, 1)?,
                    time: client_ms,
                    server_time: server_ms,
                    visitor_id: Some(visitor.to_owned()),
                    session_id: Some(session_id.clone()),
                    page_id: r.try_get(4).map_err(pg_err)?,
                    sde,
                })?,
            ));
        }
        visits.push(record);
    }
    attributes.sort_by_key(|(id, _)| *id);
    let identities: Vec<String> = tx
        .query(
            "SELECT identity FROM consumer_identities WHERE account = $1 AND visitor_id = $2
             ORDER BY created_ms",
            &[&account, &visitor],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg_err)?;
    let mut quarantined = Vec::new();
    for r in tx
        .query(
            &format!(
                "SELECT {QUARANTINE_COLUMNS} FROM quarantine
                 WHERE account = $1 AND (strpos(context, $2) > 0 OR strpos(raw, $2) > 0)
                 ORDER BY id"
            ),
            &[&account, &json_escaped(visitor)],
        )
        .await
        .map_err(pg_err)?
    {
        let entry = quarantine_entry(quarantine_row(&r)?)?;
        if quarantine_names(&entry.raw, entry.context.as_str(), visitor) {
            quarantined.push(entry);
        }
    }
    tx.commit().await.map_err(pg_err)?;
    if visits.is_empty() && identities.is_empty() && quarantined.is_empty() {
        return Ok(None);
    }
    Ok(Some(VisitorData {
        visitor_id: visitor.to_owned(),
        visits,
        events,
        attributes: attributes.into_iter().map(|(_, a)| a).collect(),
        identities,
        quarantined,
    }))
}

/// A visit's events as export items, in storage order: its interactions' runs by row,
/// each unpacked over the shape dictionary (see `runs`).
async fn visit_events(
    tx: &tokio_postgres::Transaction<'_>,
    account: &str,
    visit_id: i64,
    visitor: &str,
    session_id: &str,
) -> Result<Vec<RawJson>, StoreError> {
    let rows = tx
        .query(
            "SELECT r.run_row, r.server_ms, r.events, i.context_id, p.page_id
             FROM interactions i
             JOIN event_runs r ON r.account = i.account AND r.interaction_id = i.interaction_id
             LEFT JOIN pages p ON p.account = r.account AND p.page_row = r.page_row
             WHERE i.account = $1 AND i.visit_id = $2
             ORDER BY r.run_row",
            &[&account, &visit_id],
        )
        .await
        .map_err(pg_err)?;
    let mut decoded = Vec::with_capacity(rows.len());
    let mut shape_ids = Vec::new();
    for r in &rows {
        let run: i64 = r.try_get(0).map_err(pg_err)?;
        let server_ms: i64 = r.try_get(1).map_err(pg_err)?;
        let blob: &[u8] = r.try_get(2).map_err(pg_err)?;
        let stored =
            decode_run(blob, server_ms).ok_or_else(|| corrupt(format!("event run {run}")))?;
        shape_ids.extend(stored.iter().map(|e| e.shape));
        decoded.push((server_ms, stored));
    }
    shape_ids.sort_unstable();
    shape_ids.dedup();
    let shapes = super::runs::load_shapes(tx, account, &shape_ids).await?;
    let mut events = Vec::new();
    for (r, (server_ms, stored)) in rows.iter().zip(decoded) {
        let context_id: &str = r.try_get(3).map_err(pg_err)?;
        let page_id: Option<&str> = r.try_get(4).map_err(pg_err)?;
        for e in stored {
            let event = super::runs::offer_event(&shapes, &e, context_id, page_id)?;
            events.push(sorted_json(&EventItem {
                id: e.client_id,
                time: e.client_time_ms,
                server_time: server_ms,
                visitor_id: Some(visitor.to_owned()),
                session_id: Some(session_id.to_owned()),
                page_id: page_id.map(str::to_owned),
                app_name: event.name.app_name(),
                event_name: event.name.as_str(),
                data: &event.data,
            })?);
        }
    }
    Ok(events)
}
