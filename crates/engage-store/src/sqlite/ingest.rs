//! Writing one batch inside the writer's current transaction: the account check, the
//! session and page (read or created), each context's interaction row, the events and
//! SDEs (deduplicated by client id), each accepted SDE chained to its visit, and the
//! quarantine rows.
//!
//! Invariants: nothing is written before the account is known; the caches change only
//! after every statement of the batch succeeded. An event or SDE whose `(account, client
//! id)` is stored already is skipped by its unique index and counted as a duplicate,
//! within one batch, across retries and across concurrent requests alike.
//!
//! Statement journals are avoided on purpose: inserts are `INSERT OR IGNORE` (a NOT NULL
//! column with the default ABORT makes SQLite journal every multi-row insert; our NOT
//! NULL columns are bound from non-optional values, so IGNORE only ever skips a
//! duplicate client id).

use engage_model::bot;
use rusqlite::{params, Connection, OptionalExtension};

use super::batch::{PreparedBatch, PreparedVisit};
use super::cache::{interaction_key, key, SessionSlot, WriterState};
use super::interactions;
use super::writer::Failure;
use super::{analytics, events, history};
use crate::analytics::RollupDelta;
use crate::{IngestOutcome, StoreError};

fn ensure_account(
    conn: &Connection,
    state: &mut WriterState,
    account: &str,
) -> Result<(), Failure> {
    if state.accounts.contains(account) {
        return Ok(());
    }
    if conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account])?
    {
        state.accounts.insert(account.to_owned());
        Ok(())
    } else {
        Err(Failure::Refused(StoreError::UnknownAccount(
            account.to_owned(),
        )))
    }
}

/// What a batch changes in its session once all its rows are written.
struct SessionChange {
    key: String,
    /// Set when the batch created the session.
    created: Option<SessionSlot>,
    sde_head: Option<i64>,
}

/// Writes one batch. Nothing is written before the account is known; the caches change
/// only after every statement succeeded.
pub(crate) fn ingest(
    conn: &Connection,
    state: &mut WriterState,
    batch: &PreparedBatch,
) -> Result<IngestOutcome, Failure> {
    ensure_account(conn, state, &batch.account)?;
    let mut outcome = IngestOutcome::default();
    let account = batch.account.as_str();
    let received_ms = batch.received_ms;

    // The session and page, read or created; nothing is cached before the batch succeeds.
    let mut change = None;
    let mut new_page = None;
    let (visit_id, page_row) = match &batch.visit {
        None => (None, None),
        Some(visit) => {
            let session_key = key(account, &visit.session_id);
            let (visit_id, head, created) =
                match session(conn, state, account, &session_key, visit)? {
                    Some((visit_id, head)) => (visit_id, head, None),
                    None => {
                        let slot = create_session(conn, account, received_ms, visit)?;
                        outcome.new_session = true;
                        (slot.visit_id, None, Some(slot))
                    }
                };
            // A page id names a page view within its session (the index `pages_page`):
            // the same id in another session is another page view, never joined.
            let page_key = interaction_key(account, Some(visit_id), &visit.page_id);
            let page_row = match state.pages.get_mut(&page_key) {
                Some(row) => *row,
                None => {
                    // A page view keeps its user agent only when it is not its visit's.
                    let same_agent = match &created {
                        Some(slot) => slot.user_agent == visit.user_agent,
                        None => state
                            .sessions
                            .get_mut(&session_key)
                            .is_some_and(|slot| slot.user_agent == visit.user_agent),
                    };
                    let agent = if same_agent {
                        None
                    } else {
                        visit.user_agent.as_deref()
                    };
                    let row = page(conn, account, received_ms, visit_id, visit, agent)?;
                    new_page = Some((page_key, row));
                    row
                }
            };
            change = Some(SessionChange {
                key: session_key,
                created,
                sde_head: head,
            });
            (Some(visit_id), Some(page_row))
        }
    };

    // What the batch adds to the results rollups, written with it (see `analytics`).
    let mut rollup = RollupDelta {
        bot: bot::classify_user_agent(batch.visit.as_ref().and_then(|v| v.user_agent.as_deref()))
            .is_some(),
        ..RollupDelta::default()
    };
    if let Some(v) = &batch.visit {
        rollup.visit(&v.visitor_id, received_ms);
    }

    // Each context's interaction row first: the events point at it.
    let recorded = if batch.events.is_empty() {
        None
    } else {
        let interactions = &mut state.interactions;
        Some(interactions::record(
            conn,
            account,
            received_ms,
            &interactions::RowOrigin {
                visit_id,
                page_row,
                bot: bot::classify_user_agent(
                    batch.visit.as_ref().and_then(|v| v.user_agent.as_deref()),
                ),
            },
            &batch.events,
            |k| interactions.get_mut(k).copied(),
            |context_id| interaction_key(account, visit_id, context_id),
        )?)
    };
    let interaction_rows = recorded.as_ref().map_or(&[][..], |r| r.rows.as_slice());

    // Each event's client id goes into `event_ids` (a duplicate is skipped there), and the
    // accepted ones into runs (see `events`).
    if !batch.events.is_empty() {
        let mut ids = conn.prepare_cached(
            "INSERT OR IGNORE INTO event_ids (account, client_id) VALUES (?1, ?2)",
        )?;
        let page_id = batch.visit.as_ref().map(|v| v.page_id.as_str());
        let mut run = Vec::with_capacity(batch.events.len());
        let mut accepted = Vec::with_capacity(batch.events.len());
        let visitor = batch.visit.as_ref().map(|v| v.visitor_id.as_str());
        for (e, interaction_row) in batch.events.iter().zip(interaction_rows) {
            ids.raw_bind_parameter(1, account)?;
            ids.raw_bind_parameter(2, &e.client_id)?;
            let written = ids.raw_execute()?;
            count(&mut outcome, written);
            accepted.push((written > 0).then_some(*interaction_row));
            if let (true, Some(visitor)) = (written > 0, visitor) {
                rollup.event(visitor, received_ms, &e.event);
            }
            let shape = state.shapes.id(conn, &e.event.data)?;
            run.push(events::RunEvent::of(e, shape, page_id));
        }
        events::write_runs(conn, account, received_ms, page_row, &run, &accepted)?;
    }

    if !batch.sdes.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO sdes (account, client_id, server_ms, client_lag_ms,
                 visit_id, page_row, prev_in_visit, history)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let chained = change.is_some();
        let mut text = history::SdeText::default();
        let mut head = change.as_ref().and_then(|c| c.sde_head);
        for s in &batch.sdes {
            insert.raw_bind_parameter(1, account)?;
            insert.raw_bind_parameter(2, &s.client_id)?;
            insert.raw_bind_parameter(3, received_ms)?;
            insert
                .raw_bind_parameter(4, s.client_time_ms.map(|t| received_ms.saturating_sub(t)))?;
            insert.raw_bind_parameter(5, visit_id)?;
            insert.raw_bind_parameter(6, page_row)?;
            insert.raw_bind_parameter(7, if chained { head } else { None })?;
            insert.raw_bind_parameter(8, &s.history)?;
            let written = insert.raw_execute()?;
            count(&mut outcome, written);
            if written > 0 {
                if let Some(v) = &batch.visit {
                    rollup.sde(&v.visitor_id, received_ms, &s.sde);
                }
                let row = conn.last_insert_rowid();
                text.add(row, s.sde.sde_type(), &s.search_text);
                if chained {
                    head = Some(row);
                }
            }
        }
        text.write(conn)?;
        if let Some(c) = &mut change {
            c.sde_head = head;
        }
    }

    if !batch.rejected.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT INTO quarantine (account, received_ms, kind, idx, client_id, raw, context, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for q in &batch.rejected {
            insert.execute(params![
                account,
                received_ms,
                q.kind.as_str(),
                q.index,
                q.client_id,
                q.raw,
                q.context,
                q.errors,
            ])?;
            outcome.quarantined += 1;
        }
    }

    // What the store is known to hold already would change nothing (`analytics::rollup_memory`).
    state.rollups.skip_known(account, &mut rollup);
    analytics::write_delta(conn, account, &rollup)?;

    // Every statement succeeded: now the caches may move.
    state.rollups.remember(account, &rollup);
    if let Some((page_key, row)) = new_page {
        state.pages.insert(page_key, row);
    }
    for (k, slot) in recorded.into_iter().flat_map(|r| r.learned) {
        state.interactions.insert(k, slot);
    }
    if let Some(change) = change {
        apply_session_change(state, change, received_ms);
    }
    Ok(outcome)
}

fn count(outcome: &mut IngestOutcome, written: usize) {
    if written > 0 {
        outcome.accepted += 1;
    } else {
        outcome.duplicates += 1;
    }
}

fn apply_session_change(state: &mut WriterState, change: SessionChange, received_ms: i64) {
    let SessionChange {
        key,
        created,
        sde_head,
    } = change;
    if let Some(slot) = created {
        state.sessions.insert(key.clone(), slot);
    }
    let Some(slot) = state.sessions.get_mut(&key) else {
        // `session` cached the slot or `create_session` made it above.
        return;
    };
    let mut changed = false;
    if received_ms > slot.last_seen_ms {
        slot.last_seen_ms = received_ms;
        changed = true;
    }
    if sde_head != slot.sde_head {
        slot.sde_head = sde_head;
        changed = true;
    }
    if changed && !slot.dirty {
        slot.dirty = true;
        state.dirty_sessions.push(key);
    }
}

/// The session's visit id and chain head, from the cache or the database (then cached:
/// what the database holds is committed, so caching it early is safe). A session named
/// by another visitor's batch is refused: it belongs to the visitor that started it.
fn session(
    conn: &Connection,
    state: &mut WriterState,
    account: &str,
    session_key: &str,
    visit: &PreparedVisit,
) -> Result<Option<(i64, Option<i64>)>, Failure> {
    if let Some(slot) = state.sessions.get_mut(session_key) {
        if slot.visitor_id != visit.visitor_id {
            return Err(session_conflict(visit));
        }
        return Ok(Some((slot.visit_id, slot.sde_head)));
    }
    let row = conn
        .prepare_cached(
            "SELECT v.id, h.last_seen_ms, h.sde_head, v.visitor_id, v.user_agent
             FROM visits v JOIN visit_heads h ON h.visit_id = v.id
             WHERE v.account = ?1 AND v.session_id = ?2",
        )?
        .query_row(params![account, visit.session_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((visit_id, last_seen_ms, sde_head, visitor_id, user_agent)) = row else {
        return Ok(None);
    };
    let owned = visitor_id == visit.visitor_id;
    state.sessions.insert(
        session_key.to_owned(),
        SessionSlot {
            visit_id,
            visitor_id,
            user_agent,
            last_seen_ms,
            sde_head,
            dirty: false,
        },
    );
    if !owned {
        return Err(session_conflict(visit));
    }
    Ok(Some((visit_id, sde_head)))
}

fn session_conflict(visit: &PreparedVisit) -> Failure {
    Failure::Refused(StoreError::IdentityConflict {
        pointer: "/sessionId",
        message: format!(
            "session `{}` belongs to another visitor: start a new session for visitor `{}`",
            visit.session_id, visit.visitor_id
        ),
    })
}

fn create_session(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    visit: &PreparedVisit,
) -> rusqlite::Result<SessionSlot> {
    conn.prepare_cached(
        "INSERT INTO visits (account, visitor_id, session_id, first_seen_ms, user_agent, referrer,
             client_properties)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        account,
        visit.visitor_id,
        visit.session_id,
        received_ms,
        visit.user_agent,
        visit.referrer,
        visit.client,
    ])?;
    let visit_id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO visit_heads (visit_id, last_seen_ms, sde_head) VALUES (?1, ?2, NULL)",
    )?
    .execute(params![visit_id, received_ms])?;
    Ok(SessionSlot {
        visit_id,
        visitor_id: visit.visitor_id.clone(),
        user_agent: visit.user_agent.clone(),
        last_seen_ms: received_ms,
        sde_head: None,
        dirty: false,
    })
}

/// The page view's row, created when new.
fn page(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    visit_id: i64,
    visit: &PreparedVisit,
    user_agent: Option<&str>,
) -> rusqlite::Result<i64> {
    // A page missing from the cache is usually new: try the insert first.
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO pages (account, page_id, visit_id, url, referrer, title,
                 sections, user_agent, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            account,
            visit.page_key,
            visit_id,
            visit.url,
            visit.referrer,
            visit.title,
            visit.sections,
            user_agent,
            received_ms,
        ])?;
    if inserted == 1 {
        return Ok(conn.last_insert_rowid());
    }
    conn.prepare_cached(
        "SELECT id FROM pages WHERE account = ?1 AND page_id = ?2 AND visit_id = ?3",
    )?
    .query_row(params![account, visit.page_key, visit_id], |r| {
        r.get::<_, i64>(0)
    })
}
