//! The SQLite schema, its migrations and the connection settings.
//!
//! Migrations are numbered by `PRAGMA user_version`: migration `n` (1-based) turns a
//! database at version `n - 1` into one at version `n`, in one transaction.
//!
//! Write-path choices (see docs/architecture.md, Storage):
//! - Events are packed in runs (`event_runs`, see `events`), one row per interaction and
//!   batch, and their client ids kept once more in `event_ids`, the exactly-once key.
//!   `sdes` is a rowid table with one unique index, `(account, client_id)`. Client ids
//!   are time-ordered, so tables and keys grow at their right edge.
//! - What rows would repeat is stored once (version 9, see `compact`): the data every
//!   event of an engagement repeats in `event_shapes`, event names and attribute member
//!   names as codes, canonical UUIDs as 16 bytes, client times as lags behind the server
//!   time.
//! - A visit's attribute state is not stored as JSON: every `sdes` row of a visit points
//!   at the visit's previous one (`prev_in_visit`) and `visit_heads.sde_head` at the
//!   latest, and reading a visit replays that chain (by primary key) through
//!   `VisitSdes::record`. A stored state would be rewritten for every batch that reports
//!   an attribute, and the appended types make it grow with every report: measured, those
//!   rewrites were a third of what the log wrote.
//! - What changes with every batch of a visit (last seen, the chain head) lives in
//!   `visit_heads`, rows of a few bytes that share pages, so a group of batches over many
//!   sessions dirties few pages; `visits` is written once, when the session starts.
//! - Events and attributes point at their interaction, visit and page by rowid instead of
//!   repeating their ids in every row.

use rusqlite::Connection;

use super::sql_err;
use crate::StoreError;

/// One schema step: its SQL, then, when the new tables must be filled from old rows in a
/// way SQL cannot say, a function run in the same transaction.
struct Migration {
    sql: &'static str,
    fill: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

/// The migrations, oldest first; `MIGRATIONS.len()` is the current schema version.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: V1,
        fill: None,
    },
    Migration {
        sql: super::campaigns::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::history::MIGRATION,
        fill: Some(super::history::backfill_sde_text),
    },
    Migration {
        sql: V4,
        fill: None,
    },
    Migration {
        sql: super::identities::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::interactions::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::oauth::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::oauth::NONCES_MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::compact::MIGRATION,
        fill: Some(super::compact::fill),
    },
    Migration {
        sql: super::webhooks::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::console::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::erasure::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::analytics::MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::interactions::BOT_MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::analytics::COUPONS_MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::analytics::BOTS_MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::analytics::PACKED_STEPS_MIGRATION,
        fill: Some(super::analytics::fill_packed_steps),
    },
    Migration {
        sql: super::analytics::FACT_CACHE_MIGRATION,
        fill: None,
    },
    Migration {
        sql: super::analytics::PURCHASES_BY_TIME_MIGRATION,
        fill: None,
    },
];

/// Schema version 4: what an app says about its device (`clientProperties`), as JSON.
const V4: &str = "ALTER TABLE visits ADD COLUMN client_properties TEXT;";

const V1: &str = r#"
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    api_key_hash    TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX accounts_api_key_hash ON accounts (api_key_hash);

CREATE TABLE visits (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,
    visitor_id    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    user_agent    TEXT,
    referrer      TEXT
);
CREATE UNIQUE INDEX visits_session ON visits (account, session_id);
CREATE INDEX visits_visitor ON visits (account, visitor_id);

-- The part of a visit that every batch changes, in small rows.
CREATE TABLE visit_heads (
    visit_id     INTEGER PRIMARY KEY,
    last_seen_ms INTEGER NOT NULL,
    -- sdes.id of the visit's latest attribute; the chain goes on through
    -- sdes.prev_in_visit.
    sde_head     INTEGER
);

CREATE TABLE pages (
    id          INTEGER PRIMARY KEY,
    account     TEXT NOT NULL,
    page_id     TEXT NOT NULL,
    visit_id    INTEGER,
    url         TEXT,
    referrer    TEXT,
    title       TEXT,
    sections    TEXT NOT NULL DEFAULT '[]',
    user_agent  TEXT,
    received_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX pages_page ON pages (account, page_id);

CREATE TABLE events (
    id                  INTEGER PRIMARY KEY,
    account             TEXT NOT NULL,
    -- A canonical lowercase UUID as its 16 bytes (BLOB), any other id as TEXT.
    client_id           TEXT NOT NULL,
    server_ms           INTEGER NOT NULL,
    client_ms           INTEGER,
    visit_id            INTEGER,
    page_row            INTEGER,
    event_name          TEXT NOT NULL,
    context_id          TEXT NOT NULL,
    page_context_id     TEXT NOT NULL,
    -- u64 values above i64::MAX are stored as their decimal text.
    campaign_id         INTEGER NOT NULL,
    engagement_id       INTEGER NOT NULL,
    engagement_revision INTEGER NOT NULL,
    engagement_type     INTEGER,
    zone_id             INTEGER,
    state               INTEGER,
    tgl_name            TEXT,
    done                INTEGER,
    engagement_name     TEXT
);
CREATE UNIQUE INDEX events_client_id ON events (account, client_id);

CREATE TABLE sdes (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,
    -- As events.client_id.
    client_id     TEXT NOT NULL,
    server_ms     INTEGER NOT NULL,
    client_ms     INTEGER,
    visit_id      INTEGER,
    page_row      INTEGER,
    sde_type      TEXT NOT NULL,
    prev_in_visit INTEGER,
    -- History shape without serverTimeStamp and originalTimeStamp: they are server_ms
    -- and client_ms, and export puts them back.
    history       TEXT NOT NULL
);
CREATE UNIQUE INDEX sdes_client_id ON sdes (account, client_id);

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    account     TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    idx         INTEGER,
    client_id   TEXT,
    raw         TEXT NOT NULL,
    context     TEXT NOT NULL,
    errors      TEXT NOT NULL,
    replayed_ms INTEGER
);
CREATE INDEX quarantine_account ON quarantine (account, id);
"#;

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long a connection waits for a lock before failing. Only the checkpointer and a
/// second process compete with the writer for locks.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Settings of the one write connection. `synchronous=FULL` in WAL mode syncs the log at
/// every commit, so an answered `ingest` survives power loss.
pub(crate) fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    // 16 MB of cache holds the right edges of the tables and indexes and the hot
    // sessions; a larger one measured slower (more page allocation, and the cache is
    // scanned at the end of every transaction).
    conn.execute_batch(&format!(
        "PRAGMA page_size = 4096;
         PRAGMA cache_size = -16384;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 0;"
    ))
    .map_err(sql_err)?;
    // journal_mode answers with the mode it ended up in; WAL can be refused (for example
    // on a file system without shared memory), and the durability argument needs it.
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::InvalidLocation(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    Ok(())
}

/// Settings of the checkpointer's connection: it syncs the database file before the log
/// may be started over. The admin writes' connection uses them too, so it zeroes what it
/// deletes like the writer (`secure_delete`, see `erasure`).
pub(crate) fn configure_checkpointer(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
         PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;
         PRAGMA wal_autocheckpoint = 0;"
    ))
}

/// Settings of a read connection: it never writes.
pub(crate) fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
         PRAGMA query_only = ON;
         PRAGMA cache_size = -16384;"
    ))
}

/// Brings the schema to [`SCHEMA_VERSION`]. Refuses a database written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    migrate_to(conn, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, target: usize) -> Result<(), MigrateError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version).map_err(|_| MigrateError::Unknown(version))?;
    if version > SCHEMA_VERSION {
        return Err(MigrateError::Newer(version));
    }
    for (done, step) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step.sql)?;
        if let Some(fill) = step.fill {
            fill(&tx)?;
        }
        tx.pragma_update(None, "user_version", done + 1)?;
        tx.commit()?;
        tracing::info!(version = done + 1, "migrated the sqlite schema");
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) enum MigrateError {
    Db(rusqlite::Error),
    Newer(usize),
    Unknown(i64),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Db(e)
    }
}

#[cfg(test)]
#[path = "schema_v7_tests.rs"]
mod v7_tests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A version 2 database: one visit with two contexts' events (one sent late and out
    /// of order) and a purchase.
    fn version_2() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute_batch(
            r#"INSERT INTO accounts VALUES ('1', 'Shop', 'h', 0, '[]');
            INSERT INTO visits VALUES (1, '1', 'v1', 's1', 100, NULL, NULL);
            INSERT INTO visit_heads VALUES (1, 900, 1);
            INSERT INTO pages (id, account, page_id, visit_id, received_ms) VALUES (1, '1', 'p1', 1, 100);
            INSERT INTO events (account, client_id, server_ms, client_ms, visit_id, page_row,
                event_name, context_id, page_context_id, campaign_id, engagement_id,
                engagement_revision)
            VALUES ('1', 'e1', 500, 300, 1, 1, 'OFFER_CLICK', 'ctx-a', 'p', 7, 8, 1),
                   ('1', 'e2', 500, 200, 1, 1, 'START', 'ctx-a', 'p', 7, 8, 1),
                   ('1', 'e3', 600, NULL, 1, 1, 'OFFER_DISPLAY', 'ctx-b', 'p', 7, 9, 1);
            INSERT INTO sdes (account, client_id, server_ms, visit_id, page_row, sde_type, history)
            VALUES ('1', 's1', 700, 1, 1, 'purchase', '{"purchase":{"total":"11.7","orderId":"DRV1534XC"}}');"#,
        )
        .unwrap();
        conn
    }

    #[test]
    fn migrating_a_version_2_database_builds_its_interactions_and_text_index() {
        let mut conn = version_2();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, i64, i64, i64, i64)> = conn
            .prepare("SELECT context_id, start_ms, end_ms, outcome, visit_id FROM interactions ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("ctx-a".into(), 200, 300, 6, 1),
                ("ctx-b".into(), 600, 600, 2, 1)
            ]
        );
        assert_eq!(
            event_links(&conn),
            [("e1".into(), 1), ("e2".into(), 1), ("e3".into(), 2)]
        );
        let found: i64 = conn
            .query_row(
                "SELECT rowid FROM sde_text WHERE sde_text MATCH '{purchase} : \"drv1534xc\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1);
    }

    /// Every stored event's client id and interaction row, in storage order.
    fn event_links(conn: &Connection) -> Vec<(String, i64)> {
        let mut stmt = conn
            .prepare("SELECT interaction_row, server_ms, events FROM event_runs ORDER BY id")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut links = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let row: i64 = r.get(0).unwrap();
            let run = super::super::events::decode_run(
                r.get_ref(2).unwrap().as_blob().unwrap(),
                r.get(1).unwrap(),
            )
            .unwrap();
            links.extend(run.into_iter().map(|e| (e.client_id, row)));
        }
        links
    }

    /// A version 5 database where two visits' events shared context "1" (and so one
    /// interaction row, showing the first visit), and a third visit has context "2".
    fn version_5() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 5).unwrap();
        conn.execute_batch(
            r#"INSERT INTO accounts VALUES ('1', 'Shop', 'h', 0, '[]');
            INSERT INTO visits (id, account, visitor_id, session_id, first_seen_ms)
            VALUES (1, '1', 'vx', 'sx', 100), (2, '1', 'vy', 'sy', 100), (3, '1', 'vz', 'sz', 100);
            INSERT INTO pages (id, account, page_id, visit_id, received_ms)
            VALUES (1, '1', 'px', 1, 100), (2, '1', 'py', 2, 100), (3, '1', 'pz', 3, 100);
            INSERT INTO interactions (id, account, context_id, visit_id, page_row, campaign_id,
                engagement_id, engagement_revision, start_ms, end_ms, outcome)
            VALUES (1, '1', '1', 1, 1, 7, 8, 1, 200, 900, 6),
                   (2, '1', '2', 3, 3, 7, 8, 1, 300, 300, 1);
            INSERT INTO events (account, client_id, server_ms, client_ms, visit_id, page_row,
                event_name, context_id, page_context_id, campaign_id, engagement_id,
                engagement_revision, interaction_row)
            VALUES ('1', 'e1', 500, 200, 1, 1, 'START', '', 'p', 7, 8, 1, 1),
                   ('1', 'e2', 500, 400, 1, 1, 'OFFER_DISPLAY', '', 'p', 7, 8, 1, 1),
                   ('1', 'e3', 600, 250, 2, 2, 'START', '', 'p', 9, 10, 1, 1),
                   ('1', 'e4', 600, 900, 2, 2, 'OFFER_CLICK', '', 'p', 9, 10, 1, 1),
                   ('1', 'e5', 700, 300, 3, 3, 'START', '', 'p', 7, 8, 1, 2);"#,
        )
        .unwrap();
        conn
    }

    #[test]
    fn migrating_a_version_5_database_parts_interactions_merged_across_visits() {
        let mut conn = version_5();
        migrate(&mut conn).unwrap();
        let rows: Vec<(i64, String, i64, i64, i64, i64, i64)> = conn
            .prepare(
                "SELECT id, context_id, visit_id, engagement_id, start_ms, end_ms, outcome
                 FROM interactions ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "1".into(), 1, 8, 200, 400, 2),
                (2, "2".into(), 3, 8, 300, 300, 1),
                (3, "1".into(), 2, 10, 250, 900, 6),
            ],
            "the first visit keeps its row and its ids; the second gets its own"
        );
        assert_eq!(
            event_links(&conn),
            [
                ("e1".into(), 1),
                ("e2".into(), 1),
                ("e3".into(), 3),
                ("e4".into(), 3),
                ("e5".into(), 2)
            ]
        );
        // The new key: the same context id in another visit is another row.
        conn.execute(
            "INSERT INTO interactions (account, context_id, visit_id, campaign_id, engagement_id,
                 engagement_revision, start_ms, end_ms, outcome)
             VALUES ('1', '2', 1, 7, 8, 1, 0, 0, 1)",
            [],
        )
        .unwrap();
        let again = conn.execute(
            "INSERT OR IGNORE INTO interactions (account, context_id, visit_id, campaign_id,
                 engagement_id, engagement_revision, start_ms, end_ms, outcome)
             VALUES ('1', '2', 1, 7, 8, 1, 0, 0, 1)",
            [],
        );
        assert_eq!(again.unwrap(), 0, "one row per account, context and visit");
        // Pages too: page "px" of visit 1 may be named by visit 2 as its own page view.
        conn.execute(
            "INSERT INTO pages (account, page_id, visit_id, received_ms) VALUES ('1', 'px', 2, 0)",
            [],
        )
        .unwrap();
        let pages: i64 = conn
            .query_row("SELECT count(*) FROM pages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pages, 4);
    }

    /// Version 16's step rows (one per occurrence) become one packed row per batch at
    /// version 17, and a funnel reads the same occurrences from them.
    #[test]
    fn migrating_version_16_step_rows_packs_them_per_batch() {
        use crate::analytics::{Step, StepOccurrence, StepScope};
        use engage_model::{OfferEventName, SdeType};

        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 16).unwrap();
        conn.execute_batch(
            "INSERT INTO analytics_steps VALUES
                 ('1', 1000, 'v1', 3, 7, 8), ('1', 1000, 'v1', 4, 7, 8),
                 ('1', 1000, 'v1', 4, 7, 9), ('1', 1000, 'v1', 17, 0, 0),
                 ('1', 2000, 'v1', 3, 7, 8), ('1', 2000, 'v2', 3, 5000000000, 8),
                 ('2', 1000, 'v1', 3, 7, 8);
             INSERT INTO analytics_bot_steps VALUES ('1', 1500, 'b1', 3, 7, 8);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM analytics_steps", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4, "one row per account, time and visitor");
        let scope = StepScope {
            from_ms: 0,
            to_ms: 10_000,
            steps: vec![
                Step::Event(OfferEventName::OfferImpression),
                Step::Event(OfferEventName::OfferClick),
                Step::Sde(SdeType::Purchase),
            ],
            campaign_ids: vec![],
            engagement_ids: vec![],
            include_bots: true,
        };
        let occurrence = |at_ms, visitor: &str, step, campaign_id, engagement_id| StepOccurrence {
            at_ms,
            visitor_id: visitor.to_owned(),
            step,
            campaign_id,
            engagement_id,
        };
        let impression = Step::Event(OfferEventName::OfferImpression);
        let click = Step::Event(OfferEventName::OfferClick);
        assert_eq!(
            super::super::analytics::steps(&conn, "1", &scope).unwrap(),
            [
                occurrence(1000, "v1", impression, 7, 8),
                occurrence(1000, "v1", click, 7, 8),
                occurrence(1000, "v1", click, 7, 9),
                occurrence(1000, "v1", Step::Sde(SdeType::Purchase), 0, 0),
                occurrence(1500, "b1", impression, 7, 8),
                occurrence(2000, "v1", impression, 7, 8),
                occurrence(2000, "v2", impression, 5_000_000_000, 8),
            ]
        );
        let clicks_of_9 = StepScope {
            steps: vec![click],
            engagement_ids: vec![9],
            include_bots: false,
            ..scope
        };
        assert_eq!(
            super::super::analytics::steps(&conn, "1", &clicks_of_9).unwrap(),
            [occurrence(1000, "v1", click, 7, 9)]
        );
    }
}
