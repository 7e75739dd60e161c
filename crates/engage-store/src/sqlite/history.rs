//! Interaction search for the Engagement History API: the schema it reads, the text
//! index of attributes, and the query.
//!
//! Schema (migration [`MIGRATION`]):
//! - `interactions`: one row per engagement context, kept by the writer as events
//!   arrive (see `interactions`). Its indexes serve the searches the API is built for:
//!   a time range (`interactions_start`), a campaign in a time range
//!   (`interactions_campaign`), the interactions of a visit (`interactions_visit`, which
//!   a visitor's visits and attribute matches lead to), and one interaction by id.
//! - `events.interaction_row` points each event at its row; `events_interaction` finds
//!   an interaction's timeline. Both index keys grow at the right edge: interaction rows
//!   are numbered in order of first sight, and contexts end within minutes.
//! - `sde_text`: an FTS5 index of attributes' values, one column per history type,
//!   storing no copy of the text (`content=''`). A row holds one ingest batch's
//!   attributes (see [`SdeText`]) under the `sdes` rowid of one of them: they all belong
//!   to one visit, and a search needs only the visit. FTS5 writes each commit's terms as
//!   one sorted segment instead of one random B-tree insert per term.
//!
//! A text search matches the words of the query as a phrase, in any attribute of the
//! chosen types, and selects the interactions of the visits those attributes belong to.

use std::sync::OnceLock;

use engage_model::{EngagementType, Node, SdeType, Tape, View};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::batch::ClientKey;
use super::compact::unpack_history;
use super::events;
use super::reader::{client_id, corrupt, optional_id, stamped};
use super::{read_u64, sql_err};
use crate::{
    Interaction, InteractionCampaign, InteractionFilters, InteractionPage, InteractionQuery,
    Outcome, RawJson, SortField, StoreError, StoredEvent, TextSearch,
};

/// Schema version 3: interactions, the events' link to them, and the attribute text index,
/// filled from what earlier versions stored.
pub(crate) const MIGRATION: &str = r#"
ALTER TABLE events ADD COLUMN interaction_row INTEGER;

CREATE TABLE interactions (
    id                  INTEGER PRIMARY KEY,
    account             TEXT NOT NULL,
    context_id          TEXT NOT NULL,
    visit_id            INTEGER,
    page_row            INTEGER,
    campaign_id         INTEGER NOT NULL,
    engagement_id       INTEGER NOT NULL,
    engagement_revision INTEGER NOT NULL,
    engagement_type     INTEGER,
    zone_id             INTEGER,
    tgl_name            TEXT,
    engagement_name     TEXT,
    -- Client time of the first and last event, epoch ms (server time when the page gave none).
    start_ms            INTEGER NOT NULL,
    end_ms              INTEGER NOT NULL,
    -- Outcome::rank of the furthest event.
    outcome             INTEGER NOT NULL
);

INSERT INTO interactions (account, context_id, visit_id, page_row, campaign_id, engagement_id,
    engagement_revision, engagement_type, zone_id, tgl_name, engagement_name, start_ms, end_ms,
    outcome)
SELECT account, context_id, visit_id, page_row, campaign_id, engagement_id, engagement_revision,
    engagement_type, zone_id, tgl_name, engagement_name,
    min(coalesce(client_ms, server_ms)), max(coalesce(client_ms, server_ms)),
    max(CASE event_name
        WHEN 'START' THEN 1
        WHEN 'OFFER_DISPLAY' THEN 2
        WHEN 'OFFER_IMPRESSION' THEN 2
        WHEN 'OFFER_REMOVE' THEN 3
        WHEN 'OFFER_TIMEOUT' THEN 4
        WHEN 'OFFER_DECLINED' THEN 5
        ELSE 6 END)
FROM events GROUP BY account, context_id ORDER BY min(id);

CREATE UNIQUE INDEX interactions_context ON interactions (account, context_id);
CREATE INDEX interactions_start ON interactions (account, start_ms);
CREATE INDEX interactions_campaign ON interactions (account, campaign_id, start_ms);
CREATE INDEX interactions_visit ON interactions (visit_id);

UPDATE events SET interaction_row = (
    SELECT i.id FROM interactions i
    WHERE i.account = events.account AND i.context_id = events.context_id);
CREATE INDEX events_interaction ON events (interaction_row);

CREATE VIRTUAL TABLE sde_text USING fts5(
    cartStatus, purchase, viewedProduct, customerInfo, marketingCampaignInfo, personalInfo,
    lead, serviceActivity, visitorError, searchContent,
    content = '', columnsize = 0
);
"#;

/// Fills `sde_text` from the attributes stored before it existed. Run by the migration
/// after [`MIGRATION`]: the column to write depends on each row's type.
pub(crate) fn backfill_sde_text(conn: &Connection) -> rusqlite::Result<()> {
    // Streamed: reading `sdes` while writing `sde_text` on one connection is fine, and a
    // large store's attributes need not fit in memory at once.
    let mut stmt = conn.prepare("SELECT id, sde_type, history FROM sdes ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let sde_type = r.get_ref(1)?.as_str()?;
        if let Some(t) = SdeType::from_history_key(sde_type) {
            let mut text = SdeText::default();
            text.add(r.get(0)?, t, &search_text(r.get_ref(2)?.as_str()?));
            text.write(conn)?;
        }
    }
    Ok(())
}

/// Members whose values are amounts, counts, dates or codes of a value set: nobody
/// looks for a visit by a price or a month, and leaving them out of the text index
/// halves what it tokenizes on the write path.
const NOT_SEARCHED: &[&str] = &[
    "total",
    "price",
    "quantity",
    "numItems",
    "quantityInStock",
    "statusInStock",
    "currency",
    "Currency",
    "value",
    "balance",
    "age",
    "customerAge",
    "customerAgeInYears",
    "customerMonthOfBirth",
    "customerYearOfBirth",
    "customerDateOfBirth",
    "lastPaymentDate",
    "registrationDate",
    "day",
    "month",
    "year",
    "level",
    "status",
    "channel",
    "originatingChannel",
    "resolved",
    "loginStatus",
    "companySize",
    "serverTimeStamp",
    "originalTimeStamp",
];

/// An attribute's searchable values (not member names, not [`NOT_SEARCHED`] members), as
/// the text the search index holds.
pub(crate) fn search_text(history: &str) -> String {
    fn push(value: Node<'_, '_>, out: &mut String) {
        let mut text = |s: &str| {
            if !out.is_empty() {
                out.push_str(" ; ");
            }
            out.push_str(s);
        };
        match value.view() {
            View::String(s) => text(s),
            View::Number(n) => text(&n.to_string()),
            View::Array(items) => items.for_each(|v| push(v, out)),
            View::Object(members) => members
                .filter(|(k, _)| !NOT_SEARCHED.contains(k))
                .for_each(|(_, v)| push(v, out)),
            View::Bool(_) | View::Null => {}
        }
    }
    // The model's tape, not `serde_json::Value`: no map per object, strings borrowed.
    let mut out = String::new();
    if let Ok(tape) = Tape::parse_str(history) {
        push(tape.root(), &mut out);
    }
    out
}

/// The text one index row holds: per attribute type, the searchable values of a batch's
/// attributes of that type.
#[derive(Debug, Default)]
pub(crate) struct SdeText {
    columns: [String; SdeType::ALL.len()],
    /// The `sdes` row the index row is filed under: any attribute of the batch does, as
    /// they all belong to one visit, and a search needs only the visit.
    row: Option<i64>,
}

impl SdeText {
    /// Adds the attribute stored at `row`, of `sde_type`, with its [`search_text`].
    pub fn add(&mut self, row: i64, sde_type: SdeType, text: &str) {
        let i = SdeType::ALL
            .iter()
            .position(|t| *t == sde_type)
            .unwrap_or_default();
        let column = &mut self.columns[i];
        if !column.is_empty() {
            column.push_str(" ; ");
        }
        column.push_str(text);
        self.row.get_or_insert(row);
    }

    /// Writes the index row: one per batch, not per attribute, because FTS5's cost is
    /// mostly per row (measured: as much as the attribute's own insert).
    pub fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let Some(row) = self.row else {
            return Ok(());
        };
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            SdeText::statement("INSERT INTO sde_text (rowid, {columns}) VALUES (?1, {values})")
        });
        self.bind_and_run(conn, sql, row)
    }

    /// Deletes index row `row`, which was written with exactly this text (erasure,
    /// retention): a contentless index removes the words it is told the row holds.
    pub fn delete(self, conn: &Connection, row: i64) -> rusqlite::Result<()> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            SdeText::statement(
                "INSERT INTO sde_text (sde_text, rowid, {columns}) VALUES ('delete', ?1, {values})",
            )
        });
        self.bind_and_run(conn, sql, row)
    }

    /// `template` with `{columns}` and `{values}` (`?2`, `?3`, ...) filled in, in
    /// `SdeType::ALL` order.
    fn statement(template: &str) -> String {
        let columns: Vec<&str> = SdeType::ALL.iter().map(|t| t.history_key()).collect();
        let values: Vec<String> = (2..=SdeType::ALL.len() + 1)
            .map(|i| format!("?{i}"))
            .collect();
        template
            .replace("{columns}", &columns.join(", "))
            .replace("{values}", &values.join(", "))
    }

    fn bind_and_run(&self, conn: &Connection, sql: &str, row: i64) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(sql)?;
        stmt.raw_bind_parameter(1, row)?;
        for (i, text) in self.columns.iter().enumerate() {
            let value = (!text.is_empty()).then_some(text.as_str());
            stmt.raw_bind_parameter(i + 2, value)?;
        }
        stmt.raw_execute()?;
        Ok(())
    }
}

/// The FTS5 query for a search: its words as one phrase, limited to the columns of its
/// types. `None` when the text has no word to look for, which matches nothing.
fn match_expression(search: &TextSearch) -> Option<String> {
    if !search.text.chars().any(char::is_alphanumeric) {
        return None;
    }
    let types = if search.types.is_empty() {
        &SdeType::ALL[..]
    } else {
        &search.types[..]
    };
    let columns: Vec<&str> = types.iter().map(|t| t.history_key()).collect();
    // Inside a string FTS5 reads no operators; a quote is written twice.
    let phrase = search.text.replace('"', "\"\"");
    Some(format!("{{{}}} : \"{phrase}\"", columns.join(" ")))
}

fn u64_value(v: u64) -> SqlValue {
    match i64::try_from(v) {
        Ok(i) => SqlValue::Integer(i),
        Err(_) => SqlValue::Text(v.to_string()),
    }
}

/// The WHERE clause of a search and its parameters (`?1` is the account).
struct Filter {
    sql: String,
    args: Vec<SqlValue>,
}

impl Filter {
    fn arg(&mut self, value: SqlValue) -> String {
        self.args.push(value);
        format!("?{}", self.args.len())
    }

    fn list(&mut self, column: &str, values: impl IntoIterator<Item = SqlValue>) {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.arg(v)).collect();
        self.sql
            .push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
    }

    /// `None` when the query can match nothing.
    fn new(account: &str, q: &InteractionFilters) -> Option<Filter> {
        let mut f = Filter {
            sql: String::new(),
            args: vec![SqlValue::Text(account.to_owned())],
        };
        let from = f.arg(SqlValue::Integer(q.start_from_ms));
        let to = f.arg(SqlValue::Integer(q.start_to_ms));
        // When a filter picks a few visits, their interactions are found through
        // `interactions_visit` and the account and time range are checked on those rows:
        // `+` keeps the planner off the indexes that lead with the account, which would
        // walk every interaction of the account in the range. One interaction by id is
        // found through `interactions_context`, which needs the account.
        let by_visits = q.visitor.is_some() || q.keyword.is_some() || !q.sde_search.is_empty();
        let by_id = q.interaction_id.is_some();
        let (account_col, start) = match (by_visits, by_id) {
            (true, _) => ("+i.account", "+i.start_ms"),
            (false, true) => ("i.account", "+i.start_ms"),
            (false, false) => ("i.account", "i.start_ms"),
        };
        f.sql = format!("{account_col} = ?1 AND {start} >= {from} AND {start} <= {to}");
        if let Some(id) = &q.interaction_id {
            // Stored like a client id (see `compact`).
            let p = f.arg(match ClientKey::new(id.clone()) {
                ClientKey::Uuid(bytes) => SqlValue::Blob(bytes.to_vec()),
                ClientKey::Text(text) => SqlValue::Text(text),
            });
            f.sql.push_str(&format!(" AND i.context_id = {p}"));
        }
        if let Some(visitor) = &q.visitor {
            let p = f.arg(SqlValue::Text(visitor.clone()));
            f.sql.push_str(&format!(
                " AND i.visit_id IN (SELECT id FROM visits WHERE account = ?1 AND visitor_id = {p})"
            ));
        }
        if !q.campaign_ids.is_empty() {
            f.list(
                "i.campaign_id",
                q.campaign_ids.iter().map(|v| u64_value(*v)),
            );
        }
        if !q.engagement_ids.is_empty() {
            f.list(
                "i.engagement_id",
                q.engagement_ids.iter().map(|v| u64_value(*v)),
            );
        }
        if !q.engagement_types.is_empty() {
            // An app's impressions do not say the type; the record shows the definition's,
            // so the filter reads it too (only for those rows: coalesce stops at the first).
            f.list(
                "coalesce(i.engagement_type, (SELECT json_extract(r.definition, '$.engagementType')
                     FROM engagements e JOIN engagement_revisions r ON r.engagement_id = e.id
                     WHERE e.id = i.engagement_id AND e.account = i.account
                         AND r.revision = i.engagement_revision))",
                q.engagement_types
                    .iter()
                    .map(|t: &EngagementType| SqlValue::Integer(i64::from(t.code()))),
            );
        }
        if !q.outcomes.is_empty() {
            f.list(
                "i.outcome",
                q.outcomes
                    .iter()
                    .map(|o| SqlValue::Integer(i64::from(o.rank()))),
            );
        }
        if q.matches_nothing {
            return None;
        }
        let clicked = Outcome::Clicked.rank();
        match q.interactive {
            // A click outranks every other event, so the outcome says whether there is one.
            Some(true) => f.sql.push_str(&format!(" AND i.outcome = {clicked}")),
            Some(false) => f.sql.push_str(&format!(" AND i.outcome <> {clicked}")),
            None => {}
        }
        if !q.include_bots {
            f.sql.push_str(" AND i.bot = 0");
        }
        if let Some(ended) = q.ended {
            // An outcome of declined, timed out or removed is itself an ending event; only
            // a clicked interaction needs its timeline looked at (events_interaction).
            let ended_sql = "i.ended".to_owned();
            if ended {
                f.sql.push_str(&format!(" AND {ended_sql}"));
            } else {
                f.sql.push_str(&format!(" AND NOT {ended_sql}"));
            }
        }
        if let Some((from, to)) = q.duration_s {
            let from = f.arg(u64_value(from));
            let to = f.arg(u64_value(to));
            f.sql.push_str(&format!(
                " AND (i.end_ms - i.start_ms) / 1000 BETWEEN {from} AND {to}"
            ));
        }
        for search in q.keyword.iter().chain(&q.sde_search) {
            let p = f.arg(SqlValue::Text(match_expression(search)?));
            f.sql.push_str(&format!(
                " AND i.visit_id IN (SELECT s.visit_id FROM sdes s
                     NOT INDEXED
                     WHERE s.id IN (SELECT rowid FROM sde_text WHERE sde_text MATCH {p})
                     AND s.account = ?1)"
            ));
        }
        Some(f)
    }
}

/// ORDER BY for the sort keys; ties end in row order, in the first key's direction, so
/// a time-ordered page walks its index without sorting.
fn order_by(q: &InteractionQuery) -> String {
    let mut keys: Vec<String> = q
        .sort
        .iter()
        .map(|k| {
            let column = match k.field {
                SortField::Start => "i.start_ms".to_owned(),
                SortField::End => "i.end_ms".to_owned(),
                SortField::Duration => "(i.end_ms - i.start_ms)".to_owned(),
                SortField::Visitor => {
                    "(SELECT visitor_id FROM visits WHERE id = i.visit_id)".to_owned()
                }
                SortField::EngagementId => "i.context_id".to_owned(),
                SortField::Interactive => format!("(i.outcome = {})", Outcome::Clicked.rank()),
            };
            format!("{column} {}", if k.descending { "DESC" } else { "ASC" })
        })
        .collect();
    let last = q.sort.first().is_some_and(|k| k.descending);
    keys.push(format!("i.id {}", if last { "DESC" } else { "ASC" }));
    keys.join(", ")
}

pub(crate) fn search(
    conn: &mut Connection,
    account: &str,
    q: &InteractionQuery,
) -> Result<InteractionPage, StoreError> {
    let Some(filter) = Filter::new(account, &q.filters) else {
        return Ok(InteractionPage {
            count: 0,
            records: Vec::new(),
        });
    };
    // One read transaction: the count and the page see the same commit.
    let tx = conn.transaction().map_err(sql_err)?;
    let count: i64 = tx
        .prepare(&format!(
            "SELECT count(*) FROM interactions i WHERE {}",
            filter.sql
        ))
        .and_then(|mut s| s.query_row(params_from_iter(&filter.args), |r| r.get(0)))
        .map_err(sql_err)?;
    let count = u64::try_from(count).unwrap_or_default();
    let mut records = Vec::new();
    if q.offset < count && q.limit > 0 {
        let mut args = filter.args.clone();
        args.push(SqlValue::Integer(
            i64::try_from(q.limit).unwrap_or(i64::MAX),
        ));
        args.push(SqlValue::Integer(
            i64::try_from(q.offset).unwrap_or(i64::MAX),
        ));
        let n = args.len();
        let sql = format!(
            "SELECT i.id FROM interactions i WHERE {} ORDER BY {} LIMIT ?{} OFFSET ?{}",
            filter.sql,
            order_by(q),
            n - 1,
            n
        );
        let ids: Vec<i64> = tx
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map(params_from_iter(&args), |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(sql_err)?;
        for id in ids {
            records.push(interaction(&tx, id)?);
        }
    }
    Ok(InteractionPage { count, records })
}

/// One interaction with its timeline and its visit's attributes. What its events did not
/// say (the Monitoring API's impressions carry no renderer or name) comes from the
/// engagement's definition at that revision, when the account has it.
fn interaction(conn: &Connection, id: i64) -> Result<Interaction, StoreError> {
    let bad = |what: &str| corrupt(format!("interaction {id}: {what}"));
    let mut stmt = conn
        .prepare_cached(
            "SELECT i.context_id, i.start_ms, i.end_ms, i.outcome, i.campaign_id,
                    i.engagement_id, i.engagement_revision,
                    coalesce(i.engagement_type, json_extract(r.definition, '$.engagementType')),
                    coalesce(i.zone_id, json_extract(r.definition, '$.zoneId')),
                    coalesce(i.tgl_name, json_extract(r.definition, '$.tglName')),
                    coalesce(i.engagement_name, json_extract(r.definition, '$.name')),
                    v.visitor_id, v.session_id, p.page_id,
                    p.url, coalesce(p.user_agent, v.user_agent), v.referrer, c.name,
                    h.sde_head, v.client_properties
             FROM interactions i
             LEFT JOIN visits v ON v.id = i.visit_id
             LEFT JOIN visit_heads h ON h.visit_id = i.visit_id
             LEFT JOIN pages p ON p.id = i.page_row
             LEFT JOIN campaigns c ON c.id = i.campaign_id AND c.account = i.account
             LEFT JOIN engagements e ON e.id = i.engagement_id AND e.account = i.account
                 AND e.campaign_id = i.campaign_id
             LEFT JOIN engagement_revisions r ON r.engagement_id = e.id
                 AND r.revision = i.engagement_revision
             WHERE i.id = ?1",
        )
        .map_err(sql_err)?;
    let mut rows = stmt.query([id]).map_err(sql_err)?;
    let r = rows
        .next()
        .map_err(sql_err)?
        .ok_or_else(|| bad("missing"))?;
    let u64_at = |i: usize| -> Result<Option<u64>, StoreError> {
        match r.get_ref(i).map_err(sql_err)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            v => read_u64(v).map(Some).ok_or_else(|| bad("a number column")),
        }
    };
    let required = |i: usize| u64_at(i)?.ok_or_else(|| bad("a missing number"));
    let outcome: i64 = r.get(3).map_err(sql_err)?;
    let outcome = u8::try_from(outcome)
        .ok()
        .and_then(Outcome::from_rank)
        .ok_or_else(|| bad("outcome"))?;
    let engagement_type = match u64_at(7)? {
        None => None,
        Some(code) => Some(EngagementType::from_code(code).ok_or_else(|| bad("engagement type"))?),
    };
    let sde_head: Option<i64> = r.get(18).map_err(sql_err)?;
    let client = match r.get::<_, Option<String>>(19).map_err(sql_err)? {
        None => None,
        Some(text) => {
            Some(serde_json::from_str(&text).map_err(|e| bad(&format!("client properties: {e}")))?)
        }
    };
    let mut record = Interaction {
        interaction_id: client_id(r, 0)?,
        start_ms: r.get(1).map_err(sql_err)?,
        end_ms: r.get(2).map_err(sql_err)?,
        outcome,
        campaign: InteractionCampaign {
            campaign_id: required(4)?,
            campaign_name: r.get(17).map_err(sql_err)?,
            engagement_id: required(5)?,
            engagement_name: r.get(10).map_err(sql_err)?,
            engagement_revision: required(6)?,
            engagement_type,
            tgl_name: r.get(9).map_err(sql_err)?,
            zone_id: u64_at(8)?,
        },
        visitor_id: r.get(11).map_err(sql_err)?,
        session_id: r.get(12).map_err(sql_err)?,
        page_id: optional_id(r, 13)?,
        page_url: r.get(14).map_err(sql_err)?,
        user_agent: r.get(15).map_err(sql_err)?,
        referrer: r.get(16).map_err(sql_err)?,
        client,
        events: Vec::new(),
        sdes: Vec::new(),
    };
    drop(rows);
    record.events = timeline(conn, id, &record.interaction_id)?;
    record.sdes = visit_attributes(conn, sde_head)?;
    Ok(record)
}

/// The interaction's events by client time (server time where the page gave none), then
/// lifecycle order, then arrival: its runs (see `events`), unpacked.
fn timeline(
    conn: &Connection,
    interaction_row: i64,
    context_id: &str,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.id, r.server_ms, r.events, p.page_id
             FROM event_runs r LEFT JOIN pages p ON p.id = r.page_row
             WHERE r.interaction_row = ?1",
        )
        .map_err(sql_err)?;
    let mut rows = stmt.query([interaction_row]).map_err(sql_err)?;
    let mut shapes = events::ShapeReader::default();
    let mut found = Vec::new();
    while let Some(r) = rows.next().map_err(sql_err)? {
        let run: i64 = r.get(0).map_err(sql_err)?;
        let server_ms: i64 = r.get(1).map_err(sql_err)?;
        let blob = r
            .get_ref(2)
            .map_err(sql_err)?
            .as_blob()
            .map_err(|e| sql_err(e.into()))?;
        let page_id = optional_id(r, 3)?;
        let stored = events::decode_run(blob, server_ms)
            .ok_or_else(|| corrupt(format!("event run {run}")))?;
        for (pos, e) in stored.into_iter().enumerate() {
            let event = events::offer_event(&mut shapes, conn, &e, context_id, page_id.as_deref())?;
            found.push((
                (run, pos),
                StoredEvent {
                    client_id: e.client_id,
                    client_time_ms: e.client_time_ms,
                    server_ms,
                    event,
                },
            ));
        }
    }
    found.sort_by_key(|(at, e)| (e.client_time_ms.unwrap_or(e.server_ms), e.event.name, *at));
    Ok(found.into_iter().map(|(_, e)| e).collect())
}

/// A visit's attributes in history shape with their stamps, oldest first: the chain from
/// the visit's head, put in client-time order (server time where the page gave none).
fn visit_attributes(conn: &Connection, head: Option<i64>) -> Result<Vec<RawJson>, StoreError> {
    let mut step = conn
        .prepare_cached(
            "SELECT history, server_ms, server_ms - client_lag_ms, prev_in_visit
             FROM sdes WHERE id = ?1",
        )
        .map_err(sql_err)?;
    let mut found = Vec::new();
    let mut next = head;
    while let Some(id) = next {
        let link = step
            .query_row([id], |r| {
                Ok((
                    unpack_history(r.get_ref(0)?),
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .optional()
            .map_err(sql_err)?;
        // A report removed by retention or erasure ends the chain.
        let Some((history, server_ms, client_ms, prev)) = link else {
            break;
        };
        let history = history.ok_or_else(|| corrupt(format!("attribute {id}")))?;
        let value = stamped(&history, server_ms, client_ms)
            .ok_or_else(|| corrupt(format!("attribute {id}")))?;
        found.push((client_ms.unwrap_or(server_ms), id, value));
        // Rows only point at older rows, so the walk ends.
        next = prev.filter(|p| *p < id);
    }
    found.sort_by_key(|(at, id, _)| (*at, *id));
    Ok(found.into_iter().map(|(_, _, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_holds_names_and_ids_but_not_amounts_dates_or_member_names() {
        let text = search_text(
            r#"{"purchase":{"total":"11.7","currency":"USD","orderId":"DRV1534XC","cart":{"products":[{"product":{"name":"red shoe","sku":"xyz567","price":"77.8"},"quantity":"1"}]}}}"#,
        );
        let mut values: Vec<&str> = text.split(" ; ").collect();
        values.sort_unstable();
        assert_eq!(values, ["DRV1534XC", "red shoe", "xyz567"]);
    }

    #[test]
    fn a_search_is_one_quoted_phrase_over_its_types_columns() {
        let search = |text: &str, types: Vec<SdeType>| {
            match_expression(&TextSearch {
                text: text.into(),
                types,
            })
        };
        assert_eq!(
            search("say \"hi\" OR x", vec![SdeType::Purchase, SdeType::Lead]).as_deref(),
            Some(r#"{purchase lead} : "say ""hi"" OR x""#)
        );
        assert_eq!(search("-- ; --", vec![]), None);
        assert!(search("x", vec![])
            .unwrap()
            .starts_with("{cartStatus purchase"));
    }
}
