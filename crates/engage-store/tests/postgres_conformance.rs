//! The conformance suite against the PostgreSQL backend, plus what only PostgreSQL has
//! (its keys, its partitions, two stores on one database).
//!
//! Each test gets a database of its own, `engage_test_<pid>_<n>`, created on the server
//! `ENGAGE_TEST_DATABASE_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and dropped when the test's directory goes (also when the test failed). Databases
//! left by a test process that was killed are dropped by the next run. When no server
//! answers, the tests fail and say what to set: they never skip.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engage_store::postgres::PostgresStore;
use engage_store::{Store, StoreError};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server the tests create their databases on.
pub fn server_url() -> String {
    std::env::var("ENGAGE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database replaced by `database`.
pub fn database_url(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let url = server_url();
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
            "PostgreSQL at {url} does not answer ({e}). Start one, or set ENGAGE_TEST_DATABASE_URL \
             to a server where this user may CREATE DATABASE (scripts/test starts one)."
        )
        });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Drops the databases of earlier test processes that no longer run.
async fn sweep_stale(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'engage\\_test\\_%'",
            &[],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let pid = name
            .strip_prefix("engage_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A new empty database; its URL.
pub async fn create_database() -> (String, String) {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    static N: AtomicU64 = AtomicU64::new(0);
    let client = admin_client().await;
    SWEPT.get_or_init(|| sweep_stale(&client)).await;
    let name = format!(
        "engage_test_{}_{}_{}",
        std::process::id(),
        engage_store::ids::now_ms(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
    let url = database_url(&server_url(), &name);
    (name, url)
}

/// Drops a test database (closing whatever connections it still has), off the caller's
/// runtime: this runs from `Drop`.
pub fn drop_database(name: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to drop the test database");
        runtime.block_on(async {
            let client = admin_client().await;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
        })
    })
    .join();
    if let Ok(Err(e)) = dropped {
        eprintln!("dropping a test database failed: {e}");
    }
}

const NAME_FILE: &str = "postgres-database";

fn drop_directory_database(dir: &Path) {
    if let Ok(name) = std::fs::read_to_string(dir.join(NAME_FILE)) {
        drop_database(name);
    }
}

/// The suite's `open`: the directory names its database (made on first use), so
/// opening the same directory again opens the same data.
async fn open_postgres(dir: PathBuf) -> Arc<dyn Store> {
    engage_store::conformance::on_directory_removed(drop_directory_database);
    let file = dir.join(NAME_FILE);
    let name = match std::fs::read_to_string(&file) {
        Ok(name) => name,
        Err(_) => {
            let (name, _) = create_database().await;
            std::fs::write(&file, &name).unwrap();
            name
        }
    };
    let url = database_url(&server_url(), &name);
    Arc::new(
        PostgresStore::open(&url)
            .await
            .expect("opening the postgres store"),
    )
}

engage_store::store_conformance_tests!(open_postgres);

#[test]
fn database_urls_keep_their_server_and_options() {
    assert_eq!(
        database_url("postgres://u:p@h:5433/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5433/x?sslmode=disable"
    );
    assert_eq!(database_url("postgresql://h", "x"), "postgresql://h/x");
}

#[tokio::test]
async fn open_accepts_postgres_and_postgresql_urls() {
    let (name, url) = create_database().await;
    for url in [url.clone(), url.replacen("postgres://", "postgresql://", 1)] {
        let store = engage_store::open(&url).await.unwrap();
        assert_eq!(store.backend(), "postgres");
        store.close().await.unwrap();
    }
    drop_database(name);
}

/// A database of its own for a test outside the suite, dropped when this goes.
struct Scratch {
    name: String,
    url: String,
}

impl Scratch {
    async fn new() -> Scratch {
        let (name, url) = create_database().await;
        Scratch { name, url }
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        drop_database(std::mem::take(&mut self.name));
    }
}

fn event(name: &str, context: &str) -> engage_store::NewEvent {
    let text = format!(
        r#"{{"appName":"LP_OFFERS","eventName":"{name}","data":{{"contexts":[{{"EngagementContext":{{"id":"{context}"}}}},{{"pageContext":{{"id":"pc"}}}}],"campaignId":7,"engagementId":8,"engagementRevision":1,"engagementType":5,"contextId":"{context}","confKey":"7_8_1"}}}}"#
    );
    let tape = engage_model::Tape::parse_str(&text).unwrap();
    engage_store::NewEvent {
        client_id: engage_store::ids::new_id(),
        client_time_ms: None,
        event: engage_model::OfferEvent::read(tape.root(), &[]).unwrap(),
    }
}

fn batch(
    account: &str,
    visitor: &str,
    session: &str,
    received_ms: i64,
    events: Vec<engage_store::NewEvent>,
) -> engage_store::IngestBatch {
    engage_store::IngestBatch {
        account_id: account.to_owned(),
        received_ms,
        visit: Some(engage_store::VisitContext {
            visitor_id: visitor.to_owned(),
            session_id: session.to_owned(),
            page_id: "p".to_owned(),
            page: None,
            user_agent: None,
            client: None,
        }),
        events,
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

async fn new_account(store: &PostgresStore) -> String {
    store
        .create_account(engage_store::NewAccount {
            name: "Shop".into(),
            api_key_hash: engage_store::ids::new_id(),
        })
        .await
        .unwrap()
        .id
}

/// Every primary or unique key of the schema, as `(table, index, first column)`.
async fn unique_keys(client: &tokio_postgres::Client) -> Vec<(String, String, Option<String>)> {
    client
        .query(
            "SELECT t.relname::text, i.relname::text, a.attname::text
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
             WHERE (x.indisunique OR x.indisprimary)
               AND t.relnamespace = current_schema()::regnamespace
               AND t.relname <> 'schema_migrations'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn not_leading_with_the_account(keys: &[(String, String, Option<String>)]) -> Vec<String> {
    keys.iter()
        .filter(|(_, _, first)| first.as_deref() != Some("account"))
        .map(|(table, index, _)| format!("{table}.{index}"))
        .collect()
}

/// Citus distributes a table by one column and can enforce a primary or unique key only
/// when the key holds it: every key must lead with `account` (docs/operations.md).
#[tokio::test]
async fn every_primary_and_unique_key_leads_with_the_account_and_nothing_references_across_tables()
{
    let db = Scratch::new().await;
    let store = PostgresStore::open(&db.url).await.unwrap();
    let client = db.client().await;
    let keys = unique_keys(&client).await;
    assert_eq!(not_leading_with_the_account(&keys), Vec::<String>::new());
    let tables: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    for table in [
        "accounts",
        "visits",
        "pages",
        "interactions",
        "event_ids",
        "sde_ids",
        "quarantine",
        "consumer_identities",
        "exposures",
        "oauth_keys",
        "apps",
        "campaigns",
        "engagements",
        "engagement_revisions",
        "event_shapes",
        // Partitions carry their parent's keys.
        "event_runs_default",
        "sdes_default",
    ] {
        assert!(tables.contains(table), "{table} has a key: {tables:?}");
    }
    let foreign: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f'
             AND connamespace = current_schema()::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(foreign, 0, "no foreign key: none could span accounts");

    // The check sees a key that leaves the account out.
    client
        .batch_execute(
            "CREATE TABLE global_names (name text PRIMARY KEY, account text NOT NULL);
             CREATE UNIQUE INDEX visits_by_session_only ON visits (session_id, account);",
        )
        .await
        .unwrap();
    let mut wrong = not_leading_with_the_account(&unique_keys(&client).await);
    wrong.sort();
    assert_eq!(
        wrong,
        [
            "global_names.global_names_pkey",
            "visits.visits_by_session_only"
        ]
    );
    store.close().await.unwrap();
}

/// Events go to their month's partition, made ahead by open; times outside the months
/// made go to the default partition instead of failing the batch.
#[tokio::test]
async fn events_land_in_their_months_partition_and_far_times_in_the_default() {
    let db = Scratch::new().await;
    let store = PostgresStore::open(&db.url).await.unwrap();
    let account = new_account(&store).await;
    let now = engage_store::ids::now_ms();
    store
        .ingest(batch(
            &account,
            "v",
            "s-now",
            now,
            vec![event("START", "1")],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &account,
            "v",
            "s-old",
            1_000_000_000_000,
            vec![event("START", "2")],
        ))
        .await
        .unwrap();
    let client = db.client().await;
    let partitions: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'event_runs'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        partitions.len(),
        4,
        "default, this month and two ahead: {partitions:?}"
    );
    let placed: Vec<(String, i64)> = client
        .query(
            "SELECT tableoid::regclass::text, server_ms FROM event_runs ORDER BY server_ms",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(placed[0].0, "event_runs_default");
    assert!(
        placed[1].0.starts_with("event_runs_2") && partitions.contains(&placed[1].0),
        "{placed:?}"
    );
    store.close().await.unwrap();
}

/// Once every account has a retention setting, the sweep drops the monthly partitions
/// of `event_runs` and `sdes` past the longest one whole, and keeps the current months;
/// while one account keeps its data for ever, no partition goes.
#[tokio::test]
async fn retention_drops_a_month_only_once_every_account_lets_it_go() {
    let db = Scratch::new().await;
    let store = PostgresStore::open(&db.url).await.unwrap();
    let account = new_account(&store).await;
    let client = db.client().await;
    // January 2020, made as partition upkeep makes months (`engage migrate` does for
    // old data), before any row of it lands in the default partitions.
    client
        .batch_execute(
            "CREATE TABLE event_runs_2020_01 PARTITION OF event_runs
                 FOR VALUES FROM (1577836800000) TO (1580515200000);
             CREATE TABLE sdes_2020_01 PARTITION OF sdes
                 FOR VALUES FROM (1577836800000) TO (1580515200000);",
        )
        .await
        .unwrap();
    let old_ms = 1_578_000_000_000;
    let mut old = batch(&account, "v", "s-old", old_ms, vec![event("START", "1")]);
    let tape =
        engage_model::Tape::parse_str(r#"{"type":"ctmrinfo","info":{"customerId":"cust-1"}}"#)
            .unwrap();
    old.sdes.push(engage_store::NewSde {
        client_id: engage_store::ids::new_id(),
        client_time_ms: None,
        sde: engage_model::Sde::read_page(tape.root()).unwrap(),
    });
    assert_eq!(store.ingest(old).await.unwrap().accepted, 2);
    let placed = |table: &'static str| {
        let client = &client;
        async move {
            client
                .query(
                    &format!("SELECT tableoid::regclass::text FROM {table}"),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(placed("event_runs").await, ["event_runs_2020_01"]);
    assert_eq!(placed("sdes").await, ["sdes_2020_01"]);

    let partitions = || async {
        client
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent IN ('event_runs'::regclass, 'sdes'::regclass)",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    let now = engage_store::ids::now_ms();
    let keeps_everything = new_account(&store).await;
    store.set_retention(&account, Some(30)).await.unwrap();
    store.sweep_retention(now, 100).await.unwrap();
    assert_eq!(
        partitions()
            .await
            .iter()
            .filter(|p| p.ends_with("_2020_01"))
            .count(),
        2,
        "an account without retention keeps every month"
    );
    store
        .set_retention(&keeps_everything, Some(365))
        .await
        .unwrap();
    store.sweep_retention(now, 100).await.unwrap();
    let left = partitions().await;
    assert!(
        !left.iter().any(|p| p.ends_with("_2020_01")),
        "expired partitions left: {left:?}"
    );
    // Default, this month and two ahead, of each table.
    assert_eq!(left.len(), 8, "{left:?}");
    assert!(placed("event_runs").await.is_empty());
    assert!(placed("sdes").await.is_empty());
    store.close().await.unwrap();
}

/// Servers sharing a database: migrations run once (under the advisory lock), a batch
/// sent to two servers at once is stored once, and of two visitors starting one session
/// on two servers at once, one owns it and the other is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_migrate_once_store_once_and_agree_on_owners() {
    let db = Scratch::new().await;
    let (a, b) = tokio::join!(PostgresStore::open(&db.url), PostgresStore::open(&db.url));
    let (a, b) = (Arc::new(a.unwrap()), Arc::new(b.unwrap()));
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT count(*), max(version)::bigint FROM schema_migrations",
            &[],
        )
        .await
        .unwrap();
    let (migrations, newest): (i64, i64) = (row.get(0), row.get(1));
    // One row per schema version, each applied once, up to the newest.
    assert!(newest >= 3, "{newest}");
    assert_eq!(migrations, newest);
    let account = new_account(&a).await;
    for round in 0..20 {
        let events: Vec<_> = (0..10)
            .map(|i| event("START", &format!("{round}-{i}")))
            .collect();
        let sent = batch(
            &account,
            "v",
            &format!("s-{round}"),
            1_750_000_000_000,
            events,
        );
        let (x, y) = tokio::join!(a.ingest(sent.clone()), b.ingest(sent));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.accepted + y.accepted, 10, "round {round}");
        assert_eq!(x.duplicates + y.duplicates, 10, "round {round}");
        assert!(
            x.new_session != y.new_session,
            "one server started the session"
        );

        let session = format!("contested-{round}");
        let (x, y) = tokio::join!(
            a.ingest(batch(
                &account,
                "vx",
                &session,
                1_750_000_000_000,
                vec![event("START", "c")]
            )),
            b.ingest(batch(
                &account,
                "vy",
                &session,
                1_750_000_000_000,
                vec![event("START", "c")]
            ))
        );
        let conflicts = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(engage_store::StoreError::IdentityConflict { .. })))
            .count();
        assert_eq!(conflicts, 1, "round {round}: {x:?} {y:?}");
        let winner = if x.is_ok() { "vx" } else { "vy" };
        let visit = b.visit(&account, &session).await.unwrap().unwrap();
        assert_eq!(visit.visitor_id, winner);
    }
    assert_eq!(
        b.count(&account, engage_store::ExportKind::Events)
            .await
            .unwrap(),
        20 * 10 + 20
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// The change feed survives a lost connection: when the `LISTEN` connection is killed,
/// the store reconnects, says `Everything` may have changed (what was notified meanwhile
/// is lost), and later changes are heard again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_reconnects_and_says_everything_may_have_changed() {
    use engage_store::Change;
    use std::time::Duration;

    let db = Scratch::new().await;
    let listening = PostgresStore::open(&db.url).await.unwrap();
    let writing = PostgresStore::open(&db.url).await.unwrap();
    let mut feed = listening.changes();
    async fn next(feed: &mut tokio::sync::broadcast::Receiver<Change>) -> Change {
        tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .expect("a change within 10 s")
            .unwrap()
    }
    let account = new_account(&writing).await;
    assert_eq!(next(&mut feed).await, Change::Account(account.clone()));

    let client = db.client().await;
    let killed: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2, "both stores listen on a connection of their own");
    assert_eq!(next(&mut feed).await, Change::Everything);
    writing
        .set_allowed_origins(&account, vec!["https://shop.example".into()])
        .await
        .unwrap();
    assert_eq!(next(&mut feed).await, Change::Account(account));
    listening.close().await.unwrap();
    writing.close().await.unwrap();
}

/// Two servers on one database: what one erases or sweeps away, the other's writers
/// write again although they remembered the rows (`analytics_generations`).
#[tokio::test]
async fn rollup_rows_removed_by_another_server_are_written_again() {
    let db = Scratch::new().await;
    let writer: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let remover: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    engage_store::analytics_conformance::removed_rollups_are_written_again(&writer, &remover).await;
    writer.close().await.unwrap();
    remover.close().await.unwrap();
}

/// Version 12's step rows (one per occurrence) become one packed row per batch at
/// version 13, and a funnel reads the same occurrences from them.
#[tokio::test]
async fn migrating_version_12_step_rows_packs_them_per_batch() {
    use engage_model::{OfferEventName, SdeType};
    use engage_store::analytics::{Step, StepOccurrence, StepScope};

    let db = Scratch::new().await;
    engage_store::postgres::migrate_database_to(&db.url, 12)
        .await
        .unwrap();
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO analytics_steps VALUES
                 ('1', 1000, 'v1', 3, 7, 8), ('1', 1000, 'v1', 4, 7, 8),
                 ('1', 1000, 'v1', 4, 7, 9), ('1', 1000, 'v1', 17, 0, 0),
                 ('1', 2000, 'v1', 3, 7, 8), ('1', 2000, 'v2', 3, 5000000000, 8),
                 ('2', 1000, 'v1', 3, 7, 8);
             INSERT INTO analytics_bot_steps VALUES ('1', 1500, 'b1', 3, 7, 8);",
        )
        .await
        .unwrap();
    let store = PostgresStore::open(&db.url).await.unwrap();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM analytics_steps", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 4, "one row per account, time and visitor");
    let impression = Step::Event(OfferEventName::OfferImpression);
    let click = Step::Event(OfferEventName::OfferClick);
    let scope = StepScope {
        from_ms: 0,
        to_ms: 10_000,
        steps: vec![impression, click, Step::Sde(SdeType::Purchase)],
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
    assert_eq!(
        store.funnel_steps("1", scope.clone()).await.unwrap(),
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
        store.funnel_steps("1", clicks_of_9).await.unwrap(),
        [occurrence(1000, "v1", click, 7, 9)]
    );
    store.close().await.unwrap();
}

/// A version 2 database's event rows become runs at version 3, answer the export as
/// they did, and leave their impressions and endings on the interaction rows.
#[tokio::test]
async fn migrating_version_2_events_packs_them_into_runs_that_read_back_the_same() {
    let db = Scratch::new().await;
    engage_store::postgres::migrate_database_to(&db.url, 2)
        .await
        .unwrap();
    let client = db.client().await;
    client
        .batch_execute(
            r"INSERT INTO accounts VALUES ('1', 'Shop', 'h', 0, '[]');
            INSERT INTO visits (account, visit_id, session_id, visitor_id, first_seen_ms,
                last_seen_ms) VALUES ('1', 1, 's1', 'v1', 100, 900);
            INSERT INTO pages (account, page_row, visit_id, page_id, received_ms)
                VALUES ('1', 1, 1, 'p1', 100);
            INSERT INTO interactions (account, interaction_id, visit_id, context_id, page_row,
                campaign_id, engagement_id, engagement_revision, start_ms, end_ms, outcome)
            VALUES ('1', 1, 1, 'ctx-a', 1, 7, 8, 1, 200, 400, 5),
                   ('1', 2, 1, 'ctx-b', 1, 7, 9, 1, 600, 600, 2);
            INSERT INTO event_ids VALUES ('1', '\xff6531'), ('1', '\xff6532'), ('1', '\xff6533'),
                ('1', '\xff6534');
            INSERT INTO events (account, server_ms, client_ms, client_id, interaction_id,
                page_row, event_code, page_context_id, campaign_id, engagement_id,
                engagement_revision, engagement_type, zone_id, state, done, tgl_name,
                engagement_name)
            VALUES ('1', 500, 200, '\xff6531', 1, 1, 0, '\xff7031', 7, 8, 1, 1, NULL, 1, true,
                    'overlay', 'Overlay'),
                   ('1', 500, 300, '\xff6532', 1, 1, 2, '\xff7031', 7, 8, 1, 1, NULL, 1, true,
                    'overlay', 'Overlay'),
                   ('1', 500, 400, '\xff6533', 1, 1, 4, '\xff6f74686572', 7, 8, 1, 1, NULL, 1,
                    true, 'overlay', 'Overlay'),
                   ('1', 600, NULL, '\xff6534', 2, 1, 1, '\xff7031', 7, 9, 1, NULL, 42, NULL,
                    NULL, NULL, NULL);",
        )
        .await
        .unwrap();
    let store = PostgresStore::open(&db.url).await.unwrap();
    let page = store
        .export_page("1", engage_store::ExportKind::Events, None, 10)
        .await
        .unwrap();
    let items: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|i| serde_json::from_str(i.as_str()).unwrap())
        .collect();
    let summary: Vec<(String, String, Option<i64>, i64, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["eventName"].as_str().unwrap().to_owned(),
                i["time"].as_i64(),
                i["serverTime"].as_i64().unwrap(),
                i["data"]["contextId"].as_str().unwrap().to_owned(),
                i["data"]["contexts"][1]["pageContext"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let row = |id: &str, name: &str, time: Option<i64>, server: i64, ctx: &str, pc: &str| {
        (
            id.to_owned(),
            name.to_owned(),
            time,
            server,
            ctx.to_owned(),
            pc.to_owned(),
        )
    };
    assert_eq!(
        summary,
        [
            row("e1", "START", Some(200), 500, "ctx-a", "p1"),
            row("e2", "OFFER_IMPRESSION", Some(300), 500, "ctx-a", "p1"),
            row("e3", "OFFER_DECLINED", Some(400), 500, "ctx-a", "other"),
            row("e4", "OFFER_DISPLAY", None, 600, "ctx-b", "p1"),
        ]
    );
    assert_eq!(items[0]["data"]["tglName"], "overlay", "{}", items[0]);
    assert_eq!(
        items[0]["data"]["engagementName"], "Overlay",
        "{}",
        items[0]
    );
    assert_eq!(items[3]["data"]["engagementId"], 9, "{}", items[3]);
    assert_eq!(items[3]["data"]["zoneId"], 42, "{}", items[3]);
    let flags: Vec<(bool, bool)> = client
        .query(
            "SELECT impressed, ended FROM interactions ORDER BY interaction_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(flags, [(true, true), (false, false)]);
    let runs: i64 = client
        .query_one("SELECT count(*) FROM event_runs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 2, "e1 to e3 share a batch and an interaction");
    let gone: Option<String> = client
        .query_one("SELECT to_regclass('events')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(gone, None);
    store.close().await.unwrap();
}

/// Makes the scratch database refuse connections (or take them again) and drops the ones
/// open: PostgreSQL gone away, as a restart looks from a server.
async fn cut_off(server: &tokio_postgres::Client, name: &str, cut: bool) {
    // Not CONNECTION LIMIT: superusers are exempt from it, not from this.
    server
        .batch_execute(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {}",
            !cut
        ))
        .await
        .unwrap();
    if cut {
        server
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await
            .unwrap();
        // Terminating is a signal: wait until the backends are gone.
        loop {
            let left: i64 = server
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn while_the_database_is_away_calls_answer_unavailable_quickly_and_then_recover() {
    let scratch = Scratch::new().await;
    let store = PostgresStore::open(&scratch.url).await.unwrap();
    let account = new_account(&store).await;
    let now = engage_store::ids::now_ms();
    store
        .ingest(batch(&account, "v", "s", now, vec![event("START", "c1")]))
        .await
        .unwrap();
    let (admin, connection) = tokio_postgres::connect(&server_url(), NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });

    cut_off(&admin, &scratch.name, true).await;
    for attempt in 0..20 {
        let started = std::time::Instant::now();
        let written = store
            .ingest(batch(&account, "v", "s", now, vec![event("START", "c2")]))
            .await;
        let read = store.visit(&account, "s").await;
        let took = started.elapsed();
        assert!(
            matches!(written, Err(StoreError::Unavailable(_))),
            "attempt {attempt}: {written:?}"
        );
        assert!(
            matches!(read, Err(StoreError::Unavailable(_))),
            "attempt {attempt}: {read:?}"
        );
        assert!(
            took < std::time::Duration::from_secs(2),
            "attempt {attempt} took {took:?}: a call must not wait for the database"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    cut_off(&admin, &scratch.name, false).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match store
            .ingest(batch(&account, "v", "s", now, vec![event("START", "c3")]))
            .await
        {
            Ok(outcome) => {
                assert_eq!(outcome.accepted, 1);
                break;
            }
            Err(StoreError::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not recover: {e:?}"),
        }
    }
    assert!(store.visit(&account, "s").await.unwrap().is_some());
    store.close().await.unwrap();
}
