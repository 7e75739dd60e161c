//! The PostgreSQL schema, its versioned migrations and the time partitions of
//! `event_runs` and `sdes`.
//!
//! Migrations are numbered; `schema_migrations` holds one row per applied version. They
//! run on open under a session advisory lock, so two servers starting at once do not
//! both migrate: the second waits, then finds nothing left to do.
//!
//! Layout rules (docs/operations.md, PostgreSQL):
//! - Every primary and unique key leads with `account`, every query names its account,
//!   and no constraint spans accounts: the schema can be distributed by account (Citus).
//!   Only `schema_migrations` has no account.
//! - `event_runs` and `sdes` (`events` up to version 2) are partitioned by server time
//!   (`RANGE (server_ms)`, one partition per calendar month, UTC), so retention drops
//!   whole partitions. A partition table cannot have a unique key without the partition
//!   column, so exactly-once lives in `event_ids` and `sde_ids`, keyed `(account,
//!   client_id)`, written in the same transaction as the rows with `ON CONFLICT DO
//!   NOTHING`.
//! - Rows that fall outside the months created so far (clients replaying old data, a
//!   clock far off) go to a `DEFAULT` partition instead of failing the batch.
//! - Client ids are `bytea`: a canonical UUID as its 16 bytes, any other id as its UTF-8
//!   bytes after a `0xff` byte (never part of UTF-8), so the mapping is one to one and
//!   compact for the tag's ids.
//! - Numbers the API types as `u64` (campaign, engagement, zone ids) are stored in
//!   `bigint` with the same 64 bits: equality and the ids' own range (nine digits) sort
//!   as numbers; only values above `i64::MAX` would sort below the others.

use tokio_postgres::Client;

use super::pg_err;
use crate::StoreError;

/// The migrations, oldest first; migration `n` (1-based) takes the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    V1,
    V2,
    V3,
    V4,
    V5,
    super::webhooks::MIGRATION,
    CONSOLE_SESSIONS,
    super::privacy::MIGRATION,
    super::analytics::MIGRATION,
    BOTS,
    super::analytics::COUPONS_MIGRATION,
    super::analytics::BOTS_MIGRATION,
    super::analytics::PACKED_STEPS_MIGRATION,
    super::analytics::FACT_CACHE_MIGRATION,
    super::analytics::PURCHASES_BY_TIME_MIGRATION,
    super::history::START_ORDER_MIGRATION,
];

/// The bot flag of interactions (`BotReason::code`, 0 for a person's). Rows written before
/// it count as people's: the flag is decided when a row is created.
const BOTS: &str = "ALTER TABLE interactions ADD COLUMN bot smallint NOT NULL DEFAULT 0;";

/// Any constant both servers agree on: the advisory lock key of migrations and partition
/// upkeep (`engage` in ASCII).
pub(crate) const LOCK_KEY: i64 = 0x656e_6761_6765;

const V1: &str = r#"
CREATE TABLE accounts (
    account         text PRIMARY KEY,
    name            text NOT NULL,
    api_key_hash    text NOT NULL,
    created_ms      bigint NOT NULL,
    allowed_origins text NOT NULL DEFAULT '[]'
);
-- Not unique: a key spanning accounts would not distribute. Creating an account checks
-- the hash under an advisory lock instead (see admin.rs).
CREATE INDEX accounts_api_key_hash ON accounts (api_key_hash);

CREATE SEQUENCE visit_ids;
CREATE TABLE visits (
    account           text NOT NULL,
    visit_id          bigint NOT NULL DEFAULT nextval('visit_ids'),
    session_id        text NOT NULL,
    visitor_id        text NOT NULL,
    first_seen_ms     bigint NOT NULL,
    last_seen_ms      bigint NOT NULL,
    user_agent        text,
    referrer          text,
    client_properties text,
    PRIMARY KEY (account, visit_id),
    UNIQUE (account, session_id)
);
CREATE INDEX visits_visitor ON visits (account, visitor_id);

CREATE SEQUENCE page_rows;
CREATE TABLE pages (
    account     text NOT NULL,
    page_row    bigint NOT NULL DEFAULT nextval('page_rows'),
    visit_id    bigint NOT NULL,
    page_id     text NOT NULL,
    url         text,
    referrer    text,
    title       text,
    sections    text NOT NULL DEFAULT '[]',
    user_agent  text,
    received_ms bigint NOT NULL,
    PRIMARY KEY (account, page_row),
    UNIQUE (account, visit_id, page_id)
);

CREATE SEQUENCE interaction_ids;
CREATE TABLE interactions (
    account             text NOT NULL,
    interaction_id      bigint NOT NULL DEFAULT nextval('interaction_ids'),
    -- 0 for events that came without a visit (they share one row per context id).
    visit_id            bigint NOT NULL,
    context_id          text NOT NULL,
    page_row            bigint,
    campaign_id         bigint NOT NULL,
    engagement_id       bigint NOT NULL,
    engagement_revision bigint NOT NULL,
    engagement_type     smallint,
    zone_id             bigint,
    tgl_name            text,
    engagement_name     text,
    start_ms            bigint NOT NULL,
    end_ms              bigint NOT NULL,
    -- Outcome::rank of the furthest event.
    outcome             smallint NOT NULL,
    PRIMARY KEY (account, interaction_id),
    UNIQUE (account, visit_id, context_id)
);
CREATE INDEX interactions_start ON interactions (account, start_ms);
CREATE INDEX interactions_campaign ON interactions (account, campaign_id, start_ms);

CREATE TABLE event_ids (
    account   text NOT NULL,
    client_id bytea NOT NULL,
    PRIMARY KEY (account, client_id)
);

CREATE SEQUENCE event_rows;
-- What the interaction row holds (context id, visit) is not repeated here.
CREATE TABLE events (
    account             text NOT NULL,
    event_row           bigint NOT NULL DEFAULT nextval('event_rows'),
    server_ms           bigint NOT NULL,
    client_ms           bigint,
    client_id           bytea NOT NULL,
    interaction_id      bigint NOT NULL,
    -- The batch's page view (the interaction row has its first one).
    page_row            bigint,
    -- OfferEventName's position in its lifecycle order (0 = START).
    event_code          smallint NOT NULL,
    -- As client_id.
    page_context_id     bytea NOT NULL,
    campaign_id         bigint NOT NULL,
    engagement_id       bigint NOT NULL,
    engagement_revision bigint NOT NULL,
    engagement_type     smallint,
    zone_id             bigint,
    state               smallint,
    done                boolean,
    tgl_name            text,
    engagement_name     text,
    PRIMARY KEY (account, event_row, server_ms)
) PARTITION BY RANGE (server_ms);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_interaction ON events (account, interaction_id);
-- The frequency cap counts impressions (event_code 2) per engagement.
CREATE INDEX events_impressions ON events (account, interaction_id, engagement_id)
    WHERE event_code = 2;

CREATE TABLE sde_ids (
    account   text NOT NULL,
    client_id bytea NOT NULL,
    PRIMARY KEY (account, client_id)
);

CREATE SEQUENCE sde_rows;
CREATE TABLE sdes (
    account   text NOT NULL,
    sde_row   bigint NOT NULL DEFAULT nextval('sde_rows'),
    server_ms bigint NOT NULL,
    client_ms bigint,
    client_id bytea NOT NULL,
    visit_id  bigint,
    page_row  bigint,
    -- SdeType's position in SdeType::ALL.
    sde_type  smallint NOT NULL,
    -- History shape without serverTimeStamp and originalTimeStamp (they are server_ms
    -- and client_ms).
    history   text NOT NULL,
    -- The searchable words, lowercase, each between spaces (see history.rs).
    words     text NOT NULL,
    PRIMARY KEY (account, sde_row, server_ms)
) PARTITION BY RANGE (server_ms);
CREATE TABLE sdes_default PARTITION OF sdes DEFAULT;
CREATE INDEX sdes_visit ON sdes (account, visit_id, sde_row);

CREATE SEQUENCE quarantine_ids;
CREATE TABLE quarantine (
    account     text NOT NULL,
    id          bigint NOT NULL DEFAULT nextval('quarantine_ids'),
    received_ms bigint NOT NULL,
    kind        text NOT NULL,
    idx         bigint,
    client_id   text,
    raw         text NOT NULL,
    context     text NOT NULL,
    errors      text NOT NULL,
    replayed_ms bigint,
    PRIMARY KEY (account, id)
);

CREATE TABLE consumer_identities (
    account    text NOT NULL,
    identity   text NOT NULL,
    visitor_id text NOT NULL,
    created_ms bigint NOT NULL,
    PRIMARY KEY (account, identity)
);

CREATE TABLE exposures (
    account       text NOT NULL,
    session_id    text NOT NULL,
    context_id    text NOT NULL,
    campaign_id   bigint NOT NULL,
    engagement_id bigint NOT NULL,
    shown_ms      bigint NOT NULL,
    PRIMARY KEY (account, session_id, context_id)
);

CREATE TABLE oauth_keys (
    account             text NOT NULL,
    app_key             text NOT NULL,
    app_secret          text NOT NULL,
    access_token        text NOT NULL,
    access_token_secret text NOT NULL,
    created_ms          bigint NOT NULL,
    PRIMARY KEY (account, app_key)
);
CREATE INDEX oauth_keys_token ON oauth_keys (app_key, access_token);

CREATE TABLE apps (
    account    text NOT NULL,
    app_id     text NOT NULL,
    name       text NOT NULL,
    created_ms bigint NOT NULL,
    PRIMARY KEY (account, app_id)
);

CREATE TABLE campaigns (
    account     text NOT NULL,
    campaign_id bigint NOT NULL,
    name        text NOT NULL,
    goal        text,
    priority    bigint NOT NULL,
    enabled     boolean NOT NULL,
    created_ms  bigint NOT NULL,
    updated_ms  bigint NOT NULL,
    PRIMARY KEY (account, campaign_id)
);

CREATE TABLE engagements (
    account       text NOT NULL,
    engagement_id bigint NOT NULL,
    campaign_id   bigint NOT NULL,
    -- The newest revision; older ones stay in engagement_revisions.
    revision      bigint NOT NULL,
    state         smallint NOT NULL,
    created_ms    bigint NOT NULL,
    updated_ms    bigint NOT NULL,
    PRIMARY KEY (account, engagement_id)
);
CREATE INDEX engagements_campaign ON engagements (account, campaign_id, engagement_id);

CREATE TABLE engagement_revisions (
    account       text NOT NULL,
    engagement_id bigint NOT NULL,
    revision      bigint NOT NULL,
    created_ms    bigint NOT NULL,
    -- The definition's JSON text, kept as written (jsonb would reorder the targeting).
    definition    text NOT NULL,
    PRIMARY KEY (account, engagement_id, revision)
);
"#;

/// Version 2: what servers share besides the data.
///
/// - `oauth_nonces`: OAuth 1.0a nonces claimed and not yet expired, so a replay is
///   refused whichever server it reaches.
/// - Triggers on every admin table send `pg_notify('engage_changes', account)` in the
///   writing transaction: listeners hear of a change only once it is committed, and
///   whatever writes those tables (this build, a later one, an operator's SQL) is heard.
///   PostgreSQL folds the same payload sent twice in one transaction into one.
const V2: &str = r#"
CREATE TABLE oauth_nonces (
    account   text NOT NULL,
    nonce_key text NOT NULL,
    expires_s bigint NOT NULL,
    PRIMARY KEY (account, nonce_key)
);
CREATE INDEX oauth_nonces_expiry ON oauth_nonces (account, expires_s);

CREATE FUNCTION engage_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('engage_changes', OLD.account);
    ELSE
        PERFORM pg_notify('engage_changes', NEW.account);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
CREATE TRIGGER apps_changed AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
CREATE TRIGGER campaigns_changed AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
CREATE TRIGGER engagements_changed AFTER INSERT OR UPDATE OR DELETE ON engagements
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
CREATE TRIGGER engagement_revisions_changed AFTER INSERT OR UPDATE OR DELETE
    ON engagement_revisions FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
CREATE TRIGGER oauth_keys_changed AFTER INSERT OR UPDATE OR DELETE ON oauth_keys
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();
"#;

/// Version 3: events as packed runs over a shape dictionary (see `runs`), and the
/// interaction flags that replace looking at its events. [`fill_v3`] moves the
/// version 2 `events` rows into runs, then drops `events`.
const V3: &str = r#"
CREATE SEQUENCE event_shape_ids;
CREATE TABLE event_shapes (
    account             text NOT NULL,
    shape_id            bigint NOT NULL DEFAULT nextval('event_shape_ids'),
    campaign_id         bigint NOT NULL,
    engagement_id       bigint NOT NULL,
    engagement_revision bigint NOT NULL,
    engagement_type     smallint,
    zone_id             bigint,
    state               smallint,
    tgl_name            text,
    done                boolean,
    engagement_name     text,
    PRIMARY KEY (account, shape_id)
);
CREATE UNIQUE INDEX event_shapes_content ON event_shapes (account, campaign_id,
    engagement_id, engagement_revision, engagement_type, zone_id, state, tgl_name, done,
    engagement_name) NULLS NOT DISTINCT;

CREATE SEQUENCE event_run_rows;
-- The events of one batch and one interaction, packed (sqlite::events::encode_run).
CREATE TABLE event_runs (
    account        text NOT NULL,
    run_row        bigint NOT NULL DEFAULT nextval('event_run_rows'),
    server_ms      bigint NOT NULL,
    interaction_id bigint NOT NULL,
    -- The batch's page view (the page context id of its events, unless they say another).
    page_row       bigint,
    events         bytea NOT NULL,
    PRIMARY KEY (account, run_row, server_ms)
) PARTITION BY RANGE (server_ms);
CREATE TABLE event_runs_default PARTITION OF event_runs DEFAULT;
CREATE INDEX event_runs_interaction ON event_runs (account, interaction_id);

-- Version 2's event codes: 2 is OFFER_IMPRESSION; 4, 5, 6 are OFFER_DECLINED,
-- OFFER_TIMEOUT, OFFER_REMOVE (the events that end an interaction).
ALTER TABLE interactions ADD COLUMN impressed boolean NOT NULL DEFAULT false;
ALTER TABLE interactions ADD COLUMN ended boolean NOT NULL DEFAULT false;
UPDATE interactions i SET impressed = true WHERE EXISTS (
    SELECT 1 FROM events e WHERE e.account = i.account
        AND e.interaction_id = i.interaction_id AND e.event_code = 2);
UPDATE interactions i SET ended = true WHERE EXISTS (
    SELECT 1 FROM events e WHERE e.account = i.account
        AND e.interaction_id = i.interaction_id AND e.event_code IN (4, 5, 6));

INSERT INTO event_shapes (account, campaign_id, engagement_id, engagement_revision,
    engagement_type, zone_id, state, tgl_name, done, engagement_name)
SELECT DISTINCT account, campaign_id, engagement_id, engagement_revision, engagement_type,
    zone_id, state, tgl_name, done, engagement_name
FROM events;
"#;

/// Version 4: an attribute's history is stored packed (`sqlite::compact::pack_history`:
/// each member name of the history shapes is one or two bytes) in `packed`; rows written
/// before keep their JSON text in `history`. Exactly one of the two is set.
const V4: &str = r#"
ALTER TABLE sdes ALTER COLUMN history DROP NOT NULL;
ALTER TABLE sdes ADD COLUMN packed bytea;
"#;

/// Version 5: the keyword and `sdeSearch` searches find their attributes through a
/// full-text index of `words` (`to_tsvector('simple', words)`: each word a lexeme, as it
/// is, with its position) instead of reading every attribute of the account; the
/// `LIKE` that follows keeps the answer exact. Built in, no extension. A trigram index
/// was measured first and dropped: twice the size, and slower than no index for the
/// order ids searched (their trigrams are in most attributes).
const V5: &str = r#"
CREATE INDEX sdes_words ON sdes USING gin (to_tsvector('simple', words));
"#;

/// Version 7: console sessions, shared by every server (`postgres/console.rs`). Keyed by
/// account first; not an admin table, so no change is notified (a session is read from
/// here on every console request, never cached).
const CONSOLE_SESSIONS: &str = r#"
CREATE TABLE console_sessions (
    account     text NOT NULL,
    token_hash  text NOT NULL,
    csrf_token  text NOT NULL,
    created_ms  bigint NOT NULL,
    expires_ms  bigint NOT NULL,
    PRIMARY KEY (account, token_hash)
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);
CREATE INDEX console_sessions_age ON console_sessions (account, created_ms);
"#;

/// The channel the triggers of [`V2`] notify.
pub(crate) const CHANGES_CHANNEL: &str = "engage_changes";

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings the schema to [`SCHEMA_VERSION`] under the advisory lock. Refuses a database
/// written by a newer build.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    migrate_to(client, SCHEMA_VERSION).await
}

/// Brings the schema to version `target` (tests build older databases with it).
pub(crate) async fn migrate_to(client: &mut Client, target: usize) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    let result = migrate_locked(client, target).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err);
    result.and(unlocked.map(drop))
}

async fn migrate_locked(client: &mut Client, target: usize) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 applied_ms bigint NOT NULL
             )",
        )
        .await
        .map_err(pg_err)?;
    let version: Option<i32> = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .map_err(pg_err)?
        .try_get(0)
        .map_err(pg_err)?;
    let version = usize::try_from(version.unwrap_or(0))
        .map_err(|_| StoreError::InvalidLocation("a negative schema version".into()))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::InvalidLocation(format!(
            "the database has schema version {version}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    for (done, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        let next = i32::try_from(done + 1).unwrap_or(i32::MAX);
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.batch_execute(sql).await.map_err(pg_err)?;
        if next == 3 {
            fill_v3(&tx).await?;
        }
        if *sql == super::analytics::PACKED_STEPS_MIGRATION {
            super::analytics::fill_packed_steps(&tx).await?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)",
            &[&next, &crate::ids::now_ms()],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        tracing::info!(version = next, "migrated the postgres schema");
    }
    Ok(())
}

/// Moves version 2's `events` rows into `event_runs`, in row order: consecutive rows of
/// one account, interaction, server time and page make one run, as the writer makes
/// them. Then the partitions of `event_runs` that `events` had are made and `events` is
/// dropped.
async fn fill_v3(tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    use super::ingest::{event_name, key_text};
    use crate::sqlite::batch::ClientKey;
    use crate::sqlite::events::{encode_run, RunEvent, MAX_RUN};

    struct Row {
        account: String,
        interaction: i64,
        server_ms: i64,
        page_row: Option<i64>,
        page_id: Option<String>,
        name: engage_model::OfferEventName,
        shape: i64,
        client_id: ClientKey,
        client_ms: Option<i64>,
        page_context: ClientKey,
        page_context_text: String,
    }
    async fn flush(
        tx: &tokio_postgres::Transaction<'_>,
        run: &mut Vec<Row>,
    ) -> Result<(), StoreError> {
        let Some(first) = run.first() else {
            return Ok(());
        };
        let events: Vec<RunEvent<'_>> = run
            .iter()
            .map(|r| RunEvent {
                name: r.name,
                shape: r.shape,
                client_id: &r.client_id,
                client_time_ms: r.client_ms,
                page_context: (r.page_id.as_deref() != Some(r.page_context_text.as_str()))
                    .then_some(&r.page_context),
            })
            .collect();
        tx.execute(
            "INSERT INTO event_runs (account, server_ms, interaction_id, page_row, events)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &first.account,
                &first.server_ms,
                &first.interaction,
                &first.page_row,
                &encode_run(&events, first.server_ms),
            ],
        )
        .await
        .map_err(pg_err)?;
        run.clear();
        Ok(())
    }

    let corrupt = |what: String| StoreError::Backend(format!("migrating events: {what}"));
    // The months `events` has rows of get their `event_runs` partitions first.
    let span = tx
        .query_one("SELECT min(server_ms), max(server_ms) FROM events", &[])
        .await
        .map_err(pg_err)?;
    if let (Some(low), Some(high)) = (
        span.try_get::<_, Option<i64>>(0).map_err(pg_err)?,
        span.try_get::<_, Option<i64>>(1).map_err(pg_err)?,
    ) {
        let (y0, m0) = month_of(low);
        let (y1, m1) = month_of(high);
        let months =
            (y1 - y0) * 12 + i32::try_from(m1).unwrap_or(1) - i32::try_from(m0).unwrap_or(1);
        create_months(tx, &["event_runs"], low, months).await?;
    }
    let mut after = 0i64;
    let mut run: Vec<Row> = Vec::new();
    loop {
        let rows = tx
            .query(
                "SELECT e.event_row, e.account, e.interaction_id, e.server_ms, e.page_row,
                        p.page_id, e.event_code, s.shape_id, e.client_id, e.client_ms,
                        e.page_context_id
                 FROM events e
                 JOIN event_shapes s ON s.account = e.account
                     AND s.campaign_id = e.campaign_id AND s.engagement_id = e.engagement_id
                     AND s.engagement_revision = e.engagement_revision
                     AND s.engagement_type IS NOT DISTINCT FROM e.engagement_type
                     AND s.zone_id IS NOT DISTINCT FROM e.zone_id
                     AND s.state IS NOT DISTINCT FROM e.state
                     AND s.tgl_name IS NOT DISTINCT FROM e.tgl_name
                     AND s.done IS NOT DISTINCT FROM e.done
                     AND s.engagement_name IS NOT DISTINCT FROM e.engagement_name
                 LEFT JOIN pages p ON p.account = e.account AND p.page_row = e.page_row
                 WHERE e.event_row > $1 ORDER BY e.event_row LIMIT 10000",
                &[&after],
            )
            .await
            .map_err(pg_err)?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0).map_err(pg_err)?;
        for r in &rows {
            let id: i64 = r.try_get(0).map_err(pg_err)?;
            let code: i16 = r.try_get(6).map_err(pg_err)?;
            let client_id: &[u8] = r.try_get(8).map_err(pg_err)?;
            let page_context: &[u8] = r.try_get(10).map_err(pg_err)?;
            let client_id = key_text(client_id).ok_or_else(|| corrupt(format!("event {id}")))?;
            let page_context_text =
                key_text(page_context).ok_or_else(|| corrupt(format!("event {id}")))?;
            let row = Row {
                account: r.try_get(1).map_err(pg_err)?,
                interaction: r.try_get(2).map_err(pg_err)?,
                server_ms: r.try_get(3).map_err(pg_err)?,
                page_row: r.try_get(4).map_err(pg_err)?,
                page_id: r.try_get(5).map_err(pg_err)?,
                name: event_name(code).ok_or_else(|| corrupt(format!("event {id} code")))?,
                shape: r.try_get(7).map_err(pg_err)?,
                client_id: ClientKey::new(client_id),
                client_ms: r.try_get(9).map_err(pg_err)?,
                page_context: ClientKey::new(page_context_text.clone()),
                page_context_text,
            };
            let same_run = run.first().is_some_and(|f| {
                f.account == row.account
                    && f.interaction == row.interaction
                    && f.server_ms == row.server_ms
                    && f.page_row == row.page_row
            });
            if !same_run || run.len() >= MAX_RUN {
                flush(tx, &mut run).await?;
            }
            run.push(row);
        }
    }
    flush(tx, &mut run).await?;
    let moved: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM events) - (SELECT count(*) FROM event_ids)",
            &[],
        )
        .await
        .map_err(pg_err)?
        .try_get(0)
        .map_err(pg_err)?;
    if moved != 0 {
        return Err(corrupt(format!(
            "{moved} more event rows than exactly-once keys; nothing was changed"
        )));
    }
    tx.batch_execute("DROP TABLE events;")
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// How many months after the current one have their partitions made ahead.
const MONTHS_AHEAD: i32 = 2;

/// `(year, month)` of an epoch-ms time, UTC.
fn month_of(ms: i64) -> (i32, u32) {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(1970),
        u32::try_from(month).unwrap_or(1),
    )
}

/// Epoch ms of the first instant of a month, UTC.
pub(crate) fn month_start_ms(year: i32, month: u32) -> i64 {
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 9)
    } else {
        (i64::from(year), i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400_000
}

pub(crate) fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// Creates the partitions of `event_runs` and `sdes` for the month of `now_ms` and the
/// [`MONTHS_AHEAD`] after it, where missing; answers how many it created. Under the
/// advisory lock, so servers doing it at once do not race on the catalog.
pub(crate) async fn ensure_partitions(client: &Client, now_ms: i64) -> Result<usize, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    let result = ensure_partitions_locked(client, now_ms).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err);
    let created = result?;
    unlocked?;
    Ok(created)
}

/// Creates the partitions of every month from `from_ms`'s to `to_ms`'s where missing
/// (`engage migrate`: the months of the data it copies), under the advisory lock.
pub(crate) async fn ensure_partitions_between(
    client: &Client,
    from_ms: i64,
    to_ms: i64,
) -> Result<usize, StoreError> {
    let (y0, m0) = month_of(from_ms);
    let (y1, m1) = month_of(to_ms.max(from_ms));
    let months = (y1 - y0) * 12 + i32::try_from(m1).unwrap_or(1) - i32::try_from(m0).unwrap_or(1);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    let result = ensure_months_locked(client, from_ms, months).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err);
    let created = result?;
    unlocked?;
    Ok(created)
}

async fn ensure_partitions_locked(client: &Client, now_ms: i64) -> Result<usize, StoreError> {
    ensure_months_locked(client, now_ms, MONTHS_AHEAD).await
}

/// The partitions of the month of `from_ms` and the `after` months after it.
async fn ensure_months_locked(
    client: &Client,
    from_ms: i64,
    after: i32,
) -> Result<usize, StoreError> {
    create_months(client, &["event_runs", "sdes"], from_ms, after).await
}

/// Creates the partitions of `tables` for the month of `from_ms` and the `after` months
/// after it, where missing; answers how many it created.
async fn create_months<C: tokio_postgres::GenericClient>(
    client: &C,
    tables: &[&str],
    from_ms: i64,
    after: i32,
) -> Result<usize, StoreError> {
    let parents: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
    let existing: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = ANY($1)
               AND p.relnamespace = current_schema()::regnamespace",
            &[&parents],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg_err)?;
    let (mut year, mut month) = month_of(from_ms);
    let mut created = 0;
    for _ in 0..=after {
        let (ny, nm) = next_month(year, month);
        let (from, to) = (month_start_ms(year, month), month_start_ms(ny, nm));
        for table in tables {
            let name = format!("{table}_{year:04}_{month:02}");
            if existing.contains(&name) {
                continue;
            }
            // Only our own names and integers go into the statement.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
            );
            match client.batch_execute(&sql).await {
                Ok(()) => created += 1,
                // The default partition already holds rows of that month: they stay
                // there, and the month goes on without its own partition.
                Err(e) => {
                    tracing::warn!(partition = %name, error = %pg_err(e), "cannot create a partition")
                }
            }
        }
        (year, month) = (ny, nm);
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_their_bounds_are_utc_calendar_months() {
        assert_eq!(month_of(0), (1970, 1));
        assert_eq!(month_of(-1), (1969, 12));
        assert_eq!(month_of(1_750_000_000_000), (2025, 6));
        assert_eq!(month_start_ms(1970, 1), 0);
        assert_eq!(month_start_ms(2025, 6), 1_748_736_000_000);
        assert_eq!(month_start_ms(2024, 3), 1_709_251_200_000);
        for ms in [0, 1_709_251_199_999, 1_709_251_200_000, 4_102_444_800_000] {
            let (y, m) = month_of(ms);
            let (ny, nm) = next_month(y, m);
            assert!(
                month_start_ms(y, m) <= ms && ms < month_start_ms(ny, nm),
                "{ms}"
            );
        }
    }
}
