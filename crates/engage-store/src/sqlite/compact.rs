//! Schema version 9: the same facts in fewer bytes (docs/architecture.md, "What a row
//! does not repeat").
//!
//! - Events move into `event_runs` and `event_ids` (see `events`). What every event of
//!   an engagement repeats (campaign, engagement, revision, type, zone, state, renderer,
//!   `done`, name) is one row of `event_shapes`, a dictionary the writer fills as new
//!   combinations arrive and keeps in memory ([`Shapes`]); the event name is a small
//!   code ([`EVENT_NAMES`]).
//! - The frequency cap and the `ended` search read flags of the interaction row
//!   (`impressed`, `ended`) instead of a partial index on impression events and a look
//!   at each clicked interaction's events.
//! - An interaction's context id and a page's id are stored like client ids (16 bytes
//!   for a canonical UUID, see `batch::ClientKey`).
//! - An attribute's history JSON is stored packed ([`pack_history`]): each member name
//!   that the history shapes use becomes one or two bytes. Its type is its outer member,
//!   so `sdes` keeps no type column; its client time is its lag behind the server time.
//! - A page view keeps its user agent only when it differs from its visit's.
//!
//! Every code here is frozen: a stored byte keeps its meaning, new names go at the end.

use std::collections::HashMap;
use std::sync::OnceLock;

use engage_model::{OfferData, OfferEventName};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::batch::ClientKey;
use super::events::{encode_run, RunEvent, MAX_RUN};
use super::SqlU64;

/// Schema version 9 (see the module documentation); [`fill`] finishes it.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE event_shapes (
    id                  INTEGER PRIMARY KEY,
    campaign_id         NOT NULL, -- no affinity: SqlU64 writes text above i64::MAX
    engagement_id       NOT NULL,
    engagement_revision NOT NULL,
    engagement_type     INTEGER,
    zone_id,
    state               INTEGER,
    tgl_name            TEXT,
    done                INTEGER,
    engagement_name     TEXT
);
CREATE INDEX event_shapes_engagement ON event_shapes (engagement_id, engagement_revision);

INSERT INTO event_shapes (campaign_id, engagement_id, engagement_revision, engagement_type,
    zone_id, state, tgl_name, done, engagement_name)
SELECT DISTINCT campaign_id, engagement_id, engagement_revision, engagement_type, zone_id,
    state, tgl_name, done, engagement_name
FROM events;

ALTER TABLE interactions ADD COLUMN impressed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE interactions ADD COLUMN ended INTEGER NOT NULL DEFAULT 0;
UPDATE interactions SET impressed = 1
WHERE id IN (SELECT interaction_row FROM events WHERE event_name = 'OFFER_IMPRESSION');
UPDATE interactions SET ended = 1
WHERE id IN (SELECT interaction_row FROM events
             WHERE event_name IN ('OFFER_DECLINED', 'OFFER_TIMEOUT', 'OFFER_REMOVE'));

-- Every accepted event's (account, client id): exactly-once (see `events`). INTEGER
-- affinity stores an account id of eight digits in four bytes (the text bound in
-- statements is converted the same way, so it compares equal); ids of other forms stay
-- text, and no two eight-digit ids convert to one number.
CREATE TABLE event_ids (
    account   INTEGER NOT NULL,
    -- A canonical lowercase UUID as its 16 bytes (BLOB), any other id as TEXT.
    client_id NOT NULL,
    PRIMARY KEY (account, client_id)
) WITHOUT ROWID;

-- Consecutive events of one batch and one interaction, packed (see `events`).
CREATE TABLE event_runs (
    id              INTEGER PRIMARY KEY,
    account         INTEGER NOT NULL, -- as event_ids.account
    interaction_row INTEGER NOT NULL,
    server_ms       INTEGER NOT NULL,
    page_row        INTEGER,
    events          BLOB NOT NULL
);
CREATE INDEX event_runs_interaction ON event_runs (interaction_row);

CREATE TABLE sdes_v8 (
    id            INTEGER PRIMARY KEY,
    account       INTEGER NOT NULL, -- as event_ids.account
    -- As events.client_id.
    client_id     NOT NULL,
    server_ms     INTEGER NOT NULL,
    -- As events.client_lag_ms.
    client_lag_ms INTEGER,
    visit_id      INTEGER,
    page_row      INTEGER,
    prev_in_visit INTEGER,
    -- History shape without serverTimeStamp and originalTimeStamp (they are server_ms
    -- and the client time), packed by compact::pack_history.
    history       BLOB NOT NULL
);
INSERT INTO sdes_v8 (id, account, client_id, server_ms, client_lag_ms, visit_id, page_row,
    prev_in_visit, history)
SELECT id, account, client_id, server_ms, server_ms - client_ms, visit_id, page_row,
    prev_in_visit, history
FROM sdes ORDER BY id;
DROP TABLE sdes;
ALTER TABLE sdes_v8 RENAME TO sdes;
CREATE UNIQUE INDEX sdes_client_id ON sdes (account, client_id);

UPDATE pages SET user_agent = NULL
WHERE user_agent IS NOT NULL
    AND user_agent IS (SELECT v.user_agent FROM visits v WHERE v.id = pages.visit_id);
"#;

/// Finishes [`MIGRATION`] where SQL cannot: packs the events into runs and the stored
/// attributes, and stores the interactions' context ids and the pages' ids like client
/// ids.
pub(crate) fn fill(conn: &Connection) -> rusqlite::Result<()> {
    pack_events(conn)?;
    conn.execute_batch("DROP TABLE events;")?;
    rewrite(conn, "sdes", "history", |text| match pack_history(text) {
        PackedHistory::Packed(bytes) => Some(rusqlite::types::Value::Blob(bytes)),
        PackedHistory::Text(_) => None,
    })?;
    for (table, column) in [("interactions", "context_id"), ("pages", "page_id")] {
        rewrite(conn, table, column, |text| {
            match ClientKey::new(text.to_owned()) {
                ClientKey::Uuid(bytes) => Some(rusqlite::types::Value::Blob(bytes.to_vec())),
                ClientKey::Text(_) => None,
            }
        })?;
    }
    Ok(())
}

/// Replaces each TEXT `column` of `table` by what `f` makes of it (`None`: left as it
/// is). A chunk of rows is read, then written, so no statement changes rows that another
/// is still reading.
fn rewrite(
    conn: &Connection,
    table: &str,
    column: &str,
    f: impl Fn(&str) -> Option<rusqlite::types::Value>,
) -> rusqlite::Result<()> {
    let mut read = conn.prepare(&format!(
        "SELECT id, {column} FROM {table}
         WHERE id > ?1 AND typeof({column}) = 'text' ORDER BY id LIMIT 1000"
    ))?;
    let mut write = conn.prepare(&format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1"))?;
    let mut after = 0i64;
    loop {
        let chunk: Vec<(i64, String)> = read
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some((last, _)) = chunk.last() else {
            return Ok(());
        };
        after = *last;
        for (id, text) in &chunk {
            if let Some(value) = f(text) {
                write.execute(params![id, value])?;
            }
        }
    }
}

/// Moves the version 7 `events` rows into `event_ids` and `event_runs`, in row order:
/// consecutive rows of one account, interaction, server time and page make one run, so
/// the export keeps their order.
fn pack_events(conn: &Connection) -> rusqlite::Result<()> {
    struct Row {
        account: String,
        interaction_row: i64,
        server_ms: i64,
        page_row: Option<i64>,
        page_id: Option<String>,
        name: OfferEventName,
        shape: i64,
        client_id: ClientKey,
        client_time_ms: Option<i64>,
        page_context: ClientKey,
        page_context_text: Option<String>,
    }
    fn flush(conn: &Connection, run: &mut Vec<Row>) -> rusqlite::Result<()> {
        let Some(first) = run.first() else {
            return Ok(());
        };
        let events: Vec<RunEvent<'_>> = run
            .iter()
            .map(|r| RunEvent {
                name: r.name,
                shape: r.shape,
                client_id: &r.client_id,
                client_time_ms: r.client_time_ms,
                page_context: (r.page_id.is_none() || r.page_id != r.page_context_text)
                    .then_some(&r.page_context),
            })
            .collect();
        conn.prepare_cached(
            "INSERT INTO event_runs (account, interaction_row, server_ms, page_row, events)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            first.account,
            first.interaction_row,
            first.server_ms,
            first.page_row,
            encode_run(&events, first.server_ms)
        ])?;
        let mut ids = conn.prepare_cached(
            "INSERT OR IGNORE INTO event_ids (account, client_id) VALUES (?1, ?2)",
        )?;
        for r in run.iter() {
            ids.execute(params![r.account, r.client_id])?;
        }
        run.clear();
        Ok(())
    }
    let mut read = conn.prepare(
        "SELECT e.account, e.interaction_row, e.server_ms, e.page_row, p.page_id, e.event_name,
            (SELECT s.id FROM event_shapes s
             WHERE s.engagement_id IS e.engagement_id
                AND s.engagement_revision IS e.engagement_revision
                AND s.campaign_id IS e.campaign_id AND s.engagement_type IS e.engagement_type
                AND s.zone_id IS e.zone_id AND s.state IS e.state AND s.tgl_name IS e.tgl_name
                AND s.done IS e.done AND s.engagement_name IS e.engagement_name),
            e.client_id, e.client_ms, e.page_context_id
         FROM events e LEFT JOIN pages p ON p.id = e.page_row
         ORDER BY e.id",
    )?;
    let mut rows = read.query([])?;
    let mut run: Vec<Row> = Vec::new();
    let key = |v: rusqlite::types::ValueRef<'_>| -> rusqlite::Result<(ClientKey, Option<String>)> {
        let text = ClientKey::read(v);
        let key = match v {
            rusqlite::types::ValueRef::Blob(b) => match <[u8; 16]>::try_from(b) {
                Ok(bytes) => ClientKey::Uuid(bytes),
                Err(_) => {
                    return Err(rusqlite::Error::InvalidColumnType(
                        0,
                        "client id".into(),
                        rusqlite::types::Type::Blob,
                    ))
                }
            },
            _ => ClientKey::Text(text.clone().unwrap_or_default()),
        };
        Ok((key, text))
    };
    while let Some(r) = rows.next()? {
        let name: String = r.get(5)?;
        let name = OfferEventName::from_name(&name).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(5, "event_name".into(), rusqlite::types::Type::Text)
        })?;
        let (client_id, _) = key(r.get_ref(7)?)?;
        let (page_context, page_context_text) = key(r.get_ref(9)?)?;
        let row = Row {
            account: r.get(0)?,
            interaction_row: r.get(1)?,
            server_ms: r.get(2)?,
            page_row: r.get(3)?,
            page_id: r.get(4)?,
            name,
            shape: r.get(6)?,
            client_id,
            client_time_ms: r.get(8)?,
            page_context,
            page_context_text,
        };
        let joins = run.first().is_some_and(|f| {
            f.account == row.account
                && f.interaction_row == row.interaction_row
                && f.server_ms == row.server_ms
                && f.page_row == row.page_row
                && run.len() < MAX_RUN
        });
        if !joins {
            flush(conn, &mut run)?;
        }
        run.push(row);
    }
    flush(conn, &mut run)
}

/// Event names by stored code (1-based).
/// Append only: a stored code keeps its meaning.
pub(crate) const EVENT_NAMES: [OfferEventName; 9] = [
    OfferEventName::Start,
    OfferEventName::OfferDisplay,
    OfferEventName::OfferImpression,
    OfferEventName::OfferClick,
    OfferEventName::OfferDeclined,
    OfferEventName::OfferTimeout,
    OfferEventName::OfferRemove,
    OfferEventName::CouponRevealed,
    OfferEventName::CouponCopied,
];

pub(crate) fn event_code(name: OfferEventName) -> i64 {
    EVENT_NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| i64::try_from(i + 1).ok())
        .unwrap_or(0)
}

pub(crate) fn event_name(code: i64) -> Option<OfferEventName> {
    let i = usize::try_from(code).ok()?.checked_sub(1)?;
    EVENT_NAMES.get(i).copied()
}

/// Member names of the history shapes, by code. Codes `1..=30` are one byte; later ones
/// are [`LONG_CODE`] and a second byte. Append only.
const HISTORY_KEYS: &[&str] = &[
    "products",
    "product",
    "name",
    "category",
    "sku",
    "price",
    "quantity",
    "currency",
    "total",
    "numItems",
    "customerInfo",
    "personalInfo",
    "viewedProduct",
    "cartStatus",
    "purchase",
    "searchContent",
    "keywords",
    "marketingCampaignInfo",
    "customerId",
    "customerStatus",
    "customerType",
    "day",
    "month",
    "year",
    "orderId",
    "cart",
    "statusInStock",
    "quantityInStock",
    "email",
    "phone",
    // Two bytes from here on.
    "balance",
    "socialId",
    "imei",
    "userName",
    "companySize",
    "companyBranch",
    "accountName",
    "role",
    "lastPaymentDate",
    "registrationDate",
    "loginStatus",
    "storeZipCode",
    "storeNumber",
    "originatingChannel",
    "affiliate",
    "campaignId",
    "surname",
    "customerAge",
    "customerAgeInYears",
    "customerYearOfBirth",
    "customerMonthOfBirth",
    "customerDateOfBirth",
    "contacts",
    "personalContact",
    "phoneType",
    "address",
    "country",
    "region",
    "gender",
    "company",
    "language",
    "lead",
    "topic",
    "value",
    "leadId",
    "serviceActivity",
    "status",
    "serviceId",
    "visitorError",
    "contextId",
    "message",
    "code",
    "level",
    "resolved",
    "serverTimeStamp",
    "originalTimeStamp",
    "Currency",
    "type",
];

/// One-byte codes are `1..=SHORT_CODES`.
const SHORT_CODES: usize = 30;
/// Followed by `code - SHORT_CODES - 1` in one byte.
const LONG_CODE: u8 = 0x1f;

fn key_codes() -> &'static HashMap<&'static str, usize> {
    static CODES: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    CODES.get_or_init(|| {
        HISTORY_KEYS
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i + 1))
            .collect()
    })
}

/// `history` with each `"<name>":` of [`HISTORY_KEYS`] replaced by its code. JSON text
/// holds no byte below 0x20 (a string escapes them), so a code cannot be mistaken for
/// text; a text that does hold one is stored as it is (TEXT), and read back as it is.
pub(crate) fn pack_history(history: &str) -> PackedHistory {
    let bytes = history.as_bytes();
    if bytes.iter().any(|b| *b < 0x20) {
        return PackedHistory::Text(history.to_owned());
    }
    let codes = key_codes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            let rest = &bytes[i + 1..];
            if let Some(end) = rest.iter().position(|c| *c == b'"') {
                let name = &history[i + 1..i + 1 + end];
                if rest.get(end + 1) == Some(&b':') {
                    if let Some(code) = codes.get(name) {
                        push_code(&mut out, *code);
                        i += end + 3;
                        continue;
                    }
                }
            }
        }
        out.push(b);
        i += 1;
    }
    PackedHistory::Packed(out)
}

fn push_code(out: &mut Vec<u8>, code: usize) {
    if code <= SHORT_CODES {
        out.push(u8::try_from(code).unwrap_or(LONG_CODE));
    } else {
        out.push(LONG_CODE);
        out.push(u8::try_from(code - SHORT_CODES - 1).unwrap_or(u8::MAX));
    }
}

/// A history as stored: packed (BLOB) or, when it cannot be, as it is (TEXT).
pub(crate) enum PackedHistory {
    Packed(Vec<u8>),
    Text(String),
}

impl rusqlite::ToSql for PackedHistory {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            PackedHistory::Packed(b) => ValueRef::Blob(b),
            PackedHistory::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

/// The history JSON of a stored `sdes.history`; `None` when it is not one.
pub(crate) fn unpack_history(value: ValueRef<'_>) -> Option<String> {
    let bytes = match value {
        ValueRef::Text(t) => return String::from_utf8(t.to_vec()).ok(),
        ValueRef::Blob(b) => b,
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => return None,
    };
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        let code = match b {
            LONG_CODE => {
                let next = *bytes.get(i)?;
                i += 1;
                usize::from(next) + SHORT_CODES + 1
            }
            1..=0x1e => usize::from(b),
            _ => {
                out.push(b);
                continue;
            }
        };
        let name = HISTORY_KEYS.get(code - 1)?;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    }
    String::from_utf8(out).ok()
}

/// What every event of an engagement repeats: one `event_shapes` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShapeKey {
    campaign_id: u64,
    engagement_id: u64,
    engagement_revision: u64,
    engagement_type: Option<u8>,
    zone_id: Option<u64>,
    state: Option<u8>,
    tgl_name: Option<String>,
    done: Option<bool>,
    engagement_name: Option<String>,
}

impl ShapeKey {
    fn of(d: &OfferData) -> ShapeKey {
        ShapeKey {
            campaign_id: d.conf_key.campaign_id,
            engagement_id: d.conf_key.engagement_id,
            engagement_revision: d.conf_key.engagement_revision,
            engagement_type: d.engagement_type.map(|t| t.code()),
            zone_id: d.zone_id,
            state: d.state.map(|s| s.code()),
            tgl_name: d.tgl_name.clone(),
            done: d.done,
            engagement_name: d.engagement_name.clone(),
        }
    }
}

/// The writer's copy of `event_shapes`, by content. Holds committed rows or rows of the
/// current group (a rolled-back group clears it, as the other caches).
#[derive(Default)]
pub(crate) struct Shapes {
    ids: HashMap<ShapeKey, i64>,
}

/// The most shapes kept in memory; past it the map starts over (shapes come from the
/// engagements an account defines, so this is reached only by odd input).
const MAX_SHAPES: usize = 50_000;

impl Shapes {
    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// The `event_shapes` row of `d`'s shape, inserted when new.
    pub fn id(&mut self, conn: &Connection, d: &OfferData) -> rusqlite::Result<i64> {
        let key = ShapeKey::of(d);
        if let Some(id) = self.ids.get(&key) {
            return Ok(*id);
        }
        let args = params![
            SqlU64(key.campaign_id),
            SqlU64(key.engagement_id),
            SqlU64(key.engagement_revision),
            key.engagement_type,
            key.zone_id.map(SqlU64),
            key.state,
            key.tgl_name,
            key.done,
            key.engagement_name,
        ];
        let found = conn
            .prepare_cached(
                "SELECT id FROM event_shapes
                 WHERE engagement_id = ?2 AND engagement_revision = ?3 AND campaign_id = ?1
                     AND engagement_type IS ?4 AND zone_id IS ?5 AND state IS ?6
                     AND tgl_name IS ?7 AND done IS ?8 AND engagement_name IS ?9",
            )?
            .query_row(args, |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached(
                    "INSERT INTO event_shapes (campaign_id, engagement_id, engagement_revision,
                         engagement_type, zone_id, state, tgl_name, done, engagement_name)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(args)?;
                conn.last_insert_rowid()
            }
        };
        if self.ids.len() >= MAX_SHAPES {
            self.ids.clear();
        }
        self.ids.insert(key, id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_packed_history_reads_back_as_the_text_it_was() {
        for history in [
            r#"{"purchase":{"total":"11.7","currency":"USD","orderId":"DRV1534XC","cart":{"products":[{"product":{"name":"red shoe","sku":"xyz567","price":"77.8"},"quantity":"1"}]}}}"#,
            r#"{"customerInfo":{"customerInfo":{"customerStatus":"vip","storeNumber":"1","imei":"x"}}}"#,
            r#"{"searchContent":{"keywords":["\"name\":","name\":","\"sku\"",":\"price\"::"]}}"#,
            r#"{"lead":{"lead":{"topic":"é ü \u0001 \"","unknownMember":"\\\""}}}"#,
            r#"{"a":"""#,
            "",
            "\"",
            "\"name",
            "\"name\"",
        ] {
            let packed = pack_history(history);
            let stored = match &packed {
                PackedHistory::Packed(b) => ValueRef::Blob(b),
                PackedHistory::Text(t) => ValueRef::Text(t.as_bytes()),
            };
            assert_eq!(
                unpack_history(stored).as_deref(),
                Some(history),
                "{history}"
            );
        }
        let PackedHistory::Packed(b) = pack_history(r#"{"cartStatus":{"total":"1"}}"#) else {
            panic!("packed")
        };
        assert_eq!(b, b"{\x0e{\x09\"1\"}}");
        let raw = "{\"name\":\"\u{1}\"}";
        assert!(matches!(pack_history(raw), PackedHistory::Text(_)));
    }

    #[test]
    fn every_member_name_has_one_code_and_fits_in_two_bytes() {
        assert!(HISTORY_KEYS.len() <= SHORT_CODES + 256);
        assert_eq!(key_codes().len(), HISTORY_KEYS.len());
        for (i, name) in HISTORY_KEYS.iter().enumerate() {
            let history = format!("{{\"{name}\":1}}");
            let PackedHistory::Packed(b) = pack_history(&history) else {
                panic!("packed")
            };
            assert_eq!(b.len(), if i < SHORT_CODES { 4 } else { 5 }, "{name}");
            assert_eq!(
                unpack_history(ValueRef::Blob(&b)).as_deref(),
                Some(history.as_str())
            );
        }
    }

    #[test]
    fn event_codes_are_one_to_one() {
        for name in OfferEventName::ALL {
            assert_eq!(event_name(event_code(name)), Some(name));
        }
        assert_eq!(event_name(0), None);
        assert_eq!(event_name(10), None);
    }
}
