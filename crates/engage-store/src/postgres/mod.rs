//! The PostgreSQL backend: any number of `engage serve` processes share one database.
//!
//! - `schema`: tables, versioned migrations under an advisory lock, monthly partitions.
//! - `ingest`: the group-commit writers (concurrent `ingest` calls share one
//!   transaction, answered after COMMIT) and what one group writes.
//! - `reader`: accounts, sessions, visits, the quarantine, counts and export pages.
//! - `history`: interaction search for the Engagement History API.
//! - `campaigns`, `identities`, `oauth`: the admin writes and their reads, each one
//!   transaction on a pooled connection.
//! - `webhooks`: webhook endpoints and the delivery outbox, claimed with `FOR UPDATE
//!   SKIP LOCKED` leases so each delivery is attempted by one server at a time.
//! - `privacy`: erasure (one transaction), the erasure log, and access (everything held
//!   about a visitor).
//! - `retention`: expired monthly partitions dropped, the rest deleted in small steps.
//! - `health`: while the database is away, calls answer `Unavailable` at once and
//!   connecting is retried with backoff.
//! - `changes`: the change feed, from the admin tables' triggers' `pg_notify` through
//!   a `LISTEN` connection of each store's own.
//!
//! Driver: tokio-postgres (async, pipelined, binary protocol, array parameters) with a
//! deadpool-postgres pool (docs/operations.md says why). Nothing here keeps state
//! another server would have to know: identity ownership and exactly-once are the
//! database's constraints, so servers need no coordination beyond it.

mod analytics;
mod campaigns;
mod changes;
mod console;
mod health;
mod history;
mod identities;
pub mod import;
mod ingest;
mod oauth;
mod privacy;
pub use privacy::PER_VISITOR_TABLES;
mod reader;
mod retention;
mod runs;
mod schema;
mod webhooks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use crate::changes::ChangeFeed;
use crate::{
    Account, Change, ConsoleSession, ErasureCounts, ErasureLogEntry, ErasureTarget, ExportKind,
    ExportPage, Exposure, IngestBatch, IngestOutcome, InteractionPage, InteractionQuery,
    NewAccount, OAuthKey, QuarantineEntry, QuarantineQuery, QuarantineUsage, SessionLookup, Store,
    StoreError, Visit, VisitorData,
};

/// Connections per server: the writers' and the reads'.
const POOL_SIZE: usize = 24;
/// How often a server checks that next months' partitions exist.
const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Driver errors stop here: the message is kept for the log, the type is not.
/// Driver errors as [`StoreError`]s. What passes with time is `Unavailable` (answered
/// 503 with `Retry-After`): the server's resources (class 53: a full disk, out of memory,
/// too many connections), a server shutting down or starting (57P01–57P03), and a lost
/// connection.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let text = format!("{code}: {}", db.message());
            if code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03") {
                StoreError::Unavailable(text)
            } else {
                StoreError::Backend(text)
            }
        }
        None if e.is_closed() => StoreError::Unavailable(e.to_string()),
        None => StoreError::Backend(e.to_string()),
    }
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

/// A `u64` id in a `bigint` column: the same 64 bits.
pub(crate) fn to_sql_u64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The `u64` a [`to_sql_u64`] column holds.
pub(crate) fn from_sql_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// The PostgreSQL store. Cheap to share behind an `Arc`.
pub struct PostgresStore {
    pool: Pool,
    health: std::sync::Arc<health::Health>,
    writer: ingest::Writers,
    closed: AtomicBool,
    partitions: Mutex<Option<JoinHandle<()>>>,
    changes: ChangeFeed,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`), migrates it
    /// to this build's schema and makes this and the next months' partitions.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::InvalidLocation(format!("not a PostgreSQL URL: {e}")))?;
        // An unreachable server (packets dropped, not refused) must not hold a call.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(health::CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(health::WAIT_TIMEOUT))
            .create_timeout(Some(health::CONNECT_TIMEOUT))
            .recycle_timeout(Some(health::CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Backend(format!("building the connection pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| {
            StoreError::InvalidLocation(format!("cannot connect to PostgreSQL: {e}"))
        })?;
        schema::migrate(&mut client).await?;
        schema::ensure_partitions(&client, crate::ids::now_ms()).await?;
        if let Some(setting) = without_autovacuum(&client).await? {
            tracing::warn!(
                "this PostgreSQL database runs with {setting}: nothing will refresh the \
                 planner's statistics or the visibility map as Engage's tables grow, and \
                 ingest and history searches slow down; turn autovacuum on, or run \
                 VACUUM (ANALYZE) on a schedule (docs/operations.md, Running on PostgreSQL)"
            );
        }
        drop(client);
        let changes = ChangeFeed::default();
        let listener = changes::start(config, changes.clone()).await?;
        let partitions = tokio::spawn(keep_partitions(pool.clone()));
        let health = std::sync::Arc::new(health::Health::default());
        Ok(PostgresStore {
            writer: ingest::Writers::spawn(pool.clone(), std::sync::Arc::clone(&health)),
            health,
            changes,
            listener: Mutex::new(Some(listener)),
            pool,
            closed: AtomicBool::new(false),
            partitions: Mutex::new(Some(partitions)),
        })
    }
}

/// The setting that keeps autovacuum from this database, if one does: the server runs
/// without it (`autovacuum = off`), or this database's sessions count no rows for it to
/// work from (`track_counts = off`, which can be set per database).
async fn without_autovacuum(
    client: &tokio_postgres::Client,
) -> Result<Option<&'static str>, StoreError> {
    let row = client
        .query_one(
            "SELECT current_setting('autovacuum'), current_setting('track_counts')",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let on = |i: usize| -> Result<bool, StoreError> {
        Ok(row.try_get::<_, &str>(i).map_err(pg_err)? == "on")
    };
    Ok(if !on(0)? {
        Some("autovacuum = off")
    } else if !on(1)? {
        Some("track_counts = off")
    } else {
        None
    })
}

/// Creates the schema of an older version `version` in the empty database at `url`,
/// for tests of what a later migration does with its rows.
#[cfg(feature = "conformance")]
pub async fn migrate_database_to(url: &str, version: usize) -> Result<(), StoreError> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| StoreError::InvalidLocation(format!("cannot connect to PostgreSQL: {e}")))?;
    let running = tokio::spawn(connection);
    let result = schema::migrate_to(&mut client, version).await;
    drop(client);
    drop(running.await);
    result
}

impl PostgresStore {
    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.health.connection(&self.pool).await
    }

    /// Refuses writes once the store is closed.
    pub(crate) fn writable(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }
}

/// Makes next months' partitions ahead, for as long as the store is open.
async fn keep_partitions(pool: Pool) {
    let mut every = tokio::time::interval(PARTITION_CHECK_EVERY);
    // The first tick is now, and open just did it.
    every.tick().await;
    loop {
        every.tick().await;
        let done = match pool.get().await {
            Ok(client) => schema::ensure_partitions(&client, crate::ids::now_ms()).await,
            Err(e) => Err(pool_err(e)),
        };
        match done {
            Ok(0) => {}
            Ok(n) => tracing::info!(created = n, "made next months' partitions"),
            Err(e) => tracing::warn!(error = %e, "checking partitions failed; retrying later"),
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %new.name))]
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        self.writable()?;
        reader::create_account(&mut **self.conn().await?, new).await
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        reader::account(&**self.conn().await?, reader::AccountBy::Id(account_id)).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn set_allowed_origins(
        &self,
        account_id: &str,
        origins: Vec<String>,
    ) -> Result<Account, StoreError> {
        self.writable()?;
        let json = serde_json::to_string(&origins)
            .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?;
        let conn = self.conn().await?;
        let changed = conn
            .execute(
                "UPDATE accounts SET allowed_origins = $2 WHERE account = $1",
                &[&account_id, &json],
            )
            .await
            .map_err(pg_err)?;
        if changed == 0 {
            return Err(StoreError::UnknownAccount(account_id.to_owned()));
        }
        reader::account(&conn, reader::AccountBy::Id(account_id))
            .await?
            .ok_or_else(|| StoreError::UnknownAccount(account_id.to_owned()))
    }

    async fn account_by_key_hash(&self, api_key_hash: &str) -> Result<Option<Account>, StoreError> {
        reader::account(
            &**self.conn().await?,
            reader::AccountBy::KeyHash(api_key_hash),
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(account = %batch.account_id, batch_len = batch.len()))]
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestOutcome, StoreError> {
        self.writable()?;
        let prepared = ingest::prepare(batch)?;
        self.writer.send(prepared).await
    }

    async fn lookup_session(
        &self,
        account_id: &str,
        visitor_id: &str,
        session_id: &str,
    ) -> Result<SessionLookup, StoreError> {
        reader::lookup_session(&**self.conn().await?, account_id, visitor_id, session_id).await
    }

    async fn identity_visitor(
        &self,
        account_id: &str,
        identity: &str,
    ) -> Result<Option<String>, StoreError> {
        identities::identity_visitor(&**self.conn().await?, account_id, identity).await
    }

    async fn link_identity(
        &self,
        account_id: &str,
        identity: &str,
        visitor_id: &str,
    ) -> Result<String, StoreError> {
        self.writable()?;
        identities::link_identity(&**self.conn().await?, account_id, identity, visitor_id).await
    }

    async fn record_exposures(
        &self,
        account_id: &str,
        session_id: &str,
        exposures: &[Exposure],
    ) -> Result<(), StoreError> {
        self.writable()?;
        if exposures.is_empty() {
            return Ok(());
        }
        identities::record_exposures(&**self.conn().await?, account_id, session_id, exposures).await
    }

    async fn exposure(
        &self,
        account_id: &str,
        session_id: &str,
        context_id: &str,
    ) -> Result<Option<Exposure>, StoreError> {
        identities::exposure(&**self.conn().await?, account_id, session_id, context_id).await
    }

    async fn latest_exposure(
        &self,
        account_id: &str,
        session_id: &str,
        campaign_id: u64,
        engagement_id: u64,
    ) -> Result<Option<Exposure>, StoreError> {
        identities::latest_exposure(
            &**self.conn().await?,
            account_id,
            session_id,
            campaign_id,
            engagement_id,
        )
        .await
    }

    async fn visit(&self, account_id: &str, session_id: &str) -> Result<Option<Visit>, StoreError> {
        reader::visit(&mut **self.conn().await?, account_id, session_id).await
    }

    async fn quarantine(
        &self,
        account_id: &str,
        query: QuarantineQuery,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        reader::quarantine(&**self.conn().await?, account_id, query).await
    }

    async fn quarantine_usage(&self, account_id: &str) -> Result<QuarantineUsage, StoreError> {
        reader::quarantine_usage(&**self.conn().await?, account_id).await
    }

    async fn mark_replayed(
        &self,
        account_id: &str,
        ids: &[i64],
        replayed_ms: i64,
    ) -> Result<(), StoreError> {
        self.writable()?;
        self.conn()
            .await?
            .execute(
                "UPDATE quarantine SET replayed_ms = $3
                 WHERE account = $1 AND id = ANY($2) AND replayed_ms IS NULL",
                &[&account_id, &ids, &replayed_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn search_interactions(
        &self,
        account_id: &str,
        query: InteractionQuery,
    ) -> Result<InteractionPage, StoreError> {
        let mut client = self.conn().await?;
        history::search(&mut client, account_id, &query).await
    }

    async fn count(&self, account_id: &str, kind: ExportKind) -> Result<u64, StoreError> {
        reader::count(&**self.conn().await?, account_id, kind).await
    }

    async fn export_page(
        &self,
        account_id: &str,
        kind: ExportKind,
        cursor: Option<i64>,
        limit: usize,
    ) -> Result<ExportPage, StoreError> {
        reader::export_page(&**self.conn().await?, account_id, kind, cursor, limit).await
    }

    async fn create_oauth_key(&self, key: OAuthKey) -> Result<OAuthKey, StoreError> {
        self.writable()?;
        oauth::insert(&mut **self.conn().await?, key).await
    }

    async fn oauth_keys_by_token(
        &self,
        app_key: &str,
        access_token: &str,
    ) -> Result<Vec<OAuthKey>, StoreError> {
        oauth::by_token(&**self.conn().await?, app_key, access_token).await
    }

    async fn oauth_keys(&self, account_id: &str) -> Result<Vec<OAuthKey>, StoreError> {
        oauth::of_account(&**self.conn().await?, account_id).await
    }

    async fn revoke_oauth_key(&self, account_id: &str, app_key: &str) -> Result<bool, StoreError> {
        self.writable()?;
        oauth::delete(&**self.conn().await?, account_id, app_key).await
    }

    fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn claim_nonce(
        &self,
        account_id: &str,
        nonce_key: &str,
        expires_s: i64,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        oauth::claim_nonce(
            &**self.conn().await?,
            account_id,
            nonce_key,
            expires_s,
            now_s,
        )
        .await
    }

    async fn create_console_session(&self, session: ConsoleSession) -> Result<(), StoreError> {
        self.writable()?;
        console::create(&mut **self.conn().await?, &session).await
    }

    async fn console_session(
        &self,
        account_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        console::get(&**self.conn().await?, account_id, token_hash, now_ms).await
    }

    async fn end_console_session(
        &self,
        account_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        console::end(&**self.conn().await?, account_id, token_hash).await
    }

    async fn visitor_data(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Option<VisitorData>, StoreError> {
        let mut client = self.conn().await?;
        privacy::visitor_data(&mut client, account_id, visitor_id).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, target = target.kind()))]
    async fn erase(
        &self,
        account_id: &str,
        target: ErasureTarget,
    ) -> Result<ErasureCounts, StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        privacy::erase(&mut client, account_id, &target, crate::ids::now_ms()).await
    }

    async fn erasure_log(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<ErasureLogEntry>, StoreError> {
        let client = self.conn().await?;
        privacy::log(&client, account_id, limit).await
    }

    async fn retention(&self, account_id: &str) -> Result<Option<u32>, StoreError> {
        let client = self.conn().await?;
        retention::get(&client, account_id).await
    }

    async fn set_retention(&self, account_id: &str, days: Option<u32>) -> Result<(), StoreError> {
        self.writable()?;
        let client = self.conn().await?;
        retention::set(&client, account_id, days).await
    }

    async fn sweep_retention(
        &self,
        now_ms: i64,
        max_visits: usize,
    ) -> Result<crate::RetentionStep, StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        retention::sweep(&mut client, now_ms, max_visits).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, records = records.len()))]
    async fn record_eligibility(
        &self,
        account_id: &str,
        records: Vec<crate::analytics::EligibilityRecord>,
    ) -> Result<usize, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        self.writable()?;
        let mut client = self.conn().await?;
        analytics::record_eligibility(&mut client, account_id, records).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn analytics_facts(
        &self,
        account_id: &str,
        scope: crate::analytics::AnalyticsScope,
    ) -> Result<crate::analytics::AnalyticsFacts, StoreError> {
        let client = self.conn().await?;
        analytics::facts(&client, account_id, &scope).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, bot, since_ms))]
    async fn analytics_side_since(
        &self,
        account_id: &str,
        bot: bool,
        since_ms: i64,
    ) -> Result<crate::analytics::AnalyticsFacts, StoreError> {
        let mut client = self.conn().await?;
        analytics::side_since(&mut client, account_id, bot, since_ms).await
    }

    async fn analytics_generation(&self, account_id: &str) -> Result<u64, StoreError> {
        let client = self.conn().await?;
        analytics::generation(&client, account_id).await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn funnel_steps(
        &self,
        account_id: &str,
        scope: crate::analytics::StepScope,
    ) -> Result<Vec<crate::analytics::StepOccurrence>, StoreError> {
        let client = self.conn().await?;
        analytics::steps(&client, account_id, &scope).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        self.stop_tasks();
        self.writer.close().await;
        Ok(())
    }
}

impl PostgresStore {
    /// Stops partition upkeep and listening for changes.
    fn stop_tasks(&self) {
        for task in [&self.partitions, &self.listener] {
            if let Some(task) = task
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take()
            {
                task.abort();
            }
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}
