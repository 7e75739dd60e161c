//! Keeping `interactions` in step with the events, on the writer thread.
//!
//! Every event of a batch is folded into its context's row: the start is the earliest
//! event time, the end the latest, the outcome the highest [`Outcome::rank`]. Each of
//! these is a minimum or a maximum, so the row comes out the same whatever order the
//! events arrive in and however often a retry sends them again; that is why a duplicate
//! event (skipped by the multi-row insert without saying which) may be folded too.
//!
//! The row's campaign fields come from the first batch of the context; optional ones
//! (type, zone, renderer, name) are filled in later when an earlier event lacked them
//! (the Monitoring API's impressions carry no renderer or name).
//!
//! Its bot flag (`bot`, a [`BotReason::code`], 0 for a person) comes from the batch that
//! creates the row: the visit's user agent then (`engage_model::bot`). A person's row is
//! flagged `Behaviour` by any batch whose events of it answer too fast ([`Pace`]).

use std::collections::HashMap;

use engage_model::bot::{BotReason, Pace};
use engage_model::{OfferData, OfferEventName};
use rusqlite::{params, Connection};

use super::batch::{ClientKey, PreparedEvent};
use super::SqlU64;
use crate::Outcome;

/// What the writer remembers of an interaction row, to skip updates that change nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InteractionSlot {
    pub row: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub outcome: u8,
    /// Whether an `OFFER_IMPRESSION` is among its events (the frequency cap counts these).
    pub impressed: bool,
    /// Whether a declining, timing out or removing event is among its events.
    pub ended: bool,
}

/// One context's events in one batch, folded.
struct Fold<'a> {
    context_id: &'a str,
    data: &'a OfferData,
    start_ms: i64,
    end_ms: i64,
    outcome: u8,
    impressed: bool,
    ended: bool,
    pace: Pace,
}

/// Where an event's interaction row is, and what the writer's cache learns once the
/// batch has written everything.
pub(crate) struct Recorded {
    /// The interaction row of each event of the batch, in order.
    pub rows: Vec<i64>,
    /// Slots to cache, by context key, once every statement of the batch succeeded.
    pub learned: Vec<(String, InteractionSlot)>,
}

/// Where a batch's new interaction rows come from: their visit and page (`None` for
/// events without a visit) and the bot flag of the batch's user agent.
#[derive(Clone, Copy)]
pub(crate) struct RowOrigin {
    pub visit_id: Option<i64>,
    pub page_row: Option<i64>,
    pub bot: Option<BotReason>,
}

/// Creates or widens the interaction row of every context in `events`.
/// `cached` looks a context key up in the writer's cache; `key` makes that key. A context
/// id names an interaction only within its visit: the visit is part of the key.
pub(crate) fn record(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    origin: &RowOrigin,
    events: &[PreparedEvent],
    mut cached: impl FnMut(&str) -> Option<InteractionSlot>,
    key: impl Fn(&str) -> String,
) -> rusqlite::Result<Recorded> {
    let mut folds: Vec<Fold<'_>> = Vec::new();
    let mut by_context: HashMap<&str, usize> = HashMap::new();
    let mut fold_of = Vec::with_capacity(events.len());
    for e in events {
        let d = &e.event.data;
        let at = e.client_time_ms.unwrap_or(received_ms);
        let outcome = Outcome::of_event(e.event.name).rank();
        let impressed = e.event.name == OfferEventName::OfferImpression;
        let ended = matches!(
            e.event.name,
            OfferEventName::OfferDeclined
                | OfferEventName::OfferTimeout
                | OfferEventName::OfferRemove
        );
        let i = *by_context.entry(d.context_id.as_str()).or_insert_with(|| {
            folds.push(Fold {
                context_id: &d.context_id,
                data: d,
                start_ms: at,
                end_ms: at,
                outcome,
                impressed,
                ended,
                pace: Pace::default(),
            });
            folds.len() - 1
        });
        let f = &mut folds[i];
        f.pace.observe(e.event.name, e.client_time_ms);
        f.start_ms = f.start_ms.min(at);
        f.end_ms = f.end_ms.max(at);
        f.outcome = f.outcome.max(outcome);
        f.impressed |= impressed;
        f.ended |= ended;
        fold_of.push(i);
    }

    let mut rows_of_folds = Vec::with_capacity(folds.len());
    let mut learned = Vec::with_capacity(folds.len());
    for f in &folds {
        let k = key(f.context_id);
        let found = match cached(&k) {
            Some(slot) => Found::Stored(slot),
            None => insert_or_find(conn, account, origin, f)?,
        };
        let slot = match found {
            Found::Inserted(row) => InteractionSlot {
                row,
                start_ms: f.start_ms,
                end_ms: f.end_ms,
                outcome: f.outcome,
                impressed: f.impressed,
                ended: f.ended,
            },
            Found::Stored(old) => {
                let new = InteractionSlot {
                    row: old.row,
                    start_ms: old.start_ms.min(f.start_ms),
                    end_ms: old.end_ms.max(f.end_ms),
                    outcome: old.outcome.max(f.outcome),
                    impressed: old.impressed || f.impressed,
                    ended: old.ended || f.ended,
                };
                if new.start_ms != old.start_ms
                    || new.end_ms != old.end_ms
                    || new.outcome != old.outcome
                    || new.impressed != old.impressed
                    || new.ended != old.ended
                {
                    widen(conn, &new, f.data)?;
                }
                // A bot's later batch leaves a person's row, whatever its pace, as on
                // PostgreSQL: the batch's user agent decides nothing after the first.
                if origin.bot.is_none() && f.pace.too_fast() {
                    flag_behaviour(conn, old.row)?;
                }
                new
            }
        };
        rows_of_folds.push(slot.row);
        learned.push((k, slot));
    }
    Ok(Recorded {
        rows: fold_of.into_iter().map(|i| rows_of_folds[i]).collect(),
        learned,
    })
}

enum Found {
    /// A new row, written with the fold's values.
    Inserted(i64),
    Stored(InteractionSlot),
}

/// Inserts the context's row, or reads the one already stored.
fn insert_or_find(
    conn: &Connection,
    account: &str,
    origin: &RowOrigin,
    f: &Fold<'_>,
) -> rusqlite::Result<Found> {
    let d = f.data;
    let RowOrigin {
        visit_id,
        page_row,
        bot,
    } = *origin;
    // Stored like a client id (see `compact`).
    let context = ClientKey::new(f.context_id.to_owned());
    // A context missing from the cache is usually new: try the insert first.
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO interactions (account, context_id, visit_id, page_row,
                 campaign_id, engagement_id, engagement_revision, engagement_type, zone_id,
                 tgl_name, engagement_name, start_ms, end_ms, outcome, impressed, ended, bot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(params![
            account,
            context,
            visit_id,
            page_row,
            SqlU64(d.conf_key.campaign_id),
            SqlU64(d.conf_key.engagement_id),
            SqlU64(d.conf_key.engagement_revision),
            d.engagement_type.map(|t| t.code()),
            d.zone_id.map(SqlU64),
            d.tgl_name,
            d.engagement_name,
            f.start_ms,
            f.end_ms,
            f.outcome,
            f.impressed,
            f.ended,
            bot.or(f.pace.too_fast().then_some(BotReason::Behaviour))
                .map_or(0, BotReason::code),
        ])?;
    if inserted == 1 {
        return Ok(Found::Inserted(conn.last_insert_rowid()));
    }
    // The same expression as the unique index `interactions_context` (see `schema`).
    conn.prepare_cached(
        "SELECT id, start_ms, end_ms, outcome, impressed, ended FROM interactions
         WHERE account = ?1 AND context_id = ?2 AND ifnull(visit_id, 0) = ?3",
    )?
    .query_row(params![account, context, visit_id.unwrap_or(0)], |r| {
        Ok(Found::Stored(InteractionSlot {
            row: r.get(0)?,
            start_ms: r.get(1)?,
            end_ms: r.get(2)?,
            outcome: r.get(3)?,
            impressed: r.get(4)?,
            ended: r.get(5)?,
        }))
    })
}

/// Flags a person's row for its pace; a row already flagged keeps its reason.
fn flag_behaviour(conn: &Connection, row: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE interactions SET bot = ?2 WHERE id = ?1 AND bot = 0")?
        .execute(params![row, BotReason::Behaviour.code()])?;
    Ok(())
}

fn widen(conn: &Connection, slot: &InteractionSlot, d: &OfferData) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE interactions SET start_ms = ?2, end_ms = ?3, outcome = ?4, impressed = ?9, ended = ?10,
             engagement_type = coalesce(engagement_type, ?5),
             zone_id = coalesce(zone_id, ?6),
             tgl_name = coalesce(tgl_name, ?7),
             engagement_name = coalesce(engagement_name, ?8)
         WHERE id = ?1",
    )?
    .execute(params![
        slot.row,
        slot.start_ms,
        slot.end_ms,
        slot.outcome,
        d.engagement_type.map(|t| t.code()),
        d.zone_id.map(SqlU64),
        d.tgl_name,
        d.engagement_name,
        slot.impressed,
        slot.ended,
    ])?;
    Ok(())
}

/// Schema version 6: an interaction is keyed by its visit as well as its context id, and
/// so is a page view by its page id.
///
/// Earlier versions keyed it by `(account, context_id)`, so equal context ids from two
/// visits shared one row. The rows stay; where one row gathered the events of several
/// visits, the events of each other visit move to a row of their own (with the campaign
/// fields of one of those events), and the first row's times and outcome are folded again
/// from the events it keeps. `ifnull(visit_id, 0)` keys events written without a visit
/// together, as the writer does (a NULL would make every such row distinct). Pages were
/// unique by `(account, page_id)`, so they already are by the wider key.
pub(crate) const MIGRATION: &str = r#"
DROP INDEX pages_page;
CREATE UNIQUE INDEX pages_page ON pages (account, page_id, visit_id);

DROP INDEX interactions_context;

CREATE TEMP TABLE split_interactions AS
SELECT DISTINCT e.interaction_row AS id
FROM events e JOIN interactions i ON i.id = e.interaction_row
WHERE e.visit_id IS NOT i.visit_id;

INSERT INTO interactions (account, context_id, visit_id, page_row, campaign_id, engagement_id,
    engagement_revision, engagement_type, zone_id, tgl_name, engagement_name, start_ms, end_ms,
    outcome)
SELECT e.account, i.context_id, e.visit_id, min(e.page_row), e.campaign_id, e.engagement_id,
    e.engagement_revision, e.engagement_type, e.zone_id, e.tgl_name, e.engagement_name,
    min(coalesce(e.client_ms, e.server_ms)), max(coalesce(e.client_ms, e.server_ms)),
    max(CASE e.event_name
        WHEN 'START' THEN 1
        WHEN 'OFFER_DISPLAY' THEN 2
        WHEN 'OFFER_IMPRESSION' THEN 2
        WHEN 'OFFER_REMOVE' THEN 3
        WHEN 'OFFER_TIMEOUT' THEN 4
        WHEN 'OFFER_DECLINED' THEN 5
        ELSE 6 END)
FROM events e JOIN interactions i ON i.id = e.interaction_row
WHERE e.visit_id IS NOT i.visit_id
GROUP BY e.interaction_row, ifnull(e.visit_id, 0) ORDER BY min(e.id);

CREATE UNIQUE INDEX interactions_context
    ON interactions (account, context_id, ifnull(visit_id, 0));

UPDATE events SET interaction_row = (
    SELECT n.id FROM interactions o JOIN interactions n
        ON n.account = o.account AND n.context_id = o.context_id
        AND ifnull(n.visit_id, 0) = ifnull(events.visit_id, 0)
    WHERE o.id = events.interaction_row)
WHERE interaction_row IN (SELECT id FROM split_interactions)
    AND visit_id IS NOT (SELECT visit_id FROM interactions WHERE id = events.interaction_row);

UPDATE interactions SET (start_ms, end_ms, outcome) = (
    SELECT min(coalesce(e.client_ms, e.server_ms)), max(coalesce(e.client_ms, e.server_ms)),
        max(CASE e.event_name
            WHEN 'START' THEN 1
            WHEN 'OFFER_DISPLAY' THEN 2
            WHEN 'OFFER_IMPRESSION' THEN 2
            WHEN 'OFFER_REMOVE' THEN 3
            WHEN 'OFFER_TIMEOUT' THEN 4
            WHEN 'OFFER_DECLINED' THEN 5
            ELSE 6 END)
    FROM events e WHERE e.interaction_row = interactions.id)
WHERE id IN (SELECT id FROM split_interactions)
    AND EXISTS (SELECT 1 FROM events e WHERE e.interaction_row = interactions.id);

DROP TABLE split_interactions;
"#;

/// Adds the bot flag. Rows written before it count as people's: the flag is decided when
/// a row is created, from the user agent its first batch came with.
pub(crate) const BOT_MIGRATION: &str =
    "ALTER TABLE interactions ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;";
