//! Access: everything the SQLite store holds about one visitor, as one record.

use rusqlite::{params, Connection, OptionalExtension};

use super::compact::unpack_history;
use super::events::{self, decode_run};
use super::reader::{
    client_id, corrupt, optional_id, quarantine_entry, quarantine_row, sorted_json, stamped,
    EventItem, SdeItem,
};
use super::sql_err;
use crate::privacy::{json_escaped, quarantine_names};
use crate::{RawJson, StoreError, VisitorData, VisitorPage, VisitorVisit};

/// Everything held about `visitor` in `account`; `None` when nothing is.
pub(crate) fn visitor_data(
    conn: &mut Connection,
    account: &str,
    visitor: &str,
) -> Result<Option<VisitorData>, StoreError> {
    // One read transaction: one snapshot for the whole record.
    let tx = conn.transaction().map_err(sql_err)?;
    let visit_rows: Vec<(i64, VisitorVisit)> = tx
        .prepare_cached(
            "SELECT v.id, v.session_id, v.first_seen_ms, h.last_seen_ms, v.user_agent,
                    v.referrer, v.client_properties
             FROM visits v JOIN visit_heads h ON h.visit_id = v.id
             WHERE v.account = ?1 AND v.visitor_id = ?2 ORDER BY v.id",
        )
        .and_then(|mut s| {
            s.query_map(params![account, visitor], |r| {
                Ok((
                    r.get(0)?,
                    VisitorVisit {
                        session_id: r.get(1)?,
                        first_seen_ms: r.get(2)?,
                        last_seen_ms: r.get(3)?,
                        user_agent: r.get(4)?,
                        referrer: r.get(5)?,
                        client_properties: r
                            .get::<_, Option<String>>(6)?
                            .and_then(|t| RawJson::from_text(t).ok()),
                        pages: Vec::new(),
                        exposures: Vec::new(),
                    },
                ))
            })?
            .collect()
        })
        .map_err(sql_err)?;

    let mut visits = Vec::with_capacity(visit_rows.len());
    let mut events = Vec::new();
    let mut attributes: Vec<(i64, RawJson)> = Vec::new();
    let mut shapes = events::ShapeReader::default();
    for (visit, mut record) in visit_rows {
        let mut pages = tx
            .prepare_cached(
                "SELECT page_id, url, referrer, title, sections, user_agent, received_ms
                 FROM pages WHERE visit_id = ?1 ORDER BY id",
            )
            .map_err(sql_err)?;
        let mut rows = pages.query([visit]).map_err(sql_err)?;
        while let Some(r) = rows.next().map_err(sql_err)? {
            let sections: String = r.get(4).map_err(sql_err)?;
            record.pages.push(VisitorPage {
                page_id: client_id(r, 0)?,
                url: r.get(1).map_err(sql_err)?,
                referrer: r.get(2).map_err(sql_err)?,
                title: r.get(3).map_err(sql_err)?,
                sections: serde_json::from_str(&sections).map_err(|_| corrupt("page sections"))?,
                user_agent: r.get(5).map_err(sql_err)?,
                received_ms: r.get(6).map_err(sql_err)?,
            });
        }
        drop(rows);
        record.exposures = tx
            .prepare_cached(
                "SELECT context_id FROM exposures WHERE account = ?1 AND session_id = ?2
                 ORDER BY shown_ms",
            )
            .and_then(|mut s| {
                s.query_map(params![account, record.session_id], |r| r.get(0))?
                    .collect()
            })
            .map_err(sql_err)?;

        // Events: the runs of the visit's interactions, in storage order.
        let mut runs = tx
            .prepare_cached(
                "SELECT r.id, r.server_ms, r.events, p.page_id, i.context_id
                 FROM interactions i
                 JOIN event_runs r ON r.interaction_row = i.id
                 LEFT JOIN pages p ON p.id = r.page_row
                 WHERE i.visit_id = ?1 ORDER BY r.id",
            )
            .map_err(sql_err)?;
        let mut rows = runs.query([visit]).map_err(sql_err)?;
        while let Some(r) = rows.next().map_err(sql_err)? {
            let run: i64 = r.get(0).map_err(sql_err)?;
            let server_ms: i64 = r.get(1).map_err(sql_err)?;
            let blob = r
                .get_ref(2)
                .map_err(sql_err)?
                .as_blob()
                .map_err(|e| sql_err(e.into()))?;
            let stored =
                decode_run(blob, server_ms).ok_or_else(|| corrupt(format!("event run {run}")))?;
            let page_id = optional_id(r, 3)?;
            let context_id = client_id(r, 4)?;
            for e in stored {
                let event =
                    events::offer_event(&mut shapes, &tx, &e, &context_id, page_id.as_deref())?;
                events.push(sorted_json(&EventItem {
                    id: e.client_id,
                    time: e.client_time_ms,
                    server_time: server_ms,
                    visitor_id: Some(visitor.to_owned()),
                    session_id: Some(record.session_id.clone()),
                    page_id: page_id.clone(),
                    app_name: event.name.app_name(),
                    event_name: event.name.as_str(),
                    data: &event.data,
                })?);
            }
        }
        drop(rows);

        // Attributes: the visit's chain.
        let mut next: Option<i64> = tx
            .prepare_cached("SELECT sde_head FROM visit_heads WHERE visit_id = ?1")
            .and_then(|mut s| s.query_row([visit], |r| r.get(0)).optional())
            .map_err(sql_err)?
            .flatten();
        let mut step = tx
            .prepare_cached(
                "SELECT s.client_id, s.server_ms - s.client_lag_ms, s.server_ms, p.page_id,
                        s.history, s.prev_in_visit
                 FROM sdes s LEFT JOIN pages p ON p.id = s.page_row WHERE s.id = ?1",
            )
            .map_err(sql_err)?;
        while let Some(id) = next {
            let mut rows = step.query([id]).map_err(sql_err)?;
            let Some(r) = rows.next().map_err(sql_err)? else {
                break;
            };
            let history = unpack_history(r.get_ref(4).map_err(sql_err)?)
                .ok_or_else(|| corrupt(format!("attribute {id}")))?;
            let client_ms: Option<i64> = r.get(1).map_err(sql_err)?;
            let server_ms: i64 = r.get(2).map_err(sql_err)?;
            let sde = stamped(&history, server_ms, client_ms)
                .ok_or_else(|| corrupt(format!("attribute {id}")))?;
            attributes.push((
                id,
                sorted_json(&SdeItem {
                    id: client_id(r, 0)?,
                    time: client_ms,
                    server_time: server_ms,
                    visitor_id: Some(visitor.to_owned()),
                    session_id: Some(record.session_id.clone()),
                    page_id: optional_id(r, 3)?,
                    sde,
                })?,
            ));
            let prev: Option<i64> = r.get(5).map_err(sql_err)?;
            next = prev.filter(|p| *p < id);
        }
        visits.push(record);
    }
    attributes.sort_by_key(|(id, _)| *id);

    let identities: Vec<String> = tx
        .prepare_cached(
            "SELECT identity FROM consumer_identities WHERE account = ?1 AND visitor_id = ?2
             ORDER BY created_ms",
        )
        .and_then(|mut s| {
            s.query_map(params![account, visitor], |r| r.get(0))?
                .collect()
        })
        .map_err(sql_err)?;

    let mut quarantined = Vec::new();
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, kind, idx, client_id, received_ms, raw, context, errors, replayed_ms
             FROM quarantine
             WHERE account = ?1 AND (instr(context, ?2) > 0 OR instr(raw, ?2) > 0)
             ORDER BY id",
        )
        .map_err(sql_err)?;
    // The text search only narrows; `quarantine_names` decides.
    let rows = stmt
        .query_map(params![account, json_escaped(visitor)], quarantine_row)
        .map_err(sql_err)?;
    for row in rows {
        let entry = quarantine_entry(row.map_err(sql_err)?)?;
        if quarantine_names(&entry.raw, entry.context.as_str(), visitor) {
            quarantined.push(entry);
        }
    }
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
